"""Graceful stop: on SIGTERM `reten serve` stops accepting connections, finishes the requests and
the deliveries in flight, records their outcome and exits 0, so a deploy neither loses nor
repeats a delivery."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import orjson
import pytest
from sqlalchemy import func, select

from reten.activities.models import Activity, Channel
from reten.dispatch.models import DispatchAttempt
from reten.kit.db import Database
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.dispatch.test_worker_processes import _create, _message_id
from tests.factories import Factory, result_body
from tests.ops.procs import Procs

WAIT_S = 30.0


async def _until(condition: object, what: str, within: float = WAIT_S) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _counts(receiver: Receiver, path: str) -> Counter[str]:
    return Counter(r.headers.get("webhook-id", "") for r in receiver.received if r.path == path)


async def _states(db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, int]]:
    async with db.sessionmaker() as session:
        attempts = (
            select(func.count())
            .select_from(DispatchAttempt)
            .where(DispatchAttempt.activity_id == Activity.id)
            .scalar_subquery()
        )
        rows = await session.execute(
            select(Activity.id, Activity.status, attempts).where(Activity.id.in_(ids))
        )
        return {i: (status, n) for i, status, n in rows.all()}


class TestSigterm:
    async def test_in_flight_requests_and_deliveries_finish_and_the_exit_status_is_0(
        self, factory: Factory, db: Database, receiver: Receiver, procs: Procs
    ) -> None:
        t = await support.tenant(factory)
        path = f"/stop-{uuid.uuid4().hex[:12]}"
        # Slow answers, so that deliveries are open at the receiver when the signal comes.
        await support.make_config(
            factory.client, t, base_url=receiver.url(path), timeout_seconds=5, max_concurrency=4
        )
        receiver.answer(Reply(delay=1.0))
        # Answered by the request in flight; on a channel without a config, so never delivered.
        answer_to = await factory.task(t.world, channel=Channel.CALLCENTER)
        # Ten seconds of deliveries at 4 × 1 s: a loaded machine may take seconds between the
        # first delivery and the signal, and the test needs some left undelivered by then.
        ids = await _create(db, t.world, 40)

        server = procs.start("serve", RETEN_SHUTDOWN_GRACE_SECONDS="15")
        await server.until_ready()
        await _until(lambda: receiver.in_flight > 0, "deliveries in flight")

        # A request in flight too: headers and half its body sent before the signal.
        body = orjson.dumps(result_body(t.world, answer_to))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /api/integration/activity-results/tasks HTTP/1.1\r\nhost: test\r\n"
            + f"x-api-key: {t.headers['x-api-key']}\r\n".encode()
            + b"content-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        await writer.drain()
        await asyncio.sleep(0.3)
        in_flight_at_signal = set(_counts(receiver, path))
        server.terminate()
        await asyncio.sleep(0.5)
        # No new connection is accepted once stopping...
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)
        # ...but the open request is served to the end.
        writer.write(body[len(body) // 2 :])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 201"), status_line

        assert await server.exit_code() == 0, server.output()
        states = await _states(db, ids)
        delivered = _counts(receiver, path)
        assert in_flight_at_signal and set(in_flight_at_signal) <= set(delivered)
        # Everything the receiver got before the process exited was recorded as delivered,
        # once: no lease is left to expire into a second delivery.
        for activity_id in ids:
            if _message_id(activity_id) in delivered:
                assert states[activity_id] == ("DISPATCHED", 1), states[activity_id]
        left = [i for i in ids if _message_id(i) not in delivered]
        assert left, "everything was delivered before the signal: the test proves nothing"

        # The next process delivers the rest, and nothing twice.
        receiver.answer(Reply())
        restarted = procs.start("serve")
        await restarted.until_ready()
        await _until(lambda: len(_counts(receiver, path)) == len(ids), "the rest of the deliveries")
        await asyncio.sleep(1.5)  # a doubled delivery would show by now
        counts = _counts(receiver, path)
        assert {m: n for m, n in counts.items() if n > 1} == {}
        assert set(counts) == {_message_id(i) for i in ids}
