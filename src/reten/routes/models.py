from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin


class RouteOperatorRole(StrEnum):
    LEAD = "LEAD"
    MEMBER = "MEMBER"


class Route(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "routes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_routes_tenant_id_name", "tenant_id", "name", "id"),
        Index("ix_routes_tenant_id_created_at", "tenant_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Optional; unique per tenant when set (NULLs never collide).
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class RouteOperator(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "route_operators"
    __table_args__ = (
        UniqueConstraint("route_id", "operator_id"),
        Index("ix_route_operators_operator_id", "operator_id"),
    )

    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), nullable=False
    )
    operator_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(
        String(8), nullable=False, default=RouteOperatorRole.MEMBER.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class RouteCommerce(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "route_commerces"
    __table_args__ = (
        UniqueConstraint("route_id", "commerce_id"),
        Index("ix_route_commerces_commerce_id", "commerce_id"),
    )

    route_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("routes.id", ondelete="CASCADE"), nullable=False
    )
    commerce_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerces.id", ondelete="CASCADE"), nullable=False
    )
