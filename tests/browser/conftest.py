"""Browser tests: a real `reten serve` process and Debian's chromium driven by Playwright.

The served process uses the suite's database backend (RETEN_TEST_DATABASE): a temporary SQLite
file, or a fresh PostgreSQL database named after RETEN_TEST_PG_PREFIX. It is seeded with
`reten demo --json` first, exactly as a new user's first command seeds it. Screenshots go to
tests/browser/artifacts/ (git-ignored); every test names its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import BACKEND, _drop_pg_database, _recreate_pg_database, _worker

T = TypeVar("T")
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
ARTIFACTS = Path(__file__).parent / "artifacts"
# Generous: on a loaded 2-core machine a start with demo seeding can take a minute or more.
START_TIMEOUT = 180.0
# Every Playwright wait is bounded: a broken page fails in seconds, it never hangs the suite.
ACTION_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Served:
    base_url: str
    admin_email: str
    admin_password: str
    tenant_id: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own thread: Playwright's sync API keeps an event
    loop running on the test thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _reten(*args: str) -> list[str]:
    return [sys.executable, "-m", "reten.cli.main", *args]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pg_name = None
    if BACKEND == "postgres":
        prefix = os.environ.get("RETEN_TEST_PG_PREFIX", "reten_test")
        pg_name = f"{prefix}_browser_{_worker()}"
        url = _run(_recreate_pg_database(pg_name))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'reten.db'}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "RETEN_DATABASE_URL": url,
        "RETEN_PUBLIC_URL": base_url,
        "RETEN_SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "RETEN_LOG_LEVEL": "WARNING",
        "RETEN_ACCESS_LOG": "false",
        # The dispatch flow delivers to a receiver on loopback (the default only in development).
        "RETEN_DISPATCH_ALLOW_PRIVATE_NETWORKS": "true",
        # Every test logs the demo admin in (panel and API) within the same minute; the login
        # limit itself is tested server-side (tests/admin, tests/auth).
        "RETEN_LOGIN_RATE_LIMIT": "1000",
    }
    seeded = subprocess.run(
        _reten("demo", "--json"), env=env, capture_output=True, text=True, timeout=120, check=True
    )
    demo: dict[str, Any] = json.loads(seeded.stdout.strip().splitlines()[-1])
    log = (tmp_path_factory.mktemp("browser-log") / "serve.log").open("w")
    process = subprocess.Popen(
        _reten("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"reten serve exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"reten serve did not answer within {START_TIMEOUT} s")
            time.sleep(0.2)
        yield Served(base_url, demo["admin_email"], demo["admin_password"], demo["tenant_id"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        if pg_name is not None:
            _run(_drop_pg_database(pg_name))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Screens:
    """Saves screenshots of a test's pages as artifacts/<test>-<n>-<name>.png."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.prefix = test_name
        self.count = 0

    def shot(self, name: str) -> Path:
        self.count += 1
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (own cookies) whose console CSP violations fail the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    violations: list[str] = []
    tab.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    tab.screens = Screens(tab, request.node.name)
    try:
        yield tab
    finally:
        context.close()
    assert not violations, f"CSP violations: {violations}"
