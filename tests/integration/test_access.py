"""Integration API authentication, permissions, lastUsedAt and the per-key rate limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from reten.api_keys.models import ApiKey
from reten.auth.permissions import Permission
from reten.kit.crypto import sha256_hex
from reten.kit.db import Database
from reten.kit.time import utcnow
from tests.factories import Factory

UNAUTHORIZED = {"statusCode": 401, "error": "Unauthorized", "message": "API key missing or invalid"}
FORBIDDEN = {"statusCode": 403, "error": "Forbidden", "message": "Insufficient permissions"}
ENDPOINTS = [
    ("GET", "/api/integration/task-result-type-configs"),
    ("GET", "/api/integration/activities/tasks"),
    ("POST", "/api/integration/activity-results/tasks"),
]


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    if method == "POST":
        return await client.post(path, headers=headers, json={})
    return await client.get(path, headers=headers)


class TestApiKeyAuthentication:
    @pytest.mark.parametrize(("method", "path"), ENDPOINTS)
    async def test_missing_key_is_401(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await call(client, method, path, {})
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED

    @pytest.mark.parametrize(
        "key",
        [
            "nope",
            "rtn_sk_" + "g" * 56,
            "rtn_sk_" + "a" * 55,
            "RTN_SK_" + "a" * 56,
            "rtn_sk_" + "A" * 56,
        ],
    )
    async def test_malformed_key_is_401(self, client: httpx.AsyncClient, key: str) -> None:
        response = await client.get(
            "/api/integration/task-result-type-configs", headers={"x-api-key": key}
        )
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED

    async def test_unknown_key_is_401(self, client: httpx.AsyncClient) -> None:
        key = "rtn_sk_" + uuid.uuid4().hex + uuid.uuid4().hex[:24]
        response = await client.get(
            "/api/integration/task-result-type-configs", headers={"x-api-key": key}
        )
        assert response.json() == UNAUTHORIZED

    async def test_jwt_bearer_is_not_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        token = await factory.login(world.admin_email)
        response = await client.get(
            "/api/integration/task-result-type-configs",
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED

    async def test_expired_key_is_401(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world = await factory.world()
        key = await factory.api_key(world, expires_at=utcnow() + timedelta(seconds=0.5))
        ok = await client.get(
            "/api/integration/task-result-type-configs", headers={"x-api-key": key}
        )
        assert ok.status_code == 200
        await asyncio.sleep(0.6)
        # Expiry is checked on every request, even while the verification is cached.
        response = await client.get(
            "/api/integration/task-result-type-configs", headers={"x-api-key": key}
        )
        assert response.json() == UNAUTHORIZED

    async def test_revoked_key_is_rejected_within_the_cache_lifetime(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, app: object
    ) -> None:
        runtime = app.state.runtime  # type: ignore[attr-defined]
        old_ttl = runtime.api_key_cache.ttl
        runtime.api_key_cache.ttl = 0.3
        try:
            world = await factory.world()
            key = await factory.api_key(world)
            headers = {"x-api-key": key}
            assert (
                await client.get("/api/integration/task-result-type-configs", headers=headers)
            ).status_code == 200
            # Revoked by another process: this one only learns it when its cache entry expires.
            async with db.sessionmaker() as session:
                await session.execute(
                    update(ApiKey)
                    .where(ApiKey.key_hash == sha256_hex(key))
                    .values(revoked_at=utcnow())
                )
                await session.commit()
            await asyncio.sleep(0.35)
            response = await client.get(
                "/api/integration/task-result-type-configs", headers=headers
            )
            assert response.json() == UNAUTHORIZED
        finally:
            runtime.api_key_cache.ttl = old_ttl

    async def test_key_of_a_deactivated_owner_stops_working(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, app: object
    ) -> None:
        from reten.users.models import User

        world = await factory.world()
        owner_id, _ = await factory.user(world, ["ADMIN"])
        key = await factory.api_key(world, owner_id=owner_id)
        async with db.sessionmaker() as session:
            await session.execute(update(User).where(User.id == owner_id).values(is_active=False))
            await session.commit()
        app.state.runtime.api_key_cache.clear()  # type: ignore[attr-defined]
        response = await client.get(
            "/api/integration/task-result-type-configs", headers={"x-api-key": key}
        )
        assert response.json() == UNAUTHORIZED

    async def test_success_records_last_used_at_at_most_once_a_minute(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        for _ in range(3):
            await client.get(
                "/api/integration/task-result-type-configs", headers={"x-api-key": key}
            )
        async with db.sessionmaker() as session:
            first = (
                await session.execute(
                    select(ApiKey.last_used_at).where(ApiKey.key_hash == sha256_hex(key))
                )
            ).scalar_one()
        assert first is not None and utcnow() - first < timedelta(seconds=30)
        await asyncio.sleep(0.05)
        await client.get("/api/integration/task-result-type-configs", headers={"x-api-key": key})
        async with db.sessionmaker() as session:
            second = (
                await session.execute(
                    select(ApiKey.last_used_at).where(ApiKey.key_hash == sha256_hex(key))
                )
            ).scalar_one()
        assert second == first


class TestPermissions:
    @pytest.mark.parametrize(
        ("method", "path", "granted"),
        [
            ("GET", "/api/integration/task-result-type-configs", Permission.SUBMIT_ACTIVITY_RESULT),
            ("GET", "/api/integration/activities/tasks", Permission.SUBMIT_ACTIVITY_RESULT),
            ("POST", "/api/integration/activity-results/tasks", Permission.VIEW_ACTIVITIES),
        ],
    )
    async def test_key_without_the_permission_is_403(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        method: str,
        path: str,
        granted: Permission,
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world, [granted])
        response = await call(client, method, path, {"x-api-key": key})
        assert response.status_code == 403
        assert response.json() == FORBIDDEN

    async def test_key_loses_permissions_its_owner_no_longer_holds(
        self, client: httpx.AsyncClient, factory: Factory, db: Database, app: object
    ) -> None:
        from reten.users.models import User

        world = await factory.world()
        owner_id, _ = await factory.user(world, ["ADMIN"])
        key = await factory.api_key(world, owner_id=owner_id)
        async with db.sessionmaker() as session:
            await session.execute(update(User).where(User.id == owner_id).values(roles=["VIEWER"]))
            await session.commit()
        app.state.runtime.api_key_cache.clear()  # type: ignore[attr-defined]
        headers = {"x-api-key": key}
        assert (
            await client.get("/api/integration/activities/tasks", headers=headers)
        ).status_code == 200
        response = await client.post(
            "/api/integration/activity-results/tasks", headers=headers, json={}
        )
        assert response.json() == FORBIDDEN


async def _away_from_a_window_boundary() -> None:
    """Fixed one-minute windows: don't start a budget test just before one resets."""
    import time

    left = 60 - time.time() % 60
    if left < 5:
        await asyncio.sleep(left + 0.1)


