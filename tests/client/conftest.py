"""A real `reten serve` process for the SDK and CLI tests, one per test worker.

The server runs on a free loopback port over its own database: a temporary SQLite file, or
with RETEN_TEST_DATABASE=postgres a database named after RETEN_TEST_PG_PREFIX. It is seeded
with the demo tenant; tests isolate themselves by creating their own commerces, operators,
routes and tasks (unique external ids) and filtering on them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reten.client import Reten
from tests.conftest import (
    BACKEND,
    PG_URL,
    _drop_pg_database,
    _recreate_pg_database,
    _worker,
    run_off_loop,
)

RETEN = [sys.executable, "-m", "reten.cli.main"]
ADMIN_PERMISSIONS = [
    "VIEW_ACTIVITIES", "SUBMIT_ACTIVITY_RESULT", "SYNC_COMMERCES", "MANAGE_COMMERCES",
    "SYNC_OPERATORS", "MANAGE_OPERATORS", "MANAGE_ROUTES", "CREATE_ACTIVITY",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(
        RETEN_DATABASE_URL=database_url,
        RETEN_LOG_LEVEL="WARNING",
        RETEN_ACCESS_LOG="false",
        RETEN_RUN_DISPATCHER="false",
        RETEN_RATE_LIMIT_PER_MINUTE="100000",
        RETEN_SECRET_KEY="sdk-test-secret-key-with-enough-length-0123",
    )
    return env


@dataclass
class World:
    """One test's own commerce, operator and route, and its tasks."""

    commerce_external_id: str
    commerce_id: str
    operator_external_id: str
    operator_id: str
    route_id: str
    task_ids: list[str]


@dataclass
class Live:
    base_url: str
    api_key: str  # VIEW_ACTIVITIES + SUBMIT_ACTIVITY_RESULT, as the demo prints
    admin_key: str  # the management permissions an integrator's automation needs
    log: Path

    def client(self, **options: object) -> Reten:
        return Reten(self.base_url, self.api_key, **options)  # type: ignore[arg-type]

    def admin(self) -> Reten:
        return Reten(self.base_url, self.admin_key, max_retries=0)

    def world(self, tasks: int, *, same_time: bool = False, suffix: str = "") -> World:
        tag = uuid.uuid4().hex[:10] + suffix
        with self.admin() as admin:
            admin.commerces.sync([{"external_id": f"C-{tag}", "name": f"Store {tag}"}])
            admin.operators.sync(
                [{"type": "SALESMAN", "external_id": f"O-{tag}", "name": "Ana Rojas"}]
            )
            admin.routes.sync([{
                "external_id": f"R-{tag}", "name": f"Route {tag}",
                "operators": [{"type": "SALESMAN", "external_id": f"O-{tag}"}],
                "commerce_external_ids": [f"C-{tag}"],
            }])  # fmt: skip
            commerce = admin.request("GET", "/api/commerces", params={"external_id": f"C-{tag}"})
            operator = admin.request("GET", "/api/operators", params={"external_id": f"O-{tag}"})
            route = admin.request("GET", "/api/routes", params={"external_id": f"R-{tag}"})
            ids = [commerce["data"][0]["id"], operator["data"][0]["id"], route["data"][0]["id"]]
            items = [
                {
                    "type": "TASK", "reason": "retention", "channel": "SALESMAN",
                    "commerce_id": ids[0], "assigned_operator_id": ids[1], "assigned_route_id": ids[2],
                    "idempotency_key": f"{tag}-{i}",
                    "scheduled_at": "2030-01-01T09:00:00Z" if same_time
                    else f"2030-01-01T09:{i // 60:02d}:{i % 60:02d}Z",
                }
                for i in range(tasks)
            ]  # fmt: skip
            created = admin.activities.create_batch(items) if items else None
        task_ids = [r.activity_id for r in created.results if r.activity_id] if created else []
        assert len(task_ids) == tasks
        return World(f"C-{tag}", ids[0], f"O-{tag}", ids[1], ids[2], task_ids)  # type: ignore[arg-type]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*RETEN, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    pg_name = None
    if BACKEND == "postgres":
        pg_name = f"{os.environ.get('RETEN_TEST_PG_PREFIX', 'reten_test')}_live_{_worker()}"
        url = run_off_loop(_recreate_pg_database(pg_name))
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'live.db'}"
    env = server_env(url)
    demo = json.loads(_cli(env, "demo", "--json"))
    admin_key = _cli(
        env, "api-keys", "create", "--tenant", demo["tenant_slug"], "--name", "sdk tests",
        *[arg for p in ADMIN_PERMISSIONS for arg in ("--permission", p)],
    ).strip()  # fmt: skip
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*RETEN, "serve", "--port", str(port)],
            env=env | {"RETEN_MIGRATE_ON_START": "false"},  # `reten demo` migrated it
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded machine a cold start takes a while; a broken one fails here.
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, f"server exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield Live(base, demo["api_key"], admin_key, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if pg_name is not None:
            run_off_loop(_drop_pg_database(pg_name))


__all__ = ["PG_URL", "Live", "World", "free_port", "live", "server_env"]
