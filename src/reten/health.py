"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
from sqlalchemy import text

from reten.auth.dependencies import public
from reten.kit.errors import ServiceUnavailable
from reten.kit.schemas import ReadModel
from reten.runtime import get_runtime

router = APIRouter(prefix="/api", tags=["Health"])


class StatusRead(ReadModel):
    status: str
    database: str | None = Field(default=None, description="on /api/ready")


_OK = b'{"status":"ok"}'


@router.get("/health", response_model=StatusRead, summary="Liveness: constant, touches no storage")
async def health(_: None = Depends(public())) -> Response:
    # A constant body: this endpoint is the benchmark baseline (the framework's floor).
    return Response(content=_OK, media_type="application/json")


@router.get("/ready", response_model=StatusRead, summary="Readiness: the database answers")
async def ready(request: Request, _: None = Depends(public())) -> Response:
    try:
        async with get_runtime(request).db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach storage means "not ready"
        raise ServiceUnavailable("Database unavailable") from exc
    return Response(content=b'{"status":"ok","database":"ok"}', media_type="application/json")
