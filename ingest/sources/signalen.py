"""Partner signals (signalen): police, RIEC, municipal departments, water boards, ...

``--bron`` names the partner (or the file is named after it); the ``bron`` table gives
the signals' data class, covenant and retention period. A theme can raise the data class
(mensenhandel is always zeer_vertrouwelijk). Re-delivering a partner's ``kenmerk``
updates that signal. A signal whose retention period has already passed is not stored.

A police export has no theme or kind column and sometimes no id: ``--zet thema=overig
--zet soort=melding`` and ``--sleutel`` supply them (``ingest.constants``). A row with its
own point and an unusable or unknown address keeps its point (``ingest.fallback``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
from sqlalchemy import text

from core.domain import DATAKLASSEN, SIGNAAL_SOORTEN, THEMA_MIN_DATAKLASSE, THEMAS
from ingest import bronnen, fallback
from ingest.base import Column, Context, Normalised, SourceKind
from ingest.errors import IngestError
from ingest.matching import ADDRESS_ALIASES, MATCH_COLUMNS, address_fields, match_addresses
from ingest.normalise import (
    before,
    by_unique,
    dates,
    first_reason,
    no_reasons,
)
from ingest.normalise import text as clean_text

THEMA_SYNONYMS = {
    "drugshandel": "drugs", "drugs": "drugs", "hennep": "drugs", "vastgoedfraude": "vastgoed",
    "criminogene branche": "criminogene_branche", "criminogenebranche": "criminogene_branche",
    "zorg": "zorgfraude", "cybercrime": "cyber", "arbeidsuitbuiting": "mensenhandel",
}  # fmt: skip
SOORT_SYNONYMS = {
    "last onder dwangsom": "last_onder_dwangsom", "lod": "last_onder_dwangsom",
    "sluiting": "pandsluiting", "13b": "pandsluiting", "bibob-onderzoek": "bibob",
    "bibob onderzoek": "bibob", "integrale controle": "bestuurlijke_controle",
    "controle": "bestuurlijke_controle", "bestuurlijke rapportage": "bestuurlijke_rapportage",
    "bestuurlijke controle": "bestuurlijke_controle", "erfbezoeken": "erfbezoek",
}  # fmt: skip


def _vocab(values: tuple[str, ...], synonyms: dict[str, str]) -> Any:
    def lookup(value: Any) -> str | None:
        key = re.sub(r"\s+", " ", str(value).strip().lower())
        if key.replace(" ", "_") in values:
            return key.replace(" ", "_")
        return synonyms.get(key)

    return lookup


@dataclass
class SignalenState:
    """The delivering partner, looked up once before reading (``normalise`` may not query)."""

    bron: bronnen.Bron | None = None


class Signalen(SourceKind[SignalenState]):
    name = "signalen"
    table = "signaal"
    conflict = ("bron", "bron_id")
    geometry = "optional_point"
    keeps_raw = True
    id_field = "bron_id"
    columns = (
        Column("bron", "text"),
        Column("bron_id", "text"),
        Column("thema", "text"),
        Column("soort", "text"),
        Column("datum", "date"),
        Column("einddatum", "date"),
        Column("toelichting", "text"),
        Column("dataklasse", "text"),
        Column("convenant", "text"),
        Column("bewaren_tot", "date"),
        *MATCH_COLUMNS,
        fallback.NOTE,
    )
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "bron_id": ("kenmerk", "id", "registratienummer", "zaaknummer", "meldingnummer"),
        "thema": ("thema_ondermijning", "categorie"),
        "soort": ("type", "soort_signaal", "interventie"),
        # the last four: police exports (BVH), when the incident began
        "datum": (
            "datum_melding",
            "meldingsdatum",
            "peildatum",
            "startdatum",
            "date",
            "begindatum_tijd",
            "pleegdatum",
            "pleegdatum_begin",
            "begindatum",
        ),
        "einddatum": ("afgehandeld", "datum_einde", "einde"),
        "toelichting": ("omschrijving", "opmerking", "beschrijving"),
        **ADDRESS_ALIASES,
    }
    required = ("bron_id", "thema", "soort", "datum")

    def new_state(self) -> SignalenState:
        return SignalenState()

    def _bron(self, ctx: Context[SignalenState]) -> bronnen.Bron:
        if ctx.state.bron is not None:
            return ctx.state.bron
        code = ctx.options.bron or ctx.options.path.stem.lower()
        bron = bronnen.find(ctx.conn, code)
        if bron is None:
            known = ctx.conn.execute(text("SELECT string_agg(code, ', ' ORDER BY code) FROM bron")).scalar()
            raise IngestError(
                f"bron {code!r} is onbekend: geef --bron met een van: {known or '(geen)'}; "
                "nieuwe bronnen met `okaart bronnen laad BESTAND`"
            )
        ctx.state.bron = bron
        return bron

    def before_read(self, ctx: Context[SignalenState]) -> None:
        self._bron(ctx)

    def normalise(self, frame: pd.DataFrame, ctx: Context[SignalenState]) -> Normalised:
        bron = self._bron(ctx)
        n = len(frame)
        bron_id = clean_text(frame["bron_id"])
        id_reasons = no_reasons(n)
        id_reasons[bron_id.isna().to_numpy()] = "kenmerk_ontbreekt"
        thema = by_unique(frame["thema"], _vocab(THEMAS, THEMA_SYNONYMS))
        thema_reasons = no_reasons(n)
        thema_reasons[thema.isna().to_numpy()] = "thema_onbekend"
        soort = by_unique(frame["soort"], _vocab(SIGNAAL_SOORTEN, SOORT_SYNONYMS))
        soort_reasons = no_reasons(n)
        soort_reasons[soort.isna().to_numpy()] = "soort_onbekend"
        datum, datum_reasons = dates(frame["datum"], required=True)
        einde, einde_reasons = dates(frame["einddatum"], required=False, reason="einddatum")
        einde_reasons[before(einde, datum)] = "einddatum_ongeldig"
        address, address_reasons = address_fields(frame)
        base = DATAKLASSEN.index(bron.dataklasse)
        dataklasse = thema.map(
            lambda t: DATAKLASSEN[max(base, DATAKLASSEN.index(THEMA_MIN_DATAKLASSE.get(t, "openbaar")))]
        )
        staged = pd.DataFrame(
            {
                "bron": bron.code,
                "bron_id": bron_id,
                "thema": thema,
                "soort": soort,
                "datum": datum,
                "einddatum": einde,
                "toelichting": clean_text(frame["toelichting"]),
                "dataklasse": dataklasse,
                "convenant": bron.convenant,
                "bewaren_tot": None,
                **address,
            },
            index=frame.index,
        )
        # Address reasons last: a row whose first reason is its address has nothing else
        # wrong, and keeps its own point if it has one (ingest.fallback).
        reasons = first_reason(
            id_reasons, thema_reasons, soort_reasons, datum_reasons, einde_reasons,
            address_reasons,
        )  # fmt: skip
        return Normalised(staged, reasons)

    def after_stage(self, ctx: Context[SignalenState]) -> None:
        """Retention from the source's rule; expired signals are quarantined, not stored."""
        ctx.conn.execute(
            text(
                "UPDATE staging s SET bewaren_tot ="
                " (s.datum + make_interval(months => b.bewaartermijn_maanden))::date"
                " FROM bron b WHERE b.code = s.bron"
            )
        )
        ctx.conn.execute(
            text(
                "WITH gone AS (DELETE FROM staging WHERE bewaren_tot < current_date"
                " RETURNING _rij, _raw)"
                " INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)"
                " SELECT :run, _rij, 'bewaartermijn_verstreken',"
                "  'de bewaartermijn van dit signaal is al verstreken', _raw FROM gone"
            ),
            {"run": ctx.run_id},
        )
        match_addresses(ctx)
        ctx.notes.extend(fallback.note_unmatched(ctx.conn))

    def snapshot_scope(self, ctx: Context[SignalenState]) -> tuple[str, dict[str, Any]]:
        """A snapshot replaces one partner's delivery, never another partner's signals."""
        return "t.bron = :bron", {"bron": self._bron(ctx).code}
