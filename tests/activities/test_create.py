"""POST /api/activities, POST /api/activities/tasks and POST /api/activities/batch."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update

from reten.auth.permissions import Permission
from reten.commerces.models import Commerce
from reten.operators.models import Operator
from tests.factories import Factory, World, unique


def task_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "TASK", "reason": "retention", "channel": "SALESMAN",
        "commerce_id": str(world.commerce_ids[0]), "idempotency_key": unique("idem"),
        "scheduled_at": "2031-05-01T09:00:00-04:00", "score": 80, "user_status": "at_risk",
        "assigned_route_id": str(world.route_id), "assigned_operator_id": str(world.operator_id),
    }  # fmt: skip
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def creator(factory: Factory, world: World) -> dict[str, str]:
    return {
        "x-api-key": await factory.api_key(
            world,
            [
                Permission.CREATE_ACTIVITY,
                Permission.VIEW_ACTIVITIES,
                Permission.SUBMIT_ACTIVITY_RESULT,
            ],
        )
    }


class TestCreate:
    async def test_task_is_created_ready_with_its_details(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/activities", headers=await creator(factory, world), json=task_body(world)
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["type"], body["status"], body["channel"]) == ("TASK", "READY", "SALESMAN")
        assert body["scheduledAt"] == "2031-05-01T13:00:00.000Z"
        assert body["userStatus"] == {"code": "at_risk", "label": "at_risk"}
        assert body["taskDetails"]["operatorId"] == str(world.operator_id)
        assert [(e["event"], e["actor"]["type"]) for e in body["statusEvents"]] == [
            ("CREATED", "API_KEY")
        ]

    async def test_message_needs_no_route_and_refuses_one(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        message = task_body(
            world,
            type="MESSAGE",
            channel="WHATSAPP",
            assigned_route_id=None,
            assigned_operator_id=None,
        )
        created = await client.post("/api/activities", headers=headers, json=message)
        assert created.status_code == 201 and created.json()["taskDetails"] is None
        wrong = await client.post(
            "/api/activities", headers=headers, json=task_body(world, type="MESSAGE")
        )
        assert wrong.status_code == 400
        assert {d["field"] for d in wrong.json()["details"]} == {
            "assigned_route_id",
            "assigned_operator_id",
        }

    async def test_tasks_endpoint_fixes_the_type(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        ok = await client.post(
            "/api/activities/tasks", headers=headers, json=task_body(world, type=None)
        )
        assert ok.status_code == 201 and ok.json()["type"] == "TASK"
        wrong = await client.post(
            "/api/activities/tasks", headers=headers, json=task_body(world, type="MESSAGE")
        )
        assert wrong.status_code == 400 and wrong.json()["details"][0]["field"] == "type"

    async def test_duplicate_idempotency_key_is_409_with_the_existing_id(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        body = task_body(world)
        first = await client.post("/api/activities", headers=headers, json=body)
        again = await client.post(
            "/api/activities", headers=headers, json=dict(body, reason="other")
        )
        assert again.status_code == 409
        assert again.json() == {"statusCode": 409, "error": "Conflict", "message": "idempotency_key already exists",
                                "activityId": first.json()["id"]}  # fmt: skip
        # Body validation comes before the duplicate check.
        invalid = await client.post(
            "/api/activities", headers=headers, json=dict(body, assigned_route_id=None)
        )
        assert invalid.status_code == 400

    async def test_concurrent_duplicates_create_exactly_one(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        body = task_body(world)
        responses = await asyncio.gather(
            *(client.post("/api/activities", headers=headers, json=body) for _ in range(6))
        )
        assert sorted(r.status_code for r in responses) == [201] + [409] * 5
        listed = await client.get(
            "/api/activities", params={"idempotency_key": body["idempotency_key"]}, headers=headers
        )
        assert listed.json()["meta"]["total"] == 1

    async def test_reference_checks(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world, other = await factory.world(), await factory.world()
        headers = await creator(factory, world)
        cases = [
            (task_body(world, commerce_id=str(other.commerce_ids[0])), 404, "Commerce not found"),
            (task_body(world, assigned_route_id=str(uuid.uuid4())), 404, "Route not found"),
            (
                task_body(world, assigned_operator_id=str(other.operator_id)),
                404,
                "Operator not found",
            ),
        ]
        for body, status, message in cases:
            response = await client.post("/api/activities", headers=headers, json=body)
            assert (response.status_code, response.json()["message"]) == (status, message)
        async with factory.db.sessionmaker() as session:
            await session.execute(
                update(Commerce).where(Commerce.id == world.commerce_ids[1]).values(is_active=False)
            )
            await session.commit()
        inactive = await client.post(
            "/api/activities",
            headers=headers,
            json=task_body(world, commerce_id=str(world.commerce_ids[1])),
        )
        assert (inactive.status_code, inactive.json()["message"]) == (400, "Commerce is inactive")
        async with factory.db.sessionmaker() as session:
            from reten.operators import service as operators

            loose = await operators.create_operator(
                session, world.tenant_id, external_id="OP-99", name="Sin Ruta"
            )
            await session.commit()
        unlinked = await client.post(
            "/api/activities",
            headers=headers,
            json=task_body(world, assigned_operator_id=str(loose.id)),
        )
        assert (unlinked.status_code, unlinked.json()["message"]) == (
            400,
            "Operator is not assigned to the route",
        )
        async with factory.db.sessionmaker() as session:
            await session.execute(
                update(Operator).where(Operator.id == world.operator_id).values(is_active=False)
            )
            await session.commit()
        off = await client.post("/api/activities", headers=headers, json=task_body(world))
        assert (off.status_code, off.json()["message"]) == (400, "Operator is inactive")

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"score": 2**31}, "score"), ({"score": "80"}, "score"), ({"reason": " "}, "reason"),
         ({"scheduled_at": "2031-05-01T09:00:00"}, "scheduled_at"), ({"channel": "FAX"}, "channel"),
         ({"commerce_id": "nope"}, "commerce_id"), ({"target_criteria": [{"type": "ROLE_MATCH"}]}, "target_criteria[0]"),
         ({"attribute_keys": ["no_such_key"]}, "attribute_keys[0]"), ({"user_status": "x" * 101}, "user_status")],
    )  # fmt: skip
    async def test_invalid_bodies_are_400(
        self, client: httpx.AsyncClient, factory: Factory, change: dict[str, Any], field: str
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/activities",
            headers=await creator(factory, world),
            json=task_body(world, **change),
        )
        assert response.status_code == 400, response.text
        assert any(d["field"].startswith(field) for d in response.json()["details"])

    async def test_failed_resolution_leaves_the_activity_unresolved(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        body = task_body(world, target_criteria=[{"type": "ROLE_MATCH", "config": {"role": "OWNER"}}],
                         attributes=[{"key": "commerce_info", "value": {"given": True}}])  # fmt: skip
        response = await client.post("/api/activities", headers=headers, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] == "UNRESOLVED"
        assert (
            created["statusEvents"][0]["event"] == "RESOLUTION_FAILED"
            and created["statusEvents"][0]["detail"]
        )
        listed = (await client.get("/api/integration/activities/tasks", headers=headers)).json()[
            "data"
        ]
        item = next(i for i in listed if i["id"] == created["id"])
        assert (item["status"], item["lifecycleStatus"]) == ("PENDING", "UNRESOLVED")
        assert item["lifecycleStatusDetail"]


class TestBatch:
    async def test_mixed_items_in_order(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        taken = task_body(world)
        assert (
            await client.post("/api/activities", headers=headers, json=taken)
        ).status_code == 201
        same = task_body(world)
        items = [task_body(world), taken, same, dict(same, reason="again"), task_body(world, channel="FAX"),
                 task_body(world, commerce_id=str(uuid.uuid4())), {"type": "MESSAGE"}, task_body(world, type="MESSAGE", channel="SMS",
                 assigned_route_id=None, assigned_operator_id=None)]  # fmt: skip
        response = await client.post(
            "/api/activities/batch", headers=headers, json={"items": items}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        statuses = [r["status"] for r in body["results"]]
        assert statuses == [
            "CREATED",
            "DUPLICATE",
            "CREATED",
            "DUPLICATE",
            "ERROR",
            "ERROR",
            "ERROR",
            "CREATED",
        ]
        assert (body["created"], body["duplicates"], body["errors"]) == (3, 2, 3)
        assert [r["index"] for r in body["results"]] == list(range(8))
        assert body["results"][3]["activityId"] == body["results"][2]["activityId"]
        assert body["results"][4]["error"]["details"][0]["field"] == "items[4].channel"
        assert body["results"][5]["error"]["message"] == "Commerce not found"
        for r in body["results"]:
            if r["status"] == "CREATED":
                detail = await client.get(f"/api/activities/{r['activityId']}", headers=headers)
                assert (
                    detail.status_code == 200
                    and detail.json()["statusEvents"][0]["event"] == "CREATED"
                )

    @pytest.mark.parametrize("body", [{"items": []}, {"items": [{}] * 1001}, {}, {"items": "x"}])
    async def test_batch_size_limits(
        self, client: httpx.AsyncClient, factory: Factory, body: dict[str, Any]
    ) -> None:
        world = await factory.world()
        response = await client.post(
            "/api/activities/batch", headers=await creator(factory, world), json=body
        )
        assert response.status_code == 400

    async def test_statements_do_not_grow_with_the_items(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        headers = await creator(factory, world)
        counts = []
        for n in (3, 40):
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
                response = await client.post(
                    "/api/activities/batch",
                    headers=headers,
                    json={"items": [task_body(world) for _ in range(n)]},
                )
            finally:
                event.remove(engine, "before_cursor_execute", record)
            assert response.json()["created"] == n
            # Batched INSERTs may split into a few statements for many rows; never one per item.
            counts.append(
                len([s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))])
            )
        assert counts[1] <= counts[0] + 4, counts
