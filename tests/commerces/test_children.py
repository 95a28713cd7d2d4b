"""Addresses, commerce users, roles and contacts (management-api.md §8.7-8.16)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.commerces.conftest import Caller, make_caller
from tests.commerces.test_commerces import ADDRESS_KEYS, CONTACT_KEYS, USER_KEYS, fields
from tests.factories import Factory


async def commerce(caller: Caller, **body: Any) -> str:
    body.setdefault("external_id", f"c-{uuid.uuid4().hex[:8]}")
    return str((await caller.create(**body))["id"])


async def commerce_user(caller: Caller, **body: Any) -> tuple[str, str]:
    """(commerce id, user id) of a new commerce with one user."""
    commerce_id = await commerce(caller)
    response = await caller.post(f"/api/commerces/{commerce_id}/users", body)
    assert response.status_code == 201, response.text
    return commerce_id, response.json()["id"]


async def detail(caller: Caller, commerce_id: str) -> dict[str, Any]:
    return (await caller.get(f"/api/commerces/{commerce_id}")).json()  # type: ignore[no-any-return]


class TestAddresses:
    async def test_create_returns_the_address(self, admin: Caller) -> None:
        commerce_id = await commerce(admin)

        response = await admin.post(
            f"/api/commerces/{commerce_id}/addresses",
            {"source": "INTEGRATION", "sourceRef": "erp", "city": " Lima ", "countryCode": "pe"},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == ADDRESS_KEYS
        assert body["commerceId"] == commerce_id
        assert (body["city"], body["countryCode"]) == ("Lima", "PE")
        assert (body["source"], body["sourceRef"]) == ("INTEGRATION", "erp")
        assert (body["isPrimary"], body["isActive"]) == (False, True)
        assert (await detail(admin, commerce_id))["addresses"] == [body]

    async def test_source_is_required_and_validated(self, admin: Caller) -> None:
        commerce_id = await commerce(admin)
        path = f"/api/commerces/{commerce_id}/addresses"

        missing = await admin.post(path, {"city": "x"})
        wrong = await admin.post(path, {"source": "retén"})
        null = await admin.post(path, {"source": None})

        for response in (missing, wrong, null):
            assert response.status_code == 400
            assert fields(response) == ["source"]

    async def test_new_primary_clears_the_old_one(self, admin: Caller) -> None:
        commerce_id = await commerce(admin, addresses=[{"street": "old", "is_primary": True}])

        response = await admin.post(
            f"/api/commerces/{commerce_id}/addresses",
            {"source": "RETEN", "street": "new", "is_primary": True},
        )

        assert response.status_code == 201
        primaries = [
            (a["street"], a["isPrimary"]) for a in (await detail(admin, commerce_id))["addresses"]
        ]
        assert primaries == [("new", True), ("old", False)]

    async def test_taken_source_ref_is_409_and_unknown_commerce_404(self, admin: Caller) -> None:
        commerce_id = await commerce(admin, addresses=[{"source_ref": "r"}])

        conflict = await admin.post(
            f"/api/commerces/{commerce_id}/addresses", {"source": "RETEN", "source_ref": "r"}
        )
        other_commerce = await commerce(admin, addresses=[{"source_ref": "r"}])
        missing = await admin.post(f"/api/commerces/{uuid.uuid4()}/addresses", {"source": "RETEN"})
        malformed = await admin.post("/api/commerces/nope/addresses", {"source": "RETEN"})

        assert conflict.status_code == 409
        assert conflict.json()["message"] == "source_ref already exists"
        assert other_commerce  # the same source_ref in another commerce is fine
        assert missing.status_code == 404
        assert missing.json()["message"] == "Commerce not found"
        assert malformed.status_code == 400 and fields(malformed) == ["commerceId"]

    async def test_patch_changes_given_fields(self, admin: Caller) -> None:
        commerce_id = await commerce(
            admin,
            addresses=[
                {
                    "street": "a",
                    "city": "Santiago",
                    "is_primary": True,
                    "latitude": 1,
                    "longitude": 2,
                },
                {"street": "b"},
            ],
        )
        first, second = (await detail(admin, commerce_id))["addresses"]
        path = f"/api/commerces/{commerce_id}/addresses/{second['id']}"

        response = await admin.patch(path, {"isPrimary": True, "unit": "9", "street": None})

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["isPrimary"], body["unit"], body["street"]) == (True, "9", None)
        after = {a["id"]: a for a in (await detail(admin, commerce_id))["addresses"]}
        assert after[first["id"]]["isPrimary"] is False
        assert after[first["id"]]["city"] == "Santiago"
        cleared = await admin.patch(
            f"/api/commerces/{commerce_id}/addresses/{first['id']}",
            {"latitude": None, "longitude": None, "country_code": "cl"},
        )
        assert cleared.json()["latitude"] is None and cleared.json()["countryCode"] == "CL"

    async def test_patch_refuses_immutable_and_invalid_fields(self, admin: Caller) -> None:
        commerce_id = await commerce(admin, addresses=[{"source_ref": "r"}])
        address_id = (await detail(admin, commerce_id))["addresses"][0]["id"]
        path = f"/api/commerces/{commerce_id}/addresses/{address_id}"

        immutable = await admin.patch(path, {"source": "RETEN", "sourceRef": "x"})
        half = await admin.patch(path, {"latitude": 10})
        nulls = await admin.patch(path, {"is_primary": None, "is_active": None})

        assert immutable.status_code == 400 and fields(immutable) == ["source", "sourceRef"]
        assert half.status_code == 400 and fields(half) == ["longitude"]
        assert nulls.status_code == 400 and fields(nulls) == ["is_primary", "is_active"]

    async def test_an_address_of_another_commerce_is_404(self, admin: Caller) -> None:
        owner = await commerce(admin, addresses=[{"street": "x"}])
        address_id = (await detail(admin, owner))["addresses"][0]["id"]
        stranger = await commerce(admin)

        patch = await admin.patch(f"/api/commerces/{stranger}/addresses/{address_id}", {})
        delete = await admin.delete(f"/api/commerces/{stranger}/addresses/{address_id}")
        no_commerce = await admin.delete(f"/api/commerces/{uuid.uuid4()}/addresses/{address_id}")

        assert patch.status_code == 404 and patch.json()["message"] == "Address not found"
        assert delete.status_code == 404
        assert no_commerce.json()["message"] == "Commerce not found"

    async def test_delete_removes_permanently(self, admin: Caller) -> None:
        commerce_id = await commerce(admin, addresses=[{"street": "x"}])
        address_id = (await detail(admin, commerce_id))["addresses"][0]["id"]
        path = f"/api/commerces/{commerce_id}/addresses/{address_id}"

        first = await admin.delete(path)
        second = await admin.delete(path)

        assert first.status_code == 204 and first.content == b""
        assert second.status_code == 404
        assert (await detail(admin, commerce_id))["addresses"] == []


class TestCommerceUsers:
    async def test_create_with_an_empty_body(self, admin: Caller) -> None:
        commerce_id = await commerce(admin)

        response = await admin.post(f"/api/commerces/{commerce_id}/users", {})

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == USER_KEYS
        assert body["commerceId"] == commerce_id
        assert (body["name"], body["firstName"], body["lastName"], body["externalId"]) == (
            None, None, None, None,
        )  # fmt: skip
        assert (body["source"], body["isActive"], body["roles"], body["contacts"]) == (
            "RETEN", True, [], [],
        )  # fmt: skip

    async def test_create_with_roles_and_contacts(self, admin: Caller) -> None:
        commerce_id = await commerce(admin)

        response = await admin.post(
            f"/api/commerces/{commerce_id}/users",
            {
                "externalId": "u1",
                "name": "Ana",
                "source": "INTEGRATION",
                "roles": ["FINANCE", "ADMIN"],
                "contacts": [{"contactType": "EMAIL", "value": "ana@x.cl", "source": "RETEN"}],
            },
        )

        body = response.json()
        assert (body["name"], body["firstName"], body["lastName"]) == ("Ana", "Ana", None)
        assert body["roles"] == [{"role": "FINANCE"}, {"role": "ADMIN"}]
        assert body["contacts"][0]["source"] == "RETEN"

    async def test_taken_external_id_is_409_and_bad_body_400(self, admin: Caller) -> None:
        commerce_id, _ = await commerce_user(admin, external_id="u")
        path = f"/api/commerces/{commerce_id}/users"

        conflict = await admin.post(path, {"external_id": "u"})
        no_key_twice = [await admin.post(path, {}), await admin.post(path, {})]
        bad = await admin.post(path, {"roles": ["BOSS"], "source": None})
        missing = await admin.post(f"/api/commerces/{uuid.uuid4()}/users", {})

        assert conflict.status_code == 409
        assert conflict.json()["message"] == "external_id already exists"
        assert [r.status_code for r in no_key_twice] == [201, 201]
        assert bad.status_code == 400 and fields(bad) == ["source", "roles[0]"]
        assert missing.status_code == 404

    async def test_patch_name_external_id_and_active(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin, external_id="u", name="A B")
        path = f"/api/commerces/{commerce_id}/users/{user_id}"

        renamed = await admin.patch(path, {"name": "  Carla   Ruiz Soto ", "is_active": False})
        cleared = await admin.patch(path, {"externalId": None})
        null_name = await admin.patch(path, {"name": None})
        blank_name = await admin.patch(path, {"name": "  "})

        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["firstName"], renamed.json()["lastName"]) == ("Carla", "Ruiz Soto")
        assert renamed.json()["name"] == "Carla Ruiz Soto"
        assert renamed.json()["isActive"] is False
        assert cleared.json()["externalId"] is None
        assert cleared.json()["name"] == "Carla Ruiz Soto"
        # §8.11 marks only external_id as |null: a name is changed, never blanked, here
        assert null_name.status_code == 400 and fields(null_name) == ["name"]
        assert blank_name.status_code == 400 and fields(blank_name) == ["name"]

    async def test_patch_refuses_source_roles_and_contacts(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin)
        path = f"/api/commerces/{commerce_id}/users/{user_id}"

        response = await admin.patch(path, {"source": "RETEN", "roles": [], "contacts": []})
        null_active = await admin.patch(path, {"is_active": None})

        assert response.status_code == 400
        assert fields(response) == ["source", "roles", "contacts"]
        assert "roles" in response.json()["details"][1]["message"]
        assert null_active.status_code == 400

    async def test_patch_taken_external_id_is_409_and_foreign_user_404(self, admin: Caller) -> None:
        commerce_id, _ = await commerce_user(admin, external_id="taken")
        second = await admin.post(f"/api/commerces/{commerce_id}/users", {"external_id": "free"})
        _, other_user = await commerce_user(admin)

        conflict = await admin.patch(
            f"/api/commerces/{commerce_id}/users/{second.json()['id']}", {"external_id": "taken"}
        )
        wrong_parent = await admin.patch(f"/api/commerces/{commerce_id}/users/{other_user}", {})

        assert conflict.status_code == 409
        assert conflict.json()["message"] == "external_id already exists"
        assert wrong_parent.status_code == 404
        assert wrong_parent.json()["message"] == "Commerce user not found"


class TestRoles:
    async def test_add_is_idempotent_and_remove_takes_it_away(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin, roles=["OTHER"])
        path = f"/api/commerces/{commerce_id}/users/{user_id}/roles"

        first = await admin.post(path, {"role": "OWNER"})
        again = await admin.post(path, {"role": "OWNER"})
        removed = await admin.delete(f"{path}/OTHER")
        gone = await admin.delete(f"{path}/OTHER")

        assert first.status_code == 201, first.text
        assert set(first.json()) == USER_KEYS
        assert first.json()["roles"] == [{"role": "OWNER"}, {"role": "OTHER"}]
        assert again.status_code == 201 and again.json()["roles"] == first.json()["roles"]
        assert removed.status_code == 204
        assert gone.status_code == 404
        users = (await detail(admin, commerce_id))["users"]
        assert users[0]["roles"] == [{"role": "OWNER"}]

    async def test_bad_roles_are_400(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin)
        path = f"/api/commerces/{commerce_id}/users/{user_id}/roles"

        missing = await admin.post(path, {})
        wrong = await admin.post(path, {"role": "owner"})
        wrong_path = await admin.delete(f"{path}/owner")

        assert missing.status_code == 400 and fields(missing) == ["role"]
        assert wrong.status_code == 400 and fields(wrong) == ["role"]
        assert wrong_path.status_code == 400 and fields(wrong_path) == ["role"]

    async def test_unknown_user_is_404(self, admin: Caller) -> None:
        commerce_id = await commerce(admin)
        path = f"/api/commerces/{commerce_id}/users/{uuid.uuid4()}/roles"

        add = await admin.post(path, {"role": "OWNER"})
        remove = await admin.delete(f"{path}/OWNER")

        assert add.status_code == 404 and remove.status_code == 404
        assert add.json()["message"] == "Commerce user not found"


class TestContacts:
    async def test_create_returns_the_contact(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin)

        response = await admin.post(
            f"/api/commerces/{commerce_id}/users/{user_id}/contacts",
            {"contactType": "EMAIL", "value": " Ana@X.CL ", "source": "INTEGRATION"},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == CONTACT_KEYS
        assert (body["type"], body["value"], body["source"]) == ("EMAIL", "ana@x.cl", "INTEGRATION")
        assert (body["isPrimary"], body["isActive"]) == (False, True)

    async def test_validation(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(admin)
        path = f"/api/commerces/{commerce_id}/users/{user_id}/contacts"

        no_source = await admin.post(path, {"contact_type": "PHONE", "value": "+56911111111"})
        bad_phone = await admin.post(
            path, {"contact_type": "PHONE", "value": "12", "source": "RETEN"}
        )
        missing = await admin.post(path, {})

        assert no_source.status_code == 400 and fields(no_source) == ["source"]
        assert bad_phone.status_code == 400 and fields(bad_phone) == ["value"]
        assert missing.status_code == 400
        assert fields(missing) == ["contact_type", "value", "source"]

    async def test_same_type_and_value_is_409(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(
            admin, contacts=[{"contact_type": "EMAIL", "value": "a@b.cl"}]
        )
        path = f"/api/commerces/{commerce_id}/users/{user_id}/contacts"

        conflict = await admin.post(
            path, {"contact_type": "EMAIL", "value": "A@B.cl", "source": "RETEN"}
        )
        other_type = await admin.post(
            path, {"contact_type": "OTHER", "value": "a@b.cl", "source": "RETEN"}
        )

        assert conflict.status_code == 409
        assert conflict.json()["message"] == "value already exists"
        assert other_type.status_code == 201

    async def test_primary_is_per_type(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(
            admin,
            contacts=[
                {"contact_type": "EMAIL", "value": "a@b.cl", "is_primary": True},
                {"contact_type": "PHONE", "value": "+56911111111", "is_primary": True},
            ],
        )
        path = f"/api/commerces/{commerce_id}/users/{user_id}/contacts"

        await admin.post(
            path,
            {"contact_type": "EMAIL", "value": "c@d.cl", "source": "RETEN", "is_primary": True},
        )
        contacts = (await detail(admin, commerce_id))["users"][0]["contacts"]

        assert [(c["value"], c["isPrimary"]) for c in contacts] == [
            ("c@d.cl", True),
            ("a@b.cl", False),
            ("+56911111111", True),
        ]

    async def test_patch_value_primary_and_active(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(
            admin,
            contacts=[
                {"contact_type": "PHONE", "value": "+56911111111", "is_primary": True},
                {"contact_type": "PHONE", "value": "+56922222222"},
            ],
        )
        first, second = (await detail(admin, commerce_id))["users"][0]["contacts"]
        path = f"/api/commerces/{commerce_id}/users/{user_id}/contacts"

        response = await admin.patch(
            f"{path}/{second['id']}",
            {"value": "+56933333333", "isPrimary": True, "isActive": False},
        )
        bad = await admin.patch(f"{path}/{second['id']}", {"value": "someone@x.cl"})
        conflict = await admin.patch(f"{path}/{second['id']}", {"value": "+56911111111"})
        immutable = await admin.patch(
            f"{path}/{second['id']}", {"contactType": "EMAIL", "source": "RETEN"}
        )
        null_value = await admin.patch(f"{path}/{second['id']}", {"value": None})

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["value"], body["isPrimary"], body["isActive"]) == ("+56933333333", True, False)
        contacts = {c["id"]: c for c in (await detail(admin, commerce_id))["users"][0]["contacts"]}
        assert contacts[first["id"]]["isPrimary"] is False
        assert bad.status_code == 400 and fields(bad) == ["value"]
        assert conflict.status_code == 409 and conflict.json()["message"] == "value already exists"
        assert immutable.status_code == 400 and fields(immutable) == ["contactType", "source"]
        assert null_value.status_code == 400 and fields(null_value) == ["value"]

    async def test_delete_and_404s(self, admin: Caller) -> None:
        commerce_id, user_id = await commerce_user(
            admin, contacts=[{"contact_type": "OTHER", "value": "desk"}]
        )
        contact_id = (await detail(admin, commerce_id))["users"][0]["contacts"][0]["id"]
        other_commerce, other_user = await commerce_user(admin)
        path = f"/api/commerces/{commerce_id}/users/{user_id}/contacts/{contact_id}"

        wrong_user = await admin.patch(
            f"/api/commerces/{other_commerce}/users/{other_user}/contacts/{contact_id}", {}
        )
        deleted = await admin.delete(path)
        again = await admin.delete(path)
        no_user = await admin.delete(
            f"/api/commerces/{commerce_id}/users/{uuid.uuid4()}/contacts/{contact_id}"
        )

        assert wrong_user.status_code == 404
        assert wrong_user.json()["message"] == "Contact not found"
        assert deleted.status_code == 204
        assert again.status_code == 404
        assert no_user.json()["message"] == "Commerce user not found"
        assert (await detail(admin, commerce_id))["users"][0]["contacts"] == []


class TestIsolation:
    """A credential of another tenant gets 404 on every object of this one."""

    async def test_every_child_endpoint_answers_404_to_another_tenant(
        self, admin: Caller, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        commerce_id = await commerce(
            admin,
            addresses=[{"street": "x"}],
            users=[{"roles": ["OWNER"], "contacts": [{"contact_type": "OTHER", "value": "v"}]}],
        )
        body = await detail(admin, commerce_id)
        address_id = body["addresses"][0]["id"]
        user_id = body["users"][0]["id"]
        contact_id = body["users"][0]["contacts"][0]["id"]
        base = f"/api/commerces/{commerce_id}"
        intruder = await make_caller(client, factory)

        calls = [
            intruder.get(base),
            intruder.patch(base, {"name": "hacked"}),
            intruder.delete(base),
            intruder.post(f"{base}/addresses", {"source": "RETEN"}),
            intruder.patch(f"{base}/addresses/{address_id}", {"street": "hacked"}),
            intruder.delete(f"{base}/addresses/{address_id}"),
            intruder.post(f"{base}/users", {}),
            intruder.patch(f"{base}/users/{user_id}", {"name": "hacked"}),
            intruder.post(f"{base}/users/{user_id}/roles", {"role": "ADMIN"}),
            intruder.delete(f"{base}/users/{user_id}/roles/OWNER"),
            intruder.post(
                f"{base}/users/{user_id}/contacts",
                {"contact_type": "OTHER", "value": "w", "source": "RETEN"},
            ),
            intruder.patch(f"{base}/users/{user_id}/contacts/{contact_id}", {"value": "hacked"}),
            intruder.delete(f"{base}/users/{user_id}/contacts/{contact_id}"),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404, response.text
        assert await detail(admin, commerce_id) == body
