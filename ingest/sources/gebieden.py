"""Areas: CBS gemeenten, wijken and buurten, IBIS business parks, a buitengebied polygon,
postcode areas (PC4, PC6) and CBS grid squares (100 m, 500 m); each in a division.

Recognises the CBS Wijk- en Buurtkaart from 2022 on (``buurtcode``, ``wijkcode``,
``gemeentecode``; layers ``gemeenten/wijken/buurten``) and before (``BU_CODE``,
``WK_CODE``, ``GM_CODE``), IBIS (``RIN_NUMMER``/``PLAN_NAAM`` or ``RINNUMMER``/``BEDRIJVENT``),
CBS postcode files (``PC4``/``PC6``, or ``postcode``: the values decide) and CBS grid squares
(``crs28992res100m``/``crs28992res500m``, older ``C28992R100``/``C28992R500``; codes such as
``E2330N5820``, the full ``CRS28992RES100ME2330N5820`` is shortened to that). The area type
follows from the code column a layer has, or from ``--soort``.

An area is keyed by type, division (``--indeling``; default per type:
``core.domain.STANDAARD_INDELING``) and edition (``jaar``): the municipality's own buurten
(``--indeling gemeente``) stand beside the CBS buurten of the same year. The edition comes
from ``--jaar`` or the file name (``buurt_2023.gpkg``), never from a column: IBIS's ``JAAR``
is its year of issue (``v1900``), not a boundary edition. A delivery that would move the
boundary of an area already stored in the same division and edition is refused unless
``--vervang`` says so. Rows with the same key are parts of one area (a business park
delivered in parts): their polygons are united; parts that disagree on name or municipality
are quarantined. Numeric columns beside the codes (inhabitants, address density) are kept as
``kenmerken``, CBS's secrecy values (``-99997``, ``-99999999``: any value <= -99990) as null.
Codes of municipalities that have since merged are stored as delivered, with a note naming
the current municipality (``herindelingen.csv``). After a load of a division points are
assigned to, points are re-assigned, and where the municipality has no buitengebied polygon
one is derived from its low-density buurten (docs/architecture.md §3).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import text

from core.domain import GEBIED_INDELINGEN, STANDAARD_INDELING
from ingest import areas
from ingest.base import Column, Context, Normalised, Options, SourceKind, resolve_columns
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
    "vierkant100": {"code": ("crs28992res100m", "c28992r100"), "gemeentecode": ("gemeentecode", "gm_code")},
    "vierkant500": {"code": ("crs28992res500m", "c28992r500"), "gemeentecode": ("gemeentecode", "gm_code")},
    "pc6": {"code": ("pc6", "postcode6"), "gemeentecode": ("gemeentecode", "gm_code")},
    "pc4": {"code": ("pc4", "postcode4", "postcode"), "gemeentecode": ("gemeentecode", "gm_code")},
}
GENERIC = {"code": ("code",), "naam": ("naam", "name"), "gemeentecode": ("gemeentecode", "gm_code")}
#: Code patterns of the CBS division (and of the types that have only one way of numbering);
#: another division of wijken or buurten numbers its areas as it likes (OTHER).
CODE_PATTERNS = {
    "gemeente": r"^GM[0-9]{4}$",
    "wijk": r"^WK[0-9]{6}$",
    "buurt": r"^BU[0-9]{8}$",
    "buitengebied": r"^BG[0-9]{4}(-[0-9A-Za-z]+)?$",
    "bedrijventerrein": r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$",
    "pc4": r"^[1-9][0-9]{3}$",
    "pc6": r"^[1-9][0-9]{3}[A-Z]{2}$",
    "vierkant100": r"^E[0-9]{4}N[0-9]{4}$",
    "vierkant500": r"^E[0-9]{4}N[0-9]{4}$",
}
OTHER = r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$"
#: Types whose code is written in capitals whatever the file does.
UPPER = ("gemeente", "wijk", "buurt", "buitengebied", "pc6", "vierkant100", "vierkant500")
#: Types without a name of their own: the code is their name.
NAMELESS = ("pc4", "pc6", "vierkant100", "vierkant500")
#: CBS density threshold for "niet stedelijk": fewer than 500 addresses per km².
RURAL_DENSITY = 500
#: CBS key figures mark secret or missing values with large negative numbers (-99997 secret,
#: -99999999 not available, and a few in between): any value at or below this is no figure.
CBS_SENTINEL = -99990
#: The oldest boundary edition the schema accepts; the newest is next year's.
FIRST_EDITION = 1990
MERGERS_FILE = Path(__file__).with_name("herindelingen.csv")


@dataclass(frozen=True)
class Merger:
    """A municipality merged into another (one row of ``herindelingen.csv``)."""

    oude_code: str
    oude_naam: str
    nieuwe_code: str
    nieuwe_naam: str
    datum: str
    bron: str

    def note(self) -> str:
        return (
            f"{self.oude_naam} ({self.oude_code}) is per {self.datum} opgegaan in "
            f"{self.nieuwe_naam} ({self.nieuwe_code})"
        )


def load_mergers(path: Path = MERGERS_FILE) -> dict[str, Merger]:
    """The municipal mergers by old code: data, not code, so a new merger is one line."""
    with path.open(encoding="utf-8", newline="") as f:
        return {row["oude_code"]: Merger(**row) for row in csv.DictReader(f)}


MERGERS = load_mergers()


def _gemeentecode(value: Any) -> str | None:
    """'GM0014', '14', '0014' and 14.0 all mean GM0014."""
    digits = re.sub(r"\D", "", re.sub(r"\.0+$", "", str(value)))
    return f"GM{int(digits):04d}" if digits and len(digits) <= 4 else None


def _number(value: Any) -> float | int | None:
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _code(value: Any, soort: str) -> Any:
    """A code as the registers write it: capitals, no spaces; '9711.0' is PC4 9711; the
    grid's long form ``CRS28992RES100ME2330N5820`` is ``E2330N5820``."""
    if not isinstance(value, str):
        return value
    if soort in ("pc4", "pc6"):
        value = re.sub(r"\.0+$", "", value.replace(" ", ""))
    if soort in UPPER:
        value = value.upper()
    if soort in ("vierkant100", "vierkant500"):
        value = re.sub(r"^CRS28992RES[0-9]+M", "", value)
    return value


