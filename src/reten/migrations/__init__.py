"""Schema migrations (Alembic). `upgrade` is what `reten db upgrade` and server start-up run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


# One number for "the schema of this database is being changed": any bigint both sides agree on.
SCHEMA_LOCK_KEY = 7_231_004_511


@asynccontextmanager
async def schema_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold PostgreSQL's advisory lock on the schema for the duration of the block, so that API
    processes and workers starting together migrate (and seed) one after the other: the first
    does the work, the others wait and find nothing left to do.

    A transaction-scoped lock on a connection of its own, held open for the whole block: it
    works behind PgBouncer in transaction mode (a session lock could be taken on one server
    connection and released on another) and a killed process releases it with its connection.
    SQLite needs none: its write lock already serialises migrations."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        yield


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", revision)


async def pending(engine: AsyncEngine) -> list[str]:
    """Revisions not yet applied to the database, oldest first (empty when it is current)."""
    script = ScriptDirectory.from_config(alembic_config())

    def _current(connection: Any) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    applied: set[str] = set()
    for head in current:
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    return [
        rev.revision
        for rev in reversed(list(script.walk_revisions("base", "heads")))
        if rev.revision not in applied
    ]


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision)


def _run(connection: Any, action: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, action)(cfg, revision)
