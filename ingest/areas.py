"""Area assignment in SQL: which buurt, wijk, bedrijventerrein and buitengebied a point is in.

The areas are cut into a square grid once after they change (``gebied_cel``): a cell that
lies wholly inside an area needs no geometry test at all, and a boundary cell keeps only
its small piece of the area. A point then finds its candidates by a hash join on its cell
number, and only points in boundary cells pay a point-in-polygon test, against a piece of a
few vertices instead of a whole buurt. For a million points that is about 3 s, where a
spatial join over GIST indexes took 17 s: an index scan per polygon touches the point
heap in random order, and an index probe per point pays the tree descent a million times.

The buurten of some editions are generalised (small gaps between neighbours), so a point
in a gap takes the nearest buurt within 250 m; the wijk and gemeente follow from the buurt,
so the hierarchy is always consistent. A point on the border of two areas takes the lowest
code, the same as before the grid.

Points are assigned to the default division of each type (``core.domain.STANDAARD_INDELING``:
CBS buurten, wijken and gemeenten, IBIS business parks, the municipality's own buitengebied),
whatever other divisions are loaded beside it; changing that is a change of that mapping (and
of ``standaard_indeling`` in the database), not an option. Areas of other divisions, postcode
areas and grid squares get their figures from a spatial join at refresh (migration 0011).
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, text

from core.domain import STANDAARD_INDELING

AREA_COLUMNS = ["buurtcode", "wijkcode", "gemeentecode", "bedrijventerreincode", "buitengebied"]
POINT_TABLES = ("verblijfsobject", "leegstand", "signaal")
GAP_METRES = 250
RESULT = "toewijzing"
#: Area types that are looked up through the grid; wijk and gemeente follow from the buurt.
GRID_SOORTEN = ("buurt", "bedrijventerrein", "buitengebied")
#: Cells per grid: fine enough that most cells are whole, coarse enough to build in a second.
TARGET_CELLS = 50_000
MIN_CELL_METRES = 100


#: The division points are assigned to, per area type.
DIVISION = {s: STANDAARD_INDELING[s] for s in ("gemeente", "buurt", "bedrijventerrein", "buitengebied")}


def in_division(alias: str, soort: str) -> str:
    """SQL: row ``alias`` of gebied is of type ``soort`` in the division points are assigned to."""
    return f"({alias}.soort = '{soort}' AND {alias}.indeling = '{DIVISION[soort]}')"


def editions(conn: Connection) -> dict[str, int]:
    """The newest edition (jaar) per area type in the assignment division; -1 where there is none."""
    which = " OR ".join(in_division("g", s) for s in DIVISION)
    rows = conn.execute(text(f"SELECT soort, max(jaar) FROM gebied g WHERE {which} GROUP BY soort")).all()
    found = {str(soort): int(jaar) for soort, jaar in rows}
    return {s: found.get(s, -1) for s in ("gemeente", "buurt", "bedrijventerrein", "buitengebied")}


def cell_key(geom: str, size: str) -> str:
    """SQL for the cell number of a point: row and column of ST_SquareGrid, in one bigint.

    (A plain bigint hashes well; packing the two halves into high and low words would not,
    as PostgreSQL folds them together with XOR.)
    """
    return f"(floor(ST_X({geom}) / {size})::bigint * 1000000 + floor(ST_Y({geom}) / {size})::bigint)"


def rebuild_cells(conn: Connection) -> None:
    """Cut the newest edition of every grid area type into cells.

    The cell size follows the total area, so a national set of buurten stays as quick to
    cut as one municipality's.
    """
    ed = editions(conn)
    conn.execute(text("DELETE FROM gebied_cel"))
    wanted = {s: ed[s] for s in GRID_SOORTEN if ed[s] >= 0}
    if not wanted:
        return
    params = {f"j_{s}": j for s, j in wanted.items()}
    which = " OR ".join(f"({in_division('b', s)} AND b.jaar = :j_{s})" for s in wanted)
    total = conn.execute(
        text(f"SELECT coalesce(sum(ST_Area(b.geom)), 0) FROM gebied b WHERE {which}"), params
    ).scalar_one()
    size = max(MIN_CELL_METRES, math.ceil(math.sqrt(float(total) / TARGET_CELLS) / 10) * 10)
    conn.execute(
        text(
            f"""
            INSERT INTO gebied_cel (soort, jaar, code, maat, cel, heel, stuk)
            SELECT b.soort, b.jaar, b.code, :maat, g.i::bigint * 1000000 + g.j, c.heel,
                   CASE WHEN NOT c.heel THEN ST_Intersection(b.geom, g.geom) END
            FROM gebied b
            CROSS JOIN LATERAL ST_SquareGrid(:maat, b.geom) g
            CROSS JOIN LATERAL (SELECT ST_Covers(b.geom, g.geom) AS heel) c
            WHERE ({which})
              AND ST_Intersects(b.geom, g.geom)
            """
        ),
        {**params, "maat": size},
    )
    conn.execute(text("ANALYZE gebied_cel"))


def _ensure_cells(conn: Connection) -> float | None:
    """The grid's cell size, cutting the grid first when a change to the areas emptied it
    (a trigger on ``gebied`` does that); None when there are no areas to cut."""
    size = conn.execute(text("SELECT maat FROM gebied_cel LIMIT 1")).scalar()
    if size is None:
        rebuild_cells(conn)
        size = conn.execute(text("SELECT maat FROM gebied_cel LIMIT 1")).scalar()
    return float(size) if size is not None else None


def assign(conn: Connection, table: str, key: str) -> None:
    """Create temp table ``toewijzing(key, <area columns>)`` for every row of ``table``.

    One hash join of the points on their cell number; then the few points that no buurt
    contains (gaps between generalised buurten) take the nearest one, and a buurt without
    a gemeentecode takes the gemeente polygon.
    """
    size = _ensure_cells(conn)
    ed = editions(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {RESULT}"))
    if size is None:  # no areas at all: every point is unassigned
        hits = f"SELECT p.{key} AS key, NULL::text AS buurt, NULL::text AS bt, false AS bg FROM {table} p"
    else:
        hits = f"""
            SELECT p.{key} AS key,
                   min(c.code) FILTER (WHERE c.soort = 'buurt') AS buurt,
                   min(c.code) FILTER (WHERE c.soort = 'bedrijventerrein') AS bt,
                   coalesce(bool_or(c.soort = 'buitengebied'), false) AS bg
            FROM {table} p
            LEFT JOIN gebied_cel c
              ON c.cel = {cell_key("p.geom", str(size))} AND (c.heel OR ST_Intersects(c.stuk, p.geom))
            GROUP BY p.{key}
        """
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE {RESULT} ON COMMIT DROP AS
            SELECT h.key, b.code AS buurtcode,
                   CASE WHEN b.code IS NOT NULL THEN COALESCE(b.wijkcode, 'WK' || substr(b.code, 3, 6)) END
                       AS wijkcode,
                   b.gemeentecode, h.bt AS bedrijventerreincode, h.bg AS buitengebied
            FROM ({hits}) h
            LEFT JOIN gebied b ON {in_division("b", "buurt")} AND b.jaar = :buurt AND b.code = h.buurt
            """
        ),
        {"buurt": ed["buurt"]},
    )
    conn.execute(text(f"ANALYZE {RESULT}"))
    # The few points outside every buurt polygon: the nearest buurt within the gap distance.
    conn.execute(
        text(
            f"""
            UPDATE {RESULT} t SET buurtcode = n.code,
                   wijkcode = COALESCE(n.wijkcode, 'WK' || substr(n.code, 3, 6)),
                   gemeentecode = n.gemeentecode
            FROM {table} p CROSS JOIN LATERAL (
                SELECT b.code, b.wijkcode, b.gemeentecode FROM gebied b
                WHERE {in_division("b", "buurt")} AND b.jaar = :buurt
                  AND ST_DWithin(b.geom, p.geom, {GAP_METRES})
                ORDER BY ST_Distance(b.geom, p.geom), b.code LIMIT 1) n
            WHERE t.buurtcode IS NULL AND p.{key} = t.key
            """
        ),
        {"buurt": ed["buurt"]},
    )
    conn.execute(
        text(
            f"""
            UPDATE {RESULT} t SET gemeentecode = (
                SELECT m.code FROM gebied m
                WHERE {in_division("m", "gemeente")} AND m.jaar = :gm AND ST_Intersects(m.geom, p.geom)
                ORDER BY m.code LIMIT 1)
            FROM {table} p
            WHERE t.gemeentecode IS NULL AND p.{key} = t.key
            """
        ),
        {"gm": ed["gemeente"]},
    )
    conn.execute(text(f"CREATE UNIQUE INDEX ON {RESULT} (key)"))
    conn.execute(text(f"ANALYZE {RESULT}"))


def reassign(conn: Connection) -> dict[str, int]:
    """Re-assign every point table after the areas changed; returns rows changed per table."""
    changed: dict[str, int] = {}
    columns = ", ".join(AREA_COLUMNS)
    for table in POINT_TABLES:
        assign(conn, table, "id")
        sql = f"""
            UPDATE {table} p SET ({columns}) = ({", ".join("t." + c for c in AREA_COLUMNS)})
            FROM {RESULT} t
            WHERE t.key = p.id AND ({", ".join("p." + c for c in AREA_COLUMNS)})
                IS DISTINCT FROM ({", ".join("t." + c for c in AREA_COLUMNS)})
        """
        changed[table] = int(conn.execute(text(sql)).rowcount)
    return changed
