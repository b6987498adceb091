"""The "stand" of each source: the date of the data itself, not of its ingest (issue #15).

An overview read in March about figures "stand 2 december" (the day a file was loaded)
suggests fresher data than there is. Each source's stand is therefore the newest date its
rows carry: the newest signal, the newest start of vacancy, the newest start of a register
entry, the boundary edition's year. The BAG address export carries no date of its own, so
for addresses the ingest day is shown and named as such.

Visibility (DESIGN §7): the dates come from the rows the caller could see as points (the
point layers' own access conditions, :func:`app.layer_sql.conditions`); a caller who sees
aggregates only (planners) gets the month, not the day, of the newest signal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from app import layer_sql
from app.layer_sql import Selection
from core.security import Principal
from layers import REGISTRY

MAANDEN = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december")  # fmt: skip
#: Per ingest kind: the point layer whose rows date it, their date column, and what the date is.
DATUM_VAN: dict[str, tuple[str, str, str]] = {
    "signalen": ("signalen", "datum", "datum van het nieuwste signaal"),
    "leegstand": ("leegstand", "sinds", "nieuwste begin van leegstand"),
    "vestigingen": ("vestigingen", "geldig_van", "nieuwste ingangsdatum in de registers"),
}


def dag(value: dt.date) -> str:
    return f"{value:%d-%m-%Y}"


def maand(value: dt.date) -> str:
    return f"{MAANDEN[value.month - 1]} {value.year}"


def newest(conn: Connection, principal: Principal, layer_id: str, column: str) -> dt.date | None:
    """The newest ``column`` of the rows of a point layer this principal's view covers."""
    layer = REGISTRY[layer_id]
    where, params = layer_sql.conditions(layer, principal, Selection())
    value = conn.execute(text(f"SELECT max(t.{column}) FROM {layer.source} t WHERE {where}"), params).scalar()
    return value if isinstance(value, dt.date) else None


def boundary_year(conn: Connection, principal: Principal) -> int | None:
    """The newest boundary edition of the caller's municipalities."""
    sql = "SELECT max(jaar) FROM actueel_gebied"
    params: dict[str, Any] = {}
    if not principal.all_gemeenten:
        sql += " WHERE gemeentecode = ANY(:g)"
        params["g"] = list(principal.gemeenten)
    value = conn.execute(text(sql), params).scalar()
    return None if value is None else int(value)


def stand(conn: Connection, principal: Principal, soort: str, ingelezen: dt.datetime) -> str:
    """One source's stand in words: the data's own date, and when it was loaded."""
    geladen = f"ingelezen {dag(ingelezen.date())}"
    if soort == "gebieden":
        jaar = boundary_year(conn, principal)
        return f"gebiedsindeling {jaar} ({geladen})" if jaar else geladen
    if soort in DATUM_VAN:
        layer_id, column, wat = DATUM_VAN[soort]
        datum = newest(conn, principal, layer_id, column)
        if datum is None:
            return f"geen gegevens die u mag zien ({geladen})"
        shown = maand(datum) if principal.suppressed else dag(datum)
        return f"{shown} ({wat}; {geladen})"
    # BAG address exports carry no date of their own.
    return f"{dag(ingelezen.date())} (dag van inlezen: de levering draagt geen eigen peildatum)"
