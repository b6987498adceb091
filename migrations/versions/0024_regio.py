"""Deviation against the region: ``verwacht_regio``, ``z_regio``, ``afwijkend_regio``.

Issue 16 ("deviation against the municipality and against the region"). A principal of
several municipalities (a RIEC, a region) compares an area with the rest of *its* region, not
only with the rest of the area's own municipality. The region is what the view class covers:
its municipalities, or every municipality for a class without a list (docs/decisions.md
"Deviation against the region"). A class of one municipality has no region: its regional
figures are NULL, never a copy of the municipal ones, so nothing on a map claims a regional
comparison that was not made.

- ``zicht_cijfers`` (0023's text with these changes, each asserted to apply): the class's
  region totals (signals from the class's own visible cells, so from the rows it may see;
  addresses of its municipalities), the expected count at the rest of the region's rate, z
  (Poisson) and ``afwijkend_regio`` (z >= 3 and at least 10 signals) as for the municipality.
- ``laag_indicator_zicht``: for aggregate-only principals the region's totals *as published*
  (the class's municipality rows, each rounded to 5; NULL when any of them is withheld), from
  which app/layer_sql.py computes the planner's regional figures: nothing in them can be
  solved back to a withheld count, because they are a function of published counts only.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

#: Snapshot of core.zicht.MIN_ADRESSEN at this revision (0015 wrote it into the text).
MIN_ADRESSEN = 20

#: The region's published totals for one row of ``indicator_zicht i``: the sum of the class's
#: municipality rows of the same period and theme, each rounded to 5 as a planner gets it;
#: NULL unless there are several, none withheld (an unset flag withholds) and the row's own
#: municipality is one of them.
_PUBLISHED_TOTAL = """(SELECT CASE WHEN count(*) > 1 AND bool_and(r.{count}_onderdrukt IS FALSE)
                AND bool_or(r.code = i.gemeentecode)
                THEN sum(round(r.{count} / 5.0) * 5) END
            FROM indicator_zicht r
            WHERE r.zicht_id = i.zicht_id AND r.gebied_soort = 'gemeente'
              AND r.indeling = standaard_indeling('gemeente')
              AND r.periode = i.periode AND r.thema = i.thema)"""

VIEW = f"""
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, i.indeling = standaard_indeling(i.gebied_soort) AS standaard, g.jaar AS gebied_jaar,
               g.geom, g.geom_3857,
               {_PUBLISHED_TOTAL.format(count="signalen")} AS regio_signalen_gepubliceerd,
               {_PUBLISHED_TOTAL.format(count="adressen")} AS regio_adressen_gepubliceerd
        FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons and the '
            'region''s published totals (for aggregate-only principals).';
        GRANT SELECT ON laag_indicator_zicht TO okaart_api;
"""

#: 0015's view, for the downgrade.
OLD_VIEW = """
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, i.indeling = standaard_indeling(i.gebied_soort) AS standaard, g.jaar AS gebied_jaar,
               g.geom, g.geom_3857
        FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons.';
        GRANT SELECT ON laag_indicator_zicht TO okaart_api;
