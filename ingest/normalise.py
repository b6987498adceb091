"""Vectorised normalisers and validators shared by the source kinds.

Each function takes whole columns (pandas Series, numpy arrays) and returns the cleaned
values together with a per-row reason code where a value is unusable. Reason codes are
stable snake_case words stored with every quarantined row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import Transformer
from pyproj.exceptions import CRSError

from ingest.errors import CrsError

Reasons = np.ndarray[Any, np.dtype[np.object_]]

#: Text columns are Arrow-backed (with pd.NA for missing): string operations then run in
#: Arrow's C++ kernels instead of once per value in Python, about ten times faster.
TEXT = pd.StringDtype("pyarrow")

#: Whitespace spelled out as characters: a ``\s`` would send pandas to Python's ``re``
#: once per value instead of Arrow's RE2 once per column.
WHITESPACE = "[ \t\n\r\f\v\xa0]+"
POSTCODE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
#: ``53,0``, ``-1,5``: a decimal comma; three digits after it could be a thousands group.
DECIMAL_COMMA = r"^(-?[0-9]+),([0-9]{1,2}|[0-9]{4,})$"
BAG_ID = re.compile(r"^\d{1,16}$")

#: RD New extent of the Netherlands and the WGS84 box around it.
RD_X, RD_Y = (-7_000.0, 300_000.0), (289_000.0, 629_000.0)
WGS_LON, WGS_LAT = (3.0, 7.5), (50.5, 54.0)
#: That WGS84 box in Web Mercator metres (lon 3..7.5 -> x, lat 50.5..54 -> y), with a margin.
#: It overlaps neither RD New nor degrees, so coordinates in it are recognised for sure.
WM_X, WM_Y = (320_000.0, 850_000.0), (6_400_000.0, 7_200_000.0)
#: The Mercator systems whose metres land in that box (Web/Pseudo Mercator, World Mercator,
#: and their ESRI and legacy codes).
MERCATOR = frozenset({3857, 3395, 3785, 900913, 102100, 102113})

DUTCH_MONTHS = {
    "jan": 1, "januari": 1, "feb": 2, "februari": 2, "mrt": 3, "maart": 3, "apr": 4,
    "april": 4, "mei": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "aug": 8, "augustus": 8,
    "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d")


def no_reasons(n: int) -> Reasons:
    """An all-None reason array of length n."""
    return np.full(n, None, dtype=object)


def first_reason(*arrays: Reasons) -> Reasons:
    """Combine reason arrays: per row the first reason that is set."""
    out = arrays[0].copy()
    for other in arrays[1:]:
        empty = pd.isna(out)
        out[empty] = other[empty]
    return out


def by_unique(series: pd.Series, fn: Any) -> pd.Series:
    """Apply ``fn`` once per distinct value: addresses repeat streets, cities, uses.

    ``pd.factorize`` finds the distinct values in one pass (in Arrow for text columns);
    the results are spread back by their codes, with None for missing values.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    out = np.full(len(series), None, dtype=object)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return pd.Series(out, index=series.index, dtype=object)


