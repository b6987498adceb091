"""Secondary suppression (issue #12, docs/architecture.md §7): no withheld count can be pinned to 1..k-1.

The attack here is written apart from core.disclosure's own: groups found row by row through
dictionaries, bounds tightened one group at a time (Gauss-Seidel, with real infinities)
until a full sweep changes nothing. It runs on what ``withhold`` publishes for generated
tables and for hand-made ones whose primary suppression alone is shown to be exposed first,
so that every case tests something. No database is needed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.disclosure import withhold
from core.domain import THEMAS

COLUMNS = ["soort", "code", "ouder", "periode", "periode_soort", "jaar", "thema", "waarde"]
Key = tuple[str, str, str, str]  # soort, code, periode, thema; hidden parts: (part, *window key)
NO_WINDOWS: Mapping[str, dt.date] = {}


# -- the independent attack -------------------------------------------------------------------


def published(waarde: int) -> int:
    """PostgreSQL's round(waarde / 5.0) * 5: halves away from zero."""
    return math.floor(waarde / 5 + 0.5) * 5


def group_equations(
    rows: pd.DataFrame, hierarchies: Iterable[str], vensters: Mapping[str, dt.date] = NO_WINDOWS
) -> list[tuple[Key, list[Key]]]:
    """(parent, children) of every group; children missing from the table are zeros and
    simply absent, and a parent missing from the table makes no group."""
    present = {(r.soort, r.code, r.periode, r.thema) for r in rows.itertuples()}
    children: dict[tuple[str, Key], list[Key]] = defaultdict(list)
    for r in rows.itertuples():
        key = (r.soort, r.code, r.periode, r.thema)
        parents = []
        if "gebied" in hierarchies and isinstance(r.ouder, str):
            boven = {"buurt": "wijk", "wijk": "gemeente"}.get(r.soort)
            if boven:
                parents.append(("gebied", (boven, r.ouder, r.periode, r.thema)))
        if "periode" in hierarchies and r.periode_soort == "kwartaal":
            parents.append(("periode", (r.soort, r.code, r.jaar, r.thema)))
        if "thema" in hierarchies and r.thema != "alle":
            parents.append(("thema", (r.soort, r.code, r.periode, "alle")))
        for hierarchy, parent in parents:
            if parent in present:
                children[(hierarchy, parent)].append(key)
    groups = [(parent, kids) for (_, parent), kids in children.items()]
    if "periode" in hierarchies:
        groups += window_equations(rows, vensters)
    return groups


def quarter_span(periode: str) -> tuple[dt.date, dt.date]:
    """First day and the day after a quarter ``YYYY-Kq``."""
    year, q = int(periode[:4]), int(periode[-1])
    first = dt.date(year, 3 * q - 2, 1)
    return first, (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1))


def window_equations(rows: pd.DataFrame, vensters: Mapping[str, dt.date]) -> list[tuple[Key, list[Key]]]:
    """Windows end on the newest day of the data: a window is the quarters that begin in it
    plus a hidden part R of the quarter it begins in (which is R plus a hidden rest S); of two
    windows at one place the longer is the shorter plus a hidden difference D."""
    quarters: dict[tuple[str, str, str], list[tuple[Key, str]]] = defaultdict(list)
    windows: dict[tuple[str, str, str], list[Key]] = defaultdict(list)
    for r in rows.itertuples():
        place = (r.soort, r.code, r.thema)
        if r.periode_soort == "kwartaal":
            quarters[place].append(((r.soort, r.code, r.periode, r.thema), r.periode))
        elif r.periode_soort == "venster":
            windows[place].append((r.soort, r.code, r.periode, r.thema))
    groups: list[tuple[Key, list[Key]]] = []
    for place, keys in windows.items():
        keys.sort(key=lambda key: vensters[key[2]])
        for key in keys:
            first = vensters[key[2]]
            kids = []
            for quarter, periode in quarters[place]:
                start, end = quarter_span(periode)
                if start >= first:
                    kids.append(quarter)
                elif end > first:
                    part, rest = ("R", *key), ("S", *key)
                    kids.append(part)  # type: ignore[arg-type]
                    groups.append((quarter, [part, rest]))  # type: ignore[list-item]
            groups.append((key, kids))
        for outer, inner in itertools.pairwise(keys):
            groups.append((outer, [inner, ("D", *outer)]))  # type: ignore[list-item]
    return groups


