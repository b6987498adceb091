"""One row per real address: repeats merged, address-only rows tied to their BAG object.

Three things can make one address two rows, and each is settled here in SQL on the staging
table, after all batches are in (a repeat may land in a later batch than its first row):

- **a VBO repeated per pand** (a BAG export joined with its panden): rows with the same key
  that describe one object merge into the first, their pand ids into one list; a repeat with
  another address or a point more than ``SAME_POINT_METRES`` away is a genuine conflict and
  goes to quarantine (``sleutel_strijdig``);
- **one address with and without a BAG id**, in one file or over deliveries. The BAG register
  is the authority: a row without BAG id (key ``A:postcode:nummer:letter:toevoeging``) whose
  address has a BAG row in the same file is dropped in its favour; one whose address is stored
  under a BAG id updates that row (filling only what it lacks) instead of adding a row;
- **a BAG delivery of an address stored without BAG id**: the stored row adopts the BAG
  identificatie and keeps its id, so the signals and vacancies that point at it stay linked.
  Should the BAG object itself already be stored (under an old address), the address-only
  row is merged into it: what pointed at it is repointed, then it is removed.

The planning (what to adopt, the notes) runs in ``after_stage``; the writes to the stored
table run in ``adopt`` just before the upsert, inside a dry run's savepoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from ingest.reasons import explain

#: Repeats of one key whose points lie further apart than this describe different objects.
SAME_POINT_METRES = 5.0

#: The address of a row, compared between two tables aliased ``a`` and ``b``. Letters and
#: additions are normalised when staged (upper case, no separators), as stored.
SAME_ADDRESS = (
    "a.postcode = b.postcode AND a.huisnummer = b.huisnummer"
    " AND a.huisletter IS NOT DISTINCT FROM b.huisletter"
    " AND a.huisnummertoevoeging IS NOT DISTINCT FROM b.huisnummertoevoeging"
)


@dataclass
class Staged:
    """What the staging table holds, counted in one scan: which steps have work to do."""

    zonder_bag: int  # rows without BAG identificatie
    met_bag: int  # rows with one
    herhalingen: int  # repeats of a key that came earlier in the file


def count_staged(conn: Connection) -> Staged:
    row = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE identificatie IS NULL),"
            " count(*) FILTER (WHERE identificatie IS NOT NULL),"
            " count(*) FILTER (WHERE _raw IS NOT NULL) FROM staging"
        )
    ).one()
    return Staged(int(row[0]), int(row[1]), int(row[2]))


def merge_repeats(conn: Connection, run_id: int) -> tuple[int, int]:
    """Merge the repeats of a key into its first row; quarantine the ones that conflict.

    The first row of a key is the one staged without ``_raw``. A repeat agrees when its
    address is the same and its point lies within ``SAME_POINT_METRES``; the merged row then
    lists the pand ids of all agreeing rows and the oldest bouwjaar (a pand's year, which
    differs per pand in such a join); its other fields are the first row's. Returns (merged,
    conflicting) repeats.
    """
    conn.execute(text("ANALYZE staging"))
    conn.execute(
        text(
            f"""CREATE TEMP TABLE herhaling ON COMMIT DROP AS
                SELECT b.ctid AS plek, b._rij, b._raw, b.sleutel, b.pand_identificaties, b.bouwjaar,
                       NOT ({SAME_ADDRESS}
                            AND a.openbare_ruimte IS NOT DISTINCT FROM b.openbare_ruimte
                            AND a.woonplaats IS NOT DISTINCT FROM b.woonplaats
                            AND ST_DWithin(a.geom, b.geom, :metres)) AS strijdig
                FROM staging b JOIN staging a ON a.sleutel = b.sleutel AND a._raw IS NULL
                WHERE b._raw IS NOT NULL"""
        ),
        {"metres": SAME_POINT_METRES},
    )
    conn.execute(
        text(
            "INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)"
            " SELECT :run, _rij, 'sleutel_strijdig', :detail, _raw FROM herhaling WHERE strijdig"
        ),
        {"run": run_id, "detail": explain("sleutel_strijdig")},
    )
    conn.execute(
        text(
            """UPDATE staging a SET pand_identificaties = m.panden, bouwjaar = m.bouwjaar
               FROM (
                   SELECT u.sleutel, min(u.bouwjaar) AS bouwjaar,
                          array_agg(DISTINCT p ORDER BY p) FILTER (WHERE p IS NOT NULL) AS panden
                   FROM (
                       SELECT s.sleutel, s.pand_identificaties, s.bouwjaar FROM staging s
                       WHERE s._raw IS NULL
                         AND s.sleutel IN (SELECT sleutel FROM herhaling WHERE NOT strijdig)
                       UNION ALL
                       SELECT sleutel, pand_identificaties, bouwjaar FROM herhaling WHERE NOT strijdig
                   ) u LEFT JOIN LATERAL unnest(u.pand_identificaties) p ON true
                   GROUP BY u.sleutel
               ) m
               WHERE a._raw IS NULL AND a.sleutel = m.sleutel"""
        )
    )
    conn.execute(text("DELETE FROM staging s USING herhaling h WHERE s.ctid = h.plek"))
    merged, conflicting = conn.execute(
        text("SELECT count(*) FILTER (WHERE NOT strijdig), count(*) FILTER (WHERE strijdig) FROM herhaling")
    ).one()
    return int(merged), int(conflicting)


def drop_address_only_twins(conn: Connection) -> int:
    """Drop staged rows without BAG id whose address has a staged BAG row: the BAG row is it."""
    return int(
        conn.execute(
            text(
                "DELETE FROM staging a USING staging b"
                f" WHERE a.identificatie IS NULL AND b.identificatie IS NOT NULL AND {SAME_ADDRESS}"
            )
        ).rowcount
    )


def tie_to_stored_bag(conn: Connection) -> int:
    """Staged rows without BAG id whose address is stored under a BAG id become that row.

    They take its key, identificatie and point, and keep its fields where it has them: the
    register's row is not overwritten by a plain address list, only completed by it. A BAG
    object this file also delivers is left alone (it may be moving to another address).
    """
    return int(
        conn.execute(
            text(
                f"""UPDATE staging a SET sleutel = b.sleutel, identificatie = b.identificatie,
                        openbare_ruimte = b.openbare_ruimte, woonplaats = b.woonplaats,
                        gebruiksdoel = CASE WHEN cardinality(b.gebruiksdoel) > 0
                                            THEN b.gebruiksdoel ELSE a.gebruiksdoel END,
                        oppervlakte = coalesce(b.oppervlakte, a.oppervlakte),
                        bouwjaar = coalesce(b.bouwjaar, a.bouwjaar),
                        status = coalesce(b.status, a.status),
                        pand_identificaties = coalesce(b.pand_identificaties, a.pand_identificaties),
                        x = ST_X(b.geom), y = ST_Y(b.geom)
                    FROM verblijfsobject b
                    WHERE a.identificatie IS NULL AND b.identificatie IS NOT NULL AND {SAME_ADDRESS}
                      AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.identificatie = b.identificatie)"""
            )
        ).rowcount
    )


def plan_adoption(conn: Connection) -> tuple[int, int]:
    """Which stored rows without BAG id a staged BAG row takes over (table ``adoptie``).

    ``bag_id`` is NULL when the BAG object is not stored yet: the address row adopts the
    identificatie. Otherwise the address row is merged into the stored BAG row. Returns
    (adopted, merged). Reads only; ``adopt`` writes.
    """
    # Usually no stored row lacks a BAG id: the partial index answers that at once, and a
    # national re-delivery skips a million lookups.
    if not conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM verblijfsobject WHERE identificatie IS NULL)")
    ).scalar_one():
        return 0, 0
    conn.execute(
        text(
            f"""CREATE TEMP TABLE adoptie ON COMMIT DROP AS
                SELECT DISTINCT ON (a.id) a.id AS adres_id, b.identificatie, v.id AS bag_id
                FROM staging b
                JOIN verblijfsobject a ON a.identificatie IS NULL AND {SAME_ADDRESS}
                LEFT JOIN verblijfsobject v ON v.identificatie = b.identificatie
                WHERE b.identificatie IS NOT NULL
                ORDER BY a.id, b.identificatie"""
        )
    )
    adopted, merged = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE bag_id IS NULL),"
            " count(*) FILTER (WHERE bag_id IS NOT NULL) FROM adoptie"
        )
    ).one()
    return int(adopted), int(merged)


def adopt(conn: Connection, run_id: int) -> None:
    """Carry out ``adoptie``: ids are kept, so what points at an address stays linked."""
    conn.execute(
        text(
            "UPDATE verblijfsobject v SET sleutel = a.identificatie, identificatie = a.identificatie,"
            " ingest_run_id = :run, bijgewerkt_op = now()"
            " FROM adoptie a WHERE v.id = a.adres_id AND a.bag_id IS NULL"
        ),
        {"run": run_id},
    )
    for table in ("signaal", "leegstand"):
        conn.execute(
            text(
                f"UPDATE {table} t SET verblijfsobject_id = a.bag_id FROM adoptie a"
                " WHERE t.verblijfsobject_id = a.adres_id AND a.bag_id IS NOT NULL"
            )
        )
    conn.execute(
        text("DELETE FROM verblijfsobject v USING adoptie a WHERE v.id = a.adres_id AND a.bag_id IS NOT NULL")
    )
