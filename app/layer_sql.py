"""Every SELECT the routes run: the one room for read SQL.

Features, tiles, exports, maps and overviews all start from :func:`visible_rows`: the
layer's source, limited to the principal's municipalities (and covenants, for partners),
with the request's filters (property values, bbox, tile, period, ids: all through
:func:`conditions`), and with suppression applied in SQL for aggregate-only principals. The
database then builds GeoJSON, MVT or CSV and the bytes go straight out; no per-row Python.
The few reads that are not a layer's (the areas around a point, a drawn polygon, the extent
of the areas, an overview's sources) are here too, so that scoping a read or renaming a
column has one place to look; routes run what this module builds and write no SQL of their
own. Each builder returns ``(sql, params)``. Identifiers come only from the ``Layer`` model
(validated names) and this module, values only as bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import morecantile

from app.cql import GEOMETRY, Filter
from core import zicht
from core.security import Principal
from layers.base import Layer, Property

#: Tiles with more features than this record their count, not their ids, in the audit trail.
MAX_TILE_IDS = 200
#: Extra room around a tile when selecting its rows (1/64 of a tile: the 64-unit buffer of
#: ST_AsMVTGeom's 4096), so a shape just outside still draws its edge.
TILE_MARGIN = 0.015625
#: Cells per side of a tile in which a point layer's tile below its ``single_from`` zoom
#: groups its points (:func:`mvt_clusters`): some 85 screen pixels a cell at 512-pixel
#: tiles, room for a circle of 48 pixels with its count. 8 cells (64 pixels) drew 1,164
#: paths in the city centre at zoom 15 with signals and vacancy on (twelve tiles of each
#: layer are on a 1280 by 900 map); issue #15 asks for fewer than 1,000.
CLUSTER_CELLS = 6
#: The types of the areas ``/locate`` reports, largest first.
AREA_ORDER = ("gemeente", "wijk", "buurt", "bedrijventerrein", "buitengebied")

Statement = tuple[str, dict[str, Any]]


@dataclass
class Selection:
    """What a request asks of a layer."""

    filters: dict[str, str] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    #: One map tile (WebMercatorQuad): the rows on it, by the stored EPSG:3857 copy.
    tile: morecantile.Tile | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    ids: list[str] | None = None
    #: A CQL2 filter (OGC API Features Part 3), translated by :mod:`app.cql`.
    cql: Filter | None = None
    #: Sort keys (property, descending) before the id; from ``sortby``.
    sortby: tuple[tuple[str, bool], ...] = ()
    #: The properties to output (None: all); from ``properties``.
    properties: tuple[str, ...] | None = None


def _suppressed(layer: Layer, name: str, counts: str | None = None) -> str:
    """The figure as an aggregate-only principal gets it: a count withheld when its flag says
    so (set at refresh, core.zicht; an unset flag withholds too) and otherwise rounded to 5;
    derived figures withheld with their count, and otherwise computed from the published
    counts only (rounding a count is pointless if its rate still holds the exact value).

    With ``counts``, the published counts are read from that relation's columns (the
    lateral subquery of :func:`visible_rows`) instead of being spelled out again inside
    every formula that uses them."""
    prop = layer.property(name)
    if prop is None or prop.suppress is None:
        return f"t.{name}"
    if prop.suppress == "count":
        if counts is not None:
            return f"{counts}.{name}"
        return f"CASE WHEN {_withheld(name)} THEN NULL ELSE (round(t.{name} / 5.0) * 5)::bigint END"
    if prop.published is None:
        return f"NULL::{SQL_TYPES[prop.type]}"
    published = prop.published.format_map(_Published(layer, counts))
    return f"CASE WHEN {_withheld(prop.basis or 'signalen')} THEN NULL ELSE ({published}) END"


def _cleared(prop: Property, principal: Principal, expr: str) -> str:
    """The attribute, or NULL for a principal not cleared for it (``Property.clearance``)."""
    if prop.clearance is None or principal.can_see(prop.clearance):
        return expr
    return f"NULL::{SQL_TYPES[prop.type]}"


def _withheld(count: str) -> str:
    return f"t.{count}_onderdrukt IS NOT FALSE"


SQL_TYPES = {"string": "text", "integer": "bigint", "number": "numeric", "boolean": "boolean", "date": "date"}


class _Published(dict[str, str]):
    """``{name}`` in a published formula: that figure as the principal gets it (on demand,
    so formulas may refer to each other without building every expression)."""

    def __init__(self, layer: Layer, counts: str | None = None) -> None:
        super().__init__()
        self.layer = layer
        self.counts = counts

    def __missing__(self, name: str) -> str:
        if self.layer.property(name) is None:
            raise KeyError(f"published formula refers to unknown property {name!r}")
        self[name] = f"({_suppressed(self.layer, name, self.counts)})"
        return self[name]


def visible_rows(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    geometry: str | None,
    k: int,
    extra: Sequence[str] = (),
    planned_once: bool = False,
) -> Statement:
    """``SELECT id, [geom,] <properties>, [extra] FROM source WHERE <access and filters>``.
    ``planned_once``: see :func:`conditions`.

    ``k`` is not read any more: which counts are withheld was decided at refresh, with the
    threshold of the settings there (``zicht.k``)."""
    columns = ["t.id AS id"]
    if geometry:
        columns.append(f"{geometry} AS geom")
    suppress = principal.suppressed and any(p.suppress for p in layer.properties)
    for prop in layer.properties:
        expr = _suppressed(layer, prop.name, PUBLISHED) if suppress else f"t.{prop.name}"
        columns.append(f"{_cleared(prop, principal, expr)} AS {prop.name}")
    source = f"{layer.source} t"
    if suppress:
        counts = [p.name for p in layer.properties if p.suppress == "count"]
        columns.append("(" + " OR ".join(_withheld(c) for c in counts) + ") AS onderdrukt")
        # Each published count once per row. Spelled out inside every formula instead, the
        # indicator layer's z and afwijkend repeat the withheld-or-rounded count a dozen
        # times: planning took ten times as long as the analyst's query (issue 12's
        # benchmark). OFFSET 0 keeps PostgreSQL from flattening the subquery back into them.
        published = ", ".join(f"{_suppressed(layer, c)} AS {c}" for c in counts)
        source += f" CROSS JOIN LATERAL (SELECT {published} OFFSET 0) {PUBLISHED}"
    where, params = conditions(layer, principal, selection, planned_once=planned_once)
    sql = f"SELECT {', '.join([*columns, *extra])} FROM {source} WHERE {where}"
    return sql, params


#: The alias of the published counts in :func:`visible_rows`.
PUBLISHED = "pub"


def conditions(
    layer: Layer, principal: Principal, selection: Selection, *, planned_once: bool = False
) -> Statement:
    """The WHERE clause: access first, then the request's filters, spatial ones included.
    What a principal sees of the signals (municipalities, covenants, data classes) is its view
    class (core.zicht): point layers filter their rows by it, figures are read for that class
    only. A filter on a suppressed figure compares what the principal is shown, never the
    exact value.

    ``planned_once``: for a statement run on a generic plan (app/async_reads.py), which
    cannot fold the box into a constant at planning: the box is then a scalar subquery,
    computed once per run, not once per row."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    view = zicht.Zicht.of(principal)
    soort_param: str | None = None
    for i, (column, value) in enumerate(sorted(layer.where.items())):
        parts.append(f"t.{column} = :w{i}")
        params[f"w{i}"] = value
        if column == "gebied_soort":
            soort_param = f"w{i}"
    if view.gemeenten is not None:
        parts.append("t.gemeentecode = ANY(:gemeenten)")
        params["gemeenten"] = list(view.gemeenten)
    if layer.by_convenant and view.convenanten is not None:
        parts.append("t.convenant = ANY(:convenanten)")
        params["convenanten"] = list(view.convenanten)
    if layer.by_dataklasse:
        parts.append("t.dataklasse = ANY(:dataklassen)")
        params["dataklassen"] = list(view.dataklassen)
    if layer.by_zicht:
        parts.append(f"t.zicht_id = {zicht.LOOKUP}")
        params.update(view.params())
    if (
        layer.property("indeling") is not None
        and "indeling" not in selection.filters
        and selection.ids is None
    ):
        # Areas of several divisions: the type's default one unless the request names one.
        # With the area type fixed by the layer, that division is a constant the planner can
        # estimate (indeling = 'cbs'). The view's ``standaard`` compares two columns, which
        # PostgreSQL guesses at 0.5 % of the rows: one row instead of 150 buurten, and on that
        # guess a nested loop ran the spatial filter once per buurt (issue 16: an items page
        # took 7x as long, and items throughput halved).
        if soort_param is not None:
            parts.append(f"t.indeling = standaard_indeling(CAST(:{soort_param} AS text))")
        else:
            parts.append("t.standaard")
    shown_as = shown_columns(layer, principal)
    for i, (name, value) in enumerate(sorted(selection.filters.items())):
        shown = shown_as[name]
        # Several values (``thema=drugs,vastgoed``) mean any of them (codes hold no comma).
        values = value.split(",")
        if len(values) > 1:
            parts.append(f"({shown})::text = ANY(:f{i})")
            params[f"f{i}"] = values
        else:
            parts.append(f"({shown})::text = :f{i}")
            params[f"f{i}"] = value
    if selection.cql is not None:
        parts.append(f"({selection.cql.render(shown_as)})")
        params.update(selection.cql.params)
    if selection.bbox:
        parts.append(_in_bbox(layer, selection.bbox_srid, once=planned_once))
        params.update(dict(zip(("bx0", "by0", "bx1", "by1"), selection.bbox, strict=True)))
    if selection.tile is not None:
        parts.append(f"t.{layer.tile_geometry_column} && {_tile_envelope(TILE_MARGIN)}")
        params.update(z=selection.tile.z, x=selection.tile.x, y=selection.tile.y)
    if layer.datetime_column and selection.start:
        parts.append(f"t.{layer.datetime_column} >= :start")
        params["start"] = selection.start
    if layer.datetime_column and selection.end:
        parts.append(f"t.{layer.datetime_column} <= :end")
        params["end"] = selection.end
    if selection.ids is not None:
        parts.append("t.id = ANY(:ids)")
        params["ids"] = selection.ids
    return " AND ".join(parts) or "true", params


