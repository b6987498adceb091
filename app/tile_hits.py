"""Tiles answered before the dependency chain runs: cached ones and 304s on the event loop,
missing ones built in a worker thread.

What a tile cost beside its query was the way there: FastAPI solving seven dependencies
(a third of the Python time of an uncached tile), a hop to the thread pool for the
(synchronous) route, and for a cached tile a connection and a commit for its audit row.
:class:`TileRoute` is the tile route's class: before the ordinary handler runs,
:func:`answer_early` checks the request itself and answers it:

* a 304 when ``If-None-Match`` names the tile as it is now (no row: nothing new disclosed);
* a cached tile from memory, its audit row handed to the process's group-committing writer
  (app/audit_batch.py) and committed before a byte is sent;
* a tile outside the layer's zoom range or extent: empty, without a query (its row written
  by the audit middleware, as for the route);
* any other tile built by ``app.tile_build.build``, the very function the route calls: the
  tile's SQL with its audit row in the same statement, in a worker thread, then cached.

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
slot held there kept a batch no larger than a worker's slots. A tile being built keeps its
slot: its query is the work the slots bound.

It never refuses anything itself: whenever a check fails, or would need I/O (a caller the
cache does not know, a data version older than its TTL), the request goes to the ordinary
route, which gives the answer (and the refusal, with its audit row) exactly as before. So a
warm cache refuses exactly like a cold one, and only an answer the ordinary route would give
too is given here. Once the checks have passed, this path answers whatever happens next: a
database error while building is answered by the error handlers as the route's would be
(a 503 problem), so no tile is ever queried twice and each request has one audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app import admission, audit, metrics
from app.dataversion import version
from app.deps import tile_selection
from app.early import EarlyRoute, gate, rate_token
from app.filtering import narrowed, tile_query
from app.layer_sql import Selection
from app.params import Interval, interval, tile
from app.services import Services, services_of
from app.tile_build import MVT, build, build_async, empty, outside, tile_headers
from app.tilecache import CachedTile
from app.tms import WEB_MERCATOR, Grid, GridTile
from core.security import Principal
from layers.base import Layer

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


def _number(text: Any) -> int | None:
    """A path segment as FastAPI reads an ``int`` there, or None to leave it to FastAPI (a
    sign, spaces or underscores, which Python's ``int`` would accept)."""
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else None


@dataclass(slots=True)
class Checked:
    """A tile request that passed every check of the route's, and what those checks found."""

    entry: audit.AuditEntry
    principal: Principal
    layer: Layer
    xyz: GridTile
    selection: Selection
    etag: str
    #: The tile in the cache, or None.
    cached: CachedTile | None = None
    #: ``If-None-Match`` names the tile as it is now: a 304.
    not_modified: bool = False


async def _checked(request: Request, services: Services, runs: dict[str, int]) -> Checked | None:
    """The gate's and the dependencies' checks, without I/O; None: leave it to the route.
    Raises whatever those checks raise (the caller then leaves it to the route too)."""
    checked = gate(request)
    if checked is None:
        return None  # unknown to the cache: the gate decides (and counts) that
    entry, principal, layer = checked
    path, query = request.path_params, request.query_params
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
    found = Checked(entry, principal, layer, xyz, selection, etag)
    if request.headers.get("if-none-match") == etag:
        found.not_modified = True
    else:
        found.cached = services.tile_cache.get(etag)
    return found


async def answer_early(request: Request) -> Response | None:
    """A tile (a cached one, or one built now), an empty tile or a 304, each with its audit
    row; None: the route answers."""
    services = services_of(request.app)
    runs = services.versions.peek()
    if runs is None:
        return None
    try:
        found = await _checked(request, services, runs)
    except Exception:  # a refusal: the route gives it, with its row
        return None
    if found is None:
        return None
    if not await rate_token(services, found.principal):
        return None  # over the limit: the gate refuses it (429), with its row
    # From here on this path answers whatever happens: the route would run the same code.
    etag = found.etag
    if found.not_modified:
        return Response(status_code=304, headers=tile_headers(etag))  # discloses nothing new: no row
    cached = found.cached
    if cached is not None:
        return await _hit(request, services, found.entry, cached, etag)
    if outside(services, found.layer, found.xyz):
        return empty(etag)  # its row is written by the audit middleware, as the route's
    # A miss: the tile's query with its audit row in the same statement, on the event loop
    # (app/async_reads.py), else in a worker thread as the (synchronous) route runs it. It
    # keeps its admission slot: this is the work the slots bound.
    layer, principal, xyz, selection = found.layer, found.principal, found.xyz, found.selection
    reads = services.reads_now()
    if reads is not None:  # on the event loop: no thread hop (app/async_reads.py)
        return await build_async(request, services, reads, layer, principal, xyz, selection, etag)
    return await run_in_threadpool(
        build, request, services, layer, principal, xyz, selection, etag, runs, early=True
    )


async def _hit(
    request: Request, services: Services, entry: audit.AuditEntry, cached: CachedTile, etag: str
) -> Response:
    """A cached tile, sent once its audit row is committed by the group-committing writer."""
    metrics.tile_cache(hit=True, early=True)
    entry.aantal, entry.object_ids = cached.count, cached.logged_ids
    # Its database work is its row, which the audit writer commits with the others waiting
    # then, in one statement: the admission slot goes to another request meanwhile, so
    # batches can grow past the slots of a worker.
    admission.release(request.scope)
    await audit.commit_row_async(services.audit_batch, entry, 200)  # the 503 if it fails
    return Response(cached.data, media_type=MVT, headers=tile_headers(etag))


class TileRoute(EarlyRoute):
    """The tile route: :func:`answer_early` first, the ordinary handler when it declines."""

    @staticmethod
    async def early(request: Request) -> Response | None:
        return await answer_early(request)  # looked up when called: tests make it decline
