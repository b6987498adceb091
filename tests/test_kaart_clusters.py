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
from playwright.sync_api import Page
from sqlalchemy import Engine, text

from core.security import Principal, principal_for_key
from layers import REGISTRY
from tests.browser_support import artifact
from tests.conftest import auth
from tests.test_browser import READY, Watched, _sign_in_with_key

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


# -- in Chromium ------------------------------------------------------------------------------


# The map served over HTTP, Chromium and a desktop page: tests/conftest.py (base_url, browser, page).


#: What Leaflet has drawn on the map: SVG paths (areas, points, clusters), canvases and marker
#: elements; and per point layer the clusters (their counts as written) and the single points.
DRAWN = """(ids) => {
    const map = okaart.kaart.getContainer();
    const out = {
        paths: map.querySelectorAll('path').length,
        canvases: map.querySelectorAll('canvas').length,
        markers: map.querySelectorAll('.leaflet-marker-icon').length,
        layers: {},
    };
    ids.forEach((id) => {
        const box = okaart.lagen[id].getContainer();
        const texts = Array.from(box.querySelectorAll('text.okaart-cluster-aantal'));
        out.layers[id] = {
            clusters: texts.map((t) => Number(t.getAttribute('data-aantal'))),
            written: texts.map((t) => t.textContent),
            circles: box.querySelectorAll('path.okaart-cluster').length,
            singles: box.querySelectorAll('path:not(.okaart-cluster)').length,
        };
    });
    return out;
}"""


def _show(page: Page, layer_ids: list[str], zoom: int, centre: tuple[float, float] = CENTRE) -> None:
    """Show only these point layers, centred on the city centre, and wait until drawn."""
    page.evaluate(
        """([ids, centre, zoom]) => {
            Object.keys(okaart.lagen).forEach((id) => {
                const punt = ['signalen', 'leegstand', 'vestigingen'].includes(id);
                if (punt && !ids.includes(id) && okaart.kaart.hasLayer(okaart.lagen[id])) okaart.kaart.removeLayer(okaart.lagen[id]);
                if (ids.includes(id) && !okaart.kaart.hasLayer(okaart.lagen[id])) okaart.kaart.addLayer(okaart.lagen[id]);
            });
            okaart.kaart.setView(centre, zoom, {animate: false});
        }""",
        [layer_ids, list(centre), zoom],
    )
    page.wait_for_function(
        """(ids) => ids.every((id) => !okaart.lagen[id].isLoading()
            && okaart.lagen[id].getContainer().querySelectorAll('path').length > 0)""",
        arg=layer_ids,
        timeout=30_000,
    )
    page.wait_for_timeout(300)  # the last tile's paths are added in an animation frame


