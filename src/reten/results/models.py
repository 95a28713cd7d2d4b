from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin, UTCDateTime


class ResultSource(StrEnum):
    RETEN_ACTIVITY = "RETEN_ACTIVITY"
    STANDALONE = "STANDALONE"


class ContactDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class ActivityResult(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "activity_results"
    __table_args__ = (
        Index("ix_activity_results_activity", "activity_id", "created_at"),
        Index("ix_activity_results_tenant_created", "tenant_id", "created_at"),
        Index("ix_activity_results_tenant_commerce", "tenant_id", "commerce_id"),
        # The database itself guarantees at most one current final result per activity, so two
        # racing submissions can never both win, whatever the application does.
        Index(
            "uq_activity_results_one_current_final",
            "activity_id",
            unique=True,
            sqlite_where=text(
                "status <> 'PENDING' AND superseded_by_id IS NULL AND activity_id IS NOT NULL"
            ),
            postgresql_where=text(
                "status <> 'PENDING' AND superseded_by_id IS NULL AND activity_id IS NOT NULL"
            ),
        ),
    )

    activity_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), nullable=True
    )
    commerce_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerces.id", ondelete="RESTRICT"), nullable=False
    )
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    external_status: Mapped[str | None] = mapped_column(String(255), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    hard_override: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # No foreign key: the superseding row is written after this one is marked, in one transaction.
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    provider_activity_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    raw_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # The activity's status right after this result was applied (null for STANDALONE).
    activity_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    result_code: Mapped[str] = mapped_column(String(64), nullable=False)
    comment: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    contact_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    operator_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    future_scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_by_type: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_by_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
