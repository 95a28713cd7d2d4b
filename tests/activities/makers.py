"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from tests.factories import Factory, Maker, World


async def _activity(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": str(await factory.task(world))}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/activities/{id}": _activity,
    "/api/activities/{id}/cancel": _activity,
}
