"""Liveness, readiness and metrics: what load balancers, orchestrators and Prometheus ask."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CollectorRegistry, Gauge
from pydantic import Field
from sqlalchemy import text

from reten.auth.dependencies import public
from reten.dispatch.engine import deliverable_backlog
from reten.kit.errors import NotFound, ServiceUnavailable, Unauthorized
from reten.kit.metrics import exposition
from reten.kit.schemas import ReadModel
from reten.kit.time import utcnow
from reten.runtime import Runtime, get_runtime

router = APIRouter(prefix="/api", tags=["Health"])
# Prometheus scrapes /metrics by convention; it is not part of the versioned API.
metrics_router = APIRouter(tags=["Health"])


class StatusRead(ReadModel):
    status: str


class ReadyRead(ReadModel):
    status: str
    database: str = Field(description="ok when the database answers")
    redis: str | None = Field(default=None, description="present when Redis is configured")
    checks: dict[str, dict[str, Any]] = Field(
        description="per dependency: status, latencyMs (or error when unavailable)"
    )


_OK = b'{"status":"ok"}'


@router.get("/health", response_model=StatusRead, summary="Liveness: constant, touches no storage")
async def health(_: None = Depends(public())) -> Response:
    # A constant body: this endpoint is the benchmark baseline (the framework's floor).
    return Response(content=_OK, media_type="application/json")


async def _timed(check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await check()
    except Exception as exc:  # any failure to reach a dependency means "not ready"
        return {"status": "unavailable", "error": type(exc).__name__}
    return {"status": "ok", "latencyMs": round((time.perf_counter() - started) * 1000, 3)}


@router.get(
    "/ready",
    response_model=ReadyRead,
    summary="Readiness: the database (and Redis, when configured) answer",
)
async def ready(request: Request, _: None = Depends(public())) -> Response:
    runtime = get_runtime(request)

    async def database() -> None:
        async with runtime.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    checks = {"database": await _timed(database)}
    if runtime.settings.redis_url:
        checks["redis"] = await _timed(runtime.limiter.ping)
    down = [name for name, check in checks.items() if check["status"] != "ok"]
    if down:
        raise ServiceUnavailable(
            " and ".join(name.capitalize() for name in down) + " unavailable",
            extra={"checks": checks},
        )
    body = {"status": "ok", **{name: "ok" for name in checks}, "checks": checks}
    return Response(content=orjson.dumps(body), media_type="application/json")


async def _scrape_time_gauges(runtime: Runtime) -> CollectorRegistry:
    """Gauges read from the database when Prometheus asks, so every process reports the same
    (shared) backlog and nothing is maintained on the hot path."""
    registry = CollectorRegistry()
    up = Gauge(
        "reten_metrics_database_up",
        "1 when this scrape could read the backlog from the database.",
        registry=registry,
    )
    try:
        async with runtime.db.sessionmaker() as session:
            count, oldest = await deliverable_backlog(session, utcnow())
    except Exception:
        up.set(0)
        return registry
    up.set(1)
    Gauge(
        "reten_dispatch_backlog",
        "READY activities due for delivery through an active dispatch config (in flight or "
        "waiting), every tenant together.",
        registry=registry,
    ).set(count)
    Gauge(
        "reten_dispatch_backlog_oldest_age_seconds",
        "How long the oldest backlog item has been due (0 without a backlog).",
        registry=registry,
    ).set(0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds()))
    return registry


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, _: None = Depends(public())) -> Response:
    runtime = get_runtime(request)
    settings = runtime.settings
    if not settings.metrics_on:
        raise NotFound()
    if settings.metrics_token:
        expected = f"Bearer {settings.metrics_token}".encode()
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise Unauthorized(
                "A valid metrics token is required", headers={"WWW-Authenticate": "Bearer"}
            )
    body, content_type = exposition(await _scrape_time_gauges(runtime))
    return Response(content=body, media_type=content_type)
