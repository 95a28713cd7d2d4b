"""Single flight in the totals cache and the API-key cache: one load per key at a time."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from reten.kit.cache import TTLCache
from reten.kit.counts import CountCache


class TestCountCache:
    async def test_concurrent_misses_share_one_count(self) -> None:
        cache = CountCache(ttl_seconds=60)
        tenant = uuid.uuid4()
        release = asyncio.Event()
        calls = 0

        async def compute() -> tuple[int, bool]:
            nonlocal calls
            calls += 1
            await release.wait()
            return 42, False

        waiting = [asyncio.create_task(cache.get(tenant, "k", compute)) for _ in range(20)]
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*waiting) == [(42, False)] * 20
        assert calls == 1
        assert await cache.get(tenant, "k", compute) == (42, False) and calls == 1

    async def test_a_commit_during_the_count_is_not_served_the_older_count(self) -> None:
        cache = CountCache(ttl_seconds=60)
        tenant = uuid.uuid4()
        release = asyncio.Event()
        values = iter([(1, False), (2, False)])

        async def compute() -> tuple[int, bool]:
            await release.wait()
            return next(values)

        before = asyncio.create_task(cache.get(tenant, "k", compute))
        await asyncio.sleep(0)
        cache.invalidate(tenant)  # this process committed a change meanwhile
        after = asyncio.create_task(cache.get(tenant, "k", compute))
        await asyncio.sleep(0)
        release.set()
        assert await before == (1, False)
        # A request that came after the commit counted again instead of joining the old count.
        assert await after == (2, False)

    async def test_a_failed_count_reaches_its_waiters_and_the_next_request_counts_again(
        self,
    ) -> None:
        cache = CountCache(ttl_seconds=60)
        tenant = uuid.uuid4()
        release = asyncio.Event()
        outcomes: list[BaseException | tuple[int, bool]] = [OSError("db down"), (7, False)]

        async def compute() -> tuple[int, bool]:
            await release.wait()
            outcome = outcomes.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        first = asyncio.create_task(cache.get(tenant, "k", compute))
        second = asyncio.create_task(cache.get(tenant, "k", compute))
        await asyncio.sleep(0)
        release.set()
        for task in (first, second):
            with pytest.raises(OSError):
                await task
        assert await cache.get(tenant, "k", compute) == (7, False)

    async def test_a_cancelled_counter_does_not_strand_its_waiters(self) -> None:
        cache = CountCache(ttl_seconds=60)
        tenant = uuid.uuid4()
        release = asyncio.Event()
        calls = 0

        async def compute() -> tuple[int, bool]:
            nonlocal calls
            calls += 1
            await release.wait()
            return calls, False

        counter = asyncio.create_task(cache.get(tenant, "k", compute))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(cache.get(tenant, "k", compute))
        await asyncio.sleep(0)
        counter.cancel()  # its client went away
        await asyncio.sleep(0)
        release.set()
        assert await waiter == (2, False)  # the waiter counted itself
        assert counter.cancelled()


class TestTTLCache:
    async def test_concurrent_misses_share_one_load(self) -> None:
        cache: TTLCache[str] = TTLCache(60)
        release = asyncio.Event()
        calls = 0

        async def load() -> str:
            nonlocal calls
            calls += 1
            await release.wait()
            return "key"

        waiting = [asyncio.create_task(cache.get_or_load("h", load)) for _ in range(10)]
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*waiting) == ["key"] * 10
        assert calls == 1 and cache.get("h") == (True, "key")

    async def test_a_revoked_key_is_loaded_again_once_popped(self) -> None:
        cache: TTLCache[str | None] = TTLCache(60)
        answers = iter(["key", None])

        async def load() -> str | None:
            return next(answers)

        assert await cache.get_or_load("h", load) == "key"
        cache.pop("h")  # what revoke_key does in this process
        assert await cache.get_or_load("h", load) is None
