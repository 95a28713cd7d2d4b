from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin, UTCDateTime
from reten.kit.time import utcnow
from reten.kit.unique import conflict

CHANNEL_TAKEN = "channel already has an active dispatch config"


class ProviderCode(StrEnum):
    MOCK = "MOCK"
    YOM = "YOM"
    WEBHOOK = "WEBHOOK"


class DeliveryOutcome(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class DeliveryTrigger(StrEnum):
    SCHEDULED = "SCHEDULED"
    MANUAL = "MANUAL"
    RESEND = "RESEND"


class DeactivationReason(StrEnum):
    MANUAL = "MANUAL"
    HTTP_410 = "HTTP_410"
    CONSECUTIVE_FAILURES = "CONSECUTIVE_FAILURES"


class DispatchProvider(IdMixin, TimestampMixin, Base):
    """A global provider, seeded at start-up from the registry (providers/__init__.py)."""

    __tablename__ = "dispatch_providers"

    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    protocol_type: Mapped[str] = mapped_column(String(16), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class ChannelDefinition(IdMixin, TimestampMixin, Base):
    __tablename__ = "dispatch_channel_definitions"
    __table_args__ = (UniqueConstraint("dispatch_provider_id", "channel"),)

    dispatch_provider_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("dispatch_providers.id", ondelete="CASCADE"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    credential_schema: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    settings_schema: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)


class DispatchConfig(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "dispatch_configs"
    __table_args__ = (
        # Rule 1A: one active config per (tenant, channel); the database is the judge, so two
        # racing activations cannot both win.
        Index(
            "uq_dispatch_configs_active_channel",
            "tenant_id",
            "channel",
            unique=True,
            info=conflict(message=CHANNEL_TAKEN),
            sqlite_where=text("is_active AND deleted_at IS NULL"),
            postgresql_where=text("is_active AND deleted_at IS NULL"),
        ),
        Index("ix_dispatch_configs_tenant_channel", "tenant_id", "channel", "created_at"),
    )

    dispatch_provider_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("dispatch_providers.id", ondelete="RESTRICT"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    base_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # AES-GCM ciphertext of the credentials object (kit.secretbox); only key names are clear.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    credential_keys: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    signing_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deactivated_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Deleted configs keep their row so the attempt log stays readable until pruned.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DispatchAttempt(IdMixin, TenantScoped, Base):
    """One delivery try. Append-only; pruned after RETEN_DISPATCH_ATTEMPT_RETENTION_DAYS."""

    __tablename__ = "dispatch_attempts"
    __table_args__ = (
        Index("ix_dispatch_attempts_config", "tenant_id", "dispatch_config_id", "created_at"),
        Index("ix_dispatch_attempts_activity", "tenant_id", "activity_id", "created_at"),
        Index("ix_dispatch_attempts_created", "created_at"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False
    )
    dispatch_config_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("dispatch_configs.id", ondelete="CASCADE"), nullable=False
    )
    attempt_number: Mapped[int] = mapped_column(Integer, nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
