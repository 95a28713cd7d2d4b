"""A small per-process TTL cache with a size bound."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._data: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> tuple[bool, V | None]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        if entry[0] < time.monotonic():
            self._data.pop(key, None)
            return False, None
        return True, entry[1]

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
