"""Vacancy (leegstand) of addresses and buildings, from municipal or partner exports.

Each row is matched to a BAG address (id, else postcode + house number, else its own
point); the key is the source's own ``kenmerk`` or, without one, the address and start
date, so a re-delivered register updates rather than duplicates.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from core.domain import LEEGSTAND_SOORTEN
from ingest import fallback
from ingest.base import Column, Context, Normalised, SourceKind
from ingest.matching import ADDRESS_ALIASES, MATCH_COLUMNS, address_fields, match_addresses
from ingest.normalise import (
    address_key,
    bag_id,
    before,
    by_unique,
    dates,
    first_reason,
    no_reasons,
    text,
)

SYNONYMS = {
    "bedrijf": "bedrijfspand", "bedrijfsruimte": "bedrijfspand", "bedrijfspand": "bedrijfspand",
    "bedrijfsgebouw": "bedrijfspand", "loods": "bedrijfspand", "boerderij": "agrarisch",
    "schuur": "agrarisch", "agrarisch bedrijf": "agrarisch", "stal": "agrarisch",
    "winkelpand": "winkel", "kantoorpand": "kantoor", "woonhuis": "woning",
}  # fmt: skip


def _soort(value: Any) -> str | None:
    key = str(value).strip().lower()
    if key in LEEGSTAND_SOORTEN:
        return key
    return SYNONYMS.get(key)


class Leegstand(SourceKind[None]):
    name = "leegstand"
    table = "leegstand"
    conflict = ("sleutel",)
    geometry = "optional_point"
    keeps_raw = True
    id_field = "kenmerk"
    columns = (
        Column("sleutel", "text"),
        Column("bron", "text"),
        Column("soort", "text"),
        Column("sinds", "date"),
        Column("tot", "date"),
        Column("pand_identificatie", "text"),
        *MATCH_COLUMNS,
        fallback.NOTE,
    )
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "kenmerk": ("id", "bron_id", "registratienummer", "zaaknummer", "dossiernummer"),
        **ADDRESS_ALIASES,
        "pand_identificatie": ("pand_id", "bag_pand_id"),
        "soort": ("type", "categorie", "soort_leegstand"),
        "sinds": ("leeg_sinds", "begindatum", "startdatum", "datum_leegstand", "datum"),
        "tot": ("leeg_tot", "einddatum"),
        "bron": (),
    }
    required = ("sinds",)

    def new_state(self) -> None:
        """Nothing carries over between batches."""

    def normalise(self, frame: pd.DataFrame, ctx: Context[None]) -> Normalised:
        n = len(frame)
        bron = text(frame["bron"]).fillna(ctx.options.bron or "gemeente")
        address, address_reasons = address_fields(frame)
        pand, pand_reasons = bag_id(frame["pand_identificatie"], "pand_id_ongeldig")
        sinds, sinds_reasons = dates(frame["sinds"], required=True, reason="sinds")
        tot, tot_reasons = dates(frame["tot"], required=False, reason="tot")
        tot_reasons[before(tot, sinds)] = "tot_ongeldig"
        soort = (
            by_unique(frame["soort"], _soort)
            if frame["soort"].notna().any()
            else pd.Series("overig", index=frame.index)
        )
        soort_reasons = no_reasons(n)
        soort_reasons[(frame["soort"].notna() & soort.isna()).to_numpy()] = "soort_onbekend"
        kenmerk = text(frame["kenmerk"])
        vbo = address["vbo_id"]
        fallback = vbo.where(vbo.notna(), address_key(address["postcode"], address)) + ":" + sinds.astype(str)
        sleutel = bron + ":" + kenmerk.where(kenmerk.notna(), fallback)
        staged = pd.DataFrame(
            {
                "sleutel": sleutel,
                "bron": bron,
                "soort": soort.fillna("overig"),
                "sinds": sinds,
                "tot": tot,
                "pand_identificatie": pand,
                **address,
            },
            index=frame.index,
        )
        # Address reasons last: a row whose first reason is its address has nothing else
        # wrong, and keeps its own point if it has one (ingest.fallback).
        reasons = first_reason(sinds_reasons, tot_reasons, soort_reasons, pand_reasons, address_reasons)
        return Normalised(staged, reasons)

    def after_stage(self, ctx: Context[None]) -> None:
        match_addresses(ctx)
        ctx.notes.extend(fallback.note_unmatched(ctx.conn))

    def snapshot_scope(self, ctx: Context[None]) -> tuple[str, dict[str, Any]]:
        """A snapshot replaces one source's register."""
        return "t.bron IN (SELECT DISTINCT bron FROM staging)", {}
