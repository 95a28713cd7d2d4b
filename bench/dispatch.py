"""P6 and P7 (quality.md): the push dispatcher, measured as it runs in production.

Both use one `reten worker` process (the harness's API server runs with its in-process
dispatcher off, as `reten serve --no-dispatcher` would), a WEBHOOK config on a tenant of their
own (`bench-dispatch`), and the receiver process of `bench/receiver.py`, which answers 200 at once
and notes when each `webhook-id` arrived.

- **P6, throughput.** The tenant is seeded (COPY) with `--dispatch-activities` READY activities
  while it has no active config, so nothing is delivered yet. With the worker started and
  listening, the config (max_concurrency 32) is activated through the API, which wakes the worker;
  the clock runs from that request until every activity is DISPATCHED in the database. Then the
  reference: a bare `httpx` loop (32 in flight) replays the bodies the worker sent to the same
  receiver. Budget: >= 0.7 x the bare loop (a ratio only: the receiver and the machine set the
  absolute figure).
- **P7, latency.** A creator process sends `POST /api/activities/tasks` at 100 activities/s for
  `--p7-seconds` (open loop) and records when it sent each one; the receiver records when each
  arrived. Budget on creation -> receipt: p50 <= 1 s, p99 <= 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.cpu import CpuMeter, _cpu_s
from bench.report import Row, percentile
from bench.seed import _cli, _copy, database_url, dsn, session_count
from bench.server import ROOT, Server, server_env

RESULTS = Path(__file__).resolve().parent / "results"
TENANT_SLUG = "bench-dispatch"
ADMIN_EMAIL = "admin@bench-dispatch.reten.dev"
HOOK_PATH = "/hook"
COMMERCES = 200
MAX_CONCURRENCY = 32
START_TIMEOUT_S = 30.0

# Budgets from quality.md, "Performance".
# A ratio only (quality.md): the bare loop itself reaches a few hundred requests/s on two shared
# cores, so an absolute floor would measure the machine, not the dispatcher.
P6_MIN_RATIO = 0.7
P7_RATE = 100.0
P7_MAX_P50_MS = 1000.0
P7_MAX_P99_MS = 3000.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class DispatchTenant:
    tenant_id: uuid.UUID
    api_key: str
    commerce_id: uuid.UUID
    route_id: uuid.UUID
    operator_id: uuid.UUID


async def seed_tenant(database: str, activities: int) -> DispatchTenant:
    """The dispatch tenant (CLI), its API key, and `activities` READY SALESMAN tasks (COPY)."""
    _cli(
        "tenants", "create", TENANT_SLUG, "--name", "Bench Dispatch", "--admin-email", ADMIN_EMAIL,
        "--admin-password", uuid.uuid4().hex, database=database,
    )  # fmt: skip
    api_key = _cli(
        "api-keys", "create", "--tenant", TENANT_SLUG, "--name", "bench-dispatch",
        "--permission", "VIEW_ACTIVITIES", "--permission", "CREATE_ACTIVITY",
        "--permission", "MANAGE_ACTIVITY_CONFIG", database=database,
    ).strip().splitlines()[-1]  # fmt: skip
    conn = await asyncpg.connect(dsn(database))
    try:
        tid = await conn.fetchval("SELECT id FROM tenants WHERE slug = $1", TENANT_SLUG)
        now = datetime.now(UTC)
        ts = (now, now)
        route, operator = uuid.uuid4(), uuid.uuid4()
        commerces = [uuid.uuid4() for _ in range(COMMERCES)]
        async with conn.transaction():
            await _copy(
                conn, "commerces",
                ("id", "tenant_id", "external_id", "name", "metadata", "is_active",
                 "is_placeholder", "created_at", "updated_at"),
                [(cid, tid, f"DC-{i:05d}", f"Comercio {i}", "{}", True, False, *ts)
                 for i, cid in enumerate(commerces)],
            )  # fmt: skip
            await _copy(
                conn, "routes",
                ("id", "tenant_id", "name", "external_id", "metadata", "is_active", "created_at",
                 "updated_at"),
                [(route, tid, "Ruta Despacho", "DR-1", "{}", True, *ts)],
            )  # fmt: skip
            await _copy(
                conn, "operators",
                ("id", "tenant_id", "type", "external_id", "first_name", "last_name", "metadata",
                 "is_active", "is_placeholder", "created_at", "updated_at"),
                [(operator, tid, "SALESMAN", "DOP-1", "Operador", "Despacho", "{}", True, False,
                  *ts)],
            )  # fmt: skip
            await _copy(
                conn, "route_operators",
                ("id", "tenant_id", "route_id", "operator_id", "role", "is_active", "created_at",
                 "updated_at"),
                [(uuid.uuid4(), tid, route, operator, "MEMBER", True, *ts)],
            )  # fmt: skip
            rows, assignments, details = [], [], []
            for i in range(activities):
                aid = uuid.uuid4()
                # Distinct creation times, oldest first, as a day of real creations has: the
                # claim orders by (created_at, id), and equal times would sort the whole backlog
                # on every claim, a cost no real queue pays.
                created = now - timedelta(milliseconds=activities - i)
                rows.append(
                    (aid, tid, "TASK", "SALESMAN", "READY", "SCHEDULED", "OPEN", "retention", 80,
                     now + timedelta(days=1), f"bd-{i:07d}", 1, 0, 0, created, created)
                )  # fmt: skip
                cid = commerces[i % COMMERCES]
                assignments.append((aid, tid, cid, created, created))
                details.append((aid, tid, route, operator, created, created))
            await _copy(
                conn, "activities",
                ("id", "tenant_id", "type", "channel", "status", "lifecycle_status", "phase",
                 "reason", "score", "scheduled_at", "idempotency_key", "version", "attempt_count",
                 "attempt_total", "created_at", "updated_at"),
                rows,
            )  # fmt: skip
            await _copy(
                conn, "commerce_assignments",
                ("activity_id", "tenant_id", "commerce_id", "created_at", "updated_at"),
                assignments,
            )  # fmt: skip
            await _copy(
                conn, "task_details",
                ("activity_id", "tenant_id", "route_id", "operator_id", "created_at",
                 "updated_at"),
                details,
            )  # fmt: skip
        await conn.execute("VACUUM ANALYZE activities, commerce_assignments, task_details")
    finally:
        await conn.close()
    return DispatchTenant(tid, api_key, commerces[0], route, operator)


async def _fetchval(database: str, sql: str, *params: Any) -> Any:
    conn = await asyncpg.connect(dsn(database))
    try:
        return await conn.fetchval(sql, *params)
    finally:
        await conn.close()


class Child:
    """A process of the rig, logging to a file, always stopped on the way out."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        *,
        pipe: bool = False,
    ) -> None:
        self.name = name
        self.log_path = RESULTS / f"{name}.log"
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE if pipe else out, stderr=out
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(
                f"{self.name} exited with {self.proc.returncode}:\n" + "\n".join(tail)
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Rig:
    """The receiver, the worker and the tenant's WEBHOOK config, shared by P6 and P7."""

    def __init__(self, server: Server, database: str, tenant: DispatchTenant) -> None:
        self.server = server
        self.database = database
        self.tenant = tenant
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.children: list[Child] = []
        self.active = False
        # Connections this harness opened to the database, so that a workload's count of new
        # connections can leave them out.
        self.own_connections = 0

    def start(self) -> None:
        self.receiver = self._child("receiver", [sys.executable, "-m", "bench.receiver"], pipe=True)
        assert self.receiver.proc.stdout is not None
        line = self.receiver.proc.stdout.readline()  # the port, once it listens
        self.receiver.check()
        self.receiver_port = int(line)
        env = server_env(database_url(self.database), str(self.tenant.tenant_id))
        env["RETEN_DISPATCH_ALLOW_PRIVATE_NETWORKS"] = "true"  # the receiver is on loopback
        self.worker = self._child("worker", [sys.executable, "-m", "reten.cli.main", "worker"], env)
        self._wait_listening()
        self.config_id = self._create_config()

    def _child(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        *,
        pipe: bool = False,
    ) -> Child:
        child = Child(name, command, env, pipe=pipe)
        self.children.append(child)
        return child

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.http.close()

    def _wait_listening(self) -> None:
        """The worker LISTENs before its first round: from then on a commit's NOTIFY wakes it."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.worker.check()
            listening = asyncio.run(
                _fetchval(
                    self.database,
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
                )
            )
            if listening:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not listening after {START_TIMEOUT_S} s")

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(
            method, path, json=body, headers={"x-api-key": self.tenant.api_key}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def _create_config(self) -> str:
        providers = self.api("GET", "/api/dispatch-providers")
        provider = next(p["id"] for p in providers if p["code"] == "WEBHOOK")
        config = self.api(
            "POST",
            "/api/dispatch-configs",
            {
                "dispatch_provider_id": provider,
                "channel": "SALESMAN",
                "base_url": f"http://127.0.0.1:{self.receiver_port}{HOOK_PATH}",
                "settings": {"max_concurrency": MAX_CONCURRENCY},
                "is_active": False,
            },
        )
        return str(config["id"])

    def activate(self) -> None:
        """Activate the config (once): the API's commit sends the NOTIFY that wakes the worker."""
        if not self.active:
            self.api("POST", f"/api/dispatch-configs/{self.config_id}/activate")
            self.active = True

    def dispatched(self) -> int:
        self.own_connections += 1
        return int(
            asyncio.run(
                _fetchval(
                    self.database,
                    "SELECT count(*) FROM activities "
                    "WHERE tenant_id = $1 AND status = 'DISPATCHED'",
                    self.tenant.tenant_id,
                )
            )
        )

    def receiver_get(self, what: str) -> Any:
        url = f"http://127.0.0.1:{self.receiver_port}/{what}"
        return httpx.get(url, timeout=30).json()


@contextlib.contextmanager
def rig(server: Server, database: str, backlog: int) -> Iterator[Rig]:
    log(f"seeding tenant {TENANT_SLUG} with {backlog} READY activities ...")
    tenant = asyncio.run(seed_tenant(database, backlog))
    made = Rig(server, database, tenant)
    try:
        made.start()
        yield made
    finally:
        made.close()


async def _attempt_stats(database: str, tenant_id: uuid.UUID) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn(database))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE outcome = 'SUCCESS') AS ok, "
            "count(*) FILTER (WHERE outcome <> 'SUCCESS') AS failed, "
            "array_agg(duration_ms ORDER BY duration_ms) AS durations "
            "FROM dispatch_attempts WHERE tenant_id = $1",
            tenant_id,
        )
        first_error = await conn.fetchval(
            "SELECT error FROM dispatch_attempts WHERE tenant_id = $1 AND outcome <> 'SUCCESS' "
            "LIMIT 1",
            tenant_id,
        )
    finally:
        await conn.close()
    return {
        "ok": row["ok"],
        "failed": row["failed"],
        "durations_us": [d * 1000 for d in row["durations"] or []],
        "first_error": first_error,
    }


