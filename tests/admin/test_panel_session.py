"""Login, logout and revocation, CSRF and the security headers of the admin panel."""

from __future__ import annotations

import httpx

from reten.admin.security import CONTENT_SECURITY_POLICY
from tests.admin.support import browser
from tests.factories import Factory


class TestLogin:
    async def test_a_page_without_a_session_sends_the_browser_to_the_login_page(
        self, app: object
    ) -> None:
        async with browser(app) as b:
            response = await b.get("/settings/api-keys")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fsettings%2Fapi-keys"

    async def test_login_sets_a_signed_http_only_lax_cookie_and_opens_the_dashboard(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            response = await b.login(world.admin_email)
            assert response.status_code == 303
            assert response.headers["location"] == "/"
            cookie = next(
                h for h in response.headers.get_list("set-cookie") if h.startswith("reten_session=")
            )
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
            # Development: no Secure flag (plain http://localhost must work).
            assert "Secure" not in cookie
            page = await b.get("/")
        assert page.status_code == 200
        assert world.admin_email in page.text
        assert "<h1>Dashboard</h1>" in page.text

    async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            wrong_password = await b.login(world.admin_email, "not-the-password")
            unknown_email = await b.login("nobody-at-all@example.com", "not-the-password")
        for response in (wrong_password, unknown_email):
            assert response.status_code == 401
            assert "Invalid email or password" in response.text
            assert "reten_session=" not in response.headers.get("set-cookie", "")

    async def test_login_goes_back_to_the_page_asked_for_but_never_off_site(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.get("/login?next=/settings/api-keys")
            ok = await b.post(
                "/login",
                {"email": world.admin_email, "password": "correct-horse-battery",
                 "next": "/settings/api-keys"},
            )  # fmt: skip
        async with browser(app) as b:
            await b.get("/login")
            evil = await b.post(
                "/login",
                {"email": world.admin_email, "password": "correct-horse-battery",
                 "next": "//evil.example.com/"},
            )  # fmt: skip
        assert ok.headers["location"] == "/settings/api-keys"
        assert evil.headers["location"] == "/"

    async def test_login_is_rate_limited_like_the_api(
        self, app: object, factory: Factory, settings: object
    ) -> None:
        runtime = app.state.runtime  # type: ignore[attr-defined]
        email = "rate-limited-panel@example.com"
        limit = runtime.settings.login_rate_limit
        # Spend the identifier's budget through the API's endpoint: the panel shares it.
        for _ in range(limit):
            await runtime.limiter.hit(f"login-email:{email}", limit)
        async with browser(app) as b:
            response = await b.login(email, "whatever-password")
        assert response.status_code == 429
        assert "Too many login attempts" in response.text


class TestLogout:
    async def test_logout_revokes_the_session_so_a_copied_cookie_no_longer_opens_pages(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get("/")
            copied = b.http.cookies.get("reten_session")
            response = await b.post("/logout", {})
            assert response.status_code == 303
            assert response.headers["location"] == "/login"
        async with browser(app) as thief:
            thief.http.cookies.set("reten_session", copied)
            after = await thief.get("/")
        assert after.status_code == 303
        assert after.headers["location"] == "/login"

    async def test_a_tampered_session_cookie_opens_nothing(self, app: object) -> None:
        async with browser(app) as b:
            b.http.cookies.set("reten_session", "InNvbWV0aGluZyI.aw9Dnw.forged-signature")
            response = await b.get("/")
        assert response.status_code == 303

    async def test_a_password_reset_through_the_api_ends_panel_sessions(
        self, app: object, factory: Factory, client: httpx.AsyncClient
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            assert (await b.get("/")).status_code == 200
            token = await factory.login(world.admin_email)
            reset = await client.post(
                "/api/auth/reset-my-password",
                json={
                    "currentPassword": "correct-horse-battery",
                    "newPassword": "another-pass-123",
                },
                headers={"authorization": f"Bearer {token}"},
            )
            assert reset.status_code == 200, reset.text
            assert (await b.get("/")).status_code == 303


class TestCsrf:
    async def test_a_form_posted_without_its_token_is_refused_with_a_403_page(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get("/settings/api-keys")
            missing = await b.post(
                "/settings/api-keys", {"name": "x", "permissions": "VIEW_ACTIVITIES"}, csrf=False
            )
            wrong = await b.post(
                "/settings/api-keys",
                [("name", "x"), ("permissions", "VIEW_ACTIVITIES"), ("csrf_token", "forged")],
                csrf=False,
            )
            listing = await b.get("/settings/api-keys")
        for response in (missing, wrong):
            assert response.status_code == 403
            assert response.headers["content-type"].startswith("text/html")
            assert "did not come from this site" in response.text
        assert 'id="key-' not in listing.text  # nothing was created

    async def test_a_token_of_another_session_is_refused(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as first, browser(app) as second:
            await first.login(world.admin_email)
            page = await first.get("/settings/api-keys")
            await second.login(world.admin_email)
            await second.get("/settings/api-keys")
            second.last_html = page.text  # the first session's token
            response = await second.post(
                "/settings/api-keys", {"name": "x", "permissions": "VIEW_ACTIVITIES"}
            )
        assert response.status_code == 403

    async def test_the_login_form_needs_its_token_too(self, app: object, factory: Factory) -> None:
        world = await factory.world()
        async with browser(app) as b:
            response = await b.post(
                "/login",
                {"email": world.admin_email, "password": "correct-horse-battery"},
                csrf=False,
            )
        assert response.status_code == 403

    async def test_htmx_requests_carry_the_token_in_a_header(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            await b.login(world.admin_email)
            await b.get("/settings/api-keys")
            response = await b.htmx_post(
                "/settings/api-keys", "name=from-htmx&permissions=VIEW_ACTIVITIES"
            )
        assert response.status_code == 201


class TestHeaders:
    async def test_every_panel_response_carries_the_security_headers(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            responses = [await b.get("/login"), await b.get("/static/admin.css")]
            responses.append(await b.login(world.admin_email))
            responses += [
                await b.get("/"),
                await b.get("/settings/api-keys"),
                await b.get("/no-such-page"),
            ]
        for response in responses:
            h = response.headers
            assert h["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "unsafe-inline" not in h["content-security-policy"]
            assert "unsafe-eval" not in h["content-security-policy"]
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert h["x-frame-options"] == "DENY"
            assert h["referrer-policy"] == "same-origin"
            assert h["x-content-type-options"] == "nosniff"

    async def test_pages_have_no_inline_script_or_handler(
        self, app: object, factory: Factory
    ) -> None:
        world = await factory.world()
        async with browser(app) as b:
            pages = [(await b.get("/login")).text]
            await b.login(world.admin_email)
            pages += [(await b.get("/")).text, (await b.get("/settings/api-keys")).text]
        for html in pages:
            assert "<script>" not in html and " onclick=" not in html and " onsubmit=" not in html
            assert html.count("<script ") == html.count('<script src="/static/')

    async def test_the_api_and_its_reference_are_unaffected(
        self, client: httpx.AsyncClient
    ) -> None:
        unknown = await client.get("/api/no-such-endpoint")
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Cannot GET /api/no-such-endpoint"
        assert "content-security-policy" not in unknown.headers
        docs = await client.get("/docs")
        assert docs.status_code == 200
        # The reference has its own policy (its start-up script is inline), not the panel's.
        assert docs.headers.get("content-security-policy") != CONTENT_SECURITY_POLICY
        assert (await client.get("/openapi.json")).status_code == 200

    async def test_an_unknown_page_is_a_404_page(self, app: object) -> None:
        async with browser(app) as b:
            response = await b.get("/no-such-page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in response.text


class TestCookieFlags:
    def test_the_session_cookie_is_secure_outside_development(self) -> None:
        from fastapi import Response

        from reten.admin import session as cookies
        from reten.config import Environment, Settings

        for env, secure in ((Environment.DEVELOPMENT, False), (Environment.STAGING, True),
                            (Environment.PRODUCTION, True)):  # fmt: skip
            response = Response()
            cookies.start_session(
                response, Settings(env=env, secret_key="x" * 40), "some-refresh-token"
            )
            header = next(
                h for h in response.headers.getlist("set-cookie") if h.startswith("reten_session=")
            )
            assert ("; Secure" in header) is secure, (env, header)
            assert "HttpOnly" in header and "SameSite=lax" in header
            assert "some-refresh-token" not in header  # signed and encoded, not the raw token
