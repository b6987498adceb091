"""The partners (bronnen) and their rules: data class, covenant, retention period.

Maintained by a beheerder from a small CSV (``code,naam,organisatie,dataklasse,
convenant,bewaartermijn_maanden``); the database's constraints check every value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from ingest.errors import IngestError

FIELDS = ("code", "naam", "organisatie", "dataklasse", "convenant", "bewaartermijn_maanden")


@dataclass(frozen=True)
class Bron:
    """One partner and its rules, as the ``bron`` table holds them."""

    code: str
    naam: str
    organisatie: str
    dataklasse: str
    convenant: str
    bewaartermijn_maanden: int
    gemeentecode: str | None


def find(conn: Connection, code: str) -> Bron | None:
    """The partner with this code, or None when there is none."""
    row = (
        conn.execute(
            text(
                "SELECT code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden,"
                " gemeentecode FROM bron WHERE code = :c"
            ),
            {"c": code},
        )
        .mappings()
        .first()
    )
    return None if row is None else Bron(**row)


def load(conn: Connection, path: Path) -> int:
    """Upsert the partners in ``path``; returns how many rows changed."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.readline()
        fh.seek(0)
        reader = csv.DictReader(fh, delimiter=";" if sample.count(";") > sample.count(",") else ",")
        rows = list(reader)
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise IngestError(
            f"bronnenbestand mist kolommen: {', '.join(missing)}; "
            f"gevonden: {', '.join(reader.fieldnames or [])}"
        )
    changed = 0
    for row in rows:
        changed += conn.execute(
            text(
                "INSERT INTO bron AS b (code, naam, organisatie, dataklasse, convenant,"
                " bewaartermijn_maanden, gemeentecode) VALUES (:code, :naam, :organisatie,"
                " :dataklasse, :convenant, :bewaartermijn_maanden, :gemeentecode)"
                " ON CONFLICT (code) DO UPDATE SET naam = EXCLUDED.naam,"
                " organisatie = EXCLUDED.organisatie, dataklasse = EXCLUDED.dataklasse,"
                " convenant = EXCLUDED.convenant,"
                " bewaartermijn_maanden = EXCLUDED.bewaartermijn_maanden,"
                " gemeentecode = EXCLUDED.gemeentecode"
                " WHERE (b.naam, b.organisatie, b.dataklasse, b.convenant,"
                " b.bewaartermijn_maanden, b.gemeentecode) IS DISTINCT FROM (EXCLUDED.naam,"
                " EXCLUDED.organisatie, EXCLUDED.dataklasse, EXCLUDED.convenant,"
                " EXCLUDED.bewaartermijn_maanden, EXCLUDED.gemeentecode)"
            ),
            {
                **{f: (row.get(f) or "").strip() for f in FIELDS},
                "bewaartermijn_maanden": int(row["bewaartermijn_maanden"]),
                "gemeentecode": (row.get("gemeentecode") or "").strip() or None,
            },
        ).rowcount
    return changed
