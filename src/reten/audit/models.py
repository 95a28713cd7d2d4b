"""The audit trail: one append-only row per administrative change of a tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, UTCDateTime
from reten.kit.time import utcnow


class AuditAction(StrEnum):
    """What was done, `<target type>.<verb>`. Filters and the OpenAPI take exactly these."""

    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    DISPATCH_CONFIG_CREATED = "dispatch_config.created"
    DISPATCH_CONFIG_UPDATED = "dispatch_config.updated"
    DISPATCH_CONFIG_ACTIVATED = "dispatch_config.activated"
    DISPATCH_CONFIG_DEACTIVATED = "dispatch_config.deactivated"
    DISPATCH_CONFIG_SECRET_ROTATED = "dispatch_config.secret_rotated"
    DISPATCH_CONFIG_DELETED = "dispatch_config.deleted"
    TASK_RESULT_TYPE_CREATED = "task_result_type.created"
    TASK_RESULT_TYPE_UPDATED = "task_result_type.updated"
    TASK_RESULT_TYPE_DEACTIVATED = "task_result_type.deactivated"
    TASK_RESULT_TYPE_DELETED = "task_result_type.deleted"
    ATTRIBUTE_POLICY_CREATED = "attribute_policy.created"
    ATTRIBUTE_POLICY_UPDATED = "attribute_policy.updated"
    TARGET_RESOLUTION_CONFIG_CREATED = "target_resolution_config.created"
    TARGET_RESOLUTION_CONFIG_UPDATED = "target_resolution_config.updated"
    TARGET_RESOLUTION_CONFIG_DELETED = "target_resolution_config.deleted"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_ROLES_CHANGED = "user.roles_changed"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_DELETED = "user.deleted"
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"


class AuditTargetType(StrEnum):
    API_KEY = "api_key"
    DISPATCH_CONFIG = "dispatch_config"
    TASK_RESULT_TYPE = "task_result_type"
    ATTRIBUTE_POLICY = "attribute_policy"
    TARGET_RESOLUTION_CONFIG = "target_resolution_config"
    USER = "user"
    TENANT = "tenant"


class AuditEvent(IdMixin, TenantScoped, Base):
    """Who did what to which object of the tenant, and when.

    Actor and target are snapshots (type, id, label) without foreign keys: the trail outlives
    deleted users, keys and configs. `details` holds what changed, never a secret value."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The list, newest first within a tenant: both databases walk this index backwards
        # (PostgreSQL sorts only the rare rows of one instant by id, incrementally).
        Index("ix_audit_events_tenant_time", "tenant_id", "occurred_at", "id"),
        # The filters narrow first, then read in time order.
        Index("ix_audit_events_tenant_action", "tenant_id", "action", "occurred_at"),
        Index("ix_audit_events_tenant_actor", "tenant_id", "actor_id", "occurred_at"),
        Index(
            "ix_audit_events_tenant_target", "tenant_id", "target_type", "target_id", "occurred_at"
        ),
    )

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    target_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
