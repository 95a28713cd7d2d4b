from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from reten.kit.db import Base, IdMixin, JSONType, TenantScoped, TimestampMixin
from reten.kit.unique import conflict

# A concurrent request changed the primary flag between our clear and our set.
PRIMARY_RACE = "is_primary conflicts with a concurrent change; retry the request"


class RecordSource(StrEnum):
    RETEN = "RETEN"
    INTEGRATION = "INTEGRATION"


class CommerceUserRole(StrEnum):
    OWNER = "OWNER"
    ORDERS = "ORDERS"
    FINANCE = "FINANCE"
    ATTENTION = "ATTENTION"
    ADMIN = "ADMIN"
    COMMERCE_REP = "COMMERCE_REP"
    OTHER = "OTHER"


class ContactType(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    WHATSAPP = "WHATSAPP"
    OTHER = "OTHER"


class Commerce(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "commerces"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", info=conflict("external_id")),
        # NULL tax ids never collide: both databases treat NULLs as distinct in unique indexes.
        UniqueConstraint("tenant_id", "tax_id", info=conflict("tax_id")),
        Index("ix_commerces_tenant_id_name", "tenant_id", "name", "id"),
        Index("ix_commerces_tenant_id_created_at", "tenant_id", "created_at", "id"),
        Index("ix_commerces_tenant_id_global_external_id", "tenant_id", "global_external_id"),
    )

    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    global_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    tax_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_placeholder: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Address(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "addresses"
    __table_args__ = (
        UniqueConstraint("commerce_id", "source_ref", info=conflict("source_ref")),
        Index("ix_addresses_commerce_id", "commerce_id", "is_primary"),
        # At most one primary address per commerce, enforced by the database.
        Index(
            "uq_addresses_one_primary",
            "commerce_id",
            unique=True,
            info=conflict(message=PRIMARY_RACE),
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    commerce_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerces.id", ondelete="CASCADE"), nullable=False
    )
    address_alias: Mapped[str | None] = mapped_column(String(255), nullable=True)
    street: Mapped[str | None] = mapped_column(String(255), nullable=True)
    street_number: Mapped[str | None] = mapped_column(String(255), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(255), nullable=True)
    city: Mapped[str | None] = mapped_column(String(255), nullable=True)
    commune: Mapped[str | None] = mapped_column(String(255), nullable=True)
    region: Mapped[str | None] = mapped_column(String(255), nullable=True)
    country_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    formatted_address: Mapped[str | None] = mapped_column(String(500), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    source: Mapped[str] = mapped_column(
        String(16), nullable=False, default=RecordSource.RETEN.value
    )
    source_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)


class CommerceUser(IdMixin, TimestampMixin, TenantScoped, Base):
    """A person at a commerce (owner, buyer, ...), reached through their contacts."""

    __tablename__ = "commerce_users"
    __table_args__ = (
        UniqueConstraint("commerce_id", "external_id", info=conflict("external_id")),
        Index("ix_commerce_users_commerce_id", "commerce_id", "created_at"),
    )

    commerce_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerces.id", ondelete="CASCADE"), nullable=False
    )
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str] = mapped_column(
        String(16), nullable=False, default=RecordSource.RETEN.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class CommerceUserRoleLink(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "commerce_user_roles"
    __table_args__ = (
        UniqueConstraint("commerce_user_id", "role"),
        # Target resolution looks up "the COMMERCE_REP of this commerce" and similar.
        Index("ix_commerce_user_roles_tenant_role", "tenant_id", "role"),
    )

    commerce_user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerce_users.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)


class Contact(IdMixin, TimestampMixin, TenantScoped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("commerce_user_id", "type", "value", info=conflict("value")),
        # At most one primary contact per (user, type), enforced by the database.
        Index(
            "uq_contacts_one_primary_per_type",
            "commerce_user_id",
            "type",
            unique=True,
            info=conflict(message=PRIMARY_RACE),
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    commerce_user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("commerce_users.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    source: Mapped[str] = mapped_column(
        String(16), nullable=False, default=RecordSource.RETEN.value
    )