def attack(
    rows: pd.DataFrame,
    mask: np.ndarray,
    k: int,
    hierarchies: Iterable[str],
    vensters: Mapping[str, dt.date] = NO_WINDOWS,
) -> dict[Key, tuple[float, float]]:
    """The attacker's interval of every cell (and hidden part) after propagation to a fixed point."""
    bounds: dict[Key, list[float]] = {}
    for r, hidden in zip(rows.itertuples(), mask, strict=True):
        p = published(r.waarde)
        bounds[(r.soort, r.code, r.periode, r.thema)] = [0, math.inf] if hidden else [max(p - 2, k), p + 2]
    groups = group_equations(rows, hierarchies, vensters)
    for _, kids in groups:
        for kid in kids:
            bounds.setdefault(kid, [0, math.inf])  # a hidden part: nobody publishes it
    changed = True
    while changed:
        changed = False
        for parent, kids in groups:
            pb = bounds[parent]
            lo_sum = sum(bounds[c][0] for c in kids)
            hi_sum = sum(bounds[c][1] for c in kids)
            if lo_sum > pb[0]:
                pb[0], changed = lo_sum, True
            if hi_sum < pb[1]:
                pb[1], changed = hi_sum, True
            for c in kids:
                others_lo = sum(bounds[o][0] for o in kids if o != c)
                others_hi = sum(bounds[o][1] for o in kids if o != c)
                cb = bounds[c]
                if pb[0] - others_hi > cb[0]:
                    cb[0], changed = pb[0] - others_hi, True
                if pb[1] - others_lo < cb[1]:
                    cb[1], changed = pb[1] - others_lo, True
    assert all(lo <= hi for lo, hi in bounds.values()), "the attack contradicts the true table"
    return {key: (lo, hi) for key, (lo, hi) in bounds.items()}


def exposed(
    rows: pd.DataFrame,
    mask: np.ndarray,
    k: int,
    hierarchies: Iterable[str] = ("gebied", "periode", "thema"),
    vensters: Mapping[str, dt.date] = NO_WINDOWS,
) -> list[Key]:
    """Withheld cells and hidden parts the attack proves to lie in 1..k-1."""
    bounds = attack(rows, mask, k, tuple(hierarchies), vensters)
    shown = {
        (r.soort, r.code, r.periode, r.thema)
        for r, hidden in zip(rows.itertuples(), mask, strict=True)
        if not hidden
    }
    return [key for key, (lo, hi) in bounds.items() if key not in shown and lo >= 1 and hi <= k - 1]


# -- tables -----------------------------------------------------------------------------------


