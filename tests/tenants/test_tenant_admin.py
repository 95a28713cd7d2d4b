"""GET /api/tenant, PATCH and DELETE /api/tenant/:id (SUPER_ADMIN administration)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from reten.users.models import User
from tests.factories import Factory, unique


async def super_admin(factory: Factory) -> dict[str, str]:
    _, email = await factory.user(None, ["SUPER_ADMIN"])
    return {"authorization": f"Bearer {await factory.login(email)}"}


class TestTenantAdministration:
    async def test_super_admin_sees_every_tenant_an_admin_only_theirs(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        a, b = await factory.world(), await factory.world()
        everyone = (await client.get("/api/tenant", headers=await super_admin(factory))).json()
        ids = [t["id"] for t in everyone]
        assert {str(a.tenant_id), str(b.tenant_id)} <= set(ids)
        assert [t["name"] for t in everyone] == sorted(t["name"] for t in everyone)
        mine = await client.get(
            "/api/tenant", headers={"authorization": f"Bearer {await factory.login(a.admin_email)}"}
        )
        assert [t["id"] for t in mine.json()] == [str(a.tenant_id)]
        assert set(mine.json()[0]) == {
            "id",
            "name",
            "slug",
            "locale",
            "timeZone",
            "createdAt",
            "updatedAt",
        }

    async def test_fde_lacks_view_tenants(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world()
        _, email = await factory.user(world, ["FDE"])
        response = await client.get(
            "/api/tenant", headers={"authorization": f"Bearer {await factory.login(email)}"}
        )
        assert response.status_code == 403

    async def test_update(self, client: httpx.AsyncClient, factory: Factory) -> None:
        world, other = await factory.world(), await factory.world()
        headers = await super_admin(factory)
        slug = unique("renamed")
        response = await client.patch(f"/api/tenant/{world.tenant_id}", headers=headers,
                                      json={"name": "Renamed", "slug": slug, "locale": "en", "timeZone": "Europe/Madrid"})  # fmt: skip
        assert response.status_code == 200
        assert (
            response.json()["slug"],
            response.json()["locale"],
            response.json()["timeZone"],
        ) == (slug, "en", "Europe/Madrid")
        taken = await client.patch(
            f"/api/tenant/{world.tenant_id}", headers=headers, json={"slug": other.slug}
        )
        assert taken.status_code == 409 and taken.json()["message"] == "slug already exists"
        for body, field in (
            ({"time_zone": "Mars/Base"}, "time_zone"),
            ({"slug": "Bad Slug"}, "slug"),
            ({"name": None}, "name"),
        ):
            bad = await client.patch(f"/api/tenant/{world.tenant_id}", headers=headers, json=body)
            assert bad.status_code == 400 and bad.json()["details"][0]["field"] == field
        missing = await client.patch(
            f"/api/tenant/{uuid.uuid4()}", headers=headers, json={"name": "x"}
        )
        assert missing.status_code == 404 and missing.json()["message"] == "Tenant not found"
        admin = {"authorization": f"Bearer {await factory.login(world.admin_email)}"}
        assert (
            await client.patch(f"/api/tenant/{world.tenant_id}", headers=admin, json={"name": "x"})
        ).status_code == 403

    async def test_delete_removes_the_tenant_and_its_keys_but_keeps_users(
        self, client: httpx.AsyncClient, factory: Factory, app: object
    ) -> None:
        world = await factory.world()
        await factory.task(world)
        key = await factory.api_key(world)
        headers = await super_admin(factory)
        assert (
            await client.delete(f"/api/tenant/{world.tenant_id}", headers=headers)
        ).status_code == 204
        app.state.runtime.api_key_cache.clear()  # type: ignore[attr-defined]
        assert (
            await client.get("/api/integration/activities/tasks", headers={"x-api-key": key})
        ).status_code == 401
        async with factory.db.sessionmaker() as session:
            assert (
                await session.execute(select(User).where(User.id == world.admin_id))
            ).scalar_one() is not None
        assert (
            await client.delete(f"/api/tenant/{world.tenant_id}", headers=headers)
        ).status_code == 404
