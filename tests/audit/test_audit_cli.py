"""`reten audit list --tenant SLUG`, run as a real subprocess on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RETEN = [sys.executable, "-m", "reten.cli.main"]


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(RETEN_DATABASE_URL=url, RETEN_LOG_LEVEL="WARNING")
    return subprocess.run(
        [*RETEN, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


class TestAuditListCommand:
    def test_lists_the_tenants_events_newest_first_and_filters(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
        made = _run(
            url, "tenants", "create", "acme", "--name", "Acme", "--admin-email", "a@acme.test"
        )
        assert made.returncode == 0, made.stderr
        key = _run(
            url, "api-keys", "create", "--tenant", "acme", "--name", "sync",
            "--permission", "VIEW_ACTIVITIES",
        )  # fmt: skip
        assert key.returncode == 0, key.stderr
        plaintext = key.stdout.strip()
        assert plaintext.startswith("rtn_sk_")

        listed = _run(url, "audit", "list", "--tenant", "acme")
        assert listed.returncode == 0, listed.stderr
        events = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        assert [e["action"] for e in events] == ["api_key.created", "tenant.created"]
        assert events[0]["actor"] == {"type": "SYSTEM", "id": None, "label": None}
        assert events[0]["target"]["label"] == "sync"
        assert plaintext not in listed.stdout

        only = _run(url, "audit", "list", "--tenant", "acme", "--action", "tenant.created")
        assert [json.loads(x)["action"] for x in only.stdout.splitlines()] == ["tenant.created"]

    def test_unknown_tenant_or_action_is_an_error(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
        missing = _run(url, "audit", "list", "--tenant", "nope")
        assert missing.returncode == 1 and "no tenant" in missing.stderr
        bad = _run(url, "audit", "list", "--tenant", "nope", "--action", "x.y")
        assert bad.returncode == 1 and "unknown action" in bad.stderr
