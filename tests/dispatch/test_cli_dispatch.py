"""`reten dispatch test`: a synthetic activity through a tenant's active config of a channel,
run as the real command. It prints the provider's answer as JSON, exits 0 only when the provider
accepted it, and stores nothing (no activity, no attempt)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from reten.activities.models import Activity
from reten.config import Settings
from reten.dispatch.models import DispatchAttempt
from reten.kit.db import Database
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import Factory

RETEN = [sys.executable, "-m", "reten.cli.main"]
TIMEOUT_S = 60


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        # The console wraps long lines on stderr; compare text, not layout.
        return " ".join(self.stderr.split())

    def answer(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


async def dispatch_test(database_url: str, settings: Settings, *args: str) -> Run:
    """Run the command without blocking this event loop: the receiver answers from it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(
        # The test app's key, which sealed the config's secrets.
        RETEN_SECRET_KEY=settings.secret_key,
        RETEN_DISPATCH_ALLOW_PRIVATE_NETWORKS="true",  # the receiver is on loopback
    )
    proc = await asyncio.create_subprocess_exec(
        *RETEN, "dispatch", "test", *args, "--database-url", database_url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def stored(db: Database, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(activities, dispatch attempts) of the tenant."""
    async with db.sessionmaker() as session:
        counts = []
        for model in (Activity, DispatchAttempt):
            query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            counts.append(int((await session.execute(query)).scalar_one()))
    return counts[0], counts[1]


class TestDispatchTestCommand:
    async def test_accepted_delivery_prints_success_and_exits_0(
        self,
        factory: Factory,
        db: Database,
        receiver: Receiver,
        settings: Settings,
        database_url: str,
    ) -> None:
        t = await support.tenant(factory)
        cfg = await support.make_config(factory.client, t, base_url=receiver.url())
        run = await dispatch_test(
            database_url, settings, "--tenant", t.world.slug, "--channel", "salesman"
        )
        assert run.code == 0, run.stderr
        answer = run.answer()
        assert answer["outcome"] == "SUCCESS" and answer["httpStatus"] == 200
        assert answer["dispatchConfigId"] == cfg["id"]
        assert answer["error"] is None and answer["responseExcerpt"] == "ok"

        # One signed delivery of a synthetic activity of the tenant, marked as a test.
        [got] = receiver.received
        envelope = Webhook(cfg["signingSecret"]).verify(got.body, got.headers)
        data = envelope["data"]
        assert data["test"] is True and data["channel"] == "SALESMAN"
        assert data["tenant"] == {"id": str(t.world.tenant_id), "slug": t.world.slug}
        assert (
            answer["requestId"] == got.headers["webhook-id"] == f"msg_{uuid.UUID(data['id']).hex}"
        )
        assert await stored(db, t.world.tenant_id) == (0, 0)

    async def test_refused_delivery_prints_failure_and_exits_1(
        self,
        factory: Factory,
        db: Database,
        receiver: Receiver,
        settings: Settings,
        database_url: str,
    ) -> None:
        t = await support.tenant(factory)
        await support.make_config(factory.client, t, base_url=receiver.url())
        receiver.answer(Reply(status=500, body=b"upstream broke"))
        run = await dispatch_test(
            database_url, settings, "--tenant", t.world.slug, "--channel", "SALESMAN"
        )
        assert run.code == 1, run.stderr
        answer = run.answer()
        assert (answer["outcome"], answer["httpStatus"]) == ("FAILURE", 500)
        assert answer["error"] == "HTTP 500" and answer["responseExcerpt"] == "upstream broke"
        # Tried once: a test delivery is not retried.
        assert len(receiver.received) == 1
        assert await stored(db, t.world.tenant_id) == (0, 0)

    async def test_unknown_tenant_is_an_error(self, settings: Settings, database_url: str) -> None:
        slug = f"no-such-{uuid.uuid4().hex[:8]}"
        run = await dispatch_test(database_url, settings, "--tenant", slug, "--channel", "SALESMAN")
        assert run.code != 0 and run.stdout == ""
        assert f"Tenant {slug} not found" in run.message

    async def test_channel_without_an_active_config_is_an_error(
        self,
        factory: Factory,
        db: Database,
        receiver: Receiver,
        settings: Settings,
        database_url: str,
    ) -> None:
        t = await support.tenant(factory)
        cfg = await support.make_config(factory.client, t, base_url=receiver.url())
        deactivated = await factory.client.post(
            f"/api/dispatch-configs/{cfg['id']}/deactivate", headers=t.headers
        )
        assert deactivated.status_code == 200, deactivated.text
        # An inactive config of the channel, and a channel with no config at all.
        for channel in ("SALESMAN", "CALLCENTER"):
            run = await dispatch_test(
                database_url, settings, "--tenant", t.world.slug, "--channel", channel
            )
            assert run.code != 0 and run.stdout == ""
            assert f"No active dispatch config for channel {channel}" in run.message
        assert receiver.received == []
        assert await stored(db, t.world.tenant_id) == (0, 0)

    async def test_unknown_channel_is_a_usage_error(
        self, factory: Factory, settings: Settings, database_url: str
    ) -> None:
        t = await support.tenant(factory)
        run = await dispatch_test(
            database_url, settings, "--tenant", t.world.slug, "--channel", "FAX"
        )
        assert run.code == 2 and run.stdout == ""
        assert "unknown channel FAX" in run.message