def cube(
    leaves: dict[tuple[str, str, str], int],
    wijk_of: dict[str, str],
    *,
    quarters: bool = True,
    themes: bool = True,
    drop_zeros: bool = False,
) -> pd.DataFrame:
    """A consistent table from leaf counts per (area, 'YYYY-Kq', theme): buurten and business
    parks (areas without a wijk) add up to wijken and the gemeente, quarters to years, themes
    to ``alle``. Without quarters (themes) only years (``alle``) are kept."""
    totals: dict[Key, int] = defaultdict(int)
    ouder: dict[tuple[str, str], str | None] = {}
    for (area, kwartaal, thema), value in leaves.items():
        if area in wijk_of:
            areas = [("buurt", area), ("wijk", wijk_of[area]), ("gemeente", "GM0014")]
            ouder[("buurt", area)], ouder[("wijk", wijk_of[area])] = wijk_of[area], "GM0014"
        else:
            areas = [("bedrijventerrein", area)]
        for soort, code in areas:
            ouder.setdefault((soort, code), None)
            for periode in (kwartaal, kwartaal[:4]) if quarters else (kwartaal[:4],):
                for t in (thema, "alle") if themes else ("alle",):
                    totals[(soort, code, periode, t)] += value
    rows = [
        (
            soort,
            code,
            ouder[(soort, code)],
            periode,
            "kwartaal" if "-" in periode else "jaar",
            periode[:4],
            thema,
            v,
        )
        for (soort, code, periode, thema), v in sorted(totals.items())
        if v or not drop_zeros
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    """Small consistent tables with many small counts: 1-3 wijken of 1-4 buurten, perhaps a
    business park, 1-2 years of quarters, 1-3 themes; zero cells present or left out."""
    wijk_of = {}
    for w in range(draw(st.integers(1, 3))):
        for b in range(draw(st.integers(1, 4))):
            wijk_of[f"BU0014{w:02d}{b:02d}"] = f"WK0014{w:02d}"
    areas = [*wijk_of, *(["BT001"] if draw(st.booleans()) else [])]
    quarters = [f"{y}-K{q}" for y in range(2023, 2023 + draw(st.integers(1, 2))) for q in range(1, 5)]
    themes = draw(st.lists(st.sampled_from(THEMAS), min_size=1, max_size=3, unique=True))
    cells = [(a, q, t) for a in areas for q in quarters for t in themes]
    count = st.one_of(st.integers(0, 4), st.integers(0, 12), st.integers(0, 60))
    values = draw(st.lists(count, min_size=len(cells), max_size=len(cells)))
    return cube(dict(zip(cells, values, strict=True)), wijk_of, drop_zeros=draw(st.booleans()))


def skewed(seed: int, n_wijken: int, n_buurten: int, years: int) -> pd.DataFrame:
    """A refresh-sized table: buurten of lognormal intensity, themes of unequal share,
    Poisson counts per buurt, quarter and theme, so most cells are small."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n_buurten - n_wijken, np.full(n_wijken, 1 / n_wijken)) + 1
    wijk_of = {f"BU{b:06d}": f"WK{w:04d}" for b, w in enumerate(np.repeat(np.arange(n_wijken), sizes))}
    rate = dict(zip(wijk_of, rng.lognormal(0.5, 1.0, n_buurten), strict=True))
    share = dict(zip(THEMAS, (0.35, 0.03, 0.12, 0.15, 0.08, 0.07, 0.05, 0.15), strict=True))
    quarters = [f"{y}-K{q}" for y in range(2020, 2020 + years) for q in range(1, 5)]
    leaves = {
        (b, q, t): int(rng.poisson(12 * rate[b] * share[t]))
        for b in wijk_of
        for q in quarters
        for t in THEMAS
    }
    return cube(leaves, wijk_of)


def windowed(
    segments: dict[tuple[str, dt.date, str], int], wijk_of: dict[str, str], vensters: Mapping[str, dt.date]
) -> pd.DataFrame:
    """A consistent table with rolling windows, from counts per (area, first day of a stretch
    of days, theme): stretches never cross a quarter's or a window's first day, and nothing
    lies after the newest stretch, where the windows end. Quarters and years come from
    :func:`cube`, and so do the windows: each window's stretches summed as one period."""

    def quarter(day: dt.date) -> str:
        return f"{day.year}-K{(day.month - 1) // 3 + 1}"

    leaves: dict[tuple[str, str, str], int] = defaultdict(int)
    for (area, day, thema), value in segments.items():
        leaves[(area, quarter(day), thema)] += value
    parts = [cube(dict(leaves), wijk_of)]
    for label, first in vensters.items():
        inside: dict[tuple[str, str, str], int] = defaultdict(int)
        for (area, day, thema), value in segments.items():
            if day >= first:
                inside[(area, "2000-K1", thema)] += value
        window = cube(dict(inside), wijk_of, quarters=False)
        parts.append(window.assign(periode=label, periode_soort="venster", jaar=label[:4]))
    return pd.concat(parts, ignore_index=True)


@st.composite
def windowed_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, dt.date]]:
    """Small consistent tables with both windows, ending on a quarter's last day (the 365-day
    window is then four whole quarters) or within a quarter, and many small counts."""
    last = draw(st.sampled_from([dt.date(2025, 12, 31), dt.date(2025, 11, 15), dt.date(2025, 10, 20)]))
    vensters = {"laatste365d": last - dt.timedelta(days=364), "laatste28d": last - dt.timedelta(days=27)}
    starts = {dt.date(y, m, 1) for y in (2024, 2025) for m in (1, 4, 7, 10)} | set(vensters.values())
    days = sorted(d for d in starts if d <= last)
    wijk_of = {f"BU{b}": "WK1" for b in range(draw(st.integers(1, 3)))}
    areas = [*wijk_of, *(["BT1"] if draw(st.booleans()) else [])]
    themes = draw(st.lists(st.sampled_from(THEMAS), min_size=1, max_size=2, unique=True))
    keys = [(a, d, t) for a in areas for d in days for t in themes]
    count = st.one_of(st.integers(0, 3), st.integers(0, 12))
    values = draw(st.lists(count, min_size=len(keys), max_size=len(keys)))
    return windowed(dict(zip(keys, values, strict=True)), wijk_of, vensters), vensters


def cells_of(rows: pd.DataFrame, **where: str) -> pd.Series:
    """Rows matching every column = value given."""
    match = pd.Series(True, index=rows.index)
    for column, value in where.items():
        match &= rows[column] == value
    return match


