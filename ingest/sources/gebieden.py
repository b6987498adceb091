"""Areas: CBS gemeenten, wijken and buurten, IBIS business parks, a buitengebied polygon.

Recognises the CBS Wijk- en Buurtkaart from 2022 on (``buurtcode``, ``wijkcode``,
``gemeentecode``; layers ``gemeenten/wijken/buurten``) and before (``BU_CODE``,
``WK_CODE``, ``GM_CODE``), and IBIS (``RIN_NUMMER``/``PLAN_NAAM`` or
``RINNUMMER``/``BEDRIJVENT``). The area type follows from the code column a layer has.
Numeric columns beside the codes (inhabitants, address density, crime counts) are kept
as ``kenmerken``. Editions (``jaar``) stand side by side; the newest is used for
assignment. After a load, points are re-assigned, and where the municipality has no
buitengebied polygon one is derived from its low-density buurten (docs/architecture.md §3).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import text

from ingest import areas
from ingest.base import Column, Context, Normalised, SourceKind, resolve_columns
from ingest.errors import IngestError
from ingest.normalise import by_unique, first_reason, no_reasons
from ingest.normalise import text as clean_text

#: Layouts by area type: the code column decides which one a layer is, checked in this order
#: (a wijken layer also carries gemeentecode, a business park file may too).
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "buurt": {
        "code": ("buurtcode", "bu_code"),
        "naam": ("buurtnaam", "bu_naam"),
        "wijkcode": ("wijkcode", "wk_code"),
        "gemeentecode": ("gemeentecode", "gm_code"),
    },
    "wijk": {
        "code": ("wijkcode", "wk_code"),
        "naam": ("wijknaam", "wk_naam"),
        "gemeentecode": ("gemeentecode", "gm_code"),
    },
    "bedrijventerrein": {
        "code": ("rin_nummer", "rinnummer"),
        "naam": ("plan_naam", "bedrijvent", "bedrijventerrein", "naam"),
        "gemeentecode": ("gm_code", "gemeentecode"),
    },
    "gemeente": {"code": ("gemeentecode", "gm_code"), "naam": ("gemeentenaam", "gm_naam")},
}
GENERIC = {"code": ("code",), "naam": ("naam", "name"), "gemeentecode": ("gemeentecode", "gm_code")}
CODE_PATTERNS = {
    "gemeente": r"^GM[0-9]{4}$",
    "wijk": r"^WK[0-9]{6}$",
    "buurt": r"^BU[0-9]{8}$",
    "buitengebied": r"^BG[0-9]{4}(-[0-9A-Za-z]+)?$",
    "bedrijventerrein": r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$",
}
#: CBS density threshold for "niet stedelijk": fewer than 500 addresses per km².
RURAL_DENSITY = 500


def _gemeentecode(value: Any) -> str | None:
    """'GM0014', '14', '0014' and 14.0 all mean GM0014."""
    digits = re.sub(r"\D", "", str(value))
    return f"GM{int(digits):04d}" if digits and len(digits) <= 4 else None


def _number(value: Any) -> float | int | None:
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


@dataclass
class GebiedenState:
    """The area type of the layer being read: ``resolve`` decides it per layer, before that
    layer's first batch, and ``normalise`` validates the codes against it."""

    soort: str | None = None


