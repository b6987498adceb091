"""Area assignment through the grid of areas (``gebied_cel``) against plain spatial joins.

The grid is an access path, not a new meaning: every point must get exactly the areas a
direct ``ST_Intersects`` gives it, the lowest code on a shared border, the nearest buurt in
a gap, and a change to the areas must never leave a stale grid behind.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from ingest import areas


def _assign_points(conn: Connection, points: list[str]) -> list[tuple[object, ...]]:
    """Run the assignment for EWKT points; rows of (key, buurt, wijk, gemeente, park, rural)."""
    conn.execute(text("CREATE TEMP TABLE punt (id integer, geom geometry(Point, 28992))"))
    for i, wkt in enumerate(points):
        conn.execute(text("INSERT INTO punt VALUES (:i, ST_GeomFromEWKT(:w))"), {"i": i, "w": wkt})
    areas.assign(conn, "punt", "id")
    return [
        tuple(r)
        for r in conn.execute(
            text(f"SELECT key, {', '.join(areas.AREA_COLUMNS)} FROM toewijzing ORDER BY key")
        )
    ]


@pytest.mark.parametrize("table", areas.POINT_TABLES)
def test_stored_areas_equal_a_direct_spatial_join(demo_conn: Connection, table: str) -> None:
    """Every point of the demo: the buurt, business park and buitengebied flag stored by the
    grid are those a direct join gives (points outside every buurt excepted: they take the
    nearest one, tested below)."""
    mismatches = demo_conn.execute(
        text(
            f"""
            WITH direct AS (
                SELECT p.id, p.buurtcode, p.bedrijventerreincode, p.buitengebied,
                       (SELECT min(b.code) FROM actueel_gebied b
                        WHERE b.soort = 'buurt' AND ST_Intersects(b.geom, p.geom)) AS buurt,
                       (SELECT min(b.code) FROM actueel_gebied b
                        WHERE b.soort = 'bedrijventerrein' AND ST_Intersects(b.geom, p.geom)) AS park,
                       EXISTS (SELECT 1 FROM actueel_gebied b
                        WHERE b.soort = 'buitengebied' AND ST_Intersects(b.geom, p.geom)) AS landelijk
                FROM {table} p WHERE p.geom IS NOT NULL
            )
            SELECT count(*) FILTER (WHERE buurt IS NOT NULL AND buurt IS DISTINCT FROM buurtcode),
                   count(*) FILTER (WHERE park IS DISTINCT FROM bedrijventerreincode),
                   count(*) FILTER (WHERE landelijk <> buitengebied),
                   count(*) FILTER (WHERE park IS NOT NULL),
                   count(*)
            FROM direct
            """
        )
    ).one()
    buurt, park, landelijk, in_parks, total = mismatches
    assert total > 0
    assert (buurt, park, landelijk) == (0, 0, 0)
    if table == "signaal":
        assert in_parks > 0, "the demo puts signals on business parks; the comparison must cover them"


def test_a_point_on_a_shared_border_takes_the_lowest_code(demo_conn: Connection) -> None:
    low, high, vertex = demo_conn.execute(
        text(
            """
            SELECT a.code, b.code, ST_AsEWKT(d.geom)
            FROM actueel_gebied a JOIN actueel_gebied b
              ON a.soort = 'buurt' AND b.soort = 'buurt' AND a.code < b.code AND ST_Touches(a.geom, b.geom)
            CROSS JOIN LATERAL ST_DumpPoints(b.geom) d
            WHERE ST_Intersects(a.geom, d.geom)
            ORDER BY a.code, b.code LIMIT 1
            """
        )
    ).one()
    [row] = _assign_points(demo_conn, [vertex])
    assert row[1] == low != high


def test_a_point_in_a_gap_takes_the_nearest_buurt_within_250_m(demo_conn: Connection) -> None:
    """Just outside the municipality's edge: no buurt contains it, the nearest one is used;
    500 m out it stays unassigned."""
    near, far, nearest = demo_conn.execute(
        text(
            """
            WITH edge AS (SELECT ST_Union(geom) AS g FROM actueel_gebied WHERE soort = 'buurt'),
            corner AS (SELECT ST_SetSRID(ST_MakePoint(ST_XMax(g), ST_YMax(g)), 28992) AS c, g FROM edge),
            closest AS (SELECT ST_ClosestPoint(g, c) AS p, c FROM corner),
            out AS (
                SELECT ST_Translate(p, 40 * (ST_X(c) - ST_X(p)) / ST_Distance(c, p),
                                       40 * (ST_Y(c) - ST_Y(p)) / ST_Distance(c, p)) AS near,
                       ST_Translate(p, 500 * (ST_X(c) - ST_X(p)) / ST_Distance(c, p),
                                       500 * (ST_Y(c) - ST_Y(p)) / ST_Distance(c, p)) AS far
                FROM closest
            )
            SELECT ST_AsEWKT(near), ST_AsEWKT(far),
                   (SELECT b.code FROM actueel_gebied b WHERE b.soort = 'buurt'
                    ORDER BY ST_Distance(b.geom, near), b.code LIMIT 1)
            FROM out
            """
        )
    ).one()
    inside = demo_conn.execute(
        text(
            "SELECT count(*) FROM actueel_gebied WHERE soort = 'buurt' AND ST_Intersects(geom, ST_GeomFromEWKT(:p))"
        ),
        {"p": near},
    ).scalar_one()
    assert inside == 0
    rows = _assign_points(demo_conn, [near, far])
    assert rows[0][1] == nearest
    assert rows[0][2] is not None and rows[0][3] is not None  # wijk and gemeente follow the buurt
    assert rows[1][1] is None


def test_a_change_to_the_areas_empties_the_grid_and_the_next_assignment_cuts_it_anew(
    demo_conn: Connection,
) -> None:
    before = demo_conn.execute(text("SELECT count(*), min(maat) FROM gebied_cel")).one()
    demo_conn.execute(text("UPDATE gebied SET naam = naam || ' (gewijzigd)' WHERE soort = 'wijk'"))
    assert demo_conn.execute(text("SELECT count(*) FROM gebied_cel")).scalar_one() == 0
    [row] = _assign_points(demo_conn, ["SRID=28992;POINT(233000 582000)"])
    after = demo_conn.execute(text("SELECT count(*), min(maat) FROM gebied_cel")).one()
    assert before[0] > 0 and after[0] > 0
    assert after[1] == before[1]
    assert row[1] is not None
