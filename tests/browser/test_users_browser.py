"""Settings → Users in a browser: create a user, reset their password, and what a VIEWER sees."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import Served


def _login(page: Any, served: Served, email: str, password: str) -> None:
    page.goto(f"{served.base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.base_url}/")


def _create_user(page: Any, served: Served, role: str, password: str = "") -> tuple[str, str]:
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{served.base_url}/settings/users")
    details = page.locator("details.card")
    if details.get_attribute("open") is None:
        page.click("details.card > summary")
    page.fill("#f-email", email)
    page.fill("#f-first_name", "Nora")
    page.fill("#f-last_name", "Nueva")
    page.check(f"input[name=roles][value={role}]")
    if password:
        page.fill("#f-password", password)
    page.click("text=Create user")
    page.wait_for_selector("section.created")
    shown = page.locator("#new-password")
    return email, (shown.input_value() if shown.count() else password)


class TestUsers:
    def test_create_a_user_then_reset_their_password(self, page: Any, served: Served) -> None:
        _login(page, served, served.admin_email, served.admin_password)
        page.click("nav.menu >> text=Users")
        page.wait_for_url(f"{served.base_url}/settings/users")
        page.screens.shot("users")
        email, password = _create_user(page, served, "FDE")
        assert len(password) >= 12
        page.screens.shot("user-created")
        page.click(f"table.users a:has-text('{email}')")
        page.wait_for_url(re.compile(r".*/settings/users/[0-9a-f-]{36}$"))
        page.screens.shot("user-detail")
        page.click("button:has-text('Reset password')")
        page.wait_for_selector("text=Reset the password of")
        page.screens.shot("reset-confirm")
        page.click("section.card form.inline button.danger")
        page.wait_for_selector("#new-password")
        new_password = page.locator("#new-password").input_value()
        assert new_password and new_password != password
        page.screens.shot("password-reset")
        # Opening the user's page again (a GET) no longer shows it.
        page.goto(page.url.removesuffix("/reset-password"))
        assert page.locator("#new-password").count() == 0
        page.click("text=Log out")
        page.wait_for_url(re.compile(r".*/login$"))
        _login(page, served, email, new_password)
        assert page.locator(".user").inner_text() == email


class TestResultTypes:
    def test_create_a_result_type_and_edit_it(self, page: Any, served: Served) -> None:
        _login(page, served, served.admin_email, served.admin_password)
        page.click("nav.menu >> text=Result types")
        page.wait_for_url(f"{served.base_url}/result-types")
        details = page.locator("details.card")
        if details.get_attribute("open") is None:
            page.click("details.card > summary")
        code = f"CALL_{uuid.uuid4().hex[:6].upper()}"
        page.fill("#f-code", code)
        page.fill("#f-label", "Volver a llamar")
        page.check("input[name=requires_future_scheduled_at]")
        page.fill("#f-sort_order", "60")
        page.screens.shot("result-type-form")
        page.click("text=Create result type")
        page.wait_for_selector(f"text={code}")
        page.screens.shot("result-types")
        page.click(f"text={code}")
        page.wait_for_url(re.compile(r".*/result-types/[0-9a-f-]{36}$"))
        assert page.locator("input[name=requires_future_scheduled_at]").is_checked()
        page.screens.shot("result-type-edit")


class TestViewer:
    def test_a_viewer_sees_no_write_button_and_gets_the_403_page(
        self, page: Any, served: Served
    ) -> None:
        _login(page, served, served.admin_email, served.admin_password)
        email, password = _create_user(page, served, "VIEWER", password="viewer-pass-123")
        page.click("text=Log out")
        page.wait_for_url(re.compile(r".*/login$"))
        _login(page, served, email, password)
        assert page.locator("nav.menu >> text=Users").count() == 0
        assert page.locator("main button").count() == 0
        page.screens.shot("viewer-dashboard")
        page.goto(f"{served.base_url}/settings/users")
        assert page.locator("h1").inner_text() == "Not allowed"
        page.screens.shot("viewer-users-403")
        page.goto(f"{served.base_url}/result-types")  # readable with VIEW_ACTIVITIES, no button
        assert page.locator("h1").inner_text() == "Result types"
        assert page.locator("main button:not(.js-hidden)").count() == 0  # Filter is for no-JS
        page.screens.shot("viewer-result-types")
        # Posting anyway, as a crafted form would: the CSRF token is valid, the permission is not.
        page.goto(f"{served.base_url}/")
        page.evaluate(
            """() => {
                const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/settings/users';
                for (const [k, v] of [['csrf_token', token], ['email', 'x@example.com'],
                                      ['first_name', 'x'], ['last_name', 'y'], ['roles', 'VIEWER']]) {
                    const input = document.createElement('input');
                    input.type = 'hidden'; input.name = k; input.value = v;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }"""
        )
        page.wait_for_url(f"{served.base_url}/settings/users")
        assert page.locator("h1").inner_text() == "Not allowed"
        page.screens.shot("viewer-post-403")
