"""Point fallback: a row whose address is unusable but which has a valid point keeps its point.

A police export locates an incident by its own coordinates and writes the address as the
officer typed it (``Herestraat``, no number; a postcode of four digits). Rejecting such a
row for its address loses a real incident that lies exactly where the file says; matching
it to a BAG address is a bonus, not a condition. So: a row whose only trouble is its
address (``reasons.ADDRESS_REASONS``) and that has a valid point of its own is stored at
that point, unlinked (or linked by the point to an address within a few metres, as
``matching`` does for rows without an address), and says why in its ``adres_opmerking``
column. A row with a readable address that the BAG does not hold also keeps its own point
(``matching`` leaves it there) and gets the same kind of note. A row without a point of its
own and without a usable address is still quarantined.

A kind takes part by staging the :data:`NOTE` column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from ingest.base import Column, SourceKind
from ingest.normalise import Reasons
from ingest.reasons import ADDRESS_REASONS, explain

NOTE = Column("adres_opmerking", "text")
#: The staged address columns a fallback row drops: an invalid address must not be
#: matched half (a valid postcode with the wrong number finds the wrong address).
ADDRESS_COLUMNS = ("vbo_id", "postcode", "huisnummer", "huisletter", "huisnummertoevoeging")
UNUSABLE = "adres onbruikbaar ({}): eigen punt gebruikt"
NOT_IN_BAG = "adres niet gevonden in de BAG: eigen punt gebruikt"


def takes_part(kind: SourceKind[Any]) -> bool:
    """Whether the kind stages the note column, and so keeps points of unusable addresses."""
    return any(c.name == NOTE.name for c in kind.columns)


def keep_own_points(
    staged: pd.DataFrame, reasons: Reasons, geometry: np.ndarray[Any, Any], geo_reasons: Reasons
) -> None:
    """Clear the address reason of rows with a valid point of their own, noting it (in place)."""
    has_point = ~shapely.is_missing(geometry) & pd.isna(geo_reasons)
    address_only = np.isin(reasons.astype(str), list(ADDRESS_REASONS))
    falls = has_point & address_only
    if not falls.any():
        return
    notes = np.array([UNUSABLE.format(explain(str(r))) for r in reasons[falls]], dtype=object)
    column = staged[NOTE.name].astype(object).to_numpy(copy=True)
    column[falls] = notes
    staged[NOTE.name] = column
    for name in ADDRESS_COLUMNS:
        if name in staged:
            staged.loc[falls, name] = None
    reasons[falls] = None


def note_unmatched(conn: Connection) -> list[str]:
    """After matching: note the staged rows whose readable address was not found but whose
    own point stays; returns the run's lines about points kept."""
    conn.execute(
        text(
            "UPDATE staging SET adres_opmerking = :note"
            " WHERE verblijfsobject_id IS NULL AND geom IS NOT NULL AND adres_opmerking IS NULL"
            "   AND (postcode IS NOT NULL OR vbo_id IS NOT NULL)"
        ),
        {"note": NOT_IN_BAG},
    )
    unusable, not_found = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE adres_opmerking LIKE 'adres onbruikbaar%'),"
            " count(*) FILTER (WHERE adres_opmerking = :note) FROM staging"
        ),
        {"note": NOT_IN_BAG},
    ).one()
    lines = []
    if unusable:
        lines.append(
            f"eigen punt behouden bij een onbruikbaar adres: {unusable:,} rijen (zie adres_opmerking)"
        )
    if not_found:
        lines.append(f"eigen punt behouden bij een adres dat niet in de BAG staat: {not_found:,} rijen")
    return lines
