"""Waking the dispatcher when there is something to deliver.

A write that makes an activity deliverable (creation, a status change to READY, activating a
config) marks its session. When that transaction commits: on PostgreSQL a `NOTIFY
reten_dispatch` sent inside it reaches workers in other processes exactly when, and only if, the
write commits; in this process the listeners registered by a running dispatcher are called.
Polling covers any missed wake-up.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

CHANNEL = "reten_dispatch"
_KEY = "reten.wake_dispatcher"
_listeners: set[Callable[[], None]] = set()


def subscribe(listener: Callable[[], None]) -> Callable[[], None]:
    _listeners.add(listener)
    return lambda: _listeners.discard(listener)


def _notify_local() -> None:
    for listener in list(_listeners):
        listener()


def mark(session: Session) -> None:
    """Wake dispatchers when this session's transaction commits."""
    session.info[_KEY] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_KEY) and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_KEY, False):
        _notify_local()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