# -- properties -------------------------------------------------------------------------------


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(rows=tables(), k=st.sampled_from([5, 10, 15]))
def test_no_withheld_cell_is_pinned_to_a_small_count(rows: pd.DataFrame, k: int) -> None:
    mask = withhold(rows, k)
    assert mask.dtype == np.bool_ and mask.shape == (len(rows),)
    primary = (rows["waarde"] < k).to_numpy()
    assert (mask | ~primary).all(), "a small count is published"
    assert exposed(rows, mask, k) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    rows=tables(),
    hierarchies=st.lists(
        st.sampled_from(["gebied", "periode", "thema"]), min_size=1, max_size=3, unique=True
    ),
)
def test_only_the_named_hierarchies_are_defended(rows: pd.DataFrame, hierarchies: list[str]) -> None:
    """A publication that shows fewer hierarchies needs protection against those only."""
    mask = withhold(rows, 10, tuple(hierarchies))
    assert (mask | (rows["waarde"] >= 10).to_numpy()).all()
    assert exposed(rows, mask, 10, hierarchies) == []


def test_a_refresh_sized_table() -> None:
    """Sixty buurten in eight wijken, two years of quarters, all themes, skewed counts: larger
    than hypothesis draws, with cells that primary suppression alone leaves exposed."""
    rows = skewed(seed=7, n_wijken=8, n_buurten=60, years=2)
    assert exposed(rows, (rows["waarde"] < 10).to_numpy(), 10), "primary suppression alone already holds"
    mask = withhold(rows, 10)
    assert (mask | (rows["waarde"] >= 10).to_numpy()).all()
    assert exposed(rows, mask, 10) == []


def test_nothing_small_withholds_nothing() -> None:
    leaves = {
        (b, f"2024-K{q}", t): 20 + 7 * q + len(b)
        for b in ("BU1", "BU2", "BU3")
        for q in range(1, 5)
        for t in THEMAS[:3]
    }
    rows = cube(leaves, {"BU1": "WK1", "BU2": "WK1", "BU3": "WK1"})
    assert not withhold(rows, 10).any()


def test_zeros_alone_need_no_complement() -> None:
    """Proving a count to be 0 discloses nothing: a lone zero buurt stays the only one withheld."""
    rows = cube(
        {("BU1", "2024-K1", "drugs"): 0, ("BU2", "2024-K1", "drugs"): 40},
        {"BU1": "WK1", "BU2": "WK1"},
        quarters=False,
        themes=False,
    )
    mask = withhold(rows, 10)
    assert rows.loc[mask, "code"].tolist() == ["BU1"]


# -- hand-made: one withheld cell in a group gets a complement -------------------------------


def complemented(rows: pd.DataFrame, k: int, sick: pd.Series, group: pd.Series) -> pd.DataFrame:
    """Check the case is exposed under primary suppression and protected after; return the
    cells withheld besides the primary one(s) within the group."""
    primary = (rows["waarde"] < k).to_numpy()
    assert primary[sick.to_numpy()].all()
    assert exposed(rows, primary, k), "the case does not expose anything to begin with"
    mask = withhold(rows, k)
    assert exposed(rows, mask, k) == []
    assert (mask | ~primary).all()
    return rows[mask & ~primary & group.to_numpy()]


def test_a_wijk_with_one_withheld_buurt() -> None:
    """Buurten 8, 20, 30 of a wijk of 58: published 20 ([20, 22]), 30 and 60 leave 4..14 for the
    small one, so with k = 20 it is pinned; the complement is the smallest published sibling."""
    wijk_of = {"BU1": "WK1", "BU2": "WK1", "BU3": "WK1"}
    leaves = {
        ("BU1", "2024-K1", "drugs"): 8,
        ("BU2", "2024-K1", "drugs"): 20,
        ("BU3", "2024-K1", "drugs"): 30,
    }
    rows = cube(leaves, wijk_of, quarters=False, themes=False)
    extra = complemented(rows, 20, cells_of(rows, code="BU1"), rows["soort"].isin(["buurt", "wijk"]))
    assert extra["code"].tolist() == ["BU2"]