def edition(options: Options) -> int:
    """The boundary edition: ``--jaar``, else a year in the file name; one line otherwise."""
    if options.jaar is not None:
        jaar, source = options.jaar, "--jaar"
    else:
        found = re.search(r"(?<![0-9])(19[0-9]{2}|20[0-9]{2})(?![0-9])", options.path.stem)
        if found is None:
            raise IngestError(
                f"{options.path.name}: jaar van de gebiedsindeling onbekend; geef --jaar "
                "(bijvoorbeeld --jaar 2024) of zet het jaar in de bestandsnaam (buurt_2024.gpkg)"
            )
        jaar, source = int(found.group(1)), "de bestandsnaam"
    last = dt.date.today().year + 1
    if not FIRST_EDITION <= jaar <= last:
        raise IngestError(
            f"{options.path.name}: jaar {jaar} (uit {source}) is geen gebiedsindeling tussen "
            f"{FIRST_EDITION} en {last}; geef het jaar van de grenzen met --jaar"
        )
    return jaar


@dataclass
class GebiedenState:
    """The area type of the layer being read (``resolve`` decides it per layer, before that
    layer's first batch; a ``postcode`` column waits for its values), its division, the
    edition, and what the batches noticed for the run's notes."""

    soort: str | None = None
    indeling: str | None = None
    jaar: int | None = None
    postcode_by_value: bool = False
    sentinels: int = 0
    mergers: dict[str, int] = field(default_factory=dict)


