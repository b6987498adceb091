"""Two periods side by side: the difference (``verschil``) or ratio (``verhouding``) of one
indicator per area, as a GeoJSON overlay with its own diverging legend.

Both periods are read as the caller's map shows them (:mod:`app.tijd_sql`, the caller's view
class), so a planner's difference is one of two *published* figures: a withheld figure in
either period gives no difference, and no exact value enters one. An area with too few
addresses (``te_weinig_adressen``) gets none either, whatever the indicator: a change of one
signal in five addresses says nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from app import klassen, tijd_sql
from app.maps import Indicator
from core.security import Principal
from layers import INDICATOR_LAYERS

MATEN = {
    "verschil": "verschil (periode min vergelijkingsperiode)",
    "verhouding": "verhouding (periode gedeeld door vergelijkingsperiode)",
}


def _number(value: Any) -> float | None:
    return None if value is None else float(value) if isinstance(value, (int, float, Decimal)) else None


def measure(now: float | None, then: float | None, maat: str) -> float | None:
    """The change from ``then`` to ``now``; a ratio needs a ``then`` above zero."""
    if now is None or then is None:
        return None
    if maat == "verhouding":
        return round(now / then, 3) if then > 0 else None
    return round(now - then, 2)


def compare(
    conn: Connection,
    principal: Principal,
    indicator: Indicator,
    soort: str,
    filters: dict[str, str],
    periode: str,
    vergelijk: str,
    maat: str,
    *,
    k: int,
) -> dict[str, Any]:
    """A FeatureCollection of the areas of ``soort`` with both figures and their change, plus
    ``legenda`` (diverging classes with counts) and ``zonder_waarde`` (areas without one)."""
    layer = INDICATOR_LAYERS[soort]
    prop = indicator.property
    read: dict[str, list[dict[str, Any]]] = {}
    for name, period in (("nu", periode), ("toen", vergelijk)):
        sql, params = tijd_sql.figures(
            layer, principal, {**filters, "periode": period}, k=k, shapes=name == "nu"
        )
        read[name] = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    before = {r["code"]: r for r in read["toen"]}
    features = []
    values = []
    for row in read["nu"]:
        old = before.get(row["code"])
        small = bool(row.get("te_weinig_adressen")) or bool(old and old.get("te_weinig_adressen"))
        now, then = _number(row.get(prop)), _number(old.get(prop) if old else None)
        change = None if small else measure(now, then, maat)
        if change is not None:
            values.append(change)
        features.append(
            {
                "type": "Feature",
                "id": row["code"],
                "geometry": json.loads(row["geom"]),
                "properties": {
                    "code": row["code"],
                    "naam": row["naam"],
                    "waarde": None if small else now,
                    "vergelijk_waarde": None if small else then,
                    "verandering": change,
                    "te_weinig_adressen": small,
                },
            }
        )
    classes = klassen.diverging_classes(values, maat, indicator.unit)
    return {
        "type": "FeatureCollection",
        "features": features,
        "periode": periode,
        "vergelijk": vergelijk,
        "maat": maat,
        "indicator": indicator.id,
        "titel": f"{indicator.title}: {MATEN[maat].split(' ')[0]} {periode} t.o.v. {vergelijk}",
        "legenda": [c.model_dump() for c in classes],
        "zonder_waarde": len(features) - len(values),
    }
