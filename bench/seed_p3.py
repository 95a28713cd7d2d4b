"""P3's database: one tenant of 1 000 000 activities, one of 10 000, nine more of 100 000.

P3 asks whether the task list stays index-bound as the tables grow, so its database is its own
(`reten_bench_p3` by default) and the other workloads keep their 100 000-activity seed. 1.9
million activities are too many to build in Python and ship over COPY (100 000 take about 12 s
that way), so the rows are generated inside PostgreSQL with `INSERT ... SELECT` over
`generate_series`, with the same distributions as seed.py: per tenant 2 000 commerces, 100
operators on 20 routes, two result types; per activity one commerce assignment and one
task_details row; 90 % READY, 5 % COMPLETED with an EFFECTIVE result, 5 % CANCELED; scheduled
at random over 60 days. The tenants' rows are interleaved in the heap (as rows written over time
by many tenants are), so a small tenant is not packed into a few pages of its own.

The load (`bulk_load`) drops every index of the tables it fills (primary keys included) and the
foreign keys from and to them, writes every row in one transaction with triggers off
(`session_replication_role = replica`), runs the after-load steps that fill anything triggers
would have maintained, then builds the indexes back two at a time, validates every foreign key
(so the seed is checked, and the schema ends exactly as the migrations made it) and runs VACUUM
ANALYZE. Every column list is checked against the models first (seed.check_columns). About 40 s
on an idle two-core machine, most of it sorting for the 22 indexes.

A seeded database carries a fingerprint in its comment: a hash of this file, the configuration
and the migration heads. With `--reuse-p3`, a database whose fingerprint matches is used as it
is (the harness only mints fresh API keys for it), so repeated runs skip the seed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bench.seed import ADMIN_DSN, REASONS, RESULT_CODE, _cli, check_columns, dsn, recreate_database

LARGE_SLUG = "bench-p3-large"
SMALL_SLUG = "bench-p3-small"
OTHER_SLUG = "bench-p3-other-{}"
KEY_PERMISSIONS = ("VIEW_ACTIVITIES",)

# The tables the bulk load fills: their indexes and foreign keys are dropped before it and built
# after it. A table filled by an after-load step (a read model maintained by triggers, say)
# belongs here too, so its indexes are also built once over the full table.
BULK_TABLES = ("activities", "commerce_assignments", "task_details", "activity_results")

# Steps run once every row is in, in the load's transaction (triggers still off) and before the
# indexes come back: derived data that triggers would have maintained row by row. Each is
# (name, SQL); the SQL sees the whole seed and should fill its table with one INSERT ... SELECT
# (its joins on activity_id are hash joins: the primary keys are not there yet).
AFTER_LOAD: tuple[tuple[str, str], ...] = ()

# The small tables' rows (tenants, commerces, routes, operators, result types): one step.
REFERENCE_STEP = "9 tenants' rows, commerces, routes, operators"
# Index builds run on this many connections at once (the machine has two cores).
INDEX_BUILDERS = 2
SESSION_SETTINGS = (
    "SET synchronous_commit = off",  # one bulk load; nothing is lost if the machine dies
    "SET maintenance_work_mem = '256MB'",  # index builds sort in memory instead of on disk
    "SET work_mem = '64MB'",  # the lookups' hash joins
)


@dataclass(frozen=True)
class P3Config:
    database: str = "reten_bench_p3"
    large: int = 1_000_000
    small: int = 10_000
    others: int = 9
    other_size: int = 100_000
    commerces: int = 2_000
    operators: int = 100
    routes: int = 20
    every: int = 20  # as SeedConfig.every: one in 20 COMPLETED, one in 20 CANCELED
    rng_seed: float = 0.42  # setseed(): the same schedule on every seed

    def sizes(self) -> list[int]:
        """Activities per tenant: the large one, the small one, then the others."""
        return [self.large, self.small, *([self.other_size] * self.others)]


@dataclass(frozen=True)
class P3Tenant:
    slug: str
    tenant_id: uuid.UUID
    activities: int
    api_key: str


@dataclass
class P3Seeded:
    large: P3Tenant
    small: P3Tenant
    reused: bool
    note: str = ""  # why a reuse asked for did not happen
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step of the seed
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table

    def summary(self) -> str:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.steps.items())
        if self.reused:
            return f"reused (fingerprint matches) in {self.seconds:.1f} s: {steps}"
        total = self.rows.get("activities", 0)
        why = f" (not reused: {self.note})" if self.note else ""
        return f"seeded {total} activities{why} in {self.seconds:.1f} s: {steps}"


def fingerprint(cfg: P3Config) -> str:
    """What a kept database must have been seeded with to be reused: this file's code, the
    configuration and the schema (migration heads)."""
    from alembic.script import ScriptDirectory

    from reten.migrations import alembic_config

    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    spec = {k: v for k, v in asdict(cfg).items() if k != "database"}
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(json.dumps({"config": spec, "heads": heads}, sort_keys=True).encode())
    return f"bench P3 seed {digest.hexdigest()[:32]}"


async def _stored_fingerprint(database: str) -> str | None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        value = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            database,
        )
    finally:
        await conn.close()
    return str(value) if value is not None else None


async def _mint_key(slug: str, database: str) -> str:
    out = await asyncio.to_thread(
        _cli, "api-keys", "create", "--tenant", slug, "--name", "bench-p3",
        *(a for p in KEY_PERMISSIONS for a in ("--permission", p)), database=database,
    )  # fmt: skip
    return out.strip().splitlines()[-1]


async def prepare(cfg: P3Config, *, reuse: bool) -> P3Seeded:
    """The P3 database, seeded (or reused when asked and its fingerprint matches)."""
    started = time.monotonic()
    steps: dict[str, float] = {}

    async def step(name: str, work: Awaitable[object]) -> None:
        t0 = time.monotonic()
        await work
        steps[name] = time.monotonic() - t0

    expected = fingerprint(cfg)
    stored = await _stored_fingerprint(cfg.database) if reuse else None
    reused = reuse and stored == expected
    note = ""
    if reuse and not reused:
        note = "fingerprint differs" if stored else "no seeded database to reuse"
    if not reused:
        await step("database + migrations", _schema(cfg.database))
        await step("2 tenants (CLI)", _measured_tenants(cfg.database))
    keys: list[str] = []

    async def mint() -> None:
        keys.extend(
            await asyncio.gather(*(_mint_key(s, cfg.database) for s in (LARGE_SLUG, SMALL_SLUG)))
        )

    await step("2 API keys (CLI)", mint())
    rows: dict[str, int] = {}
    conn = await asyncpg.connect(dsn(cfg.database))
    try:
        ids = dict(
            await conn.fetch(
                "SELECT slug, id FROM tenants WHERE slug = ANY($1::text[])",
                [LARGE_SLUG, SMALL_SLUG],
            )
        )
        if not reused:
            load = await bulk_load(conn, cfg, ids[LARGE_SLUG], ids[SMALL_SLUG])
            steps.update(load.seconds)
            rows.update(load.rows)
            # Written last: a seed interrupted before this point is never reused.
            await conn.execute(f"COMMENT ON DATABASE \"{cfg.database}\" IS '{expected}'")
    finally:
        await conn.close()
    return P3Seeded(
        large=P3Tenant(LARGE_SLUG, ids[LARGE_SLUG], cfg.large, keys[0]),
        small=P3Tenant(SMALL_SLUG, ids[SMALL_SLUG], cfg.small, keys[1]),
        reused=reused,
        note=note,
        seconds=time.monotonic() - started,
        steps=steps,
        rows=rows,
    )


async def _schema(database: str) -> None:
    await recreate_database(database)
    await asyncio.to_thread(_cli, "db", "upgrade", database=database)


async def _measured_tenants(database: str) -> None:
    """The two measured tenants through `reten tenants create` (the supported path, as seed.py
    does), side by side; the nine others are plain rows written by the bulk load."""

    def create(slug: str, name: str) -> str:
        admin = f"admin@{slug}.reten.dev"
        return _cli(
            "tenants", "create", slug, "--name", name, "--admin-email", admin, database=database
        )

    await asyncio.gather(
        asyncio.to_thread(create, LARGE_SLUG, "Bench P3 large"),
        asyncio.to_thread(create, SMALL_SLUG, "Bench P3 small"),
    )


def _slots(sizes: list[int]) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Interleave the tenants' activities in the heap without sorting anything.

    Every size is a multiple of `unit` (their gcd), so tenant t owns sizes[t] / unit of the
    `n` = sum / unit slots, spread evenly over them. Row g of the load goes to slot g % n,
    and within its tenant it is activity (g // n) * slots_of_tenant + offset_of_slot: every
    index 0 .. size - 1 exactly once. Returns (n, [(slot, tenant, slots_of_tenant, offset)]).
    """
    unit = math.gcd(*sizes)
    counts = [s // unit for s in sizes]
    n = sum(counts)
    # Slot s goes to the tenant whose share of the slots so far lags its quota most, which
    # spreads each tenant evenly (the large one every other slot, the small one once in n).
    taken = [0] * len(sizes)
    out = []
    for s in range(n):
        t = max(range(len(sizes)), key=lambda t: (counts[t] * (s + 1) / n - taken[t], -t))
        out.append((s, t, counts[t], taken[t]))
        taken[t] += 1
    assert taken == counts
    return n, out


class _Load:
    """One connection's INSERTs, their row counts and their times, per table."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    async def insert(
        self, table: str, columns: tuple[str, ...], select: str, *args: object, step: str = ""
    ) -> int:
        """`INSERT INTO table (columns) <select>`, the column list checked against the model;
        its time is counted under `step` (default: the table)."""
        check_columns(table, columns)
        t0 = time.monotonic()
        status = await self.conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) {select}", *args
        )
        step = step or table
        self.seconds[step] = self.seconds.get(step, 0.0) + time.monotonic() - t0
        self.rows[table] = self.rows.get(table, 0) + int(status.rsplit(" ", 1)[-1])
        return self.rows[table]


async def bulk_load(
    conn: asyncpg.Connection, cfg: P3Config, large_id: uuid.UUID, small_id: uuid.UUID
) -> _Load:
    """Every row of the seed, then the indexes and VACUUM ANALYZE; rows and seconds per step.

    All rows are written in one transaction with triggers off; the after-load point below is
    where derived data (anything a trigger would have maintained) is filled from them."""
    load = _Load(conn)
    for setting in SESSION_SETTINGS:
        await conn.execute(setting)
    await conn.execute("SELECT setseed($1)", cfg.rng_seed)
    deferred = await _drop_indexes(conn)

    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    sizes = cfg.sizes()
    tenant_ids = [large_id, small_id, *(uuid.uuid4() for _ in range(cfg.others))]
    async with conn.transaction():
        # Triggers off for this transaction: a trigger maintaining derived data would do its work
        # row by row; AFTER_LOAD below does it once. (The foreign keys are dropped already; they
        # are validated when they come back.)
        await conn.execute("SET LOCAL session_replication_role = replica")
        await load.insert(
            "tenants", ("id", "name", "slug", "locale", "time_zone", "created_at", "updated_at"),
            "SELECT id, 'Bench P3 other ' || n, format($2, n), 'es', 'America/Santiago', $3, $3"
            " FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)",
            tenant_ids[2:], OTHER_SLUG.replace("{}", "%s"), now, step=REFERENCE_STEP,
        )  # fmt: skip
        await _lookups(conn, cfg, tenant_ids, sizes)
        await _reference_rows(load, cfg, now)
        await _activities(load, cfg, sizes, start, now)

        # After load: every row is in, triggers are still off. Derived data is filled here.
        for name, sql in AFTER_LOAD:
            t0 = time.monotonic()
            await conn.execute(sql)
            load.seconds[name] = time.monotonic() - t0

    await _rebuild(cfg.database, deferred, load.seconds)
    # The task list's read model (task_list_items), which the triggers fill row by row, built
    # once with the migration's own function now that the primary keys are back (it upserts).
    t0 = time.monotonic()
    await conn.execute("SELECT reten_render_tenant_task_items(id) FROM tenants")
    load.seconds["task_list_items"] = time.monotonic() - t0
    t0 = time.monotonic()
    # Fresh statistics and a set visibility map: the capped count is an index-only scan only
    # once VACUUM has run, as autovacuum would have done in production.
    await conn.execute("VACUUM ANALYZE")
    load.seconds["VACUUM ANALYZE"] = time.monotonic() - t0
    return load


@dataclass(frozen=True)
class _Deferred:
    """What the load dropped, to be built back once the rows are in."""

    # (table, CREATE INDEX statement, constraint it backs or None, "PRIMARY KEY"/"UNIQUE"/"")
    indexes: list[tuple[str, str, str | None, str]]
    # (referencing table, constraint name, its definition)
    foreign_keys: list[tuple[str, str, str]]


async def _drop_indexes(conn: asyncpg.Connection) -> _Deferred:
    """Drop every index of BULK_TABLES, primary keys included, and every foreign key from or to
    them (a primary key cannot go while a foreign key depends on it).

    Inserting into an index costs more than the row itself: with the primary key in place the
    activities alone take about three times as long, their uuid4 ids landing on random pages.
    Built afterwards, each index is one sort."""
    tables = list(BULK_TABLES)
    fks = await conn.fetch(
        """
        SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS ddl
        FROM pg_constraint
        WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1::text[])
                                 OR confrelid::regclass::text = ANY($1::text[]))
        ORDER BY 1, 2
        """,
        tables,
    )
    indexes = await conn.fetch(
        """
        SELECT t.relname AS tbl, i.relname AS idx, pg_get_indexdef(i.oid) AS ddl,
               con.conname, con.contype::text AS contype
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = t.oid
        WHERE t.relname = ANY($1::text[]) AND t.relnamespace = 'public'::regnamespace
        ORDER BY array_position($1::text[], t.relname::text), x.indisprimary DESC, i.relname
        """,
        tables,
    )
    kinds = {"p": "PRIMARY KEY", "u": "UNIQUE", None: ""}
    if odd := [r["conname"] for r in indexes if r["contype"] not in kinds]:
        raise RuntimeError(f"P3 seed cannot rebuild the constraints {odd}; extend _drop_indexes")
    for r in fks:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
    for r in indexes:
        if r["conname"]:
            await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
        else:
            await conn.execute(f'DROP INDEX "{r["idx"]}"')
    return _Deferred(
        indexes=[(r["tbl"], r["ddl"], r["conname"], kinds[r["contype"]]) for r in indexes],
        foreign_keys=[(r["tbl"], r["conname"], r["ddl"]) for r in fks],
    )


async def _lookups(
    conn: asyncpg.Connection, cfg: P3Config, tenant_ids: list[uuid.UUID], sizes: list[int]
) -> None:
    """Session tables the INSERTs join to: the tenants' slots, and each tenant's k-th commerce,
    route and operator (uuid4 ids, as the service gives them)."""
    _, slots = _slots(sizes)
    await conn.execute(
        """
        CREATE TEMP TABLE p3_slots ON COMMIT DROP AS
        SELECT s.slot, ($1::uuid[])[s.t + 1] AS tenant_id, s.tenant_slots, s.slot_offset
        FROM unnest($2::int[], $3::int[], $4::int[], $5::int[])
             AS s(slot, t, tenant_slots, slot_offset);
        """,
        tenant_ids, *([s[i] for s in slots] for i in range(4)),
    )  # fmt: skip
    for sql in (
        "CREATE TEMP TABLE p3_commerces ON COMMIT DROP AS SELECT t.id AS tenant_id, k,"
        " gen_random_uuid() AS id FROM unnest($1::uuid[]) AS t(id), generate_series(0, $2 - 1) k",
        "CREATE TEMP TABLE p3_routes ON COMMIT DROP AS SELECT t.id AS tenant_id, k,"
        " gen_random_uuid() AS id FROM unnest($1::uuid[]) AS t(id), generate_series(0, $2 - 1) k",
    ):
        count = cfg.commerces if "commerces" in sql else cfg.routes
        await conn.execute(sql, tenant_ids, count)
    # Each operator works on one route (k mod routes), so a task's route is its operator's, as
    # create_activity requires.
    await conn.execute(
        "CREATE TEMP TABLE p3_operators ON COMMIT DROP AS SELECT r.tenant_id, o.k,"
        " gen_random_uuid() AS id, r.id AS route_id"
        " FROM p3_routes r JOIN generate_series(0, $1 - 1) AS o(k) ON o.k % $2 = r.k",
        cfg.operators, cfg.routes,
    )  # fmt: skip
    for table in ("p3_slots", "p3_commerces", "p3_routes", "p3_operators"):
        await conn.execute(f"ANALYZE {table}")


async def _reference_rows(load: _Load, cfg: P3Config, now: datetime) -> None:
    await load.insert(
        "task_result_types",
        ("id", "tenant_id", "code", "label", "requires_future_scheduled_at", "outcome",
         "is_active", "sort_order", "created_at", "updated_at"),
        "SELECT gen_random_uuid(), t.tenant_id, v.code, v.label, false, v.outcome, true, v.sort, $1, $1"
        " FROM (SELECT DISTINCT tenant_id FROM p3_routes) t, (VALUES"
        f" ('{RESULT_CODE}', 'Venta completada', 'EFFECTIVE', 10),"
        " ('NOT_INTERESTED', 'No interesado', 'NOT_EFFECTIVE', 20)) AS v(code, label, outcome, sort)",
        now, step=REFERENCE_STEP,
    )  # fmt: skip
    await load.insert(
        "commerces",
        ("id", "tenant_id", "external_id", "name", "metadata", "is_active", "is_placeholder",
         "created_at", "updated_at"),
        "SELECT id, tenant_id, 'BC-' || lpad(k::text, 6, '0'), 'Comercio ' || k, '{}', true,"
        " false, $1, $1 FROM p3_commerces",
        now, step=REFERENCE_STEP,
    )  # fmt: skip
    await load.insert(
        "routes",
        ("id", "tenant_id", "name", "external_id", "metadata", "is_active", "created_at", "updated_at"),
        "SELECT id, tenant_id, 'Ruta ' || k, 'BR-' || lpad(k::text, 3, '0'), '{}', true, $1, $1"
        " FROM p3_routes",
        now, step=REFERENCE_STEP,
    )  # fmt: skip
    await load.insert(
        "operators",
        ("id", "tenant_id", "type", "external_id", "first_name", "last_name", "metadata",
         "is_active", "is_placeholder", "created_at", "updated_at"),
        "SELECT id, tenant_id, 'SALESMAN', 'BOP-' || lpad(k::text, 4, '0'), 'Operador', k::text,"
        " '{}', true, false, $1, $1 FROM p3_operators",
        now, step=REFERENCE_STEP,
    )  # fmt: skip
    await load.insert(
        "route_operators",
        ("id", "tenant_id", "route_id", "operator_id", "role", "is_active", "created_at", "updated_at"),
        "SELECT gen_random_uuid(), tenant_id, route_id, id, 'MEMBER', true, $1, $1 FROM p3_operators",
        now, step=REFERENCE_STEP,
    )  # fmt: skip


async def _activities(
    load: _Load, cfg: P3Config, sizes: list[int], start: datetime, now: datetime
) -> None:
    """The activities, then their commerce assignments, task details and results.

    The values follow activities/lifecycle.py as seed.py's do (READY <=> SCHEDULED/OPEN,
    COMPLETED <=> EFFECTIVE/DONE with a result, CANCELED <=> CANCELED/CANCELED), chosen by the
    activity's number i within its tenant exactly as seed.py chooses them.
    """
    total = sum(sizes)
    n = len(_slots(sizes)[1])
    await load.insert(
        "activities",
        ("id", "tenant_id", "type", "channel", "status", "lifecycle_status", "phase",
         "lifecycle_detail", "reason", "score", "scheduled_at", "idempotency_key",
         "current_result_id", "final_result_id", "version", "attempt_count", "attempt_total",
         "created_at", "updated_at"),
        """
        SELECT gen_random_uuid(), tenant_id, 'TASK',
               CASE WHEN i % 5 = 4 THEN 'CALLCENTER' ELSE 'SALESMAN' END,
               CASE kind WHEN 0 THEN 'COMPLETED' WHEN 1 THEN 'CANCELED' ELSE 'READY' END,
               CASE kind WHEN 0 THEN 'EFFECTIVE' WHEN 1 THEN 'CANCELED' ELSE 'SCHEDULED' END,
               CASE kind WHEN 0 THEN 'DONE' WHEN 1 THEN 'CANCELED' ELSE 'OPEN' END,
               CASE kind WHEN 1 THEN 'Commerce closed' END,
               ($4::text[])[i % 4 + 1],
               1 + floor(random() * 100)::int,
               -- Random times: the heap order has nothing to do with the index order.
               $5::timestamptz + floor(random() * 60 * 86400) * interval '1 second',
               'bench-' || lpad(i::text, 7, '0'),
               result_id, result_id,
               CASE WHEN kind < 2 THEN 2 ELSE 1 END, 0, 0, $6, $6
        FROM (
            SELECT tenant_id, i, i % $3 AS kind,
                   CASE WHEN i % $3 = 0 THEN gen_random_uuid() END AS result_id
            FROM (SELECT s.tenant_id, (g / $2) * s.tenant_slots + s.slot_offset AS i
                  FROM generate_series(0, $1 - 1) AS g JOIN p3_slots s ON s.slot = g % $2) q
            OFFSET 0  -- evaluated once per row: result_id is both the current and final result
        ) r
        """,
        total, n, cfg.every, list(REASONS), start, now,
    )  # fmt: skip
    await load.insert(
        "commerce_assignments",
        ("activity_id", "tenant_id", "commerce_id", "created_at", "updated_at"),
        "SELECT a.id, a.tenant_id, c.id, $2, $2"
        " FROM (SELECT id, tenant_id, floor(random() * $1)::int AS k FROM activities OFFSET 0) a"
        " JOIN p3_commerces c ON c.tenant_id = a.tenant_id AND c.k = a.k",
        cfg.commerces, now,
    )  # fmt: skip
    await load.insert(
        "task_details",
        ("activity_id", "tenant_id", "route_id", "operator_id", "created_at", "updated_at"),
        "SELECT a.id, a.tenant_id, o.route_id, o.id, $2, $2"
        " FROM (SELECT id, tenant_id, floor(random() * $1)::int AS k FROM activities OFFSET 0) a"
        " JOIN p3_operators o ON o.tenant_id = a.tenant_id AND o.k = a.k",
        cfg.operators, now,
    )  # fmt: skip
    await load.insert(
        "activity_results",
        ("id", "tenant_id", "activity_id", "commerce_id", "source", "status", "occurred_at",
         "hard_override", "activity_status", "result_code", "created_by_type",
         "created_at", "updated_at"),
        "SELECT a.current_result_id, a.tenant_id, a.id, ca.commerce_id, 'RETEN_ACTIVITY',"
        f" 'COMPLETED', $1, false, 'COMPLETED', '{RESULT_CODE}', 'SYSTEM', $2, $2"
        " FROM activities a JOIN commerce_assignments ca ON ca.activity_id = a.id"
        " WHERE a.current_result_id IS NOT NULL",
        now - timedelta(hours=2), now,
    )  # fmt: skip
    completed = sum(len(range(0, s, cfg.every)) for s in sizes)
    expected = {
        "activities": total, "commerce_assignments": total, "task_details": total,
        "activity_results": completed,
    }  # fmt: skip
    if any(load.rows[k] != v for k, v in expected.items()):
        raise RuntimeError(f"P3 seed wrote {load.rows}, expected {expected}")


async def _rebuild(database: str, deferred: _Deferred, seconds: dict[str, float]) -> None:
    """Build the dropped indexes back and restore their constraints and the foreign keys.

    INDEX_BUILDERS connections each take the next CREATE INDEX: it takes a SHARE lock, which
    does not conflict with itself, so several build on one table at once. Primary keys and
    unique constraints are then attached to their indexes (USING INDEX only records them).
    Foreign keys come back NOT VALID and are then validated, a table per connection at a time
    (VALIDATE locks only the referencing table against itself): one anti-join per constraint
    checks every reference the load wrote, so the schema ends as the migrations left it and
    the seed is proven consistent."""
    workers = [await asyncpg.connect(dsn(database)) for _ in range(INDEX_BUILDERS)]
    try:
        for worker in workers:
            for setting in SESSION_SETTINGS:
                await worker.execute(setting)

        async def drain(worker: asyncpg.Connection, queue: list[list[str]]) -> None:
            while queue:
                for sql in queue.pop(0):
                    await worker.execute(sql)

        t0 = time.monotonic()
        builds = [[ddl] for _, ddl, _, _ in deferred.indexes]
        await asyncio.gather(*(drain(w, builds) for w in workers))
        main = workers[0]
        for table, _, constraint, kind in deferred.indexes:
            if constraint:
                await main.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {kind}'
                    f' USING INDEX "{constraint}"'
                )
        seconds[f"{len(deferred.indexes)} indexes"] = time.monotonic() - t0
        t0 = time.monotonic()
        by_table: dict[str, list[str]] = {}
        for table, name, ddl in deferred.foreign_keys:
            await main.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl} NOT VALID')
            by_table.setdefault(table, []).append(
                f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"'
            )
        # The tables with the most to check first, so the connections finish together.
        checks = sorted(by_table.values(), key=len, reverse=True)
        await asyncio.gather(*(drain(w, checks) for w in workers))
        seconds[f"{len(deferred.foreign_keys)} foreign keys validated"] = time.monotonic() - t0
    finally:
        for worker in workers:
            await worker.close()
