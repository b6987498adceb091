"""The partners (bronnen) and their rules: data class, covenant, retention period.

Maintained by a beheerder from a small CSV (``code,naam,organisatie,dataklasse,
convenant,bewaartermijn_maanden``). Every value is checked here first, with the rules of the
database's constraints, so a bad file is one line naming the row, the field and the fix
rather than a constraint violation's traceback; the constraints stay the last line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from core.domain import DATAKLASSEN
from ingest.errors import IngestError

FIELDS = ("code", "naam", "organisatie", "dataklasse", "convenant", "bewaartermijn_maanden")
#: The bounds of ``bron.bewaartermijn_maanden`` (migration 0001): 20 years at most.
BEWAARTERMIJN = (1, 240)
#: What the ``bron`` table's CHECK constraints accept, per field.
PATTERNS = {
    "code": (re.compile(r"[a-z][a-z0-9_]{1,39}"), "kleine letters, cijfers en _ (2 tot 40 tekens)"),
    "convenant": (re.compile(r"[a-z][a-z0-9_-]{1,39}"), "kleine letters, cijfers, _ en - (2 tot 40 tekens)"),
    "gemeentecode": (re.compile(r"GM[0-9]{4}"), "GM en vier cijfers, zoals GM0014"),
}


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


def _rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The file's rows and header, or one line saying why it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(
            f"{path.name}: niet te openen ({exc.strerror})", fix="controleer naam en map"
        ) from exc
    if not raw.strip():
        raise IngestError(f"{path.name}: is leeg", fix="lever een CSV met de kolommen " + ",".join(FIELDS))
    if b"\x00" in raw:
        raise IngestError(f"{path.name}: is geen tekstbestand", fix="sla de bronnen op als CSV (UTF-8)")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("cp1252", errors="replace")
    lines = content.splitlines()
    sample = lines[0] if lines else ""
    try:
        reader = csv.DictReader(lines, delimiter=";" if sample.count(";") > sample.count(",") else ",")
        rows = list(reader)
    except csv.Error as exc:
        raise IngestError(
            f"{path.name}: CSV niet leesbaar ({exc})", fix="controleer de aanhalingstekens"
        ) from exc
    return rows, [str(name).strip() for name in reader.fieldnames or []]


def _checked(path: Path, number: int, row: dict[str, str]) -> dict[str, object]:
    """One row's values as the ``bron`` table takes them; a bad value is an IngestError."""

    def bad(field: str, value: object, rule: str) -> IngestError:
        return IngestError(f"{path.name}, regel {number}: {field} {value!r} is ongeldig", fix=rule)

    values: dict[str, object] = {f: str(row.get(f) or "").strip() for f in FIELDS}
    values["gemeentecode"] = str(row.get("gemeentecode") or "").strip() or None
    for field in ("naam", "organisatie"):
        if not values[field]:
            raise bad(field, values[field], "vul het veld in")
    for field, (pattern, rule) in PATTERNS.items():
        value = values[field]  # None only for an empty gemeentecode, which is allowed
        if value is not None and not pattern.fullmatch(str(value)):
            raise bad(field, value, f"gebruik {rule}")
    if values["dataklasse"] not in DATAKLASSEN:
        raise bad("dataklasse", values["dataklasse"], "kies uit " + ", ".join(DATAKLASSEN))
    low, high = BEWAARTERMIJN
    termijn = str(values["bewaartermijn_maanden"])
    if not re.fullmatch(r"[0-9]{1,4}", termijn) or not low <= int(termijn) <= high:
        raise bad("bewaartermijn_maanden", termijn, f"een heel aantal maanden van {low} tot en met {high}")
    values["bewaartermijn_maanden"] = int(termijn)
    return values


def load(conn: Connection, path: Path) -> int:
    """Upsert the partners in ``path``; returns how many rows changed. Every row is checked
    before the first is written, so a bad file changes nothing."""
    rows, header = _rows(path)
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise IngestError(
            f"{path.name}: bronnenbestand mist kolommen: {', '.join(missing)};"
            f" gevonden: {', '.join(header) or 'geen'}",
            fix="zet de kolomnamen " + ",".join(FIELDS) + " op de eerste regel",
        )
    if not rows:
        raise IngestError(
            f"{path.name}: bevat geen bronnen", fix="voeg onder de kolomkoppen een regel per bron toe"
        )
    checked = [_checked(path, number, row) for number, row in enumerate(rows, start=2)]
    changed = 0
    for number, values in enumerate(checked, start=2):
        try:
            changed += _upsert(conn, values)
        except DBAPIError as exc:
            raise IngestError(
                f"{path.name}, regel {number}: door de database geweigerd"
                f" ({type(exc.orig).__name__ if exc.orig else type(exc).__name__})",
                fix="controleer de waarden van deze regel",
            ) from exc
    return changed


def _upsert(conn: Connection, values: dict[str, object]) -> int:
    return conn.execute(
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
        values,
    ).rowcount
