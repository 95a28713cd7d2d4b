"""Parsing of query and path parameters with the API's error messages (400 naming the parameter)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from reten.kit.errors import ValidationFailed
from reten.kit.time import parse_iso

E = TypeVar("E", bound=StrEnum)


def parse_bool(name: str, raw: str | None) -> bool | None:
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValidationFailed.one(name, "must be true or false")


def parse_uuid(name: str, raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise ValidationFailed.one(name, "must be a UUID") from None


def parse_timestamp(name: str, raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise ValidationFailed.one(
            name, "must be an ISO 8601 timestamp with a time zone (e.g. 2026-04-15T09:00:00Z)"
        ) from None


def parse_enum_list(name: str, raw: str | None, allowed: Iterable[str]) -> list[str] | None:
    """Comma-separated enum values, each spelled exactly."""
    if raw is None or raw == "":
        return None
    allowed = list(allowed)
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValidationFailed.one(name, f"must be one of {', '.join(allowed)}")
    return list(dict.fromkeys(values))


def parse_enum(name: str, raw: str | None, allowed: Iterable[str]) -> str | None:
    values = parse_enum_list(name, raw, allowed)
    if values is None:
        return None
    if len(values) != 1:
        raise ValidationFailed.one(name, f"must be one of {', '.join(allowed)}")
    return values[0]