def _in_bbox(layer: Layer, srid: int, *, once: bool = False) -> str:
    """Rows that intersect the box, exactly, in the box's own CRS.

    An RD box is tested as it is. A CRS84 box has straight edges in degrees, which are
    curves in RD: the index test uses the RD bounds of the box's outline sampled every
    0.001° (about 100 m, where a parallel departs from its chord by far less than the
    1 m margin), and the exact test then takes the candidates to the box's CRS. Testing
    only ``&&`` against the transformed box let through 1.2 % of the items (issue 14).

    ``once``: each box expression a scalar subquery. A custom plan folds the expressions into
    constants while planning (and estimates the box's rows from them); a generic plan cannot,
    and evaluated the transform per candidate row: 5.4 ms a page instead of 1.3 ms. As a
    subquery it runs once per statement. Not for custom plans: the planner then guesses the
    box's rows, and a page took 2.0 ms instead of 1.8 ms."""
    column = f"t.{layer.geometry_column}"

    def _(expression: str) -> str:
        return f"(SELECT {expression})" if once else expression

    if srid == 28992:
        return f"ST_Intersects({column}, {_(_box(28992))})"
    bounds = f"ST_Expand(ST_Transform(ST_Segmentize({_box(4326)}, 0.001), 28992)::box2d::geometry, 1)"
    # The exact test takes the box to RD, not every row to degrees: transforming a buurt's
    # thousands of vertices per row made bbox items of area layers take seconds. Edges cut
    # every 0.001 degree (about 70 m) follow the curved parallels to 0.12 mm (a meridian to
    # 0.003 mm; measured with pyproj over the country), below the centimetre a CRS84 answer
    # is written to. Every 0.0001 degree was ten times the vertices for every candidate row
    # to be tested against: a 0.01-degree box had 400 edges instead of 40 (issue 16).
    exact = f"ST_Intersects({column}, {_(f'ST_Transform(ST_Segmentize({_box(4326)}, 0.001), 28992)')})"
    return f"{column} && {_(f'ST_SetSRID({bounds}, 28992)')} AND {exact}"


