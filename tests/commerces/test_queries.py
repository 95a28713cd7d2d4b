"""How the commerce endpoints use the database: statement counts that do not grow with the data
(quality.md: no N+1, bulk sync) and unique keys that hold under concurrent requests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, func, select

from reten.commerces.models import Address, Commerce, CommerceUser, Contact
from reten.kit.db import Database
from tests.commerces.conftest import Caller, make_caller
from tests.factories import Factory


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent to the database inside the block (an executemany counts once).

    Transaction control is left out: SQLite sends BEGIN IMMEDIATE itself, asyncpg does not."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        if not args[2].lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(args[2])

    # Both pools on PostgreSQL: the hot lists read through their own (Database.reader).
    for engine in db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in db.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", record)


def items(count: int, *, version: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"Q-{i:04d}",
            "name": f"Store {i} v{version}",
            "tax_id": f"TAX-{i}",
            "metadata": {"version": version},
            "addresses": [
                {"source_ref": "main", "street": f"Street {i} v{version}", "is_primary": True},
                {"street": "no ref, appended each time"},
            ],
            "users": [
                {
                    "external_id": "owner",
                    "name": f"Owner v{version}",
                    "roles": ["OWNER", "FINANCE"] if version > 1 else ["OWNER"],
                    "contacts": [
                        {"contact_type": "PHONE", "value": f"+569{i:08d}", "is_primary": True},
                        {"contact_type": "EMAIL", "value": f"v{version}-{i}@x.cl"},
                    ],
                }
            ],
        }
        for i in range(count)
    ]


async def sync_statements(db: Database, caller: Caller, body: list[dict[str, Any]]) -> int:
    with statements(db) as seen:
        response = await caller.post("/api/commerces/sync", {"items": body})
    assert response.status_code == 201, response.text
    return len(seen)


class TestStatementCounts:
    async def test_sync_statements_do_not_grow_with_the_number_of_items(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        small = await make_caller(client, factory)
        large = await make_caller(client, factory)

        create_small = await sync_statements(db, small, items(10))
        create_large = await sync_statements(db, large, items(200))
        update_small = await sync_statements(db, small, items(10, version=2))
        update_large = await sync_statements(db, large, items(200, version=2))

        assert create_small == create_large
        assert update_small == update_large
        # 3 for authentication, then one statement per kind of row read or written
        assert create_large <= 9 and update_large <= 18, (create_large, update_large)

    async def test_list_statements_do_not_grow_with_the_page(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        small = await make_caller(client, factory)
        large = await make_caller(client, factory)
        await small.post("/api/commerces/sync", {"items": items(3)})
        await large.post("/api/commerces/sync", {"items": items(60)})

        counts = []
        for caller in (small, large):
            with statements(db) as seen:
                response = await caller.get("/api/commerces", per_page="100")
            assert response.status_code == 200
            counts.append(len(seen))

        assert counts[0] == counts[1]
        assert counts[1] <= 5, counts  # authentication (3), count, page

    async def test_detail_loads_every_child_in_a_constant_number_of_queries(
        self, admin: Caller, db: Database
    ) -> None:
        def body(users: int, addresses: int) -> dict[str, Any]:
            return {
                "external_id": f"D-{users}",
                "name": "Detail",
                "addresses": [{"street": f"s{i}"} for i in range(addresses)],
                "users": [
                    {
                        "name": f"User {u}",
                        "roles": ["OWNER", "ORDERS"],
                        "contacts": [
                            {"contact_type": "EMAIL", "value": f"{u}@x.cl"},
                            {"contact_type": "OTHER", "value": f"desk {u}"},
                        ],
                    }
                    for u in range(users)
                ],
            }

        small = await admin.create(**body(1, 1))
        large = await admin.create(**body(40, 30))

        counts = []
        for created in (small, large):
            with statements(db) as seen:
                response = await admin.get(f"/api/commerces/{created['id']}")
            assert response.status_code == 200
            counts.append(len(seen))

        assert len(response.json()["users"]) == 40
        assert counts[0] == counts[1]
        # authentication (3), then the commerce, addresses, users, roles, contacts
        assert counts[1] <= 8, counts


async def _count(db: Database, model: type[Any], *criteria: Any) -> int:
    async with db.sessionmaker() as session:
        stmt = select(func.count()).select_from(model).where(*criteria)
        return int((await session.execute(stmt)).scalar_one())


async def _race(caller: Caller, path: str, body: dict[str, Any]) -> list[int]:
    responses = await asyncio.gather(caller.post(path, body), caller.post(path, body))
    for response in responses:
        if response.status_code == 409:
            assert response.json()["statusCode"] == 409
    return sorted(r.status_code for r in responses)


class TestConcurrentCreates:
    """Two requests creating the same key at once: one row, one 201 and one 409."""

    async def test_commerce_external_id(self, admin: Caller, db: Database) -> None:
        statuses = await _race(admin, "/api/commerces", {"external_id": "race", "name": "n"})
        assert statuses == [201, 409]
        assert await _count(db, Commerce, Commerce.tenant_id == admin.world.tenant_id) == 1

    async def test_commerce_tax_id(self, admin: Caller, db: Database) -> None:
        first, second = await asyncio.gather(
            admin.post("/api/commerces", {"external_id": "r1", "name": "n", "tax_id": "T"}),
            admin.post("/api/commerces", {"external_id": "r2", "name": "n", "tax_id": "T"}),
        )
        assert sorted([first.status_code, second.status_code]) == [201, 409]
        loser = first if first.status_code == 409 else second
        assert loser.json()["message"] == "tax_id already exists"
        assert (
            await _count(
                db, Commerce, Commerce.tax_id == "T", Commerce.tenant_id == admin.world.tenant_id
            )
            == 1
        )

    async def test_address_source_ref(self, admin: Caller, db: Database) -> None:
        commerce_id = (await admin.create(external_id="a"))["id"]
        statuses = await _race(
            admin, f"/api/commerces/{commerce_id}/addresses", {"source": "RETEN", "source_ref": "r"}
        )
        assert statuses == [201, 409]
        assert await _count(db, Address, Address.commerce_id == uuid.UUID(commerce_id)) == 1

    async def test_user_external_id(self, admin: Caller, db: Database) -> None:
        commerce_id = (await admin.create(external_id="u"))["id"]
        statuses = await _race(admin, f"/api/commerces/{commerce_id}/users", {"external_id": "u"})
        assert statuses == [201, 409]
        assert (
            await _count(db, CommerceUser, CommerceUser.commerce_id == uuid.UUID(commerce_id)) == 1
        )

    async def test_contact_value(self, admin: Caller, db: Database) -> None:
        created = await admin.create(external_id="c", users=[{"name": "x"}])
        user_id = created["users"][0]["id"]
        statuses = await _race(
            admin,
            f"/api/commerces/{created['id']}/users/{user_id}/contacts",
            {"contact_type": "EMAIL", "value": "a@b.cl", "source": "RETEN"},
        )
        assert statuses == [201, 409]
        assert await _count(db, Contact, Contact.commerce_user_id == uuid.UUID(user_id)) == 1

    async def test_two_new_primaries_leave_exactly_one(self, admin: Caller, db: Database) -> None:
        commerce_id = (await admin.create(external_id="p", addresses=[{"is_primary": True}]))["id"]
        path = f"/api/commerces/{commerce_id}/addresses"
        body = {"source": "RETEN", "is_primary": True}

        responses = await asyncio.gather(*(admin.post(path, body) for _ in range(4)))

        assert {r.status_code for r in responses} <= {201, 409}
        assert any(r.status_code == 201 for r in responses)
        primaries = await _count(
            db, Address, Address.commerce_id == uuid.UUID(commerce_id), Address.is_primary.is_(True)
        )
        assert primaries == 1

    async def test_two_syncs_of_one_new_commerce_leave_one_row(
        self, admin: Caller, db: Database
    ) -> None:
        body = {"items": [{"external_id": "s", "name": "n", "users": [{"external_id": "u"}]}]}

        responses = await asyncio.gather(
            admin.post("/api/commerces/sync", body), admin.post("/api/commerces/sync", body)
        )

        statuses = sorted(r.status_code for r in responses)
        # serialised (SQLite): the second one updates; interleaved (PostgreSQL): it gets a 409
        assert statuses in ([201, 201], [201, 409]), [r.text for r in responses]
        assert await _count(db, Commerce, Commerce.tenant_id == admin.world.tenant_id) == 1
