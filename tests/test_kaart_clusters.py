"""Point clusters computed in the tile (issue #15): below a point layer's ``single_from`` zoom a
WebMercatorQuad tile carries one feature per grid cell with its number of points (``aantal``),
counted only from what the caller may see; from that zoom on, single points as before. The MVT
tests decode the tiles; the browser tests count what Leaflet draws in Chromium (screenshots in
test-artifacts/)."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from core.security import Principal, principal_for_key
from layers import REGISTRY
from tests.conftest import auth

TMS = morecantile.tms.get("WebMercatorQuad")
CENTRE = (53.2194, 6.5665)  # Grote Markt, Groningen (lat, lon)
SINGLE_FROM = 15


def _principal(engine: Engine, key: str) -> Principal:
    with engine.connect() as conn:
        principal = principal_for_key(conn, key)
    assert principal is not None
    return principal


def _tile(client: Any, key: str, layer: str, tile: morecantile.Tile, query: str = "") -> list[dict[str, Any]]:
    r = client.get(
        f"/collections/{layer}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}{query}", headers=auth(key)
    )
    assert r.status_code == 200, r.text
    if not r.content:
        return []
    features: list[dict[str, Any]] = mapbox_vector_tile.decode(r.content).get(layer, {}).get("features", [])
    return features


#: The signals a principal may see whose stored 3857 point lies in the tile (left and top
#: edges in, right and bottom out), written out here from DESIGN §7 rather than taken from
#: app.layer_sql: municipality, covenant for partners, data class up to the principal's own,
#: retention.
SIGNALS_IN_TILE = """
    SELECT count(*) FROM signaal s, ST_TileEnvelope(:z, :x, :y) AS b
    WHERE s.bewaren_tot >= current_date AND s.gemeentecode = ANY(:gemeenten)
      AND (CAST(:convenanten AS text[]) IS NULL OR s.convenant = ANY(CAST(:convenanten AS text[])))
      AND s.dataklasse = ANY(:dataklassen)
      AND ST_X(s.geom_3857) >= ST_XMin(b) AND ST_X(s.geom_3857) < ST_XMax(b)
      AND ST_Y(s.geom_3857) > ST_YMin(b) AND ST_Y(s.geom_3857) <= ST_YMax(b)