def _box(srid: int) -> str:
    """The request's box as a geometry. Not ST_MakeEnvelope: a box of zero width or height
    (both corners on one point, say) would be an empty polygon that intersects nothing;
    this is the point or line it really is."""
    return f"ST_SetSRID(ST_Envelope(ST_MakeLine(ST_MakePoint(:bx0, :by0), ST_MakePoint(:bx1, :by1))), {srid})"


def shown_columns(layer: Layer, principal: Principal) -> dict[str, str]:
    """Each queryable as the principal is shown it (:func:`_suppressed`), for a CQL2 filter
    or a sort: an aggregate user filters and sorts on published figures only."""
    suppress = principal.suppressed and any(p.suppress for p in layer.properties)
    columns = {
        p.name: _cleared(p, principal, f"({_suppressed(layer, p.name)})" if suppress else f"t.{p.name}")
        for p in layer.properties
    }
    columns[GEOMETRY] = f"t.{layer.geometry_column}"
    return columns


def order_by(layer: Layer, principal: Principal, selection: Selection, alias: str | None = None) -> str:
    """The sort of a page: the ``sortby`` keys, then the id. With ``alias``, over the output
    columns of that subquery; otherwise over the source (``t``)."""
    shown = {n: f"{alias}.{n}" for n, _ in selection.sortby} if alias else shown_columns(layer, principal)
    keys = [f"{shown[n]}{' DESC NULLS LAST' if descending else ''}" for n, descending in selection.sortby]
    return ", ".join([*keys, f"{alias or 't'}.id"])


def output_properties(layer: Layer, selection: Selection) -> list[str]:
    """The properties a page shows: those asked for (``properties``) in the layer's order."""
    names = [p.name for p in layer.properties]
    return names if selection.properties is None else [n for n in names if n in selection.properties]


def _tile_envelope(margin: float | None = None) -> str:
    """The bounds of the selection's tile in EPSG:3857; :func:`conditions` binds ``z/x/y``."""
    return f"ST_TileEnvelope(:z, :x, :y{f', margin => {margin}' if margin else ''})"


def geometry_in(layer: Layer, srid: int, *, latlon: bool = False) -> str:
    """The layer's geometry in ``srid`` (stored in RD New: no transform for 28992); with
    ``latlon`` latitude first, as EPSG:4326 orders its axes (PostGIS keeps x = longitude)."""
    column = f"t.{layer.geometry_column}"
    moved = column if srid == 28992 else f"ST_Transform({column}, {srid})"
    return f"ST_FlipCoordinates({moved})" if latlon else moved


def _page(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    rows: str,
    after: str | None,
    *,
    extra: bool = False,
) -> tuple[str, dict[str, Any]]:
    """A page of ``rows``: in id order after an id (keyset: one index range, as cheap at any
    depth) or else ``:offset`` rows in (which reads every row it skips). A page sorted by
    ``sortby`` goes by offset: a cursor holds an id, not the sort keys. With ``extra`` one
    row more than ``:limit``, to tell whether another page follows."""
    limit = ":limit + 1" if extra else ":limit"
    if selection.sortby:
        return f"{rows} ORDER BY {order_by(layer, principal, selection)} LIMIT {limit} OFFSET :offset", {}
    if after is None:
        return f"{rows} ORDER BY t.id LIMIT {limit} OFFSET :offset", {}
    return f"{rows} AND t.id > :after ORDER BY t.id LIMIT {limit} OFFSET :offset", {"after": after}


