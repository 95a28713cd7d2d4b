"""The /api/api-keys endpoints (management-api.md §7, A2–A4; quality.md S3)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from reten.api_keys.models import ApiKey
from reten.auth.permissions import Permission
from reten.kit.crypto import sha256_hex
from reten.kit.db import Database
from reten.kit.time import iso, utcnow
from tests.factories import Factory, World

KEY_RE = re.compile(r"^rtn_sk_[0-9a-f]{56}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
API_KEY_FIELDS = {
    "id", "name", "keyPrefix", "userId", "tenantId", "isActive", "permissions", "expiresAt",
    "lastUsedAt", "createdAt", "revokedAt",
}  # fmt: skip
PROBE = "/api/integration/task-result-type-configs"


def _headers(token: str, tenant_id: uuid.UUID | str | None) -> dict[str, str]:
    out = {"authorization": f"Bearer {token}"}
    if tenant_id is not None:
        out["x-tenant-id"] = str(tenant_id)
    return out


async def _create(
    client: httpx.AsyncClient,
    token: str,
    tenant_id: uuid.UUID,
    permissions: list[str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"name": "CI key", "permissions": permissions or ["VIEW_ACTIVITIES"]}
    body.update(extra)
    return await client.post("/api/api-keys", json=body, headers=_headers(token, tenant_id))


async def _key_count(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == tenant_id)
                )
            ).scalar_one()
        )


async def _admin(factory: Factory) -> tuple[World, str]:
    world = await factory.world(commerces_count=0)
    return world, await factory.login(world.admin_email)


class TestCreateApiKey:
    async def test_created_key_carries_the_plaintext_once_under_both_names(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(client, token, world.tenant_id, name="CI/CD Pipeline Key")

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == API_KEY_FIELDS | {"plaintextKey", "key"}
        assert body["plaintextKey"] == body["key"]
        assert len(body["key"]) == 63
        assert KEY_RE.match(body["key"])
        assert body["keyPrefix"] == body["key"][:15]
        assert body["keyPrefix"].startswith("rtn_sk_")
        assert body["name"] == "CI/CD Pipeline Key"
        assert body["userId"] == str(world.admin_id)
        assert body["tenantId"] == str(world.tenant_id)
        assert body["isActive"] is True
        assert body["permissions"] == ["VIEW_ACTIVITIES"]
        assert body["expiresAt"] is None
        assert body["lastUsedAt"] is None
        assert body["revokedAt"] is None
        assert TIMESTAMP_RE.match(body["createdAt"])
        uuid.UUID(body["id"])

    async def test_two_keys_never_share_a_plaintext(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        first = (await _create(client, token, world.tenant_id)).json()
        second = (await _create(client, token, world.tenant_id)).json()

        assert first["key"] != second["key"]
        assert first["id"] != second["id"]

    async def test_only_the_sha256_of_the_plaintext_is_stored(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)
        body = (await _create(client, token, world.tenant_id)).json()
        plaintext = body["key"]

        async with db.sessionmaker() as session:
            row = (
                await session.execute(
                    select(ApiKey.__table__).where(ApiKey.__table__.c.id == uuid.UUID(body["id"]))
                )
            ).one()

        assert row.key_hash == sha256_hex(plaintext)
        assert row.key_prefix == plaintext[:15]
        secret_part = plaintext[len("rtn_sk_") :]
        for value in row:
            assert plaintext not in str(value)
            assert secret_part not in str(value)

    async def test_the_returned_plaintext_authenticates_on_the_integration_api(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        key = (await _create(client, token, world.tenant_id, ["VIEW_ACTIVITIES"])).json()["key"]

        response = await client.get(PROBE, headers={"x-api-key": key})

        assert response.status_code == 200
        assert {t["code"] for t in response.json()} >= {"SALE_COMPLETED", "RESCHEDULE"}

    async def test_permissions_are_matched_case_insensitively_deduplicated_and_sorted(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(
            client,
            token,
            world.tenant_id,
            [
                "view_activities",
                "Manage_Commerces",
                "VIEW_ACTIVITIES",
                "manage_commerces",
                "create_USER",
            ],
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["permissions"] == ["CREATE_USER", "MANAGE_COMMERCES", "VIEW_ACTIVITIES"]
        async with db.sessionmaker() as session:
            stored = await session.get(ApiKey, uuid.UUID(body["id"]))
            assert stored is not None
            assert stored.permissions == ["CREATE_USER", "MANAGE_COMMERCES", "VIEW_ACTIVITIES"]

    async def test_unknown_permissions_get_one_detail_each_at_their_index(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(
            client,
            token,
            world.tenant_id,
            ["VIEW_ACTIVITIES", "FLY", "manage_commerces", "TELEPORT"],
        )

        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400
        assert body["error"] == "Bad Request"
        assert [d["field"] for d in body["details"]] == ["permissions[1]", "permissions[3]"]
        assert await _key_count(db, world.tenant_id) == 0

    async def test_empty_permission_list_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys",
            json={"name": "empty", "permissions": []},
            headers=_headers(token, world.tenant_id),
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["permissions"]
        assert await _key_count(db, world.tenant_id) == 0

    async def test_missing_name_and_permissions_are_both_reported(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys", json={}, headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 400
        assert sorted(d["field"] for d in response.json()["details"]) == ["name", "permissions"]

    async def test_blank_name_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(client, token, world.tenant_id, name="   ")

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["name"]

    async def test_expiry_in_the_future_is_kept(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        expires = (utcnow() + timedelta(days=30)).replace(microsecond=0)

        response = await _create(
            client, token, world.tenant_id, expires_at=expires.isoformat().replace("+00:00", "Z")
        )

        assert response.status_code == 201, response.text
        assert response.json()["expiresAt"] == iso(expires)

    async def test_expiry_is_accepted_in_camel_case_and_with_an_offset(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys",
            json={
                "name": "camel",
                "permissions": ["VIEW_ACTIVITIES"],
                "expiresAt": "2099-06-01T12:00:00-03:00",
            },
            headers=_headers(token, world.tenant_id),
        )

        assert response.status_code == 201, response.text
        assert response.json()["expiresAt"] == "2099-06-01T15:00:00.000Z"

    async def test_expiry_in_the_past_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)
        past = (utcnow() - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

        response = await _create(client, token, world.tenant_id, expires_at=past)

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["expires_at"]
        assert await _key_count(db, world.tenant_id) == 0

    async def test_past_expiry_sent_in_camel_case_is_reported_with_the_callers_spelling(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        # §1.6: `field` is the dotted path as the caller spelled it.
        world, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys",
            json={
                "name": "camel",
                "permissions": ["VIEW_ACTIVITIES"],
                "expiresAt": "2001-01-01T00:00:00Z",
            },
            headers=_headers(token, world.tenant_id),
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["expiresAt"]

    async def test_expiry_without_a_time_zone_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(client, token, world.tenant_id, expires_at="2099-01-01T00:00:00")

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["expires_at"]

    async def test_granting_a_permission_the_caller_lacks_is_forbidden(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(
            client, token, world.tenant_id, ["VIEW_ACTIVITIES", "delete_tenant"]
        )

        assert response.status_code == 403
        assert response.json() == {
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Cannot grant permissions you do not hold: DELETE_TENANT",
        }
        assert await _key_count(db, world.tenant_id) == 0

    async def test_every_missing_permission_is_named_in_catalog_order(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await _create(client, token, world.tenant_id, ["DELETE_TENANT", "create_tenant"])

        assert response.status_code == 403
        assert response.json()["message"] == (
            "Cannot grant permissions you do not hold: CREATE_TENANT, DELETE_TENANT"
        )

    async def test_super_admin_may_grant_tenant_permissions(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        _, email = await factory.user(world, ["SUPER_ADMIN"])
        token = await factory.login(email)

        response = await _create(client, token, world.tenant_id, ["DELETE_TENANT"])

        assert response.status_code == 201
        assert response.json()["permissions"] == ["DELETE_TENANT"]

    async def test_user_without_manage_api_keys_is_forbidden(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        _, email = await factory.user(world, ["FDE"])
        token = await factory.login(email)

        response = await _create(client, token, world.tenant_id, ["VIEW_ACTIVITIES"])

        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient permissions: requires MANAGE_API_KEYS"
        assert await _key_count(db, world.tenant_id) == 0

    async def test_permission_is_checked_before_the_body(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        _, email = await factory.user(world, ["FDE"])
        token = await factory.login(email)

        response = await client.post(
            "/api/api-keys",
            json={"permissions": ["NOPE"]},
            headers=_headers(token, world.tenant_id),
        )

        assert response.status_code == 403

    async def test_super_admin_may_name_a_tenant_it_is_not_a_member_of(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(None, ["SUPER_ADMIN"])
        token = await factory.login(email)

        response = await _create(client, token, world.tenant_id)

        assert response.status_code == 201
        assert response.json()["tenantId"] == str(world.tenant_id)
        assert response.json()["userId"] == str(user_id)


class TestTenantContext:
    async def test_missing_tenant_header_is_a_validation_error_naming_the_header(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys",
            json={"name": "k", "permissions": ["VIEW_ACTIVITIES"]},
            headers=_headers(token, None),
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["x-tenant-id"]

    async def test_malformed_tenant_header_is_a_validation_error(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, token = await _admin(factory)

        response = await client.get("/api/api-keys", headers=_headers(token, "acme"))

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["x-tenant-id"]

    async def test_tenant_the_user_does_not_belong_to_is_forbidden(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        _, token = await _admin(factory)
        other = await factory.world(commerces_count=0)

        response = await _create(client, token, other.tenant_id)

        assert response.status_code == 403
        assert response.json()["message"] == "Access to this tenant is not allowed"
        assert await _key_count(db, other.tenant_id) == 0

    async def test_unknown_tenant_is_forbidden_like_a_foreign_one(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, token = await _admin(factory)

        response = await client.get("/api/api-keys", headers=_headers(token, uuid.uuid4()))

        assert response.status_code == 403
        assert response.json()["message"] == "Access to this tenant is not allowed"

    async def test_api_key_alone_is_told_a_user_token_is_required(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        key = await factory.api_key(world, [Permission.MANAGE_API_KEYS, Permission.VIEW_ACTIVITIES])

        for response in (
            await client.get("/api/api-keys", headers={"x-api-key": key}),
            await client.post(
                "/api/api-keys",
                json={"name": "k", "permissions": ["VIEW_ACTIVITIES"]},
                headers={"x-api-key": key, "x-tenant-id": str(world.tenant_id)},
            ),
            await client.post(f"/api/api-keys/{uuid.uuid4()}/revoke", headers={"x-api-key": key}),
        ):
            assert response.status_code == 401
            assert response.json()["message"] == "This endpoint requires a user access token"

    async def test_token_and_api_key_together_are_a_bad_request(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        key = await factory.api_key(world)

        response = await client.get(
            "/api/api-keys", headers={**_headers(token, world.tenant_id), "x-api-key": key}
        )

        assert response.status_code == 400

    async def test_no_credentials_is_401(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world(commerces_count=0)

        response = await client.get("/api/api-keys", headers={"x-tenant-id": str(world.tenant_id)})

        assert response.status_code == 401
        assert response.json()["message"] == "Missing credentials"


class TestListApiKeys:
    async def test_lists_own_keys_newest_first_without_plaintext(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        created = [
            (await _create(client, token, world.tenant_id, name=f"k{i}")).json() for i in range(3)
        ]

        response = await client.get("/api/api-keys", headers=_headers(token, world.tenant_id))

        assert response.status_code == 200
        body = response.json()
        assert [k["id"] for k in body] == [c["id"] for c in reversed(created)]
        for item in body:
            assert set(item) == API_KEY_FIELDS
        for c in created:
            assert c["key"] not in response.text
            assert c["key"][15:] not in response.text

    async def test_default_list_holds_only_the_callers_keys(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        _, other_email = await factory.user(world, ["ADMIN"])
        other_token = await factory.login(other_email)
        mine = (await _create(client, token, world.tenant_id)).json()
        theirs = (await _create(client, other_token, world.tenant_id)).json()

        body = (await client.get("/api/api-keys", headers=_headers(token, world.tenant_id))).json()

        ids = [k["id"] for k in body]
        assert ids == [mine["id"]]
        assert theirs["id"] not in ids

    async def test_all_true_lists_every_key_of_the_tenant_only(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        _, other_email = await factory.user(world, ["ADMIN"])
        other_token = await factory.login(other_email)
        mine = (await _create(client, token, world.tenant_id)).json()
        theirs = (await _create(client, other_token, world.tenant_id)).json()
        elsewhere = await factory.world(commerces_count=0)
        foreign = (
            await _create(client, await factory.login(elsewhere.admin_email), elsewhere.tenant_id)
        ).json()

        response = await client.get(
            "/api/api-keys?all=TRUE", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 200
        ids = [k["id"] for k in response.json()]
        assert ids == [theirs["id"], mine["id"]]
        assert foreign["id"] not in ids

    async def test_all_false_is_the_default_list(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        _, other_email = await factory.user(world, ["ADMIN"])
        await _create(client, await factory.login(other_email), world.tenant_id)
        mine = (await _create(client, token, world.tenant_id)).json()

        body = (
            await client.get("/api/api-keys?all=false", headers=_headers(token, world.tenant_id))
        ).json()

        assert [k["id"] for k in body] == [mine["id"]]

    async def test_all_must_be_a_boolean(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world, token = await _admin(factory)

        response = await client.get(
            "/api/api-keys?all=yes", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["all"]

    async def test_revoked_keys_are_listed_as_inactive(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        kept = (await _create(client, token, world.tenant_id)).json()
        revoked = (await _create(client, token, world.tenant_id)).json()
        await client.post(
            f"/api/api-keys/{revoked['id']}/revoke", headers=_headers(token, world.tenant_id)
        )

        body = {
            k["id"]: k
            for k in (
                await client.get("/api/api-keys", headers=_headers(token, world.tenant_id))
            ).json()
        }

        assert body[kept["id"]]["isActive"] is True
        assert body[kept["id"]]["revokedAt"] is None
        assert body[revoked["id"]]["isActive"] is False
        assert TIMESTAMP_RE.match(body[revoked["id"]]["revokedAt"])


class TestRevokeApiKey:
    async def test_revoke_answers_the_message_and_marks_the_key(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)
        created = (await _create(client, token, world.tenant_id)).json()

        response = await client.post(
            f"/api/api-keys/{created['id']}/revoke", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 200
        assert response.json() == {"message": "API key revoked successfully"}
        async with db.sessionmaker() as session:
            stored = await session.get(ApiKey, uuid.UUID(created["id"]))
            assert stored is not None
            assert stored.revoked_at is not None
            assert abs((utcnow() - stored.revoked_at).total_seconds()) < 60

    async def test_revoking_twice_is_a_bad_request(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        created = (await _create(client, token, world.tenant_id)).json()
        url = f"/api/api-keys/{created['id']}/revoke"
        await client.post(url, headers=_headers(token, world.tenant_id))

        response = await client.post(url, headers=_headers(token, world.tenant_id))

        assert response.status_code == 400
        assert response.json()["message"] == "API key already revoked"

    async def test_key_of_another_tenant_is_not_found_and_stays_active(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)
        elsewhere = await factory.world(commerces_count=0)
        foreign = (
            await _create(client, await factory.login(elsewhere.admin_email), elsewhere.tenant_id)
        ).json()

        response = await client.post(
            f"/api/api-keys/{foreign['id']}/revoke", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 404
        assert response.json() == {
            "statusCode": 404,
            "error": "Not Found",
            "message": "API key not found",
        }
        async with db.sessionmaker() as session:
            stored = await session.get(ApiKey, uuid.UUID(foreign["id"]))
            assert stored is not None and stored.revoked_at is None

    async def test_unknown_key_is_not_found(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await client.post(
            f"/api/api-keys/{uuid.uuid4()}/revoke", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 404
        assert response.json()["message"] == "API key not found"

    async def test_malformed_id_is_a_validation_error_naming_the_path_parameter(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)

        response = await client.post(
            "/api/api-keys/not-a-uuid/revoke", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["id"]

    async def test_revoked_key_is_rejected_at_once_on_this_process(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        created = (await _create(client, token, world.tenant_id, ["VIEW_ACTIVITIES"])).json()
        # Use it first so that its verification is cached.
        assert (await client.get(PROBE, headers={"x-api-key": created["key"]})).status_code == 200

        await client.post(
            f"/api/api-keys/{created['id']}/revoke", headers=_headers(token, world.tenant_id)
        )
        response = await client.get(PROBE, headers={"x-api-key": created["key"]})

        assert response.status_code == 401
        assert response.json()["message"] == "API key missing or invalid"

    async def test_expired_key_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        key = await factory.api_key(world, expires_at=utcnow() + timedelta(hours=1))
        async with db.sessionmaker() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.key_hash == sha256_hex(key))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()

        response = await client.get(PROBE, headers={"x-api-key": key})

        assert response.status_code == 401
        assert response.json()["message"] == "API key missing or invalid"

    async def test_admin_cannot_revoke_a_peer_admins_key(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world, token = await _admin(factory)
        _, peer_email = await factory.user(world, ["ADMIN"])
        peer_key = (await _create(client, await factory.login(peer_email), world.tenant_id)).json()

        response = await client.post(
            f"/api/api-keys/{peer_key['id']}/revoke", headers=_headers(token, world.tenant_id)
        )

        assert response.status_code == 403
        assert response.json()["message"] == "Cannot revoke this API key"
        async with db.sessionmaker() as session:
            stored = await session.get(ApiKey, uuid.UUID(peer_key["id"]))
            assert stored is not None and stored.revoked_at is None

    async def test_super_admin_can_revoke_an_admins_key(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world, token = await _admin(factory)
        admin_key = (await _create(client, token, world.tenant_id)).json()
        _, boss_email = await factory.user(world, ["SUPER_ADMIN"])

        response = await client.post(
            f"/api/api-keys/{admin_key['id']}/revoke",
            headers=_headers(await factory.login(boss_email), world.tenant_id),
        )

        assert response.status_code == 200
        assert response.json() == {"message": "API key revoked successfully"}
