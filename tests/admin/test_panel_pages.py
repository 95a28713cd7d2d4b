"""The panel's pages: dashboard, API keys, permissions, tenant isolation and planted secrets."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

import reten.admin
from reten.auth.permissions import Role
from reten.kit.time import utcnow, week_start
from tests.admin.support import browser
from tests.factories import PASSWORD, Factory

KEY = re.compile(r"rtn_sk_[0-9a-f]{56}")


async def _create_key(b: object, name: str, *perms: str, expires: str = "") -> httpx.Response:
    await b.get("/settings/api-keys")  # type: ignore[attr-defined]
    fields = [("name", name), ("expires_at", expires)] + [("permissions", p) for p in perms]
    return await b.post("/settings/api-keys", fields)  # type: ignore[attr-defined,no-any-return]


class TestDashboard:
    async def test_counts_today_by_lifecycle_status_and_shows_latest_results(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        soon = utcnow() + timedelta(minutes=2)
        await factory.task(world, scheduled_at=soon)
        await factory.task(world, commerce_index=1, scheduled_at=soon)
        await factory.task(world, scheduled_at=soon + timedelta(days=8))  # not this week
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get("/")
        assert page.status_code == 200
        row = re.search(
            r'badge-scheduled">SCHEDULED</span></td><td class="num">(\d+)</td><td class="num">(\d+)</td>',
            page.text,
        )
        assert row is not None
        santiago = ZoneInfo("America/Santiago")
        same_day = soon.astimezone(santiago).date() == utcnow().astimezone(santiago).date()
        assert row.group(1) == ("2" if same_day else "0")
        same_week = week_start(soon, santiago) == week_start(utcnow(), santiago)
        assert row.group(2) == ("2" if same_week else "0")
        assert "No result has been submitted yet." in page.text

    async def test_times_are_in_the_tenant_zone_with_utc_on_hover(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_key(b, "tz-key", "VIEW_ACTIVITIES")
        stamp = re.search(
            r'<time datetime="([0-9T:.\-]+Z)" title="\1 UTC">(\d{4}-\d\d-\d\d \d\d:\d\d)</time>',
            created.text,
        )
        assert stamp is not None
        utc = datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00"))
        local = utc.astimezone(ZoneInfo("America/Santiago")).strftime("%Y-%m-%d %H:%M")
        assert stamp.group(2) == local


class TestApiKeys:
    async def test_the_plaintext_is_shown_once_and_works_against_the_integration_api(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_key(b, "CRM sync", "VIEW_ACTIVITIES")
            assert created.status_code == 201
            keys = KEY.findall(created.text)
            assert len(set(keys)) == 1
            plaintext = keys[0]
            assert "shown only once" in created.text
            listing = await b.get("/settings/api-keys")
        assert plaintext not in listing.text
        assert plaintext[:15] in listing.text  # the prefix identifies it
        api = await client.get(
            "/api/integration/activities/tasks", headers={"x-api-key": plaintext}
        )
        assert api.status_code == 200

    async def test_permission_boxes_offer_only_what_the_caller_holds(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            page = await b.get("/settings/api-keys")
            offered = set(re.findall(r'name="permissions" value="([A-Z_]+)"', page.text))
            assert "MANAGE_API_KEYS" in offered and "VIEW_ACTIVITIES" in offered
            assert "CREATE_TENANT" not in offered  # ADMIN does not hold it
            # Posting it anyway: the service refuses, the form says why, nothing is created.
            refused = await _create_key(b, "too-much", "CREATE_TENANT")
        assert refused.status_code == 403
        assert "Cannot grant permissions you do not hold: CREATE_TENANT" in refused.text
        assert KEY.search(refused.text) is None
        assert 'value="too-much"' in refused.text  # the form keeps what was typed

    async def test_errors_are_shown_next_to_the_field_they_concern(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            no_name = await _create_key(b, "", "VIEW_ACTIVITIES")
            no_perms = await _create_key(b, "nameless-perms")
            past = await _create_key(b, "old", "VIEW_ACTIVITIES", expires="2020-01-01T10:00")
        assert no_name.status_code == 400
        assert re.search(
            r'<small class="error" id="e-name">must not be empty</small>', no_name.text
        )
        assert re.search(r'<small class="error" id="e-permissions">[^<]*at least 1', no_perms.text)
        assert re.search(r'id="e-expires_at">must be in the future<', past.text)
        for response in (no_name, no_perms, past):
            assert response.headers["content-type"].startswith("text/html")
            assert '"statusCode"' not in response.text

    async def test_an_expiry_is_read_in_the_tenant_time_zone(
        self, app: object, factory: Factory, db: object
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_key(
                b, "expiring", "VIEW_ACTIVITIES", expires="2030-06-01T12:00"
            )
        assert created.status_code == 201
        # 12:00 in Santiago (UTC-4 in June) is 16:00 UTC.
        assert 'datetime="2030-06-01T16:00:00.000Z"' in created.text

    async def test_revoke_asks_first_then_the_key_stops_working(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_key(b, "to-revoke", "VIEW_ACTIVITIES")
            plaintext = KEY.findall(created.text)[0]
            key_id = re.search(r'id="key-([0-9a-f-]{36})"', created.text).group(1)  # type: ignore[union-attr]
            ask = await b.post(f"/settings/api-keys/{key_id}/revoke", {})
            assert ask.status_code == 200
            assert "Revoke the key “to-revoke”?" in ask.text
            still = await client.get(
                "/api/integration/activities/tasks", headers={"x-api-key": plaintext}
            )
            assert still.status_code == 200
            done = await b.post(f"/settings/api-keys/{key_id}/revoke", {"confirm": "yes"})
            assert done.status_code == 303
            listing = await b.get("/settings/api-keys?status=revoked")
        assert f'id="key-{key_id}"' in listing.text
        assert 'badge-bad">revoked' in listing.text
        gone = await client.get(
            "/api/integration/activities/tasks", headers={"x-api-key": plaintext}
        )
        assert gone.status_code == 401

    async def test_htmx_revoke_answers_with_the_row_only(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            created = await _create_key(b, "htmx-revoke", "VIEW_ACTIVITIES")
            key_id = re.search(r'id="key-([0-9a-f-]{36})"', created.text).group(1)  # type: ignore[union-attr]
            response = await b.htmx_post(f"/settings/api-keys/{key_id}/revoke", "confirm=yes")
        assert response.status_code == 200
        assert response.text.lstrip().startswith(f'<tr id="key-{key_id}">')
        assert "<html" not in response.text and "revoked" in response.text

    async def test_an_admin_sees_every_users_keys_with_their_owner_and_revokes_them(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        fde_id, fde_email = await factory.user(world, [Role.FDE.value])
        await factory.api_key(world, owner_id=fde_id, owner_roles=[Role.FDE.value])
        async with browser(app) as b:
            await b.login(world.admin_email)
            mine = await b.get("/settings/api-keys")
            assert fde_email not in mine.text  # by default: the caller's own keys
            every = await b.get("/settings/api-keys?all=true")
            assert fde_email in every.text and '<th scope="col">Owner</th>' in every.text
            key_id = re.search(r'id="key-([0-9a-f-]{36})"', every.text).group(1)  # type: ignore[union-attr]
            row = await b.htmx_post(f"/settings/api-keys/{key_id}/revoke", "confirm=yes&all=true")
        assert row.status_code == 200
        assert fde_email in row.text and "revoked" in row.text

    async def test_list_filters_sort_and_pages_live_in_the_url(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        for _ in range(3):
            await factory.api_key(world, owner_id=world.admin_id)
        async with browser(app) as b:
            await b.login(world.admin_email)
            first = await b.get("/settings/api-keys?per_page=2&sort=name")
            second = await b.get("/settings/api-keys?per_page=2&sort=name&page=2")
            htmx = await b.get(
                "/settings/api-keys?status=active&per_page=2", headers={"hx-request": "true"}
            )
            empty = await b.get("/settings/api-keys?status=expired")
            bad = await b.get("/settings/api-keys?page=zero")
        names = lambda html: re.findall(r'<tr id="key-[^"]+">\s*<td>([^<]+)</td>', html)  # noqa: E731
        assert len(names(first.text)) == 2 and len(names(second.text)) == 1
        assert names(first.text) + names(second.text) == sorted(
            names(first.text) + names(second.text)
        )
        assert "Page 1 of 2" in first.text
        assert 'href="/settings/api-keys?per_page=2&amp;sort=name&amp;page=2"' in first.text
        assert 'aria-sort="ascending"' in first.text
        assert "<html" not in htmx.text and "<table" in htmx.text  # the list block only
        assert "Nothing matches these filters." in empty.text
        assert bad.status_code == 400 and "<h1>Bad request</h1>" in bad.text


class TestPermissions:
    async def test_a_viewer_sees_no_write_button_and_is_refused_when_posting_anyway(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        _, viewer = await factory.user(world, [Role.VIEWER.value])
        async with browser(app) as b:
            await b.login(viewer)
            dashboard = await b.get("/")
            assert dashboard.status_code == 200
            assert 'href="/settings/api-keys"' not in dashboard.text
            assert "<button" not in dashboard.text.split("</header>")[1]  # only "Log out" above
            page = await b.get("/settings/api-keys")
            posted = await b.post(
                "/settings/api-keys", [("name", "x"), ("permissions", "VIEW_ACTIVITIES")]
            )
        assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text
        assert posted.status_code == 403
        assert "requires MANAGE_API_KEYS" in posted.text
        assert KEY.search(posted.text) is None

    async def test_a_key_of_another_tenant_is_not_found_by_url(
        self, app: object, factory: Factory
    ) -> None:
        mine, theirs = await factory.world(), await factory.world()
        async with browser(app) as other:
            await other.login(theirs.admin_email)
            created = await _create_key(other, "theirs", "VIEW_ACTIVITIES")
            key_id = re.search(r'id="key-([0-9a-f-]{36})"', created.text).group(1)  # type: ignore[union-attr]
        async with browser(app) as b:
            await b.login(mine.admin_email)
            await b.get("/settings/api-keys")
            page = await b.get(f"/settings/api-keys/{key_id}/revoke")
            post = await b.post(f"/settings/api-keys/{key_id}/revoke", {"confirm": "yes"})
            unknown = await b.get(f"/settings/api-keys/{uuid.uuid4()}/revoke")
        for response in (page, post, unknown):
            assert response.status_code == 404
            assert "<h1>Not found</h1>" in response.text


class TestTenants:
    async def test_a_member_of_two_tenants_switches_between_them(
        self, app: object, factory: Factory
    ) -> None:
        first, second = await factory.world(), await factory.world()
        user_id, email = await factory.user(first, [Role.ADMIN.value])
        from reten.users import service as users

        async with factory.db.sessionmaker() as session:
            await users.add_membership(session, user_id, second.tenant_id)
            await session.commit()
        outsider = await factory.world()
        async with browser(app) as b:
            await b.login(email)
            page = await b.get("/")
            assert 'id="tenant-switch"' in page.text
            assert f"Tenant {second.slug}" in page.text
            switched = await b.post("/tenant", {"tenant_id": str(second.tenant_id)})
            assert switched.status_code == 303
            now = await b.get("/")
            selected = re.search(r'<option value="([^"]+)" selected>', now.text)
            assert selected is not None and selected.group(1) == str(second.tenant_id)
            refused = await b.post("/tenant", {"tenant_id": str(outsider.tenant_id)})
        assert refused.status_code == 404


class TestNoSecrets:
    async def test_no_page_shows_a_key_after_creation_or_any_password_hash(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        planted = await factory.api_key(world, owner_id=world.admin_id)
        from reten.users.models import User

        async with factory.db.sessionmaker() as session:
            admin = await session.get(User, world.admin_id)
            assert admin is not None
            password_hash = admin.password_hash
        async with browser(app) as b:
            login_page = (await b.get("/login")).text
            await b.login(world.admin_email)
            created = await _create_key(b, "once", "VIEW_ACTIVITIES")
            fresh = KEY.findall(created.text)[0]
            pages = [login_page]
            for path in (
                "/",
                "/settings/api-keys",
                "/settings/api-keys?all=true",
                "/settings/api-keys?status=active",
                "/no-such-page",
            ):
                pages.append((await b.get(path)).text)  # fmt: skip
        for html in pages:
            assert planted not in html and fresh not in html
            assert password_hash not in html and "$argon2" not in html
            assert PASSWORD not in html
            assert KEY.search(html) is None


class TestUnknownPaths:
    async def test_a_browser_gets_the_panels_not_found_page(self, app: object) -> None:
        async with browser(app) as b:
            response = await b.get("/no/such/page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in response.text

    async def test_a_script_gets_the_standard_json_error(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/no/such/page", headers={"accept": "application/json"})
        assert response.status_code == 404
        assert response.json()["statusCode"] == 404


class TestAssets:
    def test_vendored_htmx_matches_its_recorded_checksum(self) -> None:
        static = Path(reten.admin.__file__).parent / "static" / "vendor"
        digest = hashlib.sha256((static / "htmx.min.js").read_bytes()).hexdigest()
        assert f"`{digest}`" in (static / "README.md").read_text()
        assert (
            'version:"2.' in (static / "htmx.min.js").read_text()
            or "2.0" in (static / "README.md").read_text()
        )

    async def test_static_files_are_served(self, client: httpx.AsyncClient) -> None:
        for path in ("/static/admin.css", "/static/admin.js", "/static/vendor/htmx.min.js"):
            response = await client.get(path)
            assert response.status_code == 200, path


class TestPackaging:
    def test_every_template_and_static_file_is_in_the_package_data(self) -> None:
        import tomllib

        root = Path(__file__).resolve().parents[2]
        globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
            "package-data"
        ]["reten"]
        package = root / "src" / "reten"
        admin = package / "admin"
        files = [p for d in ("templates", "static") for p in (admin / d).rglob("*") if p.is_file()]
        assert files
        for path in files:
            relative = path.relative_to(package).as_posix()
            assert any(Path(relative).match(g) and relative.count("/") == g.count("/")
                       for g in globs), f"{relative} would be missing from the wheel"  # fmt: skip
