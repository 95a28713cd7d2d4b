from __future__ import annotations

import re
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from reten.kit.schemas import InputModel, Name100, Name255, Password, ReadModel, Timestamp
from reten.kit.validators import NoNull, normalise_email
from reten.tenants.models import Locale
from reten.users.service import valid_email

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def check_slug(value: str) -> str:
    if not 2 <= len(value) <= 63 or not SLUG_PATTERN.match(value):
        raise ValueError("must be 2-63 lowercase letters, digits and single hyphens")
    return value


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name") from None
    return value


class TenantSetup(InputModel):
    name: Name255
    slug: str
    locale: Locale = Locale.ES
    time_zone: str = "America/Santiago"
    admin_email: str
    admin_password: Password
    admin_first_name: Name100
    admin_last_name: Name100

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = normalise_email(value)
        if not valid_email(value):
            raise ValueError("must be an email address")
        return value


class TenantSummary(ReadModel):
    id: uuid.UUID
    name: str
    slug: str


class TenantRead(ReadModel):
    id: uuid.UUID
    name: str
    slug: str
    locale: str
    time_zone: str
    created_at: Timestamp
    updated_at: Timestamp


class TenantUpdate(InputModel):
    name: Annotated[Name255 | None, NoNull] = None
    slug: Annotated[str | None, NoNull] = None
    locale: Annotated[Locale | None, NoNull] = None
    time_zone: Annotated[str | None, NoNull] = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else check_slug(value)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)
