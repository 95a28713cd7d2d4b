"""`python -m bench`: seed, start the server, drive each workload, judge it, print one table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.cpu import CpuMeter
from bench.dispatch import rig, run_p6, run_p7
from bench.explain import explain_p1
from bench.noauth_app import NOAUTH_PATH
from bench.panel import run_p10
from bench.report import Measurement, Row, table, write_json
from bench.seed import (
    SeedConfig,
    Seeded,
    database_url,
    drop_database,
    dsn,
    seed,
    session_count,
    verify_results,
)
from bench.seed_p3 import P3Config, P3Seeded, P3Tenant
from bench.seed_p3 import prepare as prepare_p3
from bench.server import ROOT, Server

RESULTS = Path(__file__).resolve().parent / "results"
P1_QUERY = "?status=PENDING&per_page=20"
P1_PATH = "/api/integration/activities/tasks" + P1_QUERY
P2_PATH = "/api/integration/activity-results/tasks"
# A ceiling on requests per workload, on top of the time bound, so nothing can run away.
MAX_REQUESTS = 2_000_000
LOADGEN_GRACE_S = 60
# PostgreSQL's background writers and this harness use a little; more means another job ran.
NOISY_NEIGHBOUR_CORES = 0.25

# Budgets from docs quality.md, "Performance".
P1_MIN = 0.15
P2_MIN = 0.10
P3_MAX_P50_RATIO = 1.5
P4_PAGE = 500
P4_MAX_P50_RATIO = 2.0
P5_MIN = 0.90
P9_MIN_ITEMS_PER_S = 2000.0
BATCH_SIZE = 100
SYNC_SIZE = 1000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Reten benchmarks (quality.md, Performance): starts its own server on "
        "PostgreSQL at 127.0.0.1:5432, seeds a fresh database, drives load from a separate "
        "process over loopback and prints one table of ratios to the GET /api/health baseline.",
    )
    p.add_argument(
        "workload",
        choices=(
            "all", "p1", "p2", "p3", "p4", "p5", "limit", "create", "batch", "p9", "p6", "p7",
            "p10",
        ),
        help="p1: task list; p2: result submission; p3: P1 on a tenant of 1 000 000 vs one of "
        "10 000 (its own database); p4: page 500 vs page 1; p5: API-key auth overhead; limit: "
        "P1 on the bare ASGI + asyncpg server (bench/limit.py), with P1 beside it; p6: dispatch "
        "throughput; p7: dispatch latency; p10: the panel's Activities pages; all: every one. "
        "The baseline always runs first.",
    )  # fmt: skip
    p.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per workload (default 10)"
    )
    p.add_argument(
        "--warmup", type=float, default=2.0, help="discarded seconds before each (default 2)"
    )
    p.add_argument("--clients", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument("--activities", type=int, default=100_000, help="TASK activities in the tenant")
    p.add_argument(
        "--database", default="reten_bench", help="database to (re)create (default reten_bench)"
    )
    p.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    p.add_argument("--keep-db", action="store_true", help="keep the database (and P3's) afterwards")
    p.add_argument(
        "--p3-database", default=None,
        help="P3's own database (default: --database with _p3 appended, e.g. reten_bench_p3)",
    )  # fmt: skip
    p.add_argument(
        "--reuse-p3", action="store_true",
        help="P3: use the kept P3 database as it is when its seed fingerprint (seed_p3.py, its "
        "configuration, the migration heads) matches, else seed it afresh; keeps it afterwards",
    )  # fmt: skip
    p.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE P1's SQL even when it passes"
    )
    p.add_argument(
        "--dispatch-activities", type=int, default=20_000,
        help="P6: READY activities waiting when the config is activated (default 20 000)",
    )  # fmt: skip
    p.add_argument(
        "--p7-seconds", type=float, default=20.0,
        help="P7: seconds of creation at 100 activities/s (default 20)",
    )  # fmt: skip
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 300 or not 0 <= args.warmup <= 60:
        p.error("--duration must be 1-300 s and --warmup 0-60 s")
    if not 1 <= args.clients <= 512 or args.activities < 1000:
        p.error("--clients must be 1-512 and --activities at least 1000")
    if not 100 <= args.dispatch_activities <= 1_000_000 or not 1 <= args.p7_seconds <= 300:
        p.error("--dispatch-activities must be 100-1 000 000 and --p7-seconds 1-300")
    return args


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def drive(
    server: Server,
    request: dict[str, Any],
    args: argparse.Namespace,
    *,
    warmup: float | None = None,
    duration: float | None = None,
) -> Measurement:
    """Run the load generator in its own process against `server` and return what it saw."""
    spec = {
        "port": server.port,
        "clients": args.clients,
        "warmup_s": args.warmup if warmup is None else warmup,
        "duration_s": args.duration if duration is None else duration,
        "max_requests": MAX_REQUESTS,
        "request": request,
    }  # fmt: skip
    spec_file = RESULTS / "loadgen-spec.json"
    spec_file.write_text(json.dumps(spec))
    out_file = RESULTS / "loadgen-result.json"
    out_file.unlink(missing_ok=True)
    sessions = asyncio.run(session_count(args.database))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with CpuMeter(server.pid, args.database) as meter:
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(spec_file), str(out_file)],
            cwd=ROOT, capture_output=True, text=True,
            timeout=spec["warmup_s"] + spec["duration_s"] + LOADGEN_GRACE_S,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr}")
    m = Measurement(**json.loads(out_file.read_text()))
    # The load generator is our only child reaped in between, so the delta is its CPU.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen_s = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    m.cpu = {
        "server_s": meter.server_s,
        "postgres_s": meter.postgres_s,
        "loadgen_s": loadgen_s,
        # Everything else the machine did meanwhile: PostgreSQL's shared background processes,
        # this harness, and any other job on the machine.
        "other_s": max(0.0, meter.system_s - meter.server_s - meter.postgres_s - loadgen_s),
        "wall_s": meter.wall_s,
        # Minus one: the connection that took the first reading is counted in the second.
        "db_connections_opened": asyncio.run(session_count(args.database)) - sessions - 1,
    }
    return m


def get(path: str, api_key: str | None = None) -> dict[str, Any]:
    headers = {"x-api-key": api_key} if api_key else {}
    return {"method": "GET", "path": path, "headers": headers, "expect_status": 200}


def measure_row(server: Server, name: str, m: Measurement, baseline: float | None) -> Row:
    rss, _ = server.memory_mb()
    row = Row.of(name, m, rss, baseline)
    log(f"{name}: {row.rps:.1f} req/s, p50 {row.p50_ms:.2f} ms, errors {row.errors}")
    if m.error_samples:
        row.notes.append("first errors: " + " | ".join(m.error_samples[:3]))
    cost = row.detail["cpu_ms_per_request"]
    opened = int(m.cpu.get("db_connections_opened", 0))
    row.detail["db_connections_opened"] = opened
    row.notes.append(
        f"CPU per request: server {cost['server']:.2f} ms, postgres {cost['postgres']:.2f} ms, "
        f"load generator {cost['loadgen']:.2f} ms; new DB connections opened: {opened}"
    )
    other_cores = m.cpu["other_s"] / m.cpu["wall_s"]
    if other_cores > NOISY_NEIGHBOUR_CORES:
        row.notes.append(
            f"WARNING: other processes used {other_cores:.2f} cores meanwhile; numbers are skewed"
        )
    return row


def run_p1(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> Row:
    m = drive(server, get(P1_PATH, seeded.api_key), args)
    row = measure_row(server, "P1 GET tasks?status=PENDING", m, base)
    row.judge(row.x_baseline >= P1_MIN and m.errors == 0, f">= {P1_MIN:.2f} x base, 0 errors")
    return row


def run_p4(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> list[Row]:
    """P1 at page 1 and at page 500, ABBA order (see run_p5), judged on the p50 ratio."""
    deep = get(f"{P1_PATH}&page={P4_PAGE}", seeded.api_key)
    first = get(P1_PATH, seeded.api_key)
    seg = {"warmup": max(0.5, args.warmup / 2), "duration": args.duration / 2}
    parts: dict[str, list[Measurement]] = {"first": [], "deep": []}
    for label in ("first", "deep", "deep", "first"):
        parts[label].append(drive(server, first if label == "first" else deep, args, **seg))
    ref = measure_row(server, "P4 page 1", Measurement.merge(parts["first"]), base)
    row = measure_row(server, f"P4 page {P4_PAGE}", Measurement.merge(parts["deep"]), base)
    ratio = row.p50_ms / ref.p50_ms
    row.detail["p50_over_page_1"] = ratio
    ok = ratio <= P4_MAX_P50_RATIO and row.errors == 0 and ref.errors == 0
    row.judge(ok, f"p50 / page 1 {ratio:.2f} <= {P4_MAX_P50_RATIO:.1f}, 0 errors")
    ref.budget = "(P4 reference)"
    return [ref, row]


def _body(url: str, api_key: str | None) -> bytes:
    request = urllib.request.Request(url, headers={"x-api-key": api_key} if api_key else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def run_limit(
    server: Server, seeded: Seeded, args: argparse.Namespace, base: float, p1: Row | None
) -> list[Row]:
    """Row L: P1 served by bench/limit.py, then "P1 ÷ limit" (reported, no budget).

    Both servers run side by side (the limit on a port of its own) and are driven one after
    the other with the same load; before that their bodies for P1 must be byte-identical."""
    rows: list[Row] = []
    if p1 is None:
        p1 = run_p1(server, seeded, args, base)
        rows.append(p1)
    limit = Server(
        database_url(args.database), str(seeded.tenant_id), RESULTS / "limit.log",
        app=("bench.limit:app",),
    )  # fmt: skip
    limit.env["RETEN_BENCH_DSN"] = dsn(args.database)
    with limit:
        ours, theirs = _body(server.url + P1_PATH, seeded.api_key), _body(limit.url + P1_PATH, None)
        m = drive(limit, get(P1_PATH), args)
        row = measure_row(limit, "L limit: bare ASGI + asyncpg", m, base)
    identical = ours == theirs
    row.detail["byte_identical"] = identical
    row.notes.append(
        "body byte-identical to Reten's P1 body"
        if identical
        else f"BODIES DIFFER ({len(ours)} vs {len(theirs)} bytes): the row is not comparable"
    )
    row.budget, row.verdict = "(L: reference)", "-" if identical else "FAIL"
    rows.append(row)
    ratio = p1.rps / row.rps if row.rps else 0.0
    over = Row(
        workload="P1 ÷ limit", rps=ratio, p50_ms=p1.p50_ms / row.p50_ms if row.p50_ms else 0.0,
        p99_ms=p1.p99_ms / row.p99_ms if row.p99_ms else 0.0, errors=p1.errors + row.errors,
        rss_mb=p1.rss_mb, x_baseline=ratio, cpu_cores="-",
        budget="(reported, no budget)", verdict="-",
    )  # fmt: skip
    over.notes.append(
        "req/s and x base columns: P1's req/s over the limit's; p50/p99 columns: P1's latency "
        "over the limit's"
    )
    rows.append(over)
    return rows


def run_p5(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> list[Row]:
    # ABBA order (no-auth, auth, auth, no-auth): a slow drift of the machine (cache warming,
    # autovacuum, thermal) hits both sides equally instead of favouring whichever ran second.
    noauth, auth = get(NOAUTH_PATH + P1_QUERY), get(P1_PATH, seeded.api_key)
    seg = {"warmup": max(0.5, args.warmup / 2), "duration": args.duration / 2}
    parts: dict[str, list[Measurement]] = {"noauth": [], "auth": []}
    for label in ("noauth", "auth", "auth", "noauth"):
        parts[label].append(drive(server, noauth if label == "noauth" else auth, args, **seg))
    ref = measure_row(server, "P5 same handler, no auth", Measurement.merge(parts["noauth"]), base)
    row = measure_row(server, "P5 same handler, API key", Measurement.merge(parts["auth"]), base)
    ratio = row.rps / ref.rps
    row.detail["auth_over_noauth"] = ratio
    ok = ratio >= P5_MIN and row.errors == 0 and ref.errors == 0
    row.judge(ok, f"auth/noauth {ratio:.3f} >= {P5_MIN:.2f}, 0 errors")
    ref.budget = "(P5 reference)"
    return [ref, row]


def p3_database(args: argparse.Namespace) -> str:
    return str(args.p3_database or f"{args.database}_p3")


def _check_p3_body(server: Server, tenant: P3Tenant, every: int) -> str | None:
    """What is wrong with P1's first page for this tenant, or None: 20 PENDING items and the
    total the seed implies (exact up to COUNT_CAP, then capped and flagged as an estimate)."""
    from reten.kit.pagination import COUNT_CAP

    n = tenant.activities
    pending = n - len(range(0, n, every)) - len(range(1, n, every))
    total, estimate = (COUNT_CAP, True) if pending > COUNT_CAP else (pending, False)
    body = json.loads(_body(server.url + P1_PATH, tenant.api_key))
    items, meta = body.get("data", []), body.get("meta", {})
    if len(items) != 20 or any(i.get("status") != "PENDING" for i in items):
        return f"{tenant.slug}: {len(items)} items, statuses {sorted({i.get('status') for i in items})}"
    if meta.get("total") != total or meta.get("totalIsEstimate", False) != estimate:
        return f"{tenant.slug}: meta {meta}, expected total {total} (estimate {estimate})"
    return None


def run_p3(
    args: argparse.Namespace, base: float | None
) -> tuple[list[Row], list[dict[str, Any]], dict[str, Any]]:
    """P3: P1 on the tenant of 1 000 000 activities against the tenant of 10 000, both in the
    P3 database (nine more tenants of 100 000 in the same tables), ABBA order as P4 and P5.

    The database is P3's own (seed_p3.py) and so is the server process, started on it once
    the main server has stopped. Judged on the p50 ratio: the list must be index-bound, its
    cost set by the page and the capped count, not by the size of the tenant or the tables.
    Returns the rows, the query plans (on failure or --explain) and the server's figures."""
    database = p3_database(args)
    cfg = P3Config(database=database)
    log(f"P3: {'reusing or seeding' if args.reuse_p3 else 'seeding'} {database} ...")
    seeded: P3Seeded = asyncio.run(prepare_p3(cfg, reuse=args.reuse_p3))
    log(f"P3: {seeded.summary()}")
    p3_args = argparse.Namespace(**{**vars(args), "database": database})
    server = Server(
        database_url(database), str(seeded.small.tenant_id), RESULTS / "server-p3.log", args.port
    )
    server.env["RETEN_RUN_DISPATCHER"] = "false"
    rows: list[Row] = []
    plans: list[dict[str, Any]] = []
    try:
        with server:
            log(f"P3 server pid {server.pid} on {server.url}")
            if base is None:
                m = drive(server, get("/api/health"), p3_args)
                baseline = measure_row(server, "baseline GET /api/health", m, None)
                rows.append(baseline)
                base = baseline.rps
            problems = [
                p
                for t in (seeded.small, seeded.large)
                if (p := _check_p3_body(server, t, cfg.every))
            ]
            small, large = get(P1_PATH, seeded.small.api_key), get(P1_PATH, seeded.large.api_key)
            seg = {"warmup": max(0.5, args.warmup / 2), "duration": args.duration / 2}
            parts: dict[str, list[Measurement]] = {"small": [], "large": []}
            for label in ("small", "large", "large", "small"):
                parts[label].append(
                    drive(server, small if label == "small" else large, p3_args, **seg)
                )
            ref = measure_row(
                server, f"P3 P1, tenant of {cfg.small:_}".replace("_", " "),
                Measurement.merge(parts["small"]), base,
            )  # fmt: skip
            row = measure_row(
                server, f"P3 P1, tenant of {cfg.large:_}".replace("_", " "),
                Measurement.merge(parts["large"]), base,
            )  # fmt: skip
            rss, peak = server.memory_mb()
        ratio = row.p50_ms / ref.p50_ms if ref.p50_ms else float("inf")
        row.detail.update(
            p50_over_small=ratio, seed_seconds=round(seeded.seconds, 1), reused=seeded.reused,
            seed_steps={k: round(v, 2) for k, v in seeded.steps.items()}, seed_rows=seeded.rows,
        )  # fmt: skip
        ok = ratio <= P3_MAX_P50_RATIO and row.errors == 0 and ref.errors == 0 and not problems
        row.judge(ok, f"p50 / small {ratio:.2f} <= {P3_MAX_P50_RATIO:.1f}, 0 errors")
        ref.budget = "(P3 reference)"
        row.notes.append(f"{database} {seeded.summary()}")
        row.notes.extend(f"WRONG FIRST PAGE: {p}" for p in problems)
        rows += [ref, row]
        if args.explain or row.verdict == "FAIL":
            plans = asyncio.run(explain_p1(database, seeded.large.tenant_id))
    finally:
        if not (args.keep_db or args.reuse_p3):
            asyncio.run(drop_database(database))
    log_lines = server.log_lines()
    figures = {
        "pid": server.pid, "rss_mb_end": rss, "peak_rss_mb": peak,
        "log_line_count": len(log_lines), "log_tail": log_lines[-50:],
    }  # fmt: skip
    return rows, plans, figures


