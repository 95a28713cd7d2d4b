"""The CLIENT_HOOK resolver (docs/resolution.md): the 13.7 hook settings and the real call, made
over loopback HTTP to a small standard-library server running in a thread."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from reten.activity_config.models import ResolverType
from reten.activity_config.schemas import hook_problems, hook_url_problem
from reten.commerces.models import Commerce
from reten.config import Environment
from reten.kit.db import Database
from reten.resolution import service as resolution
from tests.activity_config.test_attribute_config import POLICIES, fields, key_ids
from tests.factories import Factory
from tests.resolution.support import Caller, admin, attributes_of, new_activity, request
from tests.resolution.test_retry_engine import run

VALUE = {"promotions": [{"code": "SUMMER", "discount": 10}]}


class Receiver:
    """What the hook server was sent: (path, content type, parsed body) per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []

    def add(self, path: str, content_type: str | None, body: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append((path, content_type, body))

    def for_activity(self, activity_id: uuid.UUID) -> list[tuple[str, str | None, dict[str, Any]]]:
        with self.lock:
            return [r for r in self.requests if r[2].get("activityId") == str(activity_id)]


class HookServer:
    def __init__(self, port: int, receiver: Receiver) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.receiver = receiver

    def url(self, path: str) -> str:
        return self.base + path


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            receiver.add(self.path, self.headers.get("Content-Type"), json.loads(raw))
            if self.path == "/ok":
                self._answer(200, json.dumps({"value": VALUE}).encode(), "application/json")
            elif self.path == "/null":
                self._answer(200, b'{"value": null, "extra": 1}', "application/json")
            elif self.path == "/error":
                self._answer(500, b'{"value": 1}', "application/json")
            elif self.path == "/slow":
                time.sleep(0.5)
                self._answer(200, b'{"value": "late"}', "application/json")
            elif self.path == "/text":
                self._answer(200, b"hello, not json", "text/plain")
            elif self.path == "/no-value":
                self._answer(200, b'{"result": 1}', "application/json")
            elif self.path == "/list":
                self._answer(200, b'[{"value": 1}]', "application/json")
            elif self.path == "/big":
                big = json.dumps({"value": "x" * (70 * 1024)}).encode()
                self._answer(200, big, "application/json")
            elif self.path == "/redirect":
                self._answer(302, b"", "text/plain", Location="/ok")
            else:
                self._answer(404, b"", "text/plain")

    return Handler


@pytest.fixture(scope="module")
def hook_server() -> Iterator[HookServer]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HookServer(server.server_address[1], receiver)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def hook_policy(
    caller: Caller,
    url: str | None,
    *,
    strategy: str = "UPFRONT",
    resolver: str = "CLIENT_HOOK",
    timeout_ms: int | None = None,
    key: str = "promotions",
) -> httpx.Response:
    ids = await key_ids(caller)
    body: dict[str, Any] = {
        "attribute_key_id": ids[key],
        "strategy": strategy,
        "resolver_type": resolver,
    }
    if url is not None:
        body["hook_url"] = url
    if timeout_ms is not None:
        body["hook_timeout_ms"] = timeout_ms
    return await caller.post(POLICIES, body)


async def hooked(client: httpx.AsyncClient, factory: Factory, url: str, **policy: Any) -> Caller:
    caller = await admin(client, factory)
    response = await hook_policy(caller, url, **policy)
    assert response.status_code == 200, response.text
    return caller


class TestTheCall:
    async def test_a_2xx_value_is_stored_and_the_request_carries_the_context(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/ok"))
        world = caller.world
        activity_id, detail = await new_activity(factory, world, request(keys=["promotions"]))
        assert detail is None
        record = (await attributes_of(db, world, activity_id))["promotions"]
        assert record.resolution_status == "RESOLVED"
        assert record.resolver_type == "CLIENT_HOOK"
        assert record.value == VALUE
        assert record.error_message is None and record.resolved_at is not None
        sent = hook_server.receiver.for_activity(activity_id)
        assert len(sent) == 1
        path, content_type, body = sent[0]
        assert path == "/ok"
        assert content_type == "application/json"
        async with db.sessionmaker() as session:
            commerce = await session.get(Commerce, world.commerce_ids[0])
            assert commerce is not None
        assert body == {
            "activityId": str(activity_id),
            "tenantId": str(world.tenant_id),
            "attributeKey": "promotions",
            "channel": "SALESMAN",
            "type": "TASK",
            "commerce": {
                "id": str(commerce.id),
                "externalId": commerce.external_id,
                "name": commerce.name,
            },
        }

    async def test_a_null_value_is_a_value(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/null"))
        activity_id, detail = await new_activity(
            factory, caller.world, request(keys=["promotions"])
        )
        assert detail is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "RESOLVED"
        assert record.value is None

    @pytest.mark.parametrize(
        ("path", "timeout_ms", "message"),
        [
            ("/error", None, "CLIENT_HOOK answered HTTP 500"),
            ("/slow", 200, "CLIENT_HOOK timed out after 200 ms"),
            ("/text", None, 'CLIENT_HOOK answer is not a JSON object with "value"'),
            ("/no-value", None, 'CLIENT_HOOK answer is not a JSON object with "value"'),
            ("/list", None, 'CLIENT_HOOK answer is not a JSON object with "value"'),
            ("/redirect", None, "CLIENT_HOOK answered HTTP 302"),
            ("/missing", None, "CLIENT_HOOK answered HTTP 404"),
            ("/big", None, "CLIENT_HOOK answer is larger than 65536 bytes"),
        ],
    )
    async def test_a_bad_answer_fails_the_attribute_and_leaves_the_activity_unresolved(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        db: Database,
        hook_server: HookServer,
        path: str,
        timeout_ms: int | None,
        message: str,
    ) -> None:
        caller = await hooked(client, factory, hook_server.url(path), timeout_ms=timeout_ms)
        activity_id, detail = await new_activity(
            factory, caller.world, request(keys=["promotions"])
        )
        assert detail == f"Could not resolve attribute promotions ({message})"
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "FAILED"
        assert record.error_message == message
        assert record.value is None and record.resolved_at is None
        # A redirect is not followed: only the first request reached the server.
        assert [p for p, _, _ in hook_server.receiver.for_activity(activity_id)] == [path]

    async def test_an_unreachable_endpoint_names_the_error_type(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        caller = await hooked(client, factory, f"http://127.0.0.1:{_closed_port()}/hook")
        activity_id, detail = await new_activity(
            factory, caller.world, request(keys=["promotions"])
        )
        message = "CLIENT_HOOK request failed: ConnectError"
        assert detail == f"Could not resolve attribute promotions ({message})"
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.error_message == message

    async def test_a_failure_with_a_fallback_settles_on_the_fallback(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/error"))
        activity_id, detail = await new_activity(
            factory,
            caller.world,
            request(attributes=[{"key": "promotions", "fallback": {"promotions": []}}]),
        )
        assert detail is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "FALLBACK"
        assert record.value == {"promotions": []}
        assert record.error_message == "CLIENT_HOOK answered HTTP 500"

    async def test_a_caller_value_wins_and_the_hook_is_not_called(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/ok"))
        activity_id, detail = await new_activity(
            factory, caller.world, request(attributes=[{"key": "promotions", "value": 7}])
        )
        assert detail is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.value == 7 and record.resolver_type == "CALLER_PROVIDED"
        assert hook_server.receiver.for_activity(activity_id) == []


class TestRetryAndDispatch:
    async def test_a_retry_calls_the_policys_current_endpoint(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/error"))
        activity_id, detail = await new_activity(
            factory, caller.world, request(keys=["promotions"])
        )
        assert detail == "Could not resolve attribute promotions (CLIENT_HOOK answered HTTP 500)"
        assert (await hook_policy(caller, hook_server.url("/ok"))).status_code == 200
        assert await run(db, activity_id) is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "RESOLVED" and record.value == VALUE
        paths = [p for p, _, _ in hook_server.receiver.for_activity(activity_id)]
        assert paths == ["/error", "/ok"]

    async def test_a_policy_without_an_endpoint_any_more_fails_the_retry(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/error"))
        activity_id, _ = await new_activity(factory, caller.world, request(keys=["promotions"]))
        response = await hook_policy(caller, None, resolver="INTERNAL_SERVICE")
        assert response.status_code == 200, response.text
        assert response.json()["hookUrl"] is None and response.json()["hookTimeoutMs"] is None
        assert await run(db, activity_id) == (
            "Could not resolve attribute promotions (CLIENT_HOOK has no endpoint configured)"
        )

    async def test_an_on_dispatch_hook_runs_in_resolve_for_dispatch(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(client, factory, hook_server.url("/ok"), strategy="ON_DISPATCH")
        activity_id, detail = await new_activity(
            factory, caller.world, request(keys=["promotions"])
        )
        assert detail is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "PENDING"
        assert hook_server.receiver.for_activity(activity_id) == []
        assert await run(db, activity_id, resolution.resolve_for_dispatch) is None
        record = (await attributes_of(db, caller.world, activity_id))["promotions"]
        assert record.resolution_status == "RESOLVED" and record.value == VALUE
        assert len(hook_server.receiver.for_activity(activity_id)) == 1

    async def test_an_on_dispatch_failure_is_reported(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, hook_server: HookServer
    ) -> None:
        caller = await hooked(
            client, factory, hook_server.url("/slow"), strategy="ON_DISPATCH", timeout_ms=200
        )
        activity_id, _ = await new_activity(factory, caller.world, request(keys=["promotions"]))
        assert await run(db, activity_id, resolution.resolve_for_dispatch) == (
            "Could not resolve attribute promotions (CLIENT_HOOK timed out after 200 ms)"
        )


class TestPolicyHookSettings:
    async def test_the_timeout_defaults_to_3000_and_may_be_set(
        self, client: httpx.AsyncClient, factory: Factory, hook_server: HookServer
    ) -> None:
        caller = await admin(client, factory)
        default = await hook_policy(caller, "https://hooks.example.test/a")
        assert default.status_code == 200, default.text
        assert default.json()["hookUrl"] == "https://hooks.example.test/a"
        assert default.json()["hookTimeoutMs"] == 3000
        ids = await key_ids(caller)
        camel = await caller.post(
            POLICIES,
            {"attributeKeyId": ids["promotions"], "strategy": "UPFRONT",
             "resolverType": "CLIENT_HOOK", "hookUrl": hook_server.url("/ok"),
             "hookTimeoutMs": 150},
        )  # fmt: skip
        assert camel.status_code == 200, camel.text
        assert camel.json()["hookUrl"] == hook_server.url("/ok")  # http:// in development
        assert camel.json()["hookTimeoutMs"] == 150
        listed = {p["attributeKey"]["key"]: p for p in (await caller.get(POLICIES)).json()}
        assert listed["promotions"]["hookTimeoutMs"] == 150

    async def test_a_client_hook_policy_needs_a_hook_url(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        response = await hook_policy(caller, None)
        assert response.status_code == 400
        assert fields(response) == ["hook_url"]
        ids = await key_ids(caller)
        null = await caller.post(
            POLICIES,
            {"attributeKeyId": ids["promotions"], "strategy": "UPFRONT",
             "resolverType": "CLIENT_HOOK", "hookUrl": None},
        )  # fmt: skip
        assert null.status_code == 400
        assert fields(null) == ["hookUrl"]

    async def test_hook_settings_are_refused_for_other_resolvers(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        resolver = "INTERNAL_SERVICE"
        caller = await admin(client, factory)
        with_url = await hook_policy(caller, "https://hooks.example.test/a", resolver=resolver)
        assert with_url.status_code == 400
        assert fields(with_url) == ["hook_url"]
        with_timeout = await hook_policy(caller, None, resolver=resolver, timeout_ms=500)
        assert with_timeout.status_code == 400
        assert fields(with_timeout) == ["hook_timeout_ms"]
        caller_provided = await hook_policy(
            caller,
            "https://hooks.example.test/a",
            strategy="CALLER_PROVIDED",
            resolver="CALLER_PROVIDED",
        )
        assert caller_provided.status_code == 400
        assert fields(caller_provided) == ["hook_url"]
        # null is the same as absent
        ids = await key_ids(caller)
        null = await caller.post(
            POLICIES,
            {"attribute_key_id": ids["promotions"], "strategy": "UPFRONT",
             "resolver_type": resolver, "hook_url": None, "hook_timeout_ms": None},
        )  # fmt: skip
        assert null.status_code == 200, null.text

    @pytest.mark.parametrize(
        ("url", "timeout_ms", "field"),
        [
            ("ftp://hooks.example.test/a", None, "hook_url"),
            ("/relative/path", None, "hook_url"),
            ("https://", None, "hook_url"),
            ("https://user:secret@hooks.example.test/a", None, "hook_url"),
            ("https://hooks.example.test/" + "a" * 2000, None, "hook_url"),
            ("", None, "hook_url"),
            ("https://hooks.example.test/a", 99, "hook_timeout_ms"),
            ("https://hooks.example.test/a", 10_001, "hook_timeout_ms"),
        ],
    )
    async def test_bad_hook_settings_are_400(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        url: str,
        timeout_ms: int | None,
        field: str,
    ) -> None:
        caller = await admin(client, factory)
        response = await hook_policy(caller, url, timeout_ms=timeout_ms)
        assert response.status_code == 400, response.text
        assert fields(response) == [field]

    async def test_bounds_of_the_timeout_are_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        caller = await admin(client, factory)
        for timeout_ms in (100, 10_000):
            response = await hook_policy(caller, "https://h.example.test/", timeout_ms=timeout_ms)
            assert response.status_code == 200, response.text
            assert response.json()["hookTimeoutMs"] == timeout_ms


class TestHookUrlRules:
    @pytest.mark.parametrize("environment", [Environment.STAGING, Environment.PRODUCTION])
    def test_outside_development_only_https_is_accepted(self, environment: Environment) -> None:
        assert hook_url_problem("https://hooks.example.test/a", environment) is None
        assert hook_url_problem("http://127.0.0.1:8080/a", environment) == (
            "must be an absolute https:// URL"
        )
        assert hook_problems(
            ResolverType.CLIENT_HOOK, "http://hooks.example.test/a", None, environment
        ) == [(("hook_url",), "must be an absolute https:// URL")]

    def test_in_development_http_is_accepted_too(self) -> None:
        dev = Environment.DEVELOPMENT
        assert hook_url_problem("http://127.0.0.1:8080/a", dev) is None
        assert hook_url_problem("HTTPS://hooks.example.test", dev) is None
        assert hook_url_problem("ftp://x.test/", dev) == (
            "must be an absolute http:// or https:// URL"
        )

    @pytest.mark.parametrize("environment", list(Environment))
    def test_userinfo_and_malformed_urls_are_refused_everywhere(
        self, environment: Environment
    ) -> None:
        for url in (
            "https://user@hooks.example.test/",
            "https://user:pw@hooks.example.test/",
            "https://hooks.example.test:notaport/",
            "https://hooks.example.test/a b",
            "hooks.example.test/a",
        ):
            assert hook_url_problem(url, environment) is not None, url
