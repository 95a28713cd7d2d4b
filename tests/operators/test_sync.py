"""POST /api/operators/sync (management-api.md §9.6 and rule S of §8.6)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from reten.auth.permissions import Permission
from reten.kit.db import Database
from reten.operators.models import Operator
from tests.factories import Factory
from tests.operators.support import Admin, admin, count_statements, role_headers

PATH = "/api/operators/sync"


def item(external_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "SALESMAN", "external_id": external_id, "name": "Sync Person"}
    body.update(overrides)
    return body


async def sync(client: httpx.AsyncClient, who: Admin, items: list[Any]) -> httpx.Response:
    return await client.post(PATH, json={"items": items}, headers=who.headers)


async def stored(db: Database, tenant_id: uuid.UUID) -> dict[tuple[str, str | None], Operator]:
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(select(Operator).where(Operator.tenant_id == tenant_id))
        ).scalars()
        return {(o.type, o.external_id): o for o in rows}


class TestSyncWrites:
    async def test_new_items_are_created_and_matched_items_updated(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [
                item("OP-17", name="Juan  Pablo Pérez", email="JUAN@example.com"),
                item("OP-17", type="ACTIVATOR", name="Other Type"),
                item("NEW-1", name="Nueva", phone="+56922222222", isActive=False,
                     metadata={"zoneCode": 7, "gone": None}),
            ],
        )  # fmt: skip
        assert response.status_code == 201, response.text
        assert response.json() == {"created": 2, "updated": 1, "total": 3}
        rows = await stored(db, who.world.tenant_id)
        assert len(rows) == 3
        juan = rows[("SALESMAN", "OP-17")]
        assert juan.id == who.world.operator_id
        assert (juan.first_name, juan.last_name, juan.email) == (
            "Juan",
            "Pablo Pérez",
            "juan@example.com",
        )
        new = rows[("SALESMAN", "NEW-1")]
        assert new.is_active is False and new.is_placeholder is False
        assert new.phone == "+56922222222" and new.metadata_ == {"zoneCode": 7}
        assert rows[("ACTIVATOR", "OP-17")].is_active is True

    async def test_optional_fields_change_only_when_given_and_null_clears(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        first = await sync(
            client, who,
            [item("A", email="a@example.com", phone="+56911111111", metadata={"k": 1, "m": 2}),
             item("B", email="b@example.com", phone="+56933333333")],
        )  # fmt: skip
        assert first.status_code == 201
        second = await sync(
            client, who,
            [item("A", name="Renamed"),
             item("B", email=None, phone=None, metadata={"m": None, "n": 3}, is_active=False)],
        )  # fmt: skip
        assert second.json() == {"created": 0, "updated": 2, "total": 2}
        rows = await stored(db, who.world.tenant_id)
        a, b = rows[("SALESMAN", "A")], rows[("SALESMAN", "B")]
        assert (a.first_name, a.last_name) == ("Renamed", None)
        assert (a.email, a.phone, a.metadata_, a.is_active) == (
            "a@example.com", "+56911111111", {"k": 1, "m": 2}, True,
        )  # fmt: skip
        assert (b.email, b.phone, b.metadata_, b.is_active) == (None, None, {"n": 3}, False)

    async def test_a_matched_placeholder_stops_being_one(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        created = await client.post(
            "/api/operators",
            json={
                "type": "CALLCENTER",
                "name": "Temp",
                "external_id": "PH",
                "is_placeholder": True,
            },
            headers=who.headers,
        )
        assert created.json()["isPlaceholder"] is True
        response = await sync(client, who, [item("PH", type="CALLCENTER", name="Real")])
        assert response.json() == {"created": 0, "updated": 1, "total": 1}
        assert (await stored(db, who.world.tenant_id))[("CALLCENTER", "PH")].is_placeholder is False

    async def test_an_items_own_stored_email_is_not_a_conflict(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        assert (await sync(client, who, [item("A", email="a@example.com")])).status_code == 201
        again = await sync(client, who, [item("A", email="A@example.com", name="Again")])
        assert again.status_code == 201, again.text

    async def test_an_unchanged_item_counts_as_updated_but_is_not_rewritten(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        assert (await sync(client, who, [item("U", email="u@example.com")])).status_code == 201
        before = (await stored(db, who.world.tenant_id))[("SALESMAN", "U")].updated_at
        await asyncio.sleep(0.002)
        again = await sync(client, who, [item("U", email="u@example.com")])
        assert again.json() == {"created": 0, "updated": 1, "total": 1}
        assert (await stored(db, who.world.tenant_id))[("SALESMAN", "U")].updated_at == before
        changed = await sync(client, who, [item("U", phone="+56944444444")])
        assert changed.json() == {"created": 0, "updated": 1, "total": 1}
        assert (await stored(db, who.world.tenant_id))[("SALESMAN", "U")].updated_at > before

    async def test_camel_case_items_are_accepted(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [{"type": "SALESMAN", "externalId": "CAMEL", "name": "C", "isActive": False}],
        )
        assert response.status_code == 201, response.text
        assert (await stored(db, who.world.tenant_id))[("SALESMAN", "CAMEL")].is_active is False


class TestSyncRejections:
    async def test_one_bad_item_rejects_the_batch_and_writes_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [
                item("GOOD-1"),
                item("BAD-1", email="nope"),
                {"type": "SALESMAN", "externalId": "", "name": "x"},
                item("OP-17", name="Changed"),
                {"type": "BOSS", "name": None},
                "not an object",
            ],
        )
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 4 invalid items"
        assert [d["field"] for d in body["details"]] == [
            "items[1].email", "items[2].externalId", "items[4].type",
            "items[4].external_id", "items[4].name", "items[5]",
        ]  # fmt: skip
        rows = await stored(db, who.world.tenant_id)
        assert set(rows) == {("SALESMAN", "OP-17")}
        assert rows[("SALESMAN", "OP-17")].first_name == "Juan"

    async def test_duplicate_keys_and_emails_inside_the_batch_are_item_errors(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [
                item("X", email="same@example.com"),
                item("Y", email="SAME@example.com"),
                {"type": "SALESMAN", "externalId": "X", "name": "dup"},
            ],
        )
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 2 invalid items"
        assert body["details"] == [
            {"field": "items[1].email", "message": "same email as items[0]"},
            {"field": "items[2].externalId",
             "message": "same type + external_id as items[0]"},
        ]  # fmt: skip
        assert len(await stored(db, who.world.tenant_id)) == 1

    async def test_an_email_held_by_another_operator_is_an_item_error(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        await client.post(
            "/api/operators",
            json={"type": "SALESMAN", "name": "Holder", "email": "held@example.com"},
            headers=who.headers,
        )
        response = await sync(client, who, [item("NEW"), item("OTHER", email="held@example.com")])
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "items[1].email", "message": "already exists"}
        ]
        assert ("SALESMAN", "NEW") not in await stored(db, who.world.tenant_id)

    async def test_nul_characters_are_item_errors(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await sync(client, who, [item("A"), item("B", externalId="B\x00")])
        assert response.status_code == 400
        assert response.json()["message"] == "Sync rejected: 1 invalid items"
        assert response.json()["details"] == [
            {"field": "items[1].externalId", "message": "must not contain NUL characters"}
        ]

    async def test_body_level_problems(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        for body, message in (
            ({}, "items is required"),
            ({"items": {}}, "items must be an array"),
            ({"items": []}, "items must hold 1-1000 items"),
            ({"items": [item(f"E{i}") for i in range(1001)]}, "items must hold 1-1000 items"),
        ):
            response = await client.post(PATH, json=body, headers=who.headers)
            assert response.status_code == 400
            assert response.json()["message"] == message

    async def test_null_for_a_non_nullable_item_field_is_an_item_error(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await sync(client, who, [item("A", metadata=None, is_active=None)])
        assert response.status_code == 400
        assert {d["field"] for d in response.json()["details"]} == {
            "items[0].metadata", "items[0].is_active",
        }  # fmt: skip


class TestSyncAccess:
    async def test_needs_sync_operators_which_an_fde_lacks(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        fde = await role_headers(factory, who.world, "FDE")
        response = await client.post(PATH, json={"items": [item("A")]}, headers=fde)
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires SYNC_OPERATORS"
        key = await factory.api_key(who.world, [Permission.SYNC_OPERATORS])
        response = await client.post(PATH, json={"items": [item("A")]}, headers={"x-api-key": key})
        assert response.status_code == 201

    async def test_a_sync_never_touches_another_tenant(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        owner, other = await admin(factory), await admin(factory)
        # Both worlds have an OP-17: the sync matches the caller's own.
        response = await sync(client, other, [item("OP-17", name="Intruder")])
        assert response.json() == {"created": 0, "updated": 1, "total": 1}
        assert (await stored(db, other.world.tenant_id))[("SALESMAN", "OP-17")].first_name == (
            "Intruder"
        )
        mine = (await stored(db, owner.world.tenant_id))[("SALESMAN", "OP-17")]
        assert mine.first_name == "Juan"


class TestSyncCost:
    async def test_statement_count_does_not_grow_with_the_items(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        counts: dict[str, list[int]] = {"create": [], "update": []}
        for size in (10, 200):
            who = await admin(factory)
            for phase, name in (("create", "First Name"), ("update", "Second Name")):
                items = [
                    item(f"E{i}", name=name, email=f"e{i}@example.com", metadata={"i": i})
                    for i in range(size)
                ]
                with count_statements(db) as statements:
                    response = await sync(client, who, items)
                assert response.status_code == 201, response.text
                counts[phase].append(len(statements))
            assert response.json() == {"created": 0, "updated": size, "total": size}
            rows = await stored(db, who.world.tenant_id)
            assert {o.first_name for k, o in rows.items() if k[1] != "OP-17"} == {"Second"}
        assert counts["create"][0] == counts["create"][1], counts
        assert counts["update"][0] == counts["update"][1], counts

    async def test_concurrent_syncs_of_the_same_keys_leave_one_row_per_key(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        items = [item(f"R{i}") for i in range(200)]
        responses = await asyncio.gather(*(sync(client, who, items) for _ in range(4)))
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert sum(r.json()["created"] for r in responses) == 200
        async with db.sessionmaker() as session:
            count = (
                await session.execute(
                    select(func.count())
                    .select_from(Operator)
                    .where(Operator.tenant_id == who.world.tenant_id)
                )
            ).scalar_one()
        assert count == 201