def geojson_features(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    srid: int,
    limit: int,
    offset: int,
    k: int,
    count: bool = False,
    latlon: bool = False,
    after: str | None = None,
    planned_once: bool = False,
) -> Statement:
    """The features of a page as comma-separated GeoJSON built in SQL, their number and
    (for layers below aggregate level, for the audit trail) their ids; with ``count`` also
    ``numberMatched`` (of the whole selection, not just what follows ``after``), in the
    same round trip. Columns: features, aantal, ids, matched, laatste (the page's last id,
    for the next page's cursor) and meer (whether rows follow it).

    The page reads one row more than it shows: that row says whether another page follows,
    in the scan the page makes anyway. A separate probe for the next id (``t.id > last
    ORDER BY t.id LIMIT 1``) walked the id index from the page's end testing every row
    against the box, so the last page of a small box read the rest of the layer. The
    count of the whole selection is a second scan; on a first page that holds the whole
    selection (the extra row absent) the page's own count is that figure, and the CASE
    never runs the subquery.

    ``planned_once``: the statement will run on a generic plan (:func:`conditions`)."""
    geometry = geometry_in(layer, srid, latlon=latlon)
    # A first page of a box counts its selection in the scan it makes anyway (below).
    in_scan = count and counted_in_scan(selection, offset, after)
    extra = [f"count(*) OVER () AS {MATCHED}"] if in_scan else []
    rows, params = visible_rows(
        layer, principal, selection, geometry=geometry, k=k, extra=extra, planned_once=planned_once
    )
    paged, paging = _page(layer, principal, selection, rows, after, extra=True)
    shown = f"r.{ROW_NUMBER} <= :limit"
    ids = (
        f"array_agg(r.id ORDER BY r.id) FILTER (WHERE {shown})"
        if layer.clearance != "aggregaat"
        else "NULL::text[]"
    )
    matched = "NULL::bigint"
    if in_scan:
        matched = f"coalesce(max(r.{MATCHED}), 0)"
    elif count:
        total = f"({count_matched(layer, principal, selection)[0]})"
        whole = offset == 0 and after is None
        matched = f"CASE WHEN count(*) <= :limit THEN count(*) ELSE {total} END" if whole else total
    names = output_properties(layer, selection)
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    feature = feature_text("r", names, 9 if srid == 28992 else 7)
    sql = f"""
        SELECT coalesce(string_agg({feature}, ',' ORDER BY r.{ROW_NUMBER})
                   FILTER (WHERE {shown}), '') AS features,
               count(*) FILTER (WHERE {shown}) AS aantal, {ids} AS ids, {matched} AS matched,
               max(r.id) FILTER (WHERE {shown}) AS laatste, count(*) > :limit AS meer
        FROM (SELECT p.*, row_number() OVER (ORDER BY {order_by(layer, principal, selection, "p")})
                  AS {ROW_NUMBER} FROM ({paged}) p) r
    """
    return sql, {**params, **paging, "limit": limit, "offset": offset}


def counted_in_scan(selection: Selection, offset: int, after: str | None) -> bool:
    """Whether a counted page (:func:`geojson_features`) counts its whole selection in the
    scan that reads the page: the first page of a box. That scan then reads every row in
    the box, whatever the box."""
    return selection.bbox is not None and offset == 0 and after is None


def feature_text(alias: str, names: Sequence[str], decimals: int) -> str:
    """One GeoJSON feature of row ``alias`` as text: its id, its geometry and the properties
    ``names``.

    Joined as text, not built as one ``json_build_object``: that needs the geometry as
    ``json``, and the cast parses ST_AsGeoJSON's text again only to print it unchanged
    (issue 16: with the outer object's per-argument type lookups, most of the SQL time of an
    items page after the scan). The properties stay one ``json_build_object`` (its escaping
    and its number, date and boolean forms). A NULL id or geometry is written ``null``, as
    the object did: a NULL piece would make the whole feature NULL, which ``string_agg``
    would skip without a trace."""
    props = ", ".join(f"'{n}', {alias}.{n}" for n in names)
    return (
        f"""'{{"type":"Feature","id":' || coalesce(to_json({alias}.id)::text, 'null')"""
        f"""|| ',"geometry":' || coalesce(ST_AsGeoJSON({alias}.geom, {decimals}), 'null')"""
        f"""|| ',"properties":' || json_build_object({props})::text || '}}'"""
    )


#: The position of a row in its page (:func:`geojson_features`).
ROW_NUMBER = "rij_nummer"
#: The number of rows of the whole selection, counted in the page's own scan.
MATCHED = "aantal_gevonden"


def count_matched(layer: Layer, principal: Principal, selection: Selection) -> Statement:
    where, params = conditions(layer, principal, selection)
    return f"SELECT count(*) FROM {layer.source} t WHERE {where}", params


def mvt(
    layer: Layer, principal: Principal, selection: Selection, tile: morecantile.Tile, *, k: int
) -> Statement:
    """One MVT tile of the layer (ST_AsMVT over ST_AsMVTGeom on the stored 3857 copy), with
    its feature count and (below aggregate level, for the audit trail) its ids. A point layer
    below its ``single_from`` zoom gets its clusters instead (:func:`mvt_clusters`).

    ``OFFSET 0`` keeps PostgreSQL from pulling the inner query up into the outer one: pulled
    up, ``m.geom IS NOT NULL`` becomes a second ST_AsMVTGeom per row (the clip and the
    simplification of a buurt's polygon done twice, once for the test and once for the
    tile)."""
    if layer.single_from is not None and tile.z < layer.single_from:
        return mvt_clusters(layer, principal, selection, tile, k=k)
    rows, params = visible_rows(
        layer, principal, replace(selection, tile=tile), geometry=f"t.{layer.tile_geometry_column}", k=k
    )
    names = tile_columns(layer, principal)
    ids = _tile_ids(layer, "m")
    sql = f"""
        SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') AS tile, count(*) AS aantal, {ids} AS ids FROM (
            SELECT ST_AsMVTGeom(r.geom, {_tile_envelope()}, 4096, 64, true) AS geom,
                   {", ".join("r." + n for n in names)}
            FROM ({rows}) r OFFSET 0
        ) m WHERE m.geom IS NOT NULL
    """
    return sql, params


