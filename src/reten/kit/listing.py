"""List endpoints: `sort` and `search` parameters, and running a paginated query.

Totals are exact up to COUNT_CAP matching rows; above that the count stops early and the page
says `totalIsEstimate: true`, so a count never has to walk a huge tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from reten.kit.counts import totals
from reten.kit.errors import ValidationFailed
from reten.kit.pagination import COUNT_CAP, PageParams

# A SELECT of any columns (Select is variadic over its column types): what read models build.
AnySelect = Select[*tuple[Any, ...]]


def parse_sort(
    raw: str | None, allowed: Mapping[str, Any], default: str, tie_breaker: Any
) -> list[Any]:
    """ORDER BY clauses for `sort=field` / `sort=-field`, ties broken by `tie_breaker` ascending."""
    value = raw if raw not in (None, "") else default
    assert value is not None
    descending = value.startswith("-")
    name = value[1:] if descending else value
    if name not in allowed:
        options = ", ".join(f"{n}, -{n}" for n in allowed)
        raise ValidationFailed.one("sort", f"must be one of {options}")
    column = allowed[name]
    return [column.desc() if descending else column.asc(), tie_breaker.asc()]


def parse_search(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= 100:
        raise ValidationFailed.one("search", "must be 1-100 characters")
    return raw


def search_clause(text: str, columns: Sequence[Any]) -> ColumnElement[bool]:
    """Case-insensitive substring match on any of `columns` (LIKE wildcards are escaped)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


async def paginate(
    session: AsyncSession,
    stmt: Any,
    order_by: Sequence[Any],
    params: PageParams,
    *,
    scalars: bool = True,
    total_key: tuple[uuid.UUID, Hashable] | None = None,
) -> tuple[list[Any], int, bool]:
    """(items of the page, total, total_is_estimate) for a filtered statement.

    With `scalars` (the default) the items are the first column's values (ORM entities for a
    `select(Model)`); otherwise whole rows. With `total_key` (tenant, filters) the total comes
    from the per-process totals cache (`kit.counts`): a big list's count costs far more than
    its page (up to COUNT_CAP joined rows against one index walk of a page), so it is counted
    at most once per `RETEN_COUNT_CACHE_SECONDS` and filters, and at once after this process's
    own writes. The page itself is always read fresh.
    """

    async def count() -> tuple[int, bool]:
        capped = stmt.order_by(None).limit(COUNT_CAP + 1).subquery()
        found = int((await session.execute(select(func.count()).select_from(capped))).scalar_one())
        return min(found, COUNT_CAP), found > COUNT_CAP

    if total_key is None:
        total, estimate = await count()
    else:
        total, estimate = await totals.get(total_key[0], total_key[1], count)
    if params.offset >= total and not estimate:
        return [], total, False
    page = stmt.order_by(*order_by).limit(params.per_page).offset(params.offset)
    result = await session.execute(page)
    rows = list(result.scalars()) if scalars else list(result.all())
    return rows, total, estimate
