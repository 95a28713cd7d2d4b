"""Settings → Users: list, create, roles, reset password, deactivate; permissions, isolation,
CSRF, field errors and planted secrets."""

from __future__ import annotations

import re
import uuid

import httpx

from reten.auth.permissions import Role
from reten.users.models import User
from tests.admin.support import PanelClient, browser
from tests.factories import PASSWORD, Factory, unique

SHOWN_ONCE = re.compile(r'id="new-password" type="text" readonly value="([^"]+)"')


async def _create(b: PanelClient, email: str, *roles: str, password: str = "") -> httpx.Response:
    await b.get("/settings/users")
    fields = [
        ("email", email),
        ("first_name", "Nora"),
        ("last_name", "Nueva"),
        ("password", password),
    ] + [("roles", r) for r in roles]
    return await b.post("/settings/users", fields)


async def _api_login(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post(
        "/api/auth/login", json={"identifier": email, "password": password}
    )
    return response.status_code


async def _hash_of(factory: Factory, user_id: uuid.UUID) -> str:
    async with factory.db.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user.password_hash


class TestUsers:
    async def test_create_shows_a_generated_password_once_and_it_logs_in(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        email = f"{unique('nora')}@example.com"
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(b, email, "FDE")
            listed = await b.get("/settings/users")
        assert created.status_code == 201
        shown = SHOWN_ONCE.findall(created.text)
        assert len(shown) == 1
        assert await _api_login(client, email, shown[0]) == 200
        assert email in listed.text and shown[0] not in listed.text

    async def test_a_typed_password_is_never_echoed(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        email = f"{unique('typed')}@example.com"
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(b, email, "VIEWER", password="chosen-pass-123")
        assert created.status_code == 201
        assert "chosen-pass-123" not in created.text and SHOWN_ONCE.search(created.text) is None
        assert await _api_login(client, email, "chosen-pass-123") == 200

    async def test_a_duplicate_email_is_shown_at_the_email_field(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            again = await _create(b, world.admin_email, "VIEWER")
            short = await _create(b, f"{unique('s')}@example.com", "VIEWER", password="short")
        assert again.status_code == 409
        assert re.search(r'<small class="error" id="e-email">[^<]*already exists', again.text)
        assert 'value="Nora"' in again.text  # the form keeps what was typed
        assert short.status_code == 400
        assert re.search(r'<small class="error" id="e-password">', short.text)

    async def test_only_roles_below_the_callers_are_offered_and_granted(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get("/settings/users")
            refused = await _create(b, f"{unique('x')}@example.com", "ADMIN")
        offered = re.findall(r'name="roles" value="([A-Z_]+)"', page.text)
        assert offered == ["FDE", "VIEWER"]
        assert refused.status_code == 403
        assert "Cannot grant role ADMIN" in refused.text

    async def test_roles_reset_password_and_deactivate_from_the_detail_page(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        user_id, email = await factory.user(world, [Role.VIEWER.value])
        path = f"/settings/users/{user_id}"
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get(path)
            roles = await b.post(path + "/roles", [("roles", "FDE")])
            ask = await b.post(path + "/reset-password", {})
            assert ask.status_code == 200 and SHOWN_ONCE.search(ask.text) is None
            reset = await b.post(path + "/reset-password", {"confirm": "yes"})
            after = await b.get(path)
            new_password = SHOWN_ONCE.findall(reset.text)
            assert len(new_password) == 1 and new_password[0] not in after.text
            assert await _api_login(client, email, PASSWORD) == 401
            assert await _api_login(client, email, new_password[0]) == 200
            confirm = await b.post(path + "/deactivate", {})
            still = await b.get(path)
            assert 'badge-good">active' in still.text
            done = await b.post(path + "/deactivate", {"confirm": "yes"})
            deactivated = await b.get(path)
        assert roles.status_code == 303
        assert "Deactivate " + email + "?" in confirm.text
        assert done.status_code == 303
        assert 'badge-bad">inactive' in deactivated.text and "Reactivate" in deactivated.text
        assert 'badge-neutral">FDE' in deactivated.text
        assert await _api_login(client, email, new_password[0]) != 200

    async def test_an_admin_gets_no_button_for_another_admin(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        other_id, _ = await factory.user(world, [Role.ADMIN.value])
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get(f"/settings/users/{other_id}")
            refused = await b.post(f"/settings/users/{other_id}/reset-password", {"confirm": "yes"})
        assert page.status_code == 200
        assert "Reset password" not in page.text and "Deactivate" not in page.text
        assert refused.status_code == 403


class TestUsersAccess:
    async def test_an_fde_sees_the_list_without_write_buttons_and_is_refused_posting(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        target, _ = await factory.user(world, [Role.VIEWER.value])
        _, fde = await factory.user(world, [Role.FDE.value])
        async with browser(app) as b:
            await b.login(fde)
            listed = await b.get("/settings/users")
            detail = await b.get(f"/settings/users/{target}")
            posted = await b.post(
                "/settings/users",
                [("email", "x@example.com"), ("first_name", "a"), ("last_name", "b"),
                 ("roles", "VIEWER"), ("password", "")],
            )  # fmt: skip
            reset = await b.post(f"/settings/users/{target}/reset-password", {"confirm": "yes"})
        assert listed.status_code == 200 and world.admin_email in listed.text
        assert "Create a user" not in listed.text
        assert "Reset password" not in detail.text and "Deactivate" not in detail.text
        assert posted.status_code == 403 and "requires CREATE_USER" in posted.text
        assert reset.status_code == 403

    async def test_a_viewer_is_refused_the_page_and_the_form(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(viewer)
            home = await b.get("/")
            page = await b.get("/settings/users")
            await b.get("/")
            posted = await b.post("/settings/users", [("email", "v@example.com")])
        assert 'href="/settings/users"' not in home.text
        assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text
        assert posted.status_code == 403

    async def test_a_user_of_another_tenant_is_not_found_by_url(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        their_user, _ = await factory.user(theirs, [Role.VIEWER.value])
        path = f"/settings/users/{their_user}"
        async with browser(app) as b:
            await b.login(mine.admin_email)
            responses = [await b.get(path)]
            await b.get("/settings/users")
            for action, data in (
                ("/roles", [("roles", "FDE")]),
                ("/reset-password", [("confirm", "yes")]),
                ("/deactivate", [("confirm", "yes")]),
            ):
                responses.append(await b.post(path + action, data))
        for response in responses:
            assert response.status_code == 404 and "<h1>Not found</h1>" in response.text

    async def test_a_form_without_its_csrf_token_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        target, _ = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get(f"/settings/users/{target}")
            refused = await b.post(
                f"/settings/users/{target}/deactivate", {"confirm": "yes"}, csrf=False
            )
            page = await b.get(f"/settings/users/{target}")
        assert refused.status_code == 403
        assert 'badge-good">active' in page.text


class TestUsersSecrets:
    async def test_no_users_page_shows_a_password_hash_or_a_shown_password_again(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        target, _ = await factory.user(world, [Role.VIEWER.value])
        hashes = [await _hash_of(factory, world.admin_id)]
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create(b, f"{unique('h')}@example.com", "VIEWER")
            generated = SHOWN_ONCE.findall(created.text)[0]
            await b.get(f"/settings/users/{target}")
            reset = await b.post(f"/settings/users/{target}/reset-password", {"confirm": "yes"})
            new_password = SHOWN_ONCE.findall(reset.text)[0]
            hashes.append(await _hash_of(factory, target))
            pages = [created.text, reset.text]
            for path in (
                "/settings/users",
                "/settings/users?search=example",
                "/settings/users?role=VIEWER&is_active=true&sort=-created_at",
                f"/settings/users/{target}",
                f"/settings/users/{world.admin_id}",
            ):
                pages.append((await b.get(path)).text)
        for html in pages:
            assert "$argon2" not in html and PASSWORD not in html
            for h in hashes:
                assert h not in html
        for html in pages[2:]:
            assert generated not in html and new_password not in html
