"""A short-lived, per-process cache of list totals (`meta.total`).

Counting every matching row on every page request would make a page cost grow with the size of
the tenant (100 000 open tasks is 20+ ms of database time per request). A total is instead
cached per (tenant, filters) for `ttl` seconds. Any transaction that changes a tenant's rows
marks the tenant; when it commits, this process forgets that tenant's totals, so a process
always counts its own writes. Writes made by other processes show in totals within `ttl`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "reten.changed_tenants"


class CountCache:
    def __init__(self, ttl_seconds: float = 2.0, max_entries: int = 50_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._generation: dict[uuid.UUID, int] = {}
        self._entries: dict[tuple[uuid.UUID, Hashable], tuple[int, float, tuple[int, bool]]] = {}
        # Counts being computed, by (tenant, key, generation): single flight. When an entry
        # expires under load, one request counts and every other one asking meanwhile awaits
        # that count instead of starting its own (which had twenty identical counts of tens of
        # milliseconds each run at once at every expiry).
        self._flights: dict[tuple[uuid.UUID, Hashable, int], asyncio.Future[tuple[int, bool]]] = {}

    def invalidate(self, tenant_id: uuid.UUID) -> None:
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1

    async def get(
        self,
        tenant_id: uuid.UUID,
        key: Hashable,
        compute: Callable[[], Awaitable[tuple[int, bool]]],
    ) -> tuple[int, bool]:
        if self.ttl <= 0:
            return await compute()
        while True:
            generation = self._generation.get(tenant_id, 0)
            entry = self._entries.get((tenant_id, key))
            now = time.monotonic()
            if entry is not None and entry[0] == generation and entry[1] > now:
                return entry[2]
            flight_key = (tenant_id, key, generation)
            flight = self._flights.get(flight_key)
            if flight is None:
                return await self._fly(flight_key, compute, now)
            try:
                # Shielded: a waiter whose client went away must not cancel the others' count.
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                if not flight.cancelled():
                    raise  # this request itself was cancelled
                # The counting request was cancelled: go round, someone counts again.

    async def _fly(
        self,
        flight_key: tuple[uuid.UUID, Hashable, int],
        compute: Callable[[], Awaitable[tuple[int, bool]]],
        now: float,
    ) -> tuple[int, bool]:
        tenant_id, key, generation = flight_key
        flight: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
        self._flights[flight_key] = flight
        try:
            value = await compute()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: nobody may be waiting, and that is not an error
            raise
        finally:
            self._flights.pop(flight_key, None)
        flight.set_result(value)
        # Only store what was computed under the generation seen before computing: a commit that
        # landed meanwhile has bumped it, and this value may predate that commit.
        if self._generation.get(tenant_id, 0) == generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(tenant_id, key)] = (generation, now + self.ttl, value)
        return value


totals = CountCache()


def mark_changed(session: Session, tenant_id: uuid.UUID) -> None:
    """Record that this transaction changes `tenant_id`'s listed rows (applied on commit)."""
    session.info.setdefault(_KEY, set()).add(tenant_id)


@event.listens_for(Session, "after_commit")
def _forget_totals(session: Session) -> None:
    for tenant_id in session.info.pop(_KEY, ()):
        totals.invalidate(tenant_id)


@event.listens_for(Session, "after_rollback")
def _discard_marks(session: Session) -> None:
    session.info.pop(_KEY, None)
