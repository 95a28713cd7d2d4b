"""Page parameters (`page`, `per_page` with `limit` as alias) and the page envelope.

Every paginated endpoint answers `Page[T]`: `{"data": [...], "meta": PageMeta}`, one envelope in
the OpenAPI. Hot lists build the same shape as a dict with `page_envelope` (no model per row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import Field, WithJsonSchema

from reten.kit.errors import ValidationFailed
from reten.kit.schemas import ReadModel

ItemT = TypeVar("ItemT")

MAX_PER_PAGE = 100
# Deeper than any list is long (10 million pages of 100), and small enough that the row offset
# it asks for stays a 64-bit integer on every database.
MAX_PAGE = 10_000_000

# The OpenAPI types of `page` and `per_page` (and its alias `limit`); see `kit.params`.
AS_PAGE = WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1})
AS_PER_PAGE = WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})

# Above this many matching rows a list may answer with a capped estimate (quality.md).
COUNT_CAP = 100_000


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _parse_int(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ValidationFailed.one(name, "must be an integer") from None


def parse_page_params(
    page: str | None, per_page: str | None, limit: str | None, *, default_per_page: int
) -> PageParams:
    details = []
    page_n = 1
    try:
        parsed = _parse_int("page", page)
        if parsed is not None:
            page_n = parsed
            if page_n < 1:
                details.append({"field": "page", "message": "must be an integer >= 1"})
            elif page_n > MAX_PAGE:
                details.append({"field": "page", "message": f"must be at most {MAX_PAGE}"})
    except ValidationFailed as exc:
        details.extend(exc.details or [])
    size = default_per_page
    # per_page wins over its alias when both are sent.
    name, raw = ("per_page", per_page) if per_page not in (None, "") else ("limit", limit)
    try:
        parsed = _parse_int(name, raw)
        if parsed is not None:
            size = parsed
            if not 1 <= size <= MAX_PER_PAGE:
                details.append(
                    {"field": name, "message": f"must be an integer between 1 and {MAX_PER_PAGE}"}
                )
    except ValidationFailed as exc:
        details.extend(exc.details or [])
    if details:
        raise ValidationFailed(details)
    return PageParams(page=page_n, per_page=size)


class PageMeta(ReadModel):
    page: int
    limit: int
    total: int
    total_pages: int
    total_is_estimate: bool | None = Field(default=None, description="present (true) when capped")


class Page(ReadModel, Generic[ItemT]):
    """The envelope of every paginated list; `meta` is built by `page_envelope`'s rules."""

    data: list[ItemT]
    meta: PageMeta


def page_envelope(
    data: list[Any], params: PageParams, total: int, *, estimate: bool = False
) -> dict[str, Any]:
    return {"data": data, "meta": page_meta(params, total, estimate=estimate)}


def page_envelope_json(
    data: bytes, params: PageParams, total: int, *, estimate: bool = False
) -> bytes:
    """`page_envelope` encoded, around items already encoded as one JSON array (the same bytes
    as orjson gives for the envelope of those items)."""
    meta = orjson.dumps(page_meta(params, total, estimate=estimate))
    return b'{"data":' + data + b',"meta":' + meta + b"}"


def page_meta(params: PageParams, total: int, *, estimate: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "page": params.page,
        "limit": params.per_page,
        "total": total,
        "totalPages": math.ceil(total / params.per_page) if total else 0,
    }
    if estimate:
        meta["totalIsEstimate"] = True
    return meta
