"""Helpers shared by the operator and route tests: callers, and counting SQL statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from reten.kit.db import Database
from tests.factories import Factory, World

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass
class Admin:
    world: World
    headers: dict[str, str]


async def admin(factory: Factory, *, commerces_count: int = 2) -> Admin:
    """A fresh tenant and its ADMIN's JWT headers."""
    world = await factory.world(commerces_count=commerces_count)
    token = await factory.login(world.admin_email)
    return Admin(world, jwt_headers(token, world))


def jwt_headers(token: str, world: World) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}


async def role_headers(factory: Factory, world: World, role: str) -> dict[str, str]:
    _, email = await factory.user(world, [role])
    return jwt_headers(await factory.login(email), world)


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the block runs (executemany counts once)."""
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    for engine in db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        for engine in db.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", listener)


def fields(response_json: dict[str, Any]) -> set[str]:
    return {d["field"] for d in response_json.get("details", [])}
