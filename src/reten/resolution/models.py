"""What was resolved for each activity: its attributes and its target user."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin, UTCDateTime


class AttributeStatus(StrEnum):
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    FAILED = "FAILED"
    FALLBACK = "FALLBACK"


class TargetUserStatus(StrEnum):
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    LOCKED = "LOCKED"
    FAILED = "FAILED"


class LockReason(StrEnum):
    CRITERIA_MATCH = "CRITERIA_MATCH"
    FALLBACK_COMMERCE_REP = "FALLBACK_COMMERCE_REP"
    FALLBACK_OWNER = "FALLBACK_OWNER"
    MANUAL_ASSIGNMENT = "MANUAL_ASSIGNMENT"


class ActivityAttribute(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "activity_attributes"
    __table_args__ = (UniqueConstraint("activity_id", "attribute_key_id"),)

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False
    )
    attribute_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("attribute_keys.id", ondelete="CASCADE"), nullable=False
    )
    # The policy in force when the activity was created (a later policy change does not apply).
    resolution_strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[Any | None] = mapped_column(JSONType, nullable=True)
    # The caller's fallback, kept so a retry can still fall back.
    fallback: Mapped[Any | None] = mapped_column(JSONType, nullable=True)
    has_fallback: Mapped[bool] = mapped_column(nullable=False, default=False)
    resolution_status: Mapped[str] = mapped_column(String(16), nullable=False)
    resolver_type: Mapped[str] = mapped_column(String(20), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class ActivityTargetUser(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "activity_target_users"
    __table_args__ = (
        UniqueConstraint("activity_id"),  # at most one target user per activity
        Index("ix_activity_target_users_commerce_user", "commerce_user_id"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False
    )
    commerce_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("commerce_users.id", ondelete="SET NULL"), nullable=True
    )
    resolution_status: Mapped[str] = mapped_column(String(16), nullable=False)
    resolution_strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    lock_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # The request's own criteria (target_criteria), which replace the configs' criteria.
    requested_criteria: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
