"""Admission control: a bounded number of requests doing database work, a short queue, and a
fast 503 beyond it.

Without it every request that arrives starts its queries: at 50 concurrent 2-3 s requests
on 2 cores each slowed the others past the statement timeout and none succeeded (goodput
fell to zero), and pool waits ran to 3.3 s. Here a worker lets ``slots`` requests run at
once (by default twice the database's cores, ``core.settings.admission_slots_for``), lets
``queue`` more wait up to ``wait_s`` for a slot, and answers every other one at once with a
503 problem and ``Retry-After``: the requests that run finish at the database's pace, and the
refused ones learn it in well under a second.

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
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import problem

#: Paths that never wait for a slot: liveness, static files and the scrape do no database
#: work; readiness must not report a saturated worker as broken (an orchestrator would take
#: it out and send its load to the others).
EXEMPT = ("/healthz", "/readyz", "/static/", "/metrics")
TITLE = "Tijdelijk overbelast"
#: Where the middleware leaves a request's :class:`Slot` (in ``scope["state"]``).
SLOT_KEY = "okaart_slot"
DETAIL = "de dienst is op dit moment te druk; probeer het over een seconde opnieuw"


class Admission:
    """``slots`` requests at once, ``queue`` waiting at most ``wait_s`` seconds each.

    Used on one event loop only (the worker's), so plain counters need no lock.
    """

    def __init__(self, slots: int, queue: int, wait_s: float) -> None:
        self.slots = max(1, slots)
        self.queue = queue
        self.wait_s = wait_s
        self.running = 0
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.refused = 0

    async def enter(self) -> bool:
        """True with a slot held (give it back with :meth:`leave`); False: refuse."""
        if self.running < self.slots and not self.waiting:
            self.running += 1
            return True
        if len(self.waiting) >= self.queue:
            self.refused += 1
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            async with asyncio.timeout(self.wait_s):
                await turn
        except TimeoutError:
            if turn.done() and not turn.cancelled():
                return True  # handed a slot just as the wait ran out: keep it
            self._forget(turn)
            self.refused += 1
            return False
        except BaseException:  # the client went away while waiting
            if turn.done() and not turn.cancelled():
                self.leave()
            else:
                self._forget(turn)
            raise
        return True

    def leave(self) -> None:
        """Give a slot back: to the longest waiter still waiting, else free it."""
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.running -= 1

    def _forget(self, turn: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self.waiting.remove(turn)


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
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        if not await self.admission.enter():
            refusal = problem(503, DETAIL, title=TITLE, headers={"Retry-After": "1"})
            await refusal(scope, receive, send)
            return
        slot = Slot(self.admission)
        scope.setdefault("state", {})[SLOT_KEY] = slot
        try:
            await self.app(scope, receive, send)
        finally:
            slot.release()