def test_a_wijk_of_two_buurten_in_a_gemeente() -> None:
    """k = 10. A wijk of two buurten (5 and 40) in a gemeente of two wijken: the 5 lies in 1..9
    for anyone; the sibling is the complement, not the wijk, which would need one more in
    the gemeente."""
    wijk_of = {"BU1": "WK1", "BU2": "WK1", "BU3": "WK2"}
    leaves = {
        ("BU1", "2024-K1", "drugs"): 5,
        ("BU2", "2024-K1", "drugs"): 40,
        ("BU3", "2024-K1", "drugs"): 50,
    }
    rows = cube(leaves, wijk_of, quarters=False, themes=False)
    extra = complemented(rows, 10, cells_of(rows, code="BU1"), pd.Series(True, index=rows.index))
    assert extra["code"].tolist() == ["BU2"]


def test_a_year_with_one_withheld_quarter() -> None:
    """Quarters 8, 20, 20, 20 of a year of 68 (published 70): 2..12 for the first, pinned at
    k = 20; the complement is one of the other quarters (all 20, the least informative)."""
    leaves = {("BT1", f"2024-K{q}", "drugs"): v for q, v in zip(range(1, 5), (8, 20, 20, 20), strict=True)}
    rows = cube(leaves, {}, themes=False)
    extra = complemented(rows, 20, cells_of(rows, periode="2024-K1"), pd.Series(True, index=rows.index))
    assert extra["periode_soort"].tolist() == ["kwartaal"]


def test_a_year_with_one_withheld_quarter_and_two_empty_ones() -> None:
    """k = 10. Quarters 5 and 15 (two more without signals, so absent: known zeros) of a
    year of 20: the 5 lies in 1..9 for anyone; the complement is the only published quarter."""
    leaves = {("BT1", "2024-K1", "drugs"): 5, ("BT1", "2024-K2", "drugs"): 15, ("BT1", "2024-K3", "drugs"): 0}
    rows = cube(leaves, {}, themes=False, drop_zeros=True)
    extra = complemented(rows, 10, cells_of(rows, periode="2024-K1"), pd.Series(True, index=rows.index))
    assert extra["periode"].tolist() == ["2024-K2"]


def test_alle_with_one_withheld_theme() -> None:
    """Themes 8, 20, 25, 30 and four without signals (absent: known zeros) under an ``alle``
    of 83 (published 85): the 8 lies in 2..16 for anyone, pinned at k = 20; the complement is
    the smallest published theme."""
    counts = dict(zip(THEMAS, (8, 20, 25, 30, 0, 0, 0, 0), strict=True))
    leaves = {("BT1", "2024-K1", t): v for t, v in counts.items()}
    rows = cube(leaves, {}, quarters=False, drop_zeros=True)
    extra = complemented(rows, 20, cells_of(rows, thema="drugs"), pd.Series(True, index=rows.index))
    assert extra["thema"].tolist() == ["mensenhandel"]


def test_a_complement_that_is_itself_pinned_gets_one_of_its_own() -> None:
    """Two buurten by two themes, every margin published, k = 10: a lone small cell needs a
    rectangle (the classical hypercube in two dimensions), as one complement in its row is
    still recovered through its column; the margins stay published."""
    leaves = {
        ("BU1", "2024-K1", "drugs"): 4,
        ("BU1", "2024-K1", "vastgoed"): 30,
        ("BU2", "2024-K1", "drugs"): 25,
        ("BU2", "2024-K1", "vastgoed"): 35,
    }
    rows = cube(leaves, {"BU1": "WK1", "BU2": "WK1"}, quarters=False)
    extra = complemented(
        rows, 10, cells_of(rows, code="BU1", thema="drugs"), pd.Series(True, index=rows.index)
    )
    assert sorted(zip(extra["code"], extra["thema"], strict=True)) == [
        ("BU1", "vastgoed"),
        ("BU2", "drugs"),
        ("BU2", "vastgoed"),
    ]


# -- input checks -----------------------------------------------------------------------------


