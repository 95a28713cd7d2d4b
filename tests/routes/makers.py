"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from reten.routes import service as routes
from tests.factories import Factory, Maker, World


async def _route(factory: Factory, world: World) -> dict[str, str]:
    return {"id": str(world.route_id)}


async def _route_operator(factory: Factory, world: World) -> dict[str, str]:
    # Factory.world() already links its operator to its route.
    return {"id": str(world.route_id), "operatorId": str(world.operator_id)}


async def _route_commerce(factory: Factory, world: World) -> dict[str, str]:
    async with factory.db.sessionmaker() as session:
        await routes.assign_commerce(
            session, world.tenant_id, world.route_id, world.commerce_ids[0]
        )
        await session.commit()
    return {"id": str(world.route_id), "commerceId": str(world.commerce_ids[0])}


async def _route_with_operator_body(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": str(world.route_id), "_body": {"operator_id": str(world.operator_id)}}


async def _route_with_commerce_body(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": str(world.route_id), "_body": {"commerce_id": str(world.commerce_ids[0])}}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/routes/{id}": _route,
    "/api/routes/{id}/operators": _route_with_operator_body,
    "/api/routes/{id}/operators/{operatorId}": _route_operator,
    "/api/routes/{id}/commerces": _route_with_commerce_body,
    "/api/routes/{id}/commerces/{commerceId}": _route_commerce,
}
