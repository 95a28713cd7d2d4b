"""The integrator commands (`reten tasks`, `reten results`, `reten pull`) as processes, over HTTP
against the real server."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reten.client import Reten
from tests.client.conftest import RETEN, Live
from tests.client.proxy import Fault, FaultProxy
from tests.client.test_examples import EXAMPLES

TASKS = "/api/integration/activities/tasks"


def _env(live: Live, key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(RETEN_BASE_URL=live.base_url, RETEN_API_KEY=key or live.api_key)
    return env


def _run(
    live: Live, *args: str, key: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RETEN, *args], env=_env(live, key), capture_output=True, text=True, timeout=300,
        cwd=cwd, check=False,
    )  # fmt: skip


def _statuses(live: Live, commerce: str) -> dict[str, str]:
    with Reten(live.base_url, live.api_key) as client:
        return {
            t.id: t.status for t in client.tasks.list(external_commerce_id=commerce, per_page=100)
        }


class TestTasksAndResults:
    def test_list_json_table_submit_and_watch(self, live: Live) -> None:
        world = live.world(5)
        listed = _run(live, "tasks", "list", "--commerce", world.commerce_external_id,
                      "--per-page", "2", "--all", "--json")  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert sorted(r["id"] for r in rows) == sorted(world.task_ids)
        assert {r["commerceExternalId"] for r in rows} == {world.commerce_external_id}

        table = _run(
            live, "tasks", "list", "--commerce", world.commerce_external_id, "--per-page", "3"
        )
        assert table.returncode == 0 and "3 shown of 5" in table.stdout
        assert world.task_ids[0] in table.stdout

        submitted = _run(live, "results", "submit", world.task_ids[0], "--commerce",
                         world.commerce_external_id, "--status", "EFFECTIVE",
                         "--result", "SALE_COMPLETED", "--comment", "from the CLI")  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        body = json.loads(submitted.stdout)
        assert (
            body["activityStatus"] == "COMPLETED"
            and body["taskResult"]["comment"] == "from the CLI"
        )

        watched = _run(
            live, "tasks", "watch", "--once", "--json", "--commerce", world.commerce_external_id
        )
        assert watched.returncode == 0, watched.stderr
        lines = [json.loads(line) for line in watched.stdout.splitlines()]
        assert sorted(x["task"]["id"] for x in lines) == sorted(world.task_ids)
        assert all(x["watermark"].endswith("Z") for x in lines)
        assert "watermark " in watched.stderr

    def test_errors_are_one_line_and_never_show_the_key(self, live: Live) -> None:
        bad_key = "rtn_sk_" + "ab" * 28
        done = _run(live, "tasks", "list", key=bad_key)
        assert done.returncode == 1 and "401 API key missing or invalid" in done.stderr
        assert bad_key not in done.stderr + done.stdout
        world = live.world(1)
        invalid = _run(live, "results", "submit", world.task_ids[0], "--commerce",
                       world.commerce_external_id, "--status", "EFFECTIVE", "--result", "NOPE")  # fmt: skip
        assert invalid.returncode == 1 and "task_result.result" in invalid.stderr


class TestPull:
    def test_exec_submits_and_skips(self, live: Live) -> None:
        ours, skipped = live.world(3), live.world(2, suffix="-SKIP")
        command = f"{sys.executable} {EXAMPLES / 'exec_handler.py'}"
        for world in (ours, skipped):
            done = _run(
                live, "pull", "--exec", command, "--once", "--commerce", world.commerce_external_id
            )
            assert done.returncode == 0, done.stderr
        assert set(_statuses(live, ours.commerce_external_id).values()) == {"COMPLETED"}
        assert set(_statuses(live, skipped.commerce_external_id).values()) == {"PENDING"}
        assert "skipped (command exited with 3" in done.stderr
        with Reten(live.base_url, live.api_key) as client:
            task = client.tasks.list(external_commerce_id=ours.commerce_external_id).data[0]
        # The handler gave no operator: the task's assigned one is reported.
        assert task.result_code == "SALE_COMPLETED"

    def test_python_handler(self, live: Live) -> None:
        world = live.world(2)
        done = _run(live, "pull", "--handler", "handler:handle", "--once", "--commerce",
                    world.commerce_external_id, cwd=EXAMPLES)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("NOT_EFFECTIVE NOT_INTERESTED") == 2
        assert set(_statuses(live, world.commerce_external_id).values()) == {"COMPLETED"}

    @pytest.mark.parametrize(
        "how", ["sigterm", "ctrl-c"], ids=["SIGTERM-to-the-worker", "SIGINT-to-its-group"]
    )
    def test_a_stop_signal_finishes_the_result_in_hand_then_stops(
        self, live: Live, tmp_path: Path, how: str
    ) -> None:
        world = live.world(3)
        started = tmp_path / "started"
        slow = tmp_path / "slow.py"
        slow.write_text(
            "import json, pathlib, sys, time\n"
            "task = json.load(sys.stdin)\n"
            f"pathlib.Path({str(started)!r}).write_text(task['id'])\n"
            "time.sleep(2)\n"
            'print(json.dumps({"status": "EFFECTIVE", "result": "SALE_COMPLETED"}))\n'
        )
        proc = subprocess.Popen(
            [*RETEN, "pull", "--exec", f"{sys.executable} {slow}", "--commerce", world.commerce_external_id],
            env=_env(live), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # As in a terminal: the worker leads its own process group.
            start_new_session=how == "ctrl-c",
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not started.exists():
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the handler never started"
                time.sleep(0.05)
            in_hand = started.read_text() or started.read_text()
            if how == "sigterm":
                proc.send_signal(signal.SIGTERM)  # systemd's KillMode=mixed
            else:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, err
        assert err.rstrip().endswith("stopped")
        statuses = _statuses(live, world.commerce_external_id)
        assert statuses[in_hand] == "COMPLETED"  # computed before the signal: submitted
        assert sorted(statuses.values()) == ["COMPLETED", "PENDING", "PENDING"]

    def test_backs_off_when_throttled_and_when_idle(self, live: Live) -> None:
        world = live.world(1)
        proxy = FaultProxy(live.base_url).start()
        # Three 429s: the SDK waits out two Retry-Afters, then the worker waits out the third.
        proxy.plan("GET", TASKS, *[Fault(status=429, headers={"Retry-After": "1"})] * 3)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
        command = f"{sys.executable} {EXAMPLES / 'exec_handler.py'}"
        try:
            proc = subprocess.Popen(
                [*RETEN, "pull", "--exec", command, "--commerce", world.commerce_external_id,
                 "--idle-max", "2", "--base-url", proxy.url, "--api-key", live.api_key],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 120
                while len(proxy.requests("GET", TASKS)) < 8:
                    assert proc.poll() is None, proc.communicate()[1]
                    assert time.monotonic() < deadline, proxy.requests("GET", TASKS)
                    time.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        finally:
            proxy.stop()
        assert proc.returncode == 0, err
        assert "throttled; next pass in 1 s" in err and "SALE_COMPLETED" in err
        gets = proxy.requests("GET", TASKS)[:8]
        assert [g.upstream_status for g in gets] == [None] * 3 + [200] * 5
        gap = [round(b.at - a.at, 2) for a, b in itertools.pairwise(gets)]
        # 429, 429: the SDK's retries after Retry-After; 429: the worker's own wait for it.
        assert all(g >= 0.9 for g in gap[:3]), gap
        # A pass that submitted something is followed at once by the next one...
        assert gap[3] < 0.9 + gap[0], gap
        # ...then idle passes wait 1 s, 2 s, and stay at --idle-max (2 s) instead of 4 s.
        assert 0.9 <= gap[4] < 1.9 and gap[5] >= 1.9 and 1.9 <= gap[6] < 3.5, gap
        assert set(_statuses(live, world.commerce_external_id).values()) == {"COMPLETED"}


class TestWatch:
    def test_prints_each_change_once_as_it_appears_and_resumes_from_a_watermark(
        self, live: Live
    ) -> None:
        world = live.world(3)
        ours = world.commerce_external_id
        proc = subprocess.Popen(
            [*RETEN, "tasks", "watch", "--json", "--interval", "0.3", "--commerce", ours],
            env=_env(live), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: list[dict[str, Any]] = []
        reader = threading.Thread(
            target=lambda: lines.extend(json.loads(line) for line in proc.stdout or []),
            daemon=True,
        )
        reader.start()

        def wait_for(check: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 60
            while not check():
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, f"{what}: {lines}"
                time.sleep(0.05)

        try:
            wait_for(lambda: len(lines) >= 3, "the existing tasks")
            created_max = max(x["task"]["updatedAt"] for x in lines)
            with Reten(live.base_url, live.api_key) as client:
                client.results.submit(
                    activity_id=world.task_ids[0], commerce_external_id=ours,
                    status="EFFECTIVE", result="SALE_COMPLETED",
                )  # fmt: skip
            wait_for(lambda: len(lines) >= 4, "the changed task")
            time.sleep(1.5)  # several more polls, each re-reading the 5 s overlap
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            reader.join(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, err
        # Every task once, then the changed one once more with its new state: nothing repeated.
        printed = [(x["task"]["id"], x["task"]["status"]) for x in lines]
        assert sorted(printed[:3]) == sorted((i, "PENDING") for i in world.task_ids)
        assert printed[3:] == [(world.task_ids[0], "COMPLETED")]
        marks = [datetime.fromisoformat(x["watermark"].replace("Z", "+00:00")) for x in lines]
        assert marks == sorted(marks) and err.count("watermark ") >= 3
        # From a watermark after the creations, only the change comes back.
        since = (
            datetime.fromisoformat(created_max.replace("Z", "+00:00")) + timedelta(milliseconds=1)
        ).isoformat()
        again = _run(
            live, "tasks", "watch", "--once", "--json", "--since", since, "--commerce", ours
        )
        assert again.returncode == 0, again.stderr
        assert [json.loads(x)["task"]["id"] for x in again.stdout.splitlines()] == [
            world.task_ids[0]
        ]
