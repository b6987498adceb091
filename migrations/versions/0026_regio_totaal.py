"""The region's totals in a table of their own; the deviation against the region computed on read.

Issue 16 ("a 1 % delta and its refresh in under 60 s"). Migration 0024 stored
``verwacht_regio``, ``z_regio`` and ``afwijkend_regio`` in every row of ``indicator_zicht``.
They depend on the region's totals, so a delivery for one municipality changed them in every
area of every class that sees it with others: the national class (2.9 M rows at national
scale) was recomputed and rewritten whole after each delta, 220 s of a 240 s refresh.

Now each class keeps one row per period and theme with its region's totals
(``zicht_regio``: signals and addresses of the municipalities it sees, and how many of them
have addresses), summed from its own municipality rows, and ``laag_indicator_zicht`` computes
the three figures from those totals and the area's own counts, with the same arithmetic
(float8, rounded to 2 decimals) as 0024 did. A delta recomputes the changed municipalities'
areas and the few thousand total rows, not the nation.

- ``indicator_zicht`` loses the three columns; ``zicht_cijfers`` is 0023's text again.
- ``zicht_regio_van(ids)``: the totals of these classes from their ``gemeente`` rows (the
  rows of the standard division; a class of one municipality has one and so no region).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

#: Snapshot of 0024's published totals for aggregate-only principals, unchanged.
_PUBLISHED_TOTAL = """(SELECT CASE WHEN count(*) > 1 AND bool_and(r.{count}_onderdrukt IS FALSE)
                AND bool_or(r.code = i.gemeentecode)
                THEN sum(round(r.{count} / 5.0) * 5) END
            FROM indicator_zicht r
            WHERE r.zicht_id = i.zicht_id AND r.gebied_soort = 'gemeente'
              AND r.indeling = standaard_indeling('gemeente')
              AND r.periode = i.periode AND r.thema = i.thema)"""

#: The expected count at the rate of the rest of the region (0024's ``verwacht_regio``
#: before rounding): none for too few addresses, for a class of one municipality, or when
#: the area holds every address of the region.
_EXPECTED = """CASE WHEN NOT i.te_weinig_adressen AND r.gemeenten > 1 AND r.adressen > i.adressen
                THEN (r.signalen - i.signalen)::float8 / (r.adressen - i.adressen) * i.adressen END"""

VIEW = f"""
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, round(e.verwacht::numeric, 2) AS verwacht_regio,
               round(e.z::numeric, 2) AS z_regio,
               CASE WHEN e.z IS NOT NULL THEN e.z >= 3 AND i.signalen >= 10 END AS afwijkend_regio,
               i.indeling = standaard_indeling(i.gebied_soort) AS standaard, g.jaar AS gebied_jaar,
               g.geom, g.geom_3857,
               {_PUBLISHED_TOTAL.format(count="signalen")} AS regio_signalen_gepubliceerd,
               {_PUBLISHED_TOTAL.format(count="adressen")} AS regio_adressen_gepubliceerd
        FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id
        LEFT JOIN zicht_regio r ON r.zicht_id = i.zicht_id AND r.periode = i.periode AND r.thema = i.thema
        CROSS JOIN LATERAL (SELECT v.verwacht, (i.signalen - v.verwacht) / sqrt(NULLIF(v.verwacht, 0)) AS z
                            FROM (SELECT {_EXPECTED} AS verwacht) v) e;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons, the '
            'deviation against the region (from zicht_regio) and the region''s published totals '
            '(for aggregate-only principals).';
        GRANT SELECT ON laag_indicator_zicht TO okaart_api;
"""

TOTALS = """
        CREATE TABLE zicht_regio (
            -- No foreign key, as indicator_zicht: core.zicht removes a class's rows with it.
            zicht_id bigint NOT NULL,
            periode text NOT NULL,
            thema text NOT NULL,
            signalen bigint NOT NULL,
            adressen bigint NOT NULL,
            gemeenten integer NOT NULL,
            PRIMARY KEY (zicht_id, periode, thema)
        );
        COMMENT ON TABLE zicht_regio IS
            'Per view class, period and theme: the totals of the municipalities it sees (its region).';
        COMMENT ON COLUMN zicht_regio.gemeenten IS 'Municipalities of the region with addresses.';
        CREATE FUNCTION zicht_regio_van(ids bigint[]) RETURNS SETOF zicht_regio
        LANGUAGE sql STABLE AS $$
            SELECT zicht_id, periode, thema, sum(signalen)::bigint, sum(adressen)::bigint,
                   (count(*) FILTER (WHERE adressen > 0))::integer
            FROM indicator_zicht
            WHERE zicht_id = ANY (ids) AND gebied_soort = 'gemeente'
              AND indeling = standaard_indeling('gemeente')
            GROUP BY zicht_id, periode, thema
        $$;
        COMMENT ON FUNCTION zicht_regio_van(bigint[]) IS
            'The region totals of these view classes, from their municipality rows.';
"""


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[], text[]);
        ALTER TABLE indicator_zicht
            DROP COLUMN verwacht_regio,
            DROP COLUMN z_regio,
            DROP COLUMN afwijkend_regio;
        """
    )
    op.execute(_revision("0023_verversing_per_gemeente.py")._figures())
    op.execute(TOTALS)
    op.execute(VIEW)
    op.execute("INSERT INTO zicht_regio SELECT * FROM zicht_regio_van(ARRAY(SELECT id FROM zicht))")


def downgrade() -> None:
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_regio_van(bigint[]);
        DROP TABLE zicht_regio;
        DROP FUNCTION zicht_cijfers(bigint[], text[]);
        """
    )
    previous = _revision("0024_regio.py")
    op.execute(
        """
        ALTER TABLE indicator_zicht
            ADD COLUMN verwacht_regio numeric,
            ADD COLUMN z_regio numeric,
            ADD COLUMN afwijkend_regio boolean;
        """
    )
    op.execute(previous._figures())
    op.execute(previous.VIEW)
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )
