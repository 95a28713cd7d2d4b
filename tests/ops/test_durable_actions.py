"""Durable actions: an accepted 202 is recorded before it is answered and carried out by any
dispatcher, so killing the process between the answer and the delivery loses nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from reten.kit.db import Database
from tests.dispatch import support
from tests.dispatch.receiver import Receiver
from tests.factories import Factory
from tests.ops.procs import Procs


class TestResendSurvivesAKill:
    async def test_a_resend_accepted_before_a_sigkill_is_delivered_after_the_restart(
        self,
        app: Any,
        factory: Factory,
        db: Database,
        client: httpx.AsyncClient,
        receiver: Receiver,
        procs: Procs,
    ) -> None:
        t, cfg = await support.setup(factory, client, receiver)
        activity_id = await factory.task(t.world)
        await support.dispatcher(app, t).drain()
        assert (await support.activity(db, activity_id)).status == "DISPATCHED"

        # An API process without a dispatcher accepts the resend, then dies at once.
        api = procs.start("serve", "--no-dispatcher")
        await api.until_ready()
        async with httpx.AsyncClient(base_url=api.url) as http:
            response = await http.post(f"/api/activities/{activity_id}/resend", headers=t.headers)
        assert response.status_code == 202, response.text
        api.kill()
        assert len(receiver.received) == 1
        assert (await support.activity(db, activity_id)).resend_requested_at is not None

        # Any process with a dispatcher picks it up.
        procs.start("serve")
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2:
            assert time.monotonic() < deadline, "the recorded resend was never delivered"
            await asyncio.sleep(0.05)
        assert receiver.ids()[0] == receiver.ids()[1]
        while (await support.activity(db, activity_id)).resend_requested_at is not None:
            assert time.monotonic() < deadline, "the resend was delivered but never recorded"
            await asyncio.sleep(0.05)
        rows = await support.attempts(db, activity_id)
        assert [(a.attempt_number, a.trigger) for a in rows] == [(1, "SCHEDULED"), (2, "RESEND")]
        assert rows[1].dispatch_config_id.hex == cfg["id"].replace("-", "")
