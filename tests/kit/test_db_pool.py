"""The write pool pings a connection only when it sat idle (kit/db.py `_ping_when_idle`)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from reten.kit import db as kit_db
from reten.kit.db import Database
from tests.conftest import BACKEND, PG_URL

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="the idle ping is set up for PostgreSQL's pools"
)


async def _backend_pid(db: Database) -> int:
    async with db.sessionmaker() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await session.commit()
        return int(pid)


class TestPingWhenIdle:
    async def test_a_connection_killed_while_idle_is_replaced_before_use(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(kit_db, "PING_AFTER_IDLE_S", 0.0)  # every checkout counts as idle
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            first = await _backend_pid(db)
            killer = await asyncpg.connect(f"{PG_URL}/postgres")
            try:
                assert await killer.fetchval("SELECT pg_terminate_backend($1)", first)
            finally:
                await killer.close()
            # The dead connection is pinged, discarded and replaced: the request never sees it.
            second = await _backend_pid(db)
            assert second != first
        finally:
            await db.dispose()

    async def test_a_connection_just_checked_in_is_handed_out_without_a_ping(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pings: list[Any] = []
        real_ping = AsyncAdapt_asyncpg_connection.ping

        def counting_ping(self: AsyncAdapt_asyncpg_connection) -> None:
            pings.append(self)
            real_ping(self)

        monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
        db = Database(database_url, pool_size=1, max_overflow=0)
        try:
            first = await _backend_pid(db)
            assert await _backend_pid(db) == first
            assert pings == []
            monkeypatch.setattr(kit_db, "PING_AFTER_IDLE_S", 0.0)
            assert await _backend_pid(db) == first
            assert len(pings) == 1
        finally:
            await db.dispose()
