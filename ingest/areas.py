"""Area assignment in SQL: which buurt, wijk, bedrijventerrein and buitengebied a point is in.

Spatial joins on the GIST indexes, newest boundary edition per area type. The buurten of
some editions are generalised (small gaps between neighbours), so a point in a gap takes
the nearest buurt within 250 m; the wijk and gemeente follow from the buurt, so the
hierarchy is always consistent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

AREA_COLUMNS = ["buurtcode", "wijkcode", "gemeentecode", "bedrijventerreincode", "buitengebied"]
POINT_TABLES = ("verblijfsobject", "leegstand", "signaal")
GAP_METRES = 250


def editions(conn: Connection) -> dict[str, int]:
    """The newest edition (jaar) per area type; -1 where there is none."""
    rows = conn.execute(text("SELECT soort, max(jaar) FROM gebied GROUP BY soort")).all()
    found = {str(soort): int(jaar) for soort, jaar in rows}
    return {s: found.get(s, -1) for s in ("gemeente", "buurt", "bedrijventerrein", "buitengebied")}


def assignment_sql(conn: Connection, alias: str) -> tuple[list[str], str, dict[str, Any]]:
    """Select expressions, joins and parameters that assign areas to ``alias.geom``."""
    g = alias
    joins = f"""
        LEFT JOIN gebied bu ON bu.id = COALESCE(
            (SELECT b.id FROM gebied b
              WHERE b.soort = 'buurt' AND b.jaar = :buurt_jaar AND ST_Intersects(b.geom, {g}.geom)
              ORDER BY b.code LIMIT 1),
            (SELECT b.id FROM gebied b
              WHERE b.soort = 'buurt' AND b.jaar = :buurt_jaar
                AND ST_DWithin(b.geom, {g}.geom, {GAP_METRES})
              ORDER BY ST_Distance(b.geom, {g}.geom), b.code LIMIT 1))
        LEFT JOIN LATERAL (
            SELECT t.code FROM gebied t
             WHERE t.soort = 'bedrijventerrein' AND t.jaar = :bt_jaar
               AND ST_Intersects(t.geom, {g}.geom)
             ORDER BY t.code LIMIT 1) bt ON true
        LEFT JOIN LATERAL (
            SELECT true AS inside FROM gebied r
             WHERE r.soort = 'buitengebied' AND r.jaar = :bg_jaar
               AND ST_Intersects(r.geom, {g}.geom)
             LIMIT 1) bg ON true
    """
    select = [
        "bu.code",
        "COALESCE(bu.wijkcode, 'WK' || substr(bu.code, 3, 6))",
        f"""COALESCE(bu.gemeentecode, (SELECT m.code FROM gebied m
              WHERE m.soort = 'gemeente' AND m.jaar = :gm_jaar
                AND ST_Intersects(m.geom, {g}.geom) ORDER BY m.code LIMIT 1))""",
        "bt.code",
        "COALESCE(bg.inside, false)",
    ]
    ed = editions(conn)
    params = {
        "buurt_jaar": ed["buurt"],
        "bt_jaar": ed["bedrijventerrein"],
        "bg_jaar": ed["buitengebied"],
        "gm_jaar": ed["gemeente"],
    }
    return select, joins, params


def reassign(conn: Connection) -> dict[str, int]:
    """Re-assign every point table after the areas changed; returns rows changed per table."""
    changed: dict[str, int] = {}
    for table in POINT_TABLES:
        select, joins, params = assignment_sql(conn, "p")
        columns = ", ".join(AREA_COLUMNS)
        values = ", ".join(f"{expr} AS {name}" for expr, name in zip(select, AREA_COLUMNS, strict=True))
        sql = f"""
            WITH fresh AS (
                SELECT p.id, {values} FROM {table} p {joins}
            )
            UPDATE {table} t SET ({columns}) = (
                f.buurtcode, f.wijkcode, f.gemeentecode, f.bedrijventerreincode, f.buitengebied)
            FROM fresh f
            WHERE f.id = t.id AND ({", ".join("t." + c for c in AREA_COLUMNS)})
                IS DISTINCT FROM ({", ".join("f." + c for c in AREA_COLUMNS)})
        """
        changed[table] = int(conn.execute(text(sql), params).rowcount)
    return changed
