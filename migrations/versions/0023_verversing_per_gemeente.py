"""Refresh per municipality touched: the signal cubes become tables kept per gemeentecode.

Issue #16 ("indicator refresh per municipality touched, not of everything"). ``REFRESH
MATERIALIZED VIEW`` can only rebuild a whole view, so after a delivery of a few hundred
signals in three municipalities the national cube (tens of millions of cells) was rebuilt,
and every class's figures recomputed. Now:

- ``ingest_run.gemeenten``: the municipalities whose figures a run changed (NULL: it may
  have changed any, e.g. an area or address load: refresh everything);
- ``signaal_kubus`` and ``signaal_dag``: tables with the materialised views' rows, refilled
  per municipality by ``signaal_kubus_van(alleen)`` / ``signaal_dag_van(alleen)`` (the views'
  own text with the municipalities as a filter; NULL: all) in the refresh's transaction
  (delete + insert), so readers keep the old cells until it commits;
- ``signaal_bereik``: per municipality, covenant and data class the first and last day of
  its signals, so a class's periods (its first quarter, its newest day for the rolling
  windows) come from every municipality it sees, also when only some are recomputed;
- ``zicht_cijfers(ids, alleen)``: 0020's text computing only the areas of the municipalities
  ``alleen`` (NULL: all), plus every area outside the standard divisions (postcode areas,
  grid squares, a municipality's own division: they may cross municipal borders, so they are
  always recomputed whole). Their inputs are complete: the cells of their areas, the
  municipal totals, and the class-wide periods from ``signaal_bereik``.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

COUNTS = """signalen bigint NOT NULL, pandsluitingen bigint NOT NULL, bibob bigint NOT NULL,
    controles bigint NOT NULL, meldingen bigint NOT NULL"""
CELL = "gebied_soort text NOT NULL, indeling text NOT NULL, code text NOT NULL, gemeentecode text"
CLASS = "thema text NOT NULL, convenant text NOT NULL, dataklasse text NOT NULL"
#: The cell filter of a partial recompute: the municipalities' own cells, and every cell an
#: area recomputed with them may need (business parks may cross a border; municipal totals).
CELLS = (
    "(alleen IS NULL OR k.gemeentecode = ANY (alleen) OR k.gebied_soort IN ('gemeente', 'bedrijventerrein')"
    " OR k.indeling <> standaard_indeling(k.gebied_soort))"
)


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


def _filtered(sql: str, name: str, head: str, group: str) -> str:
    """A cube view's text as a function of the municipalities to compute (NULL: all)."""
    sql = _replace(
        sql,
        head,
        f"CREATE FUNCTION {name}_van(alleen text[]) RETURNS SETOF {name} LANGUAGE sql STABLE AS $$",
    )
    sql = _replace(
        sql,
        "            WHERE bewaren_tot >= current_date\n",
        "            WHERE bewaren_tot >= current_date AND (alleen IS NULL OR gemeentecode = ANY (alleen))\n",
    )
    sql = _replace(
        sql,
        "        WHERE p.bewaren_tot >= current_date\n",
        "        WHERE p.bewaren_tot >= current_date AND (alleen IS NULL OR p.gemeentecode = ANY (alleen))\n",
    )
    sql = _replace(sql, f"GROUP BY {group};", f"GROUP BY {group}\n        $$;")
    sql = _replace(
        sql, f"COMMENT ON MATERIALIZED VIEW {name} IS", f"COMMENT ON FUNCTION {name}_van(text[]) IS"
    )
    return sql


