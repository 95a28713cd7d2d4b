"""Retries through a fault-injecting proxy in front of the real server, errors per status family,
and logging that never shows the key."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from reten.client import (
    AsyncReten,
    AuthenticationError,
    ConflictError,
    ConnectionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Reten,
    RetenError,
    ServerError,
    TimeoutError,
    ValidationError,
)
from tests.client.conftest import Live, free_port
from tests.client.proxy import Fault, FaultProxy

RESULTS = "/api/integration/activity-results/tasks"
TASKS = "/api/integration/activities/tasks"
FAST = {"initial_retry_delay": 0.05, "max_retry_delay": 0.2}


@pytest.fixture
def proxy(live: Live) -> Iterator[FaultProxy]:
    p = FaultProxy(live.base_url).start()
    try:
        yield p
    finally:
        p.stop()


def _results_of(live: Live, activity_id: str) -> list[dict[str, object]]:
    with live.admin() as admin:
        return admin.activities.get(activity_id).model_dump(by_alias=True)["results"]  # type: ignore[no-any-return]


class TestRetries:
    def test_reset_after_commit_is_retried_with_the_same_key_and_writes_once(
        self, live: Live, proxy: FaultProxy
    ) -> None:
        world = live.world(1)
        proxy.plan("POST", RESULTS, Fault(reset_after_forward=True))
        with Reten(proxy.url, live.api_key, **FAST) as client:
            result = client.results.submit(
                activity_id=world.task_ids[0], commerce_external_id=world.commerce_external_id,
                status="EFFECTIVE", result="SALE_COMPLETED",
            )  # fmt: skip
        posts = proxy.requests("POST", RESULTS)
        assert len(posts) == 2
        # The server stored the first attempt; the retry carried the same key and got the replay.
        assert posts[0].upstream_status == 201 and posts[1].upstream_status == 201
        key = posts[0].headers["idempotency-key"]
        assert key and posts[1].headers["idempotency-key"] == key
        assert posts[0].body == posts[1].body
        stored = _results_of(live, world.task_ids[0])
        assert [r["id"] for r in stored] == [result.id]

    async def test_async_reset_after_commit_writes_once(
        self, live: Live, proxy: FaultProxy
    ) -> None:
        world = live.world(1)
        proxy.plan("POST", RESULTS, Fault(reset_after_forward=True), Fault(status=503))
        async with AsyncReten(proxy.url, live.api_key, **FAST) as client:
            result = await client.results.submit(
                activity_id=world.task_ids[0], commerce_external_id=world.commerce_external_id,
                status="PENDING", result="NO_CONTACT", idempotency_key="visit-0001",
            )  # fmt: skip
        posts = proxy.requests("POST", RESULTS)
        assert [p.headers["idempotency-key"] for p in posts] == ["visit-0001"] * 3
        assert [r["id"] for r in _results_of(live, world.task_ids[0])] == [result.id]

    def test_503_then_success(
        self, live: Live, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
    ) -> None:
        proxy.plan("GET", TASKS, Fault(status=503), Fault(status=502))
        caplog.set_level(logging.DEBUG, logger="reten.client")
        with Reten(proxy.url, live.api_key, **FAST) as client:
            page = client.tasks.list(per_page=1)
        assert page.meta.total >= 1 and len(proxy.requests("GET", TASKS)) == 3
        messages = [r.getMessage() for r in caplog.records if r.name == "reten.client"]
        assert any("-> 503" in m and "(retry 0)" in m for m in messages)
        assert any("-> 200" in m and "(retry 2)" in m for m in messages)
        assert any("retry 1 of 2" in m for m in messages)

    def test_429_waits_for_retry_after(self, live: Live, proxy: FaultProxy) -> None:
        proxy.plan("GET", TASKS, Fault(status=429, headers={"Retry-After": "1"}))
        with Reten(proxy.url, live.api_key, **FAST) as client:
            client.tasks.list(per_page=1)
        first, second = proxy.requests("GET", TASKS)
        assert second.at - first.at >= 0.9  # the backoff alone would have been ~0.05 s

    def test_retry_after_is_capped(self, live: Live, proxy: FaultProxy) -> None:
        proxy.plan("GET", TASKS, Fault(status=429, headers={"Retry-After": "3600"}))
        with Reten(proxy.url, live.api_key, max_retry_after=0.2, **FAST) as client:
            client.tasks.list(per_page=1)
        first, second = proxy.requests("GET", TASKS)
        assert second.at - first.at < 30

    def test_spent_retries_raise_the_last_error(self, live: Live, proxy: FaultProxy) -> None:
        proxy.plan("GET", TASKS, *[Fault(status=429, headers={"Retry-After": "7"})] * 2)
        with (
            Reten(proxy.url, live.api_key, max_retries=1, max_retry_after=0.1, **FAST) as client,
            pytest.raises(RateLimitError) as caught,
        ):
            client.tasks.list(per_page=1)
        assert caught.value.status == 429 and caught.value.retry_after == 7
        assert caught.value.body["message"] == "injected by the test proxy" and caught.value.retried
        assert len(proxy.requests("GET", TASKS)) == 2

    def test_a_post_without_idempotency_key_is_not_retried(
        self, live: Live, proxy: FaultProxy
    ) -> None:
        proxy.plan("POST", "/api/integration", Fault(status=503))
        with Reten(proxy.url, live.api_key, **FAST) as client:
            with pytest.raises(ServerError) as caught:
                client.request("POST", RESULTS, json={})
            assert caught.value.status == 503 and not caught.value.retried
            assert len(proxy.requests("POST", RESULTS)) == 1
            # The same call with a key goes again (and reaches the server: 400, empty body).
            proxy.plan("POST", "/api/integration", Fault(status=503))
            with pytest.raises(ValidationError) as refused:
                client.request("POST", RESULTS, json={}, idempotency_key="k-1")
            assert refused.value.retried
            posts = proxy.requests("POST", RESULTS)
            assert len(posts) == 3 and [p.upstream_status for p in posts] == [None, None, 400]
            assert "idempotency-key" not in posts[0].headers
            assert posts[1].headers["idempotency-key"] == posts[2].headers["idempotency-key"]

    def test_timeout_then_connection_refused(self, live: Live, proxy: FaultProxy) -> None:
        proxy.plan("GET", TASKS, Fault(delay=1.0), Fault(delay=1.0))
        with (
            Reten(proxy.url, live.api_key, timeout=0.3, max_retries=1, **FAST) as client,
            pytest.raises(TimeoutError),
        ):
            client.tasks.list(per_page=1)
        with (
            Reten(f"http://127.0.0.1:{free_port()}", live.api_key, max_retries=1, **FAST) as client,
            pytest.raises(ConnectionError) as caught,
        ):
            client.result_types()
        assert not isinstance(caught.value, TimeoutError)

    def test_with_options_is_a_copy_sharing_connections(
        self, live: Live, proxy: FaultProxy
    ) -> None:
        proxy.plan("GET", TASKS, Fault(status=503))
        with Reten(proxy.url, live.api_key, **FAST) as client:
            strict = client.with_options(max_retries=0, timeout=5)
            assert strict.max_retries == 0 and strict.timeout.read == 5 and client.max_retries == 2
            with pytest.raises(ServerError):
                strict.tasks.list(per_page=1)
            assert client.tasks.list(per_page=1).meta.limit == 1  # the original still retries


class TestErrors:
    def test_each_status_family(self, live: Live) -> None:
        world = live.world(1)
        task_id = world.task_ids[0]
        with (
            Reten(live.base_url, "rtn_sk_" + "0" * 56, max_retries=0) as bad,
            pytest.raises(AuthenticationError) as unauth,
        ):
            bad.result_types()
        assert (
            unauth.value.status == 401
            and unauth.value.body["message"] == "API key missing or invalid"
        )
        assert unauth.value.request_id
        with live.client(max_retries=0) as client:
            with pytest.raises(PermissionDeniedError) as denied:
                client.commerces.sync([{"external_id": "X", "name": "x"}])
            assert denied.value.status == 403
            with pytest.raises(NotFoundError):
                client.results.submit(
                    activity_id="00000000-0000-4000-8000-000000000000",
                    commerce_external_id=world.commerce_external_id, status="EFFECTIVE",
                    result="SALE_COMPLETED",
                )  # fmt: skip
            with pytest.raises(ValidationError) as invalid:
                client.results.submit(
                    activity_id=task_id, commerce_external_id=world.commerce_external_id,
                    status="EFFECTIVE", result="NOPE",
                )  # fmt: skip
            assert invalid.value.details[0]["field"] == "task_result.result"
            assert "SALE_COMPLETED" in invalid.value.details[0]["message"]
            first = client.results.submit(
                activity_id=task_id, commerce_external_id=world.commerce_external_id,
                status="EFFECTIVE", result="SALE_COMPLETED",
            )  # fmt: skip
            with pytest.raises(ConflictError) as conflict:
                client.results.submit(
                    activity_id=task_id, commerce_external_id=world.commerce_external_id,
                    status="NOT_EFFECTIVE", result="NOT_INTERESTED",
                )  # fmt: skip
            assert conflict.value.result_id == first.id and conflict.value.status == 409
            assert conflict.value.request_id and conflict.value.request_id in str(conflict.value)

    def test_credentials_from_the_environment(
        self, live: Live, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("RETEN_BASE_URL", raising=False)
        monkeypatch.delenv("RETEN_API_KEY", raising=False)
        with pytest.raises(RetenError, match="RETEN_BASE_URL"):
            Reten()
        monkeypatch.setenv("RETEN_BASE_URL", live.base_url)
        with pytest.raises(RetenError, match="RETEN_API_KEY"):
            Reten()
        monkeypatch.setenv("RETEN_API_KEY", live.api_key)
        with Reten() as client:
            assert client.result_types()

    def test_naive_datetimes_are_refused_before_sending(self, live: Live) -> None:
        from datetime import datetime

        with live.client() as client, pytest.raises(ValueError, match="timezone-aware"):
            client.tasks.list(updated_since=datetime(2026, 1, 1))


class TestLogging:
    def test_the_key_never_appears(
        self, live: Live, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        proxy.plan("GET", TASKS, Fault(status=503))
        world = live.world(1)
        with Reten(proxy.url, live.api_key, **FAST) as client:
            client.tasks.list(per_page=1)
            client.results.submit(
                activity_id=world.task_ids[0], commerce_external_id=world.commerce_external_id,
                status="EFFECTIVE", result="SALE_COMPLETED",
            )  # fmt: skip
        with (
            Reten(proxy.url, live.api_key[:-4] + "beef", **FAST) as wrong,
            pytest.raises(AuthenticationError) as caught,
        ):
            wrong.result_types()
        logged = "\n".join(
            f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
        )
        assert (
            "reten.client" in logged
            and "POST /api/integration/activity-results/tasks -> 201" in logged
        )
        for secret in (live.api_key, live.api_key[7:], live.api_key[:-4] + "beef"):
            assert secret not in logged
            assert secret not in str(caught.value) and secret not in repr(caught.value.body)


class TestManagementRetries:
    def test_activity_create_retried_after_commit_returns_the_one_activity(
        self, live: Live, proxy: FaultProxy
    ) -> None:
        world = live.world(0)
        proxy.plan("POST", "/api/activities", Fault(reset_after_forward=True))
        key = f"retry-{world.commerce_id}"
        with Reten(proxy.url, live.admin_key, **FAST) as admin:
            activity = admin.activities.create(
                type="TASK", reason="retention", channel="CALLCENTER", commerce_id=world.commerce_id,
                assigned_route_id=world.route_id, assigned_operator_id=world.operator_id,
                idempotency_key=key, scheduled_at="2030-02-01T09:00:00Z",
            )  # fmt: skip
            assert activity.idempotency_key == key and activity.status == "READY"
            assert activity.task_details is not None and activity.model_extra == {}
            posts = proxy.requests("POST", "/api/activities")
            assert [p.upstream_status for p in posts] == [201, 409]
            listed = admin.request("GET", "/api/activities", params={"idempotency_key": key})
            assert [a["id"] for a in listed["data"]] == [activity.id]
            # Without a retry, the duplicate is the caller's to see.
            with pytest.raises(ConflictError) as caught:
                admin.activities.create(
                    type="TASK", reason="retention", channel="CALLCENTER",
                    commerce_id=world.commerce_id, assigned_route_id=world.route_id,
                    assigned_operator_id=world.operator_id, idempotency_key=key,
                    scheduled_at="2030-02-01T09:00:00Z",
                )  # fmt: skip
            assert caught.value.activity_id == activity.id

    async def test_async_sync_and_batch_and_changes(self, live: Live, proxy: FaultProxy) -> None:
        world = live.world(2)
        proxy.plan("POST", "/api/commerces/sync", Fault(status=503))
        async with AsyncReten(proxy.url, live.admin_key, **FAST) as admin:
            synced = await admin.commerces.sync(
                [{"external_id": world.commerce_external_id, "name": "Renamed"}]
            )
            assert (synced.created, synced.updated, synced.total) == (0, 1, 1)
            batch = await admin.activities.create_batch([
                {"type": "TASK", "reason": "retention", "channel": "SALESMAN",
                 "commerce_id": world.commerce_id, "assigned_route_id": world.route_id,
                 "assigned_operator_id": world.operator_id, "idempotency_key": f"{world.commerce_external_id[2:]}-0",
                 "scheduled_at": "2030-01-01T09:00:00Z"},
                {"type": "TASK", "reason": "retention", "channel": "NOPE"},
            ])  # fmt: skip
            assert (batch.created, batch.duplicates, batch.errors) == (0, 1, 1)
            assert batch.results[1].status == "ERROR" and batch.results[1].error
            changes = await admin.tasks.changes(external_commerce_id=world.commerce_external_id)
            assert sorted(t.id for t in changes.tasks) == sorted(world.task_ids)
            assert {t.commerce_name for t in changes.tasks} == {"Renamed"}
        assert len(proxy.requests("POST", "/api/commerces/sync")) == 2
