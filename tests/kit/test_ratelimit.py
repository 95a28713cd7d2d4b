"""Fixed-window rate limiting (management-api.md A6; quality.md S9): reten.kit.ratelimit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
import redis.asyncio as redis

from reten.kit import ratelimit
from reten.kit.ratelimit import (
    MemoryRateLimiter,
    RateLimitDecision,
    RedisRateLimiter,
    build_rate_limiter,
)

REDIS_URL = "redis://127.0.0.1:6379/15"
# A window boundary (divisible by 60 and by 10), far from "now" so no real window is involved.
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(T0 + 0.5)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=fake))
    return fake


@pytest.fixture
async def redis_admin() -> AsyncIterator[redis.Redis]:
    conn = redis.from_url(REDIS_URL)
    try:
        yield conn
    finally:
        await conn.aclose()


def _key() -> str:
    return f"test-{uuid.uuid4().hex}"


class TestRateLimitDecision:
    def test_allowed_decision_carries_the_three_ratelimit_headers(self) -> None:
        decision = RateLimitDecision(allowed=True, limit=10, remaining=7, reset_seconds=42)

        assert decision.headers() == [
            (b"ratelimit-limit", b"10"),
            (b"ratelimit-remaining", b"7"),
            (b"ratelimit-reset", b"42"),
        ]

    def test_denied_decision_adds_retry_after(self) -> None:
        decision = RateLimitDecision(allowed=False, limit=10, remaining=0, reset_seconds=13)

        assert dict(decision.headers())[b"retry-after"] == b"13"


class TestMemoryRateLimiter:
    async def test_allows_up_to_the_limit_then_denies(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        key = _key()

        decisions = [await limiter.hit(key, 3) for _ in range(5)]

        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
        assert all(d.limit == 3 for d in decisions)

    async def test_reset_counts_down_to_the_end_of_the_window(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        key = _key()

        first = await limiter.hit(key, 10)
        clock.now = T0 + 45.2
        later = await limiter.hit(key, 10)
        clock.now = T0 + 59.9
        last = await limiter.hit(key, 10)

        assert first.reset_seconds == 60  # 59.5 s left, rounded up
        assert later.reset_seconds == 15
        assert last.reset_seconds == 1  # never 0 while the window is open

    async def test_a_new_window_starts_a_fresh_count(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        key = _key()
        for _ in range(3):
            await limiter.hit(key, 2)
        assert not (await limiter.hit(key, 2)).allowed

        clock.now = T0 + 60.0
        fresh = await limiter.hit(key, 2)

        assert fresh.allowed
        assert fresh.remaining == 1
        assert fresh.reset_seconds == 60

    async def test_windows_are_fixed_not_sliding(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        key = _key()
        clock.now = T0 + 59.0
        assert (await limiter.hit(key, 1)).allowed

        clock.now = T0 + 61.0  # two seconds later, but in the next window

        assert (await limiter.hit(key, 1)).allowed

    async def test_custom_window_length(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        key = _key()
        clock.now = T0 + 3.0

        first = await limiter.hit(key, 1, window_seconds=10)
        denied = await limiter.hit(key, 1, window_seconds=10)
        clock.now = T0 + 10.0
        again = await limiter.hit(key, 1, window_seconds=10)

        assert first.allowed and first.reset_seconds == 7
        assert not denied.allowed
        assert again.allowed

    async def test_keys_have_independent_budgets(self, clock: Clock) -> None:
        limiter = MemoryRateLimiter()
        a, b = _key(), _key()
        await limiter.hit(a, 1)

        assert not (await limiter.hit(a, 1)).allowed
        assert (await limiter.hit(b, 1)).allowed

    async def test_two_memory_limiters_do_not_share_a_budget(self, clock: Clock) -> None:
        key = _key()
        first, second = MemoryRateLimiter(), MemoryRateLimiter()
        await first.hit(key, 1)

        assert (await second.hit(key, 1)).allowed

    async def test_real_clock_decision_is_sane(self) -> None:
        decision = await MemoryRateLimiter().hit(_key(), 5)

        assert decision.allowed
        assert decision.remaining == 4
        assert 1 <= decision.reset_seconds <= 60


class TestRedisRateLimiter:
    async def test_two_limiters_share_one_budget(self, clock: Clock) -> None:
        key = _key()
        first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
        try:
            decisions = []
            for i in range(6):
                limiter = first if i % 2 == 0 else second
                decisions.append(await limiter.hit(key, 4))
        finally:
            await first.close()
            await second.close()

        assert [d.allowed for d in decisions] == [True, True, True, True, False, False]
        assert [d.remaining for d in decisions] == [3, 2, 1, 0, 0, 0]
        assert decisions[-1].reset_seconds == 60

    async def test_counter_lives_only_a_little_longer_than_its_window(
        self, clock: Clock, redis_admin: redis.Redis
    ) -> None:
        key = _key()
        limiter = RedisRateLimiter(REDIS_URL)
        try:
            await limiter.hit(key, 10)
        finally:
            await limiter.close()

        redis_key = f"reten:rl:{key}:{int(T0)}"
        assert int(await redis_admin.get(redis_key)) == 1
        ttl = await redis_admin.ttl(redis_key)
        assert 60 <= ttl <= 65
        await redis_admin.delete(redis_key)

    async def test_a_new_window_starts_a_fresh_shared_count(self, clock: Clock) -> None:
        key = _key()
        first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
        try:
            await first.hit(key, 1)
            assert not (await second.hit(key, 1)).allowed
            clock.now = T0 + 60.0
            fresh = await second.hit(key, 1)
            assert not (await first.hit(key, 1)).allowed
        finally:
            await first.close()
            await second.close()

        assert fresh.allowed
        assert fresh.remaining == 0

    async def test_keys_have_independent_budgets(self, clock: Clock) -> None:
        a, b = _key(), _key()
        limiter = RedisRateLimiter(REDIS_URL)
        try:
            await limiter.hit(a, 1)
            denied = await limiter.hit(a, 1)
            other = await limiter.hit(b, 1)
        finally:
            await limiter.close()

        assert not denied.allowed
        assert other.allowed


class TestBuildRateLimiter:
    async def test_memory_without_redis_url(self) -> None:
        assert isinstance(build_rate_limiter(None), MemoryRateLimiter)

    async def test_redis_with_a_url(self) -> None:
        limiter = build_rate_limiter(REDIS_URL)
        try:
            assert isinstance(limiter, RedisRateLimiter)
            assert (await limiter.hit(_key(), 1)).allowed
        finally:
            await limiter.close()
