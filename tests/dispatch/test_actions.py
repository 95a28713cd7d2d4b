"""Manual dispatch, resend, test deliveries, rotation, caps, leases and ON_DISPATCH resolution."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from reten.activities.models import Activity, ActivityType, Channel
from reten.dispatch.models import DispatchAttempt
from reten.kit.time import utcnow
from tests.commerces.test_queries import statements
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import Factory
from tests.resolution.support import add_config, add_user, new_activity, request

_setup = support.setup
INTEGRATION_TASKS = "/api/integration/activities/tasks"


class TestManualDispatch:
    async def test_success_is_204_and_dispatched(
        self, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        response = await client.post(
            f"/api/activities/tasks/{activity_id}/dispatch", headers=t.headers
        )
        assert response.status_code == 204, response.text
        assert len(receiver.received) == 1
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "DISPATCHED"
        assert detail["statusEvents"][-1]["actor"]["type"] == "API_KEY"
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.trigger == "MANUAL"

    async def test_failure_is_502_recorded_and_scheduled(
        self, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, retry_schedule=[0, 300])
        receiver.answer(Reply(500))
        activity_id = await factory.task(t.world)
        response = await client.post(
            f"/api/activities/tasks/{activity_id}/dispatch", headers=t.headers
        )
        assert response.status_code == 502
        assert response.json()["message"] == "Dispatch attempt failed: HTTP 500"
        a = await support.activity(db, activity_id)
        assert (a.status, a.attempt_count, a.lease_until) == ("READY", 1, None)
        assert a.next_attempt_at is not None
        # The last attempt of the schedule fails the activity.
        again = await client.post(
            f"/api/activities/tasks/{activity_id}/dispatch", headers=t.headers
        )
        assert again.status_code == 502
        assert (await support.activity(db, activity_id)).status == "FAILED"

    async def test_refusals_in_order(
        self, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t = await support.tenant(factory)
        task_id = await factory.task(t.world)
        message_id = await factory.task(t.world, type=ActivityType.MESSAGE, channel=Channel.SMS)

        async def post(activity_id: uuid.UUID) -> httpx.Response:
            return await client.post(
                f"/api/activities/tasks/{activity_id}/dispatch", headers=t.headers
            )

        assert (await post(uuid.uuid4())).status_code == 404
        refused = await post(message_id)
        assert (refused.status_code, refused.json()["message"]) == (400, "Activity is not a TASK")
        missing = await post(task_id)
        assert missing.status_code == 404
        assert missing.json()["message"] == "No active dispatch config for channel SALESMAN"
        await support.make_config(client, t, base_url=receiver.url())
        async with db.sessionmaker() as session:  # a dispatcher holds the lease
            await session.execute(
                update(Activity)
                .where(Activity.id == task_id)
                .values(lease_until=utcnow() + timedelta(seconds=60))
            )
            await session.commit()
        busy = await post(task_id)
        assert (busy.status_code, busy.json()["message"]) == (409, "Dispatch already in progress")
        async with db.sessionmaker() as session:
            await session.execute(
                update(Activity).where(Activity.id == task_id).values(lease_until=None)
            )
            await session.commit()
        await client.patch(f"/api/activities/{task_id}/cancel", json={}, headers=t.headers)
        canceled = await post(task_id)
        assert canceled.status_code == 400
        assert receiver.received == []

    async def test_on_dispatch_resolution_failure_makes_it_unresolved(
        self, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        await add_config(db, t.world, strategy="ON_DISPATCH")
        activity_id, failure = await new_activity(factory, t.world, request())
        assert failure is None
        response = await client.post(
            f"/api/activities/tasks/{activity_id}/dispatch", headers=t.headers
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Resolution failed; activity is now UNRESOLVED"
        a = await support.activity(db, activity_id)
        assert (a.status, a.attempt_count, a.lease_until) == ("UNRESOLVED", 0, None)
        assert receiver.received == []


class TestOnDispatchResolution:
    async def test_the_dispatcher_resolves_then_delivers_the_target(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        await add_config(db, t.world, strategy="ON_DISPATCH")
        owner = await add_user(db, t.world, ["OWNER"])
        activity_id, _ = await new_activity(factory, t.world, request())
        await support.dispatcher(app, t).drain()
        data = receiver.received[0].json()["data"]
        assert [u["commerceUserId"] for u in data["targetUsers"]] == [str(owner)]
        targets = (
            await client.get(f"/api/activities/{activity_id}/target-users", headers=t.headers)
        ).json()
        assert targets[0]["resolutionStatus"] == "LOCKED"

    async def test_the_dispatcher_leaves_an_unresolvable_one_unresolved(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        await add_config(db, t.world, strategy="ON_DISPATCH")
        activity_id, _ = await new_activity(factory, t.world, request())
        await support.dispatcher(app, t).drain()
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "UNRESOLVED"
        assert detail["statusEvents"][-1]["event"] == "RESOLUTION_FAILED"
        assert receiver.received == []
        assert await support.attempts(db, activity_id) == []


class TestResend:
    async def test_resend_delivers_again_with_the_same_webhook_id(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        before = await support.activity(db, activity_id)
        response = await client.post(f"/api/activities/{activity_id}/resend", headers=t.headers)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "activityId": str(activity_id),
            "dispatchConfigId": cfg["id"],
            "requestId": f"msg_{activity_id.hex}",
        }
        # The 202 recorded the request; a dispatcher's round delivers it.
        assert (await support.activity(db, activity_id)).resend_requested_at is not None
        assert len(receiver.received) == 1
        await support.dispatcher(app, t).drain()
        await receiver.wait_for(2)
        assert receiver.ids()[0] == receiver.ids()[1]
        for _ in range(100):
            rows = await support.attempts(db, activity_id)
            if len(rows) == 2:
                break
            await asyncio.sleep(0.05)
        assert [(a.attempt_number, a.trigger) for a in rows] == [(1, "SCHEDULED"), (2, "RESEND")]
        after = await support.activity(db, activity_id)
        assert (after.status, after.attempt_count) == ("DISPATCHED", before.attempt_count)
        assert after.provider_activity_id == before.provider_activity_id
        assert (after.resend_requested_at, after.lease_until) == (None, None)
        # Done once: a further round sends nothing more.
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 2

    async def test_resend_refuses_what_was_not_dispatched(
        self, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        response = await client.post(f"/api/activities/{activity_id}/resend", headers=t.headers)
        assert response.status_code == 400
        assert response.json()["message"] == "Activity in status READY cannot be resent"
        other = await support.tenant(factory)
        missing = await client.post(f"/api/activities/{uuid.uuid4()}/resend", headers=other.headers)
        assert missing.status_code == 404


class TestTestDelivery:
    async def test_a_synthetic_activity_is_delivered_and_nothing_is_stored(
        self, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        deactivated = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/deactivate", headers=t.headers
        )
        assert deactivated.status_code == 200
        response = await client.post(f"/api/dispatch-configs/{cfg['id']}/test", headers=t.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["outcome"], body["httpStatus"], body["error"]) == ("SUCCESS", 200, None)
        assert body["responseExcerpt"] == "ok" and body["requestId"].startswith("msg_")
        data = Webhook(cfg["signingSecret"]).verify(
            receiver.received[0].body, receiver.received[0].headers
        )["data"]
        assert data["test"] is True
        async with db.sessionmaker() as session:
            count = await session.execute(
                select(func.count())
                .select_from(DispatchAttempt)
                .where(DispatchAttempt.dispatch_config_id == uuid.UUID(cfg["id"]))
            )
            assert count.scalar_one() == 0

    async def test_a_failing_endpoint_is_reported(
        self, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        receiver.answer(Reply(500, b"boom"))
        body = (
            await client.post(f"/api/dispatch-configs/{cfg['id']}/test", headers=t.headers)
        ).json()
        assert (body["outcome"], body["httpStatus"], body["error"], body["responseExcerpt"]) == (
            "FAILURE", 500, "HTTP 500", "boom",
        )  # fmt: skip


class TestSecretRotation:
    async def test_both_secrets_sign_during_the_overlap(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        rotated = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/rotate-secret", headers=t.headers
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["signingSecret"]
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        got = receiver.received[0]
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        for secret in (cfg["signingSecret"], new_secret):
            Webhook(secret).verify(got.body, got.headers)

    async def test_after_the_overlap_only_the_new_secret_signs(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        from reten.dispatch.models import DispatchConfig

        t, cfg = await _setup(factory, client, receiver)
        rotated = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/rotate-secret", headers=t.headers
        )
        new_secret = rotated.json()["signingSecret"]
        async with db.sessionmaker() as session:  # 24 h later
            await session.execute(
                update(DispatchConfig)
                .where(DispatchConfig.id == uuid.UUID(cfg["id"]))
                .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        got = receiver.received[0]
        Webhook(new_secret).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(cfg["signingSecret"]).verify(got.body, got.headers)


class TestCaps:
    async def test_a_round_takes_at_most_the_per_tenant_batch(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, max_concurrency=32)
        other, _ = await _setup(factory, client, receiver, max_concurrency=32)
        for _ in range(5):
            await factory.task(t.world)
        await factory.task(other.world)
        dispatcher = support.dispatcher(app, t, other, dispatch_batch_per_tenant=2)
        assert await dispatcher.round() == 3  # two of the flooding tenant, one of the other
        await dispatcher.drain()
        assert len(receiver.received) == 6

    async def test_per_config_concurrency_is_capped(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, max_concurrency=2)
        receiver.answer(Reply(200, delay=0.2))
        for _ in range(6):
            await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 6
        assert receiver.max_in_flight == 2

    async def test_a_slow_config_does_not_hold_up_another(
        self, app: Any, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        slow, fast = await Receiver().start(), await Receiver().start()
        try:
            slow.answer(Reply(200, delay=1.5))
            t_slow, _ = await _setup(factory, client, slow, max_concurrency=1)
            t_fast, _ = await _setup(factory, client, fast)
            for _ in range(3):
                await factory.task(t_slow.world)
                await factory.task(t_fast.world)
            dispatcher = support.dispatcher(app, t_slow, t_fast)
            draining = asyncio.create_task(dispatcher.drain())
            await fast.wait_for(3, timeout=1.0)  # long before the slow one has answered twice
            assert len(slow.received) == 1
            await draining
        finally:
            await slow.close()
            await fast.close()


class TestLeases:
    async def test_two_dispatchers_never_take_the_same_activity(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver, max_concurrency=32)
        receiver.answer(Reply(200, delay=0.05))
        for _ in range(40):
            await factory.task(t.world)
        a = support.dispatcher(app, t, dispatch_batch_per_tenant=10)
        b = support.dispatcher(app, t, dispatch_batch_per_tenant=10)
        await asyncio.gather(a.drain(), b.drain())
        assert len(receiver.received) == 40
        assert len(set(receiver.ids())) == 40

    async def test_an_expired_lease_makes_the_activity_claimable_again(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        async with db.sessionmaker() as session:  # a dispatcher died holding it
            await session.execute(
                update(Activity)
                .where(Activity.id == activity_id)
                .values(lease_until=utcnow() + timedelta(seconds=30))
            )
            await session.commit()
        await support.dispatcher(app, t).drain()
        assert receiver.received == []
        async with db.sessionmaker() as session:
            await session.execute(
                update(Activity)
                .where(Activity.id == activity_id)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        await support.dispatcher(app, t).drain()
        assert len(receiver.received) == 1

    async def test_a_cancel_during_delivery_wins(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        receiver.answer(Reply(200, delay=0.5))
        activity_id = await factory.task(t.world)
        draining = asyncio.create_task(support.dispatcher(app, t).drain())
        await receiver.wait_for(1)
        canceled = await client.patch(
            f"/api/activities/{activity_id}/cancel", json={}, headers=t.headers
        )
        assert canceled.status_code == 200
        await draining
        a = await support.activity(db, activity_id)
        assert (a.status, a.lease_until) == ("CANCELED", None)
        [attempt] = await support.attempts(db, activity_id)
        assert attempt.outcome == "SUCCESS"


class TestCircuitBreaker:
    async def test_consecutive_exhausted_activities_deactivate_the_config(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(
            factory, client, receiver, retry_schedule=[0], disable_after_consecutive_failures=3
        )
        receiver.answer(Reply(400))
        for _ in range(2):
            await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert (await support.config_row(db, cfg["id"])).consecutive_failures == 2
        receiver.answer(Reply(200))  # one success resets the count
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert (await support.config_row(db, cfg["id"])).consecutive_failures == 0
        receiver.answer(Reply(400))
        for _ in range(4):
            await factory.task(t.world)
        await support.dispatcher(app, t, dispatch_batch_per_tenant=1).drain()
        row = await support.config_row(db, cfg["id"])
        assert (row.is_active, row.deactivated_reason) == (False, "CONSECUTIVE_FAILURES")
        assert len(receiver.received) == 2 + 1 + 3  # the fourth waits for a new config


class TestOnDispatchHooks:
    async def test_a_client_hook_is_called_before_delivery_and_its_value_delivered(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        keys = (await client.get("/api/activity-config/attribute-keys", headers=t.headers)).json()
        promotions = next(k["id"] for k in keys if k["key"] == "promotions")
        policy = await client.post(
            "/api/activity-config/attribute-policies",
            json={
                "attribute_key_id": promotions,
                "strategy": "ON_DISPATCH",
                "resolver_type": "CLIENT_HOOK",
                "hook_url": receiver.url("/attributes"),
                "hook_timeout_ms": 2000,
            },
            headers=t.headers,
        )
        assert policy.status_code in (200, 201), policy.text
        receiver.answer(
            lambda r: (
                Reply(200, b'{"value": {"discount": 15}}')
                if r.path == "/attributes"
                else Reply(200)
            )
        )
        activity_id, failure = await new_activity(factory, t.world, request(keys=["promotions"]))
        assert failure is None
        await support.dispatcher(app, t).drain()
        hook_call, delivery = receiver.received
        assert hook_call.path == "/attributes"
        assert hook_call.json()["activityId"] == str(activity_id)
        assert delivery.json()["data"]["attributes"] == {"promotions": {"discount": 15}}
        assert (await support.activity(db, activity_id)).status == "DISPATCHED"

    async def test_a_failing_hook_leaves_the_activity_unresolved(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, _ = await _setup(factory, client, receiver)
        keys = (await client.get("/api/activity-config/attribute-keys", headers=t.headers)).json()
        promotions = next(k["id"] for k in keys if k["key"] == "promotions")
        await client.post(
            "/api/activity-config/attribute-policies",
            json={
                "attribute_key_id": promotions,
                "strategy": "ON_DISPATCH",
                "resolver_type": "CLIENT_HOOK",
                "hook_url": receiver.url("/attributes"),
            },
            headers=t.headers,
        )
        receiver.answer(Reply(503))
        activity_id, _ = await new_activity(factory, t.world, request(keys=["promotions"]))
        await support.dispatcher(app, t).drain()
        assert [r.path for r in receiver.received] == ["/attributes"]
        detail = await support.detail(client, t, activity_id)
        assert detail["status"] == "UNRESOLVED"
        assert "CLIENT_HOOK answered HTTP 503" in detail["statusEvents"][-1]["detail"]


class TestSpecRules:
    async def test_activating_a_config_delivers_the_backlog_oldest_first(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver, max_concurrency=1, is_active=False)
        created = [await factory.task(t.world) for _ in range(4)]
        await support.dispatcher(app, t).drain()
        assert receiver.received == []  # no active config: they wait, no attempt spent
        activated = await client.post(
            f"/api/dispatch-configs/{cfg['id']}/activate", headers=t.headers
        )
        assert activated.status_code == 200
        await support.dispatcher(app, t).drain()
        assert receiver.ids() == [f"msg_{a.hex}" for a in created]

    async def test_a_result_correlates_by_the_provider_id_from_the_delivery(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        from tests.factories import result_body

        t, _ = await _setup(factory, client, receiver)
        provider_id = f"yom-{uuid.uuid4().hex}"
        receiver.answer(Reply(200, b'{"providerActivityId": "' + provider_id.encode() + b'"}'))
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        response = await client.post(
            "/api/integration/activity-results/tasks",
            json=result_body(t.world, None, provider_activity_id=provider_id),
            headers=t.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["activityId"] == str(activity_id)
        assert (await support.activity(db, activity_id)).status == "COMPLETED"

    async def test_retry_dispatch_and_resend_need_an_active_config(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        receiver.answer(Reply(400))
        failed = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        receiver.answer(Reply(200))
        dispatched = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        await client.post(f"/api/dispatch-configs/{cfg['id']}/deactivate", headers=t.headers)

        detail = await support.detail(client, t, failed)
        assert (detail["status"], detail["dispatch"]["canForceRetryDispatch"]) == ("FAILED", False)
        for path in (
            f"/api/activities/{failed}/retry-dispatch",
            f"/api/activities/{dispatched}/resend",
        ):
            response = await client.post(path, headers=t.headers)
            assert response.status_code == 404, path
            assert response.json()["message"] == "No active dispatch config for channel SALESMAN"
        assert len(receiver.received) == 2

    async def test_can_force_retry_dispatch_is_one_rule_in_the_integration_list_and_the_detail(
        self, app: Any, db: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        t, cfg = await _setup(factory, client, receiver)
        receiver.answer(Reply(400))
        failed = [await factory.task(t.world)]
        await support.dispatcher(app, t).drain()
        receiver.answer(Reply(200))
        dispatched = await factory.task(t.world)
        await support.dispatcher(app, t).drain()

        async def flags() -> tuple[dict[str, bool], list[str]]:
            await client.get(INTEGRATION_TASKS, headers=t.headers)  # warm the caches
            with statements(db) as seen:
                response = await client.get(INTEGRATION_TASKS, headers=t.headers)
            assert response.status_code == 200, response.text
            items = response.json()["data"]
            return {i["id"]: i["canForceRetryDispatch"] for i in items}, [
                sql for sql in seen if "dispatch_configs" in sql
            ]

        listed, config_reads = await flags()
        assert listed == {str(failed[0]): True, str(dispatched): False}
        assert (await support.detail(client, t, failed[0]))["dispatch"]["canForceRetryDispatch"]
        # One read of the active configs per page, however many activities failed on it.
        assert len(config_reads) == 1
        receiver.answer(Reply(400))
        failed += [await factory.task(t.world) for _ in range(2)]
        await support.dispatcher(app, t).drain()
        listed, config_reads = await flags()
        assert [listed[str(a)] for a in failed] == [True, True, True]
        assert len(config_reads) == 1

        await client.post(f"/api/dispatch-configs/{cfg['id']}/deactivate", headers=t.headers)
        listed, _ = await flags()
        assert not any(listed.values())
        assert not (await support.detail(client, t, failed[0]))["dispatch"]["canForceRetryDispatch"]

    async def test_the_process_wide_cap_holds_across_configs(
        self, app: Any, factory: Factory, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        first, _ = await _setup(factory, client, receiver, max_concurrency=32)
        second, _ = await _setup(factory, client, receiver, max_concurrency=32)
        receiver.answer(Reply(200, delay=0.1))
        for _ in range(5):
            await factory.task(first.world)
            await factory.task(second.world)
        await support.dispatcher(app, first, second, dispatch_concurrency=3).drain()
        assert len(receiver.received) == 10
        assert receiver.max_in_flight == 3
