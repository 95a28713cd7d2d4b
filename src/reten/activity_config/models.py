from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin


class ResultOutcome(StrEnum):
    EFFECTIVE = "EFFECTIVE"
    NOT_EFFECTIVE = "NOT_EFFECTIVE"


class TaskResultType(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "task_result_types"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_task_result_types_tenant_order", "tenant_id", "sort_order", "code"),
    )

    code: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    requires_future_scheduled_at: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False
    )
    outcome: Mapped[str] = mapped_column(
        String(16), nullable=False, default=ResultOutcome.EFFECTIVE.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class AttributeStrategy(StrEnum):
    UPFRONT = "UPFRONT"
    ON_DISPATCH = "ON_DISPATCH"
    CALLER_PROVIDED = "CALLER_PROVIDED"


class ResolverType(StrEnum):
    INTERNAL_SERVICE = "INTERNAL_SERVICE"
    CLIENT_HOOK = "CLIENT_HOOK"
    CALLER_PROVIDED = "CALLER_PROVIDED"


class TargetResolutionStrategy(StrEnum):
    ON_CREATION = "ON_CREATION"
    ON_DISPATCH = "ON_DISPATCH"
    MANUAL = "MANUAL"


class TargetCriteriaType(StrEnum):
    ROLE_MATCH = "ROLE_MATCH"
    LAST_CONTACTED_SAME_CHANNEL = "LAST_CONTACTED_SAME_CHANNEL"
    LAST_CONTACTED_ALL_CHANNELS = "LAST_CONTACTED_ALL_CHANNELS"


class AttributeKey(IdMixin, TimestampMixin, Base):
    """Global catalog of attribute keys, seeded at start-up."""

    __tablename__ = "attribute_keys"

    key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class AttributePolicy(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "attribute_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "attribute_key_id"),)

    attribute_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("attribute_keys.id", ondelete="CASCADE"), nullable=False
    )
    resolution_strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    resolver_type: Mapped[str] = mapped_column(String(20), nullable=False)
    # CLIENT_HOOK: the tenant's endpoint that computes this attribute, and how long to wait.
    hook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    hook_timeout_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TargetResolutionConfig(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "target_resolution_configs"
    __table_args__ = (
        # Priority is unique among the tenant's active configs.
        Index(
            "uq_target_resolution_configs_active_priority",
            "tenant_id",
            "priority",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    resolution_strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    fallback_to_commerce_rep: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    fallback_to_owner: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class TargetResolutionCriteria(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "target_resolution_criteria"
    __table_args__ = (Index("ix_target_resolution_criteria_config", "config_id", "priority"),)

    config_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("target_resolution_configs.id", ondelete="CASCADE"), nullable=False
    )
    criteria_type: Mapped[str] = mapped_column(String(32), nullable=False)
    criteria_config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
