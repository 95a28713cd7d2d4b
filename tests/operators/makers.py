"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from tests.factories import Factory, Maker, World


async def _operator(factory: Factory, world: World) -> dict[str, str]:
    return {"id": str(world.operator_id)}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/operators/{id}": _operator,
}
