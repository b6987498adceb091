"""The tile route's cheap paths: a cached tile answered before the extent test, still with its
audit row, and the extent test's CRS84 bounds without pyproj (issue 16)."""

from __future__ import annotations

from typing import Any

import morecantile
import numpy as np
import pytest
from sqlalchemy import Engine, text

from app.layer_sql import MAX_TILE_IDS
from app.services import services_of
from app.tile_build import EXTENT_SLACK, lonlat_bounds
from app.tms import GRIDS, RD_NEW, WEB_MERCATOR
from tests.conftest import auth

CENTRE = (6.567, 53.219)


def test_web_mercator_bounds_match_morecantile_without_pyproj() -> None:
    """The inverse Mercator formula gives morecantile's (pyproj's) CRS84 bounds, at every zoom
    and across the whole grid, so the extent test answers as before."""
    grid = GRIDS[WEB_MERCATOR]
    rng = np.random.default_rng(16)
    tiles = [grid.tms.tile(*CENTRE, z) for z in range(0, 23)]
    for z in rng.integers(0, 23, 300):
        n = 2 ** int(z)
        tiles.append(morecantile.Tile(int(rng.integers(0, n)), int(rng.integers(0, n)), int(z)))
    tiles += [morecantile.Tile(0, 0, 0), morecantile.Tile(0, 0, 1), morecantile.Tile(1, 1, 1)]
    for tile in tiles:
        ours, theirs = lonlat_bounds(grid, tile), grid.tms.bounds(tile)
        assert ours == pytest.approx(tuple(theirs), abs=1e-9), tile


def test_rd_bounds_are_morecantiles_widened_by_the_slack() -> None:
    grid = GRIDS[RD_NEW]
    for z in range(0, 12):
        tile = grid.tms.tile(*CENTRE, z)
        b = grid.tms.bounds(tile)
        widened = (
            b.left - EXTENT_SLACK,
            b.bottom - EXTENT_SLACK,
            b.right + EXTENT_SLACK,
            b.top + EXTENT_SLACK,
        )
        assert lonlat_bounds(grid, tile) == pytest.approx(widened, abs=1e-12)
        assert lonlat_bounds(grid, tile) == lonlat_bounds(grid, tile)  # remembered, the same answer


def _tile_rows(engine: Engine, bbox: str) -> list[Any]:
    with engine.connect() as c:
        return list(
            c.execute(
                text(
                    "SELECT status, laag, aantal, object_ids FROM audit_log WHERE bbox = :bbox "
                    "AND route LIKE '/collections/{collection_id}/tiles/%' ORDER BY id"
                ),
                {"bbox": bbox},
            ).all()
        )


def test_a_cached_tile_is_the_built_one_and_is_audited_the_same(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    """The second request for a tile comes from the cache (looked up before the zoom and
    extent tests): the same bytes and ETag, and an audit row with the same count and ids as
    the row of the read that built it."""
    services_of(client.app).tile_cache.clear()
    key = api_keys["analist"]
    # Zoom 18: a street-level tile, whose audit rows name its points (up to MAX_TILE_IDS).
    tile = GRIDS[WEB_MERCATOR].tms.tile(*CENTRE, 18)
    url = f"/collections/signalen/tiles/WebMercatorQuad/18/{tile.x}/{tile.y}"
    built = client.get(url, headers=auth(key))
    assert built.status_code == 200 and built.content
    held = services_of(client.app).tile_cache.bytes
    assert held > len(built.content)
    cached = client.get(url, headers=auth(key))
    assert cached.status_code == 200
    assert cached.content == built.content
    assert cached.headers["etag"] == built.headers["etag"]
    assert services_of(client.app).tile_cache.bytes == held  # served, not built and stored again
    rows = _tile_rows(demo_engine, f"tegel 18/{tile.x}/{tile.y}")
    assert len(rows) == 2
    (s1, laag1, n1, ids1), (s2, laag2, n2, ids2) = rows
    assert (s1, laag1) == (s2, laag2) == (200, "signalen")
    assert 0 < n1 == n2 <= MAX_TILE_IDS
    assert ids1 == ids2
    assert len(ids1) == n1


def test_tiles_outside_the_zoom_range_or_the_data_stay_empty_and_uncached(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    """The extent test still answers for tiles the cache does not hold: empty, recorded, and
    nothing stored (an empty answer costs no query, so it needs no cache)."""
    services_of(client.app).tile_cache.clear()
    key = api_keys["analist"]
    grid = GRIDS[WEB_MERCATOR]
    far = grid.tms.tile(-3.7, 40.4, 16)  # Madrid: outside every layer's extent
    low = grid.tms.tile(*CENTRE, 9)  # below the signal layer's minzoom
    for z, tile in ((16, far), (9, low)):
        response = client.get(
            f"/collections/signalen/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}", headers=auth(key)
        )
        assert response.status_code == 200
        assert response.content == b""
        rows = _tile_rows(demo_engine, f"tegel {z}/{tile.x}/{tile.y}")
        assert rows and rows[-1][0] == 200 and not rows[-1][2]
    assert services_of(client.app).tile_cache.bytes == 0
