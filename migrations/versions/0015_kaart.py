"""Small areas: a minimum of addresses, an Empirical Bayes rate, unknown deviation stays unknown.

Issue #15: Stadspark (5 addresses, 29 signals) showed "5.800 per 1.000, afwijkend ja
(z 25,7)"; z = -6 read "wijkt niet duidelijk af"; ``afwijkend`` was false where z is unknown.
``zicht_cijfers`` (revision 0011) changes in four places, and so every output (items, tiles,
overviews, ``/locate``, exports), which all read ``indicator_zicht``:

- an area with fewer than ``MIN_ADRESSEN`` addresses gets no rate, no vacancy rate, no
  expected count, no z and no trend, and ``te_weinig_adressen`` says why;
- ``per_1000_eb``: the signals per 1,000 addresses shrunk towards the municipality's rate by
  the global Empirical Bayes estimator (Marshall 1991; docs/decisions.md "Small areas");
- ``afwijkend`` is NULL (unknown) where z is;
- ``eerste_periode``: the first period with data, which has no previous one to compare with.

The function is 0011's text with these changes applied (each one asserted to apply), so the
two revisions cannot silently differ elsewhere.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: Snapshot of core.zicht.MIN_ADRESSEN at this revision.
MIN_ADRESSEN = 20

VIEW = """
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
    assert sql.count(old) == 1, f"0011's zicht_cijfers changed: {old!r}"
    return sql.replace(old, new)


def _figures() -> str:
    """0011's ``zicht_cijfers`` with the minimum, the EB rate and the unknowns."""
    sql = _revision("0011_gebied_indeling.py")._figures()
    small = f"v.adressen < {MIN_ADRESSEN}"
    sql = _replace(
        sql,
        "                   v.adressen, v.leegstand,\n",
        f"                   v.adressen, v.leegstand, v.eerste, {small} AS te_weinig,\n",
    )
    sql = _replace(
        sql,
        "CASE WHEN v.gemeente_adressen > v.adressen",
        f"CASE WHEN NOT ({small}) AND v.gemeente_adressen > v.adressen",
    )
    # Global Empirical Bayes (Marshall 1991) per view class, area type, division, municipality,
    # period and theme, over the areas with addresses: m = sum(O) / sum(n);
    # s2 = sum(O^2 / n) / sum(n) - m^2 - m * N / sum(n)  (= sum(n (r - m)^2) / sum(n) - m / mean(n));
    # an area's rate r = O / n is shrunk to m + w (r - m), w = s2 / (s2 + m / n), s2 below 0 as 0.
    sql = _replace(
        sql,
        """        afwijking AS (
            SELECT b.*, (b.signalen - b.verwacht) / sqrt(NULLIF(b.verwacht, 0)) AS z
            FROM basis b
        )""",
        """        groep AS (
            SELECT b.*,
                   sum(b.signalen) OVER w AS eb_o, sum(b.adressen) OVER w AS eb_n,
                   sum(b.signalen::float8 ^ 2 / NULLIF(b.adressen, 0)) OVER w AS eb_q,
                   count(*) FILTER (WHERE b.adressen > 0) OVER w AS eb_k
            FROM basis b
            WINDOW w AS (PARTITION BY b.zicht_id, b.gebied_soort, b.indeling, b.gemeentecode, b.periode, b.thema)
        ),
        schatting AS (
            SELECT g.*, g.eb_o::float8 / NULLIF(g.eb_n, 0) AS eb_m FROM groep g
        ),
        afwijking AS (
            SELECT s.*, (s.signalen - s.verwacht) / sqrt(NULLIF(s.verwacht, 0)) AS z,
                   greatest(s.eb_q / NULLIF(s.eb_n, 0) - s.eb_m ^ 2 - s.eb_m * s.eb_k / NULLIF(s.eb_n, 0), 0)
                       AS eb_s2
            FROM schatting s
        )""",
    )
    sql = _replace(
        sql,
        "               round((1000.0::float8 * v.signalen / NULLIF(v.adressen, 0))::numeric, 2),",
        "               CASE WHEN NOT v.te_weinig THEN"
        " round((1000.0::float8 * v.signalen / NULLIF(v.adressen, 0))::numeric, 2) END,",
    )
    sql = _replace(
        sql,
        "               round((100.0::float8 * v.leegstand / NULLIF(v.adressen, 0))::numeric, 2),",
        "               CASE WHEN NOT v.te_weinig THEN"
        " round((100.0::float8 * v.leegstand / NULLIF(v.adressen, 0))::numeric, 2) END,",
    )
    sql = _replace(
        sql,
        "coalesce(v.z >= 3 AND v.signalen >= 10, false),",
        "CASE WHEN v.z IS NOT NULL THEN v.z >= 3 AND v.signalen >= 10 END,",
    )
    sql = _replace(
        sql,
        "               round((2 * (sqrt(v.signalen::float8) - sqrt(v.vorige_signalen::float8)))::numeric, 2),",
        "               CASE WHEN NOT v.te_weinig THEN"
        " round((2 * (sqrt(v.signalen::float8) - sqrt(v.vorige_signalen::float8)))::numeric, 2) END,",
    )
    return _replace(
        sql,
        "               v.indeling\n        FROM afwijking v",
        """               v.indeling,
               CASE WHEN NOT v.te_weinig AND v.adressen > 0 THEN round((1000 * CASE
                   WHEN v.eb_m = 0 THEN 0
                   ELSE v.eb_m + v.eb_s2 / (v.eb_s2 + v.eb_m / v.adressen)
                        * (v.signalen::float8 / v.adressen - v.eb_m)
               END)::numeric, 2) END,
               v.te_weinig,
               v.eerste
        FROM afwijking v""",
    )


def upgrade() -> None:
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[]);
        ALTER TABLE indicator_zicht
            ALTER COLUMN afwijkend DROP NOT NULL,
            ADD COLUMN per_1000_eb numeric,
            ADD COLUMN te_weinig_adressen boolean NOT NULL DEFAULT false,
            ADD COLUMN eerste_periode boolean NOT NULL DEFAULT false;
        COMMENT ON COLUMN indicator_zicht.afwijkend IS 'z >= 3 and at least 10 signals; NULL where z is unknown.';
        COMMENT ON COLUMN indicator_zicht.per_1000_eb IS
            'Signals per 1,000 addresses, Empirical Bayes smoothed towards the municipality (docs/decisions.md).';
        COMMENT ON COLUMN indicator_zicht.te_weinig_adressen IS
            'Fewer addresses than the minimum: no rate, no z, no trend.';
        COMMENT ON COLUMN indicator_zicht.eerste_periode IS
            'The first period with data: there is no previous one to compare with.';
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
    old = _revision("0011_gebied_indeling.py")
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[]);
        UPDATE indicator_zicht SET afwijkend = coalesce(afwijkend, false);
        ALTER TABLE indicator_zicht
            ALTER COLUMN afwijkend SET NOT NULL,
            DROP COLUMN per_1000_eb,
            DROP COLUMN te_weinig_adressen,
            DROP COLUMN eerste_periode;
        COMMENT ON COLUMN indicator_zicht.afwijkend IS NULL;
        """
    )
    op.execute(old._figures())
    op.execute(VIEW)
    op.execute(
        "DELETE FROM indicator_zicht;"
        " INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));"
    )
