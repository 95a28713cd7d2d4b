"""R7: migrations build the schema from nothing, match the models, and downgrade cleanly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import reten.models  # noqa: F401
from reten.kit.db import Base, Database
from reten.migrations import downgrade, upgrade
from tests.conftest import BACKEND, _drop_pg_database, _recreate_pg_database


@pytest.fixture
async def empty_database(tmp_path: Path) -> AsyncIterator[Database]:
    name = f"reten_migrations_{uuid.uuid4().hex[:8]}"
    if BACKEND == "postgres":
        url = await _recreate_pg_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    yield Database(url)
    if BACKEND == "postgres":
        await _drop_pg_database(name)


class TestMigrations:
    async def test_upgrade_from_empty_matches_the_models_and_downgrades(
        self, empty_database: Database
    ) -> None:
        db = empty_database
        try:
            await upgrade(db.engine)
            async with db.engine.connect() as conn:
                diff = await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                    )
                )
                tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert diff == []
            assert set(Base.metadata.tables) <= tables
            await upgrade(db.engine)  # idempotent: nothing pending
            await downgrade(db.engine, "base")
            async with db.engine.connect() as conn:
                left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert left <= {"alembic_version"}
            await upgrade(db.engine)
        finally:
            await db.dispose()
