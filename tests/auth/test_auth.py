"""The /api/auth endpoints: login, refresh-token rotation, logout and /me (management-api.md §4)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select, update

from reten.auth.tokens import create_access_token
from reten.config import Settings
from reten.kit.crypto import sha256_hex
from reten.kit.db import Database
from reten.kit.time import utcnow
from reten.users import service as users
from reten.users.models import RefreshToken, User
from tests.factories import PASSWORD, Factory, unique

ADMIN_PERMISSIONS = [
    "CREATE_USER", "VIEW_USERS", "UPDATE_USER", "RESET_USER_PASSWORD", "VIEW_TENANTS",
    "MANAGE_COMMERCES", "SYNC_COMMERCES", "MANAGE_OPERATORS", "SYNC_OPERATORS", "MANAGE_ROUTES",
    "VIEW_ACTIVITIES", "CREATE_ACTIVITY", "CANCEL_ACTIVITY", "DISPATCH_ACTIVITY",
    "MANAGE_ACTIVITY_CONFIG", "SUBMIT_ACTIVITY_RESULT", "MANAGE_API_KEYS", "VIEW_AUDIT_LOG",
]  # fmt: skip
FDE_PERMISSIONS = [
    "VIEW_USERS", "MANAGE_COMMERCES", "MANAGE_OPERATORS", "MANAGE_ROUTES", "VIEW_ACTIVITIES",
    "CREATE_ACTIVITY", "SUBMIT_ACTIVITY_RESULT",
]  # fmt: skip
ALL_PERMISSIONS = [
    "CREATE_USER", "VIEW_USERS", "UPDATE_USER", "DELETE_USER", "RESET_USER_PASSWORD",
    "CREATE_TENANT", "VIEW_TENANTS", "UPDATE_TENANT", "DELETE_TENANT", "MANAGE_COMMERCES",
    "SYNC_COMMERCES", "MANAGE_OPERATORS", "SYNC_OPERATORS", "MANAGE_ROUTES", "VIEW_ACTIVITIES",
    "CREATE_ACTIVITY", "CANCEL_ACTIVITY", "DISPATCH_ACTIVITY", "MANAGE_ACTIVITY_CONFIG",
    "SUBMIT_ACTIVITY_RESULT", "MANAGE_API_KEYS", "VIEW_AUDIT_LOG",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# helpers


def _client_for(app: Any, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 4242))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def anon(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own, empty cookie jar (the session client collects everyone's cookies)."""
    async with _client_for(app) as c:
        yield c


def _refresh_cookie(response: httpx.Response) -> Any:
    """The `refreshToken` Morsel of the response's Set-Cookie headers (fails when absent)."""
    found = None
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if "refreshToken" in jar:
            found = jar["refreshToken"]
    assert found is not None, f"no refreshToken cookie in {response.headers.get_list('set-cookie')}"
    return found


def _cookie_header(token: str) -> dict[str, str]:
    return {"cookie": f"refreshToken={token}"}


def _assert_cleared(response: httpx.Response) -> None:
    morsel = _refresh_cookie(response)
    assert morsel.value == ""
    assert morsel["max-age"] == "0"
    assert morsel["path"] == "/api/auth"


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"identifier": email, "password": password})


async def _login_token(client: httpx.AsyncClient, email: str) -> str:
    response = await _login(client, email)
    assert response.status_code == 200, response.text
    return str(_refresh_cookie(response).value)


