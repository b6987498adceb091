"""The municipality an output speaks for: its name from its own area row, and its outline.

A council memo names "Groningen", not "GM0014" (issue #15). The name comes from the
``gemeente`` row of the newest boundary edition, as the CBS delivered it; an area whose
municipality has no such row keeps its code, so a missing row shows rather than hides.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text


def namen(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """Each municipality code's name; a code without a ``gemeente`` row names itself."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = conn.execute(
        text(
            "SELECT code, naam FROM actueel_gebied WHERE soort = 'gemeente' AND code = ANY(:c)"
            " AND indeling = standaard_indeling('gemeente')"
        ),
        {"c": wanted},
    ).all()
    found = {r.code: r.naam for r in rows}
    return {code: found.get(code, code) for code in wanted}


def naam(conn: Connection, code: str) -> str:
    return namen(conn, [code])[code]


def envelope(conn: Connection, code: str) -> tuple[float, float, float, float] | None:
    """The municipality's bounding box in RD New, None without a ``gemeente`` row."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM actueel_gebied"
            " WHERE soort = 'gemeente' AND code = :c AND indeling = standaard_indeling('gemeente')"
        ),
        {"c": code},
    ).first()
    if row is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