class TestRateLimit:
    async def test_headers_are_on_every_integration_response(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        for method, path in ENDPOINTS:
            response = await call(client, method, path, {"x-api-key": key})
            for header in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
                assert header in response.headers, (path, header)

    async def test_over_the_limit_is_429_with_retry_after(
        self, client: httpx.AsyncClient, factory: Factory, app: object
    ) -> None:
        settings = app.state.runtime.settings  # type: ignore[attr-defined]
        old = settings.rate_limit_per_minute
        settings.rate_limit_per_minute = 3
        await _away_from_a_window_boundary()
        try:
            world = await factory.world()
            key = await factory.api_key(world)
            headers = {"x-api-key": key}
            seen = [
                await client.get("/api/integration/task-result-type-configs", headers=headers)
                for _ in range(4)
            ]
        finally:
            settings.rate_limit_per_minute = old
        assert [r.status_code for r in seen] == [200, 200, 200, 429]
        assert [r.headers["RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
        limited = seen[-1]
        assert (
            limited.json()["statusCode"] == 429 and limited.json()["error"] == "Too Many Requests"
        )
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["RateLimit-Limit"] == "3"

    async def test_each_key_has_its_own_budget(
        self, client: httpx.AsyncClient, factory: Factory, app: object
    ) -> None:
        settings = app.state.runtime.settings  # type: ignore[attr-defined]
        old = settings.rate_limit_per_minute
        settings.rate_limit_per_minute = 1
        await _away_from_a_window_boundary()
        try:
            world = await factory.world()
            first, second = await factory.api_key(world), await factory.api_key(world)
            path = "/api/integration/task-result-type-configs"
            assert (await client.get(path, headers={"x-api-key": first})).status_code == 200
            assert (await client.get(path, headers={"x-api-key": first})).status_code == 429
            assert (await client.get(path, headers={"x-api-key": second})).status_code == 200
        finally:
            settings.rate_limit_per_minute = old
