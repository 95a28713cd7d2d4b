"""A short-lived, per-process cache of list totals (`meta.total`).

Counting every matching row on every page request would make a page cost grow with the size of
the tenant (100 000 open tasks is 20+ ms of database time per request). A total is instead
cached per (tenant, filters) for `ttl` seconds. Any transaction that changes a tenant's rows
marks the tenant; when it commits, this process forgets that tenant's totals, so a process
always counts its own writes. Writes made by other processes show in totals within `ttl`.
"""

from __future__ import annotations

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
        generation = self._generation.get(tenant_id, 0)
        entry = self._entries.get((tenant_id, key))
        now = time.monotonic()
        if entry is not None and entry[0] == generation and entry[1] > now:
            return entry[2]
        value = await compute()
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
