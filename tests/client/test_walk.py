"""The task walk's state machine against a model of the listing (the same order, filter and
paging rules as the API), with results submitted during the walk: every task once, none
skipped, and the number of requests it costs."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reten.client._paging import Walk


class Listing:
    """PENDING tasks ordered by (scheduledAt, id); offset pages; `scheduled_from` filter."""

    def __init__(self, tasks: list[tuple[str, str]]) -> None:
        self.pending = {task_id: at for at, task_id in tasks}
        self.requests = 0

    def get(self, params: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
        self.requests += 1
        per_page = int(params.get("per_page", "20"))
        page = int(params.get("page", "1"))
        rows = sorted((at, task_id) for task_id, at in self.pending.items())
        if "scheduled_from" in params:
            rows = [r for r in rows if r[0] >= params["scheduled_from"]]
        chosen = rows[(page - 1) * per_page : page * per_page]
        return [{"id": i, "scheduledAt": at} for at, i in chosen], per_page


def walk(listing: Listing, per_page: int, submit: Any) -> list[str]:
    handed: list[str] = []
    w = Walk({"status": "PENDING", "per_page": str(per_page)})
    while (params := w.next_request()) is not None:
        items, limit = listing.get(params)
        for item in w.feed(items, limit):
            handed.append(item["id"])
            if submit(item["id"]):
                listing.pending.pop(item["id"])  # the result moves it out of PENDING
        assert listing.requests < 10_000, "the walk does not end"
    return handed


def tasks(count: int, instants: int) -> list[tuple[str, str]]:
    return [(f"2030-01-01T09:00:{i % instants:02d}.000Z", f"id-{i:05d}") for i in range(count)]


class TestWalk:
    @settings(max_examples=300, deadline=None)
    @given(
        count=st.integers(0, 60),
        instants=st.integers(1, 8),
        per_page=st.integers(1, 7),
        seed=st.integers(0, 2**32),
        submit_share=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    )
    def test_every_task_once_whatever_is_submitted(
        self, count: int, instants: int, per_page: int, seed: int, submit_share: float
    ) -> None:
        rng = random.Random(seed)
        listing = Listing(tasks(count, instants))
        everything = set(listing.pending)
        handed = walk(listing, per_page, lambda _: rng.random() < submit_share)
        assert len(handed) == len(set(handed)) and set(handed) == everything

    def test_request_counts(self) -> None:
        """1000 tasks, 100 per page: what the walk costs in the four corner cases."""
        counts = {}
        for name, instants, submit in (
            ("distinct times, all submitted", 1000, True),
            ("distinct times, none submitted", 1000, False),
            ("one instant, all submitted", 1, True),
            ("one instant, none submitted", 1, False),
        ):
            listing = Listing(tasks(1000, instants) if instants == 1 else [
                (f"2030-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z", f"id-{i:05d}")
                for i in range(1000)
            ])  # fmt: skip
            assert len(walk(listing, 100, lambda _, s=submit: s)) == 1000
            counts[name] = listing.requests
        assert counts == {
            "distinct times, all submitted": 11,
            "distinct times, none submitted": 11,
            "one instant, all submitted": 11,
            "one instant, none submitted": 21,
        }
