"""GET /api/activities, GET /api/activities/:id and PATCH /api/activities/:id/cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event

from reten.activities.models import ActivityType, Channel
from reten.auth.permissions import Permission
from reten.kit.actor import Actor
from reten.results import service as results
from tests.factories import Factory, World, result_submission

BASE = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


async def complete(factory: Factory, world: World, activity_id: uuid.UUID) -> None:
    """Register an EFFECTIVE result for the activity, as the result endpoints do."""
    await results.submit(
        factory.db,
        world.tenant_id,
        Actor.system(),
        result_submission(world, activity_id),
        lambda s: {},
    )


async def admin_headers(factory: Factory, world: World) -> dict[str, str]:
    token = await factory.login(world.admin_email)
    return {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}


class TestListActivities:
    async def test_filters_sorts_and_shape(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        first = await factory.task(world, scheduled_at=BASE)
        second = await factory.task(
            world,
            commerce_index=1,
            scheduled_at=BASE + timedelta(days=1),
            channel=Channel.CALLCENTER,
        )
        message = await factory.task(
            world,
            type=ActivityType.MESSAGE,
            channel=Channel.WHATSAPP,
            scheduled_at=BASE - timedelta(days=1),
        )
        headers = await admin_headers(factory, world)

        async def ids(**params: object) -> list[str]:
            response = await client.get("/api/activities", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()["data"]]

        assert await ids() == [str(message), str(second), str(first)]  # newest created first
        assert await ids(sort="scheduled_at") == [str(message), str(first), str(second)]
        assert await ids(type="MESSAGE") == [str(message)]
        assert await ids(channel="CALLCENTER") == [str(second)]
        assert await ids(commerce_id=str(world.commerce_ids[1])) == [str(second)]
        assert set(await ids(operator_id=str(world.operator_id))) == {str(first), str(second)}
        assert set(await ids(route_id=str(world.route_id))) == {str(first), str(second)}
        assert await ids(route_id=str(uuid.uuid4())) == []
        assert await ids(scheduled_from=BASE.isoformat(), scheduled_to=BASE.isoformat()) == [
            str(first)
        ]
        assert await ids(search="almacén 2") == [str(second)]
        assert await ids(status="READY,CANCELED", sort="-scheduled_at") == [
            str(second),
            str(first),
            str(message),
        ]
        body = (
            await client.get(
                "/api/activities", params={"type": "TASK", "sort": "scheduled_at"}, headers=headers
            )
        ).json()
        assert body["meta"] == {"page": 1, "limit": 25, "total": 2, "totalPages": 1}
        item = body["data"][0]
        assert item["commerceAssignment"]["commerce"] == {
            "id": str(world.commerce_ids[0]),
            "name": "Almacén 1",
            "externalId": "COM-001",
        }
        assert (
            item["taskDetails"]["operator"]["name"] == "Juan Pérez"
            and item["taskDetails"]["route"]["externalId"] == "R-1"
        )
        assert (
            item["reason"] == {"code": "retention", "label": "retention"}
            and item["userStatus"] is None
        )
        messages = (
            await client.get("/api/activities", params={"type": "MESSAGE"}, headers=headers)
        ).json()
        assert messages["data"][0]["taskDetails"] is None

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"status": "DONE"}, "status"), ({"type": "CALL"}, "type"), ({"sort": "name"}, "sort"),
         ({"commerce_id": "x"}, "commerce_id"), ({"scheduled_from": "2031-01-02T00:00:00Z", "scheduled_to": "2031-01-01T00:00:00Z"}, "scheduled_from"),
         ({"search": ""}, "search")],
    )  # fmt: skip
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, factory: Factory, params: dict[str, str], field: str
    ) -> None:
        world = await factory.world()
        response = await client.get(
            "/api/activities", params=params, headers=await admin_headers(factory, world)
        )
        assert response.status_code == 400 and response.json()["details"][0]["field"] == field

    async def test_statement_count_does_not_grow_with_the_page(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
        counts = []
        for n in (1, 6):
            while True:
                listed = await client.get("/api/activities", headers={"x-api-key": key})
                if listed.json()["meta"]["total"] >= n:
                    break
                await factory.task(world)
            statements: list[str] = []

            def record(
                conn: object,
                cursor: object,
                statement: str,
                *args: object,
                sink: list[str] = statements,
            ) -> None:
                sink.append(statement)

            engine = factory.db.engine.sync_engine
            event.listen(engine, "before_cursor_execute", record)
            try:
                await client.get("/api/activities", headers={"x-api-key": key})
            finally:
                event.remove(engine, "before_cursor_execute", record)
            counts.append(len(statements))
        assert counts[0] == counts[1]


class TestActivityDetail:
    async def test_results_events_and_dispatch(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        await complete(factory, world, activity_id)
        key = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
        response = await client.get(f"/api/activities/{activity_id}", headers={"x-api-key": key})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "COMPLETED"
        assert [(e["fromStatus"], e["toStatus"], e["event"]) for e in body["statusEvents"]] == [
            (None, "READY", "CREATED"),
            ("READY", "COMPLETED", "RESULT_RECEIVED"),
        ]
        assert body["statusEvents"][1]["actor"] == {"type": "SYSTEM", "id": None, "label": None}
        assert (
            body["results"][0]["status"] == "COMPLETED"
            and body["results"][0]["taskResult"]["resultLabel"] == "Venta completada"
        )
        assert (
            body["dispatch"]["attemptCount"] == 0
            and body["dispatch"]["canForceRetryDispatch"] is False
        )

    async def test_unknown_and_foreign_ids_are_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, other = await factory.world(), await factory.world()
        foreign = await factory.task(other)
        key = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
        for activity_id in (uuid.uuid4(), foreign):
            response = await client.get(
                f"/api/activities/{activity_id}", headers={"x-api-key": key}
            )
            assert (
                response.status_code == 404 and response.json()["message"] == "Activity not found"
            )
        assert (
            await client.get("/api/activities/not-a-uuid", headers={"x-api-key": key})
        ).status_code == 400


class TestCancel:
    async def test_cancel_with_reason_records_the_actor(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        headers = await admin_headers(factory, world)
        response = await client.patch(
            f"/api/activities/{activity_id}/cancel",
            headers=headers,
            json={"reason": "Store closed"},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "CANCELED"
        last = body["statusEvents"][-1]
        assert (last["event"], last["detail"], last["actor"]["type"], last["actor"]["label"]) == (
            "CANCELED", "Store closed", "USER", world.admin_email,
        )  # fmt: skip
        again = await client.patch(
            f"/api/activities/{activity_id}/cancel", headers=headers, json={}
        )
        assert (
            again.status_code == 400
            and again.json()["message"] == "Activity in status CANCELED cannot be canceled"
        )

    async def test_completed_activity_cannot_be_canceled(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        await complete(factory, world, activity_id)
        response = await client.patch(
            f"/api/activities/{activity_id}/cancel",
            headers=await admin_headers(factory, world),
            json={},
        )
        assert (
            response.status_code == 400
            and response.json()["message"] == "Activity in status COMPLETED cannot be canceled"
        )

    async def test_reason_longer_than_500_is_400_and_fde_cannot_cancel(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        activity_id = await factory.task(world)
        long = await client.patch(
            f"/api/activities/{activity_id}/cancel",
            headers=await admin_headers(factory, world),
            json={"reason": "x" * 501},
        )
        assert long.status_code == 400
        _, email = await factory.user(world, ["FDE"])
        fde = {
            "authorization": f"Bearer {await factory.login(email)}",
            "x-tenant-id": str(world.tenant_id),
        }
        denied = await client.patch(f"/api/activities/{activity_id}/cancel", headers=fde, json={})
        assert (
            denied.status_code == 403
            and denied.json()["message"] == "Insufficient permissions: requires CANCEL_ACTIVITY"
        )