def _cores(parts: dict[str, float], wall: float) -> str:
    return "/".join(f"{parts[k] / wall:.2f}" for k in ("subject", "postgres", "peer", "other"))


def _cpu(subject: float, peer: float, meter: CpuMeter) -> dict[str, float]:
    """CPU seconds of the process under test, its PostgreSQL backends, the process at the other
    end of its requests, and the rest of the machine."""
    rest = meter.system_s - subject - meter.postgres_s - peer
    return {"subject": subject, "postgres": meter.postgres_s, "peer": peer, "other": max(0.0, rest)}


def run_p6(r: Rig, args: argparse.Namespace, base: float) -> list[Row]:
    n = args.dispatch_activities
    deadline_s = 60 + n / 50  # slower than 50/s is a failure anyway
    r.receiver_get("reset")
    receiver0 = _cpu_s(r.receiver.pid)
    sessions0, own0 = asyncio.run(session_count(args.database)), r.own_connections
    with CpuMeter(r.worker.pid, args.database) as meter:
        started = time.monotonic()
        started_wall = time.time()
        r.activate()
        while time.monotonic() - started < deadline_s:
            r.worker.check()
            # The receiver first (cheap to ask), then the database: done means recorded.
            if r.receiver_get("stats")["distinct"] >= n and r.dispatched() >= n:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    receiver_s = _cpu_s(r.receiver.pid) - receiver0
    done = r.dispatched()
    # Minus one: the connection that took the first reading is counted in the second.
    opened = asyncio.run(session_count(args.database)) - sessions0 - 1
    opened -= r.own_connections - own0
    stats = r.receiver_get("stats")
    attempts = asyncio.run(_attempt_stats(args.database, r.tenant.tenant_id))
    rate = done / elapsed
    receipt_rate = stats["distinct"] / max(1e-9, (stats["last_at"] or started_wall) - started_wall)
    cpu = _cpu(meter.server_s, receiver_s, meter)
    durations = attempts["durations_us"]
    errors = attempts["failed"] + (n - done)
    row = Row(
        workload=f"P6 dispatch {n} READY, 1 worker",
        rps=rate,
        p50_ms=percentile(durations, 0.5),
        p99_ms=percentile(durations, 0.99),
        errors=errors,
        rss_mb=rss_mb(r.worker.pid),
        x_baseline=rate / base,
        cpu_cores=_cores(cpu, meter.wall_s),
        detail={
            "delivered": done,
            "seconds": round(elapsed, 3),
            "receiver": stats,
            "receipt_rate": receipt_rate,
            "attempts_ok": attempts["ok"],
            "attempts_failed": attempts["failed"],
            "db_connections_opened": opened,
            "cpu_ms_per_delivery": {k: round(v * 1000 / max(1, done), 3) for k, v in cpu.items()},
        },
    )
    per = row.detail["cpu_ms_per_delivery"]
    row.notes.append(
        f"{done} of {n} DISPATCHED in {elapsed:.1f} s ({receipt_rate:.0f}/s as the receiver saw "
        f"them); p50/p99 are the attempt log's request durations; {stats['duplicates']} "
        f"duplicate webhook-ids"
    )
    row.notes.append(
        f"CPU per delivery: worker {per['subject']:.2f} ms, postgres {per['postgres']:.2f} ms, "
        f"receiver {per['peer']:.2f} ms; CPU columns: worker/pg/receiver/other; new DB "
        f"connections opened: {opened}"
    )
    if opened > 2 * MAX_CONCURRENCY:
        # A pool filling up opens about one connection per concurrent delivery, once; more is
        # churn: a pool smaller than the concurrency closes and reopens its overflow.
        row.notes.append(
            "connection churn: the worker's database pool is smaller than the concurrency it "
            "serves; the short-lived backends' CPU lands in 'other'"
        )
    if attempts["first_error"]:
        row.notes.append(f"first failed attempt: {attempts['first_error']}")
    log(f"P6: {rate:.0f} deliveries/s ({done}/{n} in {elapsed:.1f} s)")

    ref = _run_bare(r, args, n, base)
    ratio = rate / ref.rps if ref.rps else 0.0
    row.detail["over_bare_httpx"] = ratio
    ok = ratio >= P6_MIN_RATIO and errors == 0 and done == n
    row.judge(ok, f">= {P6_MIN_RATIO:.2f} x httpx ({ratio:.2f}), 0 errors")
    return [ref, row]


