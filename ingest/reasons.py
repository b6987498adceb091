"""Reason codes of quarantined rows, with the explanation a user reads (Dutch), and the
classes they are counted in.

Not every rejected row says the file is bad. A data error (an unreadable date, a duplicate
key) does; an address the BAG does not (yet) hold says something about the BAG loaded so
far; a signal past its retention period is the retention rule doing its work. Each class
has its own threshold (``ingest.base.Options``) and its own line in the report, so a list
of which most addresses are unknown still loads the ones that are known, and a historic
file reports "all expired" instead of a bare share of rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DETAILS = {
    "geometrie_ontbreekt": "geen locatie (geometrie of coördinaten)",
    "geometrie_soort": "verkeerde geometriesoort voor dit gegeven",
    "geometrie_ongeldig": "ongeldige geometrie die niet veilig te herstellen is",
    "buiten_nederland": "locatie ligt buiten Nederland",
    "crs_verkeerd": "coördinaten passen niet bij het coördinatenstelsel van het bestand",
    "dubbele_sleutel": "dezelfde sleutel komt eerder in het bestand voor",
    "sleutel_strijdig": "dezelfde sleutel komt eerder in het bestand voor met een ander adres"
    " of een locatie meer dan 5 m verderop",
    "postcode_ontbreekt": "postcode ontbreekt",
    "postcode_ongeldig": "postcode is niet van de vorm 1234AB",
    "huisnummer_ontbreekt": "huisnummer ontbreekt",
    "huisnummer_ongeldig": "huisnummer is geen getal van 1 tot 99999",
    "huisletter_ongeldig": "huisletter is niet één letter",
    "toevoeging_ongeldig": "huisnummertoevoeging is langer dan vier tekens",
    "straat_ontbreekt": "straatnaam (openbare ruimte) ontbreekt",
    "woonplaats_ontbreekt": "woonplaats ontbreekt",
    "bag_id_ongeldig": "BAG-identificatie is geen getal van 16 cijfers",
    "pand_id_ongeldig": "pandidentificatie is geen getal van 16 cijfers",
    "gebruiksdoel_onbekend": "gebruiksdoel is geen van de elf BAG-gebruiksdoelen",
    "status_onbekend": "status is geen BAG-status van een verblijfsobject",
    "oppervlakte_ongeldig": "oppervlakte is geen geheel getal van 1 tot 999999 m²",
    "bouwjaar_ongeldig": "bouwjaar is geen jaartal",
    "code_ontbreekt": "gebiedscode ontbreekt",
    "code_ongeldig": "gebiedscode heeft niet de vorm die bij de gebiedssoort hoort",
    "naam_ontbreekt": "gebiedsnaam ontbreekt",
    "gemeente_onbekend": "gemeente van het gebied is onbekend",
    "datum_ontbreekt": "datum ontbreekt",
    "datum_ongeldig": "datum is onleesbaar of ligt buiten 1990 tot volgend jaar",
    "einddatum_ongeldig": "einddatum is onleesbaar of ligt voor de begindatum",
    "sinds_ontbreekt": "begindatum van de leegstand ontbreekt",
    "sinds_ongeldig": "begindatum van de leegstand is onleesbaar",
    "tot_ongeldig": "einddatum van de leegstand is onleesbaar of ligt voor de begindatum",
    "kenmerk_ontbreekt": "kenmerk (id van de bron) ontbreekt",
    "thema_onbekend": "thema is geen van de bekende thema's",
    "soort_onbekend": "soort is geen van de bekende soorten",
    "activiteit_ontbreekt": "SBI-code en soort vergunning ontbreken allebei",
    "sbi_ongeldig": "SBI-code is geen code van 2 tot 5 cijfers (56.10, 5610, 96022)",
    "geldig_van_ongeldig": "ingangsdatum is onleesbaar of ligt buiten 1900 tot 2100",
    "geldig_tot_ongeldig": "einddatum is onleesbaar, ligt buiten 1900 tot 2100 of voor de ingangsdatum",
    "adres_niet_gevonden": "adres niet gevonden in de BAG en geen eigen locatie",
    "bewaartermijn_verstreken": "de bewaartermijn van dit signaal is al verstreken",
}


def explain(reason: str) -> str:
    """The user's explanation of a reason code."""
    return DETAILS.get(reason, reason.replace("_", " "))


#: Reasons that are about the address alone: a row with a valid point of its own keeps that
#: point instead (``ingest.fallback``). A kind lists its address reasons after all others,
#: so a row whose first reason is one of these has nothing else wrong with it.
ADDRESS_REASONS = frozenset(
    {
        "postcode_ontbreekt",
        "postcode_ongeldig",
        "huisnummer_ontbreekt",
        "huisnummer_ongeldig",
        "huisletter_ongeldig",
        "toevoeging_ongeldig",
        "bag_id_ongeldig",
    }
)
NOT_FOUND = "adres_niet_gevonden"
EXPIRED = "bewaartermijn_verstreken"


@dataclass(frozen=True)
class ReasonClass:
    """A class of reasons counted against one threshold."""

    name: str  # key in ingest_run.opties -> 'klassen'
    label: str  # Dutch, as the summary says it: "12 van 14 rijen {label}"
    option: str  # the ``Options`` field that holds its threshold
    flag: str  # the command-line option that sets it


ERRORS = ReasonClass("fouten", "met fouten in de gegevens", "reject_share", "--max-fouten")
NOT_FOUND_CLASS = ReasonClass(
    "niet_gevonden", "met een adres dat niet in de BAG staat", "not_found_share", "--max-niet-gevonden"
)
EXPIRED_CLASS = ReasonClass("verlopen", "voorbij de bewaartermijn", "expired_share", "--max-verlopen")
CLASSES = (ERRORS, NOT_FOUND_CLASS, EXPIRED_CLASS)
_CLASS_OF = {NOT_FOUND: NOT_FOUND_CLASS, EXPIRED: EXPIRED_CLASS}


def reason_class(reason: str) -> ReasonClass:
    """The class a reason counts in: every reason not named apart is a data error."""
    return _CLASS_OF.get(reason, ERRORS)


def per_class(counts: Mapping[str, int]) -> dict[str, int]:
    """Rejected rows per class name (every class present, zero where none)."""
    out = {c.name: 0 for c in CLASSES}
    for reason, n in counts.items():
        out[reason_class(reason).name] += n
    return out


def summary(counts: Mapping[str, int]) -> str:
    """``adres_niet_gevonden 12, datum_ongeldig 1``: the most frequent first."""
    return ", ".join(f"{r} {n:,}" for r, n in sorted(counts.items(), key=lambda rn: (-rn[1], rn[0])))


def over_threshold(counts: Mapping[str, int], read: int, limits: Mapping[str, float]) -> list[str]:
    """One line per reason class whose share of the rows read is over its limit."""
    classes = per_class(counts)
    lines = []
    for cls in CLASSES:
        n, limit = classes[cls.name], limits[cls.name]
        if n and n / read > limit:
            lines.append(
                f"{n:,} van {read:,} rijen {cls.label} ({n / read:.1%}), meer dan {limit:.0%} ({cls.flag})"
            )
    return lines


def nothing_stored(counts: Mapping[str, int], read: int) -> str:
    """Why a run that was not refused left no row of the file in the table."""
    classes = per_class(counts)
    for cls in CLASSES:
        if classes[cls.name] == read:
            return f"niets opgeslagen: alle {read:,} rijen {cls.label}"
    return f"niets opgeslagen: geen van de {read:,} rijen is bruikbaar"
