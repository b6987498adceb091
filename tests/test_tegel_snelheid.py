"""Uncached tiles and items at scale (issue 16): the faster SQL gives what the slower gave.

- The areas' extent (the "does this tile touch the data" test) is read without the per-row
  subquery of ``actueel_gebied``, and still takes the newest edition of every area type and
  division; when it cannot be read, tiles are served (not a 503) and it is read again later.
- Cluster tiles grid ids and points only and read the attributes of lone points by id; plain
  tiles compute ST_AsMVTGeom once per row. Both are compared, decoded, with the statements
  as they were before (kept here as the reference).
- Items pages read one row more than they show instead of probing for the next id and, on a
  first page that holds everything, take ``numberMatched`` from the page: next links and counts
  at the page boundaries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mapbox_vector_tile
import morecantile
import pytest
from sqlalchemy import Connection, Engine, text

from app import layer_sql
from app.extents import Extents
from app.layer_sql import CLUSTER_CELLS, SQL_TYPES, Selection
from app.services import services_of
from core import db
from core.security import Principal, principal_for_key
from layers import REGISTRY
from tests.conftest import PRINCIPALS, auth

TMS = morecantile.tms.get("WebMercatorQuad")
CENTRE = (6.5665, 53.2194)  # Grote Markt, Groningen (lon, lat)
ITEMS = "/collections/signalen/items"


# -- the areas' extent ----------------------------------------------------------------------------


def _area(
    conn: Connection, soort: str, code: str, jaar: int, box: tuple[int, int, int, int], **kw: str
) -> None:
    """One area: a square in RD New."""
    conn.execute(
        text(
            "INSERT INTO gebied (soort, code, naam, gemeentecode, jaar, indeling, geom) VALUES"
            " (:soort, :code, :code, 'GM9999', :jaar, coalesce(CAST(:indeling AS text), standaard_indeling(:soort)),"
            " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 28992)))"
        ),
        {"soort": soort, "code": code, "jaar": jaar, "indeling": kw.get("indeling"),
         "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]},
    )  # fmt: skip


def _extent(conn: Connection, sql: str) -> list[float]:
    row = conn.execute(text(sql)).one()
    return [round(float(v), 9) for v in row]


#: The extent as ``actueel_gebied`` defines the newest areas (the slow way, as a reference).
BY_THE_VIEW = (
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT"
    " ST_Transform(ST_SetSRID(ST_Extent(geom), 28992), 4326) e FROM actueel_gebied) x"
)


def _rd_box(conn: Connection, box: tuple[int, int, int, int]) -> list[float]:
    return _extent(
        conn,
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_SetSRID("
        f"ST_MakeEnvelope({box[0]}, {box[1]}, {box[2]}, {box[3]})::box2d::geometry, 28992), 4326) e) x",
    )


def test_the_extent_holds_the_newest_edition_of_every_type_and_division(conn: Connection) -> None:
    # buurten 2023 far to the west, 2024 in the middle: only 2024 counts.
    _area(conn, "buurt", "BU00000001", 2023, (10_000, 300_000, 20_000, 310_000))
    _area(conn, "buurt", "BU00000001", 2024, (150_000, 450_000, 160_000, 460_000))
    _area(conn, "buurt", "BU00000002", 2024, (160_000, 450_000, 170_000, 455_000))
    # A municipality's own division of buurten, newest in 2022: the newest of *its* division.
    _area(conn, "buurt", "EIGEN1", 2022, (170_000, 440_000, 175_000, 445_000), indeling="gemeente")
    _area(conn, "buurt", "EIGEN1", 2021, (250_000, 600_000, 260_000, 610_000), indeling="gemeente")
    # Business parks, an older edition to the east.
    _area(conn, "bedrijventerrein", "BT1", 2024, (140_000, 455_000, 145_000, 465_000))
    _area(conn, "bedrijventerrein", "BT1", 2020, (270_000, 455_000, 280_000, 465_000))

    sql, params = layer_sql.area_extent()
    assert not params
    found = _extent(conn, sql)

    assert found == _extent(conn, BY_THE_VIEW)
    # The union of the newest editions' boxes: 140,000-175,000 by 440,000-465,000 in RD.
    expected = _rd_box(conn, (140_000, 440_000, 175_000, 465_000))
    assert found == pytest.approx(expected, abs=1e-6)


def test_without_areas_the_extent_is_empty(conn: Connection) -> None:
    sql, _ = layer_sql.area_extent()
    assert conn.execute(text(sql)).one()[0] is None


def test_the_newest_edition_is_an_index_probe(conn: Connection) -> None:
    """The view's test of the newest edition reads gebied_editie_idx (migration 0025), not
    every area of the type: with many areas the plan probes the index."""
    conn.execute(
        text(
            "INSERT INTO gebied (soort, code, naam, gemeentecode, jaar, indeling, geom)"
            " SELECT 'buurt', 'BU' || lpad(i::text, 8, '0'), 'b', 'GM' || lpad((i % 300)::text, 4, '0'), 2020 + i % 5, 'cbs',"
            " ST_Multi(ST_MakeEnvelope(i, 400000, i + 10, 400010, 28992)) FROM generate_series(1, 5000) i"
        )
    )
    conn.execute(text("ANALYZE gebied"))
    plan = "\n".join(conn.execute(text("EXPLAIN SELECT count(*) FROM actueel_gebied")).scalars())
    assert "gebied_editie_idx" in plan, plan


# -- an extent that cannot be read ------------------------------------------------------------------

FAR_AWAY = morecantile.commons.BoundingBox(100.0, 10.0, 101.0, 11.0)


@pytest.fixture
def slow_engine(demo_engine: Engine) -> Iterator[Engine]:
    """The demo database with a statement timeout of 500 ms, as a national database's extent
    met the service's 5 s."""
    engine = db.make_engine(demo_engine.url.render_as_string(hide_password=False), statement_timeout_ms=500)
    yield engine
    engine.dispose()


