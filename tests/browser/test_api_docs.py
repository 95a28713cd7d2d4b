"""The API reference pages work offline: every asset they load is served by the process itself."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VENDOR_README = Path(__file__).resolve().parents[2] / "src/reten/apidocs/static/vendor/README.md"
ARTIFACTS = Path(__file__).resolve().parents[1] / "browser" / "artifacts"


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
        import hashlib

        readme = VENDOR_README.read_text()
        rows = re.findall(r"\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{64})` \|", readme)
        assert len(rows) == 4
        for name, digest in rows:
            asset = await client.get(f"/docs/assets/{name}")
            assert asset.status_code == 200, name
            assert hashlib.sha256(asset.content).hexdigest() == digest, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A real `reten serve` process on a free port (the reference needs no data: SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(
        RETEN_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}",
        RETEN_LOG_LEVEL="WARNING",
        RETEN_RUN_DISPATCHER="false",
    )
    port = _free_port()
    log = (tmp_path / "server.out").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reten.cli.main", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        log.seek(0)
        assert proc.poll() is None, f"server exited:\n{log.read()}"
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class TestReferenceInChromium:
    """Chromium on a machine without internet: any request off this server would fail."""

    @pytest.mark.parametrize(
        ("path", "ready"),
        [
            ("/docs", ".opblock-tag-section"),
            ("/redoc", "[data-section-id^='tag/']"),
        ],
    )
    def test_reference_renders_the_operations(self, served: str, path: str, ready: str) -> None:
        from playwright.sync_api import Request, sync_playwright

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # Requests off this server, except those the page's own policy stops in the browser.
        foreign: list[str] = []

        def leaves(request: Request) -> None:
            if not request.url.startswith((served, "data:", "blob:")):
                foreign.append(request.url)

        def blocked(request: Request) -> None:
            if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP") and request.url in foreign:
                foreign.remove(request.url)

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("request", leaves)
                page.on("requestfailed", blocked)
                page.goto(f"{served}{path}")
                page.wait_for_selector(ready, timeout=30_000)
                assert page.locator(ready).count() > 3
                page.screenshot(path=str(ARTIFACTS / f"api-reference{path.replace('/', '-')}.png"))
            finally:
                browser.close()
        assert foreign == []
