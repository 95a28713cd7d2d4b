"""The files under examples/, run as an integrator would run them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from reten.client import Reten
from reten.receiver import new_secret, sign
from tests.client.conftest import Live
from tests.client.test_receiver import payload

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestReceivers:
    @pytest.mark.parametrize("name", ["fastapi_receiver", "wsgi_receiver"])
    async def test_accepts_signed_refuses_forged_and_malformed(self, name: str) -> None:
        module = load(name)
        old, new = new_secret(), new_secret()
        module.SECRETS = [new, old]  # mid-rotation
        if name == "fastapi_receiver":
            asgi = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=module.app), base_url="http://r"
            )

            async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
                return await asgi.post("/reten/webhook", content=body, headers=headers)
        else:
            # httpx drives a WSGI app only from a sync client.
            wsgi = httpx.Client(transport=httpx.WSGITransport(app=module.app), base_url="http://r")

            async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
                return wsgi.post("/reten/webhook", content=body, headers=headers)  # noqa: ASYNC212  (in-process WSGI call, no network)

        body, headers = sign(payload(), old, message_id="msg_1")
        ok = await post(body, headers)
        assert ok.status_code == 200 and ok.json() == {"id": f"job-{payload()['id']}"}
        again = await post(body, headers)  # a retry of the same delivery
        assert again.status_code == 200 and list(module.received) == ["msg_1"]
        forged = await post(body.replace(b"COM-001", b"COM-999"), headers)
        assert forged.status_code == 401
        wrong, wrong_headers = sign(b'{"type":"activity.dispatched"}', new)
        assert (await post(wrong, wrong_headers)).status_code == 400


class TestPullWorkerExample:
    def test_ten_lines_complete_every_pending_task(self, live: Live) -> None:
        world = live.world(4)
        env = {**os.environ, "RETEN_BASE_URL": live.base_url, "RETEN_API_KEY": live.api_key}
        subprocess.run(
            [sys.executable, str(EXAMPLES / "pull_worker.py")], env=env, check=True, timeout=300,
            capture_output=True,
        )  # fmt: skip
        with Reten(live.base_url, live.api_key) as client:
            page = client.tasks.list(external_commerce_id=world.commerce_external_id)
            assert page.meta.total == 4 and {t.status for t in page.data} == {"COMPLETED"}
            assert {t.result_code for t in page.data} == {"SALE_COMPLETED"}
