"""The README's screenshots of the panel exist and are the ones `scripts/screenshots` writes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_screenshot_the_readme_shows_is_committed_and_regenerated_by_the_script() -> None:
    shown = re.findall(r"\]\((docs/screenshots/[\w-]+\.png)\)", (ROOT / "README.md").read_text())
    script = (ROOT / "scripts" / "screenshots").read_text()
    assert len(shown) == 2
    for path in shown:
        assert (ROOT / path).read_bytes().startswith(PNG_SIGNATURE), path
        assert f'("{Path(path).stem}", "/' in script, f"scripts/screenshots does not write {path}"
