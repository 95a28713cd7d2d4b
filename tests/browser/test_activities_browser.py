"""The activity pages in a browser: filter the list, create a TASK, see an API result, cancel."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx

from reten.kit.time import utcnow
from tests.browser.conftest import Served
from tests.browser.test_panel_browser import _login


def _api(served: Served) -> httpx.Client:
    token = httpx.post(
        f"{served.base_url}/api/auth/login",
        json={"identifier": served.admin_email, "password": served.admin_password},
        timeout=30,
    ).json()["accessToken"]
    return httpx.Client(
        base_url=served.base_url,
        headers={"authorization": f"Bearer {token}", "x-tenant-id": served.tenant_id},
        timeout=30,
    )


class TestActivities:
    def test_filter_create_see_a_result_and_cancel(self, page: Any, served: Served) -> None:
        with _api(served) as api:
            sample = api.get("/api/activities", params={"type": "TASK", "per_page": 1}).json()
        assert "data" in sample, sample
        task = sample["data"][0]
        _login(page, served)
        page.wait_for_url(f"{served.base_url}/")
        page.click("nav.menu >> text=Activities")
        page.wait_for_url(f"{served.base_url}/activities")
        assert page.locator("tr[id^=activity-]").count() > 0
        page.screens.shot("activities")

        # Filtering swaps the list in place (htmx) and puts the filter in the URL.
        page.select_option("#filter-type", "MESSAGE")
        page.wait_for_url(re.compile(r".*/activities\?.*type=MESSAGE"))
        page.wait_for_function(
            "() => [...document.querySelectorAll('tr[id^=activity-] td:nth-child(3)')]"
            ".every(td => td.textContent.trim() === 'MESSAGE')"
        )
        page.screens.shot("activities-messages")

        page.goto(f"{served.base_url}/activities/new")
        page.screens.shot("new-activity")
        page.select_option("#f-type", "TASK")
        page.select_option("#f-channel", "SALESMAN")
        page.fill("#f-commerce_id", task["commerceAssignment"]["commerceId"])
        page.fill("#f-reason", "browser-visit")
        page.fill("#f-scheduled_at", (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#f-assigned_route_id", task["taskDetails"]["routeId"])
        page.fill("#f-assigned_operator_id", task["taskDetails"]["operatorId"])
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r".*/activities/[0-9a-f-]{36}$"))
        activity_id = page.url.rsplit("/", 1)[1]
        assert uuid.UUID(activity_id)
        assert "browser-visit" in page.content()
        page.screens.shot("activity-created")

        # A result through the integration API shows on the activity's page.
        with _api(served) as api:
            commerce = api.get(f"/api/activities/{activity_id}").json()["commerceAssignment"]
            posted = api.post(
                "/api/activity-results/tasks",
                json={
                    "activity_id": activity_id,
                    "commerce_external_id": commerce["commerce"]["externalId"],
                    "occurred_at": (utcnow() - timedelta(minutes=1)).isoformat(),
                    "status": "PENDING",
                    "task_result": {"result": "NO_CONTACT", "comment": "on my way"},
                },
            )
        assert posted.status_code == 201, posted.text
        page.reload()
        assert "on my way" in page.locator("table.results").inner_text()
        page.screens.shot("activity-with-result")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("text=Cancel activity")
        page.wait_for_function(
            "() => document.querySelector('h1 .badge').textContent.trim() === 'CANCELED'"
        )
        assert page.locator("text=Cancel activity").count() == 0
        page.screens.shot("activity-canceled")
