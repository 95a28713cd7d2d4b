from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin


class Commerce(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "commerces"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        # NULL tax ids never collide: both databases treat NULLs as distinct in unique indexes.
        UniqueConstraint("tenant_id", "tax_id"),
        Index("ix_commerces_tenant_id_name", "tenant_id", "name"),
    )

    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    global_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    tax_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_placeholder: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
