"""Admission control: a bounded number of requests doing database work, two short lines of
waiting requests, and a fast 503 beyond them.

Without it every request that arrives starts its queries: at 50 concurrent 2-3 s requests
on 2 cores each slowed the others past the statement timeout and none succeeded (goodput
fell to zero), and pool waits ran to 3.3 s. Here a worker lets ``slots`` requests run at
once (by default twice the database's cores, shared by the workers,
``core.settings.admission_slots_for``) and
answers every request it cannot seat or queue at once with a 503 problem and
``Retry-After``: the requests that run finish at the database's pace, and the refused ones
learn it in well under a second.

Two lines wait for a slot. Map requests (vector tiles, TileJSON, styles, tile matrix sets)
wait in a line of their own (``tile_queue``, default 256), are seated first when a slot
frees, and are refused only when that line is full: a map shows dozens of tiles at once, and
a refused tile is a hole in it, while a tile is short work and its line drains fast. Every
other request waits in ``queue`` for at most ``wait_s`` counted from its *arrival* in the
app (:class:`ArrivalMiddleware`), not from when it reached the gate: time already lost in
front of the gate (a busy event loop) counts, so a refusal still comes within the promised
second. A response that waited says how long in ``Server-Timing: admission;dur=<ms>``.

A request whose database work is done may give its slot back before it ends
(:func:`release`): a cached tile waiting for its audit row's group commit
(app/tile_hits.py) waits for one statement of the audit writer's, whatever the number of
rows in it, and holding a slot there capped a batch at the slots of a worker.

Liveness, static files and the metrics scrape pass without a slot: they do no database
work, and they must answer while the database is saturated. The gate is per worker (each
worker has its own pool); ``slots`` x workers is what the database sees at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem

#: Paths that never wait for a slot: liveness, static files and the scrape do no database
#: work; readiness must not report a saturated worker as broken (an orchestrator would take
#: it out and send its load to the others).
EXEMPT = ("/healthz", "/readyz", "/static/", "/metrics")
TITLE = "Tijdelijk overbelast"
#: Where the middleware leaves a request's :class:`Slot` (in ``scope["state"]``).
SLOT_KEY = "okaart_slot"
DETAIL = "de dienst is op dit moment te druk; probeer het over een seconde opnieuw"
#: Where :class:`ArrivalMiddleware` leaves the request's arrival (``time.monotonic()``).
ARRIVED = "okaart.arrived"
#: The parts after ``/collections/{id}/`` that make a map request.
MAP_PARTS = ("tiles", "styles")


def is_map_request(path: str) -> bool:
    """Vector tiles, TileJSON and tile sets (``/collections/{id}/tiles...``), styles
    (``/collections/{id}/styles...``) and tile matrix sets (``/tileMatrixSets...``)."""
    if path.startswith("/tileMatrixSets"):
        return True
    parts = path.split("/", 4)
    return len(parts) >= 4 and parts[1] == "collections" and parts[3] in MAP_PARTS


class Admission:
    """``slots`` requests at once; map requests waiting in a line of ``tile_queue`` and served
    first, the others in a line of ``queue`` waiting at most ``wait_s`` from their arrival.

    Used on one event loop only (the worker's), so plain counters need no lock.
    """

    def __init__(self, slots: int, queue: int, wait_s: float, tile_queue: int = 256) -> None:
        self.slots = max(1, slots)
        self.queue = queue
        self.wait_s = wait_s
        self.tile_queue = tile_queue
        self.running = 0
        #: Other requests waiting for a slot, oldest first.
        self.waiting: deque[asyncio.Future[None]] = deque()
        #: Map requests waiting for a slot, oldest first; seated before :attr:`waiting`.
        self.tiles_waiting: deque[asyncio.Future[None]] = deque()
        self.refused = 0

    def try_enter(self) -> bool:
        """Take a free slot at once, if one is free and nobody waits for it (no I/O)."""
        if self.running < self.slots and not self.waiting and not self.tiles_waiting:
            self.running += 1
            return True
        return False

    async def enter(self, *, tile: bool = False, arrived: float | None = None) -> bool:
        """True with a slot held (give it back with :meth:`leave`); False: refuse.

        ``arrived``: when the request reached the app (``time.monotonic()``; default now);
        a request that is not a map request is refused once ``wait_s`` have passed since.
        """
        if self.try_enter():
            return True
        line = self.tiles_waiting if tile else self.waiting
        if len(line) >= (self.tile_queue if tile else self.queue):
            self.refused += 1
            return False
        left = None if tile else (arrived or time.monotonic()) + self.wait_s - time.monotonic()
        if left is not None and left <= 0:
            self.refused += 1
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(turn)
        try:
            async with asyncio.timeout(left):
                await turn
        except TimeoutError:
            if turn.done() and not turn.cancelled():
                return True  # handed a slot just as the wait ran out: keep it
            self._forget(line, turn)
            self.refused += 1
            return False
        except BaseException:  # the client went away while waiting
            if turn.done() and not turn.cancelled():
                self.leave()
            else:
                self._forget(line, turn)
            raise
        return True

    def leave(self) -> None:
        """Give a slot back: to the longest waiting map request, else to the longest other
        waiter, else free it."""
        for line in (self.tiles_waiting, self.waiting):
            while line:
                turn = line.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self.running -= 1

    @staticmethod
    def _forget(line: deque[asyncio.Future[None]], turn: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            line.remove(turn)


class ArrivalMiddleware:
    """Notes when a request reached the app, for the admission gate's wait limit.

    Outermost but for liveness: whatever the request waits for in the middleware in front
    of the gate counts toward its wait.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault(ARRIVED, time.monotonic())
        await self.app(scope, receive, send)


def server_timing(waited_s: float) -> tuple[bytes, bytes]:
    return (b"server-timing", f"admission;dur={waited_s * 1000:.1f}".encode())


class Slot:
    """A request's slot, given back once: when the request ends, or before (:func:`release`)."""

    __slots__ = ("admission", "held")

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.admission.leave()


def release(scope: Scope) -> None:
    """Give the request's slot back now: it does no more database work of its own."""
    slot = (scope.get("state") or {}).get(SLOT_KEY)
    if isinstance(slot, Slot):
        slot.release()


class AdmissionMiddleware:
    """Pure ASGI: a request waits for a slot before anything of the app runs."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        admission = self.admission
        if admission.try_enter():
            slot = Slot(admission)
            scope.setdefault("state", {})[SLOT_KEY] = slot
            try:
                await self.app(scope, receive, send)
            finally:
                slot.release()
            return
        arrived = float(scope.get(ARRIVED) or time.monotonic())
        seated = await admission.enter(tile=is_map_request(path), arrived=arrived)
        timing = server_timing(time.monotonic() - arrived)
        if not seated:
            headers = {"Retry-After": "1", timing[0].decode(): timing[1].decode()}
            await problem(503, DETAIL, title=TITLE, headers=headers)(scope, receive, send)
            return

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), timing]
            await send(message)

        slot = Slot(admission)
        scope.setdefault("state", {})[SLOT_KEY] = slot
        try:
            await self.app(scope, receive, timed_send)
        finally:
            slot.release()
