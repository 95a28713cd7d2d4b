"""Retries through a fault-injecting proxy in front of the real server, errors per status family,
and logging that never shows the key."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from reten.client import (
    APIError,
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
    UnprocessableError,
    ValidationError,
)
from reten.client._calls import Call
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
        # method, path, status, duration and retry number on each attempt's line
        assert any(re.fullmatch(rf"GET {TASKS} -> 200 in \d+ ms \(retry 2\)", m) for m in messages)
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

    def test_timeout_then_connection_refused(
        self, live: Live, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="reten.client")
        proxy.plan("GET", TASKS, Fault(delay=1.0), Fault(delay=1.0))
        with (
            Reten(proxy.url, live.api_key, timeout=0.3, max_retries=1, **FAST) as client,
            pytest.raises(TimeoutError),
        ):
            client.tasks.list(per_page=1)
        assert len(proxy.requests("GET", TASKS)) == 2  # the timeout was retried once
        with (
            Reten(f"http://127.0.0.1:{free_port()}", live.api_key, max_retries=1, **FAST) as client,
            pytest.raises(ConnectionError) as caught,
        ):
            client.result_types()
        assert not isinstance(caught.value, TimeoutError)
        retries = [r.getMessage() for r in caplog.records if "retry 1 of 1" in r.getMessage()]
        assert any("ReadTimeout" in m for m in retries), retries
        assert any("ConnectError" in m for m in retries), retries

    @pytest.mark.parametrize("status", [408, 500, 502, 504])
    def test_retried_statuses(self, live: Live, proxy: FaultProxy, status: int) -> None:
        proxy.plan("GET", TASKS, Fault(status=status))
        with Reten(proxy.url, live.api_key, **FAST) as client:
            assert client.tasks.list(per_page=1).meta.limit == 1
        assert [s.upstream_status for s in proxy.requests("GET", TASKS)] == [None, 200]

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
    def test_other_4xx_are_not_retried(self, live: Live, proxy: FaultProxy, status: int) -> None:
        proxy.plan("GET", TASKS, Fault(status=status))
        with Reten(proxy.url, live.api_key, **FAST) as client, pytest.raises(APIError) as caught:
            client.tasks.list(per_page=1)
        assert caught.value.status == status and not caught.value.retried
        assert len(proxy.requests("GET", TASKS)) == 1

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

    async def test_async_with_options(self, live: Live, proxy: FaultProxy) -> None:
        proxy.plan("GET", TASKS, Fault(status=503))
        async with AsyncReten(proxy.url, live.api_key, **FAST) as client:
            strict = client.with_options(max_retries=0)
            assert strict._http is client._http  # one connection pool
            with pytest.raises(ServerError):
                await strict.tasks.list(per_page=1)
            assert (await client.tasks.list(per_page=1)).meta.limit == 1
        assert client._http.is_closed


class TestOptions:
    def test_defaults_and_an_httpx_timeout(self) -> None:
        client = Reten("http://127.0.0.1:1/", "rtn_sk_x")
        assert client.base_url == "http://127.0.0.1:1"  # a trailing slash is dropped
        assert client.timeout == httpx.Timeout(30.0) and client.max_retries == 2
        detailed = httpx.Timeout(10.0, connect=2.0)
        tuned = Reten("http://127.0.0.1:1", "rtn_sk_x", timeout=detailed, max_retries=0)
        assert tuned.timeout is detailed and tuned.max_retries == 0
        copy = client.with_options(timeout=httpx.Timeout(3.0))
        assert copy.timeout.read == 3.0 and copy._http is client._http
        with client:
            pass
        assert client._http.is_closed
        tuned.close()
        with pytest.raises(ValueError, match="max_retries"):
            Reten("http://127.0.0.1:1", "rtn_sk_x", max_retries=-1)

    def test_backoff_is_exponential_jittered_capped_and_honours_retry_after(self) -> None:
        client = Reten(
            "http://127.0.0.1:1", "rtn_sk_x", max_retries=10, initial_retry_delay=0.5,
            max_retry_delay=8.0, max_retry_after=60.0,
        )  # fmt: skip
        get = Call("GET", TASKS)
        refused = httpx.ConnectError("refused")
        for attempt, base in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
            delays = {client._retry_delay(get, attempt, None, refused) for _ in range(50)}
            assert all(d is not None and 0.75 * base <= d <= base for d in delays), (
                attempt,
                delays,
            )
            assert len(delays) > 1  # jitter: clients failed together do not return together
        request = httpx.Request("GET", "http://127.0.0.1:1" + TASKS)

        def answer(status: int, **headers: str) -> httpx.Response:
            return httpx.Response(status, headers=headers, request=request)

        assert client._retry_delay(get, 0, answer(429, **{"retry-after": "7"}), None) == 7
        assert client._retry_delay(get, 0, answer(503, **{"retry-after": "3600"}), None) == 60
        assert client._retry_delay(get, 0, answer(404), None) is None
        assert client._retry_delay(get, 10, answer(503), None) is None  # retries spent
        bare_post = Call("POST", RESULTS, body={})
        assert client._retry_delay(bare_post, 0, answer(503), None) is None
        assert client._retry_delay(bare_post, 0, None, httpx.ReadError("reset")) is None
        # A connection never made carried nothing: even a bare POST may go again.
        assert client._retry_delay(bare_post, 0, None, refused) is not None
        keyed = Call("POST", RESULTS, body={}, idempotency_key="k")
        assert client._retry_delay(keyed, 0, None, httpx.ReadError("reset")) is not None


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
        caught: list[APIError] = [unauth.value]
        with live.client(max_retries=0) as client:
            with pytest.raises(PermissionDeniedError) as denied:
                client.commerces.sync([{"external_id": "X", "name": "x"}])
            assert denied.value.status == 403
            with pytest.raises(NotFoundError) as missing:
                client.results.submit(
                    activity_id="00000000-0000-4000-8000-000000000000",
                    commerce_external_id=world.commerce_external_id, status="EFFECTIVE",
                    result="SALE_COMPLETED",
                )  # fmt: skip
            assert missing.value.status == 404
            caught += [denied.value, missing.value]
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
            # One Idempotency-Key, two different bodies: 422.
            other = live.world(1)
            submit = {
                "activity_id": other.task_ids[0], "commerce_external_id": other.commerce_external_id,
                "result": "SALE_COMPLETED", "idempotency_key": f"twice-{other.task_ids[0]}",
            }  # fmt: skip
            client.results.submit(status="PENDING", **submit)  # type: ignore[arg-type]
            with pytest.raises(UnprocessableError) as reused:
                client.results.submit(status="EFFECTIVE", **submit)  # type: ignore[arg-type]
            assert reused.value.status == 422
            caught += [invalid.value, conflict.value, reused.value]
        # Each carries its status, the standard error body and the server's request id.
        for error in caught:
            assert error.body["statusCode"] == error.status, error.body
            assert error.body["error"] and error.body["message"] == error.message
            assert error.request_id and len(error.request_id) >= 8, error
        assert len({e.request_id for e in caught}) == len(caught)

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