class Gebieden(SourceKind[GebiedenState]):
    name = "gebieden"
    table = "gebied"
    conflict = ("soort", "code", "jaar")
    geometry = "polygon"
    assigns_areas = False
    keeps_raw = True
    keeps_other_columns = True
    columns = (
        Column("soort", "text"),
        Column("code", "text"),
        Column("naam", "text"),
        Column("gemeentecode", "text"),
        Column("wijkcode", "text"),
        Column("jaar", "smallint"),
        Column("kenmerken", "jsonb"),
    )
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (), "naam": (), "gemeentecode": (), "wijkcode": (), "jaar": ("jaar",),
    }  # fmt: skip

    def new_state(self) -> GebiedenState:
        return GebiedenState()

    def resolve(self, ctx: Context[GebiedenState], found: list[str]) -> dict[str, str]:
        """Pick the layout by the code column present (or ``--soort``), per layer."""
        keys = {re.sub(r"[^a-z0-9]", "", c.lower()) for c in found}
        soort = ctx.options.soort
        if soort is None:
            mapped = set(ctx.options.mapping.values())
            for candidate, layout in LAYOUTS.items():
                names = {re.sub(r"[^a-z0-9]", "", n) for n in layout["code"]}
                if keys & names and "code" not in mapped:
                    soort = candidate
                    break
        if soort is None:
            raise IngestError(
                f"laag {ctx.layer!r}: gebiedssoort niet herkend (geen buurtcode, wijkcode, "
                f"gemeentecode of RIN-nummer); gevonden kolommen: {', '.join(found)}; "
                "geef --soort en zo nodig --map kolom=code"
            )
        if soort not in CODE_PATTERNS:
            raise IngestError(f"onbekende gebiedssoort {soort!r}: kies uit {', '.join(CODE_PATTERNS)}")
        layout = LAYOUTS.get(soort, GENERIC) if not ctx.options.soort else GENERIC
        aliases = {**{k: () for k in self.aliases}, **layout, "jaar": ("jaar",)}
        ctx.state.soort = soort
        return resolve_columns(found, aliases, ctx.options.mapping, ("code", "naam"))

    def _jaar(self, ctx: Context[GebiedenState], frame: pd.DataFrame) -> pd.Series:
        if ctx.options.jaar:
            return pd.Series(ctx.options.jaar, index=frame.index)
        column = pd.to_numeric(frame["jaar"], errors="coerce")
        if column.notna().all() and len(column):
            return column.astype(int)
        found = re.search(r"(19|20)\d{2}", ctx.options.path.stem)
        if found:
            return pd.Series(int(found.group(0)), index=frame.index)
        raise IngestError("jaar van de gebiedsindeling onbekend: geef --jaar (bijvoorbeeld --jaar 2024)")

    def normalise(self, frame: pd.DataFrame, ctx: Context[GebiedenState]) -> Normalised:
        soort = ctx.state.soort
        assert soort is not None, "resolve() picks the area type before any batch"
        code = clean_text(frame["code"]).astype("object")
        if soort in ("gemeente", "wijk", "buurt", "buitengebied"):
            code = code.map(lambda v: v.upper() if isinstance(v, str) else v)
        reasons = no_reasons(len(frame))
        reasons[code.isna().to_numpy()] = "code_ontbreekt"
        good_code = code.map(lambda v: bool(v and re.match(CODE_PATTERNS[soort], v)))
        reasons[~good_code.to_numpy(dtype=bool) & code.notna().to_numpy()] = "code_ongeldig"
        naam = clean_text(frame["naam"])
        naam_reasons = no_reasons(len(frame))
        naam_reasons[naam.isna().to_numpy()] = "naam_ontbreekt"
        gemeente = by_unique(clean_text(frame["gemeentecode"]), _gemeentecode)
        if soort in ("buurt", "wijk", "gemeente"):
            derived = code.map(lambda v: f"GM{v[2:6]}" if isinstance(v, str) and len(v) >= 6 else None)
            gemeente = gemeente.where(gemeente.notna(), derived)
        wijk = (
            clean_text(frame["wijkcode"]).astype("object")
            if soort == "buurt"
            else pd.Series(None, index=frame.index, dtype=object)
        )
        if soort == "buurt":
            wijk = wijk.where(wijk.notna(), code.map(lambda v: f"WK{v[2:8]}" if isinstance(v, str) else None))
        others = [c for c in frame.columns if c.startswith("+")]
        kenmerken = (
            [
                orjson.dumps({c[1:]: n for c in others if (n := _number(row[c])) is not None}).decode()
                for _, row in frame[others].iterrows()
            ]
            if others
            else ["{}"] * len(frame)
        )
        staged = pd.DataFrame(
            {
                "soort": soort,
                "code": code,
                "naam": naam,
                "gemeentecode": gemeente,
                "wijkcode": wijk,
                "jaar": self._jaar(ctx, frame),
                "kenmerken": np.asarray(kenmerken, dtype=object),
            },
            index=frame.index,
        )
        return Normalised(staged, first_reason(reasons, naam_reasons))

    def after_stage(self, ctx: Context[GebiedenState]) -> None:
        """Business parks and rural polygons without gemeentecode: the gemeente they lie in."""
        ctx.conn.execute(
            text(
                "UPDATE staging s SET gemeentecode = ("
                " SELECT m.code FROM gebied m WHERE m.soort = 'gemeente'"
                "  AND ST_Intersects(m.geom, ST_PointOnSurface(s.geom))"
                "  ORDER BY m.jaar DESC LIMIT 1) WHERE s.gemeentecode IS NULL"
            )
        )
        ctx.conn.execute(
            text(
                "WITH gone AS (DELETE FROM staging WHERE gemeentecode IS NULL RETURNING _rij, _raw)"
                " INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)"
                " SELECT :run, _rij, 'gemeente_onbekend', 'gemeente van het gebied is onbekend', _raw"
                " FROM gone"
            ),
            {"run": ctx.run_id},
        )

    def snapshot_scope(self, ctx: Context[GebiedenState]) -> tuple[str, dict[str, Any]]:
        """A snapshot replaces the delivered area types and editions only."""
        return "(t.soort, t.jaar) IN (SELECT DISTINCT soort, jaar FROM staging)", {}

    def after_upsert(self, ctx: Context[GebiedenState]) -> None:
        derive_buitengebied(ctx)
        areas.reassign(ctx.conn)