def test_a_table_that_does_not_add_up_is_refused() -> None:
    rows = cube(
        {("BU1", "2024-K1", "drugs"): 5, ("BU2", "2024-K1", "drugs"): 15},
        {"BU1": "WK1", "BU2": "WK1"},
        quarters=False,
        themes=False,
    )
    rows.loc[rows["soort"] == "wijk", "waarde"] += 1
    with pytest.raises(ValueError, match="do not add up"):
        withhold(rows, 10)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.drop(columns="ouder"), "lacks columns"),
        (lambda r: pd.concat([r, r.iloc[:1]]), "more than once"),
        (lambda r: r.assign(waarde=-r["waarde"]), "non-negative"),
        (lambda r: r.assign(waarde=r["waarde"] + 0.5), "non-negative integer"),
        (lambda r: r.assign(soort="provincie"), "soort must be"),
        (lambda r: r.assign(periode_soort="maand"), "periode_soort must be"),
        (lambda r: r.assign(jaar=None), "only ouder may be missing"),
    ],
)
def test_bad_input_is_refused(change: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    rows = cube({("BU1", "2024-K1", "drugs"): 5}, {"BU1": "WK1"}, quarters=False, themes=False)
    with pytest.raises(ValueError, match=message):
        withhold(change(rows), 10)


def test_an_unknown_hierarchy_is_refused() -> None:
    rows = cube({("BU1", "2024-K1", "drugs"): 5}, {"BU1": "WK1"}, quarters=False, themes=False)
    with pytest.raises(ValueError, match="unknown hierarchies"):
        withhold(rows, 10, ("gebied", "maand"))


# -- rolling windows ---------------------------------------------------------------------------


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(table=windowed_tables(), k=st.sampled_from([5, 10]))
def test_windows_give_no_withheld_quarter_away(
    table: tuple[pd.DataFrame, dict[str, dt.date]], k: int
) -> None:
    rows, vensters = table
    mask = withhold(rows, k, vensters=vensters)
    assert (mask | (rows["waarde"] >= k).to_numpy()).all(), "a small count is published"
    assert exposed(rows, mask, k, vensters=vensters) == []


def test_a_year_long_window_ending_on_a_quarters_last_day_is_four_quarters() -> None:
    """k = 10. Quarters 3 and 20 (the two before them without signals), a window of the last
    365 days up to 31 December of 23 (published 25: 23..27): with the quarter of 20 published
    (18..22) the 3 lies in 1..9 for anyone who knows the window ends on the 31st. Treated as no
    sum of quarters the window left it exposed; now something beside it is withheld."""
    vensters = {"laatste365d": dt.date(2025, 1, 1)}
    segments = {("BT1", dt.date(2025, 7, 1), "drugs"): 3, ("BT1", dt.date(2025, 10, 1), "drugs"): 20}
    rows = windowed(segments, {}, vensters)
    rows = rows[rows["thema"] == "alle"].reset_index(drop=True)
    primary = (rows["waarde"] < 10).to_numpy()
    assert exposed(rows, primary, 10, vensters=vensters), "the case does not expose anything to begin with"
    assert withhold(rows, 10, vensters=vensters).sum() > primary.sum()
    assert exposed(rows, withhold(rows, 10, vensters=vensters), 10, vensters=vensters) == []


def test_a_window_bounds_the_quarter_it_begins_in() -> None:
    """k = 10. A window of 365 days that begins in mid-quarter: it holds the 20 of the
    quarters after its first day and 6 of the 8 of the quarter it begins in, 26 (published
    25: 23..27); so that quarter holds at least 1 and, as a year of 28 (published 30) tells,
    at most 12: 1..9 once the other quarter's rounding is counted. The equations that say so
    involve a part of a quarter nobody publishes."""
    vensters = {"laatste365d": dt.date(2025, 2, 15)}
    segments = {
        ("BT1", dt.date(2025, 1, 1), "drugs"): 2,
        ("BT1", dt.date(2025, 2, 15), "drugs"): 6,
        ("BT1", dt.date(2025, 4, 1), "drugs"): 20,
    }
    rows = windowed(segments, {}, vensters)
    rows = rows[rows["thema"] == "alle"].reset_index(drop=True)
    mask = withhold(rows, 10, vensters=vensters)
    assert mask[cells_of(rows, periode="2025-K1").to_numpy()].all()
    assert exposed(rows, mask, 10, vensters=vensters) == []


def test_windows_need_their_first_day() -> None:
    """Without it the period equations cannot hold the windows: refused, not guessed."""
    vensters = {"laatste365d": dt.date(2025, 1, 1)}
    rows = windowed({("BT1", dt.date(2025, 10, 1), "drugs"): 20}, {}, vensters)
    with pytest.raises(ValueError, match="first day of windows"):
        withhold(rows, 10)
    assert len(withhold(rows, 10, ("gebied", "thema"))) == len(rows)


def test_windows_that_do_not_fit_their_quarters_are_refused() -> None:
    vensters = {"laatste365d": dt.date(2025, 1, 1)}
    rows = windowed({("BT1", dt.date(2025, 10, 1), "drugs"): 20}, {}, vensters)
    rows.loc[rows["periode"] == "laatste365d", "waarde"] += 1
    with pytest.raises(ValueError, match="windows do not fit"):
        withhold(rows, 10, vensters=vensters)