def _cube_functions() -> str:
    kubus = _filtered(
        _revision("0011_gebied_indeling.py")._cube(),
        "signaal_kubus",
        "DROP MATERIALIZED VIEW signaal_kubus;\n        CREATE MATERIALIZED VIEW signaal_kubus AS",
        "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    )
    dag = _filtered(
        _revision("0020_vensters.py")._days(),
        "signaal_dag",
        "CREATE MATERIALIZED VIEW signaal_dag AS",
        "1, 2, 3, 4, 5, 6, 7, 8",
    )
    return kubus + dag


TABLES = f"""
    DROP MATERIALIZED VIEW signaal_kubus;
    DROP MATERIALIZED VIEW signaal_dag;
    CREATE TABLE signaal_kubus ({CELL}, periode text NOT NULL, periode_soort text NOT NULL,
        van date NOT NULL, {CLASS}, {COUNTS});
    CREATE INDEX signaal_kubus_gemeentecode_idx ON signaal_kubus (gemeentecode);
    COMMENT ON TABLE signaal_kubus IS
        'Signal counts per area, period, theme, covenant and data class, kept per municipality by the refresh; never for the api role.';
    CREATE TABLE signaal_dag ({CELL}, datum date NOT NULL, {CLASS}, {COUNTS});
    CREATE INDEX signaal_dag_gemeentecode_idx ON signaal_dag (gemeentecode);
    COMMENT ON TABLE signaal_dag IS
        'signaal_kubus per day (rolling windows), kept per municipality by the refresh; never for the api role.';
    CREATE TABLE signaal_bereik (gemeentecode text, convenant text NOT NULL, dataklasse text NOT NULL,
        eerste date NOT NULL, laatste date NOT NULL);
    CREATE INDEX signaal_bereik_gemeentecode_idx ON signaal_bereik (gemeentecode);
    COMMENT ON TABLE signaal_bereik IS
        'First and last signal day per municipality, covenant and data class: a class''s periods in a partial refresh.';
    ALTER TABLE ingest_run ADD COLUMN gemeenten text[];
    COMMENT ON COLUMN ingest_run.gemeenten IS
        'Municipalities whose figures this run changed (NULL: any; refresh everything).';
"""

FILL = """
    INSERT INTO signaal_kubus SELECT * FROM signaal_kubus_van(NULL);
    INSERT INTO signaal_dag SELECT * FROM signaal_dag_van(NULL);
    INSERT INTO signaal_bereik SELECT gemeentecode, convenant, dataklasse, min(datum), max(datum)
        FROM signaal_dag GROUP BY gemeentecode, convenant, dataklasse;
"""


def _figures() -> str:
    """0020's ``zicht_cijfers`` for the areas of some municipalities (``alleen``; NULL: all)."""
    sql = _revision("0020_vensters.py")._figures()
    sees = _revision("0011_gebied_indeling.py").SEES
    sql = _replace(
        sql,
        "CREATE OR REPLACE FUNCTION zicht_cijfers(ids bigint[]) RETURNS",
        "CREATE FUNCTION zicht_cijfers(ids bigint[], alleen text[] DEFAULT NULL) RETURNS",
    )
    sql = _replace(
        sql,
        "FROM z JOIN actueel_gebied a ON (z.gemeenten IS NULL OR a.gemeentecode = ANY (z.gemeenten))\n",
        "FROM z JOIN actueel_gebied a ON (z.gemeenten IS NULL OR a.gemeentecode = ANY (z.gemeenten))\n"
        "            WHERE alleen IS NULL OR a.gemeentecode = ANY (alleen)"
        " OR a.indeling <> standaard_indeling(a.soort)\n",
    )
    for cube, after in (("signaal_kubus", "telling_kubus"), ("signaal_dag", "laatste")):
        sql = _replace(
            sql,
            f"k.dataklasse = ANY (z.dataklassen)\n        ),\n        {after} AS",
            f"k.dataklasse = ANY (z.dataklassen)\n             AND {CELLS}\n        ),\n        {after} AS",
        )
        assert f"JOIN {cube} k" in sql
    sql = _replace(
        sql,
        """        span AS (
            SELECT z.id AS zicht_id, coalesce(min(k.van), current_date) AS lo,
                   coalesce(max(k.van), current_date) AS hi
            FROM z LEFT JOIN kubus k ON k.zicht_id = z.id AND k.periode_soort = 'kwartaal'
            GROUP BY z.id
        ),
""",
        f"""        bereik AS (
            -- Every municipality the class sees, also those not recomputed now.
            SELECT z.id AS zicht_id, k.eerste, k.laatste FROM z JOIN signaal_bereik k ON {sees}
        ),
        span AS (
            SELECT z.id AS zicht_id, coalesce(date_trunc('quarter', min(b.eerste))::date, current_date) AS lo,
                   coalesce(date_trunc('quarter', max(b.laatste))::date, current_date) AS hi
            FROM z LEFT JOIN bereik b ON b.zicht_id = z.id
            GROUP BY z.id
        ),
""",
    )
    sql = _replace(
        sql,
        "SELECT zicht_id, max(datum) AS dag FROM dag GROUP BY zicht_id",
        "SELECT zicht_id, max(laatste) AS dag FROM bereik GROUP BY zicht_id",
    )
    # Addresses and vacancy: of the municipalities whose areas are computed.
    sql = _replace(
        sql,
        "            FROM verblijfsobject\n            GROUP BY",
        "            FROM verblijfsobject\n"
        "            WHERE alleen IS NULL OR gemeentecode IN (SELECT gemeentecode FROM area)\n"
        "            GROUP BY",
    )
    sql = _replace(
        sql,
        "            WHERE u.code IS NOT NULL\n            UNION ALL\n            SELECT l.sinds",
        "            WHERE u.code IS NOT NULL\n"
        "              AND (alleen IS NULL OR l.gemeentecode IN (SELECT gemeentecode FROM area))\n"
        "            UNION ALL\n            SELECT l.sinds",
    )
    return sql + (
        "COMMENT ON FUNCTION zicht_cijfers(bigint[], text[]) IS 'Indicator rows of these view classes"
        " from the signal cube, for the areas of the municipalities alleen (NULL: all); withheld flags unset.';"
    )


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(_cube_functions())
    op.execute(FILL)
    op.execute("DROP FUNCTION zicht_cijfers(bigint[])")
    op.execute(_figures())


def downgrade() -> None:
    op.execute("DROP FUNCTION zicht_cijfers(bigint[], text[])")
    op.execute("DROP FUNCTION signaal_kubus_van(text[]); DROP FUNCTION signaal_dag_van(text[])")
    op.execute(
        "DROP TABLE signaal_kubus, signaal_dag, signaal_bereik; ALTER TABLE ingest_run DROP COLUMN gemeenten"
    )
    op.execute(
        _replace(_revision("0011_gebied_indeling.py")._cube(), "DROP MATERIALIZED VIEW signaal_kubus;", "")
    )
    op.execute(_revision("0020_vensters.py")._days())
    op.execute(_revision("0020_vensters.py")._figures())
