"""The README's quickstart, SDK version: its Python blocks, run unmodified against the server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import Live

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_python() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Integrator quickstart") : text.index("## Command line")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


class TestReadmeQuickstart:
    def test_the_sdk_steps_run_as_written(self, live: Live) -> None:
        blocks = quickstart_python()
        assert len(blocks) == 3  # steps 2, 3 and 4
        live.world(1)  # at least one pending task, whatever earlier tests submitted
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
        env.update(RETEN_BASE_URL=live.base_url, RETEN_API_KEY=live.api_key)
        done = subprocess.run(
            [sys.executable, "-c", "\n".join(blocks)], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("['SALE_COMPLETED'") and int(lines[1]) >= 1
        assert re.fullmatch(r"[0-9a-f-]{36} COMPLETED", lines[-1])
