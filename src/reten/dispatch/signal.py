"""Waking the dispatcher when there is something to deliver.

`wake(session)` is called by every write that makes an activity deliverable (creation, a
successful resolution retry, retry-dispatch, activating a config). On PostgreSQL it queues a
`NOTIFY reten_dispatch` in the same transaction, so workers in other processes hear of it
exactly when, and only if, the write commits. In this process the listeners registered by a
running dispatcher are called after the commit. Polling covers any missed wake-up.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

CHANNEL = "reten_dispatch"
_KEY = "reten.wake_dispatcher"
_listeners: set[Callable[[], None]] = set()


def subscribe(listener: Callable[[], None]) -> Callable[[], None]:
    _listeners.add(listener)
    return lambda: _listeners.discard(listener)


def notify_local() -> None:
    for listener in list(_listeners):
        listener()


async def wake(session: AsyncSession) -> None:
    if session.sync_session.info.get(_KEY):
        return
    session.sync_session.info[_KEY] = True
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_KEY, False):
        notify_local()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
