"""The API reference pages work offline: every asset they load is served by the process itself
(the Chromium check is in tests/browser/test_api_docs.py)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

VENDOR_README = Path(__file__).resolve().parents[2] / "src/reten/apidocs/static/vendor/README.md"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url: ?['"]([^'"]+)['"]""", html
    )


class TestReferencePages:
    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_page_loads_only_assets_of_this_server(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        page = await client.get(path)
        assert page.status_code == 200
        urls = _asset_urls(page.text)
        assert urls, page.text
        for url in urls:
            assert url.startswith("/"), f"{path} loads {url} from elsewhere"
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url

    async def test_assets_are_the_recorded_versions(self, client: httpx.AsyncClient) -> None:
        readme = VENDOR_README.read_text()
        rows = re.findall(r"\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{64})` \|", readme)
        assert len(rows) == 4
        for name, digest in rows:
            asset = await client.get(f"/docs/assets/{name}")
            assert asset.status_code == 200, name
            assert hashlib.sha256(asset.content).hexdigest() == digest, name
