"""A browser-like client for panel tests: its own cookie jar, forms posted with their CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no form with a CSRF token"
    return found.group(1)


class PanelClient:
    """One person's browser: cookies kept between requests, never shared with other tests."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.last_html = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_html = response.text
        return response

    async def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]], *, csrf: bool = True
    ) -> httpx.Response:
        """POST a form as a browser would, with the token of the last page seen."""
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            fields.append(("csrf_token", csrf_of(self.last_html)))
        response = await self.http.post(
            path,
            content=httpx.QueryParams(fields).__str__(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_html = response.text
        return response

    async def htmx_post(self, path: str, content: str) -> httpx.Response:
        """POST as htmx does: the token in the header set on <body> of the last page."""
        token = self.last_html.split('"X-CSRF-Token": "')[1].split('"')[0]
        return await self.http.post(
            path,
            content=content,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "hx-request": "true",
                "x-csrf-token": token,
            },
        )

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        return await self.post("/login", {"email": email, "password": password})


@asynccontextmanager
async def browser(app: object) -> AsyncIterator[PanelClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    # A browser asks for HTML; the panel answers unknown paths with a page only to such a client.
    headers = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as http:
        yield PanelClient(http)
