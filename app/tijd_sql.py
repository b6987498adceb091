"""The reads of the time comparison and the hotspots, built on :func:`app.layer_sql.visible_rows`.

Both start from the indicator rows the caller's own map shows (its view class; a planner's
published figures), so neither can compute anything from a figure the caller could not read
in the features API. The one read that is not a layer's (which areas touch which) concerns
area outlines only, which every signed-in caller may see.
"""

from __future__ import annotations

from collections.abc import Sequence

from app import layer_sql
from app.layer_sql import Selection, Statement
from core.security import Principal
from layers.base import Layer

#: Outlines for the overlay: simplified to 2 m (invisible at the zooms areas are drawn at),
#: in CRS84 with six decimals (about 0.1 m).
SHAPE = "ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(t.{column}, 2), 4326), 6)"


def figures(
    layer: Layer, principal: Principal, filters: dict[str, str], *, k: int, shapes: bool
) -> Statement:
    """The layer's rows (code, naam, the figures, ``te_weinig_adressen``) as the principal
    sees them; with ``shapes`` also the outline as GeoJSON text (``geom``)."""
    geometry = SHAPE.format(column=layer.geometry_column) if shapes else None
    rows, params = layer_sql.visible_rows(
        layer, principal, Selection(filters=filters), geometry=geometry, k=k
    )
    return f"SELECT r.* FROM ({rows}) r ORDER BY r.code", params


def neighbour_pairs(
    soort: str, indeling: str | None, band: float | None, gemeenten: Sequence[str] | None = None
) -> Statement:
    """Pairs of codes of the newest areas of one type and division that are neighbours, each
    pair once: touching (queen contiguity; 1 m of tolerance for slivers between outlines that
    should meet) when ``band`` is None, else centres at most ``band`` metres apart. With
    ``gemeenten``, only areas of those municipalities: the caller's figures hold no other, so
    pairs elsewhere in the country would only be joined to be thrown away."""
    near = (
        "ST_DWithin(a.geom, b.geom, 1)"
        if band is None
        else "ST_DWithin(a.geom, b.geom, :band)"
        " AND ST_DWithin(ST_Centroid(a.geom), ST_Centroid(b.geom), :band)"
    )
    sql = (
        "SELECT a.code AS a, b.code AS b FROM actueel_gebied a JOIN actueel_gebied b"
        " ON b.soort = a.soort AND b.indeling = a.indeling AND a.code < b.code AND "
        + near
        + " WHERE a.soort = :s"
        " AND a.indeling = coalesce(CAST(:i AS text), standaard_indeling(a.soort))"
    )
    if gemeenten is not None:
        sql += " AND a.gemeentecode = ANY(:gm) AND b.gemeentecode = ANY(:gm)"
    chosen = None if gemeenten is None else list(gemeenten)
    return sql, {"s": soort, "i": indeling, "band": band, "gm": chosen}
