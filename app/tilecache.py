"""An in-process cache of built vector tiles, bounded in bytes.

A tile's key is its ETag (layer, the caller's view, tile, filters and the data version), so
an ingest or a retention run, which moves the data version, makes every older entry
unreachable at once; they age out of the LRU. Only the bytes and the feature count/ids are
kept (the audit row of a cache hit still records what was served, and is still written).
What a hit needs is computed once, when the tile is stored: its size, and the ids as its
audit row records them (cut, or none beyond ``app.audit.MAX_IDS``), so a hit only hands
them on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CachedTile:
    data: bytes
    count: int
    ids: tuple[str, ...] | None
    #: The ids as the audit row records them (shared by every hit; never changed).
    logged_ids: list[str] | None = field(init=False, compare=False)
    #: Bytes held, roughly: the tile, its ids twice (tuple and list share the strings).
    size: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        from app.audit import audit_ids  # app.audit's imports reach this module

        logged = audit_ids(self.ids) if self.ids is not None else None
        object.__setattr__(self, "logged_ids", logged)
        ids = self.ids or ()
        object.__setattr__(self, "size", len(self.data) + 64 + sum(len(i) + 57 for i in ids))


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
