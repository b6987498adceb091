"""View classes (zichten): every figure a principal gets comes from the rows it could see.

Visibility is decided on rows, before any aggregation (docs/architecture.md §7). Principals that could see
the same signal rows as points (the same municipalities; the same covenants, for partners;
the same data classes) and are suppressed alike share one view class, a row of ``zicht``.
The indicators are computed per class from the signal cube by summing only the cells the
class may see (``zicht_cijfers``, migration 0007), and the service reads the caller's class
only (:data:`LOOKUP`). :meth:`Zicht.of` is the one place that says what a principal sees:
the point layers' conditions use it too, so a figure and the points behind it cannot drift
apart.

A class is computed when a principal is created or changed (:func:`register`, called by
``core.security.create_principal_key``) and recomputed for every active principal after each
ingest and retention run (:func:`refresh`). A principal whose class is missing or not yet
computed gets no figures: the lookup finds nothing (fail closed).

For suppressed classes (planners) every count gets a withheld flag beside its exact value,
from :func:`core.disclosure.withhold`: one call per measure and class, over the hierarchies
the measure is published in. Counts of signals are published per area, period and theme;
addresses and vacancy per area and period only (they have no theme), so their flags come
from the area hierarchy of the ``alle`` rows and hold for every theme.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, text

from core import vestiging_cijfers
from core.domain import VENSTERS
from core.security import PRINCIPAL_COLUMNS, Principal, principal_from_row
from core.settings import get_settings
from core.tables import principal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

#: The columns of a class in ``zicht`` and the parameters of :meth:`Zicht.params`.
MATCH = (
    "z.gemeenten IS NOT DISTINCT FROM CAST(:zicht_gemeenten AS text[])"
    " AND z.convenanten IS NOT DISTINCT FROM CAST(:zicht_convenanten AS text[])"
    " AND z.dataklassen = CAST(:zicht_dataklassen AS text[]) AND z.onderdrukt = :zicht_onderdrukt"
)
#: The caller's computed class, as a scalar subquery (NULL when there is none: no rows).
LOOKUP = f"(SELECT z.id FROM zicht z WHERE {MATCH} AND z.berekend_op IS NOT NULL)"

#: Each count with a withheld flag, and the hierarchies it is published in (the names of
#: core.disclosure.HIERARCHIES, spelled out so that importing this module needs no pandas).
MEASURES: dict[str, tuple[str, ...]] = {
    "signalen": ("gebied", "periode", "thema"),
    "pandsluitingen": ("gebied", "periode", "thema"),
    "bibob": ("gebied", "periode", "thema"),
    "controles": ("gebied", "periode", "thema"),
    "meldingen": ("gebied", "periode", "thema"),
    "adressen": ("gebied",),
    "leegstand": ("gebied",),
}
#: Below this many addresses an area gets no rate, no z and no trend (``te_weinig_adressen``):
#: one signal would be 50 per 1,000 or more (migration 0015, docs/decisions.md "Small areas").
MIN_ADRESSEN = 20
#: The materialised views over ingested data, refreshed in this order by :func:`refresh`. A
#: migration that adds one adds its name here (a test compares this list with the database).
MATERIALISED_VIEWS: tuple[str, ...] = ("vestiging_locatie",)
#: The signal cubes: tables kept per municipality (migration 0023, :func:`refill_cubes`).
CUBES: tuple[str, ...] = ("signaal_kubus", "signaal_dag", "signaal_bereik")
#: Which cells (``k``: a cube's or ``signaal_bereik``'s) a class (``z``) sees (migration 0011).
SEES = (
    "(z.gemeenten IS NULL OR k.gemeentecode = ANY (z.gemeenten))"
    " AND (z.convenanten IS NULL OR k.convenant = ANY (z.convenanten)) AND k.dataklasse = ANY (z.dataklassen)"
)
CELL_COLUMNS = ["soort", "code", "ouder", "periode", "periode_soort", "jaar", "thema"]


@dataclass(frozen=True)
class Zicht:
    """What a principal may see of the signals: municipalities (None: all), covenants (None:
    not limited), data classes, and whether its counts are published suppressed."""

    gemeenten: tuple[str, ...] | None
    convenanten: tuple[str, ...] | None
    dataklassen: tuple[str, ...]
    onderdrukt: bool

    @classmethod
    def of(cls, principal: Principal) -> Zicht:
        """Only partners are limited to their covenants' signals; other roles see every
        covenant within their municipalities and clearance."""
        return cls(
            gemeenten=None if principal.all_gemeenten else tuple(sorted(set(principal.gemeenten))),
            convenanten=tuple(sorted(set(principal.convenanten))) if principal.rol == "partner" else None,
            dataklassen=tuple(principal.dataklassen),
            onderdrukt=principal.suppressed,
        )

    def params(self) -> dict[str, Any]:
        """The bound parameters of :data:`MATCH` and :data:`LOOKUP`."""
        return {
            "zicht_gemeenten": None if self.gemeenten is None else list(self.gemeenten),
            "zicht_convenanten": None if self.convenanten is None else list(self.convenanten),
            "zicht_dataklassen": list(self.dataklassen),
            "zicht_onderdrukt": self.onderdrukt,
        }


def _lock(conn: Connection) -> None:
    """One writer of view classes at a time (a refresh, a new principal)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('okaart.zicht'))"))


def _ensure(conn: Connection, view: Zicht) -> tuple[int, bool]:
    """The class's id, and whether its figures exist."""
    found = conn.execute(
        text(f"SELECT z.id, z.berekend_op IS NOT NULL AS klaar FROM zicht z WHERE {MATCH}"), view.params()
    ).first()
    if found is not None:
        return int(found.id), bool(found.klaar)
    new = conn.execute(
        text(
            "INSERT INTO zicht (gemeenten, convenanten, dataklassen, onderdrukt) VALUES"
            " (CAST(:zicht_gemeenten AS text[]), CAST(:zicht_convenanten AS text[]),"
            " CAST(:zicht_dataklassen AS text[]), :zicht_onderdrukt) RETURNING id"
        ),
        view.params(),
    ).scalar_one()
    return int(new), False


def register(conn: Connection, principal_id: int, k: int | None = None) -> int:
    """The principal's class, created and computed first if it is new: in the transaction
    that creates or changes the principal, so its key never reads before its figures exist.
    ``k``: the suppression threshold (default: the settings')."""
    _lock(conn)
    row = conn.execute(select(*PRINCIPAL_COLUMNS).where(principal.c.id == principal_id)).mappings()
    zicht_id, ready = _ensure(conn, Zicht.of(principal_from_row(row.one())))
    if not ready:
        compute(conn, [zicht_id], get_settings().suppression_k if k is None else k)
    return zicht_id


def refresh(conn: Connection, k: int | None = None, gemeenten: Sequence[str] | None = None) -> None:
    """Recompute the cube and the figures of every active principal's class; classes no
    active principal has any more go, with their figures. ``k``: as for :func:`register`.

    ``gemeenten``: only these municipalities' data changed (None: anything may have). Then
    only their cube cells and the figures of their areas are recomputed (with the other
    municipalities of their regions, whose regional figures they feed), in every class that
    sees one of them: a delivery for three municipalities costs three municipalities, not
    the nation. Figures equal those of a full refresh (tests/test_verversing_gemeente.py).
    """
    _lock(conn)
    rows = conn.execute(select(*PRINCIPAL_COLUMNS).where(principal.c.actief)).mappings()
    views = {Zicht.of(principal_from_row(row)) for row in rows}
    ensured = {view: _ensure(conn, view) for view in views}
    ids = sorted(zicht_id for zicht_id, _ in ensured.values())
    for table in ("indicator_zicht", "zicht_regio"):
        conn.execute(text(f"DELETE FROM {table} WHERE NOT (zicht_id = ANY(:ids))"), {"ids": ids})
    vestiging_cijfers.forget(conn, ids)
    conn.execute(text("DELETE FROM zicht WHERE NOT (id = ANY(:ids))"), {"ids": ids})
    k = get_settings().suppression_k if k is None else k
    scope = None if gemeenten is None else expand(gemeenten)
    before = _bounds(conn, ids)
    refill_cubes(conn, scope)
    if scope is None:
        for view in MATERIALISED_VIEWS:
            conn.execute(text(f"REFRESH MATERIALIZED VIEW {view}"))
        # Suppressed classes always: their flags also come from code (core.disclosure) that a
        # deploy may have changed, and from k.
        stale = conn.execute(
            text(
                "SELECT i.zicht_id FROM zicht_invoer(:ids) i JOIN zicht z ON z.id = i.zicht_id"
                " WHERE z.onderdrukt OR z.berekend_op IS NULL OR z.invoer IS DISTINCT FROM i.invoer"
                " ORDER BY i.zicht_id"
            ),
            {"ids": ids},
        ).scalars()
        compute(conn, [int(i) for i in stale], k)
        return
    # Whole: new classes, and those whose periods moved (a first quarter earlier, a newest
    # day later: every area gets other periods and windows). The others: where they see a
    # municipality that changed, its areas and its regions' (a class that sees none of the
    # changed municipalities has no figure that depends on them). The deviation against a
    # class's region moves in every one of its areas too, but it is computed on read from
    # the region's totals (migration 0026), which compute() renews for each class it touches.
    after = _bounds(conn, ids)
    changed = set(gemeenten or ())

    def sees_change(view: Zicht) -> bool:
        return view.gemeenten is None or bool(set(view.gemeenten) & changed)

    whole = sorted(
        zicht_id
        for zicht_id, ready in ensured.values()
        if not ready or before.get(zicht_id) != after[zicht_id]
    )
    seeing = sorted(
        zicht_id for view, (zicht_id, _) in ensured.items() if zicht_id not in whole and sees_change(view)
    )
    compute(conn, whole, k)
    compute(conn, seeing, k, scope)


def _bounds(conn: Connection, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """Per class what its periods come from: its first quarter and newest visible day."""
    rows = conn.execute(
        text(
            "SELECT z.id, date_trunc('quarter', min(k.eerste)) AS lo, max(k.laatste) AS hi"
            f" FROM zicht z LEFT JOIN signaal_bereik k ON {SEES} WHERE z.id = ANY(:ids) GROUP BY z.id"
        ),
        {"ids": ids},
    )
    return {int(r.id): (r.lo, r.hi) for r in rows}


def expand(gemeenten: Sequence[str]) -> list[str]:
    """The municipalities whose figures change with these: themselves, and every other
    municipality of a named region one of them is in (core/regio.py): the regional figures
    of all of them are computed from the region's totals."""
    from core import regio

    touched = set(gemeenten)
    for region in regio.load().values():
        if touched & set(region.gemeenten):
            touched |= set(region.gemeenten)
    return sorted(touched)


def refill_cubes(conn: Connection, gemeenten: Sequence[str] | None) -> None:
    """The signal cubes' cells of these municipalities (None: all), deleted and computed
    again in the caller's transaction (migration 0023): readers keep the old cells until it
    commits, and the other municipalities' rows are not touched at all."""
    if gemeenten is None:
        conn.execute(text("TRUNCATE signaal_kubus, signaal_dag, signaal_bereik"))
        scope, params = "", {}
    else:
        scope, params = " WHERE gemeentecode = ANY(:g)", {"g": list(gemeenten)}
        for cube in CUBES:
            conn.execute(text(f"DELETE FROM {cube}{scope}"), params)
    arg = "NULL" if gemeenten is None else "CAST(:g AS text[])"
    conn.execute(text(f"INSERT INTO signaal_kubus SELECT * FROM signaal_kubus_van({arg})"), params)
    conn.execute(text(f"INSERT INTO signaal_dag SELECT * FROM signaal_dag_van({arg})"), params)
    conn.execute(
        text(
            "INSERT INTO signaal_bereik SELECT gemeentecode, convenant, dataklasse, min(datum), max(datum)"
            f" FROM signaal_dag{scope} GROUP BY gemeentecode, convenant, dataklasse"
        ),
        params,
    )
    for cube in CUBES:
        conn.execute(text(f"ANALYZE {cube}"))


def compute(conn: Connection, ids: list[int], k: int, gemeenten: Sequence[str] | None = None) -> None:
    """Figures and withheld flags of these classes. Only rows that changed are written (as
    ``REFRESH ... CONCURRENTLY`` does): after a delivery of ten signals most figures are
    what they were, and rewriting every row of every class would cost more than computing
    them. Readers keep the old figures until the transaction commits.

    ``gemeenten``: only the areas of these municipalities (and the areas outside the
    standard divisions, which may cross borders: ``zicht_cijfers``, migration 0023). Their
    withheld flags are complete too: the hierarchies a flag is computed over (buurt, wijk,
    gemeente; periods; themes) never leave a municipality."""
    if not ids:
        return
    alleen = None if gemeenten is None else list(gemeenten)
    conn.execute(
        text(
            "CREATE TEMP TABLE zicht_nieuw ON COMMIT DROP AS"
            " SELECT * FROM zicht_cijfers(:ids, CAST(:alleen AS text[]))"
        ),
        {"ids": ids, "alleen": alleen},
    )
    conn.execute(
        text(
            "CREATE TEMP TABLE zicht_vlag (zicht_id bigint, id text, "
            + ", ".join(f"{m} boolean" for m in MEASURES)
            + ") ON COMMIT DROP"
        )
    )
    suppressed = conn.execute(
        text("SELECT id FROM zicht WHERE id = ANY(:ids) AND onderdrukt ORDER BY id"), {"ids": ids}
    ).scalars()
    for zicht_id in list(suppressed):
        _withhold(conn, int(zicht_id), k)
    columns = (
        conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'indicator_zicht'::regclass"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        )
        .scalars()
        .all()
    )
    # The new figures with their flags (``f.signalen AS signalen_onderdrukt``).
    flag = "_onderdrukt"
    source = ", ".join(f"f.{c.removesuffix(flag)} AS {c}" if c.endswith(flag) else f"n.{c}" for c in columns)
    # Two sets of 100,000 rows each: hashing, not sorting on text.
    conn.execute(text("SET LOCAL enable_mergejoin = off"))
    conn.execute(
        text(
            "DELETE FROM indicator_zicht o WHERE o.zicht_id = ANY(:ids)"
            " AND (CAST(:alleen AS text[]) IS NULL OR o.gemeentecode = ANY(CAST(:alleen AS text[]))"
            "  OR o.indeling <> standaard_indeling(o.gebied_soort))"
            " AND NOT EXISTS (SELECT FROM zicht_nieuw n WHERE n.zicht_id = o.zicht_id AND n.id = o.id)"
        ),
        {"ids": ids, "alleen": alleen},
    )
    conn.execute(
        text(
            f"MERGE INTO indicator_zicht o USING (SELECT {source} FROM zicht_nieuw n"
            " LEFT JOIN zicht_vlag f ON f.zicht_id = n.zicht_id AND f.id = n.id) s"
            " ON o.zicht_id = s.zicht_id AND o.id = s.id"
            " WHEN MATCHED AND ROW(o.*) IS DISTINCT FROM ROW(s.*) THEN UPDATE SET "
            + ", ".join(f"{c} = s.{c}" for c in columns)
            + " WHEN NOT MATCHED THEN INSERT VALUES ("
            + ", ".join(f"s.{c}" for c in columns)
            + ")"
        )
    )
    conn.execute(text("SET LOCAL enable_mergejoin = DEFAULT"))
    if alleen is None:
        vestiging_cijfers.compute(conn, ids, k)  # the register's figures, for the same classes
        conn.execute(
            text(
                "UPDATE zicht z SET berekend_op = now(), k = CASE WHEN z.onderdrukt THEN :k END,"
                " invoer = i.invoer FROM zicht_invoer(:ids) i WHERE z.id = i.zicht_id"
            ),
            {"ids": ids, "k": k},
        )
    else:
        # The register's figures did not change (only signals did). The fingerprint of the
        # whole class is not taken (it reads every cell the class sees): unknown, so the
        # next full refresh recomputes the class.
        conn.execute(
            text(
                "UPDATE zicht z SET berekend_op = now(), k = CASE WHEN z.onderdrukt THEN :k END,"
                " invoer = NULL WHERE z.id = ANY(:ids)"
            ),
            {"ids": ids, "k": k},
        )
    conn.execute(text("DROP TABLE zicht_nieuw, zicht_vlag"))
    # The region's totals follow from the class's municipality rows, just written.
    conn.execute(text("DELETE FROM zicht_regio WHERE zicht_id = ANY(:ids)"), {"ids": ids})
    conn.execute(text("INSERT INTO zicht_regio SELECT * FROM zicht_regio_van(:ids)"), {"ids": ids})


def _withhold(conn: Connection, zicht_id: int, k: int) -> None:
    """The withheld flags of one suppressed class, into ``zicht_vlag``."""
    import pandas as pd  # only refreshes need it, not every command that imports this module

    from core.disclosure import withhold

    result = conn.execute(
        text(
            # An area of another division than its type's default is a hierarchy of its own:
            # its code carries the division (codes may repeat across divisions) and no parent.
            "SELECT n.id, n.gebied_soort AS soort,"
            " CASE WHEN n.indeling = standaard_indeling(n.gebied_soort) THEN n.code"
            "  ELSE n.indeling || ':' || n.code END AS code,"
            " CASE WHEN n.indeling <> standaard_indeling(n.gebied_soort) THEN NULL"
            "  WHEN n.gebied_soort = 'buurt' THEN g.wijkcode WHEN n.gebied_soort = 'wijk' THEN n.gemeentecode"
            " END AS ouder,"
            " n.periode, n.periode_soort, left(n.periode, 4) AS jaar, n.thema, "
            + ", ".join(f"n.{m}" for m in MEASURES)
            + " FROM zicht_nieuw n JOIN gebied g ON g.id = n.gebied_id WHERE n.zicht_id = :z"
        ),
        {"z": zicht_id},
    )
    frame = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))
    if frame.empty:
        return
    vensters = _window_starts(conn, zicht_id)
    flags: dict[str, list[bool]] = {}
    for measure, hierarchies in MEASURES.items():
        cells = frame if "thema" in hierarchies else frame[frame["thema"] == "alle"]
        withheld = withhold(
            cells[CELL_COLUMNS].assign(waarde=cells[measure].astype("int64")).reset_index(drop=True),
            k,
            hierarchies,
            vensters,
        )
        flags[measure] = withheld.tolist() if cells is frame else _spread(frame, cells, withheld)
    raw = conn.connection.driver_connection
    assert raw is not None  # a checked-out connection has its driver connection
    columns = ", ".join(MEASURES)
    with raw.cursor() as cur, cur.copy(f"COPY zicht_vlag (zicht_id, id, {columns}) FROM STDIN") as copy:
        for row in zip(repeat(zicht_id), frame["id"].tolist(), *flags.values(), strict=False):
            copy.write_row(row)


def _window_starts(conn: Connection, zicht_id: int) -> dict[str, dt.date]:
    """The first day of each rolling window of the class: its windows end on the newest day
    it may see (:func:`_bounds`, the refresh's own record of it), and the suppression ties
    them to the quarters they cover."""
    last = _bounds(conn, [zicht_id]).get(zicht_id, (None, None))[1]
    if last is None:
        return {}
    return {label: last - dt.timedelta(days=days - 1) for label, days in VENSTERS.items()}


def _spread(frame: pd.DataFrame, cells: pd.DataFrame, withheld: npt.NDArray[np.bool_]) -> list[bool]:
    """The flags of the ``alle`` rows for every row of ``frame``: a theme-less measure's flag
    of an area and period holds for each theme; a row without one is withheld (fail closed)."""
    import pandas as pd

    keys = ["soort", "code", "periode"]
    by_cell = pd.Series(withheld, index=pd.MultiIndex.from_frame(cells[keys]), dtype="boolean")
    spread = by_cell.reindex(pd.MultiIndex.from_frame(frame[keys])).fillna(True)
    return [bool(v) for v in spread]