def numeric(series: pd.Series) -> pd.Series:
    """Numbers from delivered text, NaN where a value is not a number.

    Arrow casts a column of plain integers (nearly every delivered column) in one C++ pass;
    only a column with decimals, commas or junk takes pandas' per-value parser. A decimal
    comma is read as the decimal point it is in Dutch (``53,0`` = ``53.0`` = 53); a comma
    that may group thousands (``1,234``) is not guessed at and makes no number.
    """
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    cleaned = series.astype(TEXT).str.strip()
    try:
        values = pc.cast(pa.array(cleaned), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        dotted = cleaned.str.replace(DECIMAL_COMMA, r"\1.\2", regex=True)
        return pd.to_numeric(dotted, errors="coerce").astype("float64")
    return pd.Series(values.to_numpy(zero_copy_only=False), index=series.index, dtype="float64")


def text(series: pd.Series) -> pd.Series:
    """Stripped text (Arrow-backed string dtype) with empty strings as missing."""
    stripped = series.astype(TEXT).str.strip()
    return stripped.where((stripped.str.len() > 0).fillna(False))


def postcode(series: pd.Series) -> tuple[pd.Series, Reasons]:
    """'9712 kb' -> '9712KB'; missing or malformed is a reason."""
    cleaned = text(series.astype(TEXT).str.replace(WHITESPACE, "", regex=True).str.upper())
    ok = cleaned.str.fullmatch(POSTCODE.pattern).fillna(False).to_numpy(dtype=bool)
    reasons = no_reasons(len(series))
    absent = cleaned.isna().to_numpy()
    reasons[absent] = "postcode_ontbreekt"
    reasons[~ok & ~absent] = "postcode_ongeldig"
    return cleaned.where(ok), reasons


#: A house number field as partners write it: the number, then whatever follows.
HOUSE_HEAD = re.compile(r"^\s*(\d{1,5})(?:[.,]0+)?(?![.,\d])(.*)$")
#: After the number: one letter standing alone (``15 A``, ``15A``, ``15a-2``, ``15 A 2``).
HOUSE_LETTER = re.compile(r"^[\s\-/]*([A-Za-z])(?=$|[\s\-/]|\d)(.*)$")
#: Two digit groups joined by a dash or slash (``2 7-15``): a range or a second address,
#: not a BAG toevoeging.
HOUSE_RANGE = re.compile(r"^\d+\s*[-/]\s*\d+$")
#: A BAG huisnummertoevoeging: one to four letters or digits.
TOEVOEGING = re.compile(r"^[0-9A-Z]{1,4}$")

HouseParts = tuple[int | None, str | None, str | None, str | None]


def _house_parts(value: Any) -> HouseParts:
    """Number, letter, addition and a note on what was left out, from one written field.

    The BAG's rules decide: a huisnummer is 1 to 99999, a huisletter one letter, a
    huisnummertoevoeging one to four letters or digits. Separators inside the addition
    are the writer's (``34 1-A`` is toevoeging ``1A``, as the BAG stores it); what is no
    toevoeging at all (``2 7-15``, ``12-ABCDE``) is left out, and the valid number and
    letter are kept with a note saying what was dropped.
    """
    head = HOUSE_HEAD.match(str(value))
    if not head:
        return None, None, None, None
    number, rest = int(head.group(1)), head.group(2)
    letter = None
    if found := HOUSE_LETTER.match(rest):
        letter, rest = found.group(1).upper(), found.group(2)
    rest = rest.strip(" \t-/")
    if not rest:
        return number, letter, None, None
    addition = re.sub(r"[\s\-/]+", "", rest).upper()
    if HOUSE_RANGE.match(rest) or not TOEVOEGING.match(addition):
        return number, letter, None, f"toevoeging {rest!r} weggelaten: geen BAG-toevoeging"
    return number, letter, addition, None


def _letter(value: Any) -> str | None:
    return str(value).strip().upper() or None


def _addition(value: Any) -> str | None:
    return re.sub(r"[^0-9A-Z]", "", str(value).upper()) or None


def house_number(
    nummer: pd.Series, letter: pd.Series | None, toevoeging: pd.Series | None
) -> tuple[pd.DataFrame, Reasons]:
    """Split '12a-2' into huisnummer 12, huisletter 'A', huisnummertoevoeging '2'.

    Separate letter/addition columns win over what is glued to the number. Plain numbers
    (almost every row, also written ``53.0`` or ``53,0``) take a vectorised path; only the
    rest goes through the regexes, once per distinct value. Besides the three BAG fields
    the frame has ``huisnummer_opmerking``: what was left out of a written field, if anything.
    """
    n = len(nummer)
    index = nummer.index
    number = numeric(nummer)
    glued_letter = pd.Series(None, index=index, dtype=object)
    glued_addition = pd.Series(None, index=index, dtype=object)
    note = pd.Series(None, index=index, dtype=object)
    odd = (number.isna() | (number % 1 != 0)) & nummer.notna()
    if odd.any():  # parsed once per distinct value, spread back by numpy indexing
        codes, uniques = pd.factorize(nummer[odd])
        parsed = [_house_parts(value) for value in uniques]
        column = np.array([np.nan if p[0] is None else p[0] for p in parsed], dtype="float64")[codes]
        number[odd] = column
        for target, i in ((glued_letter, 1), (glued_addition, 2), (note, 3)):
            values = np.empty(len(parsed), dtype=object)
            values[:] = [p[i] for p in parsed]
            target[odd] = values[codes]
    reasons = no_reasons(n)
    reasons[nummer.isna().to_numpy()] = "huisnummer_ontbreekt"
    bad = (number.isna() | ~number.between(1, 99999)).to_numpy() & nummer.notna().to_numpy()
    reasons[bad] = "huisnummer_ongeldig"

    def pick(column: pd.Series | None, glued: pd.Series, fn: Any) -> pd.Series:
        given = by_unique(column, fn) if column is not None else glued.iloc[0:0]
        merged = given.reindex(index) if column is not None else pd.Series(None, index=index)
        merged = merged.where(merged.notna(), by_unique(glued, fn))
        return merged.astype("object").where(merged.notna(), None)

    huisletter = pick(letter, glued_letter, _letter)
    bad_letter = by_unique(huisletter, lambda v: not re.fullmatch(r"[A-Z]", v)).fillna(False)
    reasons[bad_letter.to_numpy(dtype=bool) & pd.isna(reasons)] = "huisletter_ongeldig"
    addition = pick(toevoeging, glued_addition, _addition)
    bad_addition = by_unique(addition, lambda v: len(v) > 4).fillna(False)
    reasons[bad_addition.to_numpy(dtype=bool) & pd.isna(reasons)] = "toevoeging_ongeldig"
    frame = pd.DataFrame(
        {
            "huisnummer": number.where(~pd.Series(bad, index=index)).astype("Int64"),
            "huisletter": huisletter,
            "huisnummertoevoeging": addition,
            "huisnummer_opmerking": note.where(note.notna() & ~pd.Series(bad, index=index), None),
        },
        index=index,
    )
    return frame, reasons


def _parse_date(value: Any) -> dt.date | None:
    """One date in a rarer form ('5 maart 2024', '2024.03.05'); None when none fits.

    The common forms never reach this: :func:`dates` reads them per column in Arrow.
    """
    raw = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2})?.*$", "", str(value).strip())
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    match = re.fullmatch(r"(\d{1,2})\s+([a-zA-Z]+)\.?\s+(\d{4})", raw)
    if match and match.group(2).lower() in DUTCH_MONTHS:
        try:
            return dt.date(int(match.group(3)), DUTCH_MONTHS[match.group(2).lower()], int(match.group(1)))
        except ValueError:
            return None
    return None


