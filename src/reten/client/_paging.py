"""Walking every task of a listing while the caller changes what the listing matches.

The API pages by offset, ordered by (scheduledAt, id). A worker that lists PENDING tasks and
submits a result for each one removes those tasks from the listing as it goes, so the rows
behind them move up: asking for page 2 next would skip a page's worth of tasks. The walk below
therefore never trusts an offset across a change. After each page it continues from the last
task seen (`scheduled_from` = that task's `scheduledAt`), and remembers which tasks it already
handed out at exactly that instant, so a task is handed out once and none is skipped.

Correctness rests on one fact: among the tasks scheduled at the cursor instant, those already
handed out come first in the API's order (they are a prefix; new ones follow). So a page that
starts with an already-seen task cannot have skipped a new one; a page > 1 that starts with a
new task might have, and the walk steps back a page to look.

Cost: one request per page when tasks have distinct times or the caller submits everything
(the usual worker), about two when many tasks share one instant and the caller submits none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from reten.client._base import as_datetime, server_time, watermark
from reten.client._calls import TASKS_PATH, Call, task_query
from reten.client.models import Task

CHANGES_PAGE_SIZE = 100


class Walk:
    """The pure state of one walk: which request to make next, and which items are new."""

    def __init__(self, params: dict[str, str]) -> None:
        self._params = {k: v for k, v in params.items() if k != "page"}
        self._first_page = params.get("page")
        self._per_page = 0
        self._started = False
        self._done = False
        self._cursor: str | None = None  # scheduledAt of the last task handed out
        self._seen: set[str] = set()  # ids handed out at exactly the cursor instant
        self._page = 1
        self._stepped_forward = False  # the previous page was full of seen tasks

    def next_request(self) -> dict[str, str] | None:
        if self._done:
            return None
        if not self._started:
            first = dict(self._params)
            if self._first_page is not None:
                first["page"] = self._first_page
            return first
        params = dict(self._params)
        if self._cursor is not None:
            # The caller's own scheduled_from is <= every task listed, hence <= the cursor.
            params["scheduled_from"] = self._cursor
        params["page"] = str(self._page)
        return params

    def feed(self, items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
        """Take one fetched page (`limit`: its `meta.limit`); return the tasks to hand out."""
        self._per_page = limit
        if not self._started:
            self._started = True
            self._take(items)
            if len(items) < self._per_page:
                self._done = True
            return items
        new = [i for i in items if not self._is_seen(i)]
        first_is_new = not items or not self._is_seen(items[0])
        if self._page > 1 and first_is_new and not self._stepped_forward:
            # Tasks before this page may have left the listing and pulled unseen ones into
            # the previous page: look there first.
            self._page -= 1
            return []
        self._stepped_forward = False
        if not new:
            if len(items) < self._per_page:
                self._done = True
            else:
                self._page += 1
                self._stepped_forward = True
            return []
        self._take(new)
        if len(items) < self._per_page:
            self._done = True
        return new

    def _is_seen(self, item: dict[str, Any]) -> bool:
        return item.get("scheduledAt") == self._cursor and item.get("id") in self._seen

    def _take(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            at = item.get("scheduledAt")
            if at != self._cursor:
                self._cursor = at
                self._seen = set()
                self._page = 1
            self._seen.add(str(item.get("id")))


class TaskWalk:
    """A `Walk` over the task listing, speaking in SDK calls and `Task` models."""

    def __init__(self, query: dict[str, str]) -> None:
        self._walk = Walk(query)

    def start(self, body: dict[str, Any]) -> None:
        """Feed the first page, already fetched (and already handed out by the caller)."""
        self._walk.feed(body["data"], body["meta"]["limit"])

    def next_call(self) -> Call | None:
        params = self._walk.next_request()
        return None if params is None else Call("GET", TASKS_PATH, params)

    def take(self, body: dict[str, Any]) -> list[Task]:
        return [
            Task.model_validate(i) for i in self._walk.feed(body["data"], body["meta"]["limit"])
        ]


@dataclass(frozen=True)
class TaskChanges:
    """Tasks created or changed since a watermark, and the watermark for the next call.

    Tasks changed within `overlap` seconds before the new watermark come again next time:
    handle a task idempotently (by `id` and `updated_at`).
    """

    tasks: list[Task]
    watermark: datetime


class ChangesPass:
    """One `tasks.changes()` call: every page of `updated_since` = since, then the watermark."""

    def __init__(
        self, since: datetime | str | None, overlap: float, filters: Mapping[str, Any]
    ) -> None:
        self._since = as_datetime(since)
        self._overlap = overlap
        query = task_query({"per_page": CHANGES_PAGE_SIZE, **filters, "updated_since": self._since})
        self._walk = TaskWalk(query)
        self._tasks: list[Task] = []
        self._now: datetime | None = None

    def next_call(self) -> Call | None:
        return self._walk.next_call()

    def take(self, response: httpx.Response) -> None:
        self._now = self._now or server_time(response)
        self._tasks += self._walk.take(response.json())

    def result(self) -> TaskChanges:
        assert self._now is not None
        return TaskChanges(self._tasks, watermark(self._now, self._since, self._overlap))
