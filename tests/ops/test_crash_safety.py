"""R1 (quality.md): no acknowledged write is lost when the server is SIGKILLed under load.

A real `reten serve` process takes result submissions (and activity creations) from several
clients at full speed; it is killed mid-load, restarted, and every 201 the clients received
must be in the database, with no activity holding two current final results and no
idempotency key used twice. On SQLite (WAL) and PostgreSQL, whichever the suite runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from reten.activities import batch
from reten.activities.models import Activity
from reten.auth.permissions import Permission
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.results.models import ActivityResult
from tests.factories import Factory, World, result_body, unique
from tests.ops.procs import Procs

CLIENTS = 6
# The kill comes after this many answers (or LOAD_MAX_S, on a very busy machine): enough writes
# in flight and behind it to matter, few enough to stay a few seconds in CI.
KILL_AFTER = 120
LOAD_MAX_S = 10.0


async def _tasks(db: Database, world: World, count: int) -> list[uuid.UUID]:
    items = [
        {
            "type": "TASK",
            "reason": "retention",
            "channel": "SALESMAN",
            "commerce_id": str(world.commerce_ids[0]),
            "idempotency_key": unique("r1"),
            "scheduled_at": "2030-01-01T09:00:00Z",
            "assigned_route_id": str(world.route_id),
            "assigned_operator_id": str(world.operator_id),
        }
        for _ in range(count)
    ]
    async with db.sessionmaker() as session:
        results = await batch.create_batch(session, world.tenant_id, items, Actor.system())
    return [r.activity_id for r in results if r.activity_id is not None]


async def _load_then_kill(
    server: Any, request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response | None]]
) -> tuple[int, int]:
    """Run CLIENTS loops of `request` until the server is SIGKILLed mid-load. Returns how
    many requests were answered and how many were cut off by the kill."""
    answered = 0
    cut_off = 0
    killed = asyncio.Event()
    enough = asyncio.Event()

    async def client_loop() -> None:
        nonlocal answered, cut_off
        # One connection per client, like separate integrators.
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            while not killed.is_set():
                try:
                    response = await request(client)
                except httpx.TransportError:
                    cut_off += 1
                    return
                if response is None:
                    return
                answered += 1
                if answered >= KILL_AFTER:
                    enough.set()

    clients = [asyncio.create_task(client_loop()) for _ in range(CLIENTS)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(enough.wait(), LOAD_MAX_S)
    server.kill()
    killed.set()
    await asyncio.wait_for(asyncio.gather(*clients), 20)
    return answered, cut_off


class TestResultsSurviveSigkill:
    async def test_every_201_is_stored_and_no_activity_has_two_final_results(
        self, factory: Factory, db: Database, procs: Procs
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world)
        ids = await _tasks(db, world, 600)
        # Every activity is submitted to twice in a row, so two clients race for it: one wins,
        # the other is refused, and the kill lands in the middle of both kinds.
        queue = [i for i in ids for _ in range(2)]
        acknowledged: dict[str, str] = {}

        server = procs.start("serve", "--no-dispatcher")
        await server.until_ready()

        async def submit(client: httpx.AsyncClient) -> httpx.Response | None:
            if not queue:
                return None
            activity_id = queue.pop()
            response = await client.post(
                "/api/integration/activity-results/tasks",
                headers={"x-api-key": key},
                json=result_body(world, activity_id),
            )
            assert response.status_code in (201, 409), response.text
            if response.status_code == 201:
                acknowledged[response.json()["id"]] = str(activity_id)
            return response

        answered, cut_off = await _load_then_kill(server, submit)
        assert answered > len(acknowledged), "no submission was refused: nothing raced"
        assert queue, "every submission finished before the kill: the load was too small"
        assert len(acknowledged) > 20 and cut_off > 0, (answered, len(acknowledged), cut_off)

        # The server comes back on its own files (SQLite replays its WAL) and serves again.
        restarted = procs.start("serve", "--no-dispatcher")
        await restarted.until_ready()

        async with db.sessionmaker() as session:
            stored = set(
                (
                    await session.execute(
                        select(ActivityResult.id).where(
                            ActivityResult.id.in_([uuid.UUID(i) for i in acknowledged])
                        )
                    )
                ).scalars()
            )
            doubled = (
                await session.execute(
                    select(ActivityResult.activity_id)
                    .where(
                        ActivityResult.tenant_id == world.tenant_id,
                        ActivityResult.status != "PENDING",
                        ActivityResult.superseded_by_id.is_(None),
                    )
                    .group_by(ActivityResult.activity_id)
                    .having(func.count() > 1)
                )
            ).all()
            still_ready = (
                await session.execute(
                    select(func.count())
                    .select_from(Activity)
                    .where(
                        Activity.id.in_([uuid.UUID(a) for a in acknowledged.values()]),
                        Activity.status == "READY",
                    )
                )
            ).scalar_one()
        missing = {uuid.UUID(i) for i in acknowledged} - stored
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged results lost"
        assert doubled == []
        # A result and its activity's transition are one transaction: no answered result left
        # its activity READY.
        assert still_ready == 0


class TestActivityCreationSurvivesSigkill:
    async def test_every_201_is_stored_and_no_idempotency_key_is_used_twice(
        self, factory: Factory, db: Database, procs: Procs
    ) -> None:
        world = await factory.world()
        key = await factory.api_key(world, [Permission.CREATE_ACTIVITY, Permission.VIEW_ACTIVITIES])
        # Each key is sent twice by racing clients: one 201, one 409, never two activities.
        keys = [unique("idem") for _ in range(600)]
        queue = [k for k in keys for _ in range(2)]
        created: dict[str, str] = {}
        sent: set[str] = set()

        server = procs.start("serve", "--no-dispatcher")
        await server.until_ready()

        async def create(client: httpx.AsyncClient) -> httpx.Response | None:
            if not queue:
                return None
            idempotency_key = queue.pop()
            sent.add(idempotency_key)
            response = await client.post(
                "/api/activities/tasks",
                headers={"x-api-key": key},
                json={
                    "type": "TASK",
                    "reason": "retention",
                    "channel": "SALESMAN",
                    "commerce_id": str(world.commerce_ids[0]),
                    "idempotency_key": idempotency_key,
                    "scheduled_at": "2030-01-01T09:00:00Z",
                    "assigned_route_id": str(world.route_id),
                    "assigned_operator_id": str(world.operator_id),
                },
            )
            assert response.status_code in (201, 409), response.text
            if response.status_code == 201:
                created[response.json()["id"]] = idempotency_key
            return response

        started = time.monotonic()
        _, cut_off = await _load_then_kill(server, create)
        assert time.monotonic() - started < 30
        assert queue, "every creation finished before the kill: the load was too small"
        assert len(created) > 20 and cut_off > 0, (len(created), cut_off)

        restarted = procs.start("serve", "--no-dispatcher")
        await restarted.until_ready()

        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Activity.id, Activity.idempotency_key).where(
                        Activity.tenant_id == world.tenant_id
                    )
                )
            ).all()
        by_key: dict[str, list[uuid.UUID]] = {}
        for activity_id, idempotency_key in rows:
            by_key.setdefault(idempotency_key, []).append(activity_id)
        stored = {str(i) for i, _ in rows}
        missing = set(created) - stored
        assert not missing, f"{len(missing)} of {len(created)} acknowledged activities lost"
        assert all(len(v) == 1 for v in by_key.values())
        # Nothing was stored that was never sent.
        assert set(by_key) <= sent
