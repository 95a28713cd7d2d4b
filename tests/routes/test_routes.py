"""The /api/routes endpoints 10.1–10.5 and 10.7–10.10 (management-api.md §10)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update

from reten.auth.permissions import Permission
from reten.commerces import service as commerces
from reten.kit.db import Database
from reten.operators import service as operators
from reten.operators.models import OperatorType
from reten.routes import service as routes
from reten.routes.models import Route, RouteCommerce, RouteOperator, RouteOperatorRole
from tests.factories import Factory
from tests.operators.support import (
    TIMESTAMP_RE,
    Admin,
    admin,
    count_statements,
    fields,
    role_headers,
)

ROUTE_FIELDS = {
    "id", "name", "externalId", "description", "isActive", "metadata", "createdAt", "updatedAt",
}  # fmt: skip
DETAIL_FIELDS = ROUTE_FIELDS | {"operators", "commerceCount"}
LINK_FIELDS = {"routeId", "operatorId", "role", "isActive", "createdAt", "updatedAt"}


async def create(client: httpx.AsyncClient, who: Admin, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {"name": "North 01"}
    body.update(overrides)
    return await client.post("/api/routes", json=body, headers=who.headers)


async def created(client: httpx.AsyncClient, who: Admin, **overrides: Any) -> dict[str, Any]:
    response = await create(client, who, **overrides)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def new_operator(
    db: Database,
    who: Admin,
    external_id: str,
    name: str,
    type: OperatorType = OperatorType.SALESMAN,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        op = await operators.create_operator(
            session, who.world.tenant_id, external_id=external_id, name=name, type=type
        )
        await session.commit()
        return op.id


async def link_count(db: Database, model: Any, route_id: uuid.UUID | str) -> int:
    async with db.sessionmaker() as session:
        stmt = (
            select(func.count())
            .select_from(model)
            .where(model.route_id == uuid.UUID(str(route_id)))
        )
        return int((await session.execute(stmt)).scalar_one())


class TestCreateRoute:
    async def test_created_route_is_a_route_detail(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(
            client, who, name="  North 01 ", external_id="R-N01", description="Up the hill",
            metadata={"zone_id": {"innerKey": 1}},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == DETAIL_FIELDS
        assert body["name"] == "North 01" and body["externalId"] == "R-N01"
        assert body["description"] == "Up the hill"
        assert body["isActive"] is True
        assert body["metadata"] == {"zone_id": {"innerKey": 1}}
        assert body["operators"] == [] and body["commerceCount"] == 0
        assert TIMESTAMP_RE.match(body["createdAt"]) and TIMESTAMP_RE.match(body["updatedAt"])

    async def test_defaults_and_camel_case(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, isActive=False, externalId="camel")
        assert body["isActive"] is False and body["externalId"] == "camel"
        plain = await created(client, who)
        assert plain["externalId"] is None and plain["description"] is None
        assert plain["metadata"] == {}

    async def test_validation(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        response = await client.post(
            "/api/routes",
            json={"externalId": "x" * 256, "description": "d" * 2001, "isActive": "maybe",
                  "metadata": "text"},
            headers=who.headers,
        )  # fmt: skip
        assert response.status_code == 400
        assert fields(response.json()) == {
            "name",
            "externalId",
            "description",
            "isActive",
            "metadata",
        }
        assert (await create(client, who, description="d" * 2000)).status_code == 201

    async def test_nul_characters_are_400_not_a_storage_error(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(client, who, description="a\x00b")
        assert response.status_code == 400 and fields(response.json()) == {"description"}
        patched = await client.patch(
            f"/api/routes/{who.world.route_id}", json={"metadata": {"x": "\x00"}},
            headers=who.headers,
        )  # fmt: skip
        assert patched.status_code == 400 and fields(patched.json()) == {"metadata.x"}
        for param in ("external_id", "search"):
            listed = await client.get("/api/routes", params={param: "\x00"}, headers=who.headers)
            assert listed.status_code == 400 and fields(listed.json()) == {param}

    async def test_null_rules(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        for field in ("name", "is_active", "metadata"):
            response = await create(client, who, **{field: None})
            assert response.status_code == 400 and fields(response.json()) == {field}, field
        body = await created(client, who, external_id=None, description=None)
        assert body["externalId"] is None and body["description"] is None

    async def test_duplicate_external_id_is_409_but_many_routes_may_have_none(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(client, who, external_id="R-1")  # the world's route
        assert response.status_code == 409
        assert response.json()["message"] == "external_id already exists"
        await created(client, who)
        await created(client, who)

    async def test_concurrent_creates_of_one_external_id_leave_one_row_and_one_409(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        responses = await asyncio.gather(
            create(client, who, external_id="RACE"), create(client, who, external_id="RACE")
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        async with db.sessionmaker() as session:
            count = (
                await session.execute(
                    select(func.count())
                    .select_from(Route)
                    .where(Route.tenant_id == who.world.tenant_id, Route.external_id == "RACE")
                )
            ).scalar_one()
        assert count == 1

    async def test_a_viewer_is_refused_and_an_api_key_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        viewer = await role_headers(factory, who.world, "VIEWER")
        response = await client.post("/api/routes", json={"name": "x"}, headers=viewer)
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires MANAGE_ROUTES"
        key = await factory.api_key(who.world, [Permission.MANAGE_ROUTES])
        response = await client.post("/api/routes", json={"name": "x"}, headers={"x-api-key": key})
        assert response.status_code == 201


class TestListRoutes:
    async def test_order_filters_and_envelope(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        b = await created(client, who, name="B road", external_id="EXT-B")
        a = await created(client, who, name="a lane", external_id="ext-a", is_active=False)
        async with db.sessionmaker() as session:
            await routes.assign_commerce(
                session, world.tenant_id, uuid.UUID(b["id"]), world.commerce_ids[0]
            )
            await session.commit()

        async def names(query: dict[str, str]) -> list[str]:
            response = await client.get("/api/routes", params=query, headers=who.headers)
            assert response.status_code == 200, response.text
            return [r["name"] for r in response.json()["data"]]

        listed = await client.get("/api/routes", headers=who.headers)
        assert listed.json()["meta"] == {"page": 1, "limit": 25, "total": 3, "totalPages": 1}
        assert set(listed.json()["data"][0]) == ROUTE_FIELDS
        assert sorted(await names({})) == sorted(["B road", "a lane", "Ruta Norte"])
        assert await names({"sort": "-created_at"}) == ["a lane", "B road", "Ruta Norte"]
        assert await names({"sort": "created_at", "per_page": "1", "page": "2"}) == ["B road"]
        assert set(await names({"search": "ext-"})) == {"B road", "a lane"}
        assert await names({"search": "RUTA"}) == ["Ruta Norte"]
        assert await names({"external_id": "ext-a"}) == ["a lane"]
        assert await names({"is_active": "false"}) == ["a lane"]
        assert await names({"operator_id": str(world.operator_id)}) == ["Ruta Norte"]
        assert await names({"operator_id": str(uuid.uuid4())}) == []
        assert await names({"commerce_id": str(world.commerce_ids[0])}) == ["B road"]
        assert await names({"commerce_id": str(world.commerce_ids[1])}) == []
        assert a["id"] != b["id"]

    async def test_name_sort_both_ways(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        for name in ("Charlie", "Alpha", "Bravo"):
            await created(client, who, name=name)
        response = await client.get("/api/routes?sort=name", headers=who.headers)
        assert [r["name"] for r in response.json()["data"]] == [
            "Alpha", "Bravo", "Charlie", "Ruta Norte",
        ]  # fmt: skip
        response = await client.get("/api/routes?sort=-name", headers=who.headers)
        assert [r["name"] for r in response.json()["data"]] == [
            "Ruta Norte", "Charlie", "Bravo", "Alpha",
        ]  # fmt: skip

    async def test_operator_filter_ignores_inactive_links(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        async with db.sessionmaker() as session:
            await session.execute(update(RouteOperator).values(is_active=False).where(
                RouteOperator.operator_id == who.world.operator_id))  # fmt: skip
            await session.commit()
        response = await client.get(
            "/api/routes", params={"operator_id": str(who.world.operator_id)}, headers=who.headers
        )
        assert response.json()["data"] == []

    async def test_bad_query_parameters(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        for query, field in (
            ("sort=description", "sort"),
            ("is_active=1", "is_active"),
            ("operator_id=x", "operator_id"),
            ("commerce_id=x", "commerce_id"),
            ("per_page=500", "per_page"),
            ("search=", "search"),
        ):
            response = await client.get(f"/api/routes?{query}", headers=who.headers)
            assert response.status_code == 400, query
            assert fields(response.json()) == {field}, query

    async def test_statement_count_does_not_grow_with_the_rows(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        small, large = await admin(factory), await admin(factory)
        for i in range(30):
            await created(client, large, name=f"Route {i}", external_id=f"X-{i}")
        counts = []
        for who in (small, large):
            with count_statements(db) as statements:
                response = await client.get("/api/routes?per_page=100", headers=who.headers)
            assert response.status_code == 200
            counts.append(len(statements))
        assert len(response.json()["data"]) == 31
        assert counts[0] == counts[1], counts


class TestGetRoute:
    async def test_detail_lists_leads_first_then_by_name_and_counts_commerces(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        zed = await new_operator(db, who, "Z", "Zed Lead")
        ana = await new_operator(db, who, "A", "Ana Member", OperatorType.CALLCENTER)
        bob = await new_operator(db, who, "B", "Bob Lead")
        async with db.sessionmaker() as session:
            tid, rid = world.tenant_id, world.route_id
            await routes.assign_operator(session, tid, rid, zed, RouteOperatorRole.LEAD)
            await routes.assign_operator(session, tid, rid, ana)
            await routes.assign_operator(session, tid, rid, bob, RouteOperatorRole.LEAD)
            for commerce_id in world.commerce_ids:
                await routes.assign_commerce(session, tid, rid, commerce_id)
            await session.commit()
        response = await client.get(f"/api/routes/{world.route_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == DETAIL_FIELDS
        assert body["commerceCount"] == 2
        names = [(o["role"], o["operator"]["name"]) for o in body["operators"]]
        assert names == [
            ("LEAD", "Bob Lead"), ("LEAD", "Zed Lead"), ("MEMBER", "Ana Member"),
            ("MEMBER", "Juan Pérez"),
        ]  # fmt: skip
        ana_link = body["operators"][2]
        assert set(ana_link) == LINK_FIELDS | {"operator"}
        assert ana_link["routeId"] == str(world.route_id) and ana_link["operatorId"] == str(ana)
        assert ana_link["isActive"] is True
        assert ana_link["operator"] == {
            "id": str(ana), "name": "Ana Member", "externalId": "A", "type": "CALLCENTER",
            "isActive": True,
        }  # fmt: skip

    async def test_unknown_malformed_and_foreign_routes(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner, intruder = await admin(factory), await admin(factory)
        response = await client.get(f"/api/routes/{uuid.uuid4()}", headers=owner.headers)
        assert response.status_code == 404 and response.json()["message"] == "Route not found"
        response = await client.get("/api/routes/R-1", headers=owner.headers)
        assert response.status_code == 400 and fields(response.json()) == {"id"}
        path = f"/api/routes/{owner.world.route_id}"
        assert (await client.get(path, headers=intruder.headers)).status_code == 404
        assert (
            await client.patch(path, json={"name": "x"}, headers=intruder.headers)
        ).status_code == 404
        assert (await client.delete(path, headers=intruder.headers)).status_code == 404
        assert (await client.get(path, headers=owner.headers)).json()["isActive"] is True

    async def test_statement_count_does_not_grow_with_the_links(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory, commerces_count=12)
        world = who.world
        empty = await created(client, who, name="Empty")
        async with db.sessionmaker() as session:
            for i in range(12):
                op = await operators.create_operator(
                    session, world.tenant_id, external_id=f"N{i}", name=f"Op {i}"
                )
                await routes.assign_operator(session, world.tenant_id, world.route_id, op.id)
                await routes.assign_commerce(
                    session, world.tenant_id, world.route_id, world.commerce_ids[i]
                )
            await session.commit()
        counts = []
        for route_id in (empty["id"], world.route_id):
            with count_statements(db) as statements:
                response = await client.get(f"/api/routes/{route_id}", headers=who.headers)
            assert response.status_code == 200
            counts.append(len(statements))
        assert len(response.json()["operators"]) == 13
        assert response.json()["commerceCount"] == 12
        assert counts[0] == counts[1], counts


class TestUpdateRoute:
    async def test_given_fields_change_and_the_detail_is_returned(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        route = await created(
            client, who, external_id="OLD", description="old", metadata={"a": 1, "b": 2}
        )
        await asyncio.sleep(0.002)
        response = await client.patch(
            f"/api/routes/{route['id']}",
            json={"name": "Renamed", "externalId": "NEW", "metadata": {"a": None, "c": {"d": 1}}},
            headers=who.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == DETAIL_FIELDS
        assert body["name"] == "Renamed" and body["externalId"] == "NEW"
        assert body["description"] == "old"
        assert body["metadata"] == {"b": 2, "c": {"d": 1}}
        assert body["updatedAt"] > route["updatedAt"]

    async def test_null_clears_nullable_fields_and_is_refused_elsewhere(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        path = f"/api/routes/{who.world.route_id}"
        response = await client.patch(
            path, json={"external_id": None, "description": None}, headers=who.headers
        )
        assert response.status_code == 200
        assert response.json()["externalId"] is None and response.json()["description"] is None
        for field in ("name", "is_active", "metadata"):
            response = await client.patch(path, json={field: None}, headers=who.headers)
            assert response.status_code == 400 and fields(response.json()) == {field}, field

    async def test_the_detail_keeps_its_links(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.patch(
            f"/api/routes/{who.world.route_id}", json={"description": "x"}, headers=who.headers
        )
        assert [o["operatorId"] for o in response.json()["operators"]] == [
            str(who.world.operator_id)
        ]

    async def test_an_external_id_of_another_route_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        route = await created(client, who, external_id="MINE")
        path = f"/api/routes/{route['id']}"
        response = await client.patch(path, json={"external_id": "R-1"}, headers=who.headers)
        assert response.status_code == 409
        assert response.json()["message"] == "external_id already exists"
        same = await client.patch(path, json={"external_id": "MINE"}, headers=who.headers)
        assert same.status_code == 200


class TestDeleteRoute:
    async def test_delete_deactivates_keeps_links_and_is_repeatable(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        path = f"/api/routes/{who.world.route_id}"
        assert (await client.delete(path, headers=who.headers)).status_code == 204
        assert (await client.delete(path, headers=who.headers)).status_code == 204
        body = (await client.get(path, headers=who.headers)).json()
        assert body["isActive"] is False and len(body["operators"]) == 1
        reactivated = await client.patch(path, json={"isActive": True}, headers=who.headers)
        assert reactivated.json()["isActive"] is True

    async def test_unknown_route_is_404(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        response = await client.delete(f"/api/routes/{uuid.uuid4()}", headers=who.headers)
        assert response.status_code == 404


class TestRouteOperators:
    async def test_assigning_creates_a_member_link(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        route = await created(client, who)
        response = await client.post(
            f"/api/routes/{route['id']}/operators",
            json={"operatorId": str(who.world.operator_id)},
            headers=who.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == LINK_FIELDS
        assert body["routeId"] == route["id"]
        assert body["operatorId"] == str(who.world.operator_id)
        assert body["role"] == "MEMBER" and body["isActive"] is True
        assert TIMESTAMP_RE.match(body["createdAt"])

    async def test_assigning_again_is_idempotent_and_updates_the_role_only_when_given(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        path = f"/api/routes/{world.route_id}/operators"
        async with db.sessionmaker() as session:
            await session.execute(update(RouteOperator).values(is_active=False).where(
                RouteOperator.route_id == world.route_id))  # fmt: skip
            await session.commit()
        lead = await client.post(
            path, json={"operator_id": str(world.operator_id), "role": "LEAD"}, headers=who.headers
        )
        assert lead.status_code == 201
        assert lead.json()["role"] == "LEAD" and lead.json()["isActive"] is True
        again = await client.post(
            path, json={"operator_id": str(world.operator_id)}, headers=who.headers
        )
        assert again.status_code == 201
        assert again.json()["role"] == "LEAD"
        assert again.json()["createdAt"] == lead.json()["createdAt"]
        assert await link_count(db, RouteOperator, world.route_id) == 1

    async def test_a_route_may_have_several_leads(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        other = await new_operator(db, who, "L2", "Second Lead")
        path = f"/api/routes/{who.world.route_id}/operators"
        for operator_id in (who.world.operator_id, other):
            response = await client.post(
                path, json={"operator_id": str(operator_id), "role": "LEAD"}, headers=who.headers
            )
            assert response.status_code == 201
        detail = (await client.get(f"/api/routes/{who.world.route_id}", headers=who.headers)).json()
        assert [o["role"] for o in detail["operators"]] == ["LEAD", "LEAD"]

    async def test_errors(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who, other = await admin(factory), await admin(factory)
        path = f"/api/routes/{who.world.route_id}/operators"
        missing = await client.post(path, json={}, headers=who.headers)
        assert missing.status_code == 400 and fields(missing.json()) == {"operator_id"}
        bad = await client.post(path, json={"operatorId": "x", "role": "BOSS"}, headers=who.headers)
        assert bad.status_code == 400 and fields(bad.json()) == {"operatorId", "role"}
        null_role = await client.post(
            path,
            json={"operator_id": str(who.world.operator_id), "role": None},
            headers=who.headers,
        )
        assert null_role.status_code == 400 and fields(null_role.json()) == {"role"}
        foreign_operator = await client.post(
            path, json={"operator_id": str(other.world.operator_id)}, headers=who.headers
        )
        assert foreign_operator.status_code == 404
        assert foreign_operator.json()["message"] == "Operator not found"
        unknown_route = await client.post(
            f"/api/routes/{uuid.uuid4()}/operators",
            json={"operator_id": str(who.world.operator_id)},
            headers=who.headers,
        )
        assert unknown_route.status_code == 404
        assert unknown_route.json()["message"] == "Route not found"

    async def test_concurrent_assignments_of_one_link_both_succeed_with_one_row(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        route = await created(client, who)
        body = {"operator_id": str(who.world.operator_id)}
        responses = await asyncio.gather(
            *(
                client.post(f"/api/routes/{route['id']}/operators", json=body, headers=who.headers)
                for _ in range(4)
            )
        )
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert await link_count(db, RouteOperator, route["id"]) == 1

    async def test_removing_deletes_the_link_permanently(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        path = f"/api/routes/{who.world.route_id}/operators/{who.world.operator_id}"
        assert (await client.delete(path, headers=who.headers)).status_code == 204
        assert await link_count(db, RouteOperator, who.world.route_id) == 0
        again = await client.delete(path, headers=who.headers)
        assert again.status_code == 404
        assert again.json()["message"] == "Operator is not assigned to this route"
        unknown_route = await client.delete(
            f"/api/routes/{uuid.uuid4()}/operators/{who.world.operator_id}", headers=who.headers
        )
        assert unknown_route.json()["message"] == "Route not found"
        malformed = await client.delete(
            f"/api/routes/{who.world.route_id}/operators/nope", headers=who.headers
        )
        assert malformed.status_code == 400 and fields(malformed.json()) == {"operatorId"}


class TestRouteCommerces:
    async def test_assigning_is_idempotent(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        path = f"/api/routes/{who.world.route_id}/commerces"
        body = {"commerceId": str(who.world.commerce_ids[0])}
        first = await client.post(path, json=body, headers=who.headers)
        assert first.status_code == 201, first.text
        assert first.json() == {
            "routeId": str(who.world.route_id),
            "commerceId": str(who.world.commerce_ids[0]),
            "createdAt": first.json()["createdAt"],
        }
        again = await client.post(path, json=body, headers=who.headers)
        assert again.status_code == 201 and again.json() == first.json()
        assert await link_count(db, RouteCommerce, who.world.route_id) == 1

    async def test_a_commerce_may_belong_to_several_routes(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        other = await created(client, who, name="Other")
        body = {"commerce_id": str(who.world.commerce_ids[0])}
        for route_id in (who.world.route_id, other["id"]):
            response = await client.post(
                f"/api/routes/{route_id}/commerces", json=body, headers=who.headers
            )
            assert response.status_code == 201
        listed = await client.get(
            "/api/routes", params={"commerce_id": body["commerce_id"]}, headers=who.headers
        )
        assert len(listed.json()["data"]) == 2

    async def test_errors(self, client: httpx.AsyncClient, factory: Factory, db: Database) -> None:
        who, other = await admin(factory), await admin(factory)
        path = f"/api/routes/{who.world.route_id}/commerces"
        missing = await client.post(path, json={}, headers=who.headers)
        assert missing.status_code == 400 and fields(missing.json()) == {"commerce_id"}
        null = await client.post(path, json={"commerceId": None}, headers=who.headers)
        assert null.status_code == 400 and fields(null.json()) == {"commerceId"}
        foreign = await client.post(
            path, json={"commerce_id": str(other.world.commerce_ids[0])}, headers=who.headers
        )
        assert foreign.status_code == 404 and foreign.json()["message"] == "Commerce not found"
        unknown_route = await client.post(
            f"/api/routes/{uuid.uuid4()}/commerces",
            json={"commerce_id": str(who.world.commerce_ids[0])},
            headers=who.headers,
        )
        assert unknown_route.json()["message"] == "Route not found"
        assert await link_count(db, RouteCommerce, who.world.route_id) == 0

    async def test_an_inactive_commerce_can_still_be_assigned(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        async with db.sessionmaker() as session:
            closed = await commerces.create_commerce(
                session, who.world.tenant_id, external_id="CLOSED", name="Closed", is_active=False
            )
            await session.commit()
        response = await client.post(
            f"/api/routes/{who.world.route_id}/commerces",
            json={"commerce_id": str(closed.id)},
            headers=who.headers,
        )
        assert response.status_code == 201

    async def test_concurrent_assignments_of_one_link_both_succeed_with_one_row(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        body = {"commerce_id": str(who.world.commerce_ids[1])}
        path = f"/api/routes/{who.world.route_id}/commerces"
        responses = await asyncio.gather(
            *(client.post(path, json=body, headers=who.headers) for _ in range(4))
        )
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert len({r.json()["createdAt"] for r in responses}) == 1
        assert await link_count(db, RouteCommerce, who.world.route_id) == 1

    async def test_removing_deletes_the_link_permanently(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        async with db.sessionmaker() as session:
            await routes.assign_commerce(
                session, world.tenant_id, world.route_id, world.commerce_ids[0]
            )
            await session.commit()
        path = f"/api/routes/{world.route_id}/commerces/{world.commerce_ids[0]}"
        assert (await client.delete(path, headers=who.headers)).status_code == 204
        assert await link_count(db, RouteCommerce, world.route_id) == 0
        again = await client.delete(path, headers=who.headers)
        assert again.status_code == 404
        assert again.json()["message"] == "Commerce is not assigned to this route"
        unknown_route = await client.delete(
            f"/api/routes/{uuid.uuid4()}/commerces/{world.commerce_ids[0]}", headers=who.headers
        )
        assert unknown_route.status_code == 404
        assert unknown_route.json()["message"] == "Route not found"
        malformed = await client.delete(
            f"/api/routes/{world.route_id}/commerces/nope", headers=who.headers
        )
        assert malformed.status_code == 400 and fields(malformed.json()) == {"commerceId"}

    async def test_another_tenants_links_are_404(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        owner, intruder = await admin(factory), await admin(factory)
        world = owner.world
        async with db.sessionmaker() as session:
            await routes.assign_commerce(
                session, world.tenant_id, world.route_id, world.commerce_ids[0]
            )
            await session.commit()
        base = f"/api/routes/{world.route_id}"
        for method, path, body in (
            ("POST", f"{base}/operators", {"operator_id": str(intruder.world.operator_id)}),
            ("POST", f"{base}/commerces", {"commerce_id": str(intruder.world.commerce_ids[0])}),
            ("DELETE", f"{base}/operators/{world.operator_id}", None),
            ("DELETE", f"{base}/commerces/{world.commerce_ids[0]}", None),
        ):
            response = await client.request(method, path, json=body, headers=intruder.headers)
            assert response.status_code == 404, (method, path)
        assert await link_count(db, RouteOperator, world.route_id) == 1
        assert await link_count(db, RouteCommerce, world.route_id) == 1
