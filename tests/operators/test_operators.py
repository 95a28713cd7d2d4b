"""The /api/operators endpoints 9.1–9.5 (management-api.md §9, §1.4–1.6; quality.md N+1 rule)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update

from reten.auth.permissions import Permission
from reten.kit.db import Database
from reten.operators.models import Operator
from reten.routes import service as routes
from reten.routes.models import RouteOperator, RouteOperatorRole
from tests.factories import Factory
from tests.operators.support import (
    TIMESTAMP_RE,
    Admin,
    admin,
    count_statements,
    fields,
    role_headers,
)

OPERATOR_FIELDS = {
    "id", "name", "firstName", "lastName", "email", "phone", "type", "externalId", "isActive",
    "isPlaceholder", "metadata", "createdAt", "updatedAt",
}  # fmt: skip


async def create(client: httpx.AsyncClient, who: Admin, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {"type": "SALESMAN", "name": "Ana Rojas"}
    body.update(overrides)
    return await client.post("/api/operators", json=body, headers=who.headers)


async def created(client: httpx.AsyncClient, who: Admin, **overrides: Any) -> dict[str, Any]:
    response = await create(client, who, **overrides)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stored_count(db: Database, tenant_id: uuid.UUID, *criteria: Any) -> int:
    async with db.sessionmaker() as session:
        stmt = select(func.count()).select_from(Operator).where(Operator.tenant_id == tenant_id)
        return int((await session.execute(stmt.where(*criteria))).scalar_one())


class TestCreateOperator:
    async def test_created_operator_has_every_field_of_the_operator_shape(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(
            client, who, type="CALLCENTER", name="John Doe", email="John.Doe@Example.com",
            phone="+56912345678", external_id="emp-001", metadata={"shift_code": {"deepKey": 1}},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == OPERATOR_FIELDS
        assert uuid.UUID(body["id"]).version == 4
        assert body["name"] == "John Doe"
        assert (body["firstName"], body["lastName"]) == ("John", "Doe")
        assert body["email"] == "john.doe@example.com"
        assert body["phone"] == "+56912345678"
        assert body["type"] == "CALLCENTER"
        assert body["externalId"] == "emp-001"
        assert body["isActive"] is True and body["isPlaceholder"] is False
        # Free-form keys are stored and returned verbatim, never re-cased.
        assert body["metadata"] == {"shift_code": {"deepKey": 1}}
        assert TIMESTAMP_RE.match(body["createdAt"]) and TIMESTAMP_RE.match(body["updatedAt"])

    async def test_optional_fields_default_to_null_and_empty(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, name="Solo")
        assert body["email"] is None and body["phone"] is None and body["externalId"] is None
        assert body["metadata"] == {}
        assert (body["name"], body["firstName"], body["lastName"]) == ("Solo", "Solo", None)

    async def test_camel_case_body_fields_are_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, externalId="camel-1", isPlaceholder=True)
        assert body["externalId"] == "camel-1" and body["isPlaceholder"] is True

    async def test_snake_case_wins_when_both_spellings_are_sent(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, external_id="snake", externalId="camel")
        assert body["externalId"] == "snake"

    async def test_name_is_trimmed_and_split_by_rule_n(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, name="  Ana   María \t Rojas  ")
        assert body["name"] == "Ana María Rojas"
        assert (body["firstName"], body["lastName"]) == ("Ana", "María Rojas")

    async def test_missing_required_fields_are_all_listed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.post("/api/operators", json={}, headers=who.headers)
        assert response.status_code == 400
        assert fields(response.json()) == {"type", "name"}

    async def test_invalid_values_are_400_naming_each_field_as_spelled(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.post(
            "/api/operators",
            json={
                "type": "salesman", "name": "x" * 256, "email": "not-an-email",
                "phone": "56912345678", "externalId": "e" * 256, "metadata": [1],
            },
            headers=who.headers,
        )  # fmt: skip
        assert response.status_code == 400
        assert fields(response.json()) == {
            "type", "name", "email", "phone", "externalId", "metadata",
        }  # fmt: skip

    async def test_blank_name_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(client, who, name="   ")
        assert response.status_code == 400 and fields(response.json()) == {"name"}

    async def test_metadata_over_16_kib_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(client, who, metadata={"blob": "x" * 17_000})
        assert response.status_code == 400 and fields(response.json()) == {"metadata"}

    async def test_null_for_a_non_nullable_field_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        for field in ("type", "name", "is_placeholder", "metadata"):
            response = await create(client, who, **{field: None})
            assert response.status_code == 400, (field, response.text)
            assert fields(response.json()) == {field}

    async def test_nullable_fields_accept_null(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        body = await created(client, who, email=None, phone=None, external_id=None)
        assert body["email"] is None and body["phone"] is None and body["externalId"] is None

    async def test_nul_characters_are_400_not_a_storage_error(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await create(client, who, name="Ana\x00", metadata={"k\x00": "v", "n": ["\x00"]})
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "name", "message": "must not contain NUL characters"},
            {"field": "metadata.k\x00", "message": "must not contain NUL characters"},
            {"field": "metadata.n[0]", "message": "must not contain NUL characters"},
        ]
        for param in ("external_id", "search"):
            listed = await client.get(
                "/api/operators", params={param: "a\x00b"}, headers=who.headers
            )
            assert listed.status_code == 400 and fields(listed.json()) == {param}

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        response = await client.post(
            "/api/operators",
            content=b"{not json",
            headers={**who.headers, "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Malformed JSON body"

    async def test_duplicate_email_is_409_whatever_its_case(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        await created(client, who, email="ana@example.com")
        response = await create(client, who, email="ANA@example.com", external_id="other")
        assert response.status_code == 409
        assert response.json()["message"] == "email already exists"

    async def test_duplicate_type_and_external_id_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        await created(client, who, external_id="emp-9")
        response = await create(client, who, external_id="emp-9")
        assert response.status_code == 409
        assert response.json()["message"] == "type + external_id already exists"

    async def test_same_external_id_with_another_type_is_another_operator(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        await created(client, who, external_id="emp-9", type="SALESMAN")
        body = await created(client, who, external_id="emp-9", type="ACTIVATOR")
        assert body["type"] == "ACTIVATOR"

    async def test_the_same_keys_in_another_tenant_do_not_conflict(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        first, second = await admin(factory), await admin(factory)
        await created(client, first, email="shared@example.com", external_id="emp-1")
        await created(client, second, email="shared@example.com", external_id="emp-1")

    async def test_concurrent_creates_of_one_email_leave_one_row_and_one_409(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        responses = await asyncio.gather(
            create(client, who, email="race@example.com", external_id="a"),
            create(client, who, email="race@example.com", external_id="b"),
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.json()["message"] == "email already exists"
        assert (
            await stored_count(db, who.world.tenant_id, Operator.email == "race@example.com") == 1
        )

    async def test_concurrent_creates_of_one_key_leave_one_row_and_one_409(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        responses = await asyncio.gather(
            create(client, who, external_id="race-key"), create(client, who, external_id="race-key")
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.json()["message"] == "type + external_id already exists"
        assert await stored_count(db, who.world.tenant_id, Operator.external_id == "race-key") == 1

    async def test_an_fde_and_an_api_key_with_the_permission_may_create(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        fde = await role_headers(factory, who.world, "FDE")
        response = await client.post(
            "/api/operators", json={"type": "SALESMAN", "name": "By Fde"}, headers=fde
        )
        assert response.status_code == 201, response.text
        key = await factory.api_key(who.world, [Permission.MANAGE_OPERATORS])
        response = await client.post(
            "/api/operators",
            json={"type": "SALESMAN", "name": "By Key"},
            headers={"x-api-key": key},
        )
        assert response.status_code == 201, response.text

    async def test_a_viewer_is_refused(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        viewer = await role_headers(factory, who.world, "VIEWER")
        response = await client.post(
            "/api/operators", json={"type": "SALESMAN", "name": "x"}, headers=viewer
        )
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires MANAGE_OPERATORS"


class TestListOperators:
    async def test_page_envelope_and_default_order_by_name(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)  # the world already has "Juan Pérez"
        for name in ("Zoe Zamora", "Ana Rojas", "Ana", "Bruno Díaz"):
            await created(client, who, name=name)
        response = await client.get("/api/operators", headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [o["name"] for o in body["data"]] == [
            "Ana", "Ana Rojas", "Bruno Díaz", "Juan Pérez", "Zoe Zamora",
        ]  # fmt: skip
        assert body["meta"] == {"page": 1, "limit": 25, "total": 5, "totalPages": 1}
        assert set(body["data"][0]) == OPERATOR_FIELDS

    async def test_sort_options_and_pagination(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        for name in ("Carla", "Ana", "Bea"):
            await created(client, who, name=name)
            await asyncio.sleep(0.002)  # distinct creation times

        async def names(query: str) -> list[str]:
            response = await client.get(f"/api/operators?{query}", headers=who.headers)
            assert response.status_code == 200, response.text
            return [o["name"] for o in response.json()["data"]]

        assert await names("sort=-name") == ["Juan Pérez", "Carla", "Bea", "Ana"]
        assert await names("sort=created_at") == ["Juan Pérez", "Carla", "Ana", "Bea"]
        assert await names("sort=-created_at") == ["Bea", "Ana", "Carla", "Juan Pérez"]
        assert await names("per_page=2&page=2") == ["Carla", "Juan Pérez"]
        assert await names("limit=3") == ["Ana", "Bea", "Carla"]
        page = await client.get("/api/operators?page=9&per_page=2", headers=who.headers)
        assert page.json() == {
            "data": [], "meta": {"page": 9, "limit": 2, "total": 4, "totalPages": 2}
        }  # fmt: skip

    async def test_search_matches_the_shown_name_and_the_email_case_insensitively(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        await created(client, who, name="Ana Rojas", email="ana@north.example")
        await created(client, who, name="Bruno Díaz", email="bd@SOUTH.example")

        async def names(search: str) -> list[str]:
            response = await client.get(
                "/api/operators", params={"search": search}, headers=who.headers
            )
            assert response.status_code == 200, response.text
            return [o["name"] for o in response.json()["data"]]

        assert await names("A ROJ") == ["Ana Rojas"]  # across first and last name
        assert await names("south") == ["Bruno Díaz"]
        assert await names("%") == []  # wildcards are literal

    async def test_filters(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        world = who.world
        activator = await created(client, who, name="Act Ivator", type="ACTIVATOR")
        placeholder = await created(client, who, name="Place Holder", is_placeholder=True)
        inactive = await created(client, who, name="In Active", external_id="gone")
        await client.delete(f"/api/operators/{inactive['id']}", headers=who.headers)

        async def ids(query: dict[str, str]) -> set[str]:
            response = await client.get("/api/operators", params=query, headers=who.headers)
            assert response.status_code == 200, response.text
            return {o["id"] for o in response.json()["data"]}

        assert await ids({"type": "ACTIVATOR"}) == {activator["id"]}
        assert await ids({"is_placeholder": "TRUE"}) == {placeholder["id"]}
        assert await ids({"is_active": "false"}) == {inactive["id"]}
        assert inactive["id"] not in await ids({"is_active": "true"})
        assert await ids({"external_id": "gone"}) == {inactive["id"]}
        assert await ids({"external_id": "GONE"}) == set()
        assert await ids({"route_id": str(world.route_id)}) == {str(world.operator_id)}
        assert await ids({"route_id": str(uuid.uuid4())}) == set()

    async def test_route_filter_ignores_inactive_links(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        async with db.sessionmaker() as session:
            await session.execute(
                update(RouteOperator)
                .where(RouteOperator.route_id == who.world.route_id)
                .values(is_active=False)
            )
            await session.commit()
        response = await client.get(
            "/api/operators", params={"route_id": str(who.world.route_id)}, headers=who.headers
        )
        assert response.json()["data"] == []

    async def test_bad_query_parameters_are_400_naming_the_parameter(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        for query, field in (
            ("sort=email", "sort"),
            ("type=salesman", "type"),
            ("is_active=yes", "is_active"),
            ("is_placeholder=1", "is_placeholder"),
            ("route_id=not-a-uuid", "route_id"),
            ("per_page=101", "per_page"),
            ("limit=0", "limit"),
            ("page=0", "page"),
            (f"search={'x' * 101}", "search"),
        ):
            response = await client.get(f"/api/operators?{query}", headers=who.headers)
            assert response.status_code == 400, query
            assert fields(response.json()) == {field}, query

    async def test_statement_count_does_not_grow_with_the_rows(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        small, large = await admin(factory), await admin(factory)
        for i in range(30):
            await created(client, large, name=f"Op {i}", external_id=f"op-{i}")
        counts = []
        for who in (small, large):
            with count_statements(db) as statements:
                response = await client.get("/api/operators?per_page=100", headers=who.headers)
            assert response.status_code == 200
            counts.append(len(statements))
        assert len(response.json()["data"]) == 31
        assert counts[0] == counts[1], counts


class TestGetOperator:
    async def test_detail_lists_route_links_by_route_name(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        async with db.sessionmaker() as session:
            south = await routes.create_route(
                session, world.tenant_id, external_id="S", name="A Sur"
            )
            await routes.assign_operator(
                session, world.tenant_id, south.id, world.operator_id, RouteOperatorRole.LEAD
            )
            await session.commit()
        response = await client.get(f"/api/operators/{world.operator_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == OPERATOR_FIELDS | {"routes"}
        assert body["routes"] == [
            {"id": str(south.id), "name": "A Sur", "externalId": "S", "role": "LEAD",
             "linkActive": True},
            {"id": str(world.route_id), "name": "Ruta Norte", "externalId": "R-1",
             "role": "MEMBER", "linkActive": True},
        ]  # fmt: skip

    async def test_inactive_links_are_shown_with_their_flag(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        async with db.sessionmaker() as session:
            await session.execute(update(RouteOperator).values(is_active=False).where(
                RouteOperator.operator_id == who.world.operator_id))  # fmt: skip
            await session.commit()
        response = await client.get(f"/api/operators/{who.world.operator_id}", headers=who.headers)
        assert [r["linkActive"] for r in response.json()["routes"]] == [False]

    async def test_unknown_and_malformed_ids(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.get(f"/api/operators/{uuid.uuid4()}", headers=who.headers)
        assert response.status_code == 404
        assert response.json()["message"] == "Operator not found"
        response = await client.get("/api/operators/nope", headers=who.headers)
        assert response.status_code == 400 and fields(response.json()) == {"id"}

    async def test_another_tenants_operator_is_404_for_every_method(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        owner, intruder = await admin(factory), await admin(factory)
        path = f"/api/operators/{owner.world.operator_id}"
        key = await factory.api_key(intruder.world, [Permission.MANAGE_OPERATORS])
        for headers in (intruder.headers, {"x-api-key": key}):
            assert (await client.get(path, headers=headers)).status_code == 404
            patched = await client.patch(path, json={"name": "Hacked"}, headers=headers)
            assert patched.status_code == 404
            assert (await client.delete(path, headers=headers)).status_code == 404
        mine = (await client.get(path, headers=owner.headers)).json()
        assert mine["name"] == "Juan Pérez" and mine["isActive"] is True

    async def test_statement_count_does_not_grow_with_the_links(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        world = who.world
        lonely = await created(client, who, name="No Routes")
        async with db.sessionmaker() as session:
            for i in range(15):
                route = await routes.create_route(
                    session, world.tenant_id, external_id=f"R-x{i}", name=f"Route {i}"
                )
                await routes.assign_operator(session, world.tenant_id, route.id, world.operator_id)
            await session.commit()
        counts = []
        for operator_id in (lonely["id"], world.operator_id):
            with count_statements(db) as statements:
                response = await client.get(f"/api/operators/{operator_id}", headers=who.headers)
            assert response.status_code == 200
            counts.append(len(statements))
        assert len(response.json()["routes"]) == 16
        assert counts[0] == counts[1], counts


class TestUpdateOperator:
    async def test_given_fields_change_and_the_operator_is_returned(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        before = await created(client, who, email="old@example.com", phone="+56911111111")
        await asyncio.sleep(0.002)
        response = await client.patch(
            f"/api/operators/{before['id']}",
            json={"name": " Bea   Ortiz ", "email": "NEW@example.com", "isActive": False},
            headers=who.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == OPERATOR_FIELDS
        assert (body["name"], body["firstName"], body["lastName"]) == ("Bea Ortiz", "Bea", "Ortiz")
        assert body["email"] == "new@example.com"
        assert body["phone"] == "+56911111111"  # not given: unchanged
        assert body["isActive"] is False
        assert body["createdAt"] == before["createdAt"]
        assert body["updatedAt"] > before["updatedAt"]

    async def test_null_clears_nullable_fields(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        op = await created(client, who, email="x@example.com", phone="+56911111111")
        response = await client.patch(
            f"/api/operators/{op['id']}", json={"email": None, "phone": None}, headers=who.headers
        )
        assert response.status_code == 200
        assert response.json()["email"] is None and response.json()["phone"] is None

    async def test_null_for_non_nullable_fields_is_400(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        path = f"/api/operators/{who.world.operator_id}"
        for field in ("name", "is_active", "metadata"):
            response = await client.patch(path, json={field: None}, headers=who.headers)
            assert response.status_code == 400, field
            assert fields(response.json()) == {field}

    async def test_metadata_follows_rule_m(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        op = await created(client, who, metadata={"a": 1, "b": {"x": 1, "y": 2}, "c": 3})
        response = await client.patch(
            f"/api/operators/{op['id']}",
            json={"metadata": {"b": {"z": 9}, "c": None, "dKey": 4}},
            headers=who.headers,
        )
        assert response.status_code == 200
        assert response.json()["metadata"] == {"a": 1, "b": {"z": 9}, "dKey": 4}

    async def test_immutable_fields_are_400_as_spelled(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        path = f"/api/operators/{who.world.operator_id}"
        response = await client.patch(
            path,
            json={
                "type": "SALESMAN",
                "externalId": "OP-17",
                "is_placeholder": False,
                "email": "bad",
            },
            headers=who.headers,
        )
        assert response.status_code == 400
        details = response.json()["details"]
        assert {d["field"] for d in details} == {"type", "externalId", "is_placeholder", "email"}
        assert {d["message"] for d in details if d["field"] != "email"} == {"is immutable"}
        assert (await client.get(path, headers=who.headers)).json()["externalId"] == "OP-17"

    async def test_an_email_of_another_operator_is_409(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        await created(client, who, email="taken@example.com")
        mine = await created(client, who, name="Me", email="me@example.com")
        path = f"/api/operators/{mine['id']}"
        response = await client.patch(
            path, json={"email": "Taken@example.com"}, headers=who.headers
        )
        assert response.status_code == 409
        assert response.json()["message"] == "email already exists"
        same = await client.patch(path, json={"email": "me@example.com"}, headers=who.headers)
        assert same.status_code == 200

    async def test_an_empty_body_changes_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        path = f"/api/operators/{who.world.operator_id}"
        before = (await client.get(path, headers=who.headers)).json()
        response = await client.patch(path, json={}, headers=who.headers)
        assert response.status_code == 200
        before.pop("routes")
        assert response.json() == before

    async def test_unknown_operator_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.patch(
            f"/api/operators/{uuid.uuid4()}", json={"name": "x"}, headers=who.headers
        )
        assert response.status_code == 404


class TestDeleteOperator:
    async def test_delete_deactivates_keeps_links_and_is_repeatable(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        who = await admin(factory)
        path = f"/api/operators/{who.world.operator_id}"
        first = await client.delete(path, headers=who.headers)
        assert first.status_code == 204 and first.content == b""
        again = await client.delete(path, headers=who.headers)
        assert again.status_code == 204
        body = (await client.get(path, headers=who.headers)).json()
        assert body["isActive"] is False
        assert [r["id"] for r in body["routes"]] == [str(who.world.route_id)]
        assert await stored_count(db, who.world.tenant_id) == 1

    async def test_patch_reactivates(self, client: httpx.AsyncClient, factory: Factory) -> None:
        who = await admin(factory)
        path = f"/api/operators/{who.world.operator_id}"
        await client.delete(path, headers=who.headers)
        response = await client.patch(path, json={"is_active": True}, headers=who.headers)
        assert response.json()["isActive"] is True

    async def test_unknown_operator_is_404(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        who = await admin(factory)
        response = await client.delete(f"/api/operators/{uuid.uuid4()}", headers=who.headers)
        assert response.status_code == 404
        assert response.json()["message"] == "Operator not found"
