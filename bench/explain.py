"""EXPLAIN ANALYZE of the SQL behind P1, captured from Reten's own service functions.

Rather than a hand-copied query that drifts from the code, the harness runs the integration
service's count and page functions once with a cursor hook, keeps the statements and parameters
they sent, and asks PostgreSQL for the plan of exactly those.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event

from bench.seed import database_url, dsn


async def explain_p1(database: str, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    from reten.integration import service
    from reten.integration.vocabulary import IntegrationStatus
    from reten.kit.db import Database
    from reten.kit.pagination import PageParams

    captured: list[tuple[str, Any]] = []
    db = Database(database_url(database), pool_size=1, max_overflow=0)

    def _capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "activities" in statement:
            captured.append((statement, params))

    for engine in db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", _capture)
    try:
        # What `?status=PENDING&per_page=20` turns into in the router.
        filters = service.TaskFilters(statuses=(IntegrationStatus.PENDING,))
        await service.count_tasks(db, tenant_id, filters)
        await service.list_tasks(db, tenant_id, filters, PageParams(1, 20), "es")
    finally:
        await db.dispose()

    plans = []
    conn = await asyncpg.connect(dsn(database))
    try:
        for statement, params in captured:
            rows = await conn.fetch(
                "EXPLAIN (ANALYZE, BUFFERS, VERBOSE OFF) " + statement, *(params or ())
            )
            plans.append(
                {
                    "sql": " ".join(statement.split()),
                    "params": [str(p) for p in params or ()],
                    "plan": [r[0] for r in rows],
                }
            )
    finally:
        await conn.close()
    return plans
