"""Hotspots per request: Getis-Ord Gi* with an FDR correction (core/hotspots.py) over the
figures the caller's own map shows, as a GeoJSON overlay and a yes/no in the overview.

The values are the signals per 1,000 addresses of the caller's view class, read through the
same SQL as its tiles (:mod:`app.tijd_sql`): a planner's hotspots come from published counts
only, an area with a withheld figure or too few addresses takes no part (it is no neighbour
either) and gets the class "geen cijfer". Computed per request, not stored: 151 buurten take a
few milliseconds, and nothing cached can outlive a refresh or leak across classes.
Weights: docs/decisions.md "Hotspots".
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from app import tijd_sql
from core import hotspots, zicht
from core.security import Principal
from layers import INDICATOR_LAYERS
from layers.base import Layer
from layers.indicator import indicator_layer

#: The figure Gi* is computed on: the rate, as the default map shows it.
WAARDE = "per_1000_adressen"
#: Neighbours per area type: None is queen contiguity (buurten differ in size and shape; they
#: neighbour what they touch); a number is a band in metres between the centres of grid
#: squares (500 m: the eight around it; 100 m: the twenty within 250 m, about a buurt's block).
BUREN: dict[str, float | None] = {"buurt": None, "vierkant500": 750.0, "vierkant100": 250.0}
GEEN_CIJFER = "geen cijfer"
#: Colour-blind-safe (ColorBrewer RdBu ends) and the map's grey for areas without a figure.
KLEUREN = {hotspots.HEET: "#b2182b", hotspots.KOUD: "#2166ac", hotspots.NIET_SIGNIFICANT: "#f7f7f7"}
LABELS = {
    hotspots.HEET: "hotspot: samen met de buren duidelijk hoger",
    hotspots.KOUD: "coldspot: samen met de buren duidelijk lager",
    hotspots.NIET_SIGNIFICANT: "niet significant",
    GEEN_CIJFER: "geen cijfer (onderdrukt of te weinig adressen)",
}
#: Grid squares of 100 m have no published layer of their own; their figures are computed
#: like every area type's (``laag_indicator_zicht``).
_VIERKANT100 = indicator_layer(
    "vierkanten100", "vierkant100", "Vierkanten van 100 m", "CBS-vierkanten van 100 m."
)


def layer_for(soort: str) -> Layer:
    return INDICATOR_LAYERS.get(soort) or _VIERKANT100


def weging(soort: str) -> str:
    """The weights in words, for the answer and the legend."""
    band = BUREN[soort]
    buren = (
        "buren: gebieden die elkaar raken (queen)"
        if band is None
        else f"buren: middelpunten binnen {band:.0f} m"
    )
    fdr = f"FDR (Benjamini-Hochberg) {hotspots.ALPHA:.0%}"
    return f"Getis-Ord Gi*, binaire gewichten, het gebied zelf meegeteld; {buren}; {fdr}"


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value) if isinstance(value, (int, float, Decimal)) else math.nan
    return None if math.isnan(number) else number


def classify(
    conn: Connection,
    principal: Principal,
    soort: str,
    filters: dict[str, str],
    *,
    k: int,
    shapes: bool,
) -> list[dict[str, Any]]:
    """Every area's row with ``gi_z``, ``p``, ``q`` (FDR-adjusted p) and ``klasse``."""
    sql, params = tijd_sql.figures(layer_for(soort), principal, filters, k=k, shapes=shapes)
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    gemeenten = zicht.Zicht.of(principal).gemeenten
    sql, params = tijd_sql.neighbour_pairs(soort, filters.get("indeling"), BUREN[soort], gemeenten)
    pairs = conn.execute(text(sql), params).all()
    taking = [
        i for i, r in enumerate(rows) if _float(r.get(WAARDE)) is not None and not r.get("te_weinig_adressen")
    ]
    position = {rows[i]["code"]: n for n, i in enumerate(taking)}
    links = [(position[a], position[b]) for a, b in pairs if a in position and b in position]
    result = hotspots.gi_star([_float(rows[i][WAARDE]) or 0.0 for i in taking], links)
    for row in rows:
        row.update(gi_z=None, p=None, q=None, klasse=GEEN_CIJFER)
    for n, i in enumerate(taking):
        rows[i].update(
            gi_z=_rounded(result.z[n], 2), p=_rounded(result.p[n], 4), q=_rounded(result.q[n], 4),
            klasse=result.klasse[n],
        )  # fmt: skip
    return rows


def _rounded(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(float(value), digits)


def feature_collection(rows: list[dict[str, Any]], soort: str, periode: str, thema: str) -> dict[str, Any]:
    counts = {klasse: 0 for klasse in LABELS}
    for row in rows:
        counts[row["klasse"]] += 1
    features = [
        {
            "type": "Feature",
            "id": row["code"],
            "geometry": json.loads(row["geom"]),
            "properties": {
                "code": row["code"],
                "naam": row["naam"],
                "waarde": _float(row.get(WAARDE)),
                **{name: row[name] for name in ("gi_z", "p", "q", "klasse")},
            },
        }
        for row in rows
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "soort": soort,
        "periode": periode,
        "thema": thema,
        "waarde": WAARDE,
        "gewichten": weging(soort),
        "legenda": [
            {
                "klasse": klasse,
                "kleur": KLEUREN.get(klasse, "#bdbdbd"),
                "label": label,
                "aantal": counts[klasse],
            }
            for klasse, label in LABELS.items()
        ],
    }


def area_class(
    conn: Connection, principal: Principal, area: dict[str, Any], periode: str | None, *, k: int
) -> str | None:
    """ "ja" or "nee" (or "geen cijfer") for the overview of one area: whether it is a hotspot
    of its type in the period, thema ``alle``; None for types without hotspots."""
    if area["soort"] not in BUREN or periode is None:
        return None
    filters = {"periode": periode, "thema": "alle", "indeling": area["indeling"]}
    rows = classify(conn, principal, area["soort"], filters, k=k, shapes=False)
    own = next((r for r in rows if r["code"] == area["code"]), None)
    if own is None or own["klasse"] == GEEN_CIJFER:
        return GEEN_CIJFER
    return "ja" if own["klasse"] == hotspots.HEET else "nee"
