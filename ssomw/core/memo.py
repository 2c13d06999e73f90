"""One small bounded memo for the hot path's per-process caches.

A dict that empties itself when full. The values it holds (a parsed host, a session's rendered
headers) are cheap to work out again, and the set in use is small (few hosts, the active
sessions), so a rare refill costs less than an LRU's bookkeeping on every hit. The limit only
keeps hostile input (endless distinct hosts) from growing a worker's memory.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` (emptying the memo first when it is full) and return it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