async def _set_active(db: Database, user_id: uuid.UUID, active: bool) -> None:
    async with db.sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(is_active=active))
        await session.commit()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _wait_for_fresh_window(margin: float = 5.0) -> None:
    """The login limiter uses fixed 60 s windows; don't start a counting test at a boundary."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.1)


# ---------------------------------------------------------------------------------------------


class TestLogin:
    async def test_login_returns_token_expiry_and_user_brief(
        self, anon: httpx.AsyncClient, factory: Factory, settings: Settings
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await _login(anon, world.admin_email)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"accessToken", "expiresIn", "user"}
        assert body["expiresIn"] == 900
        assert body["user"] == {
            "id": str(world.admin_id),
            "email": world.admin_email,
            "firstName": "Ada",
            "lastName": "Admin",
        }
        claims = jwt.decode(body["accessToken"], settings.secret_key, algorithms=["HS256"])
        assert claims["sub"] == str(world.admin_id)
        assert claims["exp"] - claims["iat"] == 900
        assert claims["jti"]

    async def test_access_token_from_login_authenticates_me(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = (await _login(anon, world.admin_email)).json()["accessToken"]

        me = await anon.get("/api/auth/me", headers=_bearer(token))

        assert me.status_code == 200
        assert me.json()["id"] == str(world.admin_id)

    async def test_login_sets_httponly_strict_refresh_cookie_scoped_to_auth(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await _login(anon, world.admin_email)

        morsel = _refresh_cookie(response)
        assert len(morsel.value) >= 43  # ≥ 256 bits of URL-safe base64
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "strict"
        assert morsel["path"] == "/api/auth"
        assert morsel["max-age"] == "604800"
        # The test settings run in development, the only environment without `Secure`.
        assert not morsel["secure"]

    async def test_refresh_token_is_stored_only_as_its_sha256(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await _login_token(anon, world.admin_email)

        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(RefreshToken.__table__).where(RefreshToken.user_id == world.admin_id)
                )
            ).all()
        assert len(rows) == 1
        assert rows[0].token_hash == sha256_hex(token)
        assert all(token not in str(value) for value in rows[0])

    async def test_each_login_starts_a_new_token_family(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)
        second = await _login_token(anon, world.admin_email)

        async with db.sessionmaker() as session:
            families = {
                row.token_hash: row.family_id
                for row in (
                    await session.execute(
                        select(RefreshToken).where(RefreshToken.user_id == world.admin_id)
                    )
                ).scalars()
            }
        assert first != second
        assert families[sha256_hex(first)] != families[sha256_hex(second)]

    async def test_identifier_is_matched_case_insensitively(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await _login(anon, f"  {world.admin_email.upper()} ")

        assert response.status_code == 200, response.text
        assert response.json()["user"]["email"] == world.admin_email

    async def test_wrong_password_is_rejected_with_the_generic_message(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await _login(anon, world.admin_email, "not-the-password")

        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Invalid email or password",
        }
        assert "refreshToken" not in response.headers.get("set-cookie", "")

    async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(
        self, anon: httpx.AsyncClient
    ) -> None:
        response = await _login(anon, f"{unique('nobody')}@example.com")

        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Invalid email or password",
        }

    async def test_inactive_user_with_the_right_password_gets_the_same_answer(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(world, ["FDE"])
        await _set_active(db, user_id, False)

        response = await _login(anon, email)

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid email or password"
        assert "refreshToken" not in response.headers.get("set-cookie", "")

    async def test_short_password_is_a_validation_error_naming_the_field(
        self, anon: httpx.AsyncClient
    ) -> None:
        response = await anon.post(
            "/api/auth/login", json={"identifier": "someone@example.com", "password": "short"}
        )

        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400
        assert body["error"] == "Bad Request"
        assert [d["field"] for d in body["details"]] == ["password"]

    async def test_password_longer_than_128_characters_is_rejected(
        self, anon: httpx.AsyncClient
    ) -> None:
        response = await anon.post(
            "/api/auth/login", json={"identifier": "someone@example.com", "password": "x" * 129}
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["password"]

    async def test_missing_identifier_is_a_validation_error_naming_the_field(
        self, anon: httpx.AsyncClient
    ) -> None:
        response = await anon.post("/api/auth/login", json={"password": "long-enough-password"})

        assert response.status_code == 400
        assert response.json()["details"] == [{"field": "identifier", "message": "is required"}]

    async def test_every_missing_field_is_listed(self, anon: httpx.AsyncClient) -> None:
        response = await anon.post("/api/auth/login", json={})

        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Validation failed"
        assert sorted(d["field"] for d in body["details"]) == ["identifier", "password"]


class TestLoginRateLimit:
    async def test_attempts_from_one_ip_beyond_the_limit_get_429_with_retry_after(
        self, app: Any
    ) -> None:
        runtime = app.state.runtime
        original = runtime.settings.login_rate_limit
        ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
        _wait_for_fresh_window()
        runtime.settings.login_rate_limit = 3
        try:
            async with _client_for(app, ip) as client:
                statuses = []
                for _ in range(3):
                    statuses.append(
                        (
                            await _login(client, f"{unique('ip')}@example.com", "wrong-password")
                        ).status_code
                    )
                blocked = await _login(client, f"{unique('ip')}@example.com", "wrong-password")
        finally:
            runtime.settings.login_rate_limit = original

        assert statuses == [401, 401, 401]
        assert blocked.status_code == 429
        assert blocked.json()["statusCode"] == 429
        assert blocked.json()["error"] == "Too Many Requests"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60

    async def test_attempts_on_one_email_from_many_ips_are_limited_per_email(
        self, app: Any, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        runtime = app.state.runtime
        original = runtime.settings.login_rate_limit
        base = uuid.uuid4().int % 200
        _wait_for_fresh_window()
        runtime.settings.login_rate_limit = 3
        try:
            statuses = []
            # The email is compared case-insensitively, so every spelling draws on one bucket.
            for i, spelling in enumerate(
                (world.admin_email, world.admin_email.upper(), world.admin_email)
            ):
                async with _client_for(app, f"192.0.2.{base + i + 1}") as client:
                    statuses.append((await _login(client, spelling, "wrong-password")).status_code)
            async with _client_for(app, f"192.0.2.{base + 10}") as client:
                # Even the right password is refused while the email's bucket is exhausted.
                blocked = await _login(client, world.admin_email)
            async with _client_for(app, f"192.0.2.{base + 11}") as client:
                other = await _login(client, f"{unique('other')}@example.com", "wrong-password")
        finally:
            runtime.settings.login_rate_limit = original

        assert statuses == [401, 401, 401]
        assert blocked.status_code == 429
        assert "retry-after" in blocked.headers
        assert "refreshToken" not in blocked.headers.get("set-cookie", "")
        assert other.status_code == 401  # another email from a fresh IP is not affected


class TestRefresh:
    async def test_refresh_returns_a_new_access_token_and_rotates_the_cookie(
        self, anon: httpx.AsyncClient, factory: Factory, settings: Settings
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(first))

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"accessToken", "expiresIn"}
        assert body["expiresIn"] == 900
        claims = jwt.decode(body["accessToken"], settings.secret_key, algorithms=["HS256"])
        assert claims["sub"] == str(world.admin_id)
        morsel = _refresh_cookie(response)
        assert morsel.value and morsel.value != first
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "strict"
        assert morsel["path"] == "/api/auth"
        assert morsel["max-age"] == "604800"
        me = await anon.get("/api/auth/me", headers=_bearer(body["accessToken"]))
        assert me.status_code == 200

    async def test_the_rotated_token_can_itself_be_refreshed(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)
        second = _refresh_cookie(
            await anon.post("/api/auth/refresh", headers=_cookie_header(first))
        ).value

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(second))

        assert response.status_code == 200
        assert _refresh_cookie(response).value not in (first, second)

    async def test_rotation_keeps_the_family_and_gives_a_fresh_lifetime(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)
        second = _refresh_cookie(
            await anon.post("/api/auth/refresh", headers=_cookie_header(first))
        ).value

        async with db.sessionmaker() as session:
            rows = {
                row.token_hash: row
                for row in (
                    await session.execute(
                        select(RefreshToken).where(RefreshToken.user_id == world.admin_id)
                    )
                ).scalars()
            }
        old, new = rows[sha256_hex(first)], rows[sha256_hex(second)]
        assert old.family_id == new.family_id
        assert old.used_at is not None
        assert new.used_at is None
        remaining = new.expires_at - utcnow()
        assert timedelta(days=7) - timedelta(minutes=1) < remaining <= timedelta(days=7)

    async def test_reusing_a_rotated_token_is_rejected_and_revokes_the_family(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)
        second = _refresh_cookie(
            await anon.post("/api/auth/refresh", headers=_cookie_header(first))
        ).value

        reuse = await anon.post("/api/auth/refresh", headers=_cookie_header(first))

        assert reuse.status_code == 401
        assert reuse.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Invalid or expired refresh token",
        }
        _assert_cleared(reuse)
        # The newest token of the family is dead too: whoever held the copy cannot continue.
        newest = await anon.post("/api/auth/refresh", headers=_cookie_header(second))
        assert newest.status_code == 401
        assert newest.json()["message"] == "Invalid or expired refresh token"

    async def test_reuse_does_not_touch_other_families_of_the_same_user(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        stolen = await _login_token(anon, world.admin_email)
        other_device = await _login_token(anon, world.admin_email)
        await anon.post("/api/auth/refresh", headers=_cookie_header(stolen))
        await anon.post("/api/auth/refresh", headers=_cookie_header(stolen))

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(other_device))

        assert response.status_code == 200

    async def test_missing_cookie_is_rejected_and_cleared(self, anon: httpx.AsyncClient) -> None:
        response = await anon.post("/api/auth/refresh")

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired refresh token"
        _assert_cleared(response)

    async def test_unknown_token_is_rejected_and_cleared(self, anon: httpx.AsyncClient) -> None:
        response = await anon.post("/api/auth/refresh", headers=_cookie_header("not-a-real-token"))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired refresh token"
        _assert_cleared(response)

    async def test_expired_token_is_rejected(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await _login_token(anon, world.admin_email)
        async with db.sessionmaker() as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == sha256_hex(token))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(token))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired refresh token"
        _assert_cleared(response)

    async def test_inactive_user_cannot_refresh(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(world, ["FDE"])
        token = await _login_token(anon, email)
        await _set_active(db, user_id, False)

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(token))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired refresh token"
        _assert_cleared(response)


class TestLogout:
    async def test_logout_answers_the_message_and_clears_the_cookie(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await _login_token(anon, world.admin_email)

        response = await anon.post("/api/auth/logout", headers=_cookie_header(token))

        assert response.status_code == 200
        assert response.json() == {"message": "Logged out successfully"}
        _assert_cleared(response)

    async def test_logout_revokes_the_whole_family(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        first = await _login_token(anon, world.admin_email)
        second = _refresh_cookie(
            await anon.post("/api/auth/refresh", headers=_cookie_header(first))
        ).value

        await anon.post("/api/auth/logout", headers=_cookie_header(second))

        response = await anon.post("/api/auth/refresh", headers=_cookie_header(second))
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired refresh token"

    async def test_logout_leaves_other_sessions_alone(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        laptop = await _login_token(anon, world.admin_email)
        phone = await _login_token(anon, world.admin_email)

        await anon.post("/api/auth/logout", headers=_cookie_header(laptop))

        assert (
            await anon.post("/api/auth/refresh", headers=_cookie_header(phone))
        ).status_code == 200

    async def test_logout_without_cookie_still_succeeds(self, anon: httpx.AsyncClient) -> None:
        response = await anon.post("/api/auth/logout")

        assert response.status_code == 200
        assert response.json() == {"message": "Logged out successfully"}
        _assert_cleared(response)

    async def test_logout_with_an_unknown_token_still_succeeds(
        self, anon: httpx.AsyncClient
    ) -> None:
        response = await anon.post("/api/auth/logout", headers=_cookie_header("garbage-token"))

        assert response.status_code == 200
        assert response.json() == {"message": "Logged out successfully"}


class TestMe:
    async def test_me_lists_roles_highest_first_and_permissions_in_catalog_order(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(world, ["VIEWER", "FDE"])
        token = await factory.login(email)

        response = await client.get("/api/auth/me", headers=_bearer(token))

        assert response.status_code == 200
        assert response.json() == {
            "id": str(user_id),
            "email": email,
            "firstName": "Test",
            "lastName": "User",
            "tenantIds": [str(world.tenant_id)],
            "roles": ["FDE", "VIEWER"],
            "permissions": FDE_PERMISSIONS,
        }

    async def test_admin_permissions_are_the_admin_column_in_catalog_order(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await factory.login(world.admin_email)

        body = (await client.get("/api/auth/me", headers=_bearer(token))).json()

        assert body["roles"] == ["ADMIN"]
        assert body["permissions"] == ADMIN_PERMISSIONS

    async def test_super_admin_has_every_permission_and_only_its_memberships(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        await factory.world(commerces_count=0)  # a tenant exists, but the user is not a member
        _, email = await factory.user(None, ["SUPER_ADMIN"])
        token = await factory.login(email)

        body = (await client.get("/api/auth/me", headers=_bearer(token))).json()

        assert body["roles"] == ["SUPER_ADMIN"]
        assert body["permissions"] == ALL_PERMISSIONS
        assert body["tenantIds"] == []

    async def test_tenant_ids_are_ordered_oldest_membership_first(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        older_tenant = await factory.world(commerces_count=0)
        newer_tenant = await factory.world(commerces_count=0)
        # Join the newer tenant first, so membership order differs from tenant creation order.
        user_id, email = await factory.user(newer_tenant, ["FDE"])
        async with db.sessionmaker() as session:
            await users.add_membership(session, user_id, older_tenant.tenant_id)
            await session.commit()
        token = await factory.login(email)

        body = (await client.get("/api/auth/me", headers=_bearer(token))).json()

        assert body["tenantIds"] == [str(newer_tenant.tenant_id), str(older_tenant.tenant_id)]

    async def test_roles_are_read_from_storage_not_from_the_token(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(world, ["VIEWER"])
        token = await factory.login(email)
        async with db.sessionmaker() as session:
            await session.execute(update(User).where(User.id == user_id).values(roles=["FDE"]))
            await session.commit()

        body = (await client.get("/api/auth/me", headers=_bearer(token))).json()

        assert body["roles"] == ["FDE"]
        assert body["permissions"] == FDE_PERMISSIONS

    async def test_x_tenant_id_is_ignored(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await factory.login(world.admin_email)

        response = await client.get(
            "/api/auth/me", headers={**_bearer(token), "x-tenant-id": "not-a-uuid"}
        )

        assert response.status_code == 200

    async def test_no_credentials_is_401_missing_credentials(self, anon: httpx.AsyncClient) -> None:
        response = await anon.get("/api/auth/me")

        assert response.status_code == 401
        assert response.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Missing credentials",
        }

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer "],
    )
    async def test_malformed_token_is_401_invalid_token(
        self, anon: httpx.AsyncClient, authorization: str
    ) -> None:
        response = await anon.get("/api/auth/me", headers={"authorization": authorization})

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired access token"

    async def test_token_signed_with_another_secret_is_rejected(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        forged = create_access_token(world.admin_id, "another-secret-of-sufficient-length-000", 900)

        response = await anon.get("/api/auth/me", headers=_bearer(forged))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired access token"

    async def test_expired_token_is_rejected(
        self, anon: httpx.AsyncClient, factory: Factory, settings: Settings
    ) -> None:
        world = await factory.world(commerces_count=0)
        expired = create_access_token(world.admin_id, settings.secret_key, -60)

        response = await anon.get("/api/auth/me", headers=_bearer(expired))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired access token"

    async def test_token_of_a_deactivated_user_stops_working(
        self, anon: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        user_id, email = await factory.user(world, ["FDE"])
        token = await factory.login(email)
        assert (await anon.get("/api/auth/me", headers=_bearer(token))).status_code == 200
        await _set_active(db, user_id, False)

        response = await anon.get("/api/auth/me", headers=_bearer(token))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired access token"

    async def test_token_of_an_unknown_user_is_rejected(
        self, anon: httpx.AsyncClient, settings: Settings
    ) -> None:
        ghost = create_access_token(uuid.uuid4(), settings.secret_key, 900)

        response = await anon.get("/api/auth/me", headers=_bearer(ghost))

        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or expired access token"

    async def test_an_api_key_alone_is_told_a_user_token_is_required(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        key = await factory.api_key(world)

        response = await anon.get("/api/auth/me", headers={"x-api-key": key})

        assert response.status_code == 401
        assert response.json()["message"] == "This endpoint requires a user access token"

    async def test_token_and_api_key_together_are_a_bad_request(
        self, anon: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        key = await factory.api_key(world)
        token = await factory.login(world.admin_email)

        response = await anon.get("/api/auth/me", headers={**_bearer(token), "x-api-key": key})

        assert response.status_code == 400
        assert response.json()["statusCode"] == 400