def tile_columns(layer: Layer, principal: Principal) -> list[str]:
    """The attributes of a tile's features: the id, the properties, and for an
    aggregate-only principal whether a figure was withheld (``onderdrukt``)."""
    names = ["id", *(p.name for p in layer.properties)]
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    return names


def _tile_ids(layer: Layer, alias: str) -> str:
    """A tile's ids for the audit trail: those of a street-level tile (at most
    MAX_TILE_IDS); of a city-wide one only its count. Aggregate layers: none."""
    if layer.clearance == "aggregaat":
        return "NULL::text[]"
    return f"CASE WHEN count(*) <= {MAX_TILE_IDS} THEN array_agg({alias}.id ORDER BY {alias}.id) END"


def mvt_clusters(
    layer: Layer, principal: Principal, selection: Selection, tile: morecantile.Tile, *, k: int
) -> Statement:
    """A point layer's tile below its ``single_from`` zoom: its points grouped on a grid of
    CLUSTER_CELLS by CLUSTER_CELLS cells in tile pixels.

    A cell holding one point carries that point as :func:`mvt` would; a cell holding more
    carries one feature at their mean position with their number (``aantal``; a single point
    has 1) and nothing else: no id, no attribute of any point in it. The rows are those of
    :func:`mvt` (the same WHERE: municipalities, covenants, data classes, retention through
    the view, the request's filters and period), so a count holds only points the caller
    may see. Unlike :func:`mvt` only the tile itself counts, not its margin, and cells are
    half-open (left and top edges in, right and bottom out): every point is in exactly one
    tile at each zoom, so the counts of neighbouring tiles add up. Columns as :func:`mvt`:
    ``aantal`` is the number of points the tile stands for and ``ids`` their ids, for the
    audit trail as before.

    The grid is made of ids and points only (``q``); the attributes are read afterwards for
    the lone points, at most one per cell, by id. Carrying every attribute through the
    grid computed them for every point of a city-wide tile (a signal's address is a
    subquery per row) to show a few dozen. ``m`` is materialized so that ST_AsMVTGeom runs
    once per feature: inlined, its ``geom IS NOT NULL`` test is a second call."""
    where, params = conditions(layer, principal, replace(selection, tile=tile))
    points = f"SELECT t.id, t.{layer.tile_geometry_column} AS geom FROM {layer.source} t WHERE {where}"
    # The lone points' attributes: the same rows (the same WHERE but for the tile, which the
    # ids already stand for), by id: an index probe per cell.
    rows, row_params = visible_rows(layer, principal, replace(selection, tile=None), geometry=None, k=k)
    names = tile_columns(layer, principal)
    blanks = ["NULL::text", *(f"NULL::{SQL_TYPES[p.type]}" for p in layer.properties)]
    blanks += ["NULL::boolean"] * (len(names) - len(blanks))  # onderdrukt
    ids = _tile_ids(layer, "q")
    envelope = _tile_envelope()
    cells = CLUSTER_CELLS
    sql = f"""
        WITH e AS (
            SELECT ST_XMin(b) AS x0, ST_YMax(b) AS y1, (ST_XMax(b) - ST_XMin(b)) / {cells} AS cel
            FROM {envelope} AS b
        ), p AS (
            SELECT r.id, r.geom, floor((ST_X(r.geom) - e.x0) / e.cel)::int AS i,
                   floor((e.y1 - ST_Y(r.geom)) / e.cel)::int AS j
            FROM ({points}) r, e
        ), q AS MATERIALIZED (
            SELECT p.id, p.geom, p.i, p.j, count(*) OVER (PARTITION BY p.i, p.j) AS n FROM p
            WHERE p.i >= 0 AND p.i < {cells} AND p.j >= 0 AND p.j < {cells}
        ), a AS MATERIALIZED (
            {rows} AND t.id = ANY(ARRAY(SELECT q.id FROM q WHERE q.n = 1))
        ), m AS MATERIALIZED (
            SELECT ST_AsMVTGeom(q.geom, {envelope}, 4096, 64, true) AS geom,
                   {", ".join("a." + n for n in names)}, 1::bigint AS aantal
            FROM q JOIN a ON a.id = q.id WHERE q.n = 1
            UNION ALL
            SELECT ST_AsMVTGeom(ST_Centroid(ST_Collect(q.geom)), {envelope}, 4096, 64, true),
                   {", ".join(blanks)}, count(*)
            FROM q WHERE q.n > 1 GROUP BY q.i, q.j
        )
        SELECT (SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') FROM m WHERE m.geom IS NOT NULL) AS tile,
               count(*) AS aantal, {ids} AS ids
        FROM q
    """
    return sql, {**row_params, **params}


def mvt_rd(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    bounds: tuple[float, float, float, float],
    *,
    k: int,
) -> Statement:
    """One MVT tile of the NetherlandsRDNewQuad grid, built in RD New on the stored geometry
    (no reprojection at all): ST_AsMVTGeom with the tile's RD ``bounds``. The tile test is
    put on the outer query; PostgreSQL flattens the simple subquery, so it still uses the
    geometry's GIST index; ``OFFSET 0`` keeps ST_AsMVTGeom to one call per row, as in
    :func:`mvt`. Same columns as :func:`mvt`."""
    rows, params = visible_rows(layer, principal, selection, geometry=f"t.{layer.geometry_column}", k=k)
    names = tile_columns(layer, principal)
    ids = _tile_ids(layer, "m")
    margin = (bounds[2] - bounds[0]) * TILE_MARGIN
    envelope = "ST_MakeEnvelope(:rx0, :ry0, :rx1, :ry1, 28992)"
    sql = f"""
        SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') AS tile, count(*) AS aantal, {ids} AS ids FROM (
            SELECT ST_AsMVTGeom(r.geom, {envelope}::box2d, 4096, 64, true) AS geom,
                   {", ".join("r." + n for n in names)}
            FROM ({rows}) r
            WHERE r.geom && ST_Expand({envelope}, :rmargin) OFFSET 0
        ) m WHERE m.geom IS NOT NULL
    """
    return sql, {**params, **dict(zip(("rx0", "ry0", "rx1", "ry1"), bounds, strict=True)), "rmargin": margin}


# -- bulk downloads (app/bulk.py) ---------------------------------------------------------------


def bulk_count(layer: Layer, principal: Principal, selection: Selection, *, k: int) -> Statement:
    """How many features a download of the selection holds, and (below aggregate level, up
    to the audit trail's bound) their ids: columns ``aantal`` and ``ids``, for the audit row
    written in the same statement (app.audit.audited_one)."""
    rows, params = visible_rows(layer, principal, selection, geometry=None, k=k)
    ids = (
        "CASE WHEN count(*) <= 1000 THEN array_agg(r.id ORDER BY r.id) END"
        if layer.clearance != "aggregaat"
        else "NULL::text[]"
    )
    return f"SELECT count(*) AS aantal, {ids} AS ids FROM ({rows}) r", params


def bulk_exceeds(layer: Layer, principal: Principal, selection: Selection, *, most: int, k: int) -> Statement:
    """Whether the selection holds more than ``most`` features (counting no further)."""
    rows, params = visible_rows(layer, principal, selection, geometry=None, k=k)
    return f"SELECT count(*) > :most FROM ({rows} LIMIT :most + 1) r", {**params, "most": most}


def bulk_rows(
    layer: Layer, principal: Principal, selection: Selection, *, srid: int, limit: int, k: int
) -> Statement:
    """The selection as plain rows for a FlatGeobuf file (app/bulk.py): id, the properties
    (and ``onderdrukt`` for aggregate-only principals), the geometry as WKB (``wkb``); at
    most ``limit`` in id order. ``numeric`` figures come as double precision: FlatGeobuf
    has no decimal type.

    Not ``ST_AsFlatGeobuf``: PostGIS writes a NULL followed by a fixed-size value (a
    boolean or number after an empty text) in a way GDAL 3.12 refuses to read ("Fatal
    error parsing feature"), and a ``date`` in a form it cannot parse."""
    rows, params = visible_rows(layer, principal, selection, geometry=geometry_in(layer, srid), k=k)
    columns = ", ".join(
        f"r.{n}::double precision AS {n}" if _type_of(layer, n) == "number" else f"r.{n}"
        for n in bulk_names(layer, principal)
    )
    sql = (
        f"SELECT r.id, {columns}, ST_AsBinary(r.geom) AS wkb"
        f" FROM ({rows} ORDER BY t.id LIMIT :limit) r ORDER BY r.id"
    )
    return sql, {**params, "limit": limit}


def bulk_names(layer: Layer, principal: Principal) -> list[str]:
    """The property columns a download holds for this principal."""
    names = [p.name for p in layer.properties]
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    return names


def _type_of(layer: Layer, name: str) -> str:
    prop = layer.property(name)
    return prop.type if prop is not None else "boolean"  # ``onderdrukt``


def geojson_rows(
    layer: Layer, principal: Principal, selection: Selection, *, srid: int, limit: int, k: int
) -> Statement:
    """The selection as one GeoJSON feature per row (column ``feature``, text built in
    SQL), at most ``limit`` in id order: for a streamed GeoJSON text sequence."""
    rows, params = visible_rows(layer, principal, selection, geometry=geometry_in(layer, srid), k=k)
    names = [p.name for p in layer.properties]
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    props = ", ".join(f"'{n}', r.{n}" for n in names)
    decimals = 9 if srid == 28992 else 7
    sql = f"""
        SELECT json_build_object('type', 'Feature', 'id', r.id,
                   'geometry', ST_AsGeoJSON(r.geom, {decimals})::json,
                   'properties', json_build_object({props}))::text AS feature
        FROM ({rows} ORDER BY t.id LIMIT :limit) r ORDER BY r.id
    """
    return sql, {**params, "limit": limit}


def csv_features(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    srid: int,
    limit: int,
    offset: int,
    k: int,
    latlon: bool = False,
    after: str | None = None,
) -> Statement:
    """A page of features as CSV rows: id, properties, and the geometry as WKT. Booleans
    are written ``true``/``false`` (their text form), as in JSON, not COPY's ``t``/``f``."""
    geometry = geometry_in(layer, srid, latlon=latlon)
    rows, params = visible_rows(layer, principal, selection, geometry=geometry, k=k)
    paged, paging = _page(layer, principal, selection, rows, after)
    names = ", ".join(
        ["r.id", *(_csv_column(n, _type_of(layer, n)) for n in output_properties(layer, selection))]
    )
    sql = (
        f"SELECT {names}, ST_AsText(r.geom, 9) AS geometrie FROM ({paged}) r"
        f" ORDER BY {order_by(layer, principal, selection, 'r')}"
    )
    return sql, {**params, **paging, "limit": limit, "offset": offset}


def _csv_column(name: str, kind: str) -> str:
    return f"r.{name}::text AS {name}" if kind == "boolean" else f"r.{name}"


def copy_csv(compiled_select: str) -> str:
    """The ``COPY`` that streams a select (compiled for the driver) as CSV with a header."""
    return f"COPY ({compiled_select}) TO STDOUT WITH (FORMAT csv, HEADER)"


# -- maps and overviews: the indicator layers ---------------------------------------------------


def periods(layer: Layer, principal: Principal, *, k: int) -> Statement:
    """The periods (``periode``, ``periode_soort``) with figures for this principal, in order."""
    rows, params = visible_rows(layer, principal, Selection(filters={"thema": "alle"}), geometry=None, k=k)
    return f"SELECT DISTINCT r.periode, r.periode_soort FROM ({rows}) r ORDER BY r.periode", params


def bounds(layer: Layer, principal: Principal, selection: Selection, *, k: int) -> Statement:
    """The extent of the selected rows in WGS84, in Leaflet's order: south, west, north, east."""
    rows, params = visible_rows(layer, principal, selection, geometry=geometry_in(layer, 28992), k=k)
    sql = (
        "SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM (SELECT"
        f" ST_Transform(ST_SetSRID(ST_Extent(r.geom), 28992), 4326) AS e FROM ({rows}) r) x"
    )
    return sql, params


def area_figures(
    layer: Layer, principal: Principal, filters: dict[str, str], *, k: int, wkb: bool = False
) -> Statement:
    """An indicator layer's rows by area, period and theme; with ``wkb`` also each area's
    polygon (RD New, WKB), for the GeoPackage."""
    rows, params = visible_rows(
        layer, principal, Selection(filters=filters), geometry=geometry_in(layer, 28992) if wkb else None, k=k
    )
    polygon = ", ST_AsBinary(r.geom) AS wkb" if wkb else ""
    # Risk-branch layers have a branch where the indicator layers have a period and a theme.
    order = ", ".join(f"r.{n}" for n in ("code", "periode", "thema", "risicobranche") if layer.property(n))
    return f"SELECT r.*{polygon} FROM ({rows}) r ORDER BY {order}", params


def branch_figures(layer: Layer, principal: Principal, filters: dict[str, str], *, k: int) -> Statement:
    """A risk-branch layer's rows by area and branch, as the principal may see them."""
    rows, params = visible_rows(layer, principal, Selection(filters=filters), geometry=None, k=k)
    return f"SELECT r.* FROM ({rows}) r ORDER BY r.code, r.risicobranche", params


def area_shapes(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    box: tuple[float, float, float, float],
    tolerance: float,
    k: int,
) -> Statement:
    """Outlines as SVG paths (RD New), simplified to ``tolerance`` and clipped to ``box``
    (fpdf2 does not clip an embedded SVG to its viewport): code and path per area."""
    envelope = f"ST_MakeEnvelope({box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, {box[3]:.1f}, 28992)"
    simplified = f"ST_SimplifyPreserveTopology(t.{layer.geometry_column}, {float(tolerance)})"
    geometry = f"ST_CollectionExtract(ST_Intersection({simplified}, {envelope}), 3)"
    rows, params = visible_rows(layer, principal, selection, geometry=geometry, k=k)
    return f"SELECT r.code, ST_AsSVG(r.geom, 0, 0) FROM ({rows}) r WHERE NOT ST_IsEmpty(r.geom)", params


def collection_extent(layer: Layer, principal: Principal) -> Statement:
    """The extent of the rows a principal may see of a layer: xmin, ymin, xmax, ymax in
    CRS84 and the first and last date (``van``, ``tot``; NULL for a layer without time).

    Points are transformed one by one, for the tight box (cheap, and read once per data
    version: app/extents.py). Areas would transform every vertex of every row (a polygon per
    period and theme): their RD box is transformed instead, sampled every 100 m so that its
    edges, curved in degrees, stay inside the answer; it is a little wider than tight."""
    where, params = conditions(layer, principal, Selection())
    column = f"t.{layer.geometry_column}"
    if layer.kind == "punten":
        box = f"ST_Extent(ST_Transform({column}, 4326))::geometry"
    else:
        box = f"ST_Transform(ST_Segmentize(ST_SetSRID(ST_Extent({column})::geometry, 28992), 100), 4326)"
    dates = (
        f"min(t.{layer.datetime_column}) AS van, max(t.{layer.datetime_column}) AS tot"
        if layer.datetime_column
        else "NULL::date AS van, NULL::date AS tot"
    )
    sql = (
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), van, tot"
        f" FROM (SELECT {box} AS e, {dates} FROM {layer.source} t WHERE {where}) x"
    )
    return sql, params


# -- areas -------------------------------------------------------------------------------------


def area_extent() -> Statement:
    """The extent of the newest areas in CRS84 (xmin, ymin, xmax, ymax): every layer lies in it.

    Not from ``actueel_gebied``: its test of the newest edition is a subquery per row,
    which over every area of the country (issue 16's national run) took 22 s, past the
    statement timeout, so every tile answered 503. The newest edition per type and division
    is read once here (an index-only scan of ``gebied_editie_idx``, migration 0025) and the
    areas of those editions joined to it."""
    return (
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT"
        " ST_Transform(ST_SetSRID(ST_Extent(g.geom), 28992), 4326) e FROM gebied g JOIN"
        " (SELECT soort, indeling, max(jaar) AS jaar FROM gebied GROUP BY soort, indeling) n"
        " ON g.soort = n.soort AND g.indeling = n.indeling AND g.jaar = n.jaar) x",
        {},
    )


def area_by_code(code: str, soorten: Sequence[str], indeling: str | None = None) -> Statement:
    """The newest edition of an area of one of ``soorten`` in ``indeling`` (None: its type's
    default division); its municipality decides who sees it."""
    return (
        "SELECT soort, code, naam, gemeentecode, jaar, indeling FROM actueel_gebied"
        " WHERE code = :c AND soort = ANY(:s)"
        " AND indeling = coalesce(CAST(:i AS text), standaard_indeling(soort))",
        {"c": code, "s": list(soorten), "i": indeling},
    )


def area_envelope(soort: str, code: str, indeling: str) -> Statement:
    """The bounding box of one area in RD New: xmin, ymin, xmax, ymax."""
    return (
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM actueel_gebied"
        " WHERE soort = :s AND code = :c AND indeling = :i",
        {"s": soort, "c": code, "i": indeling},
    )


def areas_at(
    principal: Principal, a: float, b: float, *, srid: int, indeling: str | None = None
) -> Statement:
    """The newest areas that contain a point (lon/lat in WGS84 or x/y in RD New) within the
    principal's municipalities, largest type first: soort, code, naam, gemeentecode,
    indeling, jaar; of ``indeling`` only, or else of each type's default division."""
    point = "ST_SetSRID(ST_MakePoint(:a, :b), 28992)"
    if srid != 28992:
        point = "ST_Transform(ST_SetSRID(ST_MakePoint(:a, :b), 4326), 28992)"
    order = ", ".join(f"'{soort}'" for soort in AREA_ORDER)
    sql = (
        "SELECT soort, code, naam, gemeentecode, indeling, jaar FROM actueel_gebied"
        f" WHERE ST_Intersects(geom, {point}) AND (gemeentecode = ANY(:gm) OR :alle)"
        " AND indeling = coalesce(CAST(:i AS text), standaard_indeling(soort))"
        f" ORDER BY array_position(ARRAY[{order}], soort), soort"
    )
    return sql, {
        "a": a,
        "b": b,
        "gm": list(principal.gemeenten),
        "alle": principal.all_gemeenten,
        "i": indeling,
    }


#: A drawn polygon (GeoJSON in ``:g``, coordinates in ``:srid``) in RD New.
DRAWN = "ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), :srid), 28992)"


def drawn_area(shape: str, srid: int, principal: Principal) -> Statement:
    """A drawn polygon checked and measured in one statement (the GeoJSON parsed and
    transformed once): valid, reason, km2, its box in RD New (x0, y0, x1, y1), and, when
    valid, the codes of the buurten of the principal's municipalities whose interior point
    lies in it (a polygon over another municipality names none of its buurten)."""
    sql = (
        f"WITH sel AS (SELECT {DRAWN} AS g) SELECT ST_IsValid(g) AS valid,"
        " ST_IsValidReason(g) AS reason, ST_Area(g) / 1e6 AS km2,"
        " ST_XMin(g) AS x0, ST_YMin(g) AS y0, ST_XMax(g) AS x1, ST_YMax(g) AS y1,"
        " CASE WHEN ST_IsValid(g) THEN ARRAY(SELECT b.code FROM actueel_gebied b WHERE b.soort = 'buurt'"
        "   AND b.indeling = standaard_indeling('buurt')"
        "   AND (b.gemeentecode = ANY(:gm) OR :alle)"
        "   AND ST_Intersects(ST_PointOnSurface(b.geom), g) ORDER BY b.code) END AS buurten"
        " FROM sel"
    )
    return sql, {"g": shape, "srid": srid, "gm": list(principal.gemeenten), "alle": principal.all_gemeenten}


def drawn_counts(
    signals: Layer, principal: Principal, selection: Selection, shape: str, srid: int
) -> Statement:
    """Exact counts inside a drawn polygon, within what the principal may see: the signals
    of ``selection`` (theme, period), the addresses, and the vacancies open in the period."""
    assert selection.start is not None and selection.end is not None  # counts are over a period
    where, params = conditions(signals, principal, selection)
    scope = "TRUE" if principal.all_gemeenten else "x.gemeentecode = ANY(:gemeenten)"
    sql = (
        f"WITH sel AS (SELECT {DRAWN} AS g) SELECT"
        f" (SELECT count(*) FROM {signals.source} t, sel WHERE ST_Intersects(t.geom, sel.g) AND {where}),"
        f" (SELECT count(*) FROM verblijfsobject x, sel WHERE ST_Intersects(x.geom, sel.g) AND {scope}),"
        f" (SELECT count(*) FROM leegstand x, sel WHERE ST_Intersects(x.geom, sel.g) AND {scope}"
        "   AND x.sinds <= :end AND (x.tot IS NULL OR x.tot >= :start))"
    )
    return sql, {
        **params,
        "g": shape,
        "srid": srid,
        "start": selection.start,
        "end": selection.end,
        "gemeenten": list(principal.gemeenten),
    }


# -- an overview's sources ---------------------------------------------------------------------


def source_dates() -> Statement:
    """Per ingest kind, when its newest successful run ended."""
    return (
        "SELECT soort, max(beeindigd) AS tot FROM ingest_run WHERE status = 'geslaagd'"
        " GROUP BY soort ORDER BY soort",
        {},
    )


def signal_sources() -> Statement:
    """The partners (``bron``) that delivered signals in a successful run."""
    return (
        "SELECT DISTINCT bron FROM ingest_run WHERE soort = 'signalen' AND status = 'geslaagd'"
        " AND bron IS NOT NULL ORDER BY bron",
        {},
    )
