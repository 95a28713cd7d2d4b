"""Tenants (super admin): the list and setting up a tenant with its first administrator."""

from __future__ import annotations

import re

import httpx

from reten.auth.permissions import Role
from tests.admin.support import PanelClient, browser
from tests.factories import PASSWORD, Factory, unique

SHOWN_ONCE = re.compile(r'id="new-password" type="text" readonly value="([^"]+)"')


def _error(html: str, field: str) -> str:
    found = re.search(rf'<small class="error" id="e-{field}">([^<]*)</small>', html)
    assert found, f"no error next to {field}"
    return found.group(1)


async def _setup(b: PanelClient, slug: str, **fields: str) -> httpx.Response:
    await b.get("/settings/tenants")
    body = {
        "name": f"Tenant {slug}",
        "slug": slug,
        "locale": "es",
        "time_zone": "America/Santiago",
        "admin_email": f"{unique('first')}@example.com",
        "admin_first_name": "Primera",
        "admin_last_name": "Admin",
        "admin_password": "",
    }
    return await b.post("/settings/tenants", body | fields)


async def _api_login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"identifier": email, "password": password})


class TestTenants:
    async def test_set_up_a_tenant_with_a_generated_password_shown_once(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        _, root = await factory.user(None, [Role.SUPER_ADMIN.value])
        slug = unique("acme")
        email = f"{unique('first')}@example.com"
        async with browser(app) as b:
            await b.login(root)
            home = await b.get("/")
            created = await _setup(b, slug, admin_email=email, time_zone="America/Lima")
            listed = await b.get(f"/settings/tenants?search={slug}")
            everything = await b.get("/settings/tenants?sort=-created_at")
        assert 'href="/settings/tenants"' in home.text
        assert created.status_code == 201
        shown = SHOWN_ONCE.findall(created.text)
        assert len(shown) == 1 and len(shown[0]) >= 12
        assert shown[0] not in listed.text
        row = listed.text.split("<tbody>")[1]
        assert f"Tenant {slug}" in row and "America/Lima" in row and "<time datetime=" in row
        assert slug in everything.text
        login = await _api_login(client, email, shown[0])
        assert login.status_code == 200
        tenants = await client.get(
            "/api/tenant/mine", headers={"authorization": f"Bearer {login.json()['accessToken']}"}
        )
        assert [t["slug"] for t in tenants.json()] == [slug]

    async def test_a_typed_password_is_used_and_never_echoed(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        _, root = await factory.user(None, [Role.SUPER_ADMIN.value])
        email = f"{unique('typed')}@example.com"
        async with browser(app) as b:
            await b.login(root)
            created = await _setup(
                b, unique("typed"), admin_email=email, admin_password="typed-pass-1234"
            )
        assert created.status_code == 201
        assert "typed-pass-1234" not in created.text and 'id="new-password"' not in created.text
        assert (await _api_login(client, email, "typed-pass-1234")).status_code == 200

    async def test_an_existing_admin_becomes_its_administrator_keeping_their_password(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        _, root = await factory.user(None, [Role.SUPER_ADMIN.value])
        async with browser(app) as b:
            await b.login(root)
            created = await _setup(b, unique("second"), admin_email=world.admin_email)
        assert created.status_code == 201
        assert "already had an account" in created.text and 'id="new-password"' not in created.text
        assert (await _api_login(client, world.admin_email, PASSWORD)).status_code == 200

    async def test_errors_appear_next_to_their_fields(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        _, root = await factory.user(None, [Role.SUPER_ADMIN.value])
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(root)
            taken = await _setup(b, world.slug)
            bad = await _setup(
                b, "Not A Slug", time_zone="Mars/Olympus", admin_email="nope", admin_password="x"
            )
            not_admin = await _setup(b, unique("ok"), admin_email=viewer)
        assert taken.status_code == 409 and _error(taken.text, "slug") == "slug already exists"
        assert f'value="Tenant {world.slug}"' in taken.text  # what was typed is kept
        assert bad.status_code == 400
        for field in ("slug", "time_zone", "admin_email", "admin_password"):
            assert _error(bad.text, field)
        assert not_admin.status_code == 409
        assert "without the ADMIN role" in _error(not_admin.text, "admin_email")


class TestTenantsAccess:
    async def test_a_tenant_admin_sees_no_link_and_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            home = await b.get("/")
            listed = await b.get("/settings/tenants")
            await b.get("/")
            posted = await _setup_without_page(b, unique("nope"))
        assert 'href="/settings/tenants"' not in home.text
        for response in (listed, posted):
            assert response.status_code == 403 and "<h1>Not allowed</h1>" in response.text

    async def test_a_setup_without_its_csrf_token_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        _, root = await factory.user(None, [Role.SUPER_ADMIN.value])
        slug = unique("nocsrf")
        async with browser(app) as b:
            await b.login(root)
            await b.get("/settings/tenants")
            refused = await b.post(
                "/settings/tenants",
                {"name": "x", "slug": slug, "admin_email": "a@example.com"},
                csrf=False,
            )
            listed = await b.get(f"/settings/tenants?search={slug}")
        assert refused.status_code == 403
        assert "Nothing matches these filters." in listed.text


async def _setup_without_page(b: PanelClient, slug: str) -> httpx.Response:
    """Post the setup form with a valid token from another page (the caller may not open it)."""
    return await b.post(
        "/settings/tenants",
        {
            "name": "x",
            "slug": slug,
            "admin_email": f"{unique('a')}@example.com",
            "admin_first_name": "A",
            "admin_last_name": "B",
        },
    )
