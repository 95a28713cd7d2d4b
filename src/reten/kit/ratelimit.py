"""Fixed-window rate limiting: in memory by default, Redis when several processes share a budget.

A fixed window maps one-to-one onto the `RateLimit-*` headers (limit, what is left, seconds until
the window resets), which is what integrators read to pace themselves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.reset_seconds).encode()))
        return out


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> RateLimitDecision: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def _decision(
    count: int, limit: int, window_start: float, window: int, now: float
) -> RateLimitDecision:
    reset = max(1, math.ceil(window_start + window - now))
    return RateLimitDecision(
        allowed=count <= limit, limit=limit, remaining=max(0, limit - count), reset_seconds=reset
    )


class MemoryRateLimiter:
    """Per-process counters; fine for one server process."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> RateLimitDecision:
        now = time.time()
        start = now - (now % window_seconds)
        current = self._windows.get(key)
        count = current[1] + 1 if current and current[0] == start else 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:
            # Drop finished windows so the table cannot grow without bound.
            self._windows = {k: v for k, v in self._windows.items() if v[0] == start}
        return _decision(count, limit, start, window_seconds, now)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Shared counters: every process of a deployment draws on one budget per key."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # optional dependency, imported only when configured

        self._redis: Any = redis.from_url(url)

    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> RateLimitDecision:
        now = time.time()
        start = now - (now % window_seconds)
        redis_key = f"reten:rl:{key}:{int(start)}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_seconds + 5)
        count, _ = await pipe.execute()
        return _decision(int(count), limit, start, window_seconds, now)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
