"""R2 (quality.md): no delivery is lost when a dispatcher dies, none is doubled by two dispatchers
while a lease holds. The dispatchers here are real processes (`reten worker` on PostgreSQL,
`reten serve` on SQLite, where the dispatcher only runs inside the server) sharing the test
database, delivering to a receiver in this process that counts `webhook-id`s.

Each test delivers to a path of its own and counts only its own activities: a dispatcher
process serves every tenant, so it also picks up what earlier tests left behind in the shared
database, and a receiver port may be one an earlier test's config still points at.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from reten.activities import batch
from reten.activities.models import Activity
from reten.config import Settings
from reten.kit.actor import Actor
from reten.kit.db import Database
from tests.conftest import BACKEND
from tests.dispatch import support
from tests.dispatch.receiver import Receiver, Reply
from tests.factories import Factory, World, unique

RETEN = [sys.executable, "-m", "reten.cli.main"]
# Every wait is bounded, and all of one test's waits together too, so that a stuck dispatcher
# fails its test within a minute instead of hanging the suite.
WAIT_S = 40.0
TEST_BUDGET_S = 55.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dispatchers:
    """Dispatcher processes of one test, all SIGKILLed at the end whatever happened."""

    def __init__(self, database_url: str, settings: Settings, logs: Path) -> None:
        self.database_url = database_url
        self.secret_key = settings.secret_key
        self.logs = logs
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.deadline = time.monotonic() + TEST_BUDGET_S

    def deadline_in(self, seconds: float) -> float:
        return min(time.monotonic() + seconds, self.deadline)

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
        environ.update(
            RETEN_DATABASE_URL=self.database_url,
            # The same key as the test app's, or the dispatcher cannot open the credentials.
            RETEN_SECRET_KEY=self.secret_key,
            RETEN_DISPATCH_ALLOW_PRIVATE_NETWORKS="true",  # the receiver is on loopback
            RETEN_LOG_LEVEL="WARNING",
            RETEN_MIGRATE_ON_START="false",  # the test session created the schema
            **env,
        )
        if BACKEND == "postgres":
            command = [*RETEN, "worker"]
        else:
            command = [*RETEN, "serve", "--port", str(_free_port())]
        log = self.logs / f"dispatcher-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(command, env=environ, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return proc

    def check_alive(self) -> None:
        for proc, log in self.procs:
            # A process the test killed itself was waited for, so its returncode is set.
            if proc.returncode is None and proc.poll() is not None:
                raise AssertionError(
                    f"dispatcher exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
                )

    def kill_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def dispatchers(database_url: str, settings: Settings, tmp_path: Path) -> Iterator[Dispatchers]:
    procs = Dispatchers(database_url, settings, tmp_path)
    try:
        yield procs
    finally:
        procs.kill_all()


async def _until(
    condition: Callable[[], object],
    what: str | Callable[[], str],
    procs: Dispatchers,
    within: float = WAIT_S,
) -> None:
    deadline = procs.deadline_in(within)
    while not condition():
        procs.check_alive()
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {said}")
        await asyncio.sleep(0.02)


async def _create(db: Database, world: World, count: int) -> list[uuid.UUID]:
    """`count` READY tasks in one transaction (the batch path: fast, and it wakes dispatchers)."""
    items = [
        {
            "type": "TASK",
            "reason": "retention",
            "channel": "SALESMAN",
            "commerce_id": str(world.commerce_ids[0]),
            "idempotency_key": unique("r2"),
            "scheduled_at": "2030-01-01T09:00:00Z",
            "assigned_route_id": str(world.route_id),
            "assigned_operator_id": str(world.operator_id),
        }
        for _ in range(count)
    ]
    async with db.sessionmaker() as session:
        results = await batch.create_batch(session, world.tenant_id, items, Actor.system())
    assert all(r.status == batch.ItemStatus.CREATED for r in results), results[:3]
    return [r.activity_id for r in results if r.activity_id is not None]


async def _dispatched(db: Database, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(Activity.id).where(Activity.id.in_(ids), Activity.status == "DISPATCHED")
        )
        return set(rows.scalars())


async def _until_dispatched(db: Database, ids: list[uuid.UUID], procs: Dispatchers) -> None:
    deadline = procs.deadline_in(WAIT_S)
    while len(done := await _dispatched(db, ids)) < len(ids):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(done)} of {len(ids)} activities DISPATCHED")
        await asyncio.sleep(0.1)


def _message_id(activity_id: uuid.UUID) -> str:
    return f"msg_{activity_id.hex}"


class Tally:
    """The webhook-ids one test's receiver got on its own path."""

    def __init__(self, receiver: Receiver, path: str, ids: list[uuid.UUID] | None = None) -> None:
        self.receiver = receiver
        self.path = path
        self.expected: set[str] = set()
        if ids:
            self.expect(ids)

    def expect(self, ids: list[uuid.UUID]) -> None:
        self.expected |= {_message_id(i) for i in ids}

    def counts(self) -> Counter[str]:
        return Counter(
            r.headers.get("webhook-id", "") for r in self.receiver.received if r.path == self.path
        )

    def missing(self) -> set[str]:
        return self.expected - set(self.counts())

    def waiting(self) -> str:
        return f"{len(self.missing())} of {len(self.expected)} activities at the receiver"


