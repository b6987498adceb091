"""BAG verblijfsobjecten (addresses): the PDOK BAG GeoPackage, or any address list.

Recognises the PDOK layout (``identificatie``, ``openbare_ruimte_naam``, ``toevoeging``,
``woonplaats_naam``, ...) and plain address exports (``straat``/``street``,
``postal_code``, lon/lat or x/y columns). Without a BAG identificatie the key is built from
the address, so re-delivery of the same address updates the same row.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pandas as pd

from core.domain import GEBRUIKSDOELEN, VBO_STATUS
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


def _gebruiksdoel(value: Any) -> str | None:
    """'Woonfunctie, winkelfunctie' -> '{woonfunctie,winkelfunctie}'; None when unknown."""
    parts = [p.strip().lower() for p in re.split(r"[,;|]", str(value)) if p.strip()]
    if any(p not in GEBRUIKSDOELEN for p in parts):
        return None
    return "{" + ",".join(f'"{p}"' for p in sorted(set(parts))) + "}"


class Adressen(SourceKind[None]):
    name = "adressen"
    table = "verblijfsobject"
    conflict = ("sleutel",)
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
        Column("pand_identificatie", "text"),
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

    def new_state(self) -> None:
        """Nothing carries over between batches."""

    def normalise(self, frame: pd.DataFrame, ctx: Context[None]) -> Normalised:
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
        uses = by_unique(frame["gebruiksdoel"], _gebruiksdoel)
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
                "pand_identificatie": pand,
            },
            index=frame.index,
        )
        reasons = first_reason(
            id_reasons, pc_reasons, nr_reasons, reasons_street, use_reasons,
            area_reasons, year_reasons, status_reasons, pand_reasons,
        )  # fmt: skip
        return Normalised(staged, reasons)
