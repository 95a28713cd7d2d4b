"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from tests.factories import Factory, Maker, World


async def _member(factory: Factory, world: World) -> dict[str, Any]:
    user_id, _ = await factory.user(world, ["VIEWER"])
    return {"id": str(user_id)}


async def _member_with_roles(factory: Factory, world: World) -> dict[str, Any]:
    return {**(await _member(factory, world)), "_body": {"roles": ["FDE"]}}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/user/{id}": _member,
    "/api/user/{id}/roles": _member_with_roles,
}
