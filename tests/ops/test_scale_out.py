"""Scale-out: processes starting together on an old schema take turns migrating (the advisory
lock), `reten db upgrade --check` tells an operator whether migrations are pending, `serve
--workers N` runs N API processes whose metrics add up, and the PgBouncer setting reaches the
driver."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

import reten.models  # noqa: F401
from reten.activity_config.models import AttributeKey
from reten.activity_config.service import ATTRIBUTE_KEYS
from reten.dispatch.models import ChannelDefinition, DispatchProvider
from reten.dispatch.providers import REGISTRY
from reten.kit.db import Base, Database
from reten.migrations import pending
from tests.conftest import BACKEND, _drop_pg_database, _recreate_pg_database
from tests.ops.procs import Procs

PREFIX = os.environ.get("RETEN_TEST_PG_PREFIX", "reten_test")
needs_postgres = pytest.mark.skipif(
    BACKEND != "postgres", reason="several processes on one database need PostgreSQL"
)


@pytest.fixture
async def empty_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, on the suite's backend."""
    name = f"{PREFIX}_ops_{uuid.uuid4().hex[:8]}"
    if BACKEND == "postgres":
        yield await _recreate_pg_database(name)
        await _drop_pg_database(name)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


async def _listeners(db: Database) -> int:
    async with db.engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
            )
        )
        return int(found.scalar_one())


class TestUpgradeCheck:
    async def test_check_exits_1_while_migrations_are_pending_and_0_once_current(
        self, empty_url: str, procs: Procs
    ) -> None:
        before = procs.run("db", "upgrade", "--check", "--database-url", empty_url)
        assert before.returncode == 1, before.stderr
        assert "pending" in before.stderr
        # --check changes nothing.
        again = procs.run("db", "upgrade", "--check", "--database-url", empty_url)
        assert again.returncode == 1
        done = procs.run("db", "upgrade", "--database-url", empty_url)
        assert done.returncode == 0, done.stderr
        after = procs.run("db", "upgrade", "--check", "--database-url", empty_url)
        assert after.returncode == 0, after.stderr
        db = Database(empty_url)
        try:
            assert await pending(db.engine) == []
        finally:
            await db.dispose()


class TestStartingTogether:
    @needs_postgres
    async def test_four_processes_on_an_empty_database_all_come_up_with_the_right_schema(
        self, empty_url: str, procs: Procs
    ) -> None:
        env = {"RETEN_DATABASE_URL": empty_url, "RETEN_MIGRATE_ON_START": "true"}
        servers = [procs.start("serve", "--no-dispatcher", **env) for _ in range(2)]
        workers = [procs.start("worker", **env) for _ in range(2)]
        await asyncio.gather(*(s.until_ready(150) for s in servers))
        db = Database(empty_url)
        try:
            deadline = time.monotonic() + 150
            while await _listeners(db) < 2:
                for w in workers:
                    assert w.popen.poll() is None, w.output()
                assert time.monotonic() < deadline, "the workers did not start"
                await asyncio.sleep(0.1)
            for p in servers + workers:
                assert p.popen.poll() is None, p.output()
            async with db.engine.connect() as conn:
                diff = await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                    )
                )
                versions = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).all()
            assert diff == []
            assert len(versions) == 1
            assert await pending(db.engine) == []
            async with db.sessionmaker() as session:
                providers = await session.scalar(select(func.count()).select_from(DispatchProvider))
                channels = await session.scalar(select(func.count()).select_from(ChannelDefinition))
                keys = await session.scalar(select(func.count()).select_from(AttributeKey))
            # Seeded once, not once per process.
            assert (providers, keys) == (len(REGISTRY), len(ATTRIBUTE_KEYS))
            assert channels == len(REGISTRY) * 6
        finally:
            await db.dispose()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _sample(metrics: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in metrics.splitlines():
        match = re.match(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            total += float(match.group(2))
    return total


class TestWorkers:
    async def test_more_than_one_worker_is_refused_on_sqlite(
        self, tmp_path: Path, procs: Procs
    ) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
        answer = procs.run("serve", "--workers", "2", "--port", "1", "--database-url", url)
        assert answer.returncode == 1
        assert "PostgreSQL" in answer.stderr

    @needs_postgres
    async def test_n_api_processes_serve_and_their_metrics_add_up(self, procs: Procs) -> None:
        server = procs.start("serve", "--workers", "2", "--no-dispatcher")
        await server.until_ready(150)
        deadline = time.monotonic() + 30
        while len(_children(server.popen.pid)) < 2:
            assert time.monotonic() < deadline, "fewer than 2 worker processes"
            await asyncio.sleep(0.1)
        n = 40
        # A fresh connection per request, so both processes answer some of them.
        async with httpx.AsyncClient(
            base_url=server.url, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http:
            for _ in range(n):
                assert (await http.get("/api/health")).status_code == 200
            scraped = [(await http.get("/metrics")).text for _ in range(4)]
        # Whichever process answers the scrape, it reports every process's requests.
        for text_ in scraped:
            count = _sample(
                text_, "reten_http_requests_total", route="/api/health", method="GET", status="200"
            )
            assert count == n, count
        server.terminate()
        assert await server.exit_code() == 0, server.output()


class TestPgBouncerSetting:
    @needs_postgres
    async def test_statement_cache_size_0_reaches_asyncpg_and_queries_work(
        self, database_url: str
    ) -> None:
        db = Database(database_url, statement_cache_size=0)
        try:
            async with db.engine.connect() as conn:
                for _ in range(3):
                    assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                assert driver._stmt_cache.get_max_size() == 0
        finally:
            await db.dispose()
