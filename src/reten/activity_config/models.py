from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, TenantScoped, TimestampMixin


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