@pytest.fixture
def failing_extent(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[int]]:
    """Make the extent's statement outlast the timeout (``True``) or be itself again; returns
    the list the statement's uses are counted in."""
    calls: list[int] = []
    real = layer_sql.area_extent

    def switch(failing: bool) -> list[int]:
        def counted() -> layer_sql.Statement:
            calls.append(1)
            return ("SELECT pg_sleep(2), 0, 0, 0", {}) if failing else real()

        monkeypatch.setattr(layer_sql, "area_extent", counted)
        return calls

    return switch


def test_an_unreadable_extent_skips_no_tile_and_is_read_again_later(
    slow_engine: Engine, failing_extent: Callable[[bool], list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = failing_extent(True)
    extents = Extents(slow_engine)

    assert extents.of("signalen") == []
    assert extents.touches("signalen", FAR_AWAY)  # unread: no tile is skipped
    assert len(calls) == 1
    # Not tried again at every tile: only after RETRY_SECONDS.
    assert extents.touches("signalen", FAR_AWAY)
    assert len(calls) == 1

    failing_extent(False)
    extents._retry_at = time.monotonic() - 1  # the retry time has come
    read = extents.of("signalen")
    assert len(calls) == 2
    assert len(read) == 4 and 6 < read[0] < read[2] < 8 and 52 < read[1] < read[3] < 54
    assert not extents.touches("signalen", FAR_AWAY)
    # Read once, kept.
    extents.of("signalen")
    assert len(calls) == 2


def test_a_tile_is_served_while_the_extent_cannot_be_read(
    client: Any,
    demo_app: Any,
    api_keys: dict[str, str],
    slow_engine: Engine,
    failing_extent: Callable[[bool], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = services_of(demo_app)
    tile = TMS.tile(*CENTRE, 16)
    path = f"/collections/signalen/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    monkeypatch.setattr(services.tile_cache, "max_bytes", 0)  # every tile built
    expected = client.get(path, headers=auth(api_keys["beheerder"]))
    assert expected.status_code == 200 and expected.content

    # The service's extent unread, and its statement outlasting the timeout.
    failing_extent(True)
    monkeypatch.setattr(services.extents, "engine", slow_engine)
    monkeypatch.setattr(services.extents, "_extent", None)
    monkeypatch.setattr(services.extents, "_retry_at", 0.0)
    for _ in range(3):
        r = client.get(path, headers=auth(api_keys["beheerder"]))
        assert r.status_code == 200, r.text
        assert r.content == expected.content


# -- tiles: the same features as before -----------------------------------------------------------


def _clusters_as_before(
    layer: Any, principal: Principal, selection: Selection, tile: morecantile.Tile
) -> layer_sql.Statement:
    """mvt_clusters as it was before issue 16: every attribute carried through the grid."""
    rows, params = layer_sql.visible_rows(
        layer, principal, replace(selection, tile=tile), geometry=f"t.{layer.tile_geometry_column}", k=10
    )
    names = layer_sql.tile_columns(layer, principal)
    blanks = ["NULL::text", *(f"NULL::{SQL_TYPES[p.type]}" for p in layer.properties)]
    blanks += ["NULL::boolean"] * (len(names) - len(blanks))
    envelope = "ST_TileEnvelope(:z, :x, :y)"
    ids = "NULL::text[]" if layer.clearance == "aggregaat" else (
        "CASE WHEN count(*) <= 200 THEN array_agg(q.id ORDER BY q.id) END"
    )  # fmt: skip
    sql = f"""
        WITH e AS (
            SELECT ST_XMin(b) AS x0, ST_YMax(b) AS y1, (ST_XMax(b) - ST_XMin(b)) / {CLUSTER_CELLS} AS cel
            FROM {envelope} AS b
        ), p AS (
            SELECT r.*, floor((ST_X(r.geom) - e.x0) / e.cel)::int AS i,
                   floor((e.y1 - ST_Y(r.geom)) / e.cel)::int AS j
            FROM ({rows}) r, e
        ), q AS (
            SELECT p.*, count(*) OVER (PARTITION BY p.i, p.j) AS n FROM p
            WHERE p.i >= 0 AND p.i < {CLUSTER_CELLS} AND p.j >= 0 AND p.j < {CLUSTER_CELLS}
        ), m AS (
            SELECT ST_AsMVTGeom(q.geom, {envelope}, 4096, 64, true) AS geom,
                   {", ".join("q." + n for n in names)}, 1::bigint AS aantal
            FROM q WHERE q.n = 1
            UNION ALL
            SELECT ST_AsMVTGeom(ST_Centroid(ST_Collect(q.geom)), {envelope}, 4096, 64, true),
                   {", ".join(blanks)}, count(*)
            FROM q WHERE q.n > 1 GROUP BY q.i, q.j
        )
        SELECT (SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') FROM m WHERE m.geom IS NOT NULL) AS tile,
               count(*) AS aantal, {ids} AS ids
        FROM q
    """
    return sql, params


def _tile_as_before(
    layer: Any, principal: Principal, selection: Selection, tile: morecantile.Tile
) -> layer_sql.Statement:
    """mvt as it was before issue 16 (without OFFSET 0)."""
    rows, params = layer_sql.visible_rows(
        layer, principal, replace(selection, tile=tile), geometry=f"t.{layer.tile_geometry_column}", k=10
    )
    names = layer_sql.tile_columns(layer, principal)
    ids = "NULL::text[]" if layer.clearance == "aggregaat" else (
        "CASE WHEN count(*) <= 200 THEN array_agg(m.id ORDER BY m.id) END"
    )  # fmt: skip
    sql = f"""
        SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') AS tile, count(*) AS aantal, {ids} AS ids FROM (
            SELECT ST_AsMVTGeom(r.geom, ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
                   {", ".join("r." + n for n in names)}
            FROM ({rows}) r
        ) m WHERE m.geom IS NOT NULL
    """
    return sql, params


def _decoded(conn: Connection, statement: layer_sql.Statement, tile: morecantile.Tile) -> tuple[Any, ...]:
    """A tile's features (in a stable order), its count and its ids."""
    sql, params = statement
    row = conn.execute(text(sql), {**params, "z": tile.z, "x": tile.x, "y": tile.y}).one()
    layers = mapbox_vector_tile.decode(bytes(row.tile)) if row.tile else {}
    features = sorted(
        json.dumps([f["geometry"], f["properties"]], sort_keys=True)
        for layer in layers.values()
        for f in layer["features"]
    )
    return features, int(row.aantal), list(row.ids) if row.ids is not None else None


def _principal(engine: Engine, key: str) -> Principal:
    with engine.connect() as c:
        principal = principal_for_key(c, key)
    assert principal is not None
    return principal


def _around(z: int) -> list[morecantile.Tile]:
    centre = TMS.tile(*CENTRE, z)
    return [morecantile.Tile(centre.x + dx, centre.y + dy, z) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


@pytest.mark.parametrize("who", ["beheerder", "analist", "partner_riec"])
@pytest.mark.parametrize(
    ("layer_id", "filters"),
    [("signalen", {}), ("signalen", {"thema": "drugs"}), ("leegstand", {})],
)
def test_cluster_tiles_are_the_same_as_before(
    demo_engine: Engine, api_keys: dict[str, str], who: str, layer_id: str, filters: dict[str, str]
) -> None:
    layer = REGISTRY[layer_id]
    principal = _principal(demo_engine, api_keys[who])
    selection = Selection(filters=dict(filters))
    assert layer.single_from is not None
    tiles = [TMS.tile(*CENTRE, z) for z in range(8, layer.single_from)] + _around(layer.single_from - 1)
    with demo_engine.connect() as conn:
        lone = clustered = 0
        for tile in tiles:
            now = _decoded(conn, layer_sql.mvt(layer, principal, selection, tile, k=10), tile)
            before = _decoded(conn, _clusters_as_before(layer, principal, selection, tile), tile)
            assert now == before, (who, layer_id, tile)
            for feature in now[0]:
                aantal = json.loads(feature)[1]["aantal"]
                lone, clustered = lone + (aantal == 1), clustered + (aantal > 1)
    # Both kinds of feature were compared: single points with their attributes, and clusters.
    assert lone > 5 and clustered > 5


@pytest.mark.parametrize(
    ("who", "layer_id", "filters"),
    [
        ("beheerder", "signalen", {}),
        ("beheerder", "buurten", {"periode": "2024", "thema": "alle"}),
        ("planner", "buurten", {"periode": "2024", "thema": "alle"}),  # suppressed figures
    ],
)
def test_plain_tiles_are_the_same_as_before(
    demo_engine: Engine, api_keys: dict[str, str], who: str, layer_id: str, filters: dict[str, str]
) -> None:
    layer = REGISTRY[layer_id]
    principal = _principal(demo_engine, api_keys[who])
    selection = Selection(filters={**layer.defaults_for(filters), **filters})
    tiles = [TMS.tile(*CENTRE, z) for z in range(max(layer.single_from or 0, 10), 17)] + _around(15)
    with demo_engine.connect() as conn:
        seen = 0
        for tile in tiles:
            now = _decoded(conn, layer_sql.mvt(layer, principal, selection, tile, k=10), tile)
            assert now == _decoded(conn, _tile_as_before(layer, principal, selection, tile), tile), tile
            seen += len(now[0])
    assert seen > 20


# -- items: the extra row -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beheerder(demo_engine: Engine) -> dict[str, str]:
    """A beheerder key of this module's own (the rate limit is per key)."""
    from core.security import create_principal_key

    with demo_engine.begin() as conn:
        spec: dict[str, Any] = {**PRINCIPALS["beheerder"]}
        key, _ = create_principal_key(conn, naam=f"test-tegelsnelheid-{time.monotonic_ns()}", **spec)
    return auth(key, "beheer")


#: A small selection: the drug signals in a box around the centre.
BOX = "6.565,53.218,6.568,53.2195"
SELECTED = {"thema": "drugs", "bbox": BOX}


@pytest.fixture(scope="module")
def everything(client: Any, beheerder: dict[str, str]) -> list[str]:
    """The ids of the selection in id order, from one page that holds them all."""
    body = client.get(ITEMS, params={**SELECTED, "limit": 1000}, headers=beheerder).json()
    ids = [f["id"] for f in body["features"]]
    assert body["numberMatched"] == body["numberReturned"] == len(ids)
    assert not any(link["rel"] == "next" for link in body["links"])
    assert 10 < len(ids) < 1000
    return ids


def _page(
    client: Any, headers: dict[str, str], url: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _next(body: dict[str, Any]) -> str | None:
    return next((link["href"] for link in body["links"] if link["rel"] == "next"), None)


@pytest.mark.parametrize("less", [0, 1, -1])
def test_next_links_at_the_page_boundary(
    client: Any, beheerder: dict[str, str], everything: list[str], less: int
) -> None:
    """A limit of exactly the selection has no next page; one less has a next page of one
    feature; one more has none. numberMatched is the selection's on every page."""
    n = len(everything)
    limit = n - less
    first = _page(client, beheerder, ITEMS, {**SELECTED, "limit": limit})
    assert first["numberMatched"] == n
    assert [f["id"] for f in first["features"]] == everything[:limit]
    nxt = _next(first)
    if less <= 0:
        assert nxt is None
        return
    assert nxt is not None and "cursor" in parse_qs(urlsplit(nxt).query)
    second = _page(client, beheerder, nxt)
    assert [f["id"] for f in second["features"]] == everything[limit:]
    assert second["numberMatched"] == n and second["numberReturned"] == 1
    assert _next(second) is None


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_walking_the_pages_gives_the_selection_once(
    client: Any, beheerder: dict[str, str], everything: list[str], limit: int
) -> None:
    ids: list[str] = []
    body = _page(client, beheerder, ITEMS, {**SELECTED, "limit": limit})
    while True:
        assert body["numberMatched"] == len(everything)
        assert body["numberReturned"] == len(body["features"]) <= limit
        ids += [f["id"] for f in body["features"]]
        nxt = _next(body)
        if nxt is None:
            break
        assert len(body["features"]) == limit  # only a full page has a next one
        body = _page(client, beheerder, nxt)
    assert ids == everything


@pytest.mark.parametrize("less", [0, 1])
def test_sorted_pages_link_on_by_offset_at_the_boundary(
    client: Any, beheerder: dict[str, str], everything: list[str], less: int
) -> None:
    params = {**SELECTED, "sortby": "-datum"}
    whole = _page(client, beheerder, ITEMS, {**params, "limit": 1000})
    order = [f["id"] for f in whole["features"]]
    assert sorted(order) == sorted(everything)
    limit = len(order) - less
    first = _page(client, beheerder, ITEMS, {**params, "limit": limit})
    assert [f["id"] for f in first["features"]] == order[:limit]
    assert first["numberMatched"] == len(order)
    nxt = _next(first)
    if not less:
        assert nxt is None
        return
    assert nxt is not None and parse_qs(urlsplit(nxt).query)["offset"] == [str(limit)]
    second = _page(client, beheerder, nxt)
    assert [f["id"] for f in second["features"]] == order[limit:]
    assert _next(second) is None


def test_an_offset_past_the_end_is_empty_with_the_count(
    client: Any, beheerder: dict[str, str], everything: list[str]
) -> None:
    body = _page(client, beheerder, ITEMS, {**SELECTED, "limit": 5, "offset": len(everything) + 3})
    assert body["features"] == [] and body["numberMatched"] == len(everything)
    assert _next(body) is None


def test_the_page_statement_reads_one_row_more_and_counts_only_when_it_must(
    demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    """The count subquery runs only when the page cannot tell: a first page with rows beyond
    it. EXPLAIN ANALYZE says whether the count's plan was executed ("never executed")."""
    layer = REGISTRY["signalen"]
    principal = _principal(demo_engine, api_keys["beheerder"])
    selection = Selection(filters={"thema": "drugs"})
    with demo_engine.connect() as conn:
        count_sql, count_params = layer_sql.count_matched(layer, principal, selection)
        total = conn.execute(text(count_sql), count_params).scalar_one()
        assert total > 10

        def run(limit: int) -> tuple[Any, str]:
            sql, params = layer_sql.geojson_features(
                layer, principal, selection, srid=4326, limit=limit, offset=0, k=10, count=True
            )
            row = conn.execute(text(sql), params).one()
            plan = "\n".join(conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql), params).scalars())
            return row, plan

        whole, plan = run(total)
        assert (whole.aantal, whole.matched, whole.meer) == (total, total, False)
        assert "never executed" in plan
        part, plan = run(total - 1)
        assert (part.aantal, part.matched, part.meer) == (total - 1, total, True)
        assert "never executed" not in plan
