"""The /api/tenant endpoints: memberships and tenant setup (management-api.md §6.2–6.3)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from reten.kit.db import Database
from reten.tenants import service as tenants
from reten.tenants.models import Tenant
from reten.users import service as users
from reten.users.models import Membership, User
from tests.factories import PASSWORD, Factory, unique


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _setup_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme Corp",
        "slug": unique("acme"),
        "admin_email": f"{unique('boss')}@example.com",
        "admin_password": "a-long-password",
        "admin_first_name": "Bea",
        "admin_last_name": "Boss",
    }
    body.update(overrides)
    return body


async def _super_admin(factory: Factory) -> str:
    _, email = await factory.user(None, ["SUPER_ADMIN"])
    return await factory.login(email)


async def _tenant_by_slug(db: Database, slug: str) -> Tenant | None:
    async with db.sessionmaker() as session:
        return await tenants.get_by_slug(session, slug)


async def _user_by_email(db: Database, email: str) -> User | None:
    async with db.sessionmaker() as session:
        return await users.get_by_email(session, email)


async def _membership_count(db: Database, user_id: uuid.UUID) -> int:
    async with db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Membership)
                    .where(Membership.user_id == user_id)
                )
            ).scalar_one()
        )


class TestMyTenants:
    async def test_lists_memberships_ordered_by_name(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        boss = await _super_admin(factory)
        _, admin_email = await factory.user(None, ["ADMIN"])
        tag = uuid.uuid4().hex[:8]
        created = {}
        for name in (f"Charlie {tag}", f"Alpha {tag}", f"Bravo {tag}"):
            response = await client.post(
                "/api/tenant/setup",
                json=_setup_body(name=name, admin_email=admin_email),
                headers=_bearer(boss),
            )
            assert response.status_code == 201, response.text
            created[name] = response.json()

        response = await client.get(
            "/api/tenant/mine", headers=_bearer(await factory.login(admin_email))
        )

        assert response.status_code == 200
        assert response.json() == [
            created[f"Alpha {tag}"],
            created[f"Bravo {tag}"],
            created[f"Charlie {tag}"],
        ]

    async def test_items_are_id_name_and_slug(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await client.get(
            "/api/tenant/mine", headers=_bearer(await factory.login(world.admin_email))
        )

        assert response.json() == [
            {"id": str(world.tenant_id), "name": f"Tenant {world.slug}", "slug": world.slug}
        ]

    async def test_other_tenants_are_not_listed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        await factory.world(commerces_count=0)
        _, email = await factory.user(world, ["VIEWER"])

        body = (
            await client.get("/api/tenant/mine", headers=_bearer(await factory.login(email)))
        ).json()

        assert [t["id"] for t in body] == [str(world.tenant_id)]

    async def test_super_admin_sees_only_its_memberships(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        await factory.world(commerces_count=0)

        response = await client.get(
            "/api/tenant/mine", headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 200
        assert response.json() == []

    async def test_x_tenant_id_is_ignored(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)
        token = await factory.login(world.admin_email)

        response = await client.get(
            "/api/tenant/mine", headers={**_bearer(token), "x-tenant-id": str(uuid.uuid4())}
        )

        assert response.status_code == 200
        assert [t["id"] for t in response.json()] == [str(world.tenant_id)]

    async def test_requires_credentials(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/tenant/mine")

        assert response.status_code == 401
        assert response.json()["message"] == "Missing credentials"


class TestTenantSetup:
    async def test_super_admin_creates_a_tenant_and_its_admin(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        body = _setup_body(name="  Acme Corp  ", admin_email=f"  {unique('Boss')}@Example.com ")

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) == {"id", "name", "slug"}
        assert created["name"] == "Acme Corp"
        assert created["slug"] == body["slug"]
        tenant = await _tenant_by_slug(db, body["slug"])
        assert tenant is not None
        assert str(tenant.id) == created["id"]
        assert tenant.locale == "es"
        assert tenant.time_zone == "America/Santiago"
        # The new administrator can log in with the given password and belongs to the tenant.
        email = body["admin_email"].strip().lower()
        admin_token = await factory.login(email, "a-long-password")
        me = (await client.get("/api/auth/me", headers=_bearer(admin_token))).json()
        assert me["email"] == email
        assert me["firstName"] == "Bea"
        assert me["lastName"] == "Boss"
        assert me["roles"] == ["ADMIN"]
        assert me["tenantIds"] == [created["id"]]

    async def test_locale_and_time_zone_are_stored(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        body = _setup_body(locale="en", time_zone="Europe/Madrid")

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 201, response.text
        tenant = await _tenant_by_slug(db, body["slug"])
        assert tenant is not None
        assert (tenant.locale, tenant.time_zone) == ("en", "Europe/Madrid")

    async def test_camel_case_fields_are_accepted(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        slug = unique("camel")
        email = f"{unique('camel')}@example.com"
        body = {
            "name": "Camel Co",
            "slug": slug,
            "timeZone": "America/Lima",
            "adminEmail": email,
            "adminPassword": "a-long-password",
            "adminFirstName": "Cam",
            "adminLastName": "El",
        }

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 201, response.text
        tenant = await _tenant_by_slug(db, slug)
        assert tenant is not None and tenant.time_zone == "America/Lima"
        admin = await _user_by_email(db, email)
        assert admin is not None and admin.first_name == "Cam"

    async def test_admin_without_create_tenant_is_forbidden(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        body = _setup_body()

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await factory.login(world.admin_email))
        )

        assert response.status_code == 403
        assert response.json() == {
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient permissions: requires CREATE_TENANT",
        }
        assert await _tenant_by_slug(db, body["slug"]) is None

    async def test_permission_is_checked_before_the_body(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        world = await factory.world(commerces_count=0)

        response = await client.post(
            "/api/tenant/setup",
            json={"slug": "BAD SLUG"},
            headers=_bearer(await factory.login(world.admin_email)),
        )

        assert response.status_code == 403

    async def test_requires_credentials(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/tenant/setup", json=_setup_body())

        assert response.status_code == 401

    async def test_duplicate_slug_is_a_conflict_and_creates_nothing(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        body = _setup_body(slug=world.slug)

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 409
        assert response.json() == {
            "statusCode": 409,
            "error": "Conflict",
            "message": "slug already exists",
        }
        assert await _user_by_email(db, body["admin_email"]) is None

    async def test_malformed_slugs_are_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        token = await _super_admin(factory)

        for slug in (
            "Acme",
            "acme_corp",
            "a",
            "-acme",
            "acme-",
            "acme--corp",
            "acme corp",
            "x" * 64,
        ):
            response = await client.post(
                "/api/tenant/setup", json=_setup_body(slug=slug), headers=_bearer(token)
            )
            assert response.status_code == 400, slug
            assert [d["field"] for d in response.json()["details"]] == ["slug"], slug

    async def test_slug_of_63_characters_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        slug = ("s" + uuid.uuid4().hex * 2)[:63]

        response = await client.post(
            "/api/tenant/setup",
            json=_setup_body(slug=slug),
            headers=_bearer(await _super_admin(factory)),
        )

        assert response.status_code == 201, response.text
        assert response.json()["slug"] == slug

    async def test_unknown_time_zone_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        body = _setup_body(time_zone="Mars/Olympus_Mons")

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["time_zone"]
        assert await _tenant_by_slug(db, body["slug"]) is None

    async def test_unknown_time_zone_in_camel_case_is_named_as_sent(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        body = _setup_body(timeZone="Nowhere/Special")

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["timeZone"]

    async def test_unknown_locale_is_rejected(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        response = await client.post(
            "/api/tenant/setup",
            json=_setup_body(locale="fr"),
            headers=_bearer(await _super_admin(factory)),
        )

        assert response.status_code == 400
        assert [d["field"] for d in response.json()["details"]] == ["locale"]

    async def test_every_missing_field_is_listed(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        response = await client.post(
            "/api/tenant/setup", json={}, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 400
        assert sorted(d["field"] for d in response.json()["details"]) == [
            "admin_email", "admin_first_name", "admin_last_name", "admin_password", "name", "slug",
        ]  # fmt: skip

    async def test_bad_email_and_short_password_are_reported_together(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        response = await client.post(
            "/api/tenant/setup",
            json=_setup_body(admin_email="not-an-email", admin_password="short"),
            headers=_bearer(await _super_admin(factory)),
        )

        assert response.status_code == 400
        assert sorted(d["field"] for d in response.json()["details"]) == [
            "admin_email",
            "admin_password",
        ]

    async def test_email_of_a_user_without_admin_is_a_conflict_and_nothing_is_created(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        fde_id, fde_email = await factory.user(world, ["FDE"])
        body = _setup_body(admin_email=fde_email)

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 409
        assert (
            response.json()["message"]
            == "admin_email belongs to an existing user without the ADMIN role"
        )
        assert await _tenant_by_slug(db, body["slug"]) is None
        assert await _membership_count(db, fde_id) == 1
        fde = await _user_by_email(db, fde_email)
        assert fde is not None and fde.roles == ["FDE"]

    async def test_existing_admin_is_reused_unchanged_and_becomes_a_member(
        self, client: httpx.AsyncClient, factory: Factory, db: Database
    ) -> None:
        world = await factory.world(commerces_count=0)
        admin_id, admin_email = await factory.user(world, ["ADMIN"])
        body = _setup_body(
            admin_email=admin_email.upper(),
            admin_password="ignored-new-password",
            admin_first_name="Ignored",
            admin_last_name="Name",
        )

        response = await client.post(
            "/api/tenant/setup", json=body, headers=_bearer(await _super_admin(factory))
        )

        assert response.status_code == 201, response.text
        new_id = response.json()["id"]
        reused = await _user_by_email(db, admin_email)
        assert reused is not None
        assert reused.id == admin_id
        assert (reused.first_name, reused.last_name, reused.roles) == ("Test", "User", ["ADMIN"])
        # The password is unchanged: the old one works, the one in the body does not.
        token = await factory.login(admin_email, PASSWORD)
        refused = await client.post(
            "/api/auth/login", json={"identifier": admin_email, "password": "ignored-new-password"}
        )
        assert refused.status_code == 401
        me = (await client.get("/api/auth/me", headers=_bearer(token))).json()
        assert me["tenantIds"] == [str(world.tenant_id), new_id]
        async with db.sessionmaker() as session:
            count = (
                await session.execute(
                    select(func.count()).select_from(User).where(User.email == admin_email)
                )
            ).scalar_one()
        assert count == 1

    async def test_existing_super_admin_is_reused_as_the_admin(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        _, boss_email = await factory.user(None, ["SUPER_ADMIN"])
        boss = await factory.login(boss_email)

        response = await client.post(
            "/api/tenant/setup", json=_setup_body(admin_email=boss_email), headers=_bearer(boss)
        )

        assert response.status_code == 201, response.text
        mine = (await client.get("/api/tenant/mine", headers=_bearer(boss))).json()
        assert [t["id"] for t in mine] == [response.json()["id"]]
        me = (await client.get("/api/auth/me", headers=_bearer(boss))).json()
        assert me["roles"] == ["SUPER_ADMIN"]
