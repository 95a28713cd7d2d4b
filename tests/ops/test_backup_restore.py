"""The backup and restore sequence of docs/operations.md, run as written: a database with a
tenant and a key is dumped, restored into a new database, and the copy has the same rows, a
current schema, and accepts the same key."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from reten.api_keys import service as api_keys
from reten.kit.cache import TTLCache
from reten.kit.db import Base, Database
from tests.conftest import BACKEND, PG_URL, _drop_pg_database, _recreate_pg_database
from tests.ops.procs import Procs

PREFIX = os.environ.get("RETEN_TEST_PG_PREFIX", "reten_test")


@pytest.fixture
async def source_and_target(tmp_path: Path) -> AsyncIterator[tuple[str, str, str, str]]:
    """(source URL, target URL, source libpq/file name, target libpq/file name)."""
    if BACKEND == "postgres":
        names = [f"{PREFIX}_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        source = await _recreate_pg_database(names[0])
        # The target does not exist yet: the restore sequence creates it.
        await _drop_pg_database(names[1])
        target = source.rsplit("/", 1)[0] + "/" + names[1]
        yield source, target, f"{PG_URL}/{names[0]}", names[1]
        for name in names:
            await _drop_pg_database(name)
    else:
        source_file, target_file = tmp_path / "reten.db", tmp_path / "restored.db"
        yield (
            f"sqlite+aiosqlite:///{source_file}",
            f"sqlite+aiosqlite:///{target_file}",
            str(source_file),
            str(target_file),
        )


def sh(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}: {done.stderr}"


async def _counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return {
                table: int(
                    (await conn.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
                )
                for table in sorted(Base.metadata.tables)
            }
    finally:
        await db.dispose()


class TestBackupRestore:
    async def test_the_documented_sequence_restores_every_row(
        self, source_and_target: tuple[str, str, str, str], procs: Procs, tmp_path: Path
    ) -> None:
        source, target, source_name, target_name = source_and_target
        env = {"RETEN_DATABASE_URL": source}
        assert procs.run("db", "upgrade", **env).returncode == 0
        created = procs.run(
            "tenants", "create", "acme-backup", "--name", "Acme", "--admin-email",
            "ops@example.com", "--admin-password", "correct-horse-battery", **env,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        key = procs.run(
            "api-keys", "create", "--tenant", "acme-backup", "--name", "backup",
            "--permission", "VIEW_ACTIVITIES", **env,
        )  # fmt: skip
        assert key.returncode == 0, key.stderr
        before = await _counts(source)
        assert before["tenants"] >= 1 and before["api_keys"] == 1

        dump = tmp_path / "reten.dump"
        if BACKEND == "postgres":
            # docs/operations.md, "Backups and restore" (PostgreSQL).
            sh("pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source_name)
            sh("createdb", "-h", "127.0.0.1", "-U", "postgres", target_name)
            sh(
                "pg_restore", "--no-owner", "--exit-on-error", "-h", "127.0.0.1", "-U",
                "postgres", f"--dbname={target_name}", str(dump),
            )  # fmt: skip
        else:
            # docs/operations.md, "Backups and restore" (SQLite): an online, consistent copy.
            sh("sqlite3", source_name, f".backup '{dump}'")
            sh("cp", str(dump), target_name)

        assert await _counts(target) == before
        check = procs.run("db", "upgrade", "--check", "--database-url", target)
        assert check.returncode == 0, check.stderr
        # The restored copy accepts the same credentials.
        restored = Database(target)
        try:
            verified = await api_keys.verify(restored, TTLCache(0), key.stdout.strip())
        finally:
            await restored.dispose()
        assert verified is not None
