"""Tiles in the RD grid (NetherlandsRDNewQuad) beside WebMercatorQuad, TileJSON that carries
the purpose (never a key), and MapLibre styles, down to MapLibre GL drawing a point layer in
Chromium from the style and TileJSON alone.

The RD tiles are shown valid by decoding them and checking every point against the RD bounds
of its tile and the items' RD coordinates; MapLibre GL, which has no RD projection, draws them
as a plane laid on the Web Mercator square (app/styles.py), and every point lands on the pixel
its RD coordinates give."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine

from app.tms import GRIDS, RD_NEW
from core import sessions
from layers import REGISTRY
from tests.browser_support import CHROMIUM_ARGS, artifact, chromium_path, serving
from tests.conftest import auth, scalar

RD = GRIDS[RD_NEW]


def test_both_tile_matrix_sets_are_listed_and_rd_is_pdoks(client: Any) -> None:
    listed = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad", "NetherlandsRDNewQuad"]
    rd = client.get("/tileMatrixSets/NetherlandsRDNewQuad").json()
    assert rd["crs"] == "http://www.opengis.net/def/crs/EPSG/0/28992"
    levels = rd["tileMatrices"]
    assert len(levels) == 17
    # PDOK's figures: origin top left, 1 : 12,288,000 at level 0, halving per level.
    assert levels[0]["pointOfOrigin"] == [-285401.92, 903401.92]
    assert levels[0]["scaleDenominator"] == pytest.approx(12_288_000)
    assert levels[0]["cellSize"] == pytest.approx(3440.64)
    assert levels[12]["cellSize"] == pytest.approx(0.84)
    assert all(m["matrixWidth"] == m["matrixHeight"] == 2 ** int(m["id"]) for m in levels)
    assert client.get("/tileMatrixSets/EuropeanETRS89_LAEAQuad").status_code == 404


def test_every_layer_offers_both_grids(client: Any, api_keys: dict[str, str]) -> None:
    for layer_id in REGISTRY:
        sets = client.get(f"/collections/{layer_id}/tiles", headers=auth(api_keys["beheerder"])).json()
        uris = [s["tileMatrixSetURI"].rsplit("/", 1)[-1] for s in sets["tilesets"]]
        assert uris == ["WebMercatorQuad", "NetherlandsRDNewQuad"], layer_id
        crs = [s["crs"] for s in sets["tilesets"]]
        assert crs[1].endswith("/EPSG/0/28992")
        assert sets["links"][0]["href"].endswith(f"/collections/{layer_id}/styles")


def _a_signal(client: Any, key: str) -> tuple[str, float, float]:
    page = client.get(
        "/collections/signalen/items",
        params={"limit": 1, "crs": "http://www.opengis.net/def/crs/EPSG/0/28992"},
        headers=auth(key),
    ).json()
    feature = page["features"][0]
    x, y = feature["geometry"]["coordinates"]
    return feature["id"], x, y


def _items_in(
    client: Any, key: str, box: tuple[float, float, float, float]
) -> dict[str, tuple[float, float]]:
    response = client.get(
        "/collections/signalen/items",
        params={
            "bbox": ",".join(f"{v:.3f}" for v in box),
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
            "limit": 1000,
        },
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    return {f["id"]: tuple(f["geometry"]["coordinates"]) for f in response.json()["features"]}


def test_an_rd_tile_is_built_in_rd_and_holds_exactly_the_points_in_its_bounds(
    client: Any, api_keys: dict[str, str]
) -> None:
    """Decoded, the tile's points lie where the items say (in RD New, to a tile pixel), and
    it holds every visible point in its bounds and none beyond its buffer."""
    key = api_keys["analist"]
    _, x, y = _a_signal(client, key)
    z = 10  # 3.36 m a pixel, 860 m a tile: WebMercator zoom 14-15 at Groningen
    tile = _rd_tile(x, y, z)  # by hand, against morecantile's bounds below
    minx, miny, maxx, maxy = RD.xy_bounds(tile)
    assert minx <= x <= maxx and miny <= y <= maxy
    response = client.get(
        f"/collections/signalen/tiles/NetherlandsRDNewQuad/{z}/{tile.x}/{tile.y}", headers=auth(key)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    features = decoded["signalen"]["features"]
    extent = decoded["signalen"]["extent"]
    assert extent == 4096
    size = maxx - minx
    drawn = {}
    for feature in features:
        px, py = feature["geometry"]["coordinates"]
        drawn[feature["properties"]["id"]] = (minx + px / extent * size, maxy - py / extent * size)
    inside = _items_in(client, key, (minx, miny, maxx, maxy))
    margin = size * 64 / 4096
    around = _items_in(client, key, (minx - margin, miny - margin, maxx + margin, maxy + margin))
    assert inside, "the tile of a signal holds that signal"
    assert set(inside) <= set(drawn) <= set(around)
    pixel = size / extent
    for fid, (ix, iy) in around.items():
        if fid in drawn:
            dx, dy = drawn[fid]
            assert abs(dx - ix) <= pixel and abs(dy - iy) <= pixel, (fid, (dx, dy), (ix, iy))


def _rd_tile(x: float, y: float, z: int) -> morecantile.Tile:
    """The RD tile holding (x, y), from PDOK's origin and cell size."""
    cell = 3440.64 / 2**z * 256
    return morecantile.Tile(int((x + 285401.92) // cell), int((903401.92 - y) // cell), z)


def test_rd_tiles_keep_the_access_rules(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    _, x, y = _a_signal(client, key)
    t = _rd_tile(x, y, 10)
    url = f"/collections/signalen/tiles/NetherlandsRDNewQuad/10/{t.x}/{t.y}"
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 400  # no purpose
    assert client.get(url, headers=auth(api_keys["planner"])).status_code == 404  # no points for planners
    assert client.get(url).status_code == 401
    # Another municipality's analyst gets the tile, with none of Groningen's points in it.
    elders = client.get(url, headers=auth(api_keys["analist_elders"]))
    assert elders.status_code == 200
    assert not mapbox_vector_tile.decode(elders.content).get("signalen", {}).get("features")
    # Outside the layer's zoom range (RD 8 and up for signals): answered empty without a query.
    low = _rd_tile(x, y, 3)
    empty = client.get(
        f"/collections/signalen/tiles/NetherlandsRDNewQuad/3/{low.x}/{low.y}", headers=auth(key)
    )
    assert empty.status_code == 200 and empty.content == b""
    assert (
        client.get("/collections/signalen/tiles/NetherlandsRDNewQuad/17/0/0", headers=auth(key)).status_code
        == 404
    )


def test_an_rd_tile_of_areas_covers_the_buurten(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    x, y = scalar(
        demo_engine,
        "SELECT ARRAY[ST_X(c), ST_Y(c)] FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM actueel_gebied WHERE soort = 'buurt') s",
    )
    t = _rd_tile(float(x), float(y), 6)
    response = client.get(
        f"/collections/buurten/tiles/NetherlandsRDNewQuad/6/{t.x}/{t.y}", headers=auth(api_keys["analist"])
    )
    assert response.status_code == 200
    decoded = mapbox_vector_tile.decode(response.content)
    assert len(decoded["buurten"]["features"]) > 10


def test_tilejson_carries_the_purpose_and_never_a_secret(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    for grid in ("WebMercatorQuad", "NetherlandsRDNewQuad"):
        # The purpose asked for ends up in the tile addresses, with the filters; nothing else.
        doc = client.get(
            f"/collections/signalen/tiles/{grid}",
            params={"thema": "drugs", "sleutel": key, "token": "geheim", "doel": "analyse"},
            headers=auth(key),
        ).json()
        (template,) = doc["tiles"]
        query = parse_qs(urlsplit(template).query)
        assert query == {"thema": ["drugs"], "doel": ["analyse"]}, template
        assert key not in template and "geheim" not in template
        # The template's tiles answer (no 400 for a missing purpose) with only the key.
        minzoom = doc["minzoom"]
        assert (grid, minzoom) in {("WebMercatorQuad", 12), ("NetherlandsRDNewQuad", 8)}
    # A purpose the caller may not use is never echoed (it might be anything, up to a key).
    doc = client.get(
        "/collections/signalen/tiles/WebMercatorQuad",
        params={"doel": key},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert "doel" not in doc["tiles"][0] and key not in doc["tiles"][0]


def test_a_tile_from_the_tilejson_template_answers(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    _, x, y = _a_signal(client, key)
    doc = client.get(
        "/collections/signalen/tiles/NetherlandsRDNewQuad", params={"doel": "analyse"}, headers=auth(key)
    ).json()
    t = _rd_tile(x, y, 10)
    url = doc["tiles"][0].replace("{z}", "10").replace("{x}", str(t.x)).replace("{y}", str(t.y))
    response = client.get(url, headers={"Authorization": f"Bearer {key}"})  # no X-Doel
    assert response.status_code == 200 and response.content


def test_a_style_per_layer_built_from_its_declaration(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    for layer_id, layer in REGISTRY.items():
        listed = client.get(f"/collections/{layer_id}/styles", headers=auth(key))
        if listed.status_code == 404:  # a layer this principal may not see
            continue
        assert [s["id"] for s in listed.json()["styles"]] == ["standaard"]
        style = client.get(
            f"/collections/{layer_id}/styles/standaard",
            params={"f": "mapbox", "doel": "analyse"},
            headers=auth(key),
        )
        assert style.status_code == 200
        assert style.headers["content-type"] == "application/vnd.mapbox.style+json"
        doc = style.json()
        assert doc["version"] == 8
        source = doc["sources"][layer_id]
        assert source["type"] == "vector" and "/tiles/WebMercatorQuad" in source["url"]
        assert all(lyr["source-layer"] == layer_id for lyr in doc["layers"])
        if layer.kind == "punten":
            assert doc["layers"][0]["type"] == "circle"
            assert doc["layers"][0]["paint"]["circle-color"] == layer.style.colour
            assert parse_qs(urlsplit(source["url"]).query)["doel"] == ["analyse"]
        elif layer.style.classes:
            fill = doc["layers"][0]["paint"]["fill-color"]
            assert [c.colour for c in layer.style.classes] == [v for v in fill[3][3:] if isinstance(v, str)]
    assert client.get("/collections/signalen/styles/nacht", headers=auth(key)).status_code == 404


def test_the_rd_style_lays_the_rd_grid_on_the_mercator_square(client: Any, api_keys: dict[str, str]) -> None:
    """The RD variant of a style: its source is the RD TileJSON (with the purpose), its bounds
    the whole plane, its zoom levels the RD ones, and its metadata places an RD point."""
    from app.styles import PLANE_BOUNDS, rd_to_plane

    key = api_keys["analist"]
    listed = client.get("/collections/signalen/styles", headers=auth(key)).json()
    hrefs = [link["href"] for link in listed["styles"][0]["links"]]
    assert [h.split("/styles/")[1] for h in hrefs] == [
        "standaard?f=mapbox",
        "standaard?f=mapbox&tms=NetherlandsRDNewQuad",
    ]
    doc = client.get(hrefs[1].replace("http://testserver", "") + "&doel=analyse", headers=auth(key)).json()
    source = doc["sources"]["signalen"]
    assert urlsplit(source["url"]).path == "/collections/signalen/tiles/NetherlandsRDNewQuad"
    assert parse_qs(urlsplit(source["url"]).query) == {"doel": ["analyse"]}
    assert source["bounds"] == PLANE_BOUNDS
    assert doc["layers"][0]["minzoom"] == 8  # WebMercator 12, in RD levels
    vlak = doc["metadata"]["okaart:vlak"]
    assert vlak["oorsprong"] == [-285401.92, 903401.92] and vlak["zijde"] == pytest.approx(880803.84)
    # The plane's corners are the mercator square's; RD's origin is its top-left corner.
    assert rd_to_plane(-285401.92, 903401.92) == pytest.approx((-180, PLANE_BOUNDS[3]))
    assert rd_to_plane(-285401.92 + 880803.84, 903401.92 - 880803.84) == pytest.approx((180, PLANE_BOUNDS[1]))
    assert rd_to_plane(-285401.92 + 440401.92, 903401.92 - 440401.92) == pytest.approx((0, 0), abs=1e-9)
    bad = client.get("/collections/signalen/styles/standaard", params={"tms": "EPSG:3035"}, headers=auth(key))
    assert bad.status_code == 400


# -- MapLibre GL in a real browser ---------------------------------------------------------------

#: A page as a MapLibre client would write it: only the style's address and the purpose.
MAPLIBRE_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>MapLibre</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<style>html, body, #kaart { margin: 0; width: 100%; height: 100%; }</style></head>
<body><div id="kaart"></div>
<script type="module">
import * as maplibregl from "/static/vendor/maplibre-gl/maplibre-gl.mjs";
const q = new URLSearchParams(location.search);
const map = new maplibregl.Map({
  container: "kaart",
  style: `/collections/${q.get("laag")}/styles/standaard?f=mapbox&doel=${q.get("doel")}`,
  center: [Number(q.get("lon")), Number(q.get("lat"))],
  zoom: Number(q.get("zoom")),
  attributionControl: false,
});
map.on("error", (e) => console.error("maplibre: " + (e.error && e.error.message)));
map.once("idle", () => {
  const b = map.getBounds();
  const ids = map.queryRenderedFeatures({ layers: [q.get("laag") + "-punten"] }).map((f) => f.properties.id);
  window.uitkomst = { ids: [...new Set(ids)], bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] };
});
</script></body></html>"""


#: The same client in the RD grid: it asks the style for NetherlandsRDNewQuad and centres the
#: map on an RD point the way the style's metadata ('okaart:vlak') describes.
MAPLIBRE_RD_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>MapLibre RD</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<style>html, body, #kaart { margin: 0; width: 100%; height: 100%; }</style></head>
<body><div id="kaart"></div>
<script type="module">
import * as maplibregl from "/static/vendor/maplibre-gl/maplibre-gl.mjs";
const q = new URLSearchParams(location.search);
const laag = q.get("laag");
const url = `/collections/${laag}/styles/standaard?f=mapbox&tms=NetherlandsRDNewQuad&doel=${q.get("doel")}`;
const style = await (await fetch(url)).json();
const vlak = style.metadata["okaart:vlak"];
const u = (Number(q.get("x")) - vlak.oorsprong[0]) / vlak.zijde;
const v = (vlak.oorsprong[1] - Number(q.get("y"))) / vlak.zijde;
const centre = [360 * u - 180, (Math.atan(Math.sinh(Math.PI * (1 - 2 * v))) * 180) / Math.PI];
const map = new maplibregl.Map({
  container: "kaart", style, center: centre, zoom: Number(q.get("zoom")),
  attributionControl: false, renderWorldCopies: false,
});
map.on("error", (e) => console.error("maplibre: " + (e.error && e.error.message)));
map.once("idle", () => {
  const drawn = {};
  for (const f of map.queryRenderedFeatures({ layers: [laag + "-punten"] })) {
    const p = map.project(f.geometry.coordinates);
    drawn[f.properties.id] = [p.x, p.y];
  }
  const c = map.getCanvas();
  window.uitkomst = { drawn, width: c.clientWidth, height: c.clientHeight, zoom: map.getZoom() };
});
</script></body></html>"""


@pytest.fixture(scope="module")
def served(demo_engine: Engine, api_login: Any) -> Iterator[str]:
    from fastapi.responses import HTMLResponse

    from app.access import rule
    from app.main import create_app
    from core import db
    from core.settings import Settings

    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    app = create_app(Settings(database_url=url, environment="test", basemap_url=""), engine=api)

    @app.get("/test/maplibre", include_in_schema=False, openapi_extra=rule("open"))
    def maplibre_page() -> HTMLResponse:
        return HTMLResponse(MAPLIBRE_PAGE)

    @app.get("/test/maplibre-rd", include_in_schema=False, openapi_extra=rule("open"))
    def maplibre_rd_page() -> HTMLResponse:
        return HTMLResponse(MAPLIBRE_RD_PAGE)

    with serving(app) as base:
        yield base
    api.dispose()


def test_maplibre_draws_the_signal_points_from_the_style_and_tilejson_with_a_purpose(
    served: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["analist"]
    token = _session(demo_engine, key)
    with httpx.Client(base_url=served, headers={"Authorization": f"Bearer {key}"}) as http:
        feature = http.get("/collections/signalen/items", params={"limit": 1, "doel": "analyse"}).json()[
            "features"
        ][0]
    lon, lat = feature["geometry"]["coordinates"]

    result, problems, tiles = _maplibre(
        served,
        token,
        f"/test/maplibre?laag=signalen&doel=analyse&lon={lon}&lat={lat}&zoom=15",
        "/tiles/WebMercatorQuad/",
        "maplibre-signalen.png",
    )
    assert problems == []
    assert tiles and all(status == 200 for status, _ in tiles)
    assert all("doel=analyse" in url and key not in url and token not in url for _, url in tiles)
    drawn = set(result["ids"])
    assert feature["id"] in drawn
    # What MapLibre drew is what items has in the view (give or take a point's radius).
    w, s, e, n = result["bounds"]
    dx, dy = (e - w) * 0.02, (n - s) * 0.02
    with httpx.Client(
        base_url=served, headers={"Authorization": f"Bearer {key}", "X-Doel": "analyse"}
    ) as http:

        def ids_in(box: tuple[float, float, float, float]) -> set[str]:
            page_ = http.get(
                "/collections/signalen/items", params={"bbox": ",".join(map(str, box)), "limit": 1000}
            )
            assert page_.status_code == 200, page_.text
            return {f["id"] for f in page_.json()["features"]}

        inner = ids_in((w + dx, s + dy, e - dx, n - dy))
        outer = ids_in((w - dx, s - dy, e + dx, n + dy))
    assert inner <= drawn <= outer
    assert len(drawn) > 1


def test_maplibre_draws_the_signal_points_in_the_rd_grid_where_rd_puts_them(
    served: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    """NetherlandsRDNewQuad in MapLibre: the page centred on a signal's RD coordinates draws
    that signal in the middle of the view, and every point it draws at the pixel its RD
    coordinates give (the plane's scale: the RD square over 512 × 2^zoom pixels); what it
    draws is what items has in the RD box of the view."""
    from app.styles import RD_SQUARE

    key = api_keys["analist"]
    token = _session(demo_engine, key)
    rd_crs = "http://www.opengis.net/def/crs/EPSG/0/28992"
    with httpx.Client(
        base_url=served, headers={"Authorization": f"Bearer {key}", "X-Doel": "analyse"}
    ) as http:
        feature = http.get("/collections/signalen/items", params={"limit": 1, "crs": rd_crs}).json()[
            "features"
        ][0]
    x, y = feature["geometry"]["coordinates"]
    zoom = 10  # RD level 10 tiles (the layer's RD range starts at 8), 1.68 m a pixel

    result, problems, tiles = _maplibre(
        served,
        token,
        f"/test/maplibre-rd?laag=signalen&doel=analyse&x={x}&y={y}&zoom={zoom}",
        "/tiles/",
        "maplibre-signalen-rd.png",
    )
    assert problems == []
    # The TileJSON of the RD grid, then RD tiles at the map's zoom, all with the purpose.
    assert any(url.split("?")[0].endswith("/tiles/NetherlandsRDNewQuad") for _, url in tiles)
    tile_urls = [url for _, url in tiles if "/tiles/NetherlandsRDNewQuad/" in url]
    assert tile_urls and all(status == 200 for status, _ in tiles)
    assert all(f"/NetherlandsRDNewQuad/{zoom}/" in url and "doel=analyse" in url for url in tile_urls)
    assert all(key not in url and token not in url for _, url in tiles)
    drawn = {fid: tuple(px) for fid, px in result["drawn"].items()}
    width, height = result["width"], result["height"]
    centre = (width / 2, height / 2)
    assert feature["id"] in drawn
    px, py = drawn[feature["id"]]
    assert abs(px - centre[0]) <= 2 and abs(py - centre[1]) <= 2, (drawn[feature["id"]], centre)
    # Every drawn point where its RD coordinates put it; the view's RD box holds what is drawn.
    metres = RD_SQUARE / (512 * 2**zoom)  # per CSS pixel
    half_w, half_h = width / 2 * metres, height / 2 * metres
    view = (x - half_w, y - half_h, x + half_w, y + half_h)
    margin = 6 * metres  # a circle's radius and rim: a point just outside still shows
    inner = _items_in_for(
        served, key, (view[0] + margin, view[1] + margin, view[2] - margin, view[3] - margin)
    )
    outer = _items_in_for(
        served, key, (view[0] - margin, view[1] - margin, view[2] + margin, view[3] + margin)
    )
    assert set(inner) <= set(drawn) <= set(outer)
    assert len(drawn) > 1
    for fid, (dx, dy) in drawn.items():
        ix, iy = outer[fid]
        expected = (centre[0] + (ix - x) / metres, centre[1] - (iy - y) / metres)
        assert abs(dx - expected[0]) <= 2 and abs(dy - expected[1]) <= 2, (fid, (dx, dy), expected)


def _session(engine: Engine, key: str) -> str:
    """A browser session of the key's principal (the page signs in by cookie, never by key)."""
    with engine.begin() as conn:
        key_id = sessions.key_id_for(conn, key)
        assert key_id is not None
        return sessions.create_session(conn, key_id, 1)


def _maplibre(
    served: str, token: str, path: str, tiles_in: str, shot: str
) -> tuple[Any, list[str], list[tuple[int, str]]]:
    """Open a MapLibre test page in Chromium with the session cookie and wait for its
    ``window.uitkomst``; returns it, the page's problems (console errors, failed or refused
    requests) and the (status, URL) of every request whose URL holds ``tiles_in``."""
    problems: list[str] = []
    tiles: list[tuple[int, str]] = []
    with sync_playwright() as p:
        # MapLibre needs WebGL: Chromium's software renderer (SwiftShader) stands in for a GPU.
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=[*CHROMIUM_ARGS, "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        context.add_cookies([{"name": sessions.SESSION_COOKIE, "value": token, "url": served}])
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("response", lambda r: tiles.append((r.status, r.url)) if tiles_in in r.url else None)
        page.goto(served + path)
        page.wait_for_function("() => window.uitkomst !== undefined", timeout=60_000)
        result = page.evaluate("() => window.uitkomst")
        page.screenshot(path=artifact(shot))
        browser.close()
    return result, problems, tiles


def _items_in_for(
    base: str, key: str, box: tuple[float, float, float, float]
) -> dict[str, tuple[float, float]]:
    """The signals in an RD box, in RD, over HTTP (the served app, not the test client)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}", "X-Doel": "analyse"}) as http:
        response = http.get(
            "/collections/signalen/items",
            params={
                "bbox": ",".join(f"{v:.3f}" for v in box),
                "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
                "limit": 1000,
            },
        )
    assert response.status_code == 200, response.text
    return {f["id"]: tuple(f["geometry"]["coordinates"]) for f in response.json()["features"]}
