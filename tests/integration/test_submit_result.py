"""POST /api/integration/activity-results/tasks: every rule, in order, and idempotency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from reten.activities import service as activities
from reten.activities.models import Activity, ActivityStatusEvent
from reten.activity_config import service as activity_config
from reten.activity_config.schemas import TaskResultTypeUpdate
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.idempotency import IdempotencyRecord, fingerprint
from reten.kit.time import utcnow
from reten.results.models import ActivityResult
from tests.commerces.test_queries import statements
from tests.factories import Factory, World, result_body

PATH = "/api/integration/activity-results/tasks"


def iso(delta: timedelta) -> str:
    return (utcnow() + delta).isoformat().replace("+00:00", "Z")


async def post(client: httpx.AsyncClient, key: str, body: Any, **headers: str) -> httpx.Response:
    return await client.post(PATH, headers={"x-api-key": key, **headers}, json=body)


async def setup(factory: Factory) -> tuple[World, uuid.UUID, str]:
    world = await factory.world()
    return world, await factory.task(world), await factory.api_key(world)


async def stored(
    db: Database, activity_id: uuid.UUID
) -> tuple[Activity, list[ActivityResult], list[ActivityStatusEvent]]:
    async with db.sessionmaker() as session:
        activity = (
            await session.execute(select(Activity).where(Activity.id == activity_id))
        ).scalar_one()
        results = list(
            (
                await session.execute(
                    select(ActivityResult)
                    .where(ActivityResult.activity_id == activity_id)
                    .order_by(ActivityResult.created_at)
                )
            ).scalars()
        )
        events = list(
            (
                await session.execute(
                    select(ActivityStatusEvent)
                    .where(ActivityStatusEvent.activity_id == activity_id)
                    .order_by(ActivityStatusEvent.created_at)
                )
            ).scalars()
        )
    return activity, results, events


class TestHappyPath:
    async def test_effective_result_completes_the_activity(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(client, key, result_body(world, activity_id))
        assert response.status_code == 201
        body = response.json()
        assert body["activityId"] == str(activity_id) and body["source"] == "RETEN_ACTIVITY"
        assert body["status"] == "EFFECTIVE" and body["activityStatus"] == "COMPLETED"
        assert body["lifecycleStatus"] == "EFFECTIVE" and body["superseded"] is False
        assert body["taskResult"] == {
            "result": "SALE_COMPLETED", "resultLabel": "Venta completada", "comment": "ok",
            "contactType": None, "operatorExternalId": "OP-17", "futureScheduledAt": None, "payload": None,
        }  # fmt: skip
        activity, results, events = await stored(db, activity_id)
        assert activity.status == "COMPLETED" and activity.lifecycle_status == "EFFECTIVE"
        assert [str(r.id) for r in results] == [body["id"]]
        assert results[0].status == "COMPLETED" and results[0].operator_id == world.operator_id
        assert [(e.from_status, e.to_status, e.event) for e in events] == [
            (None, "READY", "CREATED"),
            ("READY", "COMPLETED", "RESULT_RECEIVED"),
        ]
        assert events[-1].actor_type == "API_KEY"

    async def test_not_effective_fails_the_activity(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        body = result_body(
            world, activity_id, status="NOT_EFFECTIVE", task_result={"result": "NOT_INTERESTED"}
        )
        response = await post(client, key, body)
        assert response.status_code == 201
        assert (response.json()["activityStatus"], response.json()["lifecycleStatus"]) == (
            "FAILED",
            "NOT_EFFECTIVE",
        )
        activity, results, _ = await stored(db, activity_id)
        assert activity.status == "FAILED" and results[0].status == "NOT_EXECUTED"

    async def test_pending_results_may_precede_the_final_one(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        for _ in range(2):
            pending = await post(client, key, result_body(world, activity_id, status="PENDING"))
            assert pending.status_code == 201
            assert (pending.json()["activityStatus"], pending.json()["lifecycleStatus"]) == (
                "READY",
                "IN_PROGRESS",
            )
        final = await post(client, key, result_body(world, activity_id))
        assert final.status_code == 201 and final.json()["lifecycleStatus"] == "EFFECTIVE"
        _, results, events = await stored(db, activity_id)
        assert [r.status for r in results] == ["PENDING", "PENDING", "COMPLETED"]
        assert [e.event for e in events] == [
            "CREATED",
            "RESULT_PENDING",
            "RESULT_PENDING",
            "RESULT_RECEIVED",
        ]

    async def test_camel_case_body_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, activity_id, key = await setup(factory)
        body = {
            "activityId": str(activity_id), "commerceExternalId": "COM-001", "occurredAt": iso(timedelta(minutes=-1)),
            "status": "EFFECTIVE", "externalStatus": "closed-won", "rawPayload": {"someKey": {"deep_key": 1}},
            "taskResult": {"result": "SALE_COMPLETED", "contactType": "OUTBOUND", "operatorExternalId": "OP-17",
                           "payload": {"orderId": "A-1"}},
        }  # fmt: skip
        response = await post(client, key, body)
        assert response.status_code == 201, response.text
        data = response.json()
        assert (
            data["externalStatus"] == "closed-won"
            and data["taskResult"]["contactType"] == "OUTBOUND"
        )
        assert data["taskResult"]["payload"] == {"orderId": "A-1"}  # free-form keys never re-cased

    async def test_occurred_at_with_offset_is_stored_in_utc(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(
            client, key, result_body(world, activity_id, occurred_at="2026-04-11T07:30:00-03:00")
        )
        assert response.json()["occurredAt"] == "2026-04-11T10:30:00.000Z"


class TestValidation:
    async def test_neither_activity_id_nor_provider_id_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, _, key = await setup(factory)
        response = await post(client, key, result_body(world, None))
        assert response.status_code == 400
        assert "provider_activity_id" in response.json()["message"]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"status": "DONE"}, "status"),
            ({"status": "COMPLETED"}, "status"),
            ({"occurred_at": "2026-04-11T10:30:00"}, "occurred_at"),
            ({"occurred_at": "soon"}, "occurred_at"),
            ({"activity_id": "not-a-uuid"}, "activity_id"),
            ({"commerce_external_id": ""}, "commerce_external_id"),
            ({"hard_override": None}, "hard_override"),
            ({"task_result": {"comment": "no code"}}, "task_result.result"),
            (
                {"task_result": {"result": "SALE_COMPLETED", "contact_type": "SIDEWAYS"}},
                "task_result.contact_type",
            ),
            (
                {"task_result": {"result": "SALE_COMPLETED", "comment": "x" * 2001}},
                "task_result.comment",
            ),
            ({"raw_payload": [1, 2]}, "raw_payload"),
            ({"raw_payload": {"blob": "x" * 70000}}, "raw_payload"),
        ],
    )
    async def test_invalid_fields_are_400_with_details(
        self, client: httpx.AsyncClient, factory: Factory, change: dict[str, Any], field: str
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(client, key, result_body(world, activity_id, **change))
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "Bad Request"
        assert field in [d["field"] for d in body["details"]]

    async def test_missing_required_fields_are_all_listed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, activity_id, key = await setup(factory)
        response = await post(client, key, {"activity_id": str(activity_id)})
        fields = {d["field"] for d in response.json()["details"]}
        assert fields == {"commerce_external_id", "occurred_at", "status", "task_result"}

    async def test_details_use_the_callers_spelling(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, activity_id, key = await setup(factory)
        body = {"activityId": str(activity_id), "commerceExternalId": "COM-001", "occurredAt": "bad",
                "status": "EFFECTIVE", "taskResult": {"result": "SALE_COMPLETED", "contactType": "X"}}  # fmt: skip
        fields = {d["field"] for d in (await post(client, key, body)).json()["details"]}
        assert fields == {"occurredAt", "taskResult.contactType"}

    async def test_status_message_lists_the_accepted_values(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(client, key, result_body(world, activity_id, status="DONE"))
        assert (
            response.json()["message"] == "status must be one of EFFECTIVE, NOT_EFFECTIVE, PENDING"
        )

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient, factory: Factory) -> None:
        _, _, key = await setup(factory)
        response = await client.post(
            PATH, headers={"x-api-key": key, "content-type": "application/json"}, content=b"{nope"
        )
        assert response.status_code == 400 and response.json()["message"] == "Malformed JSON body"

    async def test_occurred_at_far_in_the_future_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        ok = await post(
            client,
            key,
            result_body(
                world, activity_id, status="PENDING", occurred_at=iso(timedelta(minutes=4))
            ),
        )
        assert ok.status_code == 201
        late = await post(
            client, key, result_body(world, activity_id, occurred_at=iso(timedelta(minutes=6)))
        )
        assert late.status_code == 400 and late.json()["details"][0]["field"] == "occurred_at"


class TestLinking:
    async def test_unknown_activity_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, _, key = await setup(factory)
        response = await post(client, key, result_body(world, uuid.uuid4()))
        assert response.status_code == 404
        assert response.json() == {
            "statusCode": 404,
            "error": "Not Found",
            "message": "Activity not found",
        }

    async def test_another_tenants_activity_is_404(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, _, key = await setup(factory)
        other = await factory.world()
        foreign = await factory.task(other)
        response = await post(client, key, result_body(world, foreign))
        assert response.status_code == 404 and response.json()["message"] == "Activity not found"
        activity, results, _ = await stored(db, foreign)
        assert activity.status == "READY" and results == []

    async def test_message_activity_is_not_a_task(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        from reten.activities.models import ActivityType, Channel

        world, _, key = await setup(factory)
        message = await factory.task(world, type=ActivityType.MESSAGE, channel=Channel.WHATSAPP)
        assert (await post(client, key, result_body(world, message))).status_code == 404

    async def test_unknown_commerce_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(
            client, key, result_body(world, activity_id, commerce_external_id="COM-404")
        )
        assert response.status_code == 404 and response.json()["message"] == "Commerce not found"

    async def test_commerce_of_another_activity_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(
            client, key, result_body(world, activity_id, commerce_external_id="COM-002")
        )
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "commerce_external_id"

    async def test_unmatched_provider_id_is_stored_standalone(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, _, key = await setup(factory)
        body = result_body(world, None, provider_activity_id="EXT-1")
        for _ in range(2):  # standalone results have no state checks and may repeat
            response = await post(client, key, body)
            assert response.status_code == 201
            data = response.json()
            assert data["source"] == "STANDALONE"
            assert (data["activityId"], data["activityStatus"], data["lifecycleStatus"]) == (
                None,
                None,
                None,
            )
        async with db.sessionmaker() as session:
            count = (
                await session.execute(
                    select(func.count())
                    .select_from(ActivityResult)
                    .where(ActivityResult.tenant_id == world.tenant_id)
                )
            ).scalar_one()
        assert count == 2

    async def test_provider_id_is_recorded_then_links_later_results(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        first = await post(
            client,
            key,
            result_body(world, activity_id, status="PENDING", provider_activity_id="EXT-9"),
        )
        assert first.status_code == 201
        activity, _, _ = await stored(db, activity_id)
        assert activity.provider_activity_id == "EXT-9"
        final = await post(client, key, result_body(world, None, provider_activity_id="EXT-9"))
        assert final.status_code == 201 and final.json()["activityId"] == str(activity_id)
        listed = (
            await client.get("/api/integration/activities/tasks", headers={"x-api-key": key})
        ).json()["data"]
        assert listed[0]["providerActivityId"] == "EXT-9"


class TestResultTypes:
    async def test_inactive_code_is_400_listing_valid_codes(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        async with db.sessionmaker() as session:
            types = {t.code: t for t in await activity_config.list_types(session, world.tenant_id)}
            await activity_config.update_type(
                session,
                world.tenant_id,
                types["NO_CONTACT"].id,
                TaskResultTypeUpdate(is_active=False),
                actor=Actor.system(),
            )
        response = await post(
            client, key, result_body(world, activity_id, task_result={"result": "NO_CONTACT"})
        )
        assert response.status_code == 400
        detail = response.json()["details"][0]
        assert detail["field"] == "task_result.result"
        assert detail["message"] == "must be one of SALE_COMPLETED, NOT_INTERESTED, RESCHEDULE"

    async def test_future_date_is_required_when_the_type_says_so(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        missing = await post(
            client, key, result_body(world, activity_id, task_result={"result": "RESCHEDULE"})
        )
        assert missing.status_code == 400
        assert missing.json()["details"][0]["field"] == "task_result.future_scheduled_at"
        past = {"result": "RESCHEDULE", "future_scheduled_at": iso(timedelta(hours=-1))}
        assert (
            await post(client, key, result_body(world, activity_id, task_result=past))
        ).status_code == 400
        future = {"result": "RESCHEDULE", "future_scheduled_at": iso(timedelta(days=2))}
        ok = await post(
            client, key, result_body(world, activity_id, status="NOT_EFFECTIVE", task_result=future)
        )
        assert ok.status_code == 201 and ok.json()["taskResult"]["futureScheduledAt"] is not None


class TestFinalResults:
    async def test_second_final_result_is_409_with_the_result_id(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        first = (await post(client, key, result_body(world, activity_id))).json()
        second = await post(client, key, result_body(world, activity_id, status="NOT_EFFECTIVE"))
        assert second.status_code == 409
        assert second.json() == {
            "statusCode": 409, "error": "Conflict",
            "message": "The activity already has a registered result", "resultId": first["id"],
        }  # fmt: skip
        late_pending = await post(client, key, result_body(world, activity_id, status="PENDING"))
        assert late_pending.status_code == 409
        _, results, _ = await stored(db, activity_id)
        assert len(results) == 1

    async def test_canceled_activity_is_409_without_result_id(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        async with db.sessionmaker() as session:
            await activities.cancel_activity(session, world.tenant_id, activity_id, Actor.system())
        response = await post(client, key, result_body(world, activity_id))
        assert response.status_code == 409 and response.json()["resultId"] is None

    async def test_hard_override_supersedes_the_earlier_result(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        first = (await post(client, key, result_body(world, activity_id))).json()
        body = result_body(world, activity_id, status="NOT_EFFECTIVE", hard_override=True,
                           task_result={"result": "NOT_INTERESTED"})  # fmt: skip
        second = await post(client, key, body)
        assert second.status_code == 201
        assert (second.json()["activityStatus"], second.json()["lifecycleStatus"]) == (
            "FAILED",
            "NOT_EFFECTIVE",
        )
        activity, results, events = await stored(db, activity_id)
        assert activity.status == "FAILED" and str(activity.final_result_id) == second.json()["id"]
        by_id = {str(r.id): r for r in results}
        assert str(by_id[first["id"]].superseded_by_id) == second.json()["id"]
        assert by_id[second.json()["id"]].superseded_by_id is None
        assert events[-1].event == "RESULT_OVERRIDDEN" and events[-1].from_status == "COMPLETED"

    async def test_hard_override_reopens_a_canceled_activity(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        async with db.sessionmaker() as session:
            await activities.cancel_activity(session, world.tenant_id, activity_id, Actor.system())
        response = await post(client, key, result_body(world, activity_id, hard_override=True))
        assert response.status_code == 201 and response.json()["activityStatus"] == "COMPLETED"

    async def test_hard_override_without_anything_to_override_is_a_normal_result(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(client, key, result_body(world, activity_id, hard_override=True))
        assert response.status_code == 201
        _, _, events = await stored(db, activity_id)
        assert events[-1].event == "RESULT_RECEIVED"

    async def test_racing_final_results_exactly_one_wins(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        responses = await asyncio.gather(
            *(post(client, key, result_body(world, activity_id)) for _ in range(8))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 7, [r.text for r in responses]
        activity, results, events = await stored(db, activity_id)
        assert len(results) == 1 and str(results[0].id) == next(
            r.json()["id"] for r in responses if r.status_code == 201
        )
        assert [e.event for e in events] == ["CREATED", "RESULT_RECEIVED"]
        assert activity.version == 2


class TestIdempotency:
    async def test_retry_with_the_same_key_replays_and_writes_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        body = result_body(world, activity_id)
        first = await post(client, key, body, **{"Idempotency-Key": "req-1"})
        again = await post(client, key, body, **{"Idempotency-Key": "req-1"})
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        _, results, _ = await stored(db, activity_id)
        assert len(results) == 1

    async def test_same_key_with_another_body_is_422(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        await post(client, key, result_body(world, activity_id), **{"Idempotency-Key": "req-2"})
        other = await post(
            client,
            key,
            result_body(world, activity_id, status="PENDING"),
            **{"Idempotency-Key": "req-2"},
        )
        assert other.status_code == 422
        assert other.json()["message"] == "Idempotency-Key reused with a different request body"

    async def test_retry_while_the_first_is_running_is_409(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        body = result_body(world, activity_id)
        async with (
            db.sessionmaker() as session
        ):  # the first request has claimed the key, not finished
            session.add(IdempotencyRecord(
                tenant_id=world.tenant_id, key="req-3", fingerprint=fingerprint(body), expires_at=utcnow() + timedelta(hours=24)
            ))  # fmt: skip
            await session.commit()
        response = await post(client, key, body, **{"Idempotency-Key": "req-3"})
        assert response.status_code == 409
        assert response.json()["message"] == "A request with this Idempotency-Key is in progress"

    async def test_an_error_response_is_replayed_too(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, _, key = await setup(factory)
        body = result_body(world, uuid.uuid4())
        first = await post(client, key, body, **{"Idempotency-Key": "req-4"})
        again = await post(client, key, body, **{"Idempotency-Key": "req-4"})
        assert (
            first.status_code == again.status_code == 404
            and again.headers["Idempotent-Replayed"] == "true"
        )

    async def test_keys_are_per_tenant(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world, activity_id, key = await setup(factory)
        other, other_activity, other_key = await setup(factory)
        a = await post(
            client, key, result_body(world, activity_id), **{"Idempotency-Key": "shared"}
        )
        b = await post(
            client, other_key, result_body(other, other_activity), **{"Idempotency-Key": "shared"}
        )
        assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]

    async def test_key_longer_than_255_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, activity_id, key = await setup(factory)
        response = await post(
            client, key, result_body(world, activity_id), **{"Idempotency-Key": "k" * 256}
        )
        assert (
            response.status_code == 400
            and response.json()["details"][0]["field"] == "Idempotency-Key"
        )


class TestProviderIdConflict:
    async def test_a_provider_id_recorded_on_another_activity_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, first, key = await setup(factory)
        second = await factory.task(world)
        ok = await post(
            client, key, result_body(world, first, status="PENDING", provider_activity_id="EXT-7")
        )
        assert ok.status_code == 201
        clash = await post(client, key, result_body(world, second, provider_activity_id="EXT-7"))
        assert (
            clash.status_code == 409
            and clash.json()["message"] == "provider_activity_id already exists"
        )


class TestStatements:
    """A submission is a fixed handful of statements and one commit, whatever the tenant holds."""

    async def test_one_lookup_then_one_write_statement_on_postgres_three_on_sqlite(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, activity_id, key = await setup(factory)
        # Warm the process (API key cache, first-use statements) on another activity.
        warm = await post(client, key, result_body(world, await factory.task(world)))
        assert warm.status_code == 201
        commits: list[object] = []
        # After each statement, whether the server reports an open transaction (asyncpg reads it
        # from every ReadyForQuery message).
        in_transaction: list[bool] = []

        def count_commit(conn: object) -> None:
            commits.append(conn)

        def after_statement(conn: Any, *_: Any) -> None:
            if db.dialect == "postgresql":
                in_transaction.append(conn.connection.driver_connection.is_in_transaction())

        event.listen(db.engine.sync_engine, "commit", count_commit)
        event.listen(db.engine.sync_engine, "after_cursor_execute", after_statement)
        try:
            with statements(db) as seen:
                response = await post(client, key, result_body(world, activity_id))
        finally:
            event.remove(db.engine.sync_engine, "commit", count_commit)
            event.remove(db.engine.sync_engine, "after_cursor_execute", after_statement)
        assert response.status_code == 201, response.text
        # The lookup (activity, its commerce, the body's commerce, the result type and the
        # operator in one SELECT), then the writes. On PostgreSQL the activity's compare-and-set
        # UPDATE, its status event and the result are one statement, and no transaction is
        # opened around the two (each commits by itself). SQLite writes the result, the UPDATE
        # and the event one by one in one transaction.
        kinds = [" ".join(sql.split()[:3]).upper() for sql in seen]
        if db.dialect == "postgresql":
            assert kinds == [kinds[0], "WITH CAS AS"]
            write = " ".join(seen[1].split()).upper()
            assert "UPDATE ACTIVITIES SET" in write
            assert "INSERT INTO ACTIVITY_STATUS_EVENTS" in write
            assert "INSERT INTO ACTIVITY_RESULTS" in write
            assert in_transaction == [False, False]
        else:
            assert kinds == [
                kinds[0],
                "INSERT INTO ACTIVITY_RESULTS",
                "UPDATE ACTIVITIES SET",
                "INSERT INTO ACTIVITY_STATUS_EVENTS",
            ]
            assert len(commits) == 1
        assert kinds[0].startswith("SELECT")
        activity, results, _ = await stored(db, activity_id)
        assert activity.final_result_id == results[0].id
        # The operator named by its external id was found by the same lookup.
        assert results[0].operator_id == world.operator_id

    async def test_an_override_that_replaces_a_final_result_writes_in_one_transaction(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        # Two writes (the replaced result is marked, then the transition): outside a
        # transaction a failed compare-and-set would leave the first one behind.
        world, activity_id, key = await setup(factory)
        first = (await post(client, key, result_body(world, activity_id))).json()
        ran: list[tuple[str, bool]] = []

        def after_statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
            if db.dialect == "postgresql":
                driver = conn.connection.driver_connection
                ran.append((" ".join(sql.split()[:2]).upper(), driver.is_in_transaction()))

        event.listen(db.engine.sync_engine, "after_cursor_execute", after_statement)
        try:
            body = result_body(world, activity_id, status="NOT_EFFECTIVE", hard_override=True,
                               task_result={"result": "NOT_INTERESTED"})  # fmt: skip
            second = await post(client, key, body)
        finally:
            event.remove(db.engine.sync_engine, "after_cursor_execute", after_statement)
        assert second.status_code == 201, second.text
        _, results, _ = await stored(db, activity_id)
        by_id = {str(r.id): r for r in results}
        assert str(by_id[first["id"]].superseded_by_id) == second.json()["id"]
        if db.dialect == "postgresql":
            # The lookup outside a transaction finds the override, and the submission starts
            # again in one: the lookup, the replaced result's UPDATE, the transition.
            assert ran[0] == ("SELECT ACTIVITIES.TYPE,", False)
            assert [kind for kind, _ in ran[1:]] == [
                "SELECT ACTIVITIES.TYPE,", "UPDATE ACTIVITY_RESULTS", "WITH CAS",
            ]  # fmt: skip
            assert all(open_ for _, open_ in ran[1:])
