"""`Idempotency-Key` handling shared by every result-submission endpoint.

The first response (status and body) is stored for 24 h per (tenant, key). A repeat with the same
body replays it; a different body is a 422; a repeat while the first is still running is a 409.
The claim is committed on its own so a concurrent duplicate sees it at once; the final response
is written in the same transaction as the work it describes, so a replay never describes work
that was rolled back.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Integer, String, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, TenantRepository, TenantScoped, TimestampMixin, UTCDateTime
from reten.kit.errors import Conflict, Unprocessable, ValidationFailed
from reten.kit.time import utcnow

RETENTION = timedelta(hours=24)
# A claim older than this whose request never finished (the process died) may be taken over.
STALE_CLAIM = timedelta(minutes=2)


class IdempotencyRecord(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    # NULL while the first request is still being processed.
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(String, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def validate_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= 255 or not all(0x20 <= ord(c) < 0x7F for c in raw):
        raise ValidationFailed.one("Idempotency-Key", "must be 1-255 printable ASCII characters")
    return raw


def fingerprint(body: Any) -> str:
    """SHA-256 of the canonical JSON of the parsed body (sorted keys, no whitespace)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class IdempotencyClaim:
    def __init__(self, tenant_id: uuid.UUID, key: str, fp: str) -> None:
        self.tenant_id = tenant_id
        self.key = key
        self.fingerprint = fp

    async def begin(self, session: AsyncSession) -> StoredResponse | None:
        """Claim the key, or return the stored response to replay. Commits the claim."""
        now = utcnow()
        for _ in range(3):
            session.add(
                IdempotencyRecord(
                    tenant_id=self.tenant_id,
                    key=self.key,
                    fingerprint=self.fingerprint,
                    expires_at=now + RETENTION,
                )
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            existing = (
                await session.execute(
                    TenantRepository(session, self.tenant_id)
                    .select(IdempotencyRecord)
                    .where(IdempotencyRecord.key == self.key)
                )
            ).scalar_one_or_none()
            await session.commit()
            if existing is None:
                continue
            stale = existing.status_code is None and existing.created_at < now - STALE_CLAIM
            if existing.expires_at <= now or stale:
                await session.execute(
                    delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id)
                )
                await session.commit()
                continue
            if existing.fingerprint != self.fingerprint:
                raise Unprocessable("Idempotency-Key reused with a different request body")
            if existing.status_code is None:
                raise Conflict("A request with this Idempotency-Key is in progress")
            return StoredResponse(
                existing.status_code, orjson.loads(existing.response_body or "null")
            )
        raise Conflict("A request with this Idempotency-Key is in progress")

    async def complete(self, session: AsyncSession, status_code: int, body: Any) -> None:
        """Record the response; joins the caller's transaction (the caller commits)."""
        await session.execute(
            TenantRepository(session, self.tenant_id)
            .update(IdempotencyRecord)
            .where(IdempotencyRecord.key == self.key)
            .values(status_code=status_code, response_body=orjson.dumps(body).decode())
        )

    async def release(self, session: AsyncSession) -> None:
        """Forget the claim after a server error, so the client's retry runs for real."""
        await session.rollback()
        await session.execute(
            TenantRepository(session, self.tenant_id)
            .delete(IdempotencyRecord)
            .where(
                IdempotencyRecord.key == self.key,
                IdempotencyRecord.status_code.is_(None),
            )
        )
        await session.commit()
