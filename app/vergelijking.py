"""An area beside its municipality and beside similar areas, for the overview (issue #15).

"Similar" means the same CBS urbanity class (``stedelijkheid``, 1 = zeer sterk stedelijk to
5 = niet stedelijk), which the CBS Wijk- en Buurtkaart delivers per buurt and the ingest
keeps in ``gebied.kenmerken``. Wijken, business parks and the buitengebied carry no such
class in the delivered files: a buurt without one is compared with its wijk, other types with
the municipality only, and the overview says which.

Every figure comes from the caller's own indicator rows (:func:`app.overview.indicator_rows`,
the map's SQL). A group's rate is computed from the summed counts of its members; for
planners those are the published (suppressed, rounded) counts, and a member whose count is
withheld is left out of both sums and counted in the note: nothing withheld enters a total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from app import layer_sql
from core.security import Principal
from layers import INDICATOR_LAYERS

STEDELIJKHEID = {1: "zeer sterk stedelijk", 2: "sterk stedelijk", 3: "matig stedelijk",
                 4: "weinig stedelijk", 5: "niet stedelijk"}  # fmt: skip
#: The plural an overview uses for a group of areas of one type.
MEERVOUD = {"buurt": "buurten", "wijk": "wijken", "bedrijventerrein": "bedrijventerreinen"}


@dataclass(frozen=True)
class Regel:
    """One line of the comparison: what it is, and its signals, addresses and rate."""

    naam: str
    signalen: int | None
    adressen: int | None
    per_1000_adressen: float | None
    noot: str = ""


def _rate(signalen: int | None, adressen: int | None) -> float | None:
    if signalen is None or not adressen:
        return None
    return round(1000 * signalen / adressen, 2)


def _rows(
    conn: Connection, principal: Principal, soort: str, filters: dict[str, str], k: int
) -> list[dict[str, Any]]:
    layer = INDICATOR_LAYERS.get(soort)
    if layer is None:  # the municipality has no layer of its own: the same rows, its type
        layer = INDICATOR_LAYERS["buurt"].model_copy(update={"where": {"gebied_soort": soort}})
    sql, params = layer_sql.area_figures(layer, principal, filters, k=k)
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def _single(naam: str, row: dict[str, Any] | None) -> Regel:
    if row is None:
        return Regel(naam, None, None, None, "geen cijfers")
    per = row.get("per_1000_adressen")
    return Regel(naam, row.get("signalen"), row.get("adressen"), None if per is None else float(per))


def _group(naam: str, rows: list[dict[str, Any]]) -> Regel:
    """Summed published counts; members with a withheld count are left out and counted."""
    kept = [r for r in rows if r.get("signalen") is not None and r.get("adressen") is not None]
    signalen = sum(int(r["signalen"]) for r in kept)
    adressen = sum(int(r["adressen"]) for r in kept)
    noot = f"{len(rows)} gebieden"
    if len(kept) < len(rows):
        noot += f", waarvan {len(rows) - len(kept)} onderdrukt en niet meegeteld"
    if not kept:
        return Regel(naam, None, None, None, noot)
    return Regel(naam, signalen, adressen, _rate(signalen, adressen), noot)


def compare(
    conn: Connection,
    principal: Principal,
    area: dict[str, Any],
    huidig: dict[str, Any] | None,
    periode: str,
    thema: str,
    gemeente_naam: str,
    k: int,
) -> tuple[list[Regel], str]:
    """The area, its municipality and its similar areas (or its wijk), and a note that says
    what "similar" meant here or what was missing."""
    period = {"periode": periode, "thema": thema}
    regels = [_single("Dit gebied", huidig)]
    gm = _rows(conn, principal, "gemeente", {"code": area["gemeentecode"], **period}, k)
    regels.append(_single(f"Gemeente {gemeente_naam}", gm[0] if gm else None))
    soort, indeling = area["soort"], area["indeling"]
    eigen = conn.execute(
        text(
            "SELECT kenmerken ->> 'stedelijkheid' AS stedelijkheid, wijkcode FROM actueel_gebied"
            " WHERE soort = :s AND code = :c AND indeling = :i"
        ),
        {"s": soort, "c": area["code"], "i": indeling},
    ).first()
    klasse = None
    if eigen is not None and eigen.stedelijkheid is not None:
        klasse = int(float(eigen.stedelijkheid))
    if klasse in STEDELIJKHEID and soort in INDICATOR_LAYERS:
        codes = conn.execute(
            text(
                "SELECT code FROM actueel_gebied WHERE soort = :s AND indeling = :i AND gemeentecode = :g"
                " AND code <> :c AND (kenmerken ->> 'stedelijkheid')::numeric = :k"
            ),
            {"s": soort, "i": indeling, "g": area["gemeentecode"], "c": area["code"], "k": klasse},
        ).scalars()
        members = set(codes)
        rows = [
            r
            # Only the area's own municipality: every member lies in it.
            for r in _rows(
                conn,
                principal,
                soort,
                {"indeling": indeling, "gemeentecode": area["gemeentecode"], **period},
                k,
            )
            if r["code"] in members
        ]
        label = STEDELIJKHEID[klasse]
        regels.append(_group(f"Andere {MEERVOUD.get(soort, soort)}, {label}", rows))
        return regels, (
            f"Vergelijkbaar: de andere {MEERVOUD.get(soort, soort)} van de gemeente met dezelfde "
            f"stedelijkheid volgens het CBS ({label}); hun cijfer per 1.000 adressen is berekend uit "
            "hun opgetelde aantallen."
        )
    if soort == "buurt" and eigen is not None and eigen.wijkcode:
        wijk = _rows(conn, principal, "wijk", {"code": eigen.wijkcode, **period}, k)
        regels.append(_single(f"Wijk {wijk[0]['naam']}" if wijk else "De wijk", wijk[0] if wijk else None))
        return regels, (
            "Voor deze buurt is geen stedelijkheid bekend (het CBS-bestand gaf haar niet): "
            "vergeleken met de wijk in plaats van met vergelijkbare buurten."
        )
    return regels, (
        f"Voor een {soort} levert de gebiedsindeling geen stedelijkheid: alleen de vergelijking "
        "met de gemeente."
    )
