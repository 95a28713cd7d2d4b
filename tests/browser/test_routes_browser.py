"""Routes in a browser: create a route, assign an operator as LEAD and a commerce on its page."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import Served


def _login(page: Any, served: Served) -> None:
    page.goto(f"{served.base_url}/login")
    page.fill("#email", served.admin_email)
    page.fill("#password", served.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.base_url}/")


class TestRouteDetail:
    def test_assign_an_operator_as_lead_and_a_commerce(self, page: Any, served: Served) -> None:
        _login(page, served)
        page.click("nav.menu >> text=Routes")
        page.wait_for_url(f"{served.base_url}/routes")
        page.screens.shot("routes")
        details = page.locator("details.card")
        if details.get_attribute("open") is None:
            page.click("details.card > summary")
        name = f"Ruta Browser {uuid.uuid4().hex[:6]}"
        page.fill("#f-name", name)
        page.fill("#f-description", "Creada desde el navegador")
        page.click("text=Create route")
        page.wait_for_url(re.compile(r".*/routes/[0-9a-f-]{36}$"))
        assert page.locator("h1").inner_text().startswith(name)
        assert page.locator("text=No operator on this route yet.").count() == 1
        page.screens.shot("route-new")

        # The first operator offered, as LEAD.
        option = page.locator("#f-operator_id option:not([value=''])").first
        operator_label = option.inner_text().split(" (")[0].split(" · ")[0]
        page.select_option("#f-operator_id", option.get_attribute("value"))
        page.check("input[name=role][value=LEAD]")
        page.screens.shot("assign-operator-form")
        page.click("text=Assign operator")
        row = page.locator("table.route-operators tbody tr").first
        row.wait_for()
        assert operator_label in row.inner_text()
        assert "LEAD" in row.locator(".badge").first.inner_text()
        assert row.locator("button:has-text('Make MEMBER')").count() == 1

        # An unknown commerce is refused next to its field, then a real one is assigned.
        page.fill("#f-commerce_external_id", "NO-SUCH-COMMERCE")
        page.click("text=Assign commerce")
        error = page.locator("#e-commerce_external_id")
        error.wait_for()
        assert error.inner_text() == "no commerce has this external id"
        page.screens.shot("assign-commerce-error")
        page.fill("#f-commerce_external_id", "COM-001")
        page.click("text=Assign commerce")
        commerce_row = page.locator("table.route-commerces tbody tr").first
        commerce_row.wait_for()
        assert "COM-001" in commerce_row.inner_text()
        assert page.locator("#e-commerce_external_id").count() == 0
        page.screens.shot("route-assigned")

        # The commerce's page lists the route it is now on.
        commerce_row.locator("a").first.click()
        page.wait_for_url(re.compile(r".*/commerces/[0-9a-f-]{36}$"))
        assert page.locator(f"#routes a:has-text('{name}')").count() == 1
        page.screens.shot("commerce-detail")


class TestRecordPages:
    def test_operators_commerces_and_audit_log_pages(self, page: Any, served: Served) -> None:
        _login(page, served)
        page.click("nav.menu >> text=Operators")
        page.wait_for_url(f"{served.base_url}/operators")
        assert page.locator("table.operators tbody tr").count() >= 1
        page.screens.shot("operators")
        page.locator("table.operators tbody tr a").first.click()
        page.wait_for_url(re.compile(r".*/operators/[0-9a-f-]{36}$"))
        page.screens.shot("operator-detail")
        page.click("nav.menu >> text=Commerces")
        page.wait_for_url(f"{served.base_url}/commerces")
        page.locator("#filter-search").press_sequentially("COM-002")
        # htmx filters the list in place and puts the filter in the URL.
        page.wait_for_url(re.compile(r".*/commerces\?search=COM-002"))
        page.wait_for_function("document.querySelectorAll('table.commerces tbody tr').length === 1")
        page.screens.shot("commerces-search")
        page.click("nav.menu >> text=Audit log")
        page.wait_for_url(f"{served.base_url}/settings/audit")
        assert page.locator("table.audit-events tbody tr").count() >= 1
        page.select_option("#filter-action", "tenant.created")
        page.wait_for_url(re.compile(r".*/settings/audit\?.*action=tenant.created"))
        page.wait_for_function(
            "document.querySelectorAll('table.audit-events tbody tr').length === 1"
        )
        page.screens.shot("audit-log")
