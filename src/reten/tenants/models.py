from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from reten.kit.db import Base, IdMixin, TimestampMixin


class Locale(StrEnum):
    ES = "es"
    EN = "en"


class Tenant(IdMixin, TimestampMixin, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    slug: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    locale: Mapped[str] = mapped_column(String(8), nullable=False, default=Locale.ES.value)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="America/Santiago")
