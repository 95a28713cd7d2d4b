"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from typing import Any

from reten.activity_config import service
from reten.activity_config.schemas import TargetResolutionConfigCreate
from reten.kit.actor import Actor
from tests.factories import Factory, Maker, World


async def _target_config(factory: Factory, world: World) -> dict[str, Any]:
    async with factory.db.sessionmaker() as session:
        item = await service.create_target_config(
            session,
            world.tenant_id,
            TargetResolutionConfigCreate.model_validate({"resolution_strategy": "ON_CREATION"}),
            actor=Actor.system(),
        )
    return {"id": str(item.config.id), "_body": {"priority": 5}}


OBJECT_MAKERS: dict[str, Maker] = {
    "/api/activity-config/target-resolution/{id}": _target_config,
}
