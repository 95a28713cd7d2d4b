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

from typing import Any


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
