"""The API reference renders in Chromium on a machine without internet: any request off this
server would fail (the assets themselves are checked in tests/apidocs)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Served


class TestReferenceInChromium:
    """Chromium on a machine without internet: any request off this server would fail."""

    @pytest.mark.parametrize(
        ("path", "ready"),
        [
            ("/docs", ".opblock-tag-section"),
            ("/redoc", "[data-section-id^='tag/']"),
        ],
    )
    def test_reference_renders_the_operations(
        self, served: Served, chromium: Any, path: str, ready: str
    ) -> None:
        from playwright.sync_api import Request

        base = served.base_url
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # Requests off this server, except those the page's own policy stops in the browser.
        foreign: list[str] = []

        def leaves(request: Request) -> None:
            if not request.url.startswith((base, "data:", "blob:")):
                foreign.append(request.url)

        def blocked(request: Request) -> None:
            if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP") and request.url in foreign:
                foreign.remove(request.url)

        # A context of its own, not the `page` fixture: the reference is not the panel, and the
        # requests its policy blocks are expected (checked above), not failures.
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.on("request", leaves)
            page.on("requestfailed", blocked)
            page.goto(f"{base}{path}")
            page.wait_for_selector(ready, timeout=30_000)
            assert page.locator(ready).count() > 3
            page.screenshot(path=str(ARTIFACTS / f"api-reference{path.replace('/', '-')}.png"))
        finally:
            context.close()
        assert foreign == []
