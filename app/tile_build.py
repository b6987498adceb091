"""Building a vector tile the cache does not hold: one function for both ways a tile is asked.

A tile is built either on the early path (app/tile_hits.py, once its checks have passed
there) or by the ordinary route (app/routers/tiles.py, when the early path declined). Both
call the same two functions here, so what a tile contains and what its audit row says can
never depend on the way it came:

* :func:`outside`: the cheap test that answers a tile outside the layer's zoom range or the
  data's extent with an empty tile and no query (its audit row is then written by
  ``app.audit.AuditMiddleware``, as for any data route that answered without a read);
* :func:`build`: the tile's SQL (``app.layer_sql.mvt`` on the stored EPSG:3857 copy, or
  ``mvt_rd`` in RD New) run with its audit row in the same statement
  (``app.audit.audited_one``), then put in the tile cache. Blocking: it runs in a worker
  thread. :func:`build_async` is the same on the event loop, for the early path when the
  async connections are usable (app/async_reads.py).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import morecantile
from fastapi import Request
from fastapi.responses import Response

from app import audit, layer_sql, metrics
from app.async_reads import AsyncReads
from app.dataversion import run_ids
from app.layer_sql import Selection
from app.services import Services
from app.tilecache import CachedTile
from app.tms import GRIDS, Grid, GridTile
from core.security import Principal
from layers.base import Layer

MVT = "application/vnd.mapbox-vector-tile"
#: How far (degrees) the cheap extent test reaches beyond a tile: morecantile gives an RD
#: tile's corners in Amersfoort's own geographic CRS, some 0.001° from WGS84.
EXTENT_SLACK = 0.01
#: The sphere of EPSG:3857 (WGS84's semi-major axis).
MERCATOR_RADIUS = 6378137.0


def tile_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Authorization"}


def outside(services: Services, layer: Layer, xyz: GridTile) -> bool:
    """Whether the tile lies outside the layer's zoom range or its data's extent: an empty
    tile then, without a query."""
    minzoom, maxzoom = xyz.grid.zooms(layer.minzoom, layer.maxzoom)
    if xyz.z < minzoom or xyz.z > maxzoom:
        return True
    return not services.extents.touches(layer.id, lonlat_bounds(xyz.grid, xyz.tile))


def empty(etag: str) -> Response:
    return Response(b"", media_type=MVT, headers=tile_headers(etag))


def statement(
    services: Services, layer: Layer, principal: Principal, xyz: GridTile, selection: Selection
) -> tuple[str, dict[str, Any]]:
    """The tile's SQL: ``app.layer_sql.mvt`` on the stored EPSG:3857 copy, or ``mvt_rd``."""
    k = services.settings.suppression_k
    if xyz.grid.srid == 3857:
        return layer_sql.mvt(layer, principal, selection, xyz.tile, k=k)
    return layer_sql.mvt_rd(layer, principal, selection, xyz.grid.xy_bounds(xyz.tile), k=k)


def build(
    request: Request,
    services: Services,
    layer: Layer,
    principal: Principal,
    xyz: GridTile,
    selection: Selection,
    etag: str,
    runs: dict[str, int],
    *,
    early: bool = False,
) -> Response:
    """The tile from PostGIS, its audit row committed in the same statement, then cached.

    A database error propagates (the error handlers answer it: a 503 problem for a timeout
    or a lost connection, the audit refusal when the row could not be written); nothing is
    cached then and no data leaves. ``runs``: the ingest runs the tile's key was made with; a
    replica that has not replayed them is not read (app/replica_reads.py). ``early``: asked
    by app/tile_hits.py (counted apart)."""
    metrics.tile_cache(hit=False, early=early)
    sql, params = statement(services, layer, principal, xyz, selection)
    row = audit.audited_one(request, services.engine, sql, params, runs=run_ids(runs, layer))
    return _cached(services, etag, row)


async def build_async(
    request: Request,
    services: Services,
    reads: AsyncReads,
    layer: Layer,
    principal: Principal,
    xyz: GridTile,
    selection: Selection,
    etag: str,
) -> Response:
    """:func:`build` on the event loop (app/async_reads.py), for the early path: the same
    statement, row, cache entry and errors. No replica is read this way, so the ingest runs
    of the key need no check."""
    metrics.tile_cache(hit=False, early=True)
    sql, params = statement(services, layer, principal, xyz, selection)
    row = await audit.audited_one_async(request, reads, sql, params)
    return _cached(services, etag, row)


def _cached(services: Services, etag: str, row: Any) -> Response:
    """The tile of the read's row, put in the cache."""
    data = bytes(row.tile or b"")
    if services.tile_cache.max_bytes:  # an entry computes its size and logged ids: not for nothing
        services.tile_cache.put(etag, CachedTile(data, int(row.aantal), tuple(row.ids) if row.ids else None))
    return Response(data, media_type=MVT, headers=tile_headers(etag))


def lonlat_bounds(grid: Grid, tile: morecantile.Tile) -> morecantile.commons.BoundingBox:
    """A tile's bounds in CRS84, for the cheap extent test. WebMercatorQuad's by the inverse
    Mercator formula: morecantile's ``bounds`` goes through pyproj, which cost a sixth of a
    cached tile's time in the route. An RD tile's through morecantile (Amersfoort's own
    geographic CRS, so widened by :data:`EXTENT_SLACK`), remembered per tile."""
    if grid.srid == 3857:
        left, bottom, right, top = grid.xy_bounds(tile)
        return morecantile.commons.BoundingBox(_lon(left), _lat(bottom), _lon(right), _lat(top))
    return _rd_lonlat_bounds(grid.id, tile.z, tile.x, tile.y)


def _lon(x: float) -> float:
    return math.degrees(x / MERCATOR_RADIUS)


def _lat(y: float) -> float:
    return math.degrees(math.atan(math.sinh(y / MERCATOR_RADIUS)))


@functools.lru_cache(maxsize=16_384)
def _rd_lonlat_bounds(grid_id: str, z: int, x: int, y: int) -> morecantile.commons.BoundingBox:
    b = GRIDS[grid_id].tms.bounds(morecantile.Tile(x, y, z))
    slack = EXTENT_SLACK
    return morecantile.commons.BoundingBox(b.left - slack, b.bottom - slack, b.right + slack, b.top + slack)