class Gebieden(SourceKind[GebiedenState]):
    name = "gebieden"
    table = "gebied"
    conflict = ("soort", "indeling", "code", "jaar")
    geometry = "polygon"
    assigns_areas = False
    keeps_raw = True
    keeps_other_columns = True
    columns = (
        Column("soort", "text"),
        Column("indeling", "text"),
        Column("code", "text"),
        Column("naam", "text"),
        Column("gemeentecode", "text"),
        Column("wijkcode", "text"),
        Column("jaar", "smallint"),
        Column("kenmerken", "jsonb"),
    )
    # No ``jaar``: a column of that name is the file's own business (IBIS: year of issue).
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {
        "code": (),
        "naam": (),
        "gemeentecode": (),
        "wijkcode": (),
    }

    def new_state(self) -> GebiedenState:
        return GebiedenState()

    def before_read(self, ctx: Context[GebiedenState]) -> None:
        """The edition and the division's name are checked before a row is read."""
        ctx.state.jaar = edition(ctx.options)
        indeling = ctx.options.indeling
        if indeling is not None and indeling not in GEBIED_INDELINGEN:
            raise IngestError(f"onbekende indeling {indeling!r}: kies uit {', '.join(GEBIED_INDELINGEN)}")

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
                f"gemeentecode, RIN-nummer, postcode of vierkantcode); gevonden kolommen: "
                f"{', '.join(found)}; geef --soort en zo nodig --map kolom=code"
            )
        if soort not in CODE_PATTERNS:
            raise IngestError(f"onbekende gebiedssoort {soort!r}: kies uit {', '.join(CODE_PATTERNS)}")
        own = LAYOUTS.get(soort, {})
        if ctx.options.soort:  # the generic names first, then the type's own
            layout = {k: GENERIC.get(k, ()) + own.get(k, ()) for k in {*GENERIC, *own}}
        else:
            layout = own
        aliases = {**{k: () for k in self.aliases}, **layout}
        ctx.state.soort = soort
        ctx.state.indeling = ctx.options.indeling or STANDAARD_INDELING[soort]
        required = ("code",) if soort in NAMELESS else ("code", "naam")
        mapping = resolve_columns(found, aliases, ctx.options.mapping, required)
        column = mapping["code"]
        ctx.state.postcode_by_value = (
            soort == "pc4" and re.sub(r"[^a-z0-9]", "", column.lower()) == "postcode"
        )
        return mapping

    def key_values(self, staged: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Every row its own key: rows with the same code are parts of one area, which
        ``after_stage`` unites (or quarantines, when the parts disagree)."""
        keys = np.empty(len(staged), dtype=object)
        keys[:] = [object() for _ in range(len(staged))]
        return keys

    def _kenmerken(self, frame: pd.DataFrame, ctx: Context[GebiedenState]) -> list[dict[str, Any]]:
        """Numeric columns beside the codes; CBS secrecy values as null."""
        others = [c for c in frame.columns if c.startswith("+")]
        rows: list[dict[str, Any]] = []
        for values in zip(*(frame[c].to_numpy(dtype=object) for c in others), strict=True) if others else ():
            row: dict[str, Any] = {}
            for name, value in zip(others, values, strict=True):
                number = _number(value)
                if number is None:
                    continue
                if number <= CBS_SENTINEL:
                    ctx.state.sentinels += 1
                    row[name[1:]] = None
                else:
                    row[name[1:]] = number
            rows.append(row)
        return rows or [{} for _ in range(len(frame))]

    def normalise(self, frame: pd.DataFrame, ctx: Context[GebiedenState]) -> Normalised:
        soort, indeling = ctx.state.soort, ctx.state.indeling
        assert soort is not None and indeling is not None, "resolve() picks the type before any batch"
        code = clean_text(frame["code"]).astype("object")
        if ctx.state.postcode_by_value:  # 'postcode': four digits is PC4, with letters PC6
            pc6 = code.map(lambda v: isinstance(v, str) and bool(re.search(r"[A-Za-z]", v)))
            ctx.state.soort = soort = "pc6" if bool(pc6.any()) else "pc4"
            ctx.state.indeling = indeling = ctx.options.indeling or STANDAARD_INDELING[soort]
            ctx.state.postcode_by_value = False
        code = code.map(lambda v: _code(v, soort))
        cbs_like = indeling == "cbs" or soort not in ("wijk", "buurt")
        pattern = CODE_PATTERNS[soort] if cbs_like else OTHER
        reasons = no_reasons(len(frame))
        reasons[code.isna().to_numpy()] = "code_ontbreekt"
        good_code = code.map(lambda v: isinstance(v, str) and bool(re.match(pattern, v)))
        reasons[~good_code.to_numpy(dtype=bool) & code.notna().to_numpy()] = "code_ongeldig"
        naam = clean_text(frame["naam"])
        if soort in NAMELESS:
            naam = naam.where(naam.notna(), code)
        naam_reasons = no_reasons(len(frame))
        naam_reasons[naam.isna().to_numpy()] = "naam_ontbreekt"
        gemeente = by_unique(clean_text(frame["gemeentecode"]), _gemeentecode)
        if soort in ("buurt", "wijk", "gemeente") and cbs_like:
            derived = code.map(lambda v: f"GM{v[2:6]}" if isinstance(v, str) and len(v) >= 6 else None)
            gemeente = gemeente.where(gemeente.notna(), derived)
        wijk = (
            clean_text(frame["wijkcode"]).astype("object")
            if soort == "buurt"
            else pd.Series(None, index=frame.index, dtype=object)
        )
        if soort == "buurt" and indeling == "cbs":
            wijk = wijk.where(wijk.notna(), code.map(lambda v: f"WK{v[2:8]}" if isinstance(v, str) else None))
        # Another division may number its wijken its own way: only CBS-shaped wijkcodes are kept.
        wijk = wijk.map(lambda v: v if isinstance(v, str) and re.match(CODE_PATTERNS["wijk"], v) else None)
        kenmerken = self._kenmerken(frame, ctx)
        for i, gm in enumerate(gemeente.to_numpy(dtype=object)):
            merger = MERGERS.get(gm) if isinstance(gm, str) else None
            if merger is not None:
                kenmerken[i] = {
                    **kenmerken[i],
                    "huidige_gemeentecode": merger.nieuwe_code,
                    "herindeling": merger.note(),
                }
                ctx.state.mergers[merger.oude_code] = ctx.state.mergers.get(merger.oude_code, 0) + 1
        staged = pd.DataFrame(
            {
                "soort": soort,
                "indeling": indeling,
                "code": code,
                "naam": naam,
                "gemeentecode": gemeente,
                "wijkcode": wijk,
                "jaar": ctx.state.jaar,
                "kenmerken": np.asarray([orjson.dumps(k).decode() for k in kenmerken], dtype=object),
            },
            index=frame.index,
        )
        return Normalised(staged, first_reason(reasons, naam_reasons))

    def after_stage(self, ctx: Context[GebiedenState]) -> None:
        """Unite parts, fill in municipalities, and refuse to move a stored boundary unasked."""
        conn = ctx.conn
        key = "soort, indeling, code, jaar"
        # Parts that disagree (another name or municipality) are two areas under one code.
        conn.execute(
            text(
                f"""
                WITH strijdig AS (
                    SELECT {key} FROM staging GROUP BY {key}
                    HAVING count(DISTINCT (naam, coalesce(gemeentecode, ''))) > 1
                ), gone AS (
                    DELETE FROM staging s USING strijdig d
                    WHERE (s.soort, s.indeling, s.code, s.jaar) = (d.soort, d.indeling, d.code, d.jaar)
                    RETURNING s._rij, s._raw
                )
                INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)
                SELECT :run, _rij, 'dubbele_sleutel',
                       'dezelfde code komt meer dan eens voor met een andere naam of gemeente', _raw
                FROM gone
                """
            ),
            {"run": ctx.run_id},
        )
        parts = conn.execute(
            text(
                f"""
                WITH delen AS (
                    SELECT {key}, min(_rij) AS eerste, count(*) AS n,
                           ST_Multi(ST_CollectionExtract(ST_MakeValid(
                               ST_UnaryUnion(ST_Collect(geom ORDER BY _rij))), 3)) AS geom
                    FROM staging GROUP BY {key} HAVING count(*) > 1
                ), heel AS (
                    UPDATE staging s SET geom = d.geom FROM delen d WHERE s._rij = d.eerste
                      AND (s.soort, s.indeling, s.code, s.jaar) = (d.soort, d.indeling, d.code, d.jaar)
                    RETURNING s._rij
                ), weg AS (
                    DELETE FROM staging s USING delen d
                    WHERE (s.soort, s.indeling, s.code, s.jaar) = (d.soort, d.indeling, d.code, d.jaar)
                      AND s._rij <> d.eerste
                    RETURNING s._rij
                )
                SELECT (SELECT count(*) FROM delen), (SELECT coalesce(sum(n), 0) FROM delen)
                """
            )
        ).one()
        if parts[0]:
            ctx.notes.append(f"{parts[0]} gebieden in delen geleverd ({parts[1]} rijen): delen samengevoegd")
        gemeente = areas.in_division("m", "gemeente")
        conn.execute(
            text(
                "UPDATE staging s SET gemeentecode = ("
                f" SELECT m.code FROM gebied m WHERE {gemeente}"
                "  AND ST_Intersects(m.geom, ST_PointOnSurface(s.geom))"
                "  ORDER BY m.jaar DESC LIMIT 1) WHERE s.gemeentecode IS NULL"
            )
        )
        conn.execute(
            text(
                "WITH gone AS (DELETE FROM staging WHERE gemeentecode IS NULL RETURNING _rij, _raw)"
                " INSERT INTO ingest_reject (ingest_run_id, rij, reden, detail, gegevens)"
                " SELECT :run, _rij, 'gemeente_onbekend', 'gemeente van het gebied is onbekend', _raw"
                " FROM gone"
            ),
            {"run": ctx.run_id},
        )
        self._check_boundaries(ctx)
        self._notes(ctx)

    def _check_boundaries(self, ctx: Context[GebiedenState]) -> None:
        """A stored area of the same type, division and edition with another boundary: a
        different division loaded under the default one, or a corrected edition. Either is
        said, and only ``--vervang`` lets it through (a derived buitengebied gives way)."""
        moved = ctx.conn.execute(
            text(
                "SELECT count(*) AS n, min(s.indeling) AS indeling, min(s.jaar) AS jaar,"
                " min(s.code) AS code FROM staging s JOIN gebied t"
                " ON (t.soort, t.indeling, t.code, t.jaar) = (s.soort, s.indeling, s.code, s.jaar)"
                " WHERE NOT t.kenmerken ? 'afgeleid' AND NOT ST_Equals(t.geom, s.geom)"
            )
        ).one()
        if not moved.n:
            return
        if not ctx.options.vervang:
            raise IngestError(
                f"{ctx.options.path.name}: {moved.n} gebied(en) van indeling {moved.indeling} {moved.jaar} "
                f"krijgen een andere grens (bijvoorbeeld {moved.code}); is dit een eigen indeling, geef "
                "dan --indeling (bijvoorbeeld --indeling gemeente), een andere editie --jaar; de "
                "opgeslagen grenzen vervangen kan met --vervang"
            )
        ctx.notes.append(
            f"{moved.n} grenzen van indeling {moved.indeling} {moved.jaar} vervangen (--vervang)"
        )

    def _notes(self, ctx: Context[GebiedenState]) -> None:
        """What the run should say: other divisions of the same areas, merged municipalities,
        CBS secrecy values."""
        others = ctx.conn.execute(
            text(
                "SELECT t.indeling, count(DISTINCT s.code) FROM staging s JOIN gebied t"
                " ON t.soort = s.soort AND t.code = s.code AND t.jaar = s.jaar AND t.indeling <> s.indeling"
                " GROUP BY t.indeling ORDER BY t.indeling"
            )
        ).all()
        for indeling, n in others:
            ctx.notes.append(
                f"{n} gebieden bestaan ook in indeling {indeling} (zelfde soort, code en jaar): "
                "beide indelingen blijven naast elkaar bestaan"
            )
        for code, n in sorted(ctx.state.mergers.items()):
            ctx.notes.append(
                f"{n} gebieden met de gemeentecode van vóór een herindeling, opgeslagen zoals geleverd: "
                f"{MERGERS[code].note()}"
            )
        if ctx.state.sentinels:
            ctx.notes.append(
                f"{ctx.state.sentinels} CBS-kerncijfers geheim of onbekend ({CBS_SENTINEL} of lager): "
                "leeg opgeslagen"
            )

    def snapshot_scope(self, ctx: Context[GebiedenState]) -> tuple[str, dict[str, Any]]:
        """A snapshot replaces the delivered area types, divisions and editions only."""
        return "(t.soort, t.indeling, t.jaar) IN (SELECT DISTINCT soort, indeling, jaar FROM staging)", {}

    def after_upsert(self, ctx: Context[GebiedenState]) -> None:
        """Points change areas only when a division they are assigned to changed."""
        which = " OR ".join(areas.in_division("s", soort) for soort in areas.DIVISION)
        touched = ctx.conn.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM staging s WHERE {which})")
        ).scalar_one()
        if touched or ctx.options.snapshot:
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
                FROM gebied b WHERE {areas.in_division("b", "buurt")} AND b.jaar = :jaar
            ), rural AS (
                SELECT gemeentecode, ST_Union(geom ORDER BY code) AS geom, count(*) AS n
                FROM buurt WHERE dichtheid < {RURAL_DENSITY}
                GROUP BY gemeentecode
            ), cut AS (
                SELECT r.gemeentecode, r.n,
                       ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Difference(r.geom,
                         COALESCE((SELECT ST_Union(t.geom) FROM gebied t
                                    WHERE {areas.in_division("t", "bedrijventerrein")} AND t.jaar = :bt_jaar
                                      AND t.gemeentecode = r.gemeentecode),
                                  'SRID=28992;POLYGON EMPTY'::geometry))), 3)) AS geom
                FROM rural r
                WHERE NOT EXISTS (
                    SELECT 1 FROM gebied d WHERE {areas.in_division("d", "buitengebied")}
                      AND d.gemeentecode = r.gemeentecode AND NOT d.kenmerken ? 'afgeleid')
            )
            INSERT INTO gebied AS t (soort, indeling, code, naam, gemeentecode, jaar, kenmerken, geom,
                                     ingest_run_id)
            SELECT 'buitengebied', '{areas.DIVISION["buitengebied"]}', 'BG' || substr(c.gemeentecode, 3, 4),
                   'Buitengebied', c.gemeentecode, :jaar,
                   jsonb_build_object('afgeleid', CAST(:uitleg AS text), 'buurten', c.n),
                   c.geom, :run
            FROM cut c WHERE NOT ST_IsEmpty(c.geom)
            ON CONFLICT (soort, indeling, code, jaar) DO UPDATE
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