"""


def _visible_signals(engine: Engine, principal: Principal, tile: morecantile.Tile) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(SIGNALS_IN_TILE),
                {
                    "z": tile.z, "x": tile.x, "y": tile.y, "gemeenten": list(principal.gemeenten),
                    "convenanten": list(principal.convenanten) if principal.rol == "partner" else None,
                    "dataklassen": principal.dataklassen,
                },
            ).scalar_one()
        )  # fmt: skip


def _check_clusters(features: list[dict[str, Any]], layer: str) -> int:
    """The tile's clusters carry their count only; its single points their attributes. The
    number of points the tile stands for."""
    names = {p.name for p in REGISTRY[layer].properties}
    total = 0
    for f in features:
        props = f["properties"]
        assert f["geometry"]["type"] == "Point"
        n = props["aantal"]
        assert isinstance(n, int) and n >= 1
        if n > 1:
            assert set(props) == {"aantal"}, props  # nothing that names a point in the cluster
        else:
            assert props["id"] and set(props) - {"id", "aantal"} <= names and "bron" in props
        total += n
    return total


@pytest.mark.parametrize("who", ["analist", "partner_riec"])
def test_cluster_counts_add_up_to_the_signals_the_caller_may_see(
    client: Any, demo_engine: Engine, api_keys: dict[str, str], who: str
) -> None:
    principal = _principal(demo_engine, api_keys[who])
    centre = TMS.tile(CENTRE[1], CENTRE[0], 14)
    tiles = [centre, *(TMS.tile(CENTRE[1], CENTRE[0], z) for z in (12, 13))]
    tiles += [morecantile.Tile(centre.x + dx, centre.y + dy, 14) for dx, dy in ((1, 0), (0, 1), (-1, -1))]
    clustered = 0
    for tile in tiles:
        features = _tile(client, api_keys[who], "signalen", tile)
        shown = _check_clusters(features, "signalen")
        assert shown == _visible_signals(demo_engine, principal, tile), (who, tile)
        clustered += sum(1 for f in features if f["properties"]["aantal"] > 1)
    assert clustered > 10  # the city centre is dense: this is a test of clusters, not of dots
    # The tile at zoom 13 is its four children at zoom 14: each point counted once.
    parent = tiles[2]
    children = TMS.children(parent)
    assert sum(
        _check_clusters(_tile(client, api_keys[who], "signalen", c), "signalen") for c in children
    ) == (_check_clusters(_tile(client, api_keys[who], "signalen", parent), "signalen"))


def test_a_partner_counts_only_signals_of_its_covenant(
    client: Any, demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    tile = TMS.tile(CENTRE[1], CENTRE[0], 13)
    analyst = _check_clusters(_tile(client, api_keys["analist"], "signalen", tile), "signalen")
    partner = _check_clusters(_tile(client, api_keys["partner_riec"], "signalen", tile), "signalen")
    assert 0 < partner < analyst
    with demo_engine.connect() as conn:
        riec = conn.execute(
            text(
                "SELECT count(*) FROM signaal s, ST_TileEnvelope(:z, :x, :y) AS b WHERE s.convenant = 'riec'"
                " AND s.bewaren_tot >= current_date AND ST_X(s.geom_3857) >= ST_XMin(b)"
                " AND ST_X(s.geom_3857) < ST_XMax(b) AND ST_Y(s.geom_3857) > ST_YMin(b)"
                " AND ST_Y(s.geom_3857) <= ST_YMax(b) AND s.dataklasse <> 'zeer_vertrouwelijk'"
            ),
            {"z": tile.z, "x": tile.x, "y": tile.y},
        ).scalar_one()
    assert partner == riec


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lon=st.floats(6.50, 6.64),
    lat=st.floats(53.18, 53.25),
    z=st.integers(12, SINGLE_FROM - 1),
    who=st.sampled_from(["analist", "partner_riec", "partner_zorg"]),
)
def test_any_tile_counts_what_the_caller_may_see(
    client: Any, demo_engine: Engine, api_keys: dict[str, str], lon: float, lat: float, z: int, who: str
) -> None:
    tile = TMS.tile(lon, lat, z)
    features = _tile(client, api_keys[who], "signalen", tile)
    shown = _check_clusters(features, "signalen")
    assert shown == _visible_signals(demo_engine, _principal(demo_engine, api_keys[who]), tile)


def test_a_filtered_period_counts_only_that_period(
    client: Any, demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    tile = TMS.tile(CENTRE[1], CENTRE[0], 13)
    key = api_keys["analist"]
    year = _check_clusters(
        _tile(client, key, "signalen", tile, "?datetime=2024-01-01/2024-12-31"), "signalen"
    )
    drugs = _check_clusters(
        _tile(client, key, "signalen", tile, "?datetime=2024-01-01/2024-12-31&thema=drugs"), "signalen"
    )
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE s.thema = 'drugs') FROM signaal s,"
                " ST_TileEnvelope(:z, :x, :y) AS b WHERE s.gemeentecode = 'GM0014'"
                " AND s.bewaren_tot >= current_date AND s.datum BETWEEN '2024-01-01' AND '2024-12-31'"
                " AND s.dataklasse = ANY(:dk) AND ST_X(s.geom_3857) >= ST_XMin(b)"
                " AND ST_X(s.geom_3857) < ST_XMax(b) AND ST_Y(s.geom_3857) > ST_YMin(b)"
                " AND ST_Y(s.geom_3857) <= ST_YMax(b)"
            ),
            {"z": tile.z, "x": tile.x, "y": tile.y, "dk": _principal(demo_engine, key).dataklassen},
        ).one()
    assert (year, drugs) == tuple(expected) and 0 < drugs < year


def test_vacancy_clusters_too_and_single_points_from_the_readable_zoom(
    client: Any, demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    key = api_keys["analist"]
    low = _tile(client, key, "leegstand", TMS.tile(CENTRE[1], CENTRE[0], 13))
    with demo_engine.connect() as conn:
        tile = TMS.tile(CENTRE[1], CENTRE[0], 13)
        vacant = conn.execute(
            text(
                "SELECT count(*) FROM leegstand l, ST_TileEnvelope(:z, :x, :y) AS b WHERE l.gemeentecode = 'GM0014'"
                " AND ST_X(l.geom_3857) >= ST_XMin(b) AND ST_X(l.geom_3857) < ST_XMax(b)"
                " AND ST_Y(l.geom_3857) > ST_YMin(b) AND ST_Y(l.geom_3857) <= ST_YMax(b)"
            ),
            {"z": tile.z, "x": tile.x, "y": tile.y},
        ).scalar_one()
    assert _check_clusters(low, "leegstand") == vacant > 0
    assert any(f["properties"]["aantal"] > 1 for f in low)
    # From zoom 15 every feature is one point with its attributes, as before clustering.
    for layer in ("signalen", "leegstand"):
        high = _tile(client, key, layer, TMS.tile(CENTRE[1], CENTRE[0], SINGLE_FROM))
        assert high and all("aantal" not in f["properties"] and f["properties"]["id"] for f in high)
