"""The bench database: created fresh each run, migrated, and bulk-seeded with COPY.

The tenant, its admin and the API key go through the `reten` CLI (the supported path, so the key
is exactly what an integrator would get). Everything else (100 000 activities and their rows)
is written with asyncpg's binary COPY, which takes a few seconds where the service layer would
take many minutes. The rows must still be what the service would have written, so the values
follow activities/lifecycle.py (READY <=> SCHEDULED/OPEN, COMPLETED <=> EFFECTIVE/DONE ...), and
every column list is checked against the models before copying.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

PG = "postgres@127.0.0.1:5432"
ADMIN_DSN = f"postgresql://{PG}/postgres"
TENANT_SLUG = "bench"
ADMIN_EMAIL = "admin@bench.reten.dev"
RESULT_CODE = "SALE_COMPLETED"
REASONS = ("retention", "reactivation", "cross_sell", "new_launch")


def dsn(database: str) -> str:
    return f"postgresql://{PG}/{database}"


def database_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG}/{database}"


@dataclass(frozen=True)
class SeedConfig:
    database: str = "reten_bench"
    activities: int = 100_000
    commerces: int = 2_000
    operators: int = 100
    routes: int = 20
    # One activity in `every` has an EFFECTIVE result, one more is canceled; the rest are READY,
    # so status=PENDING matches ~90 % of the tenant and the outer join to results is exercised.
    every: int = 20
    rng_seed: int = 42


@dataclass(frozen=True)
class Seeded:
    tenant_id: uuid.UUID
    api_key: str
    ready: int
    pool_file: Path  # READY activities for P2, latest scheduled first
    commerce_id: uuid.UUID
    route_id: uuid.UUID
    operator_id: uuid.UUID
    admin_password: str = ""  # of ADMIN_EMAIL, for the panel workload's login


async def recreate_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        # FORCE: a previous run killed mid-way may have left connections open.
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _cli(*args: str, database: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env["RETEN_ENV"] = "development"
    cmd = [sys.executable, "-m", "reten.cli.main", *args, "--database-url", database_url(database)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def check_columns(table: str, columns: Sequence[str]) -> None:
    """Refuse a column list for `table` that no longer matches the SQLAlchemy model.

    COPY and INSERT ... SELECT bypass SQLAlchemy's Python-side defaults, so a NOT NULL column
    added to a model later would otherwise fail with an obscure error (or a new nullable one
    would silently stay NULL).
    """
    from reten.models import Base

    model = Base.metadata.tables[table]
    required = {c.name for c in model.columns if not c.nullable and c.server_default is None}
    missing = required - set(columns)
    unknown = set(columns) - set(model.columns.keys())
    if missing or unknown:
        raise RuntimeError(
            f"bench seed for {table} is out of date: missing {missing}, unknown {unknown}"
        )


async def _copy(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """COPY rows into `table`, refusing column lists that no longer match the model."""
    check_columns(table, columns)
    await conn.copy_records_to_table(table, columns=list(columns), records=records)


async def seed(cfg: SeedConfig, pool_file: Path) -> Seeded:
    await recreate_database(cfg.database)
    _cli("db", "upgrade", database=cfg.database)
    admin_password = secrets.token_urlsafe(16)
    _cli(
        "tenants", "create", TENANT_SLUG, "--name", "Bench Retail", "--admin-email", ADMIN_EMAIL,
        "--admin-password", admin_password, database=cfg.database,
    )  # fmt: skip
    api_key = _cli(
        "api-keys", "create", "--tenant", TENANT_SLUG, "--name", "bench-load",
        "--permission", "VIEW_ACTIVITIES", "--permission", "SUBMIT_ACTIVITY_RESULT",
        "--permission", "CREATE_ACTIVITY", "--permission", "SYNC_COMMERCES",
        database=cfg.database,
    ).strip().splitlines()[-1]  # fmt: skip

    conn = await asyncpg.connect(dsn(cfg.database))
    try:
        tenant_id = await conn.fetchval("SELECT id FROM tenants WHERE slug = $1", TENANT_SLUG)
        async with conn.transaction():
            ready = await _bulk(conn, tenant_id, cfg, pool_file)
        # Fresh statistics and a set visibility map: index-only scans (the list's count) are
        # only index-only once VACUUM has run, as autovacuum would have done in production.
        await conn.execute("VACUUM ANALYZE")
        # One commerce and one route with a linked operator, for the creation workloads.
        link = await conn.fetchrow(
            "SELECT ro.route_id, ro.operator_id, ca.commerce_id FROM route_operators ro, "
            "commerce_assignments ca WHERE ro.tenant_id = $1 AND ca.tenant_id = $1 LIMIT 1",
            tenant_id,
        )
    finally:
        await conn.close()
    return Seeded(
        tenant_id=tenant_id,
        api_key=api_key,
        ready=ready,
        pool_file=pool_file,
        commerce_id=link["commerce_id"],
        route_id=link["route_id"],
        operator_id=link["operator_id"],
        admin_password=admin_password,
    )


async def _bulk(conn: asyncpg.Connection, tid: uuid.UUID, cfg: SeedConfig, pool_file: Path) -> int:
    rng = random.Random(cfg.rng_seed)
    now = datetime.now(UTC)
    ts = (now, now)  # created_at, updated_at

    await _copy(
        conn, "task_result_types",
        ("id", "tenant_id", "code", "label", "requires_future_scheduled_at", "outcome",
         "is_active", "sort_order", "created_at", "updated_at"),
        [(uuid.uuid4(), tid, RESULT_CODE, "Venta completada", False, "EFFECTIVE", True, 10, *ts),
         (uuid.uuid4(), tid, "NOT_INTERESTED", "No interesado", False, "NOT_EFFECTIVE", True, 20, *ts)],
    )  # fmt: skip

    commerces = [(uuid.uuid4(), f"BC-{i:06d}") for i in range(cfg.commerces)]
    await _copy(
        conn, "commerces",
        ("id", "tenant_id", "external_id", "name", "metadata", "is_active", "is_placeholder",
         "created_at", "updated_at"),
        [(cid, tid, ext, f"Comercio {i}", "{}", True, False, *ts)
         for i, (cid, ext) in enumerate(commerces)],
    )  # fmt: skip

    routes = [uuid.uuid4() for _ in range(cfg.routes)]
    await _copy(
        conn, "routes",
        ("id", "tenant_id", "name", "external_id", "metadata", "is_active", "created_at", "updated_at"),
        [(rid, tid, f"Ruta {i}", f"BR-{i:03d}", "{}", True, *ts) for i, rid in enumerate(routes)],
    )  # fmt: skip

    operators = [uuid.uuid4() for _ in range(cfg.operators)]
    await _copy(
        conn, "operators",
        ("id", "tenant_id", "type", "external_id", "first_name", "last_name", "metadata",
         "is_active", "is_placeholder", "created_at", "updated_at"),
        [(oid, tid, "SALESMAN", f"BOP-{i:04d}", "Operador", str(i), "{}", True, False, *ts)
         for i, oid in enumerate(operators)],
    )  # fmt: skip

    # Each operator works on one route; a task's route is its operator's (as create_activity
    # requires: the operator must be linked to the route).
    route_of = {oid: routes[i % len(routes)] for i, oid in enumerate(operators)}
    await _copy(
        conn, "route_operators",
        ("id", "tenant_id", "route_id", "operator_id", "role", "is_active", "created_at", "updated_at"),
        [(uuid.uuid4(), tid, route_of[oid], oid, "MEMBER", True, *ts) for oid in operators],
    )  # fmt: skip

    activities: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    details: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    pool: list[tuple[datetime, uuid.UUID, str]] = []
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for i in range(cfg.activities):
        aid = uuid.uuid4()
        cid, commerce_ext = commerces[rng.randrange(len(commerces))]
        oid = operators[rng.randrange(len(operators))]
        # Random times: the heap order has nothing to do with the index order, as in real life.
        scheduled = start + timedelta(seconds=rng.randrange(60 * 86400))
        kind = i % cfg.every
        result_id = None
        state: tuple[str, str, str, str | None, int]
        if kind == 0:  # an EFFECTIVE result: the activity is COMPLETED
            result_id = uuid.uuid4()
            state = ("COMPLETED", "EFFECTIVE", "DONE", None, 2)
            results.append(
                (result_id, tid, aid, cid, "RETEN_ACTIVITY", "COMPLETED", now - timedelta(hours=2),
                 False, "COMPLETED", RESULT_CODE, "SYSTEM", *ts)
            )  # fmt: skip
        elif kind == 1:  # canceled by an admin
            state = ("CANCELED", "CANCELED", "CANCELED", "Commerce closed", 2)
        else:  # READY with no result
            state = ("READY", "SCHEDULED", "OPEN", None, 1)
            pool.append((scheduled, aid, commerce_ext))
        status, lifecycle, phase, detail, version = state
        activities.append(
            (aid, tid, "TASK", "CALLCENTER" if i % 5 == 4 else "SALESMAN", status, lifecycle, phase,
             detail, REASONS[i % len(REASONS)], rng.randint(1, 100), scheduled, f"bench-{i:07d}",
             result_id, result_id, version, 0, 0, *ts)
        )  # fmt: skip
        assignments.append((aid, tid, cid, *ts))
        details.append((aid, tid, route_of[oid], oid, *ts))

    await _copy(
        conn, "activities",
        ("id", "tenant_id", "type", "channel", "status", "lifecycle_status", "phase",
         "lifecycle_detail", "reason", "score", "scheduled_at", "idempotency_key",
         "current_result_id", "final_result_id", "version", "attempt_count", "attempt_total",
         "created_at", "updated_at"),
        activities,
    )  # fmt: skip
    await _copy(
        conn, "commerce_assignments",
        ("activity_id", "tenant_id", "commerce_id", "created_at", "updated_at"),
        assignments,
    )  # fmt: skip
    await _copy(
        conn, "task_details",
        ("activity_id", "tenant_id", "route_id", "operator_id", "created_at", "updated_at"),
        details,
    )  # fmt: skip
    await _copy(
        conn, "activity_results",
        ("id", "tenant_id", "activity_id", "commerce_id", "source", "status", "occurred_at",
         "hard_override", "activity_status", "result_code", "created_by_type",
         "created_at", "updated_at"),
        results,
    )  # fmt: skip
    # The results were copied after the activities that point at them (their foreign key wants
    # the activities first), and a result's item follows only its activity's UPDATE: render the
    # items of those activities again, as that UPDATE would have.
    await conn.execute(
        "SELECT reten_render_task_items(ARRAY(SELECT activity_id FROM activity_results"
        " WHERE tenant_id = $1))",
        tid,
    )

    # P2 takes activities from the far end of the schedule, so P1's first pages stay the same
    # if P1 is run again on a kept database.
    pool.sort(reverse=True)
    # A one-off write before any load starts; nothing else is waiting on this loop.
    pool_file.write_text("".join(f"{aid},{ext}\n" for _, aid, ext in pool))  # noqa: ASYNC240
    return len(pool)


async def verify_results(database: str, ids: list[str]) -> tuple[int, int]:
    """(results found, of which the activity now points at it as its COMPLETED final result)."""
    conn = await asyncpg.connect(dsn(database))
    try:
        row = await conn.fetchrow(
            """
            SELECT count(r.id) AS found,
                   count(a.id) FILTER (WHERE a.status = 'COMPLETED' AND a.phase = 'DONE')
                       AS completed
            FROM activity_results r
            LEFT JOIN activities a ON a.id = r.activity_id AND a.final_result_id = r.id
            WHERE r.id = ANY($1::uuid[])
            """,
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["found"]), int(row["completed"])


async def session_count(database: str) -> int:
    """Connections ever opened to `database` (pg_stat_database.sessions, PostgreSQL 14+).

    The delta over a workload shows connection churn: a pool that is smaller than the
    concurrency closes and reopens connections, and each one costs a fork, authentication and
    re-preparing every statement.
    """
    conn = await asyncpg.connect(dsn(database))
    try:
        # Our own connection counts as one once the stats are flushed; callers take deltas of
        # two calls, so it cancels out.
        await conn.execute("SELECT pg_stat_force_next_flush()")
        return int(
            await conn.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1", database
            )
        )
    finally:
        await conn.close()
