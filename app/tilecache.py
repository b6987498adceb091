"""An in-process cache of built vector tiles, bounded in bytes.

A tile's key is its ETag (layer, the caller's view, tile, filters and the data version), so
an ingest or a retention run, which moves the data version, makes every older entry
unreachable at once; they age out of the LRU. Only the bytes and the feature count/ids are
kept (the audit row of a cache hit still records what was served, and is still written).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedTile:
    data: bytes
    count: int
    ids: tuple[str, ...] | None

    @property
    def size(self) -> int:
        return len(self.data) + 64 + sum(len(i) + 49 for i in self.ids or ())


class TileCache:
    """Least-recently-used, thread-safe, at most ``max_bytes`` (0: off)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, CachedTile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedTile | None:
        if not self.max_bytes:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: CachedTile) -> None:
        if not self.max_bytes or entry.size > self.max_bytes // 4:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.bytes -= previous.size
            self._entries[key] = entry
            self.bytes += entry.size
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
