"""What the early answers of the busiest data routes share (app/tile_hits.py, app/items_early.py).

A tile or an items page checked and answered before FastAPI's dependency chain runs must pass
exactly what that chain checks, with the same functions and in the same order, so the two
ways can never differ in who gets what. This module is that part, written once:

* :func:`gate`: the access gate's and the layer dependency's checks without I/O (an audit
  entry opened first, the caller from the principal cache, the layer as this principal may
  see it, the purpose, required below aggregate level and one of the principal's own);
* :func:`rate_token`: the gate's per-key rate limit (a token this worker holds, else one from
  the shared bucket, in a worker thread as the gate does);
* :class:`EarlyRoute`: a route class that asks its early answer first and runs the ordinary
  handler when it declines (returns None).

Both decline rather than refuse: a caller the cache does not know, or a check that raises,
goes to the ordinary route, which refuses with its own audit row, exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app import audit
from app.access import rule_of
from app.deps import _visible, caller_of, record_purpose, require_purpose
from app.params import purpose_of
from app.services import Services
from core.security import Principal
from layers.base import Layer


def gate(request: Request) -> tuple[audit.AuditEntry, Principal, Layer] | None:
    """The caller and the layer, checked as the gate and the layer dependency check them;
    None: the caller is unknown to the cache (the gate looks it up, and counts a failure).
    Raises what those checks raise."""
    entry = audit.open_entry(request, request.scope["route"].path, data=True)
    caller = caller_of(request)
    if not caller.resolved or caller.principal is None:
        return None
    principal = entry.principal = caller.principal
    layer = _visible(request, request.path_params["collection_id"], principal)
    stated = purpose_of(request.headers.get("x-doel"), request.query_params.get("doel"))
    record_purpose(request, stated)
    if layer.clearance != "aggregaat":
        require_purpose(principal, stated, f"laag {layer.id!r} bevat gegevens op objectniveau")
    return entry, principal, layer


async def rate_token(services: Services, principal: Principal) -> bool:
    """Whether the principal may make this request now (the gate's limit); False: the gate
    refuses it (429), with its row."""
    limiter = services.rate_limiter
    if not limiter.enabled or limiter.take_local(principal.id):
        return True
    wait: float = await run_in_threadpool(limiter.take, principal.id)
    return not wait


class EarlyRoute(APIRoute):
    """A data route whose :attr:`early` answer is asked first; the ordinary handler runs when
    it declines."""

    @staticmethod
    async def early(request: Request) -> Response | None:
        """The early answer, or None to let the ordinary handler answer."""
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if rule_of(self) != "gegevens":
            raise ValueError(f"{self.path}: {type(self).__name__} answers data routes only")
        ordinary = super().get_route_handler()
        early = self.early

        async def handler(request: Request) -> Response:
            answered = await early(request)
            return answered if answered is not None else await ordinary(request)

        return handler
