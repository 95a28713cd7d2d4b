"""Commerces: create, list, read, update, deactivate (management-api.md §8.1-8.5, §3)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from reten.auth.permissions import Permission
from reten.commerces.models import Commerce
from reten.kit.db import Database
from reten.routes.models import RouteCommerce
from tests.commerces.conftest import Caller, make_caller
from tests.factories import Factory, unique

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
COMMERCE_KEYS = {
    "id", "name", "externalId", "globalExternalId", "taxId", "isActive", "isPlaceholder",
    "metadata", "createdAt", "updatedAt",
}  # fmt: skip
ADDRESS_KEYS = {
    "id", "commerceId", "addressAlias", "street", "streetNumber", "unit", "city", "commune",
    "region", "countryCode", "formattedAddress", "latitude", "longitude", "isPrimary",
    "isActive", "source", "sourceRef", "createdAt", "updatedAt",
}  # fmt: skip
USER_KEYS = {
    "id", "commerceId", "name", "firstName", "lastName", "externalId", "source", "isActive",
    "roles", "contacts", "createdAt", "updatedAt",
}  # fmt: skip
CONTACT_KEYS = {"id", "type", "value", "isPrimary", "isActive", "source", "createdAt", "updatedAt"}


def fields(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json().get("details", [])]


async def commerce_count(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.sessionmaker() as session:
        stmt = select(func.count()).select_from(Commerce).where(Commerce.tenant_id == tenant_id)
        return int((await session.execute(stmt)).scalar_one())


FULL_BODY: dict[str, Any] = {
    "external_id": "store-001",
    "name": "  Main Street Store ",
    "global_external_id": "G-1",
    "tax_id": "12345678-9",
    "metadata": {"segment": "gold", "nested": {"a": 1}},
    "addresses": [
        {
            "address_alias": "Main",
            "street": "123 Main St",
            "street_number": "123",
            "city": "Santiago",
            "commune": "Providencia",
            "region": "Metropolitana",
            "country_code": "cl",
            "latitude": -33.4489,
            "longitude": -70.6693,
            "is_primary": True,
            "source_ref": "erp-1",
        },
        {"street": "Back door", "is_active": False},
    ],
    "users": [
        {
            "external_id": "usr-001",
            "name": "  Maria   del  Carmen ",
            "roles": ["OTHER", "OWNER"],
            "contacts": [
                {"contact_type": "PHONE", "value": "+56912345678"},
                {"contact_type": "EMAIL", "value": "Maria@Example.COM", "is_primary": True},
                {"contact_type": "PHONE", "value": "+56900000000", "is_primary": True},
            ],
        },
        {"source": "INTEGRATION", "contacts": [{"contact_type": "OTHER", "value": "desk 4"}]},
    ],
}


class TestCreateCommerce:
    async def test_minimal_body_gives_a_commerce_detail_with_defaults(self, admin: Caller) -> None:
        response = await admin.post("/api/commerces", {"external_id": "s-1", "name": "Store"})

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == COMMERCE_KEYS | {"addresses", "users"}
        assert body["externalId"] == "s-1"
        assert body["name"] == "Store"
        assert body["globalExternalId"] is None
        assert body["taxId"] is None
        assert body["isActive"] is True
        assert body["isPlaceholder"] is False
        assert body["metadata"] == {}
        assert body["addresses"] == [] and body["users"] == []
        assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["updatedAt"])
        assert uuid.UUID(body["id"]).version == 4

    async def test_nested_children_are_created_with_their_rules(self, admin: Caller) -> None:
        response = await admin.post("/api/commerces", FULL_BODY)

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["name"] == "Main Street Store"
        assert body["taxId"] == "12345678-9"
        assert body["globalExternalId"] == "G-1"
        assert body["metadata"] == {"segment": "gold", "nested": {"a": 1}}
        main, back = body["addresses"]
        assert set(main) == ADDRESS_KEYS
        assert main["commerceId"] == body["id"]
        assert main["countryCode"] == "CL"
        assert main["isPrimary"] is True and main["isActive"] is True
        assert main["source"] == "RETEN" and main["sourceRef"] == "erp-1"
        assert (main["latitude"], main["longitude"]) == (-33.4489, -70.6693)
        assert main["unit"] is None and main["formattedAddress"] is None
        assert back["isPrimary"] is False and back["isActive"] is False
        assert back["sourceRef"] is None
        maria, desk = body["users"]
        assert set(maria) == USER_KEYS
        assert maria["name"] == "Maria del Carmen"
        assert (maria["firstName"], maria["lastName"]) == ("Maria", "del Carmen")
        assert maria["source"] == "RETEN" and maria["isActive"] is True
        # roles in the enum's order; contacts by type, then primary first
        assert maria["roles"] == [{"role": "OWNER"}, {"role": "OTHER"}]
        assert [(c["type"], c["value"], c["isPrimary"]) for c in maria["contacts"]] == [
            ("EMAIL", "maria@example.com", True),
            ("PHONE", "+56900000000", True),
            ("PHONE", "+56912345678", False),
        ]
        assert all(set(c) == CONTACT_KEYS for c in maria["contacts"])
        assert all(c["source"] == "RETEN" for c in maria["contacts"])
        # no name: three nulls; contacts default to the user's source
        assert (desk["name"], desk["firstName"], desk["lastName"]) == (None, None, None)
        assert desk["externalId"] is None and desk["source"] == "INTEGRATION"
        assert desk["contacts"][0]["source"] == "INTEGRATION"

    async def test_camel_case_body_is_accepted_and_metadata_keys_are_kept(
        self, admin: Caller
    ) -> None:
        body = {
            "externalId": "camel-1",
            "name": "Camel",
            "taxId": "T-1",
            "globalExternalId": "G-9",
            "isPlaceholder": True,
            "isActive": False,
            "metadata": {"someKey": {"inner_key": 1, "innerKey": 2}},
            "addresses": [{"sourceRef": "r", "streetNumber": "9", "isPrimary": True}],
            "users": [
                {
                    "externalId": "u",
                    "contacts": [{"contactType": "WHATSAPP", "value": "+56911111111"}],
                }
            ],
        }

        response = await admin.post("/api/commerces", body)

        assert response.status_code == 201, response.text
        out = response.json()
        assert (out["externalId"], out["taxId"], out["globalExternalId"]) == (
            "camel-1",
            "T-1",
            "G-9",
        )
        assert out["isPlaceholder"] is True and out["isActive"] is False
        assert out["metadata"] == {"someKey": {"inner_key": 1, "innerKey": 2}}
        assert out["addresses"][0]["sourceRef"] == "r"
        assert out["addresses"][0]["streetNumber"] == "9"
        assert out["users"][0]["externalId"] == "u"
        assert out["users"][0]["contacts"][0]["type"] == "WHATSAPP"

    async def test_snake_case_wins_when_both_spellings_are_sent(self, admin: Caller) -> None:
        out = await admin.create(external_id="snake", externalId="camel")
        assert out["externalId"] == "snake"

    async def test_last_of_several_primaries_wins(self, admin: Caller) -> None:
        out = await admin.create(
            external_id="p",
            addresses=[
                {"street": "a", "is_primary": True},
                {"street": "b", "is_primary": True},
            ],
        )
        assert [(a["street"], a["isPrimary"]) for a in out["addresses"]] == [
            ("b", True),
            ("a", False),
        ]

    async def test_blank_optional_strings_are_stored_as_null(self, admin: Caller) -> None:
        out = await admin.create(external_id="blank", tax_id="  ", global_external_id="")
        assert out["taxId"] is None and out["globalExternalId"] is None
        # so two commerces with a blank tax id never collide
        await admin.create(external_id="blank-2", tax_id="")

    async def test_every_field_problem_is_reported_at_once(self, admin: Caller) -> None:
        response = await admin.post(
            "/api/commerces",
            {
                "name": "   ",
                "tax_id": "x" * 65,
                "metadata": None,
                "is_active": "true",
                "addresses": [{"country_code": "XX", "latitude": 91, "longitude": 0}],
            },
        )

        assert response.status_code == 400, response.text
        assert response.json()["message"] == "Validation failed"
        assert set(fields(response)) == {
            "external_id",
            "name",
            "tax_id",
            "metadata",
            "is_active",
            "addresses[0].country_code",
            "addresses[0].latitude",
        }

    async def test_null_for_a_field_that_is_not_nullable_is_400(self, admin: Caller) -> None:
        for name in ("external_id", "name", "metadata", "is_active", "is_placeholder", "users"):
            body: dict[str, Any] = {"external_id": unique("n"), "name": "x", name: None}
            response = await admin.post("/api/commerces", body)
            assert response.status_code == 400, (name, response.text)
            assert fields(response) == [name]

    async def test_text_limits(self, admin: Caller) -> None:
        too_long = await admin.post("/api/commerces", {"external_id": "e" * 256, "name": "n"})
        longest = await admin.post("/api/commerces", {"external_id": "e" * 255, "name": "n"})
        huge_metadata = await admin.post(
            "/api/commerces", {"external_id": "m", "name": "n", "metadata": {"k": "x" * 17000}}
        )
        formatted = await admin.post(
            "/api/commerces",
            {"external_id": "f", "name": "n", "addresses": [{"formatted_address": "x" * 500}]},
        )
        too_formatted = await admin.post(
            "/api/commerces",
            {"external_id": "g", "name": "n", "addresses": [{"formatted_address": "x" * 501}]},
        )

        assert too_long.status_code == 400 and fields(too_long) == ["external_id"]
        assert longest.status_code == 201
        assert huge_metadata.status_code == 400 and fields(huge_metadata) == ["metadata"]
        assert formatted.status_code == 201
        assert too_formatted.status_code == 400
        assert fields(too_formatted) == ["addresses[0].formatted_address"]

    async def test_latitude_and_longitude_travel_together(self, admin: Caller) -> None:
        only_lat = await admin.post(
            "/api/commerces", {"external_id": "a", "name": "n", "addresses": [{"latitude": 1}]}
        )
        only_lon = await admin.post(
            "/api/commerces", {"external_id": "a", "name": "n", "addresses": [{"longitude": 1}]}
        )
        half_null = await admin.post(
            "/api/commerces",
            {"external_id": "a", "name": "n", "addresses": [{"latitude": 1, "longitude": None}]},
        )
        out_of_range = await admin.post(
            "/api/commerces",
            {"external_id": "a", "name": "n", "addresses": [{"latitude": 0, "longitude": 181}]},
        )

        assert only_lat.status_code == 400 and fields(only_lat) == ["addresses[0].longitude"]
        assert only_lon.status_code == 400 and fields(only_lon) == ["addresses[0].latitude"]
        assert half_null.status_code == 400 and fields(half_null) == ["addresses[0].longitude"]
        assert out_of_range.status_code == 400
        assert fields(out_of_range) == ["addresses[0].longitude"]

    async def test_contact_values_follow_their_type(self, admin: Caller) -> None:
        response = await admin.post(
            "/api/commerces",
            {
                "external_id": "c",
                "name": "n",
                "users": [
                    {
                        "contacts": [
                            {"contact_type": "EMAIL", "value": "not-an-email"},
                            {"contact_type": "PHONE", "value": "912345678"},
                            {"contact_type": "WHATSAPP", "value": "+0123"},
                            {"contact_type": "FAX", "value": "1"},
                            {"contact_type": "OTHER", "value": ""},
                        ]
                    }
                ],
            },
        )

        assert response.status_code == 400
        assert fields(response) == [
            "users[0].contacts[0].value",
            "users[0].contacts[1].value",
            "users[0].contacts[2].value",
            "users[0].contacts[3].contact_type",
            "users[0].contacts[4].value",
        ]

    async def test_duplicates_inside_the_request_are_400_at_the_offending_path(
        self, admin: Caller
    ) -> None:
        response = await admin.post(
            "/api/commerces",
            {
                "external_id": "d",
                "name": "n",
                "addresses": [{"sourceRef": "a"}, {"sourceRef": "b"}, {"sourceRef": "a"}],
                "users": [
                    {
                        "externalId": "u1",
                        "roles": ["OWNER", "OWNER"],
                        "contacts": [
                            {"contactType": "EMAIL", "value": "a@b.cl"},
                            {"contactType": "EMAIL", "value": "A@B.CL"},
                            {"contactType": "OTHER", "value": "a@b.cl"},
                        ],
                    },
                    {"externalId": "u1"},
                    {},
                    {},
                ],
            },
        )

        assert response.status_code == 400, response.text
        assert fields(response) == [
            "addresses[2].sourceRef",
            "users[0].roles[1]",
            "users[0].contacts[1].value",
            "users[1].externalId",
        ]

    async def test_list_limits(self, admin: Caller) -> None:
        many = await admin.post(
            "/api/commerces",
            {"external_id": "l", "name": "n", "addresses": [{}] * 101},
        )
        contacts = [{"contact_type": "OTHER", "value": f"v{i}"} for i in range(51)]
        too_many_contacts = await admin.post(
            "/api/commerces",
            {"external_id": "l", "name": "n", "users": [{"contacts": contacts}]},
        )
        assert many.status_code == 400 and fields(many) == ["addresses"]
        assert too_many_contacts.status_code == 400
        assert fields(too_many_contacts) == ["users[0].contacts"]

    async def test_nul_characters_are_400_at_their_path(self, admin: Caller, db: Database) -> None:
        response = await admin.post(
            "/api/commerces",
            {
                "externalId": "nul",
                "name": "bad\u0000name",
                "metadata": {"key\u0000": "x"},
                "users": [{"name": "a\u0000"}],
            },
        )
        patch = await admin.patch(f"/api/commerces/{uuid.uuid4()}", {"name": "x\u0000"})

        assert response.status_code == 400, response.text
        assert fields(response) == ["name", "metadata.key\u0000", "users[0].name"]
        assert patch.status_code == 400 and fields(patch) == ["name"]
        assert await commerce_count(db, admin.world.tenant_id) == 0

    async def test_malformed_json_is_400(self, admin: Caller) -> None:
        response = await admin.client.post(
            "/api/commerces",
            content=b"{not json",
            headers={**admin.headers, "content-type": "application/json"},
        )
        array = await admin.client.post("/api/commerces", json=[1], headers=admin.headers)
        assert response.status_code == 400
        assert response.json()["message"] == "Malformed JSON body"
        assert array.status_code == 400

    async def test_taken_external_id_is_409(self, admin: Caller, db: Database) -> None:
        await admin.create(external_id="dup")
        response = await admin.post("/api/commerces", {"external_id": "dup", "name": "Other"})
        assert response.status_code == 409
        assert response.json()["message"] == "external_id already exists"
        assert await commerce_count(db, admin.world.tenant_id) == 1

    async def test_taken_tax_id_is_409(self, admin: Caller) -> None:
        await admin.create(external_id="t1", tax_id="76.000.000-1")
        response = await admin.post(
            "/api/commerces", {"external_id": "t2", "name": "n", "tax_id": "76.000.000-1"}
        )
        assert response.status_code == 409
        assert response.json() == {
            "statusCode": 409,
            "error": "Conflict",
            "message": "tax_id already exists",
        }

    async def test_the_same_keys_are_free_in_another_tenant(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        await admin.create(external_id="shared", tax_id="T-shared")
        other = await make_caller(client, factory)
        out = await other.create(external_id="shared", tax_id="T-shared")
        assert out["externalId"] == "shared"

    async def test_api_key_with_manage_commerces_may_create(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        key = await factory.api_key(admin.world, [Permission.MANAGE_COMMERCES])
        response = await client.post(
            "/api/commerces", json={"external_id": "k", "name": "n"}, headers={"x-api-key": key}
        )
        assert response.status_code == 201, response.text


class TestListCommerces:
    async def _three(self, admin: Caller) -> list[dict[str, Any]]:
        return [
            await admin.create(external_id="B-2", name="bodega", tax_id="T2", is_active=False),
            await admin.create(external_id="A-1", name="Almacén 50% off", global_external_id="G"),
            await admin.create(external_id="C-3", name="Cafe", is_placeholder=True),
        ]

    async def test_page_envelope_and_default_order_by_name(self, admin: Caller) -> None:
        await self._three(admin)

        response = await admin.get("/api/commerces")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"page": 1, "limit": 25, "total": 3, "totalPages": 1}
        assert [c["name"] for c in body["data"]] == ["Almacén 50% off", "Cafe", "bodega"]
        assert set(body["data"][0]) == COMMERCE_KEYS

    async def test_sorts(self, admin: Caller) -> None:
        await self._three(admin)

        async def order(sort: str) -> list[str]:
            response = await admin.get("/api/commerces", sort=sort)
            assert response.status_code == 200, response.text
            return [item["externalId"] for item in response.json()["data"]]

        assert await order("-name") == ["B-2", "C-3", "A-1"]
        assert await order("created_at") == ["B-2", "A-1", "C-3"]
        assert await order("-created_at") == ["C-3", "A-1", "B-2"]
        bad = await admin.get("/api/commerces", sort="external_id")
        assert bad.status_code == 400 and fields(bad) == ["sort"]

    async def test_filters(self, admin: Caller, db: Database) -> None:
        *_, c = await self._three(admin)
        async with db.sessionmaker() as session:
            session.add(
                RouteCommerce(
                    id=uuid.uuid4(),
                    tenant_id=admin.world.tenant_id,
                    route_id=admin.world.route_id,
                    commerce_id=uuid.UUID(c["id"]),
                )
            )
            await session.commit()

        async def ids(**params: Any) -> list[str]:
            response = await admin.get("/api/commerces", **params)
            assert response.status_code == 200, response.text
            return [item["externalId"] for item in response.json()["data"]]

        assert await ids(search="ALMA") == ["A-1"]
        assert await ids(search="c-3") == ["C-3"]
        assert await ids(search="50%") == ["A-1"]
        assert await ids(search="%") == ["A-1"]
        assert await ids(search="_") == []
        assert await ids(external_id="B-2") == ["B-2"]
        assert await ids(external_id="b-2") == []
        assert await ids(global_external_id="G") == ["A-1"]
        assert await ids(tax_id="T2") == ["B-2"]
        assert await ids(is_active="false") == ["B-2"]
        assert await ids(is_active="TRUE") == ["A-1", "C-3"]
        assert await ids(is_placeholder="true") == ["C-3"]
        assert await ids(route_id=str(admin.world.route_id)) == ["C-3"]
        assert await ids(route_id=str(uuid.uuid4())) == []
        assert await ids(is_active="true", is_placeholder="false") == ["A-1"]

    async def test_bad_parameters_are_400_naming_the_parameter(self, admin: Caller) -> None:
        for params, field in (
            ({"is_active": "yes"}, "is_active"),
            ({"is_placeholder": "1"}, "is_placeholder"),
            ({"route_id": "nope"}, "route_id"),
            ({"per_page": "101"}, "per_page"),
            ({"page": "0"}, "page"),
            ({"search": "x" * 101}, "search"),
        ):
            response = await admin.get("/api/commerces", **params)
            assert response.status_code == 400, params
            assert fields(response) == [field]

    async def test_paging(self, admin: Caller) -> None:
        for i in range(5):
            await admin.create(external_id=f"p-{i}", name=f"Store {i}")

        second = (await admin.get("/api/commerces", per_page="2", page="2")).json()
        alias = (await admin.get("/api/commerces", limit="4", per_page="3")).json()
        past = (await admin.get("/api/commerces", per_page="2", page="9")).json()

        assert [c["name"] for c in second["data"]] == ["Store 2", "Store 3"]
        assert second["meta"] == {"page": 2, "limit": 2, "total": 5, "totalPages": 3}
        assert alias["meta"]["limit"] == 3
        assert past["data"] == [] and past["meta"]["total"] == 5

    async def test_another_tenants_commerces_never_appear(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        mine = await admin.create(external_id="mine")
        other = await make_caller(client, factory)
        await other.create(external_id="theirs")

        listed = (await other.get("/api/commerces")).json()
        by_route = (await other.get("/api/commerces", route_id=str(admin.world.route_id))).json()

        assert [c["externalId"] for c in listed["data"]] == ["theirs"]
        assert mine["id"] not in str(listed)
        assert by_route["data"] == []


class TestGetCommerce:
    async def test_detail_orders_children(self, admin: Caller) -> None:
        created = await admin.create(
            external_id="o",
            addresses=[
                {"street": "first"},
                {"street": "second"},
                {"street": "p", "is_primary": True},
            ],
            users=[{"name": "Zed"}, {"name": "Abe"}],
        )

        response = await admin.get(f"/api/commerces/{created['id']}")

        assert response.status_code == 200
        body = response.json()
        assert body == created
        assert [a["street"] for a in body["addresses"]] == ["p", "first", "second"]
        assert [u["name"] for u in body["users"]] == ["Zed", "Abe"]

    async def test_unknown_malformed_and_foreign_ids(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        created = await admin.create(external_id="x")
        other = await make_caller(client, factory)

        unknown = await admin.get(f"/api/commerces/{uuid.uuid4()}")
        malformed = await admin.get("/api/commerces/not-a-uuid")
        foreign = await other.get(f"/api/commerces/{created['id']}")

        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Commerce not found"
        assert malformed.status_code == 400 and fields(malformed) == ["id"]
        assert foreign.status_code == 404
        assert foreign.json() == unknown.json()

    async def test_the_literal_sync_path_only_takes_post(self, admin: Caller) -> None:
        for method in ("GET", "PATCH", "DELETE"):
            response = await admin.client.request(
                method, "/api/commerces/sync", headers=admin.headers, json={"name": None}
            )
            assert response.status_code == 405, (method, response.text)
            assert (
                response.json()["message"] == f"Method {method} not allowed on /api/commerces/sync"
            )
            assert response.headers["allow"] == "POST"


class TestUpdateCommerce:
    async def test_given_fields_change_and_others_stay(self, admin: Caller) -> None:
        created = await admin.create(
            external_id="u", name="Old", tax_id="T", global_external_id="G", users=[{"name": "A"}]
        )

        response = await admin.patch(
            f"/api/commerces/{created['id']}", {"name": " New ", "taxId": None, "isActive": False}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "New"
        assert body["taxId"] is None
        assert body["globalExternalId"] == "G"
        assert body["isActive"] is False
        assert body["externalId"] == "u"
        assert body["updatedAt"] > created["updatedAt"]
        assert body["createdAt"] == created["createdAt"]
        assert [u["name"] for u in body["users"]] == ["A"]

    async def test_metadata_follows_rule_m(self, admin: Caller) -> None:
        created = await admin.create(
            external_id="m", metadata={"keep": 1, "drop": 2, "replace": {"a": 1, "b": 2}}
        )

        response = await admin.patch(
            f"/api/commerces/{created['id']}",
            {"metadata": {"drop": None, "replace": {"c": 3}, "newKey": [1]}},
        )

        assert response.status_code == 200
        assert response.json()["metadata"] == {"keep": 1, "replace": {"c": 3}, "newKey": [1]}

    async def test_immutable_and_null_fields_are_400(self, admin: Caller) -> None:
        created = await admin.create(external_id="i")
        path = f"/api/commerces/{created['id']}"

        immutable = await admin.patch(path, {"externalId": "j", "is_placeholder": True})
        nulls = await admin.patch(path, {"name": None, "metadata": None, "is_active": None})
        empty = await admin.patch(path, {"name": "  "})

        assert immutable.status_code == 400
        assert fields(immutable) == ["externalId", "is_placeholder"]
        assert nulls.status_code == 400
        assert set(fields(nulls)) == {"name", "metadata", "is_active"}
        assert empty.status_code == 400 and fields(empty) == ["name"]
        assert (await admin.get(path)).json()["externalId"] == "i"

    async def test_unknown_fields_are_ignored_and_empty_body_changes_nothing(
        self, admin: Caller
    ) -> None:
        created = await admin.create(external_id="e")
        response = await admin.patch(f"/api/commerces/{created['id']}", {"color": "red"})
        assert response.status_code == 200
        assert response.json() == created

    async def test_taken_tax_id_is_409_and_unknown_id_404(self, admin: Caller) -> None:
        await admin.create(external_id="a", tax_id="TAKEN")
        other = await admin.create(external_id="b")

        conflict = await admin.patch(f"/api/commerces/{other['id']}", {"tax_id": "TAKEN"})
        missing = await admin.patch(f"/api/commerces/{uuid.uuid4()}", {"name": "x"})

        assert conflict.status_code == 409
        assert conflict.json()["message"] == "tax_id already exists"
        assert missing.status_code == 404


class TestDeactivateCommerce:
    async def test_delete_deactivates_idempotently_and_patch_reactivates(
        self, admin: Caller
    ) -> None:
        created = await admin.create(external_id="d")
        path = f"/api/commerces/{created['id']}"

        first = await admin.delete(path)
        second = await admin.delete(path)
        after = (await admin.get(path)).json()
        reactivated = await admin.patch(path, {"is_active": True})

        assert first.status_code == 204 and first.content == b""
        assert second.status_code == 204
        assert after["isActive"] is False
        assert reactivated.json()["isActive"] is True

    async def test_unknown_commerce_is_404(self, admin: Caller) -> None:
        response = await admin.delete(f"/api/commerces/{uuid.uuid4()}")
        assert response.status_code == 404