def _run_bare(r: Rig, args: argparse.Namespace, n: int, base: float) -> Row:
    samples_file = RESULTS / "p6-samples.json"
    samples_file.write_text(json.dumps(r.receiver_get("samples")))
    spec_file = RESULTS / "p6-bare-spec.json"
    spec = {
        "port": r.receiver_port, "path": HOOK_PATH, "samples_file": str(samples_file),
        "requests": n, "concurrency": MAX_CONCURRENCY,
    }  # fmt: skip
    spec_file.write_text(json.dumps(spec))
    r.receiver_get("reset")
    receiver0 = _cpu_s(r.receiver.pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The meter follows a process; only its PostgreSQL and whole-machine figures are used here
    # (the client is measured by its rusage once it has exited).
    with CpuMeter(r.worker.pid, args.database) as meter:
        done = subprocess.run(
            [sys.executable, "-m", "bench.dispatch_load", "bare", str(spec_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=60 + n / 50,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bare httpx loop failed:\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_s = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    receiver_s = _cpu_s(r.receiver.pid) - receiver0
    result = json.loads(done.stdout)
    stats = r.receiver_get("stats")
    rate = result["requests"] / result["seconds"]
    cpu = _cpu(client_s, receiver_s, meter)
    row = Row(
        workload=f"P6 reference: bare httpx x{MAX_CONCURRENCY}",
        rps=rate,
        p50_ms=percentile(result["latencies_us"], 0.5),
        p99_ms=percentile(result["latencies_us"], 0.99),
        errors=result["errors"],
        rss_mb=float("nan"),  # the client has exited by now
        x_baseline=rate / base,
        cpu_cores=_cores(cpu, meter.wall_s),
        budget="(P6 reference)",
        detail={"receiver": stats, "seconds": result["seconds"]},
    )
    row.notes.append(
        f"{result['requests']} POSTs of {len(json.loads(samples_file.read_text()))} replayed "
        f"bodies in {result['seconds']:.1f} s; receiver counted {stats['requests']}; "
        f"CPU per request: client {client_s * 1000 / max(1, result['requests']):.2f} ms; "
        f"CPU columns: client/pg/receiver/other"
    )
    if result["error_samples"]:
        row.notes.append("first errors: " + " | ".join(result["error_samples"][:3]))
    log(f"P6 reference: bare httpx {rate:.0f} requests/s")
    return row


def run_p7(r: Rig, args: argparse.Namespace, base: float) -> Row:
    count = int(P7_RATE * args.p7_seconds)
    body = {
        "reason": "retention", "channel": "SALESMAN", "commerce_id": str(r.tenant.commerce_id),
        "idempotency_key": "p7-{seq}", "scheduled_at": "2030-01-01T09:00:00Z",
        "assigned_route_id": str(r.tenant.route_id),
        "assigned_operator_id": str(r.tenant.operator_id),
    }  # fmt: skip
    spec = {
        "port": r.server.port, "api_key": r.tenant.api_key, "rate": P7_RATE, "count": count,
        "connections": 8, "body_template": json.dumps(body, separators=(",", ":")),
    }  # fmt: skip
    spec_file = RESULTS / "p7-spec.json"
    spec_file.write_text(json.dumps(spec))
    r.activate()
    r.receiver_get("reset")
    server0 = _cpu_s(r.server.pid)
    with CpuMeter(r.worker.pid, args.database) as meter:
        done = subprocess.run(
            [sys.executable, "-m", "bench.dispatch_load", "create", str(spec_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=60 + args.p7_seconds,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"P7 creator failed:\n{done.stderr}")
        result = json.loads(done.stdout)
        created: dict[str, float] = result["created"]
        # Let the last ones arrive: anything later than the p99 budget after the end is a miss.
        wait_until = time.monotonic() + P7_MAX_P99_MS / 1000 + 2
        while time.monotonic() < wait_until:
            if r.receiver_get("stats")["distinct"] >= len(created):
                break
            time.sleep(0.1)
    arrivals: dict[str, float] = r.receiver_get("arrivals")
    latencies: list[int] = []
    missing = 0
    for activity_id, sent in created.items():
        arrived = arrivals.get(f"msg_{uuid.UUID(activity_id).hex}")
        if arrived is None:
            missing += 1
        else:
            latencies.append(round((arrived - sent) * 1e6))
    latencies.sort()
    errors = result["errors"] + missing
    rate = len(created) / result["seconds"]
    cpu = _cpu(meter.server_s, _cpu_s(r.server.pid) - server0, meter)
    row = Row(
        workload=f"P7 create -> receipt @ {P7_RATE:.0f}/s",
        rps=rate,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        errors=errors,
        rss_mb=rss_mb(r.worker.pid),
        x_baseline=rate / base,
        cpu_cores=_cores(cpu, meter.wall_s),
        detail={
            "created": len(created),
            "delivered": len(latencies),
            "missing": missing,
            "max_ms": latencies[-1] / 1000 if latencies else None,
            "create_request_p50_ms": percentile(result["request_us"], 0.5),
            "create_request_p99_ms": percentile(result["request_us"], 0.99),
            "creator_lag_p99_ms": percentile(result["lag_us"], 0.99),
        },
    )
    d = row.detail
    row.notes.append(
        f"{len(created)} created over {result['seconds']:.1f} s through the API server "
        f"(--no-dispatcher), delivered by 1 `reten worker`; latency from the moment the create "
        f"request was sent (so it includes that request: p50 {d['create_request_p50_ms']:.1f} ms, "
        f"p99 {d['create_request_p99_ms']:.1f} ms); max {d['max_ms']} ms; {missing} never arrived"
    )
    row.notes.append(
        f"creator lag behind schedule p99 {d['creator_lag_p99_ms']:.1f} ms; "
        f"CPU columns: worker/pg/API server/other (the creator and the receiver are in other)"
    )
    if result["error_samples"]:
        row.notes.append("first errors: " + " | ".join(result["error_samples"][:3]))
    ok = (
        row.p50_ms <= P7_MAX_P50_MS
        and row.p99_ms <= P7_MAX_P99_MS
        and errors == 0
        and len(created) == count
    )
    row.judge(ok, f"p50 <= {P7_MAX_P50_MS:.0f} ms, p99 <= {P7_MAX_P99_MS:.0f} ms, 0 errors")
    log(f"P7: p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms, {errors} errors")
    return row