#: The date forms partners write, as RE2 patterns with named parts (read in Arrow, per
#: column). A time after the date is checked where it is part of a compact stamp and
#: otherwise ignored: the stored value is a date.
DATE_PATTERNS = (
    # ISO: 2024-03-05, 2024-3-5, 2024/03/05, with or without a time after it
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})(?:[T ].*)?$",
    # Dutch, day first: 05-03-2024, 5-3-2024, 5/3/2024, 05.03.2024, with or without a time
    r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})(?:[T ].*)?$",
    # compact stamps YYYYMMDD, YYYYMMDDhhmm, YYYYMMDDhhmmss (BVH and other police systems)
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:(?P<h>\d{2})(?P<i>\d{2})(?P<s>\d{2})?)?$",
)
#: A number where a date belongs is an Excel serial date (days since 1899-12-30), as a
#: spreadsheet saved to CSV writes a date cell whose format was lost: 45231 = 2023-11-01.
EXCEL_SERIAL = r"^(?P<n>\d{5})(?:[.,]0+)?$"
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


def _parts(values: pa.Array, pattern: str) -> dict[str, np.ndarray[Any, Any]]:
    """The named parts of ``pattern`` per value as floats (NaN: no match or no such part)."""
    found = pc.extract_regex(values, pattern)
    matched = np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    out: dict[str, np.ndarray[Any, Any]] = {}
    for i, name in enumerate(found.type.names):
        part = pc.cast(pc.if_else(pc.equal(found.field(i), ""), None, found.field(i)), pa.float64())
        numbers = part.to_numpy(zero_copy_only=False).astype("float64")
        numbers[~matched] = np.nan
        out[name] = numbers
    return out


