"""POST /api/commerces/sync: rule S for commerces (management-api.md §8.6)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from reten.auth.permissions import Permission
from reten.commerces.models import Address, Commerce, CommerceUser, Contact
from reten.kit.db import Database
from tests.commerces.conftest import Caller, make_caller
from tests.commerces.test_commerces import fields
from tests.factories import Factory

SYNC = "/api/commerces/sync"


async def sync(caller: Caller, *items: dict[str, Any]) -> httpx.Response:
    return await caller.post(SYNC, {"items": list(items)})


async def detail_by_external_id(caller: Caller, external_id: str) -> dict[str, Any]:
    listed = (await caller.get("/api/commerces", external_id=external_id)).json()["data"]
    assert len(listed) == 1, listed
    return (await caller.get(f"/api/commerces/{listed[0]['id']}")).json()  # type: ignore[no-any-return]


async def row_counts(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    out = {}
    async with db.sessionmaker() as session:
        for model in (Commerce, Address, CommerceUser, Contact):
            stmt = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            out[model.__tablename__] = int((await session.execute(stmt)).scalar_one())
    return out


class TestSyncCreatesAndUpdates:
    async def test_new_items_are_created_and_matched_ones_updated(self, admin: Caller) -> None:
        await admin.create(external_id="old", name="Old name")

        response = await sync(
            admin,
            {"external_id": "old", "name": "Renamed"},
            {"external_id": "new-1", "name": "First"},
            {"external_id": "new-2", "name": "Second", "is_active": False},
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"created": 2, "updated": 1, "total": 3}
        assert (await detail_by_external_id(admin, "old"))["name"] == "Renamed"
        first = await detail_by_external_id(admin, "new-1")
        assert first["isActive"] is True and first["isPlaceholder"] is False
        assert (await detail_by_external_id(admin, "new-2"))["isActive"] is False

    async def test_unchanged_match_still_counts_as_updated(self, admin: Caller) -> None:
        await admin.create(external_id="same", name="Same")
        before = await detail_by_external_id(admin, "same")

        response = await sync(admin, {"external_id": "same", "name": "Same"})

        assert response.json() == {"created": 0, "updated": 1, "total": 1}
        assert (await detail_by_external_id(admin, "same"))["updatedAt"] == before["updatedAt"]

    async def test_optional_fields_are_written_only_when_given(self, admin: Caller) -> None:
        await admin.create(
            external_id="opt",
            tax_id="T-1",
            global_external_id="G-1",
            is_active=False,
            is_placeholder=True,
            metadata={"keep": 1, "drop": 1, "nested": {"a": 1}},
        )

        await sync(
            admin,
            {
                "external_id": "opt",
                "name": "Opt",
                "globalExternalId": None,
                "metadata": {"drop": None, "nested": {"b": 2}},
            },
        )
        after = await detail_by_external_id(admin, "opt")

        assert after["taxId"] == "T-1"
        assert after["globalExternalId"] is None
        assert after["isActive"] is False
        assert after["isPlaceholder"] is False
        assert after["metadata"] == {"keep": 1, "nested": {"b": 2}}
        await sync(admin, {"external_id": "opt", "name": "Opt", "is_active": True, "tax_id": None})
        again = await detail_by_external_id(admin, "opt")
        assert again["isActive"] is True and again["taxId"] is None

    async def test_tax_ids_may_move_between_items_of_one_batch(self, admin: Caller) -> None:
        await admin.create(external_id="a", tax_id="TA")
        await admin.create(external_id="b", tax_id="TB")

        response = await sync(
            admin,
            {"external_id": "a", "name": "a", "tax_id": "TB"},
            {"external_id": "b", "name": "b", "tax_id": "TA"},
            {"external_id": "c", "name": "c", "tax_id": "TC"},
        )

        assert response.status_code == 201, response.text
        assert (await detail_by_external_id(admin, "a"))["taxId"] == "TB"
        assert (await detail_by_external_id(admin, "b"))["taxId"] == "TA"

    async def test_a_released_tax_id_may_go_to_a_new_commerce(self, admin: Caller) -> None:
        await admin.create(external_id="holder", tax_id="T")

        response = await sync(
            admin,
            {"external_id": "newcomer", "name": "n", "tax_id": "T"},
            {"external_id": "holder", "name": "h", "tax_id": None},
        )

        assert response.status_code == 201, response.text
        assert (await detail_by_external_id(admin, "newcomer"))["taxId"] == "T"


class TestSyncChildren:
    async def test_addresses_match_by_source_ref_and_the_rest_are_appended(
        self, admin: Caller
    ) -> None:
        await admin.create(
            external_id="s",
            addresses=[
                {"source_ref": "erp-1", "street": "Old", "city": "Santiago", "is_primary": True},
                {"street": "manual"},
            ],
        )

        response = await sync(
            admin,
            {
                "external_id": "s",
                "name": "S",
                "addresses": [
                    {"sourceRef": "erp-1", "street": "New", "unit": "4B"},
                    {"street": "no ref"},
                    {"source_ref": "erp-2", "city": "Lima", "country_code": "pe"},
                ],
            },
        )

        assert response.status_code == 201, response.text
        addresses = (await detail_by_external_id(admin, "s"))["addresses"]
        by_street = {a["street"]: a for a in addresses}
        assert set(by_street) == {"New", "manual", "no ref", None}
        erp1 = by_street["New"]
        assert (erp1["city"], erp1["unit"], erp1["isPrimary"]) == ("Santiago", "4B", True)
        assert erp1["source"] == "RETEN"
        assert by_street["no ref"]["source"] == "INTEGRATION"
        assert by_street[None]["countryCode"] == "PE"
        assert by_street[None]["sourceRef"] == "erp-2"

    async def test_a_new_primary_address_clears_the_stored_one(self, admin: Caller) -> None:
        await admin.create(
            external_id="p",
            addresses=[{"source_ref": "one", "is_primary": True}, {"source_ref": "two"}],
        )

        await sync(
            admin,
            {
                "external_id": "p",
                "name": "p",
                "addresses": [{"sourceRef": "two", "isPrimary": True}],
            },
        )
        first = {
            a["sourceRef"]: a["isPrimary"]
            for a in (await detail_by_external_id(admin, "p"))["addresses"]
        }
        await sync(
            admin,
            {
                "external_id": "p",
                "name": "p",
                "addresses": [{"source_ref": "three", "is_primary": True}, {"source_ref": "two"}],
            },
        )
        second = {
            a["sourceRef"]: a["isPrimary"]
            for a in (await detail_by_external_id(admin, "p"))["addresses"]
        }
        # the stored primary named again with is_primary stays primary
        await sync(
            admin,
            {
                "external_id": "p",
                "name": "p",
                "addresses": [{"source_ref": "three", "is_primary": True}],
            },
        )
        third = {
            a["sourceRef"]: a["isPrimary"]
            for a in (await detail_by_external_id(admin, "p"))["addresses"]
        }

        assert first == {"one": False, "two": True}
        assert second == {"one": False, "two": False, "three": True}
        assert third == second

    async def test_users_match_by_external_id_roles_are_added_contacts_matched(
        self, admin: Caller
    ) -> None:
        await admin.create(
            external_id="u",
            users=[
                {
                    "external_id": "maria",
                    "name": "Maria Garcia",
                    "roles": ["OWNER"],
                    "contacts": [
                        {"contact_type": "EMAIL", "value": "maria@x.cl", "is_primary": True},
                        {"contact_type": "PHONE", "value": "+56911111111"},
                    ],
                },
                {"external_id": "juan", "name": "Juan Perez"},
            ],
        )

        response = await sync(
            admin,
            {
                "external_id": "u",
                "name": "U",
                "users": [
                    {
                        "external_id": "maria",
                        "roles": ["FINANCE"],
                        "contacts": [
                            {"contact_type": "PHONE", "value": "+56911111111", "is_active": False},
                            {"contact_type": "EMAIL", "value": "MARIA2@x.cl", "is_primary": True},
                        ],
                    },
                    {"external_id": "juan", "name": "Juan  Pablo Perez"},
                    {"external_id": "nuevo", "name": "Nuevo", "roles": ["COMMERCE_REP"],
                     "contacts": [{"contact_type": "WHATSAPP", "value": "+56922222222"}]},
                ],
            },
        )  # fmt: skip

        assert response.status_code == 201, response.text
        users = {u["externalId"]: u for u in (await detail_by_external_id(admin, "u"))["users"]}
        maria = users["maria"]
        assert maria["name"] == "Maria Garcia"  # name not given: unchanged
        assert maria["source"] == "RETEN"
        assert [r["role"] for r in maria["roles"]] == ["OWNER", "FINANCE"]
        assert [
            (c["type"], c["value"], c["isPrimary"], c["isActive"]) for c in maria["contacts"]
        ] == [
            ("EMAIL", "maria2@x.cl", True, True),
            ("EMAIL", "maria@x.cl", False, True),
            ("PHONE", "+56911111111", False, False),
        ]
        assert maria["contacts"][0]["source"] == "INTEGRATION"
        assert (users["juan"]["firstName"], users["juan"]["lastName"]) == ("Juan", "Pablo Perez")
        nuevo = users["nuevo"]
        assert nuevo["source"] == "INTEGRATION"
        assert nuevo["roles"] == [{"role": "COMMERCE_REP"}]
        assert nuevo["contacts"][0]["source"] == "INTEGRATION"

    async def test_children_are_never_deleted_or_deactivated(
        self, admin: Caller, db: Database
    ) -> None:
        await admin.create(
            external_id="keep",
            addresses=[{"source_ref": "a"}],
            users=[{"external_id": "u", "roles": ["OWNER"],
                    "contacts": [{"contact_type": "OTHER", "value": "x"}]}],
        )  # fmt: skip
        before = await row_counts(db, admin.world.tenant_id)

        await sync(
            admin,
            {"external_id": "keep", "name": "k", "addresses": [], "users": [{"external_id": "u"}]},
        )
        after = await detail_by_external_id(admin, "keep")

        assert await row_counts(db, admin.world.tenant_id) == before
        assert after["addresses"][0]["isActive"] is True
        assert after["users"][0]["roles"] == [{"role": "OWNER"}]
        assert after["users"][0]["contacts"][0]["isActive"] is True

    async def test_sync_only_matches_within_the_callers_tenant(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        mine = await admin.create(external_id="shared", name="Mine", tax_id="T")
        other = await make_caller(client, factory)

        response = await sync(other, {"external_id": "shared", "name": "Theirs", "tax_id": "T"})

        assert response.json() == {"created": 1, "updated": 0, "total": 1}
        assert (await admin.get(f"/api/commerces/{mine['id']}")).json()["name"] == "Mine"


class TestSyncRejection:
    async def test_one_bad_item_rejects_the_batch_and_writes_nothing(
        self, admin: Caller, db: Database
    ) -> None:
        await admin.create(external_id="stored", name="Stored")
        before = await row_counts(db, admin.world.tenant_id)

        response = await sync(
            admin,
            {"external_id": "stored", "name": "Changed", "addresses": [{"street": "x"}]},
            {"external_id": "fresh", "name": ""},
            {"external_id": "fresh-2", "name": "ok"},
        )

        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 1 invalid items"
        assert body["details"] == [{"field": "items[1].name", "message": "must not be empty"}]
        assert await row_counts(db, admin.world.tenant_id) == before
        assert (await detail_by_external_id(admin, "stored"))["name"] == "Stored"

    async def test_every_problem_of_every_item_is_listed(self, admin: Caller) -> None:
        await admin.create(external_id="holder", tax_id="HELD")

        response = await sync(
            admin,
            {"externalId": "a", "name": "a", "taxId": "HELD"},
            {"external_id": "b", "name": "b", "tax_id": "SAME"},
            {"external_id": "c", "name": "c", "tax_id": "SAME"},
            {"external_id": "a", "name": "dup"},
            {"external_id": "d", "name": "d", "users": [{"name": "no key"}]},
            {"external_id": "e", "name": "e", "users": [{"external_id": "u"}, {"externalId": "u"}]},
            {"external_id": "f", "name": "f", "addresses": [{"latitude": 5}]},
            "not an object",
            {"external_id": "ok", "name": "ok"},
        )

        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Sync rejected: 7 invalid items"
        assert [(d["field"], d["message"]) for d in body["details"]] == [
            ("items[0].taxId", "tax_id already exists"),
            ("items[2].tax_id", "must be unique in the request (same as items[1])"),
            ("items[3].external_id", "must be unique in the request (same as items[0])"),
            ("items[4].users[0].external_id", "is required"),
            ("items[5].users[1].externalId", "must be unique in the request (same as users[0])"),
            ("items[6].addresses[0].longitude", "must be given together with latitude"),
            ("items[7]", "must be an object"),
        ]

    async def test_nul_characters_reject_the_item(self, admin: Caller) -> None:
        response = await sync(
            admin,
            {"external_id": "ok", "name": "ok"},
            {"externalId": "bad", "name": "n", "users": [{"externalId": "u\u0000"}]},
        )

        assert response.status_code == 400
        assert response.json()["message"] == "Sync rejected: 1 invalid items"
        assert response.json()["details"] == [
            {"field": "items[1].users[0].externalId", "message": "must not contain NUL characters"}
        ]

    async def test_a_tax_id_its_holder_keeps_is_a_conflict_even_with_the_holder_in_the_batch(
        self, admin: Caller
    ) -> None:
        await admin.create(external_id="holder", tax_id="T")

        response = await sync(
            admin,
            {"external_id": "holder", "name": "keeps T: tax_id not given"},
            {"external_id": "taker", "name": "t", "tax_id": "T"},
        )

        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "items[1].tax_id", "message": "tax_id already exists"}
        ]

    async def test_a_released_tax_id_claimed_twice_is_a_duplicate(self, admin: Caller) -> None:
        await admin.create(external_id="holder", tax_id="T")

        response = await sync(
            admin,
            {"external_id": "holder", "name": "h", "tax_id": "T2"},
            {"external_id": "holder2", "name": "h2", "tax_id": "T2"},
            {"external_id": "taker", "name": "t", "tax_id": "T"},
        )

        # holder releases T (so taker may have it) but T2 is claimed twice
        assert response.status_code == 400
        assert fields(response) == ["items[1].tax_id"]

    async def test_the_batch_shape_is_checked_first(self, admin: Caller) -> None:
        cases: list[tuple[Any, str]] = [
            ({}, "items"),
            ({"items": {}}, "items"),
            ({"items": []}, "items"),
            ({"items": [{"external_id": f"x{i}", "name": "n"} for i in range(1001)]}, "items"),
        ]
        for body, field in cases:
            response = await admin.post(SYNC, body)
            assert response.status_code == 400, body
            assert fields(response) == [field]
            assert response.json()["message"].startswith("items")

    async def test_sync_needs_sync_commerces(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, fde_email = await factory.user(admin.world, ["FDE"])
        fde = {
            "authorization": f"Bearer {await factory.login(fde_email)}",
            "x-tenant-id": str(admin.world.tenant_id),
        }
        manage_key = await factory.api_key(admin.world, [Permission.MANAGE_COMMERCES])
        sync_key = await factory.api_key(admin.world, [Permission.SYNC_COMMERCES])
        body = {"items": [{"external_id": "k", "name": "k"}]}

        as_fde = await client.post(SYNC, json=body, headers=fde)
        as_manage_key = await client.post(SYNC, json=body, headers={"x-api-key": manage_key})
        as_sync_key = await client.post(SYNC, json=body, headers={"x-api-key": sync_key})

        assert as_fde.status_code == 403
        assert as_fde.json()["message"] == "Insufficient permissions: requires SYNC_COMMERCES"
        assert as_manage_key.status_code == 403
        assert as_sync_key.status_code == 201


class TestSyncVolume:
    async def test_a_full_batch_of_1000_items_with_children(
        self, admin: Caller, db: Database
    ) -> None:
        items = [
            {
                "external_id": f"V-{i:04d}",
                "name": f"Store {i}",
                "tax_id": f"TAX-{i}",
                "addresses": [{"source_ref": "main", "street": f"Street {i}", "is_primary": True}],
                "users": [
                    {
                        "external_id": "owner",
                        "name": "Owner Person",
                        "roles": ["OWNER"],
                        "contacts": [{"contact_type": "PHONE", "value": f"+569{i:08d}"}],
                    }
                ],
            }
            for i in range(1000)
        ]

        created = await admin.post(SYNC, {"items": items})
        for item in items:
            item["name"] = item["name"] + " (2)"
        updated = await admin.post(SYNC, {"items": items})

        assert created.json() == {"created": 1000, "updated": 0, "total": 1000}
        assert updated.json() == {"created": 0, "updated": 1000, "total": 1000}
        assert await row_counts(db, admin.world.tenant_id) == {
            "commerces": 1000,
            "addresses": 1000,
            "commerce_users": 1000,
            "contacts": 1000,
        }
        last = await detail_by_external_id(admin, "V-0999")
        assert last["name"] == "Store 999 (2)"
        assert last["addresses"][0]["isPrimary"] is True
