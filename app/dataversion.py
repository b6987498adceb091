"""Data versions for ETags: a layer's version changes when an ingest changes its tables.

Each successful ingest run has a new id; a layer's version is a hash of the newest run id
of each source kind it reads. Looked up at most every two seconds per process, so a tile
request usually costs no extra query; :meth:`DataVersions.peek` never costs one, so the
event loop may ask it (app/tile_hits.py), and a request that finds it stale takes the
ordinary route, which looks it up in a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
import time

from sqlalchemy import Engine, text

from core.domain import INGEST_TABLES, RunStatus
from layers.base import Layer

#: Which ingest kind writes which table: the runs that change a layer's data.
TABLE_KIND = {table: kind for kind, table in INGEST_TABLES.items()}
TTL = 2.0


class DataVersions:
    """The newest successful run per ingest kind, cached briefly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._at = -TTL
        self._runs: dict[str, int] = {}

    def runs(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._at > TTL:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        text("SELECT soort, max(id) FROM ingest_run WHERE status = :ok GROUP BY soort"),
                        {"ok": RunStatus.GESLAAGD},
                    ).all()
                self._runs = {str(soort): int(run) for soort, run in rows}
                self._at = time.monotonic()
            return dict(self._runs)

    def peek(self) -> dict[str, int] | None:
        """The runs as known, without a round trip: None when they are older than the TTL
        (or never looked up). Never blocks on a lookup in progress."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if time.monotonic() - self._at > TTL:
                return None
            return self._runs
        finally:
            self._lock.release()

    def expire(self) -> None:
        with self._lock:
            self._at = -TTL

    def of(self, layer: Layer, *extra: str) -> str:
        """The layer's data version, combined with whatever else shapes the response."""
        return version(self.runs(), layer, *extra)


def version(runs: dict[str, int], layer: Layer, *extra: str) -> str:
    """The layer's data version under ``runs`` (see :meth:`DataVersions.of`)."""
    parts = [layer.id, *(f"{t}={runs.get(TABLE_KIND[t], 0)}" for t in layer.tables), *extra]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def run_ids(runs: dict[str, int], layer: Layer) -> tuple[int, ...]:
    """The ingest runs whose data :func:`version` says the layer's answer holds (the newest
    of each kind it reads; none for a kind never loaded)."""
    return tuple(sorted({runs[TABLE_KIND[t]] for t in layer.tables if TABLE_KIND[t] in runs}))
