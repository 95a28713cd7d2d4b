"""A small per-process TTL cache with a size bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._data: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V]] = {}

    def get(self, key: str) -> tuple[bool, V | None]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        if entry[0] < time.monotonic():
            self._data.pop(key, None)
            return False, None
        return True, entry[1]

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s; single flight: while one request loads a key, the
        others asking for it await that load (at each expiry under load, every concurrent
        request used to run the same query, and the pool opened connections for them)."""
        while True:
            found, value = self.get(key)
            if found:
                return value  # type: ignore[return-value]
            flight = self._loading.get(key)
            if flight is None:
                break
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                if not flight.cancelled():
                    raise  # this request itself was cancelled
        flight = asyncio.get_running_loop().create_future()
        self._loading[key] = flight
        try:
            value = await load()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: nobody may be waiting, and that is not an error
            raise
        finally:
            self._loading.pop(key, None)
        self.set(key, value)
        flight.set_result(value)
        return value

    def set(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        if len(self._data) >= self.max_entries:
            # Cheap bound: forget everything rather than track recency; entries live 5 s anyway.
            self._data.clear()
        self._data[key] = (time.monotonic() + self.ttl, value)

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
