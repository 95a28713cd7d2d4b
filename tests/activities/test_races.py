"""Concurrency on one activity (R3): one consistent outcome whatever the interleaving."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from reten.activities.models import Activity, ActivityStatusEvent
from reten.auth.permissions import Permission
from reten.results.models import ActivityResult
from tests.factories import Factory, result_body


class TestCancelRacingAResult:
    async def test_one_consistent_outcome(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        token = await factory.login(world.admin_email)
        admin = {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}
        key = {"x-api-key": await factory.api_key(world, [Permission.SUBMIT_ACTIVITY_RESULT])}
        for _ in range(5):
            activity_id = await factory.task(world)
            cancel, result = await asyncio.gather(
                client.patch(
                    f"/api/activities/{activity_id}/cancel", headers=admin, json={"reason": "race"}
                ),
                client.post(
                    "/api/integration/activity-results/tasks",
                    headers=key,
                    json=result_body(world, activity_id),
                ),
            )
            async with factory.db.sessionmaker() as session:
                activity = (
                    await session.execute(select(Activity).where(Activity.id == activity_id))
                ).scalar_one()
                results = list(
                    (
                        await session.execute(
                            select(ActivityResult).where(ActivityResult.activity_id == activity_id)
                        )
                    ).scalars()
                )
                events = [e.event for e in (await session.execute(
                    select(ActivityStatusEvent).where(ActivityStatusEvent.activity_id == activity_id).order_by(ActivityStatusEvent.created_at)
                )).scalars()]  # fmt: skip
            if cancel.status_code == 200:
                # The cancel won: the result was refused and nothing of it was stored.
                assert result.status_code == 409 and result.json()["resultId"] is None
                assert (
                    activity.status == "CANCELED"
                    and results == []
                    and events == ["CREATED", "CANCELED"]
                )
            else:
                # The result won: the cancel was refused as a move out of COMPLETED.
                assert result.status_code == 201 and cancel.status_code == 400
                assert activity.status == "COMPLETED" and len(results) == 1
                assert events == ["CREATED", "RESULT_RECEIVED"]
