"""Rolling windows: the last 28 and 365 days beside years and quarters.

Issue #15 ("only one moment"). Two periods more per view class, ``laatste28d`` and
``laatste365d`` (``periode_soort`` ``venster``), ending on the newest date of the signals the
class may see (docs/decisions.md "Rolling windows": not today, whose window would be empty
for a delivery of last month, and not the newest date of all signals, which would tell a
class the date of a signal it may not see). The quarterly cube cannot say which signals fall
in a window, so:

- ``signaal_dag``: the cube per day instead of per quarter (never for the api role);
- ``zicht_cijfers`` (0015's text with these changes, each asserted to apply): the class's
  newest visible day, the two windows as periods (no previous window: ``eerste_periode``,
  no trend), their counts
  from ``signaal_dag``, their vacancy over the window's own dates;
- ``zicht_invoer`` also fingerprints the visible day cells, so a signal that moves within a
  quarter still recomputes the class.

Planners' windows are suppressed like every period (core/zicht.py: primary and secondary
suppression across areas and themes); a window is no sum of quarters, so it is in no period
equation.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: Snapshot of app.periods.VENSTERS at this revision: label and length in days.
VENSTERS = (("laatste28d", 28), ("laatste365d", 365))


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replace(sql: str, old: str, new: str) -> str:
    assert sql.count(old) == 1, f"the earlier text changed: {old!r}"
    return sql.replace(old, new)


def _days() -> str:
    """0011's cube, per day: the same rows and area assignment, ``datum`` for the period."""
    sql = _revision("0011_gebied_indeling.py")._cube()
    sql = _replace(
        sql,
        "DROP MATERIALIZED VIEW signaal_kubus;\n        CREATE MATERIALIZED VIEW signaal_kubus AS",
        "CREATE MATERIALIZED VIEW signaal_dag AS",
    )
    sql = _replace(sql, "date_trunc('quarter', datum)::date AS kwartaal", "datum AS kwartaal")
    sql = _replace(sql, "date_trunc('quarter', s.datum)::date,", "s.datum,")
    sql = _replace(
        sql,
        "SELECT g.gebied_soort, g.indeling, g.code, g.gemeentecode, p.periode, p.periode_soort, p.van,",
        "SELECT g.gebied_soort, g.indeling, g.code, g.gemeentecode, g.kwartaal AS datum,",
    )
    sql = _replace(
        sql,
        """        CROSS JOIN LATERAL (VALUES
            (to_char(g.kwartaal, 'YYYY'), 'jaar', date_trunc('year', g.kwartaal)::date),
            (to_char(g.kwartaal, 'YYYY-"K"Q'), 'kwartaal', g.kwartaal)) AS p(periode, periode_soort, van)
""",
        "",
    )
    sql = _replace(sql, "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;", "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;")
    sql = _replace(
        sql,
        "COMMENT ON MATERIALIZED VIEW signaal_kubus IS\n"
        "            'Signal counts per area (type, division, code), period,",
        "COMMENT ON MATERIALIZED VIEW signaal_dag IS\n"
        "            'Signal counts per area (type, division, code), day (rolling windows),",
    )
    return sql


