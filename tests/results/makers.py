"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from reten.kit.actor import Actor
from reten.results import service as results
from tests.factories import Factory, Maker, World, result_submission


async def _result(factory: Factory, world: World) -> dict[str, Any]:
    activity_id = await factory.task(world)
    outcome = await results.submit(
        factory.db, world.tenant_id, Actor.system(), result_submission(world, activity_id),
        lambda s: {"id": str(s.result.id)},
    )  # fmt: skip
    return {"id": outcome.body["id"]}


OBJECT_MAKERS: dict[str, Maker] = {"/api/activity-results/{id}": _result}
