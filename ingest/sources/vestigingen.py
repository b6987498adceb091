"""Registers (vestigingen): establishments and permits, with a validity interval.

Not dated signals but register entries: a KvK-like list of establishments with SBI codes, a
permit register (drank- en horecavergunning, exploitatievergunning, gedoogbeschikking
coffeeshop). The key is the register's own id (KvK vestigingsnummer, permit number) per
partner (``--bron``), whose data class and covenant the entries take, as signals do. Each
entry gets at most one risk branch from the editable mapping (core/risicobranches.toml): a
permit by its type, an establishment by its first SBI code that maps (the main activity
comes first in KvK exports). Entries are matched to BAG addresses; one that cannot be matched
keeps its own point when the file has coordinates. Dates may lie before 1990 (an
establishment founded in 1975) and far ahead (a permit valid until 2035).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sqlalchemy import text

from core import risicobranches
from ingest import bronnen
from ingest.base import Column, Context, Normalised, SourceKind, resolve_columns
from ingest.errors import IngestError
from ingest.matching import ADDRESS_ALIASES, MATCH_COLUMNS, address_fields, match_addresses
from ingest.normalise import (
    Reasons,
    _parse_date,
    before,
    by_unique,
    first_reason,
    no_reasons,
)
from ingest.normalise import text as clean_text

#: Register dates: the oldest KvK entries and the longest permits fit in here.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
_SPLIT = re.compile(r"[,;/|\s]+")
_FLOAT_ZERO = re.compile(r"^([0-9]+)\.0+$")


def _sbi_codes(value: Any) -> str | None:
    """``'56.10, 4711'`` -> ``'5610,4711'``; words between the codes (a description) are
    left out; '' when the value holds no code at all (a reason)."""
    codes: list[str] = []
    for token in _SPLIT.split(str(value).strip()):
        token = _FLOAT_ZERO.sub(r"\1", token)  # 96022.0 from a spreadsheet's number cell
        digits = risicobranches.sbi_digits(token)
        if digits is not None and digits not in codes:
            codes.append(digits)
    return ",".join(codes)


def _register_dates(series: pd.Series) -> tuple[pd.Series, np.ndarray[Any, Any]]:
    """Dates in the formats partners write, between 1900 and 2100; unreadable is a flag."""
    raw = clean_text(series)
    parsed = by_unique(raw, lambda v: d if (d := _parse_date(v)) and EARLIEST <= d <= LATEST else None)
    return parsed, (raw.notna() & parsed.isna()).to_numpy()


@dataclass
class VestigingenState:
    """The delivering partner and the branch mapping, looked up once before reading."""

    bron: bronnen.Bron | None = None
    indeling: risicobranches.Indeling | None = None


class Vestigingen(SourceKind[VestigingenState]):
    name = "vestigingen"
    table = "vestiging"
    conflict = ("bron", "bron_id")
    geometry = "optional_point"
    keeps_raw = True
    columns = (
        Column("bron", "text"),
        Column("bron_id", "text"),
        Column("soort", "text"),
        Column("naam", "text"),
        Column("sbi", "text"),
        Column("vergunning", "text"),
        Column("risicobranche", "text"),
        Column("geldig_van", "date"),
        Column("geldig_tot", "date"),
        Column("dataklasse", "text"),
        Column("convenant", "text"),
        *MATCH_COLUMNS,
    )
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "bron_id": (
            "vestigingsnummer", "vergunningnummer", "vergunningsnummer", "zaaknummer",
            "kenmerk", "registratienummer", "nummer", "id",
        ),
        "naam": ("handelsnaam", "eerste_handelsnaam", "naam_vestiging", "bedrijfsnaam", "inrichting"),
        "sbi": (
            "sbi_code", "sbi_codes", "sbicode", "sbi_hoofdactiviteit", "hoofdactiviteit",
            "sbi_activiteiten", "activiteiten",
        ),
        "sbi_neven": ("sbi_nevenactiviteiten", "sbi_nevenactiviteit", "nevenactiviteiten"),
        "vergunning": (
            "soort_vergunning", "vergunningsoort", "soort_vergunning_omschrijving",
            "type_vergunning", "vergunningtype", "zaaktype",
        ),
        "geldig_van": (
            "ingangsdatum", "datum_ingang", "geldig_vanaf", "begindatum", "startdatum",
            "datum_aanvang", "datum_vestiging", "datum_oprichting",
        ),
        "geldig_tot": (
            "einddatum", "datum_einde", "vervaldatum", "geldig_tot_en_met", "einddatum_vergunning",
            "datum_opheffing",
        ),
        **ADDRESS_ALIASES,
    }  # fmt: skip
    required = ("bron_id",)

    def new_state(self) -> VestigingenState:
        return VestigingenState()

    def _bron(self, ctx: Context[VestigingenState]) -> bronnen.Bron:
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

    def before_read(self, ctx: Context[VestigingenState]) -> None:
        self._bron(ctx)
        try:
            ctx.state.indeling = risicobranches.load()
        except ValueError as exc:
            raise IngestError(f"{exc}; zie docs/risicobranches.md") from exc

    def resolve(self, ctx: Context[VestigingenState], found: list[str]) -> dict[str, str]:
        """A register names its entries' activity: SBI codes, a permit type, or both."""
        mapping = resolve_columns(found, self.aliases, ctx.options.mapping, self.required)
        if "sbi" not in mapping and "vergunning" not in mapping:
            raise IngestError(
                "geen kolom met SBI-code(s) of soort vergunning; gevonden kolommen: "
                f"{', '.join(found)}; geef de koppeling met --map kolom=sbi of --map kolom=vergunning"
            )
        return mapping

    def normalise(self, frame: pd.DataFrame, ctx: Context[VestigingenState]) -> Normalised:
        bron = self._bron(ctx)
        indeling = ctx.state.indeling
        assert indeling is not None  # set by before_read
        n = len(frame)
        bron_id = clean_text(frame["bron_id"])
        id_reasons = no_reasons(n)
        id_reasons[bron_id.isna().to_numpy()] = "kenmerk_ontbreekt"

        main = by_unique(clean_text(frame["sbi"]), _sbi_codes)
        extra = by_unique(clean_text(frame["sbi_neven"]), _sbi_codes)
        given = main.notna().to_numpy() | extra.notna().to_numpy()
        sbi = pd.Series(
            [",".join(dict.fromkeys(c for part in (a, b) if part for c in part.split(","))) or None
             for a, b in zip(main, extra, strict=True)],
            index=frame.index, dtype=object,
        )  # fmt: skip
        sbi_reasons = no_reasons(n)
        sbi_reasons[given & sbi.isna().to_numpy()] = "sbi_ongeldig"

        vergunning = clean_text(frame["vergunning"])
        is_permit = vergunning.notna().to_numpy()
        activity_reasons = no_reasons(n)
        activity_reasons[~is_permit & ~given] = "activiteit_ontbreekt"
        by_permit = by_unique(vergunning, indeling.by_vergunning)
        by_code = by_unique(
            sbi, lambda codes: next(filter(None, map(indeling.by_sbi, codes.split(","))), None)
        )
        branche = by_permit.where(pd.Series(is_permit, index=frame.index), by_code)

        van, van_bad = _register_dates(frame["geldig_van"])
        tot, tot_bad = _register_dates(frame["geldig_tot"])
        date_reasons = no_reasons(n)
        date_reasons[van_bad] = "geldig_van_ongeldig"
        date_reasons[tot_bad | before(tot, van)] = "geldig_tot_ongeldig"
        address, address_reasons = address_fields(frame)
        staged = pd.DataFrame(
            {
                "bron": bron.code,
                "bron_id": bron_id,
                "soort": np.where(is_permit, "vergunning", "vestiging"),
                "naam": clean_text(frame["naam"]),
                "sbi": sbi,
                "vergunning": vergunning,
                "risicobranche": branche.astype(object).where(branche.notna(), None),
                "geldig_van": van,
                "geldig_tot": tot,
                "dataklasse": bron.dataklasse,
                "convenant": bron.convenant,
                **address,
            },
            index=frame.index,
        )
        reasons: Reasons = first_reason(
            id_reasons, activity_reasons, sbi_reasons, date_reasons, address_reasons
        )
        return Normalised(staged, reasons)

    def after_stage(self, ctx: Context[VestigingenState]) -> None:
        match_addresses(ctx)

    def snapshot_scope(self, ctx: Context[VestigingenState]) -> tuple[str, dict[str, Any]]:
        """A snapshot replaces one partner's register, never another partner's entries."""
        return "t.bron = :bron", {"bron": self._bron(ctx).code}