async def _setup(
    factory: Factory, receiver: Receiver, delay: float, **config: Any
) -> tuple[support.Tenant, str]:
    t = await support.tenant(factory)
    path = f"/r2-{uuid.uuid4().hex[:12]}"
    await support.make_config(factory.client, t, base_url=receiver.url(path), **config)
    receiver.answer(Reply(delay=delay))
    return t, path


async def _listeners(db: Database) -> int:
    """Connections LISTENing on this database: a worker's is open before its first round."""
    async with db.sessionmaker() as session:
        found = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
            )
        )
        return int(found.scalar_one())


async def _until_listening(db: Database, count: int, procs: Dispatchers) -> None:
    deadline = procs.deadline_in(WAIT_S)
    while await _listeners(db) < count:
        procs.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} workers listening")
        await asyncio.sleep(0.1)


class TestKillAndRestart:
    async def test_a_killed_dispatcher_loses_no_delivery(
        self, factory: Factory, db: Database, receiver: Receiver, dispatchers: Dispatchers
    ) -> None:
        """R2 on both databases: SIGKILL mid-run, restart, every activity arrives at least once."""
        # A timeout of 1 s makes the lease 6 s (timeout + 5 s margin, over the 2 s asked for):
        # the deliveries cut short by the kill come back after that, not after a minute.
        t, path = await _setup(factory, receiver, 0.05, timeout_seconds=1, max_concurrency=4)
        ids = await _create(db, t.world, 150)
        tally = Tally(receiver, path, ids)

        first = dispatchers.start(RETEN_DISPATCH_LEASE_SECONDS="2")
        # Kill while requests are open at the receiver: those deliveries happened but their
        # outcome was never written, which is the case at-least-once is about.
        await _until(
            lambda: sum(tally.counts().values()) >= 20 and receiver.in_flight > 0,
            "the first deliveries",
            dispatchers,
        )
        first.kill()
        first.wait(timeout=10)
        before_kill = set(tally.counts())
        assert len(before_kill) < len(ids), "everything was delivered before the kill"
        cut_short = before_kill - {_message_id(i) for i in await _dispatched(db, ids)}
        assert cut_short, "no delivery was in flight at the kill"

        dispatchers.start(RETEN_DISPATCH_LEASE_SECONDS="2")
        await _until(lambda: not tally.missing(), tally.waiting, dispatchers)
        await _until_dispatched(db, ids, dispatchers)

        counts = tally.counts()
        assert not tally.missing()
        # What the dead process had sent but not recorded is delivered again once its lease
        # expires.
        assert all(counts[m] >= 2 for m in cut_short), {m: counts[m] for m in cut_short}


# SKIP LOCKED and LISTEN/NOTIFY are PostgreSQL's; on SQLite a single dispatcher runs inside the
# server and `reten worker` refuses to start, so there is nothing to run there.
@pytest.mark.skipif(BACKEND != "postgres", reason="several dispatcher processes need PostgreSQL")
class TestTwoWorkers:
    async def test_no_activity_is_delivered_twice(
        self, factory: Factory, db: Database, receiver: Receiver, dispatchers: Dispatchers
    ) -> None:
        t, path = await _setup(factory, receiver, 0.03, timeout_seconds=2, max_concurrency=4)
        # A backlog both workers find at start, then activities created while both are running
        # (both are woken by the same NOTIFY and race for the same rows).
        ids = await _create(db, t.world, 150)
        tally = Tally(receiver, path, ids)
        dispatchers.start()
        dispatchers.start()
        await _until_listening(db, 2, dispatchers)
        more = await _create(db, t.world, 150)
        tally.expect(more)
        ids += more

        await _until(lambda: not tally.missing(), tally.waiting, dispatchers)
        await _until_dispatched(db, ids, dispatchers)
        counts = tally.counts()
        doubled = {m: n for m, n in counts.items() if n > 1}
        assert not doubled, f"{len(doubled)} activities delivered more than once"
        assert sum(counts.values()) == len(ids)
        # One worker never has more than max_concurrency (4) requests open on a config: more
        # at once means both were delivering side by side, so the claims really competed.
        assert receiver.max_in_flight > 4

    async def test_a_running_worker_is_woken_by_notify(
        self, factory: Factory, db: Database, receiver: Receiver, dispatchers: Dispatchers
    ) -> None:
        t, path = await _setup(factory, receiver, 0.0)
        # With a 30 s poll, a delivery within seconds can only come from the NOTIFY sent when
        # the activities' transaction commits.
        dispatchers.start(RETEN_DISPATCH_POLL_SECONDS="30")
        await _until_listening(db, 1, dispatchers)
        # The worker's start-up round may catch this one; once it is delivered the worker waits
        # for a wake-up (a round that found work runs again at once, then sleeps).
        probe = await _create(db, t.world, 1)
        tally = Tally(receiver, path, probe)
        await _until(lambda: not tally.missing(), "the probe", dispatchers)
        await _until_dispatched(db, probe, dispatchers)
        await asyncio.sleep(1.0)

        ids = await _create(db, t.world, 20)
        tally.expect(ids)
        await _until(lambda: not tally.missing(), "the woken worker", dispatchers, within=10)
