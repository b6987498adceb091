"""The worker's event loop and garbage collector: a heap frozen at start, and how late the
loop runs and how long the collector stops it, as Prometheus histograms.

Under twice the saturating load, refusals that should take milliseconds and ``/healthz``
took 0.25-1 s now and then: full (generation 2) collections, each scanning the whole heap,
most of it the imported modules (FastAPI, SQLAlchemy, pydantic, shapely, ...) that live as
long as the worker. :func:`freeze_startup_heap` collects once and then moves everything alive
into the collector's permanent generation (``gc.freeze``), so no later collection scans it
again; the gen-0 threshold is raised moderately so the short-lived garbage of many requests
is collected in fewer, still small, rounds. Done once per process (a process holds one
startup heap, however many apps a test builds).

:func:`watching` runs a probe beside the requests: a sleep of :data:`PROBE_EVERY_S` that
wakes late by as long as the loop was busy (``okaart_event_loop_lag_seconds``), and drains
the collector's pauses timed by a ``gc.callbacks`` hook (``okaart_gc_pause_seconds`` per
generation). The hook only appends to a deque: it runs inside whatever code triggered the
collection, possibly while that code holds the metric's lock, so observing there could
deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Histogram

from app.metrics import REGISTRY

#: How often the probe wakes; its lateness is the lag a request would have met.
PROBE_EVERY_S = 0.1
#: Gen-0 threshold after the freeze (CPython's default is 700): fewer young collections.
GEN0_THRESHOLD = 5000
#: Pauses kept between two probe rounds at most (a bound, not expected to be reached).
MAX_PENDING = 10_000

LOOP_LAG = Histogram(
    "okaart_event_loop_lag_seconds",
    "Hoe laat de event loop van een worker een korte slaap beëindigt (vertraging van elk verzoek)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "okaart_gc_pause_seconds",
    "Duur van een ronde van de garbage collector, per generatie",
    ["generatie"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
    registry=REGISTRY,
)

_frozen = False
_started = 0.0
_pauses: deque[tuple[int, float]] = deque(maxlen=MAX_PENDING)


def freeze_startup_heap() -> None:
    """Collect once, freeze what is alive, raise the gen-0 threshold; once per process."""
    global _frozen
    if _frozen:
        return
    gc.collect()
    gc.freeze()
    threshold0, threshold1, threshold2 = gc.get_threshold()
    gc.set_threshold(max(threshold0, GEN0_THRESHOLD), threshold1, threshold2)
    _frozen = True


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    """Time each collection (runs inside the collection: no locks, no metric calls)."""
    global _started
    if phase == "start":
        _started = time.perf_counter()
    else:
        _pauses.append((int(info.get("generation", 2)), time.perf_counter() - _started))


def install_gc_timing() -> None:
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
        for generation in range(3):  # every series on /metrics from the start
            GC_PAUSE.labels(str(generation))


def drain_gc_pauses() -> int:
    """Move the pauses timed since the last call into the histogram; returns how many."""
    n = 0
    while True:
        try:  # not ``while _pauses``: another drainer (a second app in the process) may race
            generation, seconds = _pauses.popleft()
        except IndexError:
            return n
        GC_PAUSE.labels(str(generation)).observe(seconds)
        n += 1


async def probe(every: float = PROBE_EVERY_S) -> None:
    """Forever: sleep ``every``, record how late it woke, drain the collector's pauses."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(every)
        LOOP_LAG.observe(max(0.0, time.perf_counter() - start - every))
        drain_gc_pauses()


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[None]:
    """For a worker's lifespan: freeze the startup heap, time the collector, run the probe."""
    freeze_startup_heap()
    install_gc_timing()
    task = asyncio.create_task(probe())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
