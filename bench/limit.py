"""The limit: a bare ASGI + asyncpg server answering P1 (quality.md, row L). Not part of Reten.

It serves `GET /api/integration/activities/tasks` for the bench tenant with no framework: no
FastAPI, no SQLAlchemy, no middleware, no authentication. What it keeps is what the data model
and the response demand: the same SQL text Reten sends (`reten.integration.service.count_sql`
and `page_json_sql`, imported, so it never drifts: the items are rendered by PostgreSQL for
both), a totals cache as long-lived as Reten's, the same envelope and ETag. The harness checks that its body is
byte-identical to Reten's before measuring it. "P1 ÷ limit" is then what the framework costs.

Served with `uvicorn bench.limit:app` (uvloop, httptools); RETEN_BENCH_DSN names the database,
RETEN_BENCH_TENANT_ID the tenant. Only the query parameters P1 and P4 use are understood
(`status`, `page`, `per_page`); anything else answers 400.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import asyncpg  # type: ignore[import-untyped]

from reten.integration import service
from reten.integration.vocabulary import IntegrationStatus
from reten.kit.pagination import COUNT_CAP, PageParams, page_envelope_json

PATH = "/api/integration/activities/tasks"
COUNT_TTL_S = 2.0  # Reten's default RETEN_COUNT_CACHE_SECONDS
# SQLAlchemy's own rule for `:name` in text(): not after a colon or a word character (so
# neither `::text` casts nor the `HH24:MI:SS` of a format are taken for parameters).
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """`:name` parameters to asyncpg's `$n`, in order of first appearance."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PARAM.sub(number, sql), [params[n] for n in order]


class Limit:
    def __init__(self) -> None:
        self.tenant_id = uuid.UUID(os.environ["RETEN_BENCH_TENANT_ID"])
        self.pool: asyncpg.Pool | None = None
        self.totals: dict[Any, tuple[float, tuple[int, bool]]] = {}
        self.locale = "es"

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            os.environ["RETEN_BENCH_DSN"], min_size=4, max_size=40
        )
        async with self.pool.acquire() as conn:
            self.locale = await conn.fetchval(
                "SELECT locale FROM tenants WHERE id = $1", self.tenant_id
            )

    async def body(self, query: bytes) -> tuple[int, bytes]:
        assert self.pool is not None
        args = dict(parse_qsl(query.decode()))
        if set(args) - {"status", "page", "per_page"}:
            return 400, b'{"message":"unsupported parameter"}'
        statuses = (
            tuple(IntegrationStatus(s) for s in args["status"].split(","))
            if "status" in args
            else None
        )
        page = PageParams(int(args.get("page", 1)), int(args.get("per_page", 20)))
        f = service.TaskFilters(statuses=statuses)
        params = service.task_params(self.tenant_id, f)
        shape = f.shape()
        async with self.pool.acquire() as conn:
            cached = self.totals.get(shape)
            if cached is None or cached[0] < time.monotonic():
                sql, values = positional(service.count_sql(shape), params)
                total = int(await conn.fetchval(sql, *values))
                cached = (
                    time.monotonic() + COUNT_TTL_S,
                    (min(total, COUNT_CAP), total > COUNT_CAP),
                )
                self.totals[shape] = cached
            total, estimate = cached[1]
            items = b"[]"
            if page.offset < total or estimate:
                sql, values = positional(
                    service.page_json_sql(shape, page.per_page, page.offset, self.locale), params
                )
                items = (await conn.fetchval(sql, *values)).encode()
        return 200, page_envelope_json(items, page, total, estimate=estimate)


limit = Limit()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await limit.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if limit.pool is not None:
                    await limit.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/api/ready":
        status, content = 200, b'{"status":"ok"}'
    elif scope["path"] == PATH:
        status, content = await limit.body(scope["query_string"])
    else:
        status, content = 404, b'{"message":"not found"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if status == 200:
        etag = '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'
        headers.append((b"etag", etag.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