def _figures() -> str:
    """0015's ``zicht_cijfers`` with the two rolling windows."""
    sql = _revision("0015_kaart.py")._figures()
    sees = _revision("0011_gebied_indeling.py").SEES
    sql = _replace(sql, "        telling AS (\n", "        telling_kubus AS (\n")
    windows = ", ".join(f"('{label}', {days})" for label, days in VENSTERS)
    sql = _replace(
        sql,
        """            GROUP BY z.id
        ),
        periode AS (""",
        f"""            GROUP BY z.id
        ),
        dag AS (
            SELECT z.id AS zicht_id, k.* FROM z JOIN signaal_dag k ON {sees}
        ),
        laatste AS (
            SELECT zicht_id, max(datum) AS dag FROM dag GROUP BY zicht_id
        ),
        periode AS (""",
    )
    sql = _replace(
        sql,
        """interval '3 months') d
        ),
""",
        f"""interval '3 months') d
            UNION ALL
            -- Rolling windows up to the class's newest visible day; no previous window to
            -- compare with, which ``eerste`` says (no trend), as for the first period.
            SELECT l.zicht_id, w.periode, 'venster', (l.dag - w.dagen + 1)::date, (l.dag + 1)::date, NULL, true
            FROM laatste l CROSS JOIN (VALUES {windows}) AS w(periode, dagen)
        ),
        telling AS (
            SELECT * FROM telling_kubus
            UNION ALL
            SELECT d.zicht_id, d.gebied_soort, d.indeling, d.code, pe.periode, d.thema,
                   sum(d.signalen)::bigint, sum(d.pandsluitingen)::bigint, sum(d.bibob)::bigint,
                   sum(d.controles)::bigint, sum(d.meldingen)::bigint
            FROM dag d JOIN periode pe ON pe.zicht_id = d.zicht_id AND pe.periode_soort = 'venster'
                AND d.datum >= pe.van AND d.datum < pe.tot
            GROUP BY d.zicht_id, d.gebied_soort, d.indeling, d.code, pe.periode, d.thema
        ),
""",
    )
    # Windows end on each class's own day: their vacancy per class, not per label.
    sql = _replace(
        sql,
        "JOIN (SELECT DISTINCT periode, van, tot FROM periode) pe",
        "JOIN (SELECT DISTINCT periode, van, tot FROM periode WHERE periode_soort <> 'venster') pe",
    )
    sql = _replace(
        sql,
        "            GROUP BY l.soort, l.indeling, l.code, pe.periode\n        ),\n",
        """            GROUP BY l.soort, l.indeling, l.code, pe.periode
        ),
        leeg_venster AS (
            SELECT pe.zicht_id, l.soort, l.indeling, l.code, pe.periode, count(*) AS leegstand
            FROM leeg_gebied l
            JOIN periode pe ON pe.periode_soort = 'venster'
              AND l.sinds < pe.tot AND (l.tot IS NULL OR l.tot >= pe.van)
            GROUP BY pe.zicht_id, l.soort, l.indeling, l.code, pe.periode
        ),
""",
    )
    sql = _replace(
        sql, "coalesce(le.leegstand, 0) AS leegstand", "coalesce(le.leegstand, lv.leegstand, 0) AS leegstand"
    )
    sql = _replace(
        sql,
        "                AND le.periode = pe.periode\n        ),\n",
        """                AND le.periode = pe.periode
            LEFT JOIN leeg_venster lv ON lv.zicht_id = a.zicht_id AND lv.soort = a.soort
                AND lv.indeling = a.indeling AND lv.code = a.code AND lv.periode = pe.periode
        ),
""",
    )
    return sql


def _inputs(with_days: bool) -> str:
    """0007's ``zicht_invoer``, with (or without) the visible day cells in the fingerprint."""
    zicht = _revision("0007_zicht.py")
    sql = _replace(zicht._inputs(), "CREATE FUNCTION zicht_invoer", "CREATE OR REPLACE FUNCTION zicht_invoer")
    if not with_days:
        return sql
    return _replace(
        sql,
        "               || coalesce(sum(hashtextextended(ROW(k.*)::text, 0)::numeric), 0)\n",
        f"""               || coalesce(sum(hashtextextended(ROW(k.*)::text, 0)::numeric), 0)
               || '|' || (SELECT count(*) || ':' || coalesce(sum(hashtextextended(ROW(k.*)::text, 0)::numeric), 0)
                          FROM signaal_dag k WHERE {zicht.SEES})
""",
    )


def upgrade() -> None:
    op.execute(_days())
    op.execute("DROP FUNCTION zicht_cijfers(bigint[])")
    op.execute(_figures())
    op.execute(_inputs(with_days=True))
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION zicht_cijfers(bigint[])")
    op.execute(_revision("0015_kaart.py")._figures())
    op.execute(_inputs(with_days=False))
    op.execute("DROP MATERIALIZED VIEW signaal_dag")
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )
