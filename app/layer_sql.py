"""SQL for a layer as a principal may see it: one place for every output.

Features, tiles and exports all start from :func:`visible_rows`: the layer's source,
limited to the principal's municipalities (and covenants, for partners), with the request's
filters, and with suppression applied in SQL for aggregate-only principals. The database
then builds GeoJSON, MVT or CSV and the bytes go straight out; no per-row Python.
Identifiers come only from the ``Layer`` model (validated names), values only as bound
parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from core import zicht
from core.security import Principal
from layers.base import Layer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
#: Tiles with more features than this record their count, not their ids, in the audit trail.
MAX_TILE_IDS = 200
CRS_SRID = {CRS84: 4326, RD: 28992, "EPSG:4326": 4326, "EPSG:28992": 28992}


@dataclass
class Selection:
    """What a request asks of a layer."""

    filters: dict[str, str] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    start: dt.date | None = None
    end: dt.date | None = None
    ids: list[str] | None = None


def _suppressed(layer: Layer, name: str) -> str:
    """The figure as an aggregate-only principal gets it: a count withheld when its flag says
    so (set at refresh, core.zicht; an unset flag withholds too) and otherwise rounded to 5;
    derived figures withheld with their count, and otherwise computed from the published
    counts only (rounding a count is pointless if its rate still holds the exact value)."""
    prop = layer.property(name)
    if prop is None or prop.suppress is None:
        return f"t.{name}"
    if prop.suppress == "count":
        return f"CASE WHEN {_withheld(name)} THEN NULL ELSE (round(t.{name} / 5.0) * 5)::bigint END"
    if prop.published is None:
        return f"NULL::{SQL_TYPES[prop.type]}"
    published = prop.published.format_map(_Published(layer))
    return f"CASE WHEN {_withheld(prop.basis or 'signalen')} THEN NULL ELSE ({published}) END"


def _withheld(count: str) -> str:
    return f"t.{count}_onderdrukt IS NOT FALSE"


SQL_TYPES = {"string": "text", "integer": "bigint", "number": "numeric", "boolean": "boolean", "date": "date"}


class _Published(dict[str, str]):
    """``{name}`` in a published formula: that figure as the principal gets it (on demand,
    so formulas may refer to each other without building every expression)."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        self.layer = layer

    def __missing__(self, name: str) -> str:
        if self.layer.property(name) is None:
            raise KeyError(f"published formula refers to unknown property {name!r}")
        self[name] = f"({_suppressed(self.layer, name)})"
        return self[name]


def visible_rows(
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    geometry: str | None,
    k: int,
) -> tuple[str, dict[str, Any]]:
    """``SELECT id, [geom,] <properties> FROM source WHERE <access and filters>``.

    ``k`` is not read any more: which counts are withheld was decided at refresh, with the
    threshold of the settings there (``zicht.k``)."""
    columns = ["t.id AS id"]
    if geometry:
        columns.append(f"{geometry} AS geom")
    suppress = principal.suppressed and any(p.suppress for p in layer.properties)
    for prop in layer.properties:
        expr = _suppressed(layer, prop.name) if suppress else f"t.{prop.name}"
        columns.append(f"{expr} AS {prop.name}")
    if suppress:
        counts = [p.name for p in layer.properties if p.suppress == "count"]
        columns.append("(" + " OR ".join(_withheld(c) for c in counts) + ") AS onderdrukt")
    where, params = conditions(layer, principal, selection)
    sql = f"SELECT {', '.join(columns)} FROM {layer.source} t WHERE {where}"
    return sql, params


def conditions(layer: Layer, principal: Principal, selection: Selection) -> tuple[str, dict[str, Any]]:
    """The WHERE clause: access first, then the request's filters. What a principal sees of
    the signals (municipalities, covenants, data classes) is its view class (core.zicht):
    point layers filter their rows by it, figures are read for that class only. A filter on
    a suppressed figure compares what the principal is shown, never the exact value."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    view = zicht.Zicht.of(principal)
    for i, (column, value) in enumerate(sorted(layer.where.items())):
        parts.append(f"t.{column} = :w{i}")
        params[f"w{i}"] = value
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
    suppress = principal.suppressed and any(p.suppress for p in layer.properties)
    for i, (name, value) in enumerate(sorted(selection.filters.items())):
        shown = _suppressed(layer, name) if suppress else f"t.{name}"
        parts.append(f"({shown})::text = :f{i}")
        params[f"f{i}"] = value
    if selection.bbox:
        envelope = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, :bsrid)"
        if selection.bbox_srid != 28992:
            envelope = f"ST_Transform({envelope}, 28992)"
        parts.append(f"t.{layer.geometry_column} && {envelope}")
        params.update(dict(zip(("bx0", "by0", "bx1", "by1"), selection.bbox, strict=True)))
        params["bsrid"] = selection.bbox_srid
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


def geometry_in(layer: Layer, srid: int) -> str:
    """The layer's geometry in ``srid`` (stored in RD New: no transform for 28992)."""
    column = f"t.{layer.geometry_column}"
    return column if srid == 28992 else f"ST_Transform({column}, {srid})"


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
) -> tuple[str, dict[str, Any]]:
    """The features of a page as comma-separated GeoJSON built in SQL, their number and
    (for layers below aggregate level, for the audit trail) their ids; with ``count`` also
    ``numberMatched``, in the same round trip. Columns: features, returned, ids, matched."""
    rows, params = visible_rows(layer, principal, selection, geometry=geometry_in(layer, srid), k=k)
    matched = f"({count_matched(layer, principal, selection)[0]})" if count else "NULL::bigint"
    ids = "array_agg(r.id ORDER BY r.id)" if layer.clearance != "aggregaat" else "NULL::text[]"
    decimals = 9 if srid == 28992 else 7
    names = [p.name for p in layer.properties]
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    props = ", ".join(f"'{n}', r.{n}" for n in names)
    sql = f"""
        SELECT coalesce(string_agg(json_build_object(
                   'type', 'Feature', 'id', r.id,
                   'geometry', ST_AsGeoJSON(r.geom, {decimals})::json,
                   'properties', json_build_object({props}))::text, ',' ORDER BY r.id), '') AS features,
               count(*) AS aantal, {ids} AS ids, {matched} AS matched
        FROM ({rows} ORDER BY t.id LIMIT :limit OFFSET :offset) r
    """
    return sql, {**params, "limit": limit, "offset": offset}


def count_matched(layer: Layer, principal: Principal, selection: Selection) -> tuple[str, dict[str, Any]]:
    where, params = conditions(layer, principal, selection)
    return f"SELECT count(*) FROM {layer.source} t WHERE {where}", params


def mvt(layer: Layer, principal: Principal, selection: Selection, *, k: int) -> tuple[str, dict[str, Any]]:
    """One MVT tile of the layer (ST_AsMVT over ST_AsMVTGeom on the stored 3857 copy), with
    its feature count and (below aggregate level, for the audit trail) its ids."""
    rows, params = visible_rows(layer, principal, selection, geometry=f"t.{layer.tile_geometry_column}", k=k)
    rows = rows.replace(
        " WHERE ",
        f" WHERE t.{layer.tile_geometry_column} && ST_TileEnvelope(:z, :x, :y, margin => 0.015625) AND ",
        1,
    )
    names = ["id", *(p.name for p in layer.properties)]
    if principal.suppressed and any(p.suppress for p in layer.properties):
        names.append("onderdrukt")
    # A street-level tile's ids go to the audit trail; a city-wide one's count and address.
    ids = (
        f"CASE WHEN count(*) <= {MAX_TILE_IDS} THEN array_agg(m.id ORDER BY m.id) END"
        if layer.clearance != "aggregaat"
        else "NULL::text[]"
    )
    sql = f"""
        SELECT ST_AsMVT(m.*, '{layer.id}', 4096, 'geom') AS tile, count(*) AS aantal, {ids} AS ids FROM (
            SELECT ST_AsMVTGeom(r.geom, ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
                   {", ".join("r." + n for n in names)}
            FROM ({rows}) r
        ) m WHERE m.geom IS NOT NULL
    """
    return sql, params
