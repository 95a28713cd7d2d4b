"""GET /metrics (Prometheus text format) and /api/ready: the series move with what the server
does, the endpoint is guarded as configured, and readiness times each dependency."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reten.app import create_app
from reten.auth.permissions import Permission
from reten.config import Environment, Settings
from reten.kit.db import Database
from tests.conftest import BACKEND
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import Factory, result_body
from tests.ops.procs import Procs, free_port

RESULTS = "/api/integration/activity-results/tasks"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when absent: a series not yet created)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@asynccontextmanager
async def other_app(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


class TestCounters:
    async def test_http_requests_are_counted_and_timed_by_route_template(
        self, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world, [Permission.VIEW_ACTIVITIES])
        activity_id = await factory.task(world)
        labels = {"route": "/api/activities/{id}", "method": "GET", "status": "200"}
        before = await scrape(client)
        for _ in range(3):
            response = await client.get(
                f"/api/activities/{activity_id}", headers={"x-api-key": key}
            )
            assert response.status_code == 200
        missing = await client.get(f"/api/activities/{uuid.uuid4()}", headers={"x-api-key": key})
        assert missing.status_code == 404
        await client.get("/no/such/path")
        after = await scrape(client)
        delta = sample(after, "reten_http_requests_total", **labels) - sample(
            before, "reten_http_requests_total", **labels
        )
        assert delta == 3
        timed = sample(after, "reten_http_request_duration_seconds_count", **labels) - sample(
            before, "reten_http_request_duration_seconds_count", **labels
        )
        assert timed == 3
        assert sample(after, "reten_http_request_duration_seconds_sum", **labels) > 0
        assert sample(
            after, "reten_http_requests_total", route="/api/activities/{id}", status="404"
        ) > sample(before, "reten_http_requests_total", route="/api/activities/{id}", status="404")
        # The raw path of a 404 never becomes a label.
        assert "/no/such/path" not in after
        assert sample(after, "reten_http_requests_total", route="<unmatched>") >= 1

    async def test_api_key_authentications_and_results_by_outcome(
        self, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        activity_id = await factory.task(world)
        before = await scrape(client)
        first = await client.post(
            RESULTS, headers={"x-api-key": key}, json=result_body(world, activity_id)
        )
        second = await client.post(
            RESULTS, headers={"x-api-key": key}, json=result_body(world, activity_id)
        )
        bad_key = await client.post(
            RESULTS, headers={"x-api-key": "rtn_sk_" + "0" * 56}, json=result_body(world, None)
        )
        assert (first.status_code, second.status_code, bad_key.status_code) == (201, 409, 401)
        after = await scrape(client)

        def moved(name: str, **labels: str) -> float:
            return sample(after, name, **labels) - sample(before, name, **labels)

        assert moved("reten_api_key_authentications_total", outcome="valid") == 2
        assert moved("reten_api_key_authentications_total", outcome="invalid") == 1
        assert moved("reten_results_submitted_total", outcome="created") == 1
        assert moved("reten_results_submitted_total", outcome="conflict") == 1

    async def test_deliveries_deactivations_backlog_and_pool(
        self,
        app: Any,
        db: Database,
        factory: Factory,
        client: httpx.AsyncClient,
        receiver: Receiver,
    ) -> None:
        t, _ = await support.setup(factory, client, receiver)
        labels = {"provider": "WEBHOOK", "channel": "SALESMAN"}
        before = await scrape(client)
        waiting = [await factory.task(t.world) for _ in range(3)]
        queued = await scrape(client)
        assert sample(queued, "reten_dispatch_backlog") >= sample(
            before, "reten_dispatch_backlog"
        ) + len(waiting)
        assert sample(queued, "reten_dispatch_backlog_oldest_age_seconds") > 0
        assert sample(queued, "reten_metrics_database_up") == 1

        await support.dispatcher(app, t).drain()
        receiver.answer(Reply(410))
        await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        async with db.engine.connect():
            after = await scrape(client)
            held = sample(after, "reten_db_pool_connections_in_use")

        def moved(name: str, **labels: str) -> float:
            return sample(after, name, **labels) - sample(before, name, **labels)

        assert moved("reten_dispatch_deliveries_total", outcome="SUCCESS", **labels) == 3
        assert moved("reten_dispatch_deliveries_total", outcome="FAILURE", **labels) == 1
        assert (
            moved("reten_dispatch_delivery_duration_seconds_count", outcome="SUCCESS", **labels)
            == 3
        )
        assert moved("reten_dispatch_config_deactivations_total", reason="HTTP_410") == 1
        # This test holds one connection; the scrape itself held another while it read.
        assert held >= 1
        assert sample(await scrape(client), "reten_db_pool_connections_in_use") < held


class TestAccess:
    async def test_a_token_is_required_when_one_is_set(self, settings: Settings) -> None:
        async with other_app(settings, metrics_token="s3cret-metrics-token") as c:
            missing = await c.get("/metrics")
            wrong = await c.get("/metrics", headers={"authorization": "Bearer nope"})
            right = await c.get(
                "/metrics", headers={"authorization": "Bearer s3cret-metrics-token"}
            )
        assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
        assert missing.json()["statusCode"] == 401
        assert "reten_http_requests_total" in right.text

    async def test_disabled_metrics_are_not_served(self, settings: Settings) -> None:
        async with other_app(settings, metrics_enabled=False) as c:
            assert (await c.get("/metrics")).status_code == 404

    @pytest.mark.parametrize(
        ("changes", "status"),
        [
            ({}, 404),
            ({"metrics_token": "t" * 24}, 401),
            ({"metrics_enabled": True}, 200),
        ],
    )
    async def test_production_serves_them_only_when_asked(
        self, settings: Settings, changes: dict[str, Any], status: int
    ) -> None:
        production = {
            "env": Environment.PRODUCTION,
            # The test process's logging stays as the rest of the suite configured it.
            "log_json": False,
            "allow_sqlite_in_production": True,
            "secret_key": "p" * 40,
            **changes,
        }
        async with other_app(settings, **production) as c:
            assert (await c.get("/metrics")).status_code == status


class TestReady:
    async def test_ready_reports_the_database_with_its_latency(
        self, client: httpx.AsyncClient
    ) -> None:
        body = (await client.get("/api/ready")).json()
        assert body["status"] == "ok" and body["database"] == "ok"
        assert body["checks"]["database"]["latencyMs"] >= 0
        assert "redis" not in body["checks"]

    async def test_ready_reports_redis_when_configured(self, settings: Settings) -> None:
        async with other_app(settings, redis_url="redis://127.0.0.1:6379/0") as c:
            response = await c.get("/api/ready")
        assert response.status_code == 200, response.text
        check = response.json()["checks"]["redis"]
        assert check["status"] == "ok" and check["latencyMs"] >= 0

    async def test_an_unreachable_redis_makes_it_not_ready(self, settings: Settings) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        async with other_app(settings, redis_url=f"redis://127.0.0.1:{closed}/0") as c:
            response = await c.get("/api/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["message"] == "Redis unavailable"
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["redis"]["status"] == "unavailable"


class TestWorkerMetrics:
    @pytest.mark.skipif(BACKEND != "postgres", reason="reten worker needs PostgreSQL")
    async def test_a_worker_serves_its_delivery_counters_on_its_metrics_port(
        self, factory: Factory, client: httpx.AsyncClient, receiver: Receiver, procs: Procs
    ) -> None:
        t, _ = await support.setup(factory, client, receiver)
        port = free_port()
        procs.start("worker", RETEN_WORKER_METRICS_PORT=str(port))
        await factory.task(t.world)
        await receiver.wait_for(1, timeout=90)
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 30
            while True:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                labels = {"provider": "WEBHOOK", "channel": "SALESMAN", "outcome": "SUCCESS"}
                if sample(text, "reten_dispatch_deliveries_total", **labels) >= 1:
                    break
                assert time.monotonic() < deadline, text[-2000:]
                await asyncio.sleep(0.1)