"""


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replace(sql: str, old: str, new: str) -> str:
    assert sql.count(old) == 1, f"the earlier zicht_cijfers changed: {old!r}"
    return sql.replace(old, new)


def _figures() -> str:
    """0023's ``zicht_cijfers`` (per municipality) with the deviation against the region.

    The region's totals come from the class's municipality cells, which 0023 keeps for every
    municipality, and from its municipalities' addresses; core.zicht.refresh computes a class
    of several municipalities whole, never for some of its municipalities only."""
    sql = _revision("0023_verversing_per_gemeente.py")._figures()
    # The region of each class: its municipalities' addresses, and per period and theme the
    # signals of its own visible municipality cells (``telling`` holds only those).
    sql = _replace(
        sql,
        "        leeg_gebied AS (\n",
        """        regio_adres AS (
            SELECT z.id AS zicht_id, sum(ad.adressen)::bigint AS adressen, count(*) AS gemeenten
            FROM z JOIN adres ad ON ad.soort = 'gemeente' AND ad.indeling = standaard_indeling('gemeente')
                AND (z.gemeenten IS NULL OR ad.code = ANY (z.gemeenten))
            GROUP BY z.id
        ),
        regio_telling AS (
            SELECT zicht_id, periode, thema, sum(signalen)::bigint AS signalen
            FROM telling
            WHERE gebied_soort = 'gemeente' AND indeling = standaard_indeling('gemeente')
            GROUP BY zicht_id, periode, thema
        ),
        leeg_gebied AS (
""",
    )
    sql = _replace(
        sql,
        "                   coalesce(le.leegstand, lv.leegstand, 0) AS leegstand\n            FROM area a\n",
        """                   coalesce(le.leegstand, lv.leegstand, 0) AS leegstand,
                   coalesce(ra.adressen, 0) AS regio_adressen, coalesce(ra.gemeenten, 0) AS regio_gemeenten
            FROM area a
            LEFT JOIN regio_adres ra ON ra.zicht_id = a.zicht_id
""",
    )
    sql = _replace(
        sql,
        "                   END AS verwacht\n            FROM vak v\n",
        f"""                   END AS verwacht,
                   CASE WHEN NOT (v.adressen < {MIN_ADRESSEN}) AND v.regio_gemeenten > 1
                        AND v.regio_adressen > v.adressen
                        THEN (coalesce(rt.signalen, 0) - coalesce(tl.signalen, 0))::float8
                             / (v.regio_adressen - v.adressen) * v.adressen
                   END AS verwacht_regio
            FROM vak v
""",
    )
    sql = _replace(
        sql,
        "                AND gm.periode = v.periode AND gm.thema = t.thema\n        ),\n",
        """                AND gm.periode = v.periode AND gm.thema = t.thema
            LEFT JOIN regio_telling rt ON rt.zicht_id = v.zicht_id AND rt.periode = v.periode
                AND rt.thema = t.thema
        ),
""",
    )
    sql = _replace(
        sql,
        "            SELECT s.*, (s.signalen - s.verwacht) / sqrt(NULLIF(s.verwacht, 0)) AS z,\n",
        """            SELECT s.*, (s.signalen - s.verwacht) / sqrt(NULLIF(s.verwacht, 0)) AS z,
                   (s.signalen - s.verwacht_regio) / sqrt(NULLIF(s.verwacht_regio, 0)) AS z_regio,
""",
    )
    return _replace(
        sql,
        "               v.eerste\n        FROM afwijking v",
        """               v.eerste,
               round(v.verwacht_regio::numeric, 2),
               round(v.z_regio::numeric, 2),
               CASE WHEN v.z_regio IS NOT NULL THEN v.z_regio >= 3 AND v.signalen >= 10 END
        FROM afwijking v""",
    )


def upgrade() -> None:
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[], text[]);
        ALTER TABLE indicator_zicht
            ADD COLUMN verwacht_regio numeric,
            ADD COLUMN z_regio numeric,
            ADD COLUMN afwijkend_regio boolean;
        COMMENT ON COLUMN indicator_zicht.verwacht_regio IS
            'Expected signals at the rate of the rest of the region (the class''s municipalities); '
            'NULL for a class of one municipality.';
        COMMENT ON COLUMN indicator_zicht.z_regio IS
            'Deviation from the rest of the region (Poisson z); NULL for a class of one municipality.';
        COMMENT ON COLUMN indicator_zicht.afwijkend_regio IS
            'z_regio >= 3 and at least 10 signals; NULL where z_regio is unknown.';
        """
    )
    op.execute(_figures())
    op.execute(VIEW)
    # Every class's figures anew; suppressed classes get their flags at the next refresh
    # (until then their counts stay withheld: a NULL flag withholds).
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )


def downgrade() -> None:
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
    op.execute(OLD_VIEW)
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )
