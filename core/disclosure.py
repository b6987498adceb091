"""Secondary suppression: which counts to withhold so that differencing reveals no small one.

Aggregate-only principals get counts per area, period and theme with counts below k withheld
and the rest rounded to 5 (docs/architecture.md §7). The published cells are linked: a wijk is the sum of its
buurten and a gemeente of its wijken, a year of its quarters, ``alle`` of the themes. With only
the small cells withheld (primary suppression), subtracting the published siblings from the
parent recovers or bounds them. :func:`withhold` adds the cells (secondary suppression) that
keep the attack below from proving any withheld cell to lie in 1..k-1.

The attacker knows every published value P (the true value lies in P-2..P+2 and, as it was
published, is at least k), knows withheld values are at least 0, and knows the group equations
(parent = sum of children; a cell of a group missing from the table is a published zero). It
narrows every cell's interval by propagating bounds through all groups of all hierarchies until
nothing changes. A withheld cell is *exposed* when its interval lies within 1..k-1; proving a
cell 0 discloses nothing, as no signals is what a missing cell says openly.

Rolling windows (``periode_soort`` ``venster``) end on the newest day of the class's data,
so nothing lies after them, and the attacker knows their first day. A window is then the sum
of the quarters that begin inside it plus the part of the one quarter it starts in, and
windows ending together nest: a window of 365 days ending on a quarter's last day *is* four
quarters, and one ending elsewhere bounds the quarter it starts in from below. Those parts
are cells nobody publishes (*hidden parts*: the part ``R`` of a quarter inside the window,
the rest ``S`` of that quarter, the difference ``D`` of two nested windows) and enter the
attack as withheld cells with three more equations: ``window = contained quarters + R``,
``quarter = R + S``, ``outer window = inner window + D``. A hidden part pinned to 1..k-1 is
exposed like any cell: it is a count of real days.

Rounding: a published count is ``(waarde + 2) // 5 * 5``. For a non-negative integer this is
PostgreSQL's ``round(waarde / 5.0) * 5`` (halves away from zero), and as waarde / 5 is never a
half for an integer, every rounding rule agrees with it; integer arithmetic keeps floats out.

Pure numpy and pandas, no database: the refresh hands in the table and stores the mask.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.domain import GEBIED_SOORTEN

_HIERARCHIES = ("gebied", "periode", "thema")
_COLUMNS = ("soort", "code", "ouder", "periode", "periode_soort", "jaar", "thema", "waarde")
_KEY = ["soort", "code", "periode", "thema"]
#: Stands for "no upper bound". Any bound at or above _UNBOUNDED is raised to _INF again, so
#: that ``_INF - 3`` cannot start a descent of 2**40 propagation steps.
_INF = np.int64(1 << 40)
_UNBOUNDED = np.int64(1 << 39)

_Ints = npt.NDArray[np.int64]
_Mask = npt.NDArray[np.bool_]


def withhold(
    cells: pd.DataFrame,
    k: int,
    hierarchies: tuple[str, ...] = ("gebied", "periode", "thema"),
    vensters: Mapping[str, dt.date] | None = None,
) -> np.ndarray:
    """True for every cell to withhold: primary (waarde < k) plus secondary.

    The mask follows the rows of ``cells`` by position. Secondary cells are added until the
    attack of this module's docstring exposes no withheld cell; every round withholds at least
    one more cell, so it ends (at worst with everything linked to a small cell withheld).
    ``vensters``: the first day of each rolling window in ``cells`` (all of them end on the
    newest day of the data); required with the ``periode`` hierarchy when windows are present,
    as a window left out of the period equations could give a withheld quarter away.
    """
    unknown = sorted(set(hierarchies) - set(_HIERARCHIES))
    if unknown:
        raise ValueError(f"unknown hierarchies {unknown}: choose from {_HIERARCHIES}")
    waarde = _validated_waarde(cells)
    real = len(waarde)
    named = tuple(h for h in _HIERARCHIES if h in hierarchies)
    parts = _WindowParts.of(cells, waarde, vensters or {}) if "periode" in named else _WindowParts.none()
    waarde = np.concatenate([waarde, parts.waarde])
    withheld = np.concatenate([waarde[:real] < k, np.ones(len(parts.waarde), dtype=np.bool_)])
    groups = _Groups.build(cells, named, waarde, parts.equations)
    if groups.count == 0 or k <= 1:
        return withheld[:real]
    published = (waarde + 2) // 5 * 5
    while True:
        lo, hi = groups.attack(
            np.where(withheld, 0, np.maximum(published - 2, k)),
            np.where(withheld, _INF, published + 2),
        )
        exposed = withheld & (lo >= 1) & (hi <= k - 1)
        if not exposed.any():
            return withheld[:real]
        if groups.complements(withheld, exposed, waarde) == 0:
            raise RuntimeError("an exposed cell without a published cell linked to it")


def _validated_waarde(cells: pd.DataFrame) -> _Ints:
    """The counts as int64, after checking the columns the groups are built from."""
    missing = [c for c in _COLUMNS if c not in cells.columns]
    if missing:
        raise ValueError(f"cells lacks columns {missing}")
    if cells.duplicated(_KEY).any():
        first = cells.loc[cells.duplicated(_KEY), _KEY].iloc[0].tolist()
        raise ValueError(f"cells holds {first} more than once")
    if cells[list(_COLUMNS[:2] + _COLUMNS[3:])].isna().any().any():
        raise ValueError("only ouder may be missing")
    if not cells["soort"].isin(GEBIED_SOORTEN).all():
        raise ValueError(f"soort must be one of {GEBIED_SOORTEN}")
    # Rolling windows (venster) enter the period equations through _WindowParts.
    if not cells["periode_soort"].isin(("jaar", "kwartaal", "venster")).all():
        raise ValueError("periode_soort must be jaar, kwartaal or venster")
    raw = cells["waarde"]
    if not pd.api.types.is_numeric_dtype(raw):
        raise ValueError("waarde must be a count in every row")
    waarde = raw.to_numpy(dtype=np.float64)
    if (waarde < 0).any() or (waarde != np.floor(waarde)).any() or (waarde >= _UNBOUNDED).any():
        raise ValueError("waarde must be a non-negative integer")
    return waarde.astype(np.int64)


@dataclass(frozen=True)
class _Groups:
    """Every group equation ``parent = sum(children)`` of the table, as flat index arrays.

    A group is ``(hierarchy, parent cell)``; it exists when the parent and at least one child
    are in the table (a missing child is a known zero and drops out of the sum). Child edges are
    sorted by group and memberships by cell, so that group sums and per-cell bounds are each
    one ``reduceat`` over all groups of all hierarchies.
    """

    parent: _Ints  # per group: the parent cell
    child_group: _Ints  # per child edge, sorted: its group
    child_cell: _Ints  # per child edge: the child cell
    child_start: _Ints  # per group: the first of its child edges
    member_group: _Ints  # per membership (parent and children), sorted by cell: the group
    member_cell: _Ints  # per membership, sorted by cell: the cell
    cell_start: _Ints  # per cell that has a membership: the first of them
    cell_ids: _Ints  # those cells

    @property
    def count(self) -> int:
        return len(self.parent)

    @classmethod
    def build(
        cls,
        cells: pd.DataFrame,
        hierarchies: tuple[str, ...],
        waarde: _Ints,
        extra: tuple[_Ints, _Ints, _Ints] | None = None,
    ) -> _Groups:
        """The groups of the named hierarchies, plus ``extra`` (hierarchy, parent, child)
        edges whose cells may lie beyond the table's rows (hidden parts)."""
        hierarchy, parent_cell, child = _equations(cells, hierarchies)
        if extra is not None:
            hierarchy, parent_cell, child = (
                np.concatenate([a, b]) for a, b in zip((hierarchy, parent_cell, child), extra, strict=True)
            )
        order = np.lexsort((child, parent_cell, hierarchy))
        hierarchy, parent_cell, child_cell = hierarchy[order], parent_cell[order], child[order]
        new_group = np.r_[True, (hierarchy[1:] != hierarchy[:-1]) | (parent_cell[1:] != parent_cell[:-1])]
        new_group = new_group[: len(child_cell)]
        child_group = np.cumsum(new_group, dtype=np.int64) - 1
        child_start = np.flatnonzero(new_group).astype(np.int64)
        parent = parent_cell[child_start]
        _check_sums(cells, waarde, parent, child_group, child_cell, child_start)

        cell = np.concatenate([parent, child_cell])
        group = np.concatenate([np.arange(len(parent), dtype=np.int64), child_group])
        order = np.lexsort((group, cell))
        member_cell, member_group = cell[order], group[order]
        first = np.flatnonzero(np.r_[True, member_cell[1:] != member_cell[:-1]]) if len(cell) else _ints([])
        return cls(
            parent=parent,
            child_group=child_group,
            child_cell=child_cell,
            child_start=child_start,
            member_group=member_group,
            member_cell=member_cell,
            cell_start=first.astype(np.int64),
            cell_ids=member_cell[first],
        )

    def attack(self, lo: _Ints, hi: _Ints) -> tuple[_Ints, _Ints]:
        """The attacker's intervals: bounds propagated through every group until none moves.

        Each round applies every group at once: a parent lies within the sums of its
        children's bounds, a child within the parent's bounds minus the other children's.
        Every step only removes values the equations rule out, so the true table stays inside
        and the fixed point is the one the attacker reaches in any order.
        """
        lo, hi = lo.copy(), hi.copy()
        members = np.concatenate([self.parent, self.child_cell])
        order = np.argsort(members, kind="stable")
        starts = np.flatnonzero(np.r_[True, members[order][1:] != members[order][:-1]])
        targets = members[order][starts]
        g = self.child_group
        while True:
            child_lo, child_hi = lo[self.child_cell], hi[self.child_cell]
            sum_lo = np.add.reduceat(child_lo, self.child_start)
            sum_hi = np.add.reduceat(child_hi, self.child_start)
            parent_lo, parent_hi = lo[self.parent], hi[self.parent]
            # Children's sums never overflow: at most 2**40 per child and far fewer than 2**23
            # children per group, so "the others" is the sum minus the child, exactly.
            new_lo = np.concatenate([sum_lo, parent_lo[g] - (sum_hi[g] - child_hi)])
            new_hi = np.concatenate([sum_hi, parent_hi[g] - (sum_lo[g] - child_lo)])
            best_lo = np.maximum.reduceat(new_lo[order], starts)
            best_hi = np.minimum.reduceat(new_hi[order], starts)
            next_lo = lo.copy()
            next_hi = hi.copy()
            next_lo[targets] = np.maximum(lo[targets], best_lo)
            next_hi[targets] = np.minimum(hi[targets], best_hi)
            next_hi[next_hi >= _UNBOUNDED] = _INF
            if (next_lo > next_hi).any():
                raise ValueError("the group equations contradict the published values")
            if np.array_equal(next_lo, lo) and np.array_equal(next_hi, hi):
                return lo, hi
            lo, hi = next_lo, next_hi

    def complements(self, withheld: _Mask, exposed: _Mask, waarde: _Ints) -> int:
        """Withhold (in place) cells that take away what pins the exposed cells; their number.

        A withheld cell alone in a group is known to within the rounding of the others, and
        whatever shares a group with it inherits that. So each exposed cell's nearest lone
        groups (its own, or else those reached through the fewest withheld cells) get a second
        withheld cell, and so does every group a choice leaves lone in turn: the classical
        hypercube, grown one edge at a time. Only when there is no lone group to be found (the
        bounds pin a cell without one) does an exposed cell get a complement in the nearest
        group with a published cell. The choice within a group is the least informative one:
        the published cell that leaves the fewest new lone groups, then the smallest count, so
        a sibling before the larger parent.
        """
        count = np.bincount(self.member_group, weights=withheld[self.member_cell], minlength=self.count)
        count = count.astype(np.int64)
        lone = np.zeros(len(withheld), dtype=np.int64)
        np.add.at(lone, self.member_cell, (count[self.member_group] == 0).astype(np.int64))
        before = int(withheld.sum())

        queue: deque[int] = deque()
        for cell in np.flatnonzero(exposed):
            queue.extend(self._nearest(int(cell), withheld, lambda g: bool(count[g] == 1)))
        while queue:
            g = queue.popleft()
            if count[g] == 1:
                self._add_best(self.members(g), withheld, count, lone, waarde, queue)
        if int(withheld.sum()) == before:
            for cell in np.flatnonzero(exposed):
                groups = self._nearest(int(cell), withheld, lambda g: not withheld[self.members(g)].all())
                candidates = np.concatenate([_ints([]), *(self.members(g) for g in groups)])
                self._add_best(candidates[~withheld[candidates]], withheld, count, lone, waarde, None)
        return int(withheld.sum()) - before

    def members(self, g: int) -> _Ints:
        """The cells of group g: its parent, then its children."""
        end = self.child_start[g + 1] if g + 1 < self.count else len(self.child_cell)
        return np.concatenate([self.parent[g : g + 1], self.child_cell[self.child_start[g] : end]])

    def _groups_of(self, cell: int) -> _Ints:
        at = int(np.searchsorted(self.cell_ids, cell))
        if at == len(self.cell_ids) or self.cell_ids[at] != cell:
            return _ints([])
        end = self.cell_start[at + 1] if at + 1 < len(self.cell_start) else len(self.member_cell)
        return self.member_group[self.cell_start[at] : end]

    def _nearest(self, cell: int, withheld: _Mask, wanted: Callable[[int], bool]) -> list[int]:
        """The wanted groups closest to the cell: among its own, or else among those reached
        through the fewest withheld cells; none when no wanted group is linked to it."""
        seen_cells, seen_groups = {cell}, set[int]()
        frontier = [cell]
        while frontier:
            groups = sorted({int(g) for c in frontier for g in self._groups_of(c)} - seen_groups)
            hits = [g for g in groups if wanted(g)]
            if hits:
                return hits
            seen_groups.update(groups)
            frontier = sorted({int(c) for g in groups for c in self.members(g) if withheld[c]} - seen_cells)
            seen_cells.update(frontier)
        return []

    def _add_best(
        self,
        members: _Ints,
        withheld: _Mask,
        count: _Ints,
        lone: _Ints,
        waarde: _Ints,
        queue: deque[int] | None,
    ) -> None:
        """Withhold the least informative published cell of ``members``; keep the counts up to
        date and queue the groups the choice leaves lone."""
        candidates = members[~withheld[members]]
        if len(candidates) == 0:
            return
        best = int(candidates[np.lexsort((candidates, waarde[candidates], lone[candidates]))[0]])
        withheld[best] = True
        for h in self._groups_of(best):
            count[h] += 1
            if count[h] == 1:
                lone[self.members(h)] -= 1
                if queue is not None:
                    queue.append(int(h))


def _ints(values: list[int]) -> _Ints:
    return np.asarray(values, dtype=np.int64)


def _equations(cells: pd.DataFrame, hierarchies: tuple[str, ...]) -> tuple[_Ints, _Ints, _Ints]:
    """(hierarchy, parent, child) positions of every parent-child pair in the table.

    Each child names its parent's key (for gebied: the soort one level up and ``ouder``; for
    periode: ``jaar``; for thema: ``alle``); one hash lookup of those keys among the table's
    own finds the parent, and a parent missing from the table makes no group. Keys are
    integers, each column factorised together with the column its parents take from it.
    """
    above = cells["soort"].map({"buurt": "wijk", "wijk": "gemeente"})
    soort, soort_above = _factorised(cells["soort"], above)
    code, ouder = _factorised(cells["code"], cells["ouder"])
    periode, jaar = _factorised(cells["periode"], cells["jaar"])
    thema, alle = _factorised(cells["thema"], pd.Series(["alle"] * len(cells), index=cells.index))
    radix = [
        int(max(a.max(initial=0), b.max(initial=0))) + 1
        for a, b in ((soort, soort_above), (code, ouder), (periode, jaar), (thema, alle))
    ]
    if np.prod(np.asarray(radix, dtype=np.float64)) >= 2.0**62:
        raise ValueError("too many distinct areas, periods and themes to key")

    def key(s: _Ints, c: _Ints, p: _Ints, t: _Ints) -> _Ints:
        return ((s * radix[1] + c) * radix[2] + p) * radix[3] + t

    own = pd.Index(key(soort, code, periode, thema))
    wanted = {
        "gebied": ((soort_above >= 0) & (ouder >= 0), key(soort_above, ouder, periode, thema)),
        "periode": ((cells["periode_soort"] == "kwartaal").to_numpy(), key(soort, code, jaar, thema)),
        "thema": (thema != alle, key(soort, code, periode, alle)),
    }
    found: list[tuple[_Ints, _Ints, _Ints]] = []
    for name in hierarchies:
        is_child, parent_key = wanted[name]
        child = np.flatnonzero(is_child)
        parent = own.get_indexer(pd.Index(parent_key[child])).astype(np.int64)
        child, parent = child[parent >= 0].astype(np.int64), parent[parent >= 0]
        found.append((np.full(len(child), _HIERARCHIES.index(name), dtype=np.int64), parent, child))
    return tuple(np.concatenate([_ints([]), *(f[i] for f in found)]) for i in range(3))  # type: ignore[return-value]


def _factorised(values: pd.Series, parents: pd.Series) -> tuple[_Ints, _Ints]:
    """Integer codes for a column and the column naming its parents, from one vocabulary
    (missing: -1)."""
    codes, _ = pd.factorize(pd.concat([values, parents], ignore_index=True))
    codes = codes.astype(np.int64)
    return codes[: len(values)], codes[len(values) :]


def _check_sums(
    cells: pd.DataFrame,
    waarde: _Ints,
    parent: _Ints,
    child_group: _Ints,
    child_cell: _Ints,
    child_start: _Ints,
) -> None:
    """Refuse a table whose parents are not the sums of their children: the attacker's
    equations would then be false, and protection against them proves nothing."""
    if len(parent) == 0:
        return
    sums = np.add.reduceat(waarde[child_cell], child_start)
    wrong = np.flatnonzero(sums != waarde[parent])
    if len(wrong):
        row = cells.iloc[int(parent[wrong[0]])][_KEY].tolist()
        raise ValueError(
            f"{len(wrong)} groups do not add up, e.g. {row}: "
            f"{int(waarde[parent[wrong[0]]])} against the children's {int(sums[wrong[0]])}"
        )


@dataclass(frozen=True)
class _WindowParts:
    """The hidden parts that tie rolling windows to quarters and to each other (module
    docstring): their true counts, numbered after the table's rows, and their equations.

    Each window has hierarchy numbers of its own (three: its quarters, the quarter it begins
    in, the window it nests in), so that its groups never merge with another's."""

    waarde: _Ints
    equations: tuple[_Ints, _Ints, _Ints]  # (hierarchy, parent, child), as _equations gives

    @classmethod
    def none(cls) -> _WindowParts:
        return cls(_ints([]), (_ints([]), _ints([]), _ints([])))

    @classmethod
    def of(cls, cells: pd.DataFrame, waarde: _Ints, vensters: Mapping[str, dt.date]) -> _WindowParts:
        is_window = (cells["periode_soort"] == "venster").to_numpy()
        if not is_window.any():
            return cls.none()
        labels = sorted(set(cells.loc[is_window, "periode"]))
        unknown = [label for label in labels if label not in vensters]
        if unknown:
            raise ValueError(f"the first day of windows {unknown} is needed for the period equations")
        order = {label: j for j, label in enumerate(sorted(labels, key=lambda label: vensters[label]))}
        place = ["soort", "code", "thema"]
        w = cells.loc[is_window, [*place, "periode"]].reset_index(drop=True)
        w.insert(0, "w", np.flatnonzero(is_window))
        w["j"] = w["periode"].map(order).astype(np.int64)
        w["first"] = pd.to_datetime(w["periode"].map(dict(vensters)))
        is_quarter = (cells["periode_soort"] == "kwartaal").to_numpy()
        q = cells.loc[is_quarter, [*place, "periode"]].reset_index(drop=True)
        q.insert(0, "q", np.flatnonzero(is_quarter))
        number = q["periode"].str.slice(-1).astype(np.int64)
        q["start"] = pd.to_datetime(
            {"year": q["periode"].str.slice(0, 4).astype(np.int64), "month": 3 * number - 2, "day": 1}
        )
        q["end"] = q["start"] + pd.DateOffset(months=3)
        pairs = w.merge(q.drop(columns="periode"), on=place)
        inside = pairs[pairs["start"] >= pairs["first"]]
        begun = pairs[(pairs["start"] < pairs["first"]) & (pairs["end"] > pairs["first"])].set_index("w")
        rest = waarde[w["w"].to_numpy()] - (
            pd.Series(waarde[inside["q"].to_numpy()], index=inside["w"].to_numpy())
            .groupby(level=0)
            .sum()
            .reindex(w["w"].to_numpy(), fill_value=0)
            .to_numpy()
        )
        has_begun = w["w"].isin(begun.index).to_numpy()
        if (rest[~has_begun] != 0).any() or (rest < 0).any():
            raise ValueError(
                "the windows do not fit the quarters: a window differs from the quarters it covers"
            )
        base = len(_HIERARCHIES) + 3 * w["j"].to_numpy()
        first_part = len(waarde)

        # R: the part of the quarter a window begins in; S: the rest of that quarter.
        r_w = w["w"].to_numpy()[has_begun]
        r_q = begun.loc[r_w, "q"].to_numpy()
        r_val = rest[has_begun]
        s_val = waarde[r_q] - r_val
        r_id = first_part + np.arange(len(r_w))
        s_id = r_id + len(r_w)

        # D: an outer window less the next window inside it, at the same place.
        nested = w.sort_values([*place, "j"])
        same = (nested[place].shift() == nested[place]).all(axis=1).to_numpy()
        outer, inner = nested["w"].shift().to_numpy()[same].astype(np.int64), nested["w"].to_numpy()[same]
        d_val = waarde[outer] - waarde[inner]
        d_id = first_part + 2 * len(r_w) + np.arange(len(outer))
        if (s_val < 0).any() or (d_val < 0).any():
            raise ValueError("the windows do not fit the quarters: a part would be negative")
        d_base = len(_HIERARCHIES) + 3 * nested["j"].to_numpy()[same] + 2
        r_base = base[has_begun]
        w_base = pd.Series(base, index=w["w"].to_numpy())
        edges = (
            (w_base.loc[inside["w"].to_numpy()].to_numpy(), inside["w"].to_numpy(), inside["q"].to_numpy()),
            (r_base, r_w, r_id),
            (r_base + 1, r_q, r_id),
            (r_base + 1, r_q, s_id),
            (d_base, outer, inner),
            (d_base, outer, d_id),
        )
        equations = tuple(
            np.concatenate([_ints([]), *(e[i].astype(np.int64) for e in edges)]) for i in range(3)
        )
        return cls(np.concatenate([r_val, s_val, d_val]).astype(np.int64), equations)  # type: ignore[arg-type]
