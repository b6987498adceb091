"""Cached tiles and 304s answered on the event loop, before the dependency chain runs.

A tile the cache holds costs no query; what it cost was the way there: FastAPI solving seven
dependencies, a hop to the thread pool for the (synchronous) route, and a connection and a
commit for its audit row. :class:`TileRoute` is the tile route's class: before the ordinary
handler runs, :func:`answer_hit` tries to answer from memory, on the event loop, and hands
the audit row to the process's group-committing writer (app/audit_batch.py), awaiting its
commit before a byte is sent.

It checks what the ordinary path checks, with the same functions, in the same order:

* the access gate (``app.access.gate``): an audit entry opened first, the caller resolved
  from the principal cache (no I/O), the per-key rate limit (a token this worker holds, else
  one from the shared bucket, in a worker thread as the gate does);
* the layer as this principal may see it (``app.deps._visible``: clearance, second factor);
* the purpose, required below aggregate level and one of the principal's own;
* the tile, ``datetime``, the property filters and the CQL filter and ``ids``
  (``app.params``, ``app.filtering``), which make up the tile's key (:func:`tile_etag`) with
  the data version and the caller's view.

A hit gives its admission slot back before it waits for the commit (``app.admission.release``):
what it waits for is one statement of the audit writer's, however many rows it holds, and a
slot held there kept a batch no larger than a worker's slots.

It never refuses anything itself: whenever a check fails, or would need I/O (a caller the
cache does not know, a data version older than its TTL), or the tile
is not cached, the request goes to the ordinary route, which gives the answer (and the
refusal, with its audit row) exactly as before. So a warm cache refuses exactly like a
cold one, and only an answer the ordinary route would give too (a 200 from the same cache
entry, or a 304) is given here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app import admission, audit, metrics
from app.access import rule_of
from app.dataversion import version
from app.deps import _visible, caller_of, record_purpose, require_purpose, tile_selection
from app.filtering import narrowed, tile_query
from app.layer_sql import Selection
from app.params import Interval, interval, purpose_of, tile
from app.services import Services, services_of
from app.tilecache import CachedTile
from app.tms import WEB_MERCATOR, Grid
from core.security import Principal
from layers.base import Layer

MVT = "application/vnd.mapbox-vector-tile"
#: FastAPI's bound on z (``app.params.tile``); x and y are bounded there by the zoom.
MAX_Z = 24


def view_of(principal: Principal) -> str:
    """What shapes this caller's tiles: role, municipalities, covenants, data class, and the
    second factor (``Principal.can_see`` clears attributes by it: app/layer_sql._cleared)."""
    return (
        f"{principal.rol}|{','.join(principal.gemeenten)}|{','.join(principal.convenanten)}"
        f"|{principal.dataklasse}|{int(principal.tweede_factor)}"
    )


def tile_etag(
    runs: dict[str, int],
    layer: Layer,
    principal: Principal,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    selection: Selection,
    period: Interval,
) -> str:
    """A tile's ETag, which is also its key in the tile cache: the layer's data version, the
    caller's view, the tile and everything that filters it."""
    return (
        '"'
        + version(
            runs,
            layer,
            view_of(principal),
            f"{grid.id}/{z}/{x}/{y}",
            str(sorted(selection.filters.items())),
            period.text or "",
            # A filtered tile is another tile: its filter and ids are part of its tag.
            selection.cql.key if selection.cql else "",
            ",".join(selection.ids or ()),
        )
        + '"'
    )


def tile_label(grid: Grid, z: int, x: int, y: int) -> str:
    """How a tile's audit row names it (its ``bbox`` column)."""
    return f"tegel {z}/{x}/{y}" + ("" if grid.id == WEB_MERCATOR else f" ({grid.id})")


def tile_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Authorization"}


def _number(text: Any) -> int | None:
    """A path segment as FastAPI reads an ``int`` there, or None to leave it to FastAPI (a
    sign, spaces or underscores, which Python's ``int`` would accept)."""
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else None


async def _checked(
    request: Request, services: Services, runs: dict[str, int]
) -> tuple[audit.AuditEntry, Principal, str, CachedTile | None] | None:
    """The gate's and the dependencies' checks, without I/O; None: leave it to the route.
    Raises whatever those checks raise (the caller then leaves it to the route too)."""
    entry = audit.open_entry(request, request.scope["route"].path, data=True)
    caller = caller_of(request)
    if not caller.resolved or caller.principal is None:
        return None  # unknown to the cache, or refused: the gate decides (and counts) that
    principal = entry.principal = caller.principal
    path, query = request.path_params, request.query_params
    layer = _visible(request, path["collection_id"], principal)
    stated = purpose_of(request.headers.get("x-doel"), query.get("doel"))
    record_purpose(request, stated)
    if layer.clearance != "aggregaat":
        require_purpose(principal, stated, f"laag {layer.id!r} bevat gegevens op objectniveau")
    z, x, y = (_number(path[name]) for name in ("z", "x", "y"))
    if z is None or x is None or y is None or z > MAX_Z:
        return None
    xyz = await tile(path["tms_id"], z, x, y)
    period = await interval(query.get("datetime"))
    asked = await tile_query(
        query.get("filter"), query.get("filter-lang"), query.get("filter-crs"), query.get("ids")
    )
    selection = narrowed(tile_selection(request, layer, period), layer, asked)
    entry.bbox = tile_label(xyz.grid, z, x, y)
    etag = tile_etag(runs, layer, principal, xyz.grid, z, x, y, selection, period)
    if request.headers.get("if-none-match") == etag:
        return entry, principal, etag, None
    cached = services.tile_cache.get(etag)
    return (entry, principal, etag, cached) if cached is not None else None


async def answer_hit(request: Request) -> Response | None:
    """A cached tile (its audit row committed first) or a 304; None: the route answers."""
    services = services_of(request.app)
    runs = services.versions.peek()
    if runs is None or not services.tile_cache.max_bytes:
        return None
    try:
        found = await _checked(request, services, runs)
    except Exception:  # a refusal: the route gives it, with its row
        return None
    if found is None:
        return None
    entry, principal, etag, cached = found
    # The gate's rate limit, the same way: a token in hand, else one from the shared bucket.
    limiter = services.rate_limiter
    if limiter.enabled and not limiter.take_local(principal.id):
        wait: float = await run_in_threadpool(limiter.take, principal.id)
        if wait:
            return None  # over the limit: the gate refuses it (429), with its row
    headers = tile_headers(etag)
    if cached is None:
        return Response(status_code=304, headers=headers)  # discloses nothing new: no row
    metrics.tile_cache(hit=True, early=True)
    entry.aantal, entry.object_ids = cached.count, cached.logged_ids
    # Its database work is its row, which the audit writer commits with the others waiting
    # then, in one statement: the admission slot goes to another request meanwhile, so
    # batches can grow past the slots of a worker.
    admission.release(request.scope)
    await audit.commit_row_async(services.audit_batch, entry, 200)  # the 503 if it fails
    return Response(cached.data, media_type=MVT, headers=headers)


class TileRoute(APIRoute):
    """The tile route: :func:`answer_hit` first, the ordinary handler when it declines."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if rule_of(self) != "gegevens":
            raise ValueError(f"{self.path}: TileRoute answers data routes only")
        ordinary = super().get_route_handler()

        async def handler(request: Request) -> Response:
            answered = await answer_hit(request)
            return answered if answered is not None else await ordinary(request)

        return handler