def test_at_zoom_15_clusters_keep_the_city_centre_under_a_thousand_paths(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    _show(page.page, ["signalen", "leegstand"], 15)
    drawn: dict[str, Any] = page.page.evaluate(DRAWN, ["signalen", "leegstand"])
    shot = artifact("kaart-clusters-zoom15.png")
    page.page.screenshot(path=shot)
    points = {layer: sum(d["clusters"]) + d["singles"] for layer, d in drawn["layers"].items()}
    print(f"screenshot: {shot}; drawn {drawn['paths']} paths for {points} points")
    # Several thousand points on the tiles drawn, yet far fewer than a thousand elements.
    assert sum(points.values()) >= 3000, points
    assert drawn["paths"] < 1000 and drawn["canvases"] == 0 and drawn["markers"] == 0
    for layer, d in drawn["layers"].items():
        assert len(d["clusters"]) >= 20, layer
        assert d["circles"] == len(d["clusters"])  # one circle and one number per cluster
        assert all(n > 1 for n in d["clusters"])
        # The count is written in Dutch (a thousands dot), as the tile gives it.
        assert d["written"] == [f"{n:,}".replace(",", ".") for n in d["clusters"]]
    assert page.errors == []


def test_a_click_on_a_cluster_zooms_in_and_a_single_point_opens_its_popup(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    _show(page.page, ["signalen"], 14)
    found = page.page.evaluate(
        """() => {
            const map = okaart.kaart.getContainer().getBoundingClientRect();
            for (const p of okaart.lagen.signalen.getContainer().querySelectorAll('path.okaart-cluster')) {
                const b = p.getBoundingClientRect();
                const x = b.left + b.width / 2, y = b.top + b.height / 2;
                const inside = x > map.left + 380 && x < map.right - 330 && y > map.top + 200 && y < map.bottom - 120;
                if (inside && document.elementFromPoint(x, y) === p) return [x, y];
            }
            return null;
        }"""
    )
    assert found is not None, "no cluster to click in the middle of the map"
    page.page.mouse.click(found[0], found[1])
    page.page.wait_for_function("() => okaart.kaart.getZoom() === 16")
    assert page.page.locator(".leaflet-popup").count() == 0  # a cluster has no popup
    # At zoom 16 the tiles carry single points: a click on one opens its popup.
    page.page.wait_for_function(
        """() => !okaart.lagen.signalen.isLoading()
            && okaart.lagen.signalen.getContainer().querySelectorAll('path:not(.okaart-cluster)').length > 0
            && document.querySelectorAll('text.okaart-cluster-aantal').length === 0""",
        timeout=30_000,
    )
    single = page.page.evaluate(
        """() => {
            const map = okaart.kaart.getContainer().getBoundingClientRect();
            const ps = okaart.lagen.signalen.getContainer().querySelectorAll('path.leaflet-interactive');
            for (const p of ps) {
                const b = p.getBoundingClientRect();
                const x = b.left + b.width / 2, y = b.top + b.height / 2;
                const inside = x > map.left + 380 && x < map.right - 330 && y > map.top + 200 && y < map.bottom - 120;
                if (inside && document.elementFromPoint(x, y) === p) return [x, y];
            }
            return null;
        }"""
    )
    assert single is not None, "no single point to click at zoom 16"
    page.page.mouse.click(single[0], single[1])
    popup = page.page.locator(".leaflet-popup-content .popup.punt[data-laag=signalen]")
    popup.wait_for(timeout=10_000)
    assert popup.inner_text().startswith("Signaal")
    shot = artifact("kaart-clusters-klik.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []


def test_the_legend_names_each_clustered_layer_in_its_own_colours_and_zoom(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    """One legend line per point layer that clusters, from its declaration (colours, the map
    zoom from which its points stand alone), none for a layer that never clusters."""
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    lines = page.page.evaluate(
        """() => [...document.querySelectorAll('.legend li.cluster, .info li.cluster, li.cluster')].map(li => ({
            laag: li.dataset.laag, tekst: li.textContent,
            rand: getComputedStyle(li.querySelector('.punt')).borderTopColor,
            vlak: getComputedStyle(li.querySelector('.punt')).backgroundColor}))"""
    )
    clustered = {
        lid for lid in ("signalen", "leegstand", "vestigingen") if REGISTRY[lid].single_from is not None
    }
    assert {line["laag"] for line in lines} == clustered
    for line in lines:
        layer = REGISTRY[line["laag"]]
        assert f"onder zoomniveau {layer.single_from + 1})" in line["tekst"], line
        assert line["rand"] == _rgb(layer.style.outline) and line["vlak"] == _rgb(layer.style.colour), line
    assert page.errors == []


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


# -- names on the areas -------------------------------------------------------------------------


def test_areas_are_named_at_a_readable_zoom_inside_themselves(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["planner"], "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)
    page.page.evaluate(f"() => okaart.kaart.setView([{CENTRE[0]}, {CENTRE[1]}], 13, {{animate: false}})")
    page.page.wait_for_function("() => !okaart.lagen.buurten.isLoading()", timeout=30_000)
    assert page.page.locator(".gebiedsnaam").count() == 0  # zoom 13: no names yet
    page.page.evaluate(f"() => okaart.kaart.setView([{CENTRE[0]}, {CENTRE[1]}], 15, {{animate: false}})")
    page.page.wait_for_function(
        "() => !okaart.lagen.buurten.isLoading() && document.querySelectorAll('.gebiedsnaam [data-id^=\"buurt:\"]').length > 0",
        timeout=30_000,
    )
    labels: list[dict[str, Any]] = page.page.evaluate(
        """() => Array.from(document.querySelectorAll('.gebiedsnaam [data-id]')).map((e) => {
            const box = e.parentElement.getBoundingClientRect();
            const ll = okaart.kaart.containerPointToLatLng([box.left + box.width / 2, box.top + box.height / 2]);
            return {id: e.getAttribute('data-id'), naam: e.textContent, lat: ll.lat, lon: ll.lng};
        })"""
    )
    shot = artifact("kaart-gebiedsnamen.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}; {len(labels)} names")
    buurten = [label for label in labels if label["id"].startswith("buurt:")]
    assert len(buurten) >= 10
    assert len({label["id"] for label in labels}) == len(labels)  # one name per area
    with demo_engine.connect() as conn:
        for label in labels:
            soort, code = label["id"].split(":")[:2]  # soort:code:periode:thema
            row = conn.execute(
                text(
                    "SELECT naam, ST_DWithin(geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992), 5)"
                    " AS binnen FROM actueel_gebied WHERE soort = :soort AND code = :code"
                    " AND indeling = standaard_indeling(:soort)"
                ),
                {"lon": label["lon"], "lat": label["lat"], "soort": soort, "code": code},
            ).one()
            # The area's own name, written inside the area (within the tile's simplification).
            assert (row.naam, row.binnen) == (label["naam"], True), label
    assert page.errors == []


# -- the address of a point ---------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["signalen", "leegstand"])
def test_a_point_carries_its_address_for_those_cleared_for_addresses(
    client: Any, demo_engine: Engine, api_keys: dict[str, str], layer: str
) -> None:
    table = {"signalen": "signaal", "leegstand": "leegstand"}[layer]
    with demo_engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    f"SELECT x.id::text AS id, v.openbare_ruimte, v.huisnummer, v.postcode, v.woonplaats,"
                    f" ST_X(ST_Transform(x.geom, 4326)) AS lon, ST_Y(ST_Transform(x.geom, 4326)) AS lat"
                    f" FROM {table} x JOIN verblijfsobject v ON v.id = x.verblijfsobject_id"
                    f" WHERE v.huisletter IS NULL AND v.huisnummertoevoeging IS NULL"
                    + (
                        " AND x.convenant = 'riec' AND x.bewaren_tot >= current_date"
                        if table == "signaal"
                        else ""
                    )
                    + " ORDER BY x.id LIMIT 1"
                )
            )
            .mappings()
            .one()
        )
    expected = f"{row['openbare_ruimte']} {row['huisnummer']}, {row['postcode'][:4]} {row['postcode'][4:]} {row['woonplaats']}"
    r = client.get(f"/collections/{layer}/items/{row['id']}", headers=auth(api_keys["analist"]))
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["adres"] == expected
    tile = TMS.tile(row["lon"], row["lat"], SINGLE_FROM + 1)
    found = [f for f in _tile(client, api_keys["analist"], layer, tile) if f["properties"]["id"] == row["id"]]
    assert [f["properties"]["adres"] for f in found] == [expected]
    if layer == "signalen":
        # A partner sees the signal of its covenant, never its address: not in an item, a
        # tile, a filter or a sort.
        partner = api_keys["partner_riec"]
        r = client.get(f"/collections/signalen/items/{row['id']}", headers=auth(partner))
        assert r.status_code == 200 and r.json()["properties"]["adres"] is None
        found = [f for f in _tile(client, partner, layer, tile) if f["properties"]["id"] == row["id"]]
        assert len(found) == 1 and "adres" not in found[0]["properties"]
        street = row["openbare_ruimte"].replace("'", "''")
        r = client.get(
            "/collections/signalen/items",
            params={"filter": f"adres LIKE '{street}%'", "limit": 5},
            headers=auth(partner),
        )
        assert r.status_code == 200 and r.json()["features"] == []
        r = client.get(
            "/collections/signalen/items",
            params={"filter": f"adres LIKE '{street}%'", "limit": 5},
            headers=auth(api_keys["analist"]),
        )
        assert r.status_code == 200 and r.json()["features"]
