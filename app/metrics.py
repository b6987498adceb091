"""Prometheus metrics: requests per route template and status, latency, the database pool,
audit writes and the tile cache.

Labels are route *templates* (``/collections/{collection_id}/items``), never the concrete
path: a path carries ids and codes, which would grow the series without bound and put
object ids in a monitoring system. A request no route matched is counted as ``(geen)``.

Several uvicorn workers: each worker is a process with its own counters. By default
``/metrics`` reports the worker that answers the scrape (the ``pid`` label of the pool
gauges says which). With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory, before the
workers start, as prometheus-client's multiprocess mode asks), counters and histograms are
written to files there and every scrape adds up all workers; the pool gauges stay per
process (a pool belongs to one process), one series per pid.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
REGISTRY = CollectorRegistry(auto_describe=True)
UNMATCHED = "(geen)"

REQUESTS = Counter(
    "okaart_requests_total",
    "Verzoeken per route en status",
    ["route", "methode", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "okaart_request_duration_seconds",
    "Duur van verzoeken per route (tot het laatste byte)",
    ["route", "methode"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
AUDIT_WRITE = Histogram(
    "okaart_audit_write_seconds",
    "Duur van het schrijven van een losse rij of een groep rijen in het toegangslogboek",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
TILE_CACHE = Counter(
    "okaart_tile_cache_total",
    "Tegels uit het geheugen (hit) of gebouwd (miss)",
    ["resultaat"],
    registry=REGISTRY,
)
TILE_HITS_EARLY = Counter(
    "okaart_tile_hits_early_total",
    "Tegels uit het geheugen, beantwoord voordat de afhankelijkheden van de route liepen",
    registry=REGISTRY,
)
TILE_BUILDS_EARLY = Counter(
    "okaart_tile_builds_early_total",
    "Gebouwde tegels, gevraagd en gebouwd voordat de afhankelijkheden van de route liepen",
    registry=REGISTRY,
)


def tile_cache(*, hit: bool, early: bool = False) -> None:
    """A tile served from memory or built (``early``: by app/tile_hits.py, before the
    dependencies ran; otherwise by the route)."""
    TILE_CACHE.labels("hit" if hit else "miss").inc()
    if early:
        (TILE_HITS_EARLY if hit else TILE_BUILDS_EARLY).inc()


@contextmanager
def audit_write() -> Iterator[None]:
    """Time one audit row written on its own, or one batch of them (app/audit_batch.py)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        AUDIT_WRITE.observe(time.perf_counter() - start)


class PoolWatch:
    """Connections of an engine's pool in use, and callers waiting for one.

    SQLAlchemy's pool counts what is checked out but not who waits; the watch wraps the
    pool's ``connect`` and counts the callers inside it (waiting for a free connection, or
    for a new one to open). Installed once per engine.
    """

    def __init__(self, engine: Engine) -> None:
        self.pool: Any = engine.pool
        self.waiting = 0
        self._lock = threading.Lock()
        original = self.pool.connect

        def counted_connect() -> Any:
            with self._lock:
                self.waiting += 1
            try:
                return original()
            finally:
                with self._lock:
                    self.waiting -= 1

        self.pool.connect = counted_connect  # type: ignore[method-assign]

    def in_use(self) -> int:
        checkedout = getattr(self.pool, "checkedout", None)
        return int(checkedout()) if callable(checkedout) else 0

    def size(self) -> int:
        size = getattr(self.pool, "size", None)
        return int(size()) if callable(size) else 0


def exposition(pool: PoolWatch) -> bytes:
    """The text exposition: every worker's counters (multiprocess mode) or this one's, plus
    this process's pool."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    pid = str(os.getpid())
    gauges = []
    for name, doc, value in (
        ("okaart_db_pool_in_use", "Databaseverbindingen in gebruik", pool.in_use()),
        ("okaart_db_pool_waiting", "Verzoeken die op een databaseverbinding wachten", pool.waiting),
        ("okaart_db_pool_size", "Grootte van de verbindingenpool", pool.size()),
    ):
        family = GaugeMetricFamily(name, doc, labels=["pid"])
        family.add_metric([pid], value)
        gauges.append(family)
    extra = CollectorRegistry()
    extra.register(_Fixed(gauges))
    return generate_latest(registry) + generate_latest(extra)


class _Fixed:
    """A collector that yields metric families computed at scrape time."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


class MetricsMiddleware:
    """Counts and times every HTTP request by route template, method and status (pure ASGI,
    outermost: refusals in front of the routes are counted too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = str(scope.get("method", ""))
            REQUESTS.labels(template, method, str(status)).inc()
            LATENCY.labels(template, method).observe(time.perf_counter() - start)
