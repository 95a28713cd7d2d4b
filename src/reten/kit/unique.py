"""Unique violations → 409: one table from constraint name to the message naming the field.

Uniqueness is the database's job (two concurrent creates of one key end with one row and one
409, not a check-then-insert race). Each model declares what a violation of one of its unique
constraints or unique indexes means, next to the constraint, with `info=conflict("field")`; this
module builds the one table from the metadata and reads a violation back into a `Conflict`.

The two databases report a violation differently: PostgreSQL names the constraint (asyncpg on
the driver's exception, psycopg on its diagnostics); SQLite lists the indexed columns instead
("UNIQUE constraint failed: commerces.tenant_id, commerces.tax_id"), so the table is keyed by
both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Index, Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reten.kit.db import Base
from reten.kit.errors import Conflict

INFO_KEY = "conflict"


def conflict(field: str | None = None, *, message: str | None = None) -> dict[str, str]:
    """The `info` of a unique constraint or index: the 409 its violation answers with."""
    if message is None:
        if field is None:
            raise ValueError("conflict() needs a field or a message")
        message = f"{field} already exists"
    return {INFO_KEY: message}


@dataclass(frozen=True)
class UniqueRule:
    name: str  # as PostgreSQL reports it
    columns: str  # as SQLite reports it: "table.column, table.column"
    message: str | None  # None: a violation the caller handles itself (no 409 of its own)


def _rules_of(table: Table) -> list[UniqueRule]:
    rules = []
    items: list[UniqueConstraint | Index] = [
        c for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    items += [i for i in table.indexes if i.unique]
    for item in items:
        columns = ", ".join(f"{table.name}.{column.name}" for column in item.columns)
        rules.append(UniqueRule(str(item.name), columns, item.info.get(INFO_KEY)))
    return rules


def unique_rules() -> dict[str, UniqueRule]:
    """Every unique constraint and index of the schema, by PostgreSQL name and SQLite columns.

    Built on use and again whenever more models have been imported since (a command may import
    one domain, meet a violation, then import another)."""
    return _rules(len(Base.metadata.tables))


@lru_cache(maxsize=8)
def _rules(_tables: int) -> dict[str, UniqueRule]:
    table: dict[str, UniqueRule] = {}
    for model_table in Base.metadata.tables.values():
        for rule in _rules_of(model_table):
            table[rule.name] = rule
            table.setdefault(rule.columns, rule)
    return table


def _reported(exc: IntegrityError) -> tuple[str | None, str | None]:
    """(constraint name, column list) of a unique violation, whichever the driver gives."""
    orig: Any = exc.orig
    text = str(orig)
    cause = getattr(orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(
        getattr(orig, "diag", None), "constraint_name", None
    )
    if name is None and "unique constraint" in text and '"' in text:
        name = text.split('"')[1]
    columns = None
    if "UNIQUE constraint failed:" in text:
        columns = text.split("UNIQUE constraint failed:", 1)[1].strip().splitlines()[0]
    return name, columns


def violated(exc: IntegrityError) -> UniqueRule | None:
    """The unique constraint or index a failed write violated; None for any other failure."""
    name, columns = _reported(exc)
    rules = unique_rules()
    if name is not None and name in rules:
        return rules[name]
    if columns is not None:
        return rules.get(columns)
    return None


def conflict_of(exc: IntegrityError) -> Conflict | None:
    """The 409 a failed write answers with, or None when it was no declared unique violation."""
    rule = violated(exc)
    if rule is None or rule.message is None:
        return None
    return Conflict(rule.message)


@asynccontextmanager
async def unique_as_conflict(session: AsyncSession) -> AsyncIterator[None]:
    """Run writes (and their commit); a declared unique violation rolls back and becomes a 409.

    Anything else rolls back and propagates: a failure nobody declared is a bug, not a 409.
    """
    try:
        yield
    except IntegrityError as exc:
        await session.rollback()
        found = conflict_of(exc)
        if found is None:
            raise
        raise found from None
