"""Risk-branch figures per view class: the register's share of the one visibility rule.

Register entries (``vestiging``) carry their partner's data class and covenant as signals do,
so their figures follow the same rule (docs/architecture.md §7): computed per view class
(``zicht``) from the entries that class could see as points, and for suppressed classes
(planners) with withheld flags from :func:`core.disclosure.withhold`. The rows come from
``vestiging_cijfers(ids, volgorde)`` (migration 0012); this module writes them into
``vestiging_zicht``. :mod:`core.zicht` calls :func:`compute` for the same classes at the same
moments as the signal figures (a new principal, a refresh after an ingest), so a class never
has one without the other.

Published hierarchies: the risk-branch count per area and branch (``alle`` = the sum of the
branches, as ``alle`` is for themes) and the count of all locations with an entry per area.
There is no period: the figures are of the entries valid today.
"""

from __future__ import annotations

from itertools import repeat

from sqlalchemy import Connection, text

from core import risicobranches

#: Each count with a withheld flag, and the hierarchies it is published in (core.disclosure).
MEASURES: dict[str, tuple[str, ...]] = {
    "vestigingen": ("gebied", "thema"),
    "totaal": ("gebied",),
}
_COLUMNS = (
    "zicht_id", "id", "gebied_id", "gebied_soort", "code", "naam", "gemeentecode", "risicobranche",
    "vestigingen", "totaal", "hectare", "per_hectare", "aandeel_pct",
)  # fmt: skip


def compute(conn: Connection, ids: list[int], k: int) -> None:
    """The risk-branch rows of these classes, flags included; only changed rows are written."""
    if not ids:
        return
    volgorde = list(risicobranches.load().codes)
    conn.execute(
        text(
            "CREATE TEMP TABLE vestiging_nieuw ON COMMIT DROP AS"
            " SELECT * FROM vestiging_cijfers(:ids, CAST(:volgorde AS text[]))"
        ),
        {"ids": ids, "volgorde": volgorde},
    )
    conn.execute(
        text(
            "CREATE TEMP TABLE vestiging_vlag (zicht_id bigint, id text, "
            + ", ".join(f"{m} boolean" for m in MEASURES)
            + ") ON COMMIT DROP"
        )
    )
    suppressed = conn.execute(
        text("SELECT id FROM zicht WHERE id = ANY(:ids) AND onderdrukt ORDER BY id"), {"ids": ids}
    ).scalars()
    for zicht_id in list(suppressed):
        _withhold(conn, int(zicht_id), k)
    flags = ", ".join(f"f.{m} AS {m}_onderdrukt" for m in MEASURES)
    source = ", ".join(f"n.{c}" for c in _COLUMNS) + ", " + flags
    columns = [*_COLUMNS, *(f"{m}_onderdrukt" for m in MEASURES)]
    conn.execute(
        text(
            "DELETE FROM vestiging_zicht o WHERE o.zicht_id = ANY(:ids) AND NOT EXISTS"
            " (SELECT FROM vestiging_nieuw n WHERE n.zicht_id = o.zicht_id AND n.id = o.id)"
        ),
        {"ids": ids},
    )
    conn.execute(
        text(
            f"MERGE INTO vestiging_zicht o USING (SELECT {source} FROM vestiging_nieuw n"
            " LEFT JOIN vestiging_vlag f ON f.zicht_id = n.zicht_id AND f.id = n.id) s"
            " ON o.zicht_id = s.zicht_id AND o.id = s.id"
            f" WHEN MATCHED AND ({', '.join('o.' + c for c in columns)})"
            f" IS DISTINCT FROM ({', '.join('s.' + c for c in columns)}) THEN UPDATE SET "
            + ", ".join(f"{c} = s.{c}" for c in columns)
            + f" WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ("
            + ", ".join(f"s.{c}" for c in columns)
            + ")"
        )
    )
    conn.execute(text("DROP TABLE vestiging_nieuw, vestiging_vlag"))


def forget(conn: Connection, keep: list[int]) -> None:
    """Remove the rows of classes no active principal has any more."""
    conn.execute(text("DELETE FROM vestiging_zicht WHERE NOT (zicht_id = ANY(:ids))"), {"ids": keep})


def _withhold(conn: Connection, zicht_id: int, k: int) -> None:
    """The withheld flags of one suppressed class, into ``vestiging_vlag``. The branch takes
    the place of the theme; the figures have one period (today)."""
    import pandas as pd  # only refreshes need it

    from core.disclosure import withhold

    result = conn.execute(
        text(
            "SELECT n.id, n.gebied_soort AS soort, n.code,"
            " CASE n.gebied_soort WHEN 'buurt' THEN g.wijkcode WHEN 'wijk' THEN n.gemeentecode END AS ouder,"
            " 'actueel' AS periode, 'jaar' AS periode_soort, 'actueel' AS jaar, n.risicobranche AS thema, "
            + ", ".join(f"n.{m}" for m in MEASURES)
            + " FROM vestiging_nieuw n JOIN gebied g ON g.id = n.gebied_id WHERE n.zicht_id = :z"
        ),
        {"z": zicht_id},
    )
    frame = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))
    if frame.empty:
        return
    cell_columns = ["soort", "code", "ouder", "periode", "periode_soort", "jaar", "thema"]
    flags: dict[str, list[bool]] = {}
    for measure, hierarchies in MEASURES.items():
        # A measure without branches is the same in every branch's row: decided on ``alle``.
        cells = frame if "thema" in hierarchies else frame[frame["thema"] == risicobranches.ALLE]
        withheld = withhold(
            cells[cell_columns].assign(waarde=cells[measure].astype("int64")).reset_index(drop=True),
            k,
            hierarchies,
        )
        if cells is frame:
            flags[measure] = [bool(v) for v in withheld]
        else:
            by_area = dict(zip(cells["id"].str.rsplit(":", n=1).str[0], withheld, strict=True))
            area = frame["id"].str.rsplit(":", n=1).str[0]
            flags[measure] = [bool(by_area.get(a, True)) for a in area]  # none: withheld
    raw = conn.connection.driver_connection
    assert raw is not None  # a checked-out connection has its driver connection
    names = ", ".join(MEASURES)
    with raw.cursor() as cur, cur.copy(f"COPY vestiging_vlag (zicht_id, id, {names}) FROM STDIN") as copy:
        for row in zip(repeat(zicht_id), frame["id"].tolist(), *flags.values(), strict=False):
            copy.write_row(row)
