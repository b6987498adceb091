"""Visibility before aggregation: indicators per view class (zicht).

The ``indicator`` view counted every signal, so a partner of one covenant, or an analyst
without the highest clearance, got exact per-area counts of signals it could not see as
points (docs/architecture.md §7: visibility is decided on rows, before any aggregation). Now:

- ``signaal_kubus`` (materialised): signal counts per area (gemeente, wijk, buurt,
  bedrijventerrein, buitengebied) x period (year, quarter) x theme (each and ``alle``) x
  covenant x data class, with the counts per kind. Signals past their retention date are left
  out, as the point layer leaves them out.
- ``zicht``: one row per distinct visibility of active principals: municipalities (NULL:
  all), covenants (NULL: not limited, every role but partners), data classes, suppressed or
  not. Written by ``core.zicht`` (which derives it from the principal, as the point layers'
  conditions do).
- ``indicator_zicht``: today's indicator columns per view class, from the cube cells that
  class may see (``zicht_cijfers``, one set-based statement for any number of classes):
  signal figures, the expected count and z from the class's own municipal totals, the trend
  from its own previous period, and its own periods. For suppressed classes each count has
  a withheld flag beside it (``<count>_onderdrukt``), set by the refresh (NULL: not set,
  published as withheld).
- ``laag_indicator_zicht``: that table with the area polygons, the only indicator source the
  api role may read; it reads one class at a time (``zicht_id``).
- ``zicht_invoer``: a fingerprint of what a class's figures come from, so a refresh
  recomputes only the classes whose signals (or areas, addresses, vacancy) changed.

``indicator``, ``laag_indicator`` (unscoped) go, and the api role loses ``punt_gebied``
(every signal per area, unscoped). Existing active principals get their classes here; their
figures are computed, but the withheld flags of suppressed classes stay unset (everything
withheld) until the next refresh (any ingest or retention run).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

THEMAS = "'alle','drugs','mensenhandel','criminogene_branche','vastgoed','zorgfraude','buitengebied','cyber','overig'"
DATAKLASSEN = "ARRAY['openbaar','intern','vertrouwelijk','zeer_vertrouwelijk']"
AFWIJKEND_Z = 3
AFWIJKEND_MIN = 10
#: Which cube cells (``k``) a view class (``z``) may see: the rows its principals could see.
SEES = """(z.gemeenten IS NULL OR k.gemeentecode = ANY (z.gemeenten))
             AND (z.convenanten IS NULL OR k.convenant = ANY (z.convenanten))
             AND k.dataklasse = ANY (z.dataklassen)"""
#: The counts that get a withheld flag.
COUNTS = ("signalen", "adressen", "leegstand", "pandsluitingen", "bibob", "controles", "meldingen")
#: The newest buitengebied polygon per municipality (signals carry only a flag).
BG = """
    bg AS (
        SELECT DISTINCT ON (gemeentecode) gemeentecode, code FROM actueel_gebied
        WHERE soort = 'buitengebied' ORDER BY gemeentecode, code
    )"""


def _cube() -> str:
    return f"""
        CREATE MATERIALIZED VIEW signaal_kubus AS
        WITH {BG},
        groep AS (
            -- Grouped once by everything the cube keeps (a few thousand groups), then
            -- expanded: each group counts in five areas, two periods and two themes.
            SELECT gemeentecode, buurtcode, wijkcode, bedrijventerreincode, buitengebied,
                   date_trunc('quarter', datum)::date AS kwartaal, thema, convenant, dataklasse,
                   count(*) AS signalen,
                   count(*) FILTER (WHERE soort = 'pandsluiting') AS pandsluitingen,
                   count(*) FILTER (WHERE soort = 'bibob') AS bibob,
                   count(*) FILTER (WHERE soort = 'bestuurlijke_controle') AS controles,
                   count(*) FILTER (WHERE soort = 'melding') AS meldingen
            FROM signaal
            WHERE bewaren_tot >= current_date
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        )
        SELECT u.gebied_soort, u.code, g.gemeentecode, p.periode, p.periode_soort, p.van,
               t.thema, g.convenant, g.dataklasse,
               sum(g.signalen)::bigint AS signalen,
               sum(g.pandsluitingen)::bigint AS pandsluitingen,
               sum(g.bibob)::bigint AS bibob,
               sum(g.controles)::bigint AS controles,
               sum(g.meldingen)::bigint AS meldingen
        FROM groep g
        LEFT JOIN bg ON g.buitengebied AND bg.gemeentecode = g.gemeentecode
        CROSS JOIN LATERAL (VALUES ('gemeente', g.gemeentecode), ('buurt', g.buurtcode),
            ('wijk', g.wijkcode), ('bedrijventerrein', g.bedrijventerreincode),
            ('buitengebied', bg.code)) AS u(gebied_soort, code)
        CROSS JOIN LATERAL (VALUES
            (to_char(g.kwartaal, 'YYYY'), 'jaar', date_trunc('year', g.kwartaal)::date),
            (to_char(g.kwartaal, 'YYYY-"K"Q'), 'kwartaal', g.kwartaal)) AS p(periode, periode_soort, van)
        CROSS JOIN LATERAL (VALUES ('alle'), (g.thema)) AS t(thema)
        WHERE u.code IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
        COMMENT ON MATERIALIZED VIEW signaal_kubus IS
            'Signal counts per area, period, theme, covenant and data class; unscoped: never for the api role.';
    """


def _tables() -> str:
    flags = ",\n".join(f"            {c}_onderdrukt boolean" for c in COUNTS)
    return f"""
        CREATE TABLE zicht (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            gemeenten text[],
            convenanten text[],
            dataklassen text[] NOT NULL,
            onderdrukt boolean NOT NULL,
            k integer CHECK (k >= 1),
            berekend_op timestamptz,
            invoer text,
            UNIQUE NULLS NOT DISTINCT (gemeenten, convenanten, dataklassen, onderdrukt)
        );
        COMMENT ON TABLE zicht IS
            'View classes: one per distinct visibility of active principals; its figures are in indicator_zicht.';
        COMMENT ON COLUMN zicht.gemeenten IS 'Municipalities whose signals and areas it sees; NULL: all.';
        COMMENT ON COLUMN zicht.convenanten IS 'Covenants whose signals it sees (partners); NULL: not limited.';
        COMMENT ON COLUMN zicht.dataklassen IS 'Data classes of signal it sees.';
        COMMENT ON COLUMN zicht.onderdrukt IS 'Aggregate-only: counts published by their withheld flags.';
        COMMENT ON COLUMN zicht.k IS 'Threshold its withheld flags were computed with.';
        COMMENT ON COLUMN zicht.berekend_op IS 'When its figures were computed; NULL: none yet, it reads nothing.';
        COMMENT ON COLUMN zicht.invoer IS 'What its figures were computed from (zicht_invoer); unchanged: no recompute.';

        CREATE TABLE indicator_zicht (
            -- No foreign key: its check per row costs more than the rest of a refresh's
            -- writes; core.zicht removes a class's rows with the class.
            zicht_id bigint NOT NULL,
            id text NOT NULL,
            gebied_id bigint NOT NULL,
            gebied_soort text NOT NULL,
            code text NOT NULL,
            naam text NOT NULL,
            gemeentecode text NOT NULL,
            periode text NOT NULL,
            periode_soort text NOT NULL,
            thema text NOT NULL,
            signalen bigint NOT NULL,
            adressen bigint NOT NULL,
            per_1000_adressen numeric,
            leegstand bigint NOT NULL,
            leegstand_pct numeric,
            pandsluitingen bigint NOT NULL,
            bibob bigint NOT NULL,
            controles bigint NOT NULL,
            meldingen bigint NOT NULL,
            verwacht numeric,
            z numeric,
            afwijkend boolean NOT NULL,
            trend_z numeric,
{flags},
            PRIMARY KEY (zicht_id, id)
        );
        CREATE INDEX indicator_zicht_lookup_idx ON indicator_zicht (zicht_id, gebied_soort, periode, thema);
        COMMENT ON TABLE indicator_zicht IS
            'Indicators per view class, area, period and theme, from the signals that class may see.';
    """


def _figures() -> str:
    """``zicht_cijfers(ids)``: the indicator rows of these view classes, flags unset.

    The old view's figures, per class: ``kubus`` holds the cube cells a class may see, and
    every signal figure (counts, municipal totals, periods, trend) comes from there only.
    Addresses and vacancy are no signals: they are scoped by municipality alone.
    """
    return f"""
        CREATE FUNCTION zicht_cijfers(ids bigint[]) RETURNS SETOF indicator_zicht
        LANGUAGE sql STABLE
        -- The row estimates of these CTEs are guesses (array conditions, dense grids), and a
        -- nested loop or merge join on a guess of 3 rows where 30,000 come costs minutes: every
        -- join here is an equi-join of sets of similar size, which hashing does best.
        SET enable_nestloop = off SET enable_mergejoin = off SET jit = off
        AS $$
        WITH z AS (
            SELECT id, gemeenten, convenanten, dataklassen, onderdrukt FROM zicht WHERE id = ANY (ids)
        ),
        {BG},
        area AS (
            SELECT z.id AS zicht_id, a.id AS gebied_id, a.soort, a.code, a.naam, a.gemeentecode
            FROM z JOIN actueel_gebied a
              ON a.soort IN ('gemeente', 'wijk', 'buurt', 'bedrijventerrein', 'buitengebied')
             AND (z.gemeenten IS NULL OR a.gemeentecode = ANY (z.gemeenten))
        ),
        kubus AS (
            SELECT z.id AS zicht_id, k.* FROM z JOIN signaal_kubus k ON {SEES}
        ),
        telling AS (
            SELECT zicht_id, gebied_soort, code, periode, thema,
                   sum(signalen)::bigint AS signalen,
                   sum(pandsluitingen)::bigint AS pandsluitingen,
                   sum(bibob)::bigint AS bibob,
                   sum(controles)::bigint AS controles,
                   sum(meldingen)::bigint AS meldingen
            FROM kubus
            GROUP BY zicht_id, gebied_soort, code, periode, thema
        ),
        span AS (
            -- A class's periods run from its own first to its own last signal: even which
            -- periods exist must not come from signals it cannot see.
            SELECT z.id AS zicht_id, coalesce(min(k.van), current_date) AS lo,
                   coalesce(max(k.van), current_date) AS hi
            FROM z LEFT JOIN kubus k ON k.zicht_id = z.id AND k.periode_soort = 'kwartaal'
            GROUP BY z.id
        ),
        periode AS (
            -- ``eerste``: the class's first period of its kind, whose trend has no base.
            SELECT s.zicht_id, to_char(d, 'YYYY') AS periode, 'jaar'::text AS periode_soort,
                   d::date AS van, (d + interval '1 year')::date AS tot,
                   to_char(d - interval '1 year', 'YYYY') AS vorige, d = date_trunc('year', s.lo) AS eerste
            FROM span s,
                 generate_series(date_trunc('year', s.lo), date_trunc('year', s.hi), interval '1 year') d
            UNION ALL
            SELECT s.zicht_id, to_char(d, 'YYYY-"K"Q'), 'kwartaal', d::date, (d + interval '3 months')::date,
                   to_char(d - interval '3 months', 'YYYY-"K"Q'), d = date_trunc('quarter', s.lo)
            FROM span s,
                 generate_series(date_trunc('quarter', s.lo), date_trunc('quarter', s.hi), interval '3 months') d
        ),
        thema AS (SELECT unnest(ARRAY[{THEMAS}]) AS thema),
        adres_groep AS (
            SELECT buurtcode, wijkcode, bedrijventerreincode, gemeentecode, buitengebied, count(*) AS n
            FROM verblijfsobject
            GROUP BY buurtcode, wijkcode, bedrijventerreincode, gemeentecode, buitengebied
        ),
        adres AS (
            SELECT u.soort, u.code, sum(a.n)::bigint AS adressen
            FROM adres_groep a
            LEFT JOIN bg ON a.buitengebied AND bg.gemeentecode = a.gemeentecode
            CROSS JOIN LATERAL (VALUES ('gemeente', a.gemeentecode), ('buurt', a.buurtcode),
                ('wijk', a.wijkcode), ('bedrijventerrein', a.bedrijventerreincode),
                ('buitengebied', bg.code)) AS u(soort, code)
            WHERE u.code IS NOT NULL
            GROUP BY u.soort, u.code
        ),
        leeg AS (
            SELECT u.soort, u.code, pe.periode, count(*) AS leegstand
            FROM leegstand l
            LEFT JOIN bg ON l.buitengebied AND bg.gemeentecode = l.gemeentecode
            CROSS JOIN LATERAL (VALUES ('gemeente', l.gemeentecode), ('buurt', l.buurtcode),
                ('wijk', l.wijkcode), ('bedrijventerrein', l.bedrijventerreincode),
                ('buitengebied', bg.code)) AS u(soort, code)
            JOIN (SELECT DISTINCT periode, van, tot FROM periode) pe
              ON l.sinds < pe.tot AND (l.tot IS NULL OR l.tot >= pe.van)
            WHERE u.code IS NOT NULL
            GROUP BY u.soort, u.code, pe.periode
        ),
        vak AS (
            -- Area x period first: addresses and vacancy have no theme.
            SELECT a.zicht_id, a.gebied_id, a.soort, a.code, a.naam, a.gemeentecode,
                   pe.periode, pe.periode_soort, pe.vorige, pe.eerste,
                   coalesce(ad.adressen, 0) AS adressen, coalesce(ga.adressen, 0) AS gemeente_adressen,
                   coalesce(le.leegstand, 0) AS leegstand
            FROM area a
            JOIN periode pe ON pe.zicht_id = a.zicht_id
            LEFT JOIN adres ad ON ad.soort = a.soort AND ad.code = a.code
            LEFT JOIN adres ga ON ga.soort = 'gemeente' AND ga.code = a.gemeentecode
            LEFT JOIN leeg le ON le.soort = a.soort AND le.code = a.code AND le.periode = pe.periode
        ),
        basis AS (
            SELECT v.zicht_id, v.gebied_id, v.soort AS gebied_soort, v.code, v.naam, v.gemeentecode,
                   v.periode, v.periode_soort, t.thema,
                   coalesce(tl.signalen, 0) AS signalen,
                   coalesce(tl.pandsluitingen, 0) AS pandsluitingen,
                   coalesce(tl.bibob, 0) AS bibob,
                   coalesce(tl.controles, 0) AS controles,
                   coalesce(tl.meldingen, 0) AS meldingen,
                   v.adressen, v.leegstand,
                   CASE WHEN NOT v.eerste THEN coalesce(vg.signalen, 0) END AS vorige_signalen,
                   CASE WHEN v.gemeente_adressen > v.adressen
                        THEN (coalesce(gm.signalen, 0) - coalesce(tl.signalen, 0))::float8
                             / (v.gemeente_adressen - v.adressen) * v.adressen
                   END AS verwacht
            FROM vak v
            CROSS JOIN thema t
            LEFT JOIN telling tl ON tl.zicht_id = v.zicht_id AND tl.gebied_soort = v.soort
                AND tl.code = v.code AND tl.periode = v.periode AND tl.thema = t.thema
            LEFT JOIN telling vg ON vg.zicht_id = v.zicht_id AND vg.gebied_soort = v.soort
                AND vg.code = v.code AND vg.periode = v.vorige AND vg.thema = t.thema
            LEFT JOIN telling gm ON gm.zicht_id = v.zicht_id AND gm.gebied_soort = 'gemeente'
                AND gm.code = v.gemeentecode AND gm.periode = v.periode AND gm.thema = t.thema
        ),
        afwijking AS (
            -- Arithmetic in double precision, rounded to two decimals at the end: numeric
            -- division and square roots cost more than all joins here together, and a
            -- double converts to numeric at 15 significant digits, so the rounding agrees.
            SELECT b.*, (b.signalen - b.verwacht) / sqrt(NULLIF(b.verwacht, 0)) AS z
            FROM basis b
        )
        SELECT v.zicht_id,
               v.gebied_soort || ':' || v.code || ':' || v.periode || ':' || v.thema,
               v.gebied_id, v.gebied_soort, v.code, v.naam, v.gemeentecode, v.periode,
               v.periode_soort, v.thema, v.signalen, v.adressen,
               round((1000.0::float8 * v.signalen / NULLIF(v.adressen, 0))::numeric, 2),
               v.leegstand,
               round((100.0::float8 * v.leegstand / NULLIF(v.adressen, 0))::numeric, 2),
               v.pandsluitingen, v.bibob, v.controles, v.meldingen,
               round(v.verwacht::numeric, 2),
               round(v.z::numeric, 2),
               coalesce(v.z >= {AFWIJKEND_Z} AND v.signalen >= {AFWIJKEND_MIN}, false),
               round((2 * (sqrt(v.signalen::float8) - sqrt(v.vorige_signalen::float8)))::numeric, 2),
               {", ".join("NULL::boolean" for _ in COUNTS)}
        FROM afwijking v
        $$;
        COMMENT ON FUNCTION zicht_cijfers(bigint[]) IS
            'Indicator rows of these view classes from the signal cube; withheld flags unset.';
    """


def _inputs() -> str:
    """``zicht_invoer(ids)``: a fingerprint of everything the figures of a class come from.

    The signals it may see (the cube cells, hashed: exact enough to notice one signal more
    or less), and the versions of the areas, addresses and vacancy: the newest successful
    ingest run of each, as the service's ETags use them, and today's date (the retention
    date and an empty class's period move with it). A class whose fingerprint did not change
    keeps its figures: a delivery from one partner recomputes only the classes that see it.
    """
    return f"""
        CREATE FUNCTION zicht_invoer(ids bigint[]) RETURNS TABLE (zicht_id bigint, invoer text)
        LANGUAGE sql STABLE AS $$
        WITH versie AS (
            SELECT current_date || coalesce(string_agg(r.soort || '=' || r.run, ',' ORDER BY r.soort), '') AS v
            FROM (SELECT soort, max(id) AS run FROM ingest_run
                  WHERE status = 'geslaagd' AND soort <> 'signalen' GROUP BY soort) r
        )
        -- ROW(k.*), not k: a bare k is the column zicht.k.
        SELECT z.id, (SELECT v FROM versie) || '|' || count(k.*) || ':'
               || coalesce(sum(hashtextextended(ROW(k.*)::text, 0)::numeric), 0)
        FROM zicht z LEFT JOIN signaal_kubus k ON {SEES}
        WHERE z.id = ANY (ids)
        GROUP BY z.id
        $$;
    """


#: Existing active principals' classes, as core.zicht.Zicht.of derives them (snapshot).
REGISTER_EXISTING = f"""
    INSERT INTO zicht (gemeenten, convenanten, dataklassen, onderdrukt)
    SELECT DISTINCT
        CASE WHEN p.rol = 'beheerder' AND cardinality(p.gemeenten) = 0 THEN NULL
             ELSE ARRAY(SELECT DISTINCT g COLLATE "C" FROM unnest(p.gemeenten) g ORDER BY 1) END,
        CASE WHEN p.rol = 'partner'
             THEN ARRAY(SELECT DISTINCT c COLLATE "C" FROM unnest(p.convenanten) c ORDER BY 1) END,
        ({DATAKLASSEN})[1:array_position({DATAKLASSEN}, p.dataklasse)],
        p.rol = 'planner'
    FROM principal p WHERE p.actief
    ON CONFLICT DO NOTHING;
    INSERT INTO indicator_zicht SELECT * FROM zicht_cijfers(ARRAY(SELECT id FROM zicht));
    UPDATE zicht SET berekend_op = now();
"""


def upgrade() -> None:
    op.execute(_cube())
    op.execute(_tables())
    op.execute(_figures())
    op.execute(_inputs())
    op.execute(
        """
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, g.geom, g.geom_3857 FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons.';

        DROP VIEW laag_indicator;
        DROP MATERIALIZED VIEW indicator;
        REVOKE SELECT ON punt_gebied FROM okaart_api;
        GRANT SELECT ON zicht, laag_indicator_zicht TO okaart_api;
        """
    )
    op.execute(REGISTER_EXISTING)


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[]);
        DROP FUNCTION zicht_invoer(bigint[]);
        DROP TABLE indicator_zicht, zicht;
        DROP MATERIALIZED VIEW signaal_kubus;
        GRANT SELECT ON punt_gebied TO okaart_api;
        """
    )
    # The unscoped view as revision 0005 left it.
    base = _revision("0002_indicators_and_layer_views.py")
    op.execute(base.indicator_sql(_revision("0005_indicator_address_counts.py").ADRES_CTES))
    op.execute(
        """
        CREATE VIEW laag_indicator AS
        SELECT i.*, g.geom, g.geom_3857 FROM indicator i JOIN gebied g ON g.id = i.gebied_id;
        GRANT SELECT ON indicator, laag_indicator TO okaart_api;
        """
    )
