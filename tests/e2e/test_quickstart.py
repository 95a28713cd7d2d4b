"""The integrator quickstart, end to end, against the real server process (`reten serve --demo`)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

RETEN = [sys.executable, "-m", "reten.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(RETEN_DATABASE_URL=database_url, RETEN_LOG_LEVEL="WARNING")
    return env


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str]]:
    """Start `reten serve --demo` on a free port; yield (base URL, API key it printed)."""
    # A database of its own, so the demo is seeded fresh: a file for SQLite, a schema-less
    # copy name for PostgreSQL.
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
        if database_url.startswith("sqlite")
        else database_url
    )
    port = _free_port()
    log = (tmp_path / "server.out").open("w+")
    proc = subprocess.Popen(
        [*RETEN, "serve", "--demo", "--port", str(port)],
        env=_env(url), stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        log.seek(0)
        output = log.read()
        assert proc.poll() is None, f"server exited:\n{output}"
        key = re.search(r"API key\s+(rtn_sk_[0-9a-f]{56})", output)
        assert key, f"no API key in the demo summary:\n{output}"
        assert f"base URL        http://localhost:{port}" in output
        yield base, key.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class TestQuickstart:
    def test_the_four_steps(self, server: tuple[str, str]) -> None:
        base, key = server
        headers = {"x-api-key": key}
        with httpx.Client(base_url=base, timeout=10) as http:
            # Step 2: verify the key.
            types = http.get("/api/integration/task-result-type-configs", headers=headers)
            assert types.status_code == 200
            assert [t["code"] for t in types.json()] == [
                "SALE_COMPLETED",
                "NOT_INTERESTED",
                "RESCHEDULE",
                "NO_CONTACT",
            ]
            assert (
                http.get(
                    "/api/integration/task-result-type-configs", headers={"x-api-key": "rtn_sk_bad"}
                ).status_code
                == 401
            )

            # Step 3: list pending tasks.
            listed = http.get(
                "/api/integration/activities/tasks",
                params={"status": "PENDING", "per_page": 5},
                headers=headers,
            )
            assert listed.status_code == 200
            page = listed.json()
            assert page["meta"]["total"] >= 25 and len(page["data"]) == 5
            task = page["data"][0]
            assert task["status"] == "PENDING" and task["commerceName"] and task["id"]

            # Step 4: submit the result.
            body = {
                "activity_id": task["id"],
                "commerce_external_id": task["commerceExternalId"],
                "occurred_at": datetime.now(UTC).isoformat(),
                "status": "EFFECTIVE",
                "task_result": {"result": "SALE_COMPLETED", "comment": "Customer accepted renewal offer",
                                "operator_external_id": task["operatorExternalId"]},
            }  # fmt: skip
            created = http.post(
                "/api/integration/activity-results/tasks", json=body, headers=headers
            )
            assert created.status_code == 201, created.text
            assert created.json()["id"] and created.json()["activityStatus"] == "COMPLETED"

            after = http.get(
                "/api/integration/activities/tasks",
                params={"status": "PENDING", "per_page": 5},
                headers=headers,
            )
            assert after.json()["meta"]["total"] == page["meta"]["total"] - 1


class TestDemoCommand:
    def test_json_output_and_idempotent_reseed(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
        runs = []
        for _ in range(2):
            done = subprocess.run(
                [*RETEN, "demo", "--json"],
                env=_env(url),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            runs.append(json.loads(done.stdout))  # exactly one JSON object on stdout
        first, second = runs
        assert set(first) == {
            "tenant_id",
            "tenant_slug",
            "admin_email",
            "admin_password",
            "api_key",
            "base_url",
        }
        assert first["tenant_id"] == second["tenant_id"] and first["tenant_slug"] == "demo"
        assert (
            first["api_key"] != second["api_key"]
            and first["admin_password"] != second["admin_password"]
        )
        count = subprocess.run(
            [sys.executable, "-c", (
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                "print(c.execute('select count(*) from activities').fetchone()[0],"
                " c.execute('select count(*) from commerces').fetchone()[0])"
            ), str(tmp_path / "demo.db")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        activities, commerces = map(int, count.stdout.split())
        assert activities == 50 and commerces >= 20

    def test_refuses_to_run_in_production(self, tmp_path: Path) -> None:
        env = _env(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}") | {"RETEN_ENV": "production"}
        done = subprocess.run(
            [*RETEN, "demo", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0 and done.stdout == ""
        assert "production" in done.stderr


class TestAdminCommands:
    def test_tenant_then_api_key_that_works(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        env = _env(url)
        made = subprocess.run(
            [*RETEN, "tenants", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.test",
             "--admin-password", "s3cret-pass"], env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        key = subprocess.run(
            [*RETEN, "api-keys", "create", "--tenant", "acme", "--name", "YOM", "--permission", "view_activities",
             "--permission", "SUBMIT_ACTIVITY_RESULT", "--database-url", url],
            env=_env("sqlite+aiosqlite:////nonexistent/ignored.db"), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert key.returncode == 0, key.stderr
        assert re.fullmatch(r"rtn_sk_[0-9a-f]{56}\n", key.stdout)
        bad = subprocess.run(
            [*RETEN, "api-keys", "create", "--tenant", "acme", "--name", "x", "--permission", "NOPE"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bad.returncode != 0 and bad.stdout == "" and "NOPE" in bad.stderr
