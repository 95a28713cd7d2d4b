from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin
from reten.kit.unique import conflict

EMAIL_TAKEN = "email already exists"
KEY_TAKEN = "type + external_id already exists"


class OperatorType(StrEnum):
    SALESMAN = "SALESMAN"
    ACTIVATOR = "ACTIVATOR"
    CALLCENTER = "CALLCENTER"


class Operator(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "operators"
    __table_args__ = (
        UniqueConstraint("tenant_id", "type", "external_id", info=conflict(message=KEY_TAKEN)),
        UniqueConstraint("tenant_id", "email", info=conflict(message=EMAIL_TAKEN)),
        Index("ix_operators_tenant_id_external_id", "tenant_id", "external_id"),
        Index("ix_operators_tenant_id_name", "tenant_id", "first_name", "last_name", "id"),
        Index("ix_operators_tenant_id_created_at", "tenant_id", "created_at", "id"),
    )

    type: Mapped[str] = mapped_column(String(16), nullable=False)
    # Optional; unique together with the type when set (NULLs never collide).
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_placeholder: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) or None
