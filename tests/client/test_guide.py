"""docs/integrator-guide.md: its runnable Python blocks, run as written against the server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from reten.client import Reten
from tests.client.conftest import Live

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrator-guide.md"


def block(after: str) -> str:
    """The first ```python block after the heading `after`."""
    text = GUIDE.read_text()
    found = re.search(r"```python\n(.*?)```", text[text.index(after) :], flags=re.S)
    assert found is not None, after
    return found.group(1)


def run(live: Live, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(RETEN_BASE_URL=live.base_url, RETEN_API_KEY=live.api_key)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestGuide:
    def test_the_quickstart_steps(self, live: Live) -> None:
        live.world(1)  # at least one pending task
        out = run(live, block("## The four quickstart steps with the SDK")).splitlines()
        assert re.fullmatch(r"[0-9a-f-]{36} COMPLETED", out[-1]), out

    def test_the_whole_pull_integration_in_ten_lines(self, live: Live) -> None:
        code = block("### A whole pull integration")
        assert len(code.strip().splitlines()) <= 10
        world = live.world(3)
        run(live, code)
        with Reten(live.base_url, live.api_key) as client:
            page = client.tasks.list(external_commerce_id=world.commerce_external_id)
        assert {t.status for t in page.data} == {"COMPLETED"} and page.meta.total == 3
