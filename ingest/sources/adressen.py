"""BAG verblijfsobjecten (addresses): the PDOK BAG GeoPackage, or any address list.

Recognises the PDOK layout (``identificatie``, ``openbare_ruimte_naam``, ``toevoeging``,
``woonplaats_naam``, ...) and plain address exports (``straat``/``street``,
``postal_code``, lon/lat or x/y columns). Without a BAG identificatie the key is built from
the address, so re-delivery of the same address updates the same row.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from core.domain import GEBRUIKSDOELEN, VBO_STATUS
from ingest import address_identity as identity
from ingest.base import Column, Context, Normalised, SourceKind
from ingest.normalise import (
    address_key,
    bag_id,
    by_unique,
    first_reason,
    house_number,
    integers,
    no_reasons,
    postcode,
    text,
)

VBO_STATUSSEN = {s.lower(): s for s in VBO_STATUS}


@functools.lru_cache(maxsize=4096)
def _gebruiksdoel(value: Any) -> tuple[str | None, str | None]:
    """'Woonfunctie, winkelfunctie' -> ('{woonfunctie,winkelfunctie}', None); (None, None)
    when a purpose is unknown.

    A list cut off at a field width (a Shapefile's 254, or less: ``woonfunctie,bijeenkomstfuncti``)
    ends in a prefix: when it is the prefix of exactly one BAG function, that function is meant,
    and the cut-off word comes back second for the run's notes.
    """
    parts = [p.strip().lower() for p in re.split(r"[,;|]", str(value)) if p.strip()]
    completed = None
    if parts and parts[-1] not in GEBRUIKSDOELEN:
        meant = [g for g in GEBRUIKSDOELEN if g.startswith(parts[-1])]
        if len(meant) == 1:
            completed, parts[-1] = parts[-1], meant[0]
    if any(p not in GEBRUIKSDOELEN for p in parts):
        return None, None
    return "{" + ",".join(f'"{p}"' for p in sorted(set(parts))) + "}", completed


@dataclass
class AdressenState:
    """Cut-off purpose lists completed in this run: their count and one example."""

    afgekapt: int = 0
    voorbeeld: str = ""
    adoptie: int = 0  # stored address rows a BAG row of this file takes over


class Adressen(SourceKind[AdressenState]):
    name = "adressen"
    table = "verblijfsobject"
    conflict = ("sleutel",)
    merge_same_key = True  # a VBO once per pand it lies in: see ingest.address_identity
    columns = (
        Column("sleutel", "text"),
        Column("identificatie", "text"),
        Column("openbare_ruimte", "text"),
        Column("huisnummer", "integer"),
        Column("huisletter", "text"),
        Column("huisnummertoevoeging", "text"),
        Column("postcode", "text"),
        Column("woonplaats", "text"),
        Column("gebruiksdoel", "text[]"),
        Column("oppervlakte", "integer"),
        Column("bouwjaar", "smallint"),
        Column("status", "text"),
        Column("pand_identificaties", "text[]"),
    )
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "identificatie": ("bag_id", "vbo_id", "bag_vbo_id", "verblijfsobject_identificatie"),
        "openbare_ruimte": (
            "openbare_ruimte_naam",
            "openbareruimtenaam",
            "straat",
            "straatnaam",
            "street",
        ),
        "huisnummer": ("number", "huisnr"),
        "huisletter": ("letter",),
        "huisnummertoevoeging": ("toevoeging", "suffix"),
        "postcode": ("postal_code", "pc6"),
        "woonplaats": ("woonplaats_naam", "woonplaatsnaam", "city", "plaats"),
        "gebruiksdoel": ("gebruiksdoelen", "gebruiksdoel_verblijfsobject"),
        "oppervlakte": ("oppervlakte_m2", "oppervlakteverblijfsobject"),
        "bouwjaar": ("oorspronkelijk_bouwjaar", "oorspronkelijkbouwjaar"),
        "status": ("vbo_status", "verblijfsobjectstatus"),
        "pand_identificatie": ("pand_id", "pandidentificatie", "pandid"),
    }
    required = ("openbare_ruimte", "huisnummer", "postcode", "woonplaats")

    def new_state(self) -> AdressenState:
        return AdressenState()

    def normalise(self, frame: pd.DataFrame, ctx: Context[AdressenState]) -> Normalised:
        ids, id_reasons = bag_id(frame["identificatie"], "bag_id_ongeldig")
        pand, pand_reasons = bag_id(frame["pand_identificatie"], "pand_id_ongeldig")
        codes, pc_reasons = postcode(frame["postcode"])
        numbers, nr_reasons = house_number(
            frame["huisnummer"], frame["huisletter"], frame["huisnummertoevoeging"]
        )
        street = text(frame["openbare_ruimte"])
        place = text(frame["woonplaats"])
        reasons_street = no_reasons(len(frame))
        reasons_street[street.isna().to_numpy()] = "straat_ontbreekt"
        reasons_street[place.isna().to_numpy() & street.notna().to_numpy()] = "woonplaats_ontbreekt"
        # Twice by distinct value (a cached parse), never per row: a million rows, few lists.
        uses = by_unique(frame["gebruiksdoel"], lambda v: _gebruiksdoel(v)[0])
        cut = by_unique(frame["gebruiksdoel"], lambda v: _gebruiksdoel(v)[1]).dropna()
        if len(cut):
            ctx.state.afgekapt += len(cut)
            ctx.state.voorbeeld = ctx.state.voorbeeld or str(cut.iloc[0])
        use_reasons = no_reasons(len(frame))
        use_reasons[(frame["gebruiksdoel"].notna() & uses.isna()).to_numpy()] = "gebruiksdoel_onbekend"
        area, area_reasons = integers(frame["oppervlakte"], 1, 999_999, "oppervlakte_ongeldig")
        year, year_reasons = integers(frame["bouwjaar"], 1000, 2100, "bouwjaar_ongeldig")
        status = by_unique(frame["status"], lambda v: VBO_STATUSSEN.get(str(v).strip().lower(), ""))
        status_reasons = no_reasons(len(frame))
        status_reasons[(status == "").to_numpy()] = "status_onbekend"
        key = ids.where(ids.notna(), address_key(codes, numbers))
        staged = pd.DataFrame(
            {
                "sleutel": key,
                "identificatie": ids,
                "openbare_ruimte": street,
                **numbers,
                "postcode": codes,
                "woonplaats": place,
                "gebruiksdoel": uses.where(uses.notna(), "{}"),
                "oppervlakte": area,
                "bouwjaar": year,
                "status": status.where(status != "", None),
                "pand_identificaties": "{" + pand + "}",
            },
            index=frame.index,
        )
        reasons = first_reason(
            id_reasons, pc_reasons, nr_reasons, reasons_street, use_reasons,
            area_reasons, year_reasons, status_reasons, pand_reasons,
        )  # fmt: skip
        return Normalised(staged, reasons)

    def after_stage(self, ctx: Context[AdressenState]) -> None:
        """One row per real address (``ingest.address_identity``), and what it did, in the notes."""
        conn, notes = ctx.conn, ctx.notes
        if ctx.state.afgekapt:
            notes.append(
                f"afgekapte gebruiksdoelen aangevuld: {ctx.state.afgekapt} rijen"
                f" (bijv. '{ctx.state.voorbeeld}')"
            )
        staged = identity.count_staged(conn)
        if staged.herhalingen:
            merged, conflicting = identity.merge_repeats(conn, ctx.run_id)
            if merged:
                notes.append(f"herhaalde rijen van één verblijfsobject samengevoegd: {merged}")
            if conflicting:
                notes.append(f"strijdige rijen met dezelfde sleutel afgekeurd: {conflicting}")
        if staged.zonder_bag and staged.met_bag and (twins := identity.drop_address_only_twins(conn)):
            notes.append(f"adressen zonder BAG-id samengevoegd met hetzelfde adres met BAG-id: {twins}")
        if staged.zonder_bag and (tied := identity.tie_to_stored_bag(conn)):
            notes.append(f"adressen zonder BAG-id gekoppeld aan hun opgeslagen BAG-verblijfsobject: {tied}")
        if staged.met_bag or staged.zonder_bag:  # a tied row now has a BAG id too
            adopted, merged = identity.plan_adoption(conn)
            ctx.state.adoptie = adopted + merged
            if adopted:
                notes.append(f"opgeslagen adressen zonder BAG-id kregen hun BAG-identificatie: {adopted}")
            if merged:
                notes.append(f"opgeslagen adressen zonder BAG-id samengevoegd met hun BAG-object: {merged}")

    def before_upsert(self, ctx: Context[AdressenState]) -> None:
        if ctx.state.adoptie:
            identity.adopt(ctx.conn, ctx.run_id)
