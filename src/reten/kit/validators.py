"""Field rules shared by several domains: names (rule N), emails, E.164, metadata (rule M)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BeforeValidator

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAX_METADATA_BYTES = 16 * 1024


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """Rule N: trim, collapse whitespace; the first word is the first name, the rest the last."""
    if name is None:
        return None, None
    collapsed = " ".join(name.split())
    if not collapsed:
        return None, None
    first, _, last = collapsed.partition(" ")
    return first, last or None


def join_name(first: str | None, last: str | None) -> str | None:
    return " ".join(p for p in (first, last) if p) or None


def normalise_email(value: str) -> str:
    return value.strip().lower()


def check_email(value: str) -> str:
    value = normalise_email(value)
    if len(value) > 254 or not EMAIL_PATTERN.match(value):
        raise ValueError("must be an email address (local@domain.tld)")
    return value


def check_e164(value: str) -> str:
    value = value.strip()
    if not E164_PATTERN.match(value):
        raise ValueError("must be an E.164 phone number (e.g. +56912345678)")
    return value


def check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError("must be at most 16 KiB once serialised")
    return value


def _reject_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null")
    return value


# A field that may be omitted (default None = "not given") but never sent as null.
NoNull = BeforeValidator(_reject_null)

Email = Annotated[str, AfterValidator(check_email)]
E164 = Annotated[str, AfterValidator(check_e164)]
Metadata = Annotated[dict[str, Any], AfterValidator(check_metadata)]


def merge_metadata(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Rule M: given keys overwrite, a key given as null is removed, others are kept."""
    merged = dict(stored)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
