"""Dispatch configuration in a browser: a WEBHOOK configuration against a loopback receiver,
a test delivery, then an activity created in the panel becomes DISPATCHED, and its attempt shows
up in the configuration's attempt log without reloading the page."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from reten.kit.time import utcnow
from reten.receiver import verify
from tests.browser.conftest import Screens, Served
from tests.browser.test_activities_browser import _api
from tests.browser.test_panel_browser import _login
from tests.dispatch.receiver import Receiver, Reply

# A channel the demo data leaves without activities: activating it delivers only this test's.
CHANNEL = "EMAIL"
# How long the dispatcher may take to deliver a new activity ("within about a second", on a
# loaded machine rather more); the loop below stops as soon as it is delivered.
DELIVERY_DEADLINE = 30.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The dispatch tests' loopback receiver, on an event loop of its own thread (Playwright's
    sync API owns the test thread's loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    hook = asyncio.run_coroutine_threadsafe(Receiver().start(), loop).result(10)
    hook.answer(Reply(status=200, body=b'{"id": "provider-activity-1", "accepted": true}'))
    try:
        yield hook
    finally:
        asyncio.run_coroutine_threadsafe(_shut(hook), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _shut(hook: Receiver) -> None:
    """Close the receiver and end its open keep-alive connections, so the loop stops clean."""
    await hook.close()
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _second_tab(page: Any, name: str) -> Any:
    """Another tab of the same browser session, watched for CSP violations like the first."""
    tab = page.context.new_page()
    violations: list[str] = []
    tab.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    tab.screens = Screens(tab, name)
    tab.violations = violations
    return tab


class TestDispatchConfiguration:
    def test_webhook_config_test_delivery_and_an_activity_dispatched(
        self, page: Any, served: Served, receiver: Receiver
    ) -> None:
        with _api(served) as api:
            sample = api.get("/api/activities", params={"type": "TASK", "per_page": 1}).json()
        task = sample["data"][0]
        page.on("dialog", lambda dialog: dialog.accept())
        _login(page, served)
        page.wait_for_url(f"{served.base_url}/")
        page.click("nav.menu >> text=Dispatch configuration")
        page.wait_for_url(f"{served.base_url}/dispatch-configs")
        page.screens.shot("configs")

        # Create: choosing the provider swaps in its credential inputs (htmx).
        page.click(f"a[href='/dispatch-configs/new?channel={CHANNEL}']")
        page.select_option("#pick-provider", "YOM")
        page.wait_for_selector("#f-credential_apiKey[type=password]")
        page.select_option("#pick-provider", "WEBHOOK")
        page.wait_for_selector("#f-credential_bearerToken[type=password]")
        assert page.locator("#f-credential_apiKey").count() == 0
        assert page.locator("#config-form h2").inner_text() == f"WEBHOOK for {CHANNEL}"
        page.fill("#f-base_url", receiver.url("/reten-hook"))
        page.fill("#f-credential_bearerToken", "browser-bearer-token")
        page.fill("#f-retry_schedule", "0, 5")
        page.screens.shot("new-config")
        page.click("#config-form button[type=submit]")
        page.wait_for_selector("#new-secret")
        secret = page.input_value("#new-secret")
        assert secret.startswith("whsec_")
        page.screens.shot("created-with-secret")
        found = re.search(r'action="/dispatch-configs/([0-9a-f-]{36})/test"', page.content())
        assert found is not None
        config_id = found.group(1)

        # The secret is shown once: the configuration's own page does not have it.
        page.goto(f"{served.base_url}/dispatch-configs/{config_id}")
        assert secret not in page.content() and "browser-bearer-token" not in page.content()

        # A test delivery reaches the receiver, signed with that secret, and the provider's
        # answer is shown.
        page.click("text=Send test delivery")
        page.wait_for_selector("section.test-result")
        result = page.locator("section.test-result").inner_text()
        assert "SUCCESS" in result and "provider-activity-1" in result and "200" in result
        test_delivery = receiver.received[-1]
        assert test_delivery.headers["authorization"] == "Bearer browser-bearer-token"
        assert (
            verify(test_delivery.body, test_delivery.headers, secret).type == "activity.dispatched"
        )
        page.screens.shot("test-delivery")

        # Activate (htmx asks first; the dialog is accepted).
        page.goto(f"{served.base_url}/dispatch-configs/{config_id}")
        page.click("section.actions button:has-text('Activate')")
        page.wait_for_function(
            "() => document.querySelector('h1 .badge').textContent.trim() === 'active'"
        )
        page.screens.shot("activated")
        page.goto(f"{served.base_url}/dispatch-configs")
        row = page.locator(f"#config-{config_id}").inner_text()
        assert "WEBHOOK" in row and "active" in row and "healthy" in row
        page.screens.shot("configs-active")
        page.goto(f"{served.base_url}/dispatch-configs/{config_id}")

        # A new activity of the channel, created in another tab, is delivered; this tab's
        # attempt log shows it without a reload (it refreshes itself).
        before = len(receiver.received)
        other = _second_tab(
            page, "test_webhook_config_test_delivery_and_an_activity_dispatched-tab2"
        )
        other.goto(f"{served.base_url}/activities/new")
        other.select_option("#f-type", "TASK")
        other.select_option("#f-channel", CHANNEL)
        other.fill("#f-commerce_id", task["commerceAssignment"]["commerceId"])
        other.fill("#f-reason", "browser-dispatch")
        other.fill("#f-scheduled_at", (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
        other.fill("#f-assigned_route_id", task["taskDetails"]["routeId"])
        other.fill("#f-assigned_operator_id", task["taskDetails"]["operatorId"])
        other.click("form.form button[type=submit]")
        other.wait_for_url(re.compile(r".*/activities/[0-9a-f-]{36}$"))
        activity_id = other.url.rsplit("/", 1)[1]
        other.screens.shot("activity-created")

        page.wait_for_selector(
            f"#attempts a[href='/activities/{activity_id}']", timeout=DELIVERY_DEADLINE * 1000
        )
        row = page.locator("#attempts tbody tr").first.inner_text()
        assert "SUCCESS" in row and "SCHEDULED" in row and "200" in row
        page.screens.shot("attempt-in-log")
        delivered = receiver.received[before:]
        assert [verify(r.body, r.headers, secret).data.id for r in delivered] == [activity_id]

        # The activity's page says DISPATCHED, with the attempt.
        deadline = time.monotonic() + DELIVERY_DEADLINE
        while True:
            other.reload()
            status = other.locator("h1 .badge").inner_text().strip()
            if status == "DISPATCHED" or time.monotonic() > deadline:
                break
            other.wait_for_timeout(300)
        assert status == "DISPATCHED"
        assert "SUCCESS" in other.content()
        other.screens.shot("activity-dispatched")
        assert not other.violations, f"CSP violations: {other.violations}"
        other.close()

        # The log's filters are in the URL.
        page.select_option("#filter-outcome", "FAILURE")
        page.wait_for_url(re.compile(r".*/dispatch-configs/[0-9a-f-]{36}\?.*outcome=FAILURE"))
        page.wait_for_selector("#attempts .empty")
        page.screens.shot("log-filtered")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(f"{served.base_url}/dispatch-configs/{config_id}")
        page.screens.shot("config-on-a-phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        # Leave the channel as the demo had it: nothing delivered to a receiver that is gone.
        page.goto(f"{served.base_url}/dispatch-configs/{config_id}")
        page.click("section.actions button:has-text('Deactivate')")
        page.wait_for_function(
            "() => document.querySelector('h1 .badge').textContent.trim() === 'inactive'"
        )
