"""The panel as a person uses it: log in, create an API key, use it, revoke it."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Served


def _login(page: Any, served: Served, password: str | None = None) -> None:
    page.goto(f"{served.base_url}/")
    page.fill("#email", served.admin_email)
    page.fill("#password", password or served.admin_password)
    page.click("button[type=submit]")


class TestLogin:
    def test_wrong_password_then_right_password(self, page: Any, served: Served) -> None:
        page.goto(f"{served.base_url}/")
        assert page.url.endswith("/login")  # sent to the login page first
        page.screens.shot("login")
        _login(page, served, password="not-the-password")
        error = page.locator(".alert-error")
        assert error.inner_text() == "Invalid email or password"
        page.screens.shot("wrong-password")
        page.fill("#password", served.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{served.base_url}/")
        assert page.locator("h1").inner_text() == "Dashboard"
        assert page.locator(".env").inner_text().lower() == "development"
        assert page.locator(".user").inner_text() == served.admin_email
        page.screens.shot("dashboard")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screens.shot("dashboard-phone")

    def test_logout_ends_the_session(self, page: Any, served: Served) -> None:
        _login(page, served)
        page.wait_for_url(f"{served.base_url}/")
        page.click("text=Log out")
        page.wait_for_url(re.compile(r".*/login$"))
        page.goto(f"{served.base_url}/settings/api-keys")
        assert "/login?next=" in page.url
        page.screens.shot("after-logout")


class TestApiKeys:
    def test_create_read_once_use_revoke_and_see_401(self, page: Any, served: Served) -> None:
        _login(page, served)
        page.wait_for_url(f"{served.base_url}/")
        page.click("nav.menu >> text=API keys")
        page.wait_for_url(f"{served.base_url}/settings/api-keys")
        page.screens.shot("api-keys")
        details = page.locator("details.card")
        if details.get_attribute("open") is None:
            page.click("details.card > summary")
        page.fill("#f-name", "Browser integration")
        page.check("input[name=permissions][value=VIEW_ACTIVITIES]")
        page.screens.shot("create-form")
        page.click("text=Create key")
        box = page.locator("#new-key")
        plaintext = box.input_value()
        assert re.fullmatch(r"rtn_sk_[0-9a-f]{56}", plaintext)
        assert "shown only once" in page.locator(".alert-warning").inner_text()
        copy = page.locator("[data-copy-target]")
        assert copy.is_visible()  # our JS revealed it
        copy.click()
        expect(copy).to_have_text("Copied")  # the clipboard answers asynchronously
        page.screens.shot("created-once")

        api = f"{served.base_url}/api/integration/activities/tasks"
        assert httpx.get(api, headers={"x-api-key": plaintext}, timeout=10).status_code == 200

        # Read once: the list page never shows it again.
        page.goto(f"{served.base_url}/settings/api-keys")
        assert plaintext not in page.content()
        row = page.locator("tr", has_text="Browser integration")
        assert "active" in row.inner_text()
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button", has_text="Revoke").click()
        # htmx swaps the row in place after the confirmation dialog.
        page.locator("tr", has_text="Browser integration").locator(".badge-bad").wait_for()
        assert "revoked" in page.locator("tr", has_text="Browser integration").inner_text()
        page.screens.shot("revoked")

        deadline = time.monotonic() + 10  # a revocation reaches every process within 5 s
        status = 200
        while time.monotonic() < deadline:
            status = httpx.get(api, headers={"x-api-key": plaintext}, timeout=10).status_code
            if status == 401:
                break
            time.sleep(0.5)
        assert status == 401


class TestCsrf:
    def test_a_form_posted_without_its_token_is_refused_and_changes_nothing(
        self, page: Any, served: Served
    ) -> None:
        _login(page, served)
        page.wait_for_url(f"{served.base_url}/")
        # What another site's page would send: a plain form to the panel, the session cookie
        # attached by the browser, but no CSRF token (neither field nor header).
        page.evaluate(
            """() => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/settings/api-keys';
                for (const [k, v] of [['name', 'Forged key'], ['permissions', 'VIEW_ACTIVITIES']]) {
                    const input = document.createElement('input');
                    input.type = 'hidden'; input.name = k; input.value = v;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }"""
        )
        page.wait_for_url(f"{served.base_url}/settings/api-keys")
        assert page.locator("h1").inner_text() == "Not allowed"
        assert "did not come from this site" in page.locator("main").inner_text()
        page.screens.shot("csrf-refused")
        page.goto(f"{served.base_url}/settings/api-keys")
        assert page.locator("tr", has_text="Forged key").count() == 0
