"""Test fixtures: a real database (SQLite or PostgreSQL) and the real app over ASGI.

`RETEN_TEST_DATABASE=sqlite` (default) or `postgres`. With postgres, each xdist worker gets its
own database on RETEN_TEST_POSTGRES_URL, created fresh for the session; an unreachable server is
an error, never a skip. Tests isolate themselves by creating their own tenants (random slugs),
so no table needs wiping between tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from reten.app import create_app
from reten.config import Settings
from reten.kit.db import Database
from tests.factories import Factory

T = TypeVar("T")

BACKEND = os.environ.get("RETEN_TEST_DATABASE", "sqlite")
PG_URL = os.environ.get("RETEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


def run_off_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when the calling thread is inside an
    event loop (a sync session fixture first requested by an async test): in a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def _recreate_pg_database(name: str) -> str:
    import asyncpg

    try:
        conn = await asyncpg.connect(f"{PG_URL}/postgres", timeout=10)
    except Exception as exc:  # the suite must fail, not skip, without PostgreSQL
        raise RuntimeError(
            f"PostgreSQL is required for RETEN_TEST_DATABASE=postgres: {exc}"
        ) from exc
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{PG_URL.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_URL}/postgres", timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if BACKEND == "postgres":
        prefix = os.environ.get("RETEN_TEST_PG_PREFIX", "reten_test")
        return run_off_loop(_recreate_pg_database(f"{prefix}_{_worker()}"))
    if BACKEND != "sqlite":
        raise RuntimeError(f"unknown RETEN_TEST_DATABASE {BACKEND!r}")
    path: Path = tmp_path_factory.mktemp("db") / "reten.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-with-enough-length-0123456789",
        log_level="WARNING",
        rate_limit_per_minute=100_000,
        login_rate_limit=1000,
        # Tests drive the dispatcher themselves (tests/dispatch), round by round.
        run_dispatcher=False,
        # Test receivers listen on loopback; the guard itself is tested with it off.
        dispatch_allow_private_networks=True,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture(scope="session")
def db(app: object) -> Database:
    return app.state.runtime.db  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def factory(db: Database, client: httpx.AsyncClient) -> Factory:
    return Factory(db, client)
