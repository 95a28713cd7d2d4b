"""R5 (storage unavailable → 503, then recovery) and S5 (secrets never leave)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from reten.app import create_app
from reten.config import Settings
from reten.kit.db import Database
from reten.migrations import upgrade
from tests.conftest import BACKEND, PG_URL, _drop_pg_database, _recreate_pg_database
from tests.factories import PASSWORD, Factory


class TestDatabaseUnavailable:
    async def test_503_with_the_standard_body_then_recovers_by_itself(self, tmp_path: Path) -> None:
        name = f"reten_gone_{uuid.uuid4().hex[:8]}"
        if BACKEND == "postgres":
            url = f"{PG_URL.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / 'later' / 'reten.db'}"  # folder missing
        app = create_app(Settings(database_url=url, migrate_on_start=False, log_level="CRITICAL"))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://t") as c,
            ):
                key = {"x-api-key": "rtn_sk_" + "a" * 56}
                for response in (
                    await c.get("/api/ready"),
                    await c.get("/api/integration/activities/tasks", headers=key),
                ):
                    assert response.status_code == 503
                    body = response.json()
                    assert body["statusCode"] == 503 and body["error"] == "Service Unavailable"
                    assert "requestId" in body and "Traceback" not in response.text

                # The database comes (back): the same process serves again, no restart.
                if BACKEND == "postgres":
                    await _recreate_pg_database(name)
                else:
                    (tmp_path / "later").mkdir()
                db = Database(url)
                await upgrade(db.engine)
                await db.dispose()
                assert (await c.get("/api/ready")).status_code == 200
                assert (
                    await c.get("/api/integration/activities/tasks", headers=key)
                ).status_code == 401
        finally:
            if BACKEND == "postgres":
                await _drop_pg_database(name)


class TestSecretsNeverLeave:
    async def test_password_key_and_hashes_absent_from_responses_and_logs(
        self, client: httpx.AsyncClient, factory: Factory, capfd: pytest.CaptureFixture[str]
    ) -> None:
        from sqlalchemy import select

        from reten.api_keys.models import ApiKey
        from reten.users.models import User

        world = await factory.world()
        token = await factory.login(world.admin_email)
        headers = {"authorization": f"Bearer {token}", "x-tenant-id": str(world.tenant_id)}
        created = await client.post(
            "/api/api-keys",
            headers=headers,
            json={"name": "planted", "permissions": ["VIEW_ACTIVITIES"]},
        )
        plaintext = created.json()["plaintextKey"]
        bodies = [
            (await client.get("/api/api-keys", headers=headers)).text,
            (await client.get("/api/auth/me", headers={"authorization": f"Bearer {token}"})).text,
            (
                await client.get(
                    "/api/integration/activities/tasks", headers={"x-api-key": plaintext}
                )
            ).text,
            (
                await client.post(
                    "/api/auth/login",
                    json={"identifier": world.admin_email, "password": "wrong-" + PASSWORD},
                )
            ).text,
            (
                await client.get(
                    "/api/integration/activities/tasks", headers={"x-api-key": plaintext[:-1] + "0"}
                )
            ).text,
        ]
        async with factory.db.sessionmaker() as session:
            key_hash = (
                await session.execute(
                    select(ApiKey.key_hash).where(
                        ApiKey.name == "planted", ApiKey.tenant_id == world.tenant_id
                    )
                )
            ).scalar_one()
            password_hash = (
                await session.execute(
                    select(User.password_hash).where(User.email == world.admin_email)
                )
            ).scalar_one()
        logs = capfd.readouterr()
        everything = "\n".join([*bodies, logs.out, logs.err])
        for secret in (plaintext, plaintext[7:], key_hash, password_hash, PASSWORD):
            assert secret not in everything