def _calendar(
    year: np.ndarray[Any, Any], month: np.ndarray[Any, Any], day: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Days (datetime64[D]) from parts, NaT where they name no day (31-13-2024, 30-02-2024)."""
    out = np.full(len(year), np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~(np.isnan(year) | np.isnan(month) | np.isnan(day))
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    if not ok.any():
        return out
    first = (year[ok].astype("int64") - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (
        month[ok].astype("int64") - 1
    )
    days = first.astype("datetime64[D]") + (day[ok].astype("int64") - 1)
    fits = days.astype("datetime64[M]") == first  # day 31 of a 30-day month rolls over: no date
    out[np.flatnonzero(ok)[fits]] = days[fits]
    return out


def _read_dates(values: pa.Array) -> np.ndarray[Any, Any]:
    """Days (datetime64[D], NaT where unreadable) of distinct texts, per column in Arrow."""
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[D]")
    for pattern in DATE_PATTERNS:
        parts = _parts(values, pattern)
        days = _calendar(parts["y"], parts["m"], parts["d"])
        if "h" in parts:  # a compact stamp: its time must be a time; second 60 (a leap
            # second, which BVH writes) is 59, and the stored value is the day anyway
            bad = (parts["h"] > 23) | (parts["i"] > 59) | (parts["s"] > 60)
            days[bad] = np.datetime64("NaT")
        todo = np.isnat(out)
        out[todo] = days[todo]
    serial = _parts(values, EXCEL_SERIAL)["n"]
    todo = np.isnat(out) & ~np.isnan(serial)
    out[todo] = EXCEL_EPOCH + serial[todo].astype("int64")
    rest = np.flatnonzero(np.isnat(out) & values.is_valid().to_numpy(zero_copy_only=False))
    if len(rest):  # the rare forms, in Python
        parsed = [_parse_date(v) for v in values.take(pa.array(rest)).to_pylist()]
        known = np.array([d is not None for d in parsed], dtype=bool)
        out[rest[known]] = np.array([d for d in parsed if d is not None], dtype="datetime64[D]")
    return out


def dates(series: pd.Series, *, required: bool, reason: str = "datum") -> tuple[pd.Series, Reasons]:
    """Parse the date forms partners write: ISO, Dutch day-first (d-m-jjjj with - / or .),
    compact stamps of 8, 12 or 14 digits, Excel serial numbers, '5 maart 2024'.

    Day-first, as everywhere in the Netherlands. A date outside 1990 .. next year is
    treated as a typo rather than stored. The common forms are read per column in Arrow
    (a million timestamps, nearly all distinct, would cost seconds per value in Python);
    only what none of them reads goes to the per-value parser.
    """
    raw = text(series)
    # Read each distinct value once: a date column repeats its days; a column of stamps,
    # nearly all distinct, costs the same either way.
    column = pa.array(raw)
    if isinstance(column, pa.ChunkedArray):  # Arrow-backed text; an empty one has no chunk at all
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(pc.cast(column, pa.string()))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    distinct = np.append(_read_dates(encoded.dictionary), np.datetime64("NaT"))
    days = distinct[codes]  # code -1 (missing) takes the NaT appended last
    lower = np.datetime64("1990-01-01", "D")
    upper = np.datetime64(f"{dt.date.today().year + 1}-12-31", "D")
    ok = ~np.isnat(days) & (days >= lower) & (days <= upper)
    parsed = np.full(len(series), None, dtype=object)
    parsed[ok] = days[ok].astype(object)  # datetime.date, as the staging COPY and keys expect
    reasons = no_reasons(len(series))
    reasons[raw.notna().to_numpy() & ~ok] = f"{reason}_ongeldig"
    if required:
        reasons[raw.isna().to_numpy()] = f"{reason}_ontbreekt"
    return pd.Series(parsed, index=series.index, dtype=object), reasons


def before(later: pd.Series, earlier: pd.Series) -> np.ndarray[Any, Any]:
    """Rows where ``later`` is set and lies before ``earlier`` (both date objects)."""
    return np.array(
        [a is not None and b is not None and a < b for a, b in zip(later, earlier, strict=True)],
        dtype=bool,
    )


def integers(series: pd.Series, low: int, high: int, reason: str) -> tuple[pd.Series, Reasons]:
    """Whole numbers in [low, high]; missing stays None, anything else is a reason."""
    raw = text(series)
    number = numeric(raw)
    ok = number.between(low, high) & (number.fillna(0) % 1 == 0)
    reasons = no_reasons(len(series))
    reasons[(raw.notna() & ~ok).to_numpy()] = reason
    return number.where(ok).astype("Int64"), reasons


@dataclass
class CrsDecision:
    """How the run reads coordinates; decided once, on the first batch with geometry.

    ``declared`` is what the file says (or the operator's ``--crs``, then ``forced``: the
    operator's word is taken as it is, only swapped lon/lat pairs are still turned round).
    """

    declared: int | None
    effective: int | None = None
    notes: list[str] = field(default_factory=list)
    forced: bool = False


def _inside(
    xs: np.ndarray[Any, Any],
    ys: np.ndarray[Any, Any],
    bx: tuple[float, float],
    by: tuple[float, float],
) -> np.ndarray[Any, Any]:
    return (xs >= bx[0]) & (xs <= bx[1]) & (ys >= by[0]) & (ys <= by[1])


def _centres(geometry: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    bounds = shapely.bounds(geometry)
    return (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2


def _said(declared: int | None) -> str:
    return "geen coördinatenstelsel" if declared is None else f"EPSG:{declared}"


def decide_crs(decision: CrsDecision, geometry: np.ndarray[Any, Any]) -> None:
    """Catch the classic mistakes at file level, by where the majority of the coordinates lie.

    The rule, for the first batch with geometry (more than half of its features decide):

    - ``--crs`` given: taken as it is.
    - RD New ranges (x -7,000..300,000, y 289,000..629,000) while the file declares WGS84/ETRS89
      or nothing: read as RD New (with a note when something else was declared).
    - Degrees of the Netherlands (lon 3..7.5, lat 50.5..54, either order) while the file
      declares RD New or nothing: read as WGS84 (with a note when RD was declared).
    - Web Mercator metres of the Netherlands (x 320,000..850,000, y 6.4..7.2 million) while the
      file declares no Mercator system: the run stops with a :class:`CrsError` asking for
      ``--crs``. Not guessed, because two systems share that range: Web Mercator (EPSG:3857)
      and World Mercator (EPSG:3395) differ by some 35 km north-south at Groningen's
      latitude, so a guess would put points in the wrong buurt and still inside the country.
    - Nothing declared and the majority in none of these ranges: the run stops, naming an
      example coordinate, instead of rejecting every row as "outside the Netherlands".
    - Otherwise the declared system (RD New when none), row checks do the rest.
    """
    if decision.effective is not None:
        return
    present = geometry[~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)]
    if len(present) == 0:
        return
    declared = decision.declared
    if decision.forced and declared is not None:
        decision.effective = declared
        return
    xs, ys = _centres(present)
    rd = _inside(xs, ys, RD_X, RD_Y).mean()
    wgs = (_inside(xs, ys, WGS_LON, WGS_LAT) | _inside(ys, xs, WGS_LON, WGS_LAT)).mean()
    wm = _inside(xs, ys, WM_X, WM_Y).mean()
    if declared in (None, 4326, 4258) and rd > 0.5:
        decision.effective = 28992
        if declared is not None:
            decision.notes.append(
                f"bestand zegt EPSG:{declared}, maar de coördinaten zijn RD New: gelezen als EPSG:28992"
            )
    elif declared in (None, 28992) and wgs > 0.5:
        decision.effective = 4326
        if declared is not None:
            decision.notes.append(
                "bestand zegt EPSG:28992, maar de coördinaten zijn lengte/breedte: gelezen als WGS84"
            )
    elif wm > 0.5 and declared not in MERCATOR:
        raise CrsError(
            f"de coördinaten lijken Web Mercator (EPSG:3857, bijvoorbeeld {xs[0]:.0f}, {ys[0]:.0f}),"
            f" maar het bestand geeft {_said(declared)} op",
            fix="geef het stelsel mee met --crs 3857 (of --crs 3395 voor World Mercator)",
        )
    elif declared is None and max(rd, wgs, wm) <= 0.5:
        raise CrsError(
            "de coördinaten passen bij geen bekend stelsel voor Nederland (RD New, WGS84, Web"
            f" Mercator; bijvoorbeeld {xs[0]:.6g}, {ys[0]:.6g}) en het bestand geeft er geen op",
            fix="geef het stelsel mee met --crs <EPSG-code>",
        )
    else:
        decision.effective = declared if declared is not None else 28992
        if declared is None:
            decision.notes.append("geen CRS in het bestand: RD New aangenomen")


def _masked(geometry: np.ndarray[Any, Any], keep: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = geometry.copy()
    out[~keep] = None
    return out


_TRANSFORMERS: dict[int, Transformer] = {}


def _to_rd(epsg: int) -> Transformer:
    if epsg not in _TRANSFORMERS:
        try:
            _TRANSFORMERS[epsg] = Transformer.from_crs(epsg, 28992, always_xy=True)
        except CRSError as exc:
            raise CrsError(
                f"EPSG:{epsg} is geen bekend coördinatenstelsel",
                fix="geef een geldig stelsel mee met --crs, bijvoorbeeld --crs 28992 (RD New)",
            ) from exc
    return _TRANSFORMERS[epsg]


def to_rd(decision: CrsDecision, geometry: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], Reasons, int]:
    """Geometry in RD New, with per-row reasons; returns how many rows had lon/lat swapped."""
    decide_crs(decision, geometry)
    reasons = no_reasons(len(geometry))
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    reasons[missing] = "geometrie_ontbreekt"
    out = geometry.copy()
    swapped = 0
    present = ~missing
    if not present.any():
        return out, reasons, swapped
    xs, ys = _centres(_masked(geometry, present))
    epsg = decision.effective or 28992
    if epsg in (4326, 4258):
        flip = present & _inside(ys, xs, WGS_LON, WGS_LAT) & ~_inside(xs, ys, WGS_LON, WGS_LAT)
        if flip.any():
            out[flip] = shapely.transform(out[flip], lambda c: c[:, ::-1])
            swapped = int(flip.sum())
        xs, ys = _centres(_masked(out, present))
        rd_like = present & _inside(xs, ys, RD_X, RD_Y)
        reasons[rd_like] = "crs_verkeerd"
        outside = present & ~rd_like & ~_inside(xs, ys, WGS_LON, WGS_LAT)
        reasons[outside] = "buiten_nederland"
        ok = present & pd.isna(reasons)
        transformer = _to_rd(epsg)
        out[ok] = shapely.transform(
            out[ok], lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
        )
    elif epsg != 28992:
        transformer = _to_rd(epsg)
        out[present] = shapely.transform(
            out[present], lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
        )
    xs, ys = _centres(_masked(out, present))
    unset = present & pd.isna(reasons)
    wgs_like = unset & _inside(xs, ys, WGS_LON, WGS_LAT)
    reasons[wgs_like] = "crs_verkeerd"
    reasons[unset & ~wgs_like & ~_inside(xs, ys, RD_X, RD_Y)] = "buiten_nederland"
    return out, reasons, swapped


def points(geometry: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], Reasons]:
    """Single points only (a one-point MultiPoint is accepted as its point)."""
    reasons = no_reasons(len(geometry))
    types = shapely.get_type_id(geometry)
    multi = types == 4
    single = multi & (shapely.get_num_geometries(geometry) == 1)
    out = geometry.copy()
    out[single] = shapely.get_geometry(geometry[single], 0)
    reasons[(types >= 0) & (types != 0) & ~single] = "geometrie_soort"
    return out, reasons


def multipolygons(geometry: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], Reasons, int]:
    """Valid MultiPolygons; repair only where the repair keeps the area (within 1 %)."""
    reasons = no_reasons(len(geometry))
    out = np.asarray(shapely.force_2d(geometry), dtype=object)
    types = shapely.get_type_id(out)
    polygonal = np.isin(types, (3, 6))
    reasons[(types >= 0) & ~polygonal] = "geometrie_soort"
    invalid = polygonal & ~shapely.is_valid(out)
    repaired = 0
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(out[i], method="structure", keep_collapsed=False)
        if fixed.geom_type == "GeometryCollection":
            fixed = shapely.union_all([g for g in fixed.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
        before = shapely.area(out[i])
        if (
            fixed.is_empty
            or fixed.geom_type not in ("Polygon", "MultiPolygon")
            or (before <= 0 or abs(fixed.area - before) / before > 0.01)
        ):
            reasons[i] = "geometrie_ongeldig"
        else:
            out[i] = fixed
            repaired += 1
    single = shapely.get_type_id(out) == 3
    out[single] = [shapely.MultiPolygon([g]) for g in out[single]]
    return out, reasons, repaired


def ewkb_hex(geometry: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Hex EWKB with SRID 28992: PostGIS reads it straight from COPY."""
    with_srid = shapely.set_srid(geometry, 28992)
    return np.asarray(shapely.to_wkb(with_srid, hex=True, include_srid=True), dtype=object)


def bag_id(series: pd.Series, reason: str) -> tuple[pd.Series, np.ndarray[Any, Any]]:
    """16-digit BAG ids; leading zeros lost in a spreadsheet are put back."""
    cleaned = text(series)
    ok = cleaned.str.fullmatch(BAG_ID.pattern).fillna(False)
    reasons = no_reasons(len(series))
    reasons[(cleaned.notna() & ~ok).to_numpy(dtype=bool)] = reason
    return cleaned.str.zfill(16).where(ok), reasons


def address_key(postcodes: pd.Series, numbers: pd.DataFrame) -> pd.Series:
    """The stable key of an address without BAG id: ``A:9712KB:2:A:1``."""
    return (
        "A:"
        + postcodes.fillna("").astype(str)
        + ":"
        + numbers["huisnummer"].astype(TEXT).fillna("")
        + ":"
        + numbers["huisletter"].fillna("").astype(str)
        + ":"
        + numbers["huisnummertoevoeging"].fillna("").astype(str)
    )