def derive_buitengebied(ctx: Context[GebiedenState]) -> None:
    """Derive a gemeente's buitengebied from its buurten with < 500 addresses/km².

    Only where no delivered (non-derived) buitengebied exists for that gemeente. The
    density is CBS's ``omgevingsadressendichtheid`` delivered with the buurten (or its
    urbanity class 5, "niet stedelijk"); a buurt without either is not guessed rural.
    Counting our own addresses instead would make the polygon depend on the order of
    ingests. Business parks are cut out. An upsert keeps it idempotent: the same buurten
    derive the same polygon, which then changes nothing.
    """
    ed = areas.editions(ctx.conn)
    if ed["buurt"] < 0:
        return
    ctx.conn.execute(
        text(
            f"""
            WITH buurt AS (
                SELECT b.code, b.gemeentecode, b.geom,
                       COALESCE(
                         (b.kenmerken ->> 'omgevingsadressendichtheid')::numeric,
                         (b.kenmerken ->> 'adressendichtheid')::numeric,
                         CASE WHEN (b.kenmerken ->> 'stedelijkheid')::numeric = 5 THEN 0 END) AS dichtheid
                FROM gebied b WHERE b.soort = 'buurt' AND b.jaar = :jaar
            ), rural AS (
                SELECT gemeentecode, ST_Union(geom ORDER BY code) AS geom, count(*) AS n
                FROM buurt WHERE dichtheid < {RURAL_DENSITY}
                GROUP BY gemeentecode
            ), cut AS (
                SELECT r.gemeentecode, r.n,
                       ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Difference(r.geom,
                         COALESCE((SELECT ST_Union(t.geom) FROM gebied t
                                    WHERE t.soort = 'bedrijventerrein' AND t.jaar = :bt_jaar
                                      AND t.gemeentecode = r.gemeentecode),
                                  'SRID=28992;POLYGON EMPTY'::geometry))), 3)) AS geom
                FROM rural r
                WHERE NOT EXISTS (
                    SELECT 1 FROM gebied d WHERE d.soort = 'buitengebied'
                      AND d.gemeentecode = r.gemeentecode AND NOT d.kenmerken ? 'afgeleid')
            )
            INSERT INTO gebied AS t (soort, code, naam, gemeentecode, jaar, kenmerken, geom, ingest_run_id)
            SELECT 'buitengebied', 'BG' || substr(c.gemeentecode, 3, 4),
                   'Buitengebied', c.gemeentecode, :jaar,
                   jsonb_build_object('afgeleid', CAST(:uitleg AS text), 'buurten', c.n),
                   c.geom, :run
            FROM cut c WHERE NOT ST_IsEmpty(c.geom)
            ON CONFLICT (soort, code, jaar) DO UPDATE
                SET geom = EXCLUDED.geom, kenmerken = EXCLUDED.kenmerken,
                    ingest_run_id = EXCLUDED.ingest_run_id, bijgewerkt_op = now()
                WHERE t.kenmerken ? 'afgeleid'
                  AND (t.kenmerken IS DISTINCT FROM EXCLUDED.kenmerken
                       OR NOT ST_Equals(t.geom, EXCLUDED.geom))
            """
        ),
        {
            "jaar": ed["buurt"],
            "bt_jaar": ed["bedrijventerrein"],
            "run": ctx.run_id,
            "uitleg": f"buurten met minder dan {RURAL_DENSITY} adressen per km², zonder bedrijventerreinen",
        },
    )
