"""Delivery over real HTTP: signing, payload, providers, and what each answer does."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from reten.activities.models import ActivityType, Channel
from reten.kit.time import ensure_utc, utcnow
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import Factory

_setup = support.setup


class TestWebhook:
    async def test_delivery_is_signed_and_verifies_with_standardwebhooks(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver, credentials={"bearerToken": "tok-123"})
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()

        assert len(receiver.received) == 1
        got = receiver.received[0]
        assert got.method == "POST" and got.path == "/hook"
        envelope = Webhook(cfg["signingSecret"]).verify(got.body, got.headers)
        assert envelope["type"] == "activity.dispatched"
        assert got.headers["webhook-id"] == f"msg_{activity_id.hex}"
        assert got.headers["authorization"] == "Bearer tok-123"
        data = envelope["data"]
        assert data["id"] == str(activity_id)
        assert data["status"] == "READY"
        assert data["tenant"] == {"id": str(t.world.tenant_id), "slug": t.world.slug}
        assert data["commerce"]["externalId"] == "COM-001"
        assert data["operator"]["externalId"] == "OP-17"
        assert data["route"]["externalId"] == "R-1"
        assert data["reason"] == {"code": "retention", "label": "retention"}
        assert data["resultCallback"]["url"].endswith("/api/integration/activity-results/tasks")
        assert data["resultCallback"]["activityId"] == str(activity_id)

        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "DISPATCHED"
        assert detail["dispatch"]["attemptCount"] == 1
        assert detail["dispatch"]["dispatchConfigId"] == cfg["id"]
        assert detail["dispatch"]["lastAttemptAt"] is not None
        assert detail["statusEvents"][-1]["event"] == "DISPATCHED"
        assert detail["statusEvents"][-1]["actor"]["type"] == "SYSTEM"
        [attempt] = await support.attempts(db, activity_id)
        assert (attempt.outcome, attempt.trigger, attempt.http_status) == (
            "SUCCESS",
            "SCHEDULED",
            200,
        )
        assert attempt.request_id == got.headers["webhook-id"]
        assert attempt.attempt_number == 1

    async def test_a_tampered_body_fails_verification(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        got = receiver.received[0]
        try:
            Webhook(cfg["signingSecret"]).verify(got.body.replace(b"READY", b"READX"), got.headers)
        except Exception as exc:
            assert "signature" in str(exc).lower()
        else:
            raise AssertionError("a modified body must not verify")

    async def test_provider_id_from_the_answer_is_recorded(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(Reply(200, b'{"activityId": "ext-' + uuid.uuid4().hex.encode() + b'"}'))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        detail = await support.detail(client, t, activity_id)
        assert detail["dispatch"]["providerActivityId"].startswith("ext-")

    async def test_message_payload_has_no_operator_or_route(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, channel="WHATSAPP")
        await factory.task(t.world, type=ActivityType.MESSAGE, channel=Channel.WHATSAPP)
        await support.dispatcher(app, t).drain()
        data = receiver.received[0].json()["data"]
        assert data["type"] == "MESSAGE" and data["channel"] == "WHATSAPP"
        assert data["operator"] is None and data["route"] is None
        assert data["targetUsers"] == [] and data["attributes"] == {}

    async def test_only_the_configured_channel_is_delivered(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, channel="SALESMAN")
        other = await factory.task(t.world, channel=Channel.CALLCENTER)
        await support.dispatcher(app, t).drain()
        assert receiver.received == []
        assert (await support.activity(db, other)).status == "READY"
        assert await support.attempts(db, other) == []


class TestOtherProviders:
    async def test_yom_posts_to_activities_with_the_api_key(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(
            factory, client, receiver, provider="YOM", credentials={"apiKey": "yom-secret"}
        )
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        got = receiver.received[0]
        assert got.path == "/hook/activities"
        assert got.headers["x-api-key"] == "yom-secret"
        assert "webhook-signature" not in got.headers
        assert got.json()["id"] == str(activity_id)  # the bare payload, no envelope

    async def test_mock_succeeds_without_network(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        t = await support.tenant(factory)
        await support.make_config(client, t, provider="MOCK")
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "DISPATCHED"
        uuid.UUID(detail["dispatch"]["providerActivityId"])
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.request_id is None and attempt.http_status is None


class TestFailures:
    async def test_5xx_is_retried_then_the_activity_fails(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        receiver.answer(Reply(503, b"upstream unavailable"))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()

        assert len(receiver.received) == 3  # the schedule [0, 0, 0]
        assert len(set(receiver.ids())) == 1  # the same webhook-id on every retry
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "FAILED"
        assert detail["dispatch"]["attemptCount"] == 3
        assert detail["dispatch"]["lastError"] == "HTTP 503"
        assert detail["dispatch"]["nextAttemptAt"] is None
        assert detail["dispatch"]["canForceRetryDispatch"] is True
        last = detail["statusEvents"][-1]
        assert (last["event"], last["detail"]) == ("DISPATCH_FAILED", "HTTP 503")
        rows = await support.attempts(db, activity_id)
        assert [a.attempt_number for a in rows] == [1, 2, 3]
        assert {(a.outcome, a.http_status) for a in rows} == {("FAILURE", 503)}
        assert rows[0].response_excerpt == "upstream unavailable"
        assert (await support.config_row(db, cfg["id"])).consecutive_failures == 1

    async def test_retry_dispatch_starts_a_fresh_schedule(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(Reply(500))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        response = await client.post(
            f"/api/activities/{activity_id}/retry-dispatch", headers=t.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "READY"
        assert body["dispatch"]["attemptCount"] == 0
        assert body["statusEvents"][-1]["event"] == "DISPATCH_RETRY_REQUESTED"
        receiver.answer(Reply(200))
        await support.dispatcher(app, t).drain()
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "DISPATCHED"
        assert detail["dispatch"]["attemptCount"] == 1
        assert [a.attempt_number for a in await support.attempts(db, activity_id)] == [1, 2, 3, 4]

    async def test_retry_dispatch_is_refused_unless_failed_by_dispatch(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        response = await client.post(
            f"/api/activities/{activity_id}/retry-dispatch", headers=t.headers
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Activity is not in a dispatch-failed state"
        missing = await client.post(
            f"/api/activities/{uuid.uuid4()}/retry-dispatch", headers=t.headers
        )
        assert missing.status_code == 404

    async def test_the_schedule_spaces_attempts(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[0, 300])
        receiver.answer(Reply(500))
        activity_id = await factory.task(t.world)
        before = utcnow()
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 1  # the second attempt is 300 s away
        a = await support.activity(db, activity_id)
        assert a.status == "READY" and a.attempt_count == 1 and a.lease_until is None
        assert a.next_attempt_at is not None
        wait = (ensure_utc(a.next_attempt_at) - before).total_seconds()
        assert 299 <= wait <= 310

    async def test_a_first_entry_above_zero_delays_the_first_attempt(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[60, 0])
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert receiver.received == []
        a = await support.activity(db, activity_id)
        assert a.attempt_count == 0 and a.next_attempt_at is not None
        assert ensure_utc(a.next_attempt_at) > utcnow() + timedelta(seconds=50)

    async def test_retry_after_is_honoured(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[0, 1])
        receiver.answer(Reply(429, b"slow down", headers={"retry-after": "120"}))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 1
        a = await support.activity(db, activity_id)
        assert a.next_attempt_at is not None
        assert ensure_utc(a.next_attempt_at) > utcnow() + timedelta(seconds=110)

    async def test_retry_after_is_capped_at_an_hour(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[0, 1])
        receiver.answer(Reply(503, headers={"retry-after": "999999"}))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        a = await support.activity(db, activity_id)
        assert a.next_attempt_at is not None
        assert ensure_utc(a.next_attempt_at) < utcnow() + timedelta(seconds=3601)

    async def test_other_4xx_is_not_retried(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(Reply(422, b'{"error":"bad payload"}'))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 1
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "FAILED"
        assert detail["dispatch"]["lastError"] == "HTTP 422"

    async def test_410_deactivates_the_config_and_keeps_the_activity_waiting(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        receiver.answer(Reply(410, b"gone"))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 1
        config = (await client.get(f"/api/dispatch-configs/{cfg['id']}", headers=t.headers)).json()
        assert config["isActive"] is False
        assert config["deactivatedReason"] == "HTTP_410"
        assert config["deactivatedAt"] is not None
        a = await support.activity(db, activity_id)
        assert a.status == "READY" and a.attempt_count == 0
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.http_status == 410 and attempt.outcome == "FAILURE"
        # Re-activating delivers the backlog.
        receiver.answer(Reply(200))
        activate = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/activate", headers=t.headers
        )
        assert activate.status_code == 200, activate.text
        await support.dispatcher(app, t).drain()
        assert (await support.activity(db, activity_id)).status == "DISPATCHED"

    async def test_a_timeout_is_a_retryable_failure(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, timeout_seconds=1, retry_schedule=[0, 600])
        receiver.answer(Reply(200, delay=3))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        a = await support.activity(db, activity_id)
        assert a.status == "READY" and a.attempt_count == 1
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.error == "Timeout after 1 s"
        assert attempt.http_status is None
        assert 900 <= attempt.duration_ms < 2500

    async def test_a_reset_connection_is_a_retryable_failure(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[0, 600])
        receiver.answer(Reply(reset=True))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        a = await support.activity(db, activity_id)
        assert a.status == "READY" and a.attempt_count == 1
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.outcome == "FAILURE" and attempt.http_status is None
        assert attempt.error

    async def test_redirects_are_not_followed(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(
            lambda r: (
                Reply(302, headers={"location": receiver.url("/elsewhere")})
                if r.path == "/hook"
                else Reply(200)
            )
        )
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert [r.path for r in receiver.received] == ["/hook"]
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "FAILED"
        assert detail["dispatch"]["lastError"].startswith("HTTP 302: redirect not followed")

    async def test_a_huge_answer_is_cut(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(Reply(200, body=b"x\x00" * 32768, repeat_body=80))  # 5 MiB
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert (await support.activity(db, activity_id)).status == "DISPATCHED"
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.response_excerpt == "x" * 2048

    async def test_without_an_active_config_nothing_is_attempted(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t = await support.tenant(factory)
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        a = await support.activity(db, activity_id)
        assert a.status == "READY" and a.attempt_count == 0
        assert await support.attempts(db, activity_id) == []


class TestProviderIds:
    async def test_an_id_answered_twice_is_recorded_once(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, max_concurrency=8)
        same = f"dup-{uuid.uuid4().hex}"
        receiver.answer(Reply(200, b'{"id": "' + same.encode() + b'"}'))
        first = await factory.task(t.world)
        second = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        rows = [await support.activity(db, a) for a in (first, second)]
        assert [r.status for r in rows] == ["DISPATCHED", "DISPATCHED"]
        assert sorted(str(r.provider_activity_id) for r in rows) == sorted([same, "None"])
