"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from reten.resolution import service
from tests.factories import Factory, Maker, World
from tests.resolution.support import add_user, request, resolve_new


async def _activity(factory: Factory, world: World) -> dict[str, Any]:
    return {"id": str(await factory.task(world))}


async def _activity_with_target(factory: Factory, world: World) -> dict[str, Any]:
    """An activity whose target user FAILED (no user matched), and a user that could fix it."""
    activity_id = await factory.task(world)
    await resolve_new(
        factory.db, world, activity_id, request(criteria=[{"type": "LAST_CONTACTED_ALL_CHANNELS"}])
    )
    user_id = await add_user(factory.db, world, ["OTHER"])
    async with factory.db.sessionmaker() as session:
        (view,) = await service.target_users(session, world.tenant_id, activity_id)
    return {
        "id": str(activity_id),
        "targetUserId": str(view.target.id),
        "_body": {"commerce_user_id": str(user_id)},
    }


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/activities/{id}/retry-resolution": _activity,
    "/api/activities/{id}/target-users": _activity,
    "/api/activities/{id}/target-users/{targetUserId}/resolve": _activity_with_target,
    "/api/activities/{id}/attributes": _activity,
}
