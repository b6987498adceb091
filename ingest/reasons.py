"""Reason codes of quarantined rows, with the explanation a user reads (Dutch)."""

from __future__ import annotations

DETAILS = {
    "geometrie_ontbreekt": "geen locatie (geometrie of coördinaten)",
    "geometrie_soort": "verkeerde geometriesoort voor dit gegeven",
    "geometrie_ongeldig": "ongeldige geometrie die niet veilig te herstellen is",
    "buiten_nederland": "locatie ligt buiten Nederland",
    "crs_verkeerd": "coördinaten passen niet bij het coördinatenstelsel van het bestand",
    "dubbele_sleutel": "dezelfde sleutel komt eerder in het bestand voor",
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
