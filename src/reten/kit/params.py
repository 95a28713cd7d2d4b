"""Parsing of query and path parameters with the API's error messages (400 naming the parameter),
and the OpenAPI types of those parameters.

Parameters arrive as text and are parsed here rather than by FastAPI, so that a bad value gets
the API's own message ("status must be one of PENDING, …"), an empty value means "absent", and a
comma-separated list is one parameter. What each parameter accepts is still declared in the
OpenAPI (integer, enum, uuid, date-time), so generated clients and the fuzzer send real types:
a router annotates the parameter with one of the `WithJsonSchema` markers below, e.g.
`id: Annotated[str, AS_UUID]` or `updated_since: Annotated[str | None, Query(), AS_TIMESTAMP] = None`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from pydantic import WithJsonSchema

from reten.kit.errors import ValidationFailed
from reten.kit.time import parse_iso

E = TypeVar("E", bound=StrEnum)

AS_UUID = WithJsonSchema({"type": "string", "format": "uuid"})
AS_TIMESTAMP = WithJsonSchema({"type": "string", "format": "date-time"})
AS_BOOLEAN = WithJsonSchema({"type": "boolean"})


def as_one_of(values: Iterable[str]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


def as_comma_list(values: Iterable[str]) -> WithJsonSchema:
    """One or more of `values`, comma-separated (`PENDING,COMPLETED`)."""
    choice = "(" + "|".join(re.escape(v) for v in values) + ")"
    return WithJsonSchema({"type": "string", "pattern": f"^{choice}(,{choice})*$"})


# The canonical spelling only: `uuid.UUID` would also take braces, a `urn:` prefix or 32 bare
# hex digits, none of which the OpenAPI's `format: uuid` allows.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


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
    if not isinstance(raw, str) or _UUID.fullmatch(raw) is None:
        raise ValidationFailed.one(name, "must be a UUID")
    return uuid.UUID(raw)


def parse_optional_uuid(name: str, raw: str | None) -> uuid.UUID | None:
    return None if raw is None else parse_uuid(name, raw)


# An absent parameter is None; an empty one (`?updated_since=`) is refused like any other value
# that is not of the parameter's type, as the OpenAPI says. (Only `page` and `per_page` take an
# empty value as their default, see `kit.pagination`.)


def parse_timestamp(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise ValidationFailed.one(
            name, "must be an ISO 8601 timestamp with a time zone (e.g. 2026-04-15T09:00:00Z)"
        ) from None


def parse_enum_list(name: str, raw: str | None, allowed: Iterable[str]) -> list[str] | None:
    """Comma-separated enum values, each spelled exactly."""
    if raw is None:
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
