from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.activities.lifecycle import ActivityStatus, LifecycleStatus, Phase
from reten.kit.db import Base, IdMixin, TenantScoped, TimestampMixin, UTCDateTime
from reten.kit.time import utcnow


class ActivityType(StrEnum):
    TASK = "TASK"
    MESSAGE = "MESSAGE"


class Channel(StrEnum):
    SALESMAN = "SALESMAN"
    CALLCENTER = "CALLCENTER"
    WHATSAPP = "WHATSAPP"
    EMAIL = "EMAIL"
    SMS = "SMS"
    PUSH = "PUSH"


class Activity(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        # NULLs are distinct, so only recorded provider ids must be unique.
        UniqueConstraint("tenant_id", "provider_activity_id"),
        # The integration list: every documented filter is a prefix of one of these, and the
        # order (scheduled_at, id) is their tail, so a page is an index range scan.
        Index("ix_activities_list_phase", "tenant_id", "type", "phase", "scheduled_at", "id"),
        Index(
            "ix_activities_list_lifecycle",
            "tenant_id",
            "type",
            "lifecycle_status",
            "scheduled_at",
            "id",
        ),
        Index("ix_activities_list_all", "tenant_id", "type", "scheduled_at", "id"),
        # The management list's schedule order (its default order's index follows the class).
        Index("ix_activities_list_scheduled", "tenant_id", "scheduled_at", "id"),
        Index("ix_activities_tenant_updated", "tenant_id", "updated_at"),
        Index("ix_activities_tenant_status", "tenant_id", "status"),
        # The dispatcher's queue: a channel's READY activities, oldest first.
        Index("ix_activities_dispatch_queue", "tenant_id", "channel", "status", "created_at"),
        # Pending resends: a handful at any time, found without scanning the table.
        Index(
            "ix_activities_resend_requested",
            "tenant_id",
            "channel",
            "resend_requested_at",
            sqlite_where=text("resend_requested_at IS NOT NULL"),
            postgresql_where=text("resend_requested_at IS NOT NULL"),
        ),
    )

    type: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default=ActivityStatus.READY.value
    )
    # Derived by activities.lifecycle and stored, so filters on them are index-bound.
    lifecycle_status: Mapped[str] = mapped_column(
        String(24), nullable=False, default=LifecycleStatus.SCHEDULED.value
    )
    phase: Mapped[str] = mapped_column(String(16), nullable=False, default=Phase.OPEN.value)
    lifecycle_detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reason: Mapped[str] = mapped_column(String(255), nullable=False)
    user_status: Mapped[str | None] = mapped_column(String(100), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    suggested_execution_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    provider_activity_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The latest non-superseded result (PENDING or final) and the current final one.
    current_result_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    final_result_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Bumped on every state change; writers compare-and-set on it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Dispatch bookkeeping (dispatch.md).
    attempt_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # attempt_count restarts with each dispatch cycle; this numbers the attempt log and never does.
    attempt_total: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The config of the last attempt (it may since have been deleted, hence no foreign key).
    dispatch_config_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # A resend accepted (202) and not yet attempted: recorded before the answer, so whichever
    # dispatcher claims it next delivers it, even after a restart.
    resend_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# The management list and the panel's in their default order: newest first, ties by id ascending
# as the API promises. An index in that very order is walked for one page; with an ascending one
# PostgreSQL sorts the tenant's every activity first (activities created together share their
# creation time, so a backward walk leaves whole groups to sort).
Index("ix_activities_list_created", Activity.tenant_id, Activity.created_at.desc(), Activity.id)


class CommerceAssignment(TimestampMixin, TenantScoped, Base):
    """The commerce an activity is for; exactly one per activity."""

    __tablename__ = "commerce_assignments"
    __table_args__ = (Index("ix_commerce_assignments_tenant_commerce", "tenant_id", "commerce_id"),)

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    commerce_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerces.id", ondelete="RESTRICT"), nullable=False
    )
    assignment_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class TaskDetails(TimestampMixin, TenantScoped, Base):
    """Route and operator of a TASK activity; exactly one per TASK."""

    __tablename__ = "task_details"
    __table_args__ = (
        Index("ix_task_details_tenant_operator", "tenant_id", "operator_id"),
        Index("ix_task_details_tenant_route", "tenant_id", "route_id"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="RESTRICT"), nullable=False
    )
    operator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("operators.id", ondelete="RESTRICT"), nullable=False
    )


class ActivityStatusEvent(IdMixin, TenantScoped, Base):
    """Append-only history of an activity's status; the actor is a snapshot."""

    __tablename__ = "activity_status_events"
    __table_args__ = (Index("ix_activity_status_events_activity", "activity_id", "created_at"),)

    activity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_type: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