def run_p2(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> Row:
    request = {
        "method": "POST", "path": P2_PATH, "headers": {"x-api-key": seeded.api_key},
        "expect_status": 201, "pool_file": str(seeded.pool_file),
    }  # fmt: skip
    m = drive(server, request, args)
    row = measure_row(server, "P2 POST result (distinct)", m, base)
    # Every 201 (warm-up included) must name a stored result whose activity it completed.
    found, completed = asyncio.run(verify_results(args.database, m.created_ids))
    created = len(m.created_ids)
    row.detail.update(created=created, found_in_db=found, activity_completed=completed)
    row.notes.append(
        f"{found} of {created} returned ids found in activity_results "
        f"({completed} with their activity COMPLETED and pointing at the result)"
    )
    if m.pool_exhausted:
        row.notes.append("ran out of READY activities before the deadline; raise --activities")
    ok = (
        row.x_baseline >= P2_MIN and m.errors == 0 and found == created == completed and created > 0
    )
    row.judge(ok, f">= {P2_MIN:.2f} x base, 0 errors, {found}/{created} 201s in DB")
    return row


def _templated(path: str, api_key: str, body: Any, expect: int) -> dict[str, Any]:
    return {
        "method": "POST", "path": path, "headers": {"x-api-key": api_key},
        "expect_status": expect, "body_template": json.dumps(body, separators=(",", ":")),
    }  # fmt: skip


def _task(seeded: Seeded, key: str) -> dict[str, Any]:
    return {
        "reason": "retention", "channel": "SALESMAN", "commerce_id": str(seeded.commerce_id),
        "idempotency_key": key, "scheduled_at": "2030-01-01T09:00:00Z",
        "assigned_route_id": str(seeded.route_id), "assigned_operator_id": str(seeded.operator_id),
    }  # fmt: skip


def run_create(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> list[Row]:
    """Activity creation, one per request and in batches (issue: management activities)."""
    single = _templated("/api/activities/tasks", seeded.api_key, _task(seeded, "b-{seq}"), 201)
    m = drive(server, single, args)
    row = measure_row(server, "POST /api/activities/tasks", m, base)
    row.budget, row.verdict = "(no budget: reported)", "-"
    items = [dict(_task(seeded, f"b-{{seq}}-{i}"), type="TASK") for i in range(BATCH_SIZE)]
    batch = _templated("/api/activities/batch", seeded.api_key, {"items": items}, 200)
    mb = drive(server, batch, args)
    brow = measure_row(server, f"POST /api/activities/batch x{BATCH_SIZE}", mb, base)
    brow.notes.append(
        f"{brow.rps * BATCH_SIZE:.0f} activities/s created through the batch endpoint"
    )
    brow.budget, brow.verdict = "(no budget: reported)", "-"
    return [row, brow]


def run_p9(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> Row:
    items = [
        {"external_id": f"sync-{{seq}}-{i}", "name": f"Sync store {i}", "tax_id": f"t-{{seq}}-{i}",
         "addresses": [{"source_ref": "main", "street": "Av. Siempre Viva", "street_number": str(i),
                        "city": "Santiago", "country_code": "cl", "is_primary": True}],
         "users": [{"external_id": "owner", "name": "Dueña Tienda", "roles": ["OWNER"],
                    "contacts": [{"contact_type": "PHONE", "value": "+56912345678", "is_primary": True}]}]}
        for i in range(SYNC_SIZE)
    ]  # fmt: skip
    return _sync_row(
        server, seeded, args, base, items, f"P9 POST /api/commerces/sync x{SYNC_SIZE}",
        "(1 address, 1 user with 1 contact each)",
    )  # fmt: skip


def _sync_row(
    server: Server, seeded: Seeded, args: argparse.Namespace, base: float,
    items: list[dict[str, Any]], name: str, note: str,
) -> Row:  # fmt: skip
    """A P9 row: `items` posted to the commerces sync, judged on items per second."""
    request = _templated("/api/commerces/sync", seeded.api_key, {"items": items}, 201)
    # A 1000-item sync is a bulk job, not chat: a few concurrent uploaders is the realistic load,
    # and with 32 the first round alone can outlast a short measuring window.
    m = drive(
        server, request, argparse.Namespace(**{**vars(args), "clients": min(args.clients, 4)})
    )
    row = measure_row(server, name, m, base)
    per_s = row.rps * SYNC_SIZE
    row.detail["items_per_s"] = per_s
    row.notes.append(f"{per_s:.0f} items/s {note}")
    row.judge(
        per_s >= P9_MIN_ITEMS_PER_S and m.errors == 0,
        f">= {P9_MIN_ITEMS_PER_S:.0f} items/s, 0 errors",
    )
    return row


BIG_COMMERCE_ACTIVITIES = 50_000


async def _gather_activities(database: str, tenant_id: uuid.UUID, count: int) -> str:
    """Assign `count` of the tenant's activities to one commerce; its external id."""
    conn = await asyncpg.connect(dsn(database))
    try:
        commerce_id, external_id = await conn.fetchrow(
            "SELECT id, external_id FROM commerces WHERE tenant_id = $1 ORDER BY external_id"
            " LIMIT 1",
            tenant_id,
        )
        await conn.execute(
            "UPDATE commerce_assignments SET commerce_id = $2 WHERE activity_id IN"
            " (SELECT id FROM activities WHERE tenant_id = $1 ORDER BY id LIMIT $3)",
            tenant_id, commerce_id, count,
        )  # fmt: skip
        return str(external_id)
    finally:
        await conn.close()


def run_p9_rename(server: Server, seeded: Seeded, args: argparse.Namespace, base: float) -> Row:
    """P9 again, each 1000-item sync renaming a commerce that 50 000 activities are assigned to:
    the task list's items join the commerce when read, so the rename must cost what any other
    commerce update costs."""
    external_id = asyncio.run(
        _gather_activities(args.database, seeded.tenant_id, BIG_COMMERCE_ACTIVITIES)
    )
    items = [{"external_id": external_id, "name": "Comercio renombrado {seq}"}] + [
        {"external_id": f"sync-r{{seq}}-{i}", "name": f"Sync store {i}"}
        for i in range(SYNC_SIZE - 1)
    ]
    return _sync_row(
        server, seeded, args, base, items,
        f"P9 sync x{SYNC_SIZE} renaming a commerce of 50 000",
        f"(one item of each sync renames the commerce that {BIG_COMMERCE_ACTIVITIES}"
        " activities are assigned to)",
    )  # fmt: skip


def run_main(
    args: argparse.Namespace, chosen: tuple[str, ...]
) -> tuple[list[Row], list[dict[str, Any]], dict[str, Any]]:
    """The baseline and every chosen workload but P3, on the main database and its server;
    returns the rows, the query plans and the server's figures."""
    started = time.monotonic()
    log(f"seeding {args.database} with {args.activities} activities ...")
    cfg = SeedConfig(database=args.database, activities=args.activities)
    seeded = asyncio.run(seed(cfg, RESULTS / "p2_pool.csv"))
    log(f"seeded in {time.monotonic() - started:.1f} s ({seeded.ready} READY)")

    rows: list[Row] = []
    plans: list[dict[str, Any]] = []
    server = Server(
        database_url(args.database), str(seeded.tenant_id), RESULTS / "server.log", args.port
    )
    # As `reten serve --no-dispatcher`: P6 and P7 measure one separate `reten worker`, which a
    # dispatcher inside the API server would compete with.
    server.env["RETEN_RUN_DISPATCHER"] = "false"
    try:
        with server:
            log(f"server pid {server.pid} on {server.url}")
            m = drive(server, get("/api/health"), args)
            baseline = measure_row(server, "baseline GET /api/health", m, None)
            if baseline.errors:
                baseline.notes.append(f"{baseline.errors} errors on the baseline itself")
            rows.append(baseline)
            base = baseline.rps
            for workload in chosen:
                if workload == "p1":
                    rows.append(run_p1(server, seeded, args, base))
                    if args.explain or rows[-1].verdict == "FAIL":
                        # Right after P1, on the data P1 saw (before P2 changes rows).
                        plans = asyncio.run(explain_p1(args.database, seeded.tenant_id))
                elif workload == "limit":
                    p1_row = next((r for r in rows if r.workload.startswith("P1 ")), None)
                    rows.extend(run_limit(server, seeded, args, base, p1_row))
                elif workload == "p4":
                    rows.extend(run_p4(server, seeded, args, base))
                elif workload == "p5":
                    rows.extend(run_p5(server, seeded, args, base))
                elif workload == "p10":
                    rows.extend(run_p10(server, seeded, args, base))
                elif workload in ("create", "batch"):
                    rows.extend(run_create(server, seeded, args, base))
                elif workload == "p9":
                    rows.append(run_p9(server, seeded, args, base))
                    rows.append(run_p9_rename(server, seeded, args, base))
                elif workload == "p2":
                    rows.append(run_p2(server, seeded, args, base))
            if "p6" in chosen or "p7" in chosen:
                # One worker, receiver and tenant for both; P6's backlog only when it runs.
                backlog = args.dispatch_activities if "p6" in chosen else 0
                with rig(server, args.database, backlog) as dispatch:
                    if "p6" in chosen:
                        rows.extend(run_p6(dispatch, args, base))
                    if "p7" in chosen:
                        rows.append(run_p7(dispatch, args, base))
            rss, peak = server.memory_mb()
        log_lines = server.log_lines()
    finally:
        if not args.keep_db:
            asyncio.run(drop_database(args.database))
    figures = {
        "pid": server.pid, "rss_mb_end": rss, "peak_rss_mb": peak,
        "log_line_count": len(log_lines), "log_tail": log_lines[-50:],
    }  # fmt: skip
    return rows, plans, figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = (
        ("p1", "limit", "p4", "p5", "p10", "p2", "create", "p9", "p6", "p7", "p3")
        if args.workload == "all"
        else (args.workload,)
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[Row] = []
    plans: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    base: float | None = None
    if main_workloads := tuple(w for w in chosen if w != "p3"):
        rows, plans, meta["server"] = run_main(args, main_workloads)
        base = rows[0].rps
    if "p3" in chosen:
        # Last, on its own database and server: the main server has stopped by now. Its rows
        # are ratios to the baseline above (or to its own when P3 runs alone).
        p3_rows, p3_plans, meta["server_p3"] = run_p3(args, base)
        rows += p3_rows
        plans += p3_plans

    print(table(rows))
    for key, name, log_file in (
        ("server", "server", "server.log"),
        ("server_p3", "P3's server", "server-p3.log"),
    ):
        if srv := meta.get(key):
            print(f"\n{name} RSS at end {srv['rss_mb_end']:.1f} MB, peak {srv['peak_rss_mb']:.1f} "
                  f"MB (P8 budget <= 250 MB); server log: {srv['log_line_count']} lines at "
                  f"WARNING or above (bench/results/{log_file})")  # fmt: skip
    for plan in plans:
        print(f"\nEXPLAIN ANALYZE  {plan['sql']}\n  params {plan['params']}")
        print("\n".join("  " + line for line in plan["plan"]))
    meta.update(
        finished_at=datetime.now(UTC).isoformat(),
        command=" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        config={k: v for k, v in vars(args).items()},
        machine={"cpus": os.cpu_count(), "python": platform.python_version()},
        wall_s=round(time.monotonic() - started, 1),
        explain=plans,
    )
    write_json(RESULTS / "latest.json", rows, meta)
    log(f"done in {meta['wall_s']} s; JSON in {RESULTS / 'latest.json'}")
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0
