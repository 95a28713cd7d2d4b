"""POST /api/routes/sync (management-api.md §10.6 and rule S of §8.6)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from reten.auth.permissions import Permission
from reten.commerces import service as commerces
from reten.kit.db import Database
from reten.operators import service as operators
from reten.operators.models import OperatorType
from reten.routes.models import Route, RouteCommerce, RouteOperator
from tests.factories import Factory
from tests.operators.support import Admin, admin, count_statements, role_headers

PATH = "/api/routes/sync"


def item(external_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"external_id": external_id, "name": f"Route {external_id}"}
    body.update(overrides)
    return body


async def sync(client: httpx.AsyncClient, who: Admin, items: list[Any]) -> httpx.Response:
    return await client.post(PATH, json={"items": items}, headers=who.headers)


async def stored_routes(db: Database, tenant_id: uuid.UUID) -> dict[str | None, Route]:
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Route).where(Route.tenant_id == tenant_id))).scalars()
        return {r.external_id: r for r in rows}


async def operator_links(db: Database, route_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, bool]]:
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(select(RouteOperator).where(RouteOperator.route_id == route_id))
        ).scalars()
        return {r.operator_id: (r.role, r.is_active) for r in rows}


async def commerce_links(db: Database, route_id: uuid.UUID) -> set[uuid.UUID]:
    async with db.sessionmaker() as session:
        stmt = select(RouteCommerce.commerce_id).where(RouteCommerce.route_id == route_id)
        return set((await session.execute(stmt)).scalars())


class TestSyncWrites:
    async def test_routes_are_created_and_updated_with_their_links(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        response = await sync(
            client,
            who,
            [
                item("R-1", name="Ruta Norte Renombrada", description="north",
                     operators=[{"type": "SALESMAN", "external_id": "OP-17", "role": "LEAD"}],
                     commerce_external_ids=["COM-001"]),
                item("R-2", isActive=False, metadata={"zoneKey": 1},
                     operators=[{"type": "SALESMAN", "externalId": "OP-17"}],
                     commerceExternalIds=["COM-001", "COM-002"]),
            ],
        )  # fmt: skip
        assert response.status_code == 201, response.text
        assert response.json() == {"created": 1, "updated": 1, "total": 2}
        rows = await stored_routes(db, world.tenant_id)
        north, new = rows["R-1"], rows["R-2"]
        assert north.id == world.route_id
        assert (north.name, north.description, north.is_active) == (
            "Ruta Norte Renombrada", "north", True,
        )  # fmt: skip
        assert (new.name, new.is_active, new.metadata_) == ("Route R-2", False, {"zoneKey": 1})
        assert await operator_links(db, north.id) == {world.operator_id: ("LEAD", True)}
        assert await operator_links(db, new.id) == {world.operator_id: ("MEMBER", True)}
        assert await commerce_links(db, north.id) == {world.commerce_ids[0]}
        assert await commerce_links(db, new.id) == set(world.commerce_ids)

    async def test_links_are_reactivated_roles_kept_unless_given_and_never_removed(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        async with db.sessionmaker() as session:
            lead = await operators.create_operator(
                session, world.tenant_id, external_id="L", name="Lead", type=OperatorType.ACTIVATOR
            )
            await session.commit()
        first = await sync(
            client, who,
            [item("R-1", operators=[{"type": "ACTIVATOR", "external_id": "L", "role": "LEAD"}],
                  commerce_external_ids=["COM-001"])],
        )  # fmt: skip
        assert first.status_code == 201
        async with db.sessionmaker() as session:
            link = (
                await session.execute(
                    select(RouteOperator).where(RouteOperator.operator_id == lead.id)
                )
            ).scalar_one()
            link.is_active = False
            await session.commit()
        # Role not given: reactivated as LEAD; the items omit OP-17 and COM-001, which stay.
        second = await sync(
            client, who,
            [item("R-1", operators=[{"type": "ACTIVATOR", "external_id": "L"}],
                  commerce_external_ids=["COM-002"])],
        )  # fmt: skip
        assert second.json() == {"created": 0, "updated": 1, "total": 1}
        assert await operator_links(db, world.route_id) == {
            world.operator_id: ("MEMBER", True), lead.id: ("LEAD", True),
        }  # fmt: skip
        assert await commerce_links(db, world.route_id) == set(world.commerce_ids)
        third = await sync(
            client, who,
            [item("R-1", operators=[{"type": "SALESMAN", "external_id": "OP-17", "role": "LEAD"}])],
        )  # fmt: skip
        assert third.status_code == 201
        assert (await operator_links(db, world.route_id))[world.operator_id] == ("LEAD", True)

    async def test_optional_fields_change_only_when_given(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        await sync(client, who, [item("X", description="d", metadata={"a": 1, "b": 2})])
        await client.delete(
            f"/api/routes/{(await stored_routes(db, who.world.tenant_id))['X'].id}",
            headers=who.headers,
        )
        response = await sync(client, who, [item("X", name="Renamed", metadata={"a": None})])
        assert response.json() == {"created": 0, "updated": 1, "total": 1}
        x = (await stored_routes(db, who.world.tenant_id))["X"]
        assert (x.name, x.description, x.metadata_, x.is_active) == (
            "Renamed",
            "d",
            {"b": 2},
            False,
        )
        await sync(client, who, [item("X", description=None, is_active=True)])
        x = (await stored_routes(db, who.world.tenant_id))["X"]
        assert (x.description, x.is_active) == (None, True)

    async def test_inactive_operators_and_commerces_may_be_linked(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        async with db.sessionmaker() as session:
            await commerces.create_commerce(
                session, who.world.tenant_id, external_id="SHUT", name="Shut", is_active=False
            )
            await session.commit()
        await client.delete(f"/api/operators/{who.world.operator_id}", headers=who.headers)
        response = await sync(
            client, who,
            [item("NEW", operators=[{"type": "SALESMAN", "external_id": "OP-17"}],
                  commerce_external_ids=["SHUT"])],
        )  # fmt: skip
        assert response.status_code == 201, response.text


class TestSyncRejections:
    async def test_unknown_references_and_duplicates_reject_the_whole_batch(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [
                item("OK-1", commerce_external_ids=["COM-001"]),
                item("BAD-1", operators=[{"type": "ACTIVATOR", "externalId": "OP-17"}]),
                item("BAD-2", commerceExternalIds=["COM-001", "NOPE"]),
                item("OK-1"),
                item("BAD-3", operators=[
                    {"type": "SALESMAN", "external_id": "OP-17"},
                    {"type": "SALESMAN", "external_id": "OP-17", "role": "LEAD"},
                ], commerce_external_ids=["COM-002", "COM-002"]),
                item("BAD-4", operators=[{"type": "SALESMAN", "external_id": "OP-17", "role": "BOSS"}]),
            ],
        )  # fmt: skip
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 5 invalid items"
        assert body["details"] == [
            {"field": "items[1].operators[0].externalId",
             "message": "no ACTIVATOR operator has this external_id"},
            {"field": "items[2].commerceExternalIds[1]",
             "message": "no commerce has this external_id"},
            {"field": "items[3].external_id", "message": "same external_id as items[0]"},
            {"field": "items[4].operators[1]", "message": "same operator as items[4].operators[0]"},
            {"field": "items[4].commerce_external_ids[1]",
             "message": "same commerce as items[4].commerce_external_ids[0]"},
            {"field": "items[5].operators[0].role", "message": "must be one of LEAD, MEMBER"},
        ]  # fmt: skip
        assert set(await stored_routes(db, who.world.tenant_id)) == {"R-1"}
        assert await commerce_links(db, who.world.route_id) == set()

    async def test_item_schema_problems(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        response = await sync(
            client,
            who,
            [
                {"name": "no key"},
                item("X", description="d" * 2001, operators="OP-17", commerce_external_ids=[""]),
                item("Y", operators=None, metadata=None),
            ],
        )
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 3 invalid items"
        assert [d["field"] for d in body["details"]] == [
            "items[0].external_id", "items[1].description", "items[1].operators",
            "items[1].commerce_external_ids[0]", "items[2].metadata", "items[2].operators",
        ]  # fmt: skip

    async def test_nul_characters_in_child_lists_are_item_errors(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await sync(client, who, [item("A", commerceExternalIds=["COM-001", "\x00"])])
        assert response.status_code == 400
        assert response.json()["details"] == [
            {
                "field": "items[0].commerceExternalIds[1]",
                "message": "must not contain NUL characters",
            }
        ]

    async def test_another_tenants_operators_and_commerces_are_unknown(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who, other = await admin(factory), await admin(factory)
        async with db.sessionmaker() as session:
            await operators.create_operator(
                session, other.world.tenant_id, external_id="THEIRS", name="Theirs"
            )
            await commerces.create_commerce(
                session, other.world.tenant_id, external_id="THEIR-COM", name="Theirs"
            )
            await session.commit()
        response = await sync(
            client, who,
            [item("Z", operators=[{"type": "SALESMAN", "external_id": "THEIRS"}],
                  commerce_external_ids=["THEIR-COM"])],
        )  # fmt: skip
        assert response.status_code == 400
        assert len(response.json()["details"]) == 2


class TestSyncAccess:
    async def test_manage_routes_is_enough_and_needed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        fde = await role_headers(factory, who.world, "FDE")
        assert (
            await client.post(PATH, json={"items": [item("F")]}, headers=fde)
        ).status_code == 201
        viewer = await role_headers(factory, who.world, "VIEWER")
        refused = await client.post(PATH, json={"items": [item("V")]}, headers=viewer)
        assert refused.status_code == 403
        key = await factory.api_key(who.world, [Permission.MANAGE_ROUTES])
        by_key = await client.post(PATH, json={"items": [item("K")]}, headers={"x-api-key": key})
        assert by_key.status_code == 201


class TestSyncCost:
    async def test_statement_count_does_not_grow_with_the_items(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        counts: dict[str, list[int]] = {"create": [], "update": [], "relink": []}
        for size in (10, 200):
            who = await admin(factory)
            for phase, name in (("create", "First"), ("update", "Second")):
                items = [
                    item(
                        f"S{i}",
                        name=name,
                        metadata={"i": i},
                        operators=[{"type": "SALESMAN", "external_id": "OP-17", "role": "LEAD"}],
                        commerce_external_ids=["COM-001", "COM-002"],
                    )
                    for i in range(size)
                ]
                with count_statements(db) as statements:
                    response = await sync(client, who, items)
                assert response.status_code == 201, response.text
                counts[phase].append(len(statements))
            # Deactivated links make the next sync update them too.
            async with db.sessionmaker() as session:
                for link in (await session.execute(select(RouteOperator).where(
                        RouteOperator.tenant_id == who.world.tenant_id))).scalars():  # fmt: skip
                    link.is_active = False
                await session.commit()
            with count_statements(db) as statements:
                response = await sync(client, who, items)
            counts["relink"].append(len(statements))
            assert response.json() == {"created": 0, "updated": size, "total": size}
            rows = await stored_routes(db, who.world.tenant_id)
            assert len(rows) == size + 1
            assert {r.name for r in rows.values()} == {"Second", "Ruta Norte"}
            assert await operator_links(db, rows["S0"].id) == {
                who.world.operator_id: ("LEAD", True)
            }
        for phase, (small, large) in counts.items():
            assert small == large, (phase, counts)

    async def test_concurrent_syncs_of_the_same_routes_leave_one_row_per_key(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        items = [
            item(f"C{i}", operators=[{"type": "SALESMAN", "external_id": "OP-17"}],
                 commerce_external_ids=["COM-001"])
            for i in range(200)
        ]  # fmt: skip
        responses = await asyncio.gather(*(sync(client, who, items) for _ in range(4)))
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert sum(r.json()["created"] for r in responses) == 200
        rows = await stored_routes(db, who.world.tenant_id)
        assert len(rows) == 201
        assert await commerce_links(db, rows["C7"].id) == {who.world.commerce_ids[0]}
