"""The dispatcher: claims due activities in rounds and delivers them concurrently.

It keeps no state that matters between rounds: everything lives in the database, so any number
of dispatchers (on PostgreSQL) share the work, and a killed one loses nothing. It wakes when an
activity becomes deliverable (in-process listeners, PostgreSQL LISTEN/NOTIFY across processes)
and polls every `RETEN_DISPATCH_POLL_SECONDS` in case a wake-up was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete

from reten.activities.models import Activity
from reten.config import Settings
from reten.dispatch.delivery import AttemptResult, Sender
from reten.dispatch.engine import (
    ConfigSnapshot,
    Outcome,
    active_snapshots,
    claim,
    claim_resends,
    needing_resolution,
    resolve_before_dispatch,
    settle_many,
    settle_resend,
)
from reten.dispatch.models import DispatchAttempt
from reten.dispatch.payload import load_payloads, message_id
from reten.kit import signal
from reten.kit.actor import Actor
from reten.kit.db import Database
from reten.kit.errors import is_storage_unavailable
from reten.kit.secretbox import SecretBox
from reten.kit.time import utcnow

log = structlog.get_logger("reten.dispatch")

PRUNE_EVERY_SECONDS = 3600.0


class _GroupWriter:
    """Group commit of finished deliveries: while one group is being written, the deliveries
    that finish meanwhile queue up and are written together next. Under load a group holds
    many deliveries; when idle, one is written at once."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, outcome: Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await settle_many(self.db, [outcome for outcome, _ in group])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in group:
                    if not future.done():
                        future.set_result(None)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        secretbox: SecretBox,
        sender: Sender,
        *,
        tenant_ids: frozenset[uuid.UUID] | None = None,
    ) -> None:
        self.db = db
        # Serve only these tenants (a worker dedicated to some tenants); None serves all.
        self.tenant_ids = tenant_ids
        self.settings = settings
        self.secretbox = secretbox
        self.sender = sender
        self._wakeup = asyncio.Event()
        self._inflight: dict[uuid.UUID, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()
        self._skip_locked = db.dialect == "postgresql"
        self._next_prune = 0.0
        self._writer = _GroupWriter(db)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then let in-flight deliveries finish and record their
        outcome, for up to RETEN_SHUTDOWN_GRACE_SECONDS (a graceful stop neither loses nor
        repeats them)."""
        unsubscribe = signal.subscribe(self.wake)
        listener = await self._listen()
        log.info("dispatcher_started", database=self.db.dialect)
        try:
            while not stop.is_set():
                self._wakeup.clear()
                started = await self._safe_round()
                await self._maybe_prune()
                if started and self._free() > 0:
                    continue  # more may be due already
                stopper = asyncio.ensure_future(stop.wait())
                waker = asyncio.ensure_future(self._wakeup.wait())
                try:
                    await asyncio.wait(
                        {stopper, waker},
                        timeout=self.settings.dispatch_poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    stopper.cancel()
                    waker.cancel()
        finally:
            unsubscribe()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            if self._tasks:
                # What is still unfinished after the grace keeps its lease and is delivered again
                # after it.
                _, pending = await asyncio.wait(
                    self._tasks, timeout=self.settings.shutdown_grace_seconds
                )
                for task in pending:
                    task.cancel()
            log.info("dispatcher_stopped")

    async def drain(self, max_rounds: int = 1000) -> None:
        """Deliver everything due now, including retries that fall due meanwhile (tests, CLI)."""
        for _ in range(max_rounds):
            started = await self.round()
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            elif not started:
                return

    def _free(self) -> int:
        return self.settings.dispatch_concurrency - len(self._tasks)

    async def _safe_round(self) -> int:
        try:
            return await self.round()
        except Exception as exc:
            if is_storage_unavailable(exc):
                log.warning("dispatch_round_failed", error=str(exc).splitlines()[0])
            else:
                log.exception("dispatch_round_failed")
            return 0

    async def round(self) -> int:
        """Claim what is due (capped per tenant, per config and in total) and start delivering.
        Returns how many activities were claimed."""
        now = utcnow()
        claimed: list[tuple[Activity, ConfigSnapshot]] = []
        resends: list[tuple[Activity, ConfigSnapshot]] = []
        async with self.db.sessionmaker() as session:
            configs = await active_snapshots(session, self.secretbox, now)
            if self.tenant_ids is not None:
                configs = [c for c in configs if c.tenant_id in self.tenant_ids]
            # No config is always served first when the total cap binds.
            random.shuffle(configs)
            per_tenant: dict[uuid.UUID, int] = defaultdict(int)
            for config in configs:
                room = min(
                    config.max_concurrency - self._inflight[config.id],
                    self._free() - len(claimed) - len(resends),
                    self.settings.dispatch_batch_per_tenant - per_tenant[config.tenant_id],
                )
                if room <= 0:
                    continue
                activities = await claim(
                    session,
                    config,
                    room,
                    now,
                    self.settings.dispatch_lease_seconds,
                    skip_locked=self._skip_locked,
                )
                per_tenant[config.tenant_id] += len(activities)
                claimed.extend((a, config) for a in activities)
                if room > len(activities):
                    again = await claim_resends(
                        session,
                        config,
                        room - len(activities),
                        now,
                        self.settings.dispatch_lease_seconds,
                        skip_locked=self._skip_locked,
                    )
                    per_tenant[config.tenant_id] += len(again)
                    resends.extend((a, config) for a in again)
            due = await needing_resolution(session, [a for a, _ in claimed])
            await session.commit()
        for _, config in claimed + resends:
            self._inflight[config.id] += 1
        if resends:
            await self._start(resends, self._resend)
        if not claimed:
            return len(resends)
        ready: list[tuple[Activity, ConfigSnapshot]] = []
        for activity, config in claimed:
            if activity.id in due and not await resolve_before_dispatch(
                self.db, activity, Actor.system()
            ):
                self._release(config)
                continue
            ready.append((activity, config))
        if ready:
            await self._start(ready, self._deliver)
        return len(claimed) + len(resends)

    async def _start(
        self,
        items: list[tuple[Activity, ConfigSnapshot]],
        deliver: Callable[[Activity, ConfigSnapshot, dict[str, Any]], Coroutine[Any, Any, None]],
    ) -> None:
        async with self.db.sessionmaker() as session:
            payloads = await load_payloads(session, [a for a, _ in items], self.settings.public_url)
        for activity, config in items:
            task = asyncio.create_task(deliver(activity, config, payloads[activity.id]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _release(self, config: ConfigSnapshot) -> None:
        self._inflight[config.id] -= 1
        if self._inflight[config.id] <= 0:
            del self._inflight[config.id]

    async def _send(
        self, activity: Activity, config: ConfigSnapshot, payload: dict[str, Any]
    ) -> AttemptResult:
        return await self.sender.deliver(
            config.provider,
            payload,
            config.delivery,
            message_id=message_id(activity.id),
            timeout_seconds=config.timeout_seconds,
        )

    async def _resend(
        self, activity: Activity, config: ConfigSnapshot, payload: dict[str, Any]
    ) -> None:
        try:
            await settle_resend(
                self.db, activity, config, await self._send(activity, config, payload)
            )
        except Exception:
            # The request stays recorded and its lease expires: it is sent again.
            log.exception("dispatch_resend_failed", activity_id=str(activity.id))
        finally:
            self._after(config)

    async def _deliver(
        self, activity: Activity, config: ConfigSnapshot, payload: dict[str, Any]
    ) -> None:
        try:
            result = await self._send(activity, config, payload)
            await self._writer.write(
                Outcome(activity, config, result, lock_targets=bool(payload["targetUsers"]))
            )
        except Exception:
            # The lease expires and the activity is delivered again: at least once.
            log.exception("dispatch_delivery_failed", activity_id=str(activity.id))
        finally:
            self._after(config)

    def _after(self, config: ConfigSnapshot) -> None:
        self._release(config)
        # Claim again once half a config's (or the process's) slots are free, not after every
        # single delivery: a round costs a few queries, and refilling one slot at a time
        # would spend more on claiming than on delivering.
        if (
            self._inflight.get(config.id, 0) <= config.max_concurrency // 2
            or len(self._tasks) <= self.settings.dispatch_concurrency // 2 + 1
        ):
            self._wakeup.set()

    async def _maybe_prune(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        cutoff = utcnow() - timedelta(days=self.settings.dispatch_attempt_retention_days)
        try:
            async with self.db.sessionmaker() as session:
                result = await session.execute(
                    delete(DispatchAttempt).where(DispatchAttempt.created_at < cutoff)
                )
                await session.commit()
            if result.rowcount:  # type: ignore[attr-defined]
                log.info("dispatch_attempts_pruned", count=result.rowcount)  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning("dispatch_prune_failed", error=str(exc).splitlines()[0])

    async def _listen(self) -> Any:
        """A LISTEN connection on PostgreSQL, so other processes' commits wake this one."""
        if self.db.dialect != "postgresql":
            return None
        import asyncpg  # type: ignore[import-untyped]
        from sqlalchemy.engine import make_url

        url = make_url(self.db.url).set(drivername="postgresql")
        try:
            conn = await asyncpg.connect(url.render_as_string(hide_password=False))
            await conn.add_listener(signal.CHANNEL, lambda *_: self.wake())
        except Exception as exc:  # polling still delivers, only later
            log.warning("dispatch_listen_failed", error=str(exc).splitlines()[0])
            return None
        return conn
