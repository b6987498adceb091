"""Match delivered rows to BAG addresses, in SQL on the staging table.

Order of trust: the BAG identificatie; else postcode + huisnummer (+ huisletter +
toevoeging); else the row's own point within a few metres of an address. A matched row
takes the address's point; an unmatched row keeps its own point, and without one it goes
to quarantine. Nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import text

from ingest.base import Column, Context
from ingest.normalise import Reasons, bag_id, first_reason, house_number, postcode

#: Staged for matching only; the target keeps ``verblijfsobject_id`` and the point.
MATCH_COLUMNS = (
    Column("vbo_id", "text", stored=False),
    Column("postcode", "text", stored=False),
    Column("huisnummer", "integer", stored=False),
    Column("huisletter", "text", stored=False),
    Column("huisnummertoevoeging", "text", stored=False),
    Column("verblijfsobject_id", "bigint"),
)
SNAP_METRES = 5

#: How partner exports name the address fields.
ADDRESS_ALIASES: dict[str, tuple[str, ...]] = {
    "vbo_id": ("bag_vbo_id", "bag_id", "identificatie", "verblijfsobject_id"),
    "postcode": ("postal_code",),
    "huisnummer": ("number", "huisnr"),
    "huisletter": ("letter",),
    "huisnummertoevoeging": ("toevoeging", "suffix"),
}


def address_fields(frame: pd.DataFrame) -> tuple[pd.DataFrame, Reasons]:
    """The staged matching columns of a batch, and their reasons.

    Address fields are optional when a BAG id or the row's own point locates it; given,
    they must be valid (a row with a point of its own that has an invalid address keeps
    the point: ``ingest.fallback``). ``adres_opmerking`` says what was left out of a
    written house number (``2 7-15``: huisnummer 2, the rest is no BAG toevoeging).
    """
    vbo, vbo_reasons = bag_id(frame["vbo_id"], "bag_id_ongeldig")
    has_address = (frame["postcode"].notna() | frame["huisnummer"].notna()).to_numpy()
    codes, pc_reasons = postcode(frame["postcode"])
    numbers, nr_reasons = house_number(
        frame["huisnummer"], frame["huisletter"], frame["huisnummertoevoeging"]
    )
    address_reasons = first_reason(pc_reasons, nr_reasons)
    address_reasons[~has_address] = None
    note = numbers.pop("huisnummer_opmerking")
    staged = pd.DataFrame(
        {
            "vbo_id": vbo,
            "postcode": codes,
            **numbers,
            "verblijfsobject_id": None,
            "adres_opmerking": note.where(pd.Series(has_address, index=frame.index), None),
        },
        index=frame.index,
    )
    return staged, first_reason(vbo_reasons, address_reasons)


def match_addresses(ctx: Context[Any]) -> None:
    """Fill ``verblijfsobject_id`` and ``geom``; quarantine what has neither."""
    conn = ctx.conn
    conn.execute(text("CREATE INDEX ON staging (vbo_id)"))
    conn.execute(text("ANALYZE staging"))
    conn.execute(
        text(
            "UPDATE staging s SET verblijfsobject_id = v.id, geom = v.geom"
            " FROM verblijfsobject v WHERE s.vbo_id IS NOT NULL AND v.identificatie = s.vbo_id"
        )
    )
    conn.execute(
        text(
            "UPDATE staging s SET verblijfsobject_id = v.id, geom = v.geom"
            " FROM verblijfsobject v"
            " WHERE s.verblijfsobject_id IS NULL AND s.postcode IS NOT NULL"
            "   AND v.postcode = s.postcode AND v.huisnummer = s.huisnummer"
            "   AND v.huisletter IS NOT DISTINCT FROM s.huisletter"
            "   AND v.huisnummertoevoeging IS NOT DISTINCT FROM s.huisnummertoevoeging"
        )
    )
    conn.execute(
        text(
            f"""UPDATE staging s SET verblijfsobject_id = (
                    SELECT v.id FROM verblijfsobject v
                    WHERE ST_DWithin(v.geom, s.geom, {SNAP_METRES})
                    ORDER BY v.geom <-> s.geom LIMIT 1)
                WHERE s.verblijfsobject_id IS NULL AND s.geom IS NOT NULL
                  AND s.postcode IS NULL AND s.vbo_id IS NULL"""
        )
    )
    conn.execute(
        text(
            "WITH gone AS (DELETE FROM staging WHERE geom IS NULL RETURNING _rij, _raw)"
            " INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)"
            " SELECT :run, _rij, 'adres_niet_gevonden',"
            "  'adres niet gevonden in de BAG en geen eigen locatie', _raw FROM gone"
        ),
        {"run": ctx.run_id},
    )
