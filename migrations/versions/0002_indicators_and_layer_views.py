"""Indicators per area, period and theme, and the views the map layers read.

``indicator`` is materialised (refreshed after every ingest): per area of the newest
edition (buurt, wijk, bedrijventerrein, buitengebied), per year and quarter, per theme
(and ``alle``): signal counts, addresses, signals per 1,000 addresses, vacancy, counts per
signal kind, and the deviation from the rest of the municipality as "Zicht op
Ondermijning" shows it, but honest for small counts (docs/architecture.md §4): expected = the rate of
the rest of the municipality x the area's addresses; z = (observed - expected) /
sqrt(expected) (Poisson); ``afwijkend`` when z >= 3 and observed >= 10; trend
z = 2(sqrt(current) - sqrt(previous)).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

THEMAS = "'alle','drugs','mensenhandel','criminogene_branche','vastgoed','zorgfraude','buitengebied','cyber','overig'"
AFWIJKEND_Z = 3
AFWIJKEND_MIN = 10


#: How many addresses lie in each area (``adres_in``) and each gemeente (``gemeente_adres``).
#: Revision 0005 counts them in one pass; the rest of the view is built by ``indicator_sql``.
ADRES_CTES = """
        adres_in AS (
            SELECT u.gebied_soort, u.code, count(*) AS adressen
            FROM verblijfsobject v
            LEFT JOIN bg ON v.buitengebied AND bg.gemeentecode = v.gemeentecode
            CROSS JOIN LATERAL (VALUES ('buurt', v.buurtcode), ('wijk', v.wijkcode),
                ('bedrijventerrein', v.bedrijventerreincode), ('buitengebied', bg.code))
                AS u(gebied_soort, code)
            WHERE u.code IS NOT NULL
            GROUP BY u.gebied_soort, u.code
        ),
        gemeente_adres AS (
            SELECT gemeentecode, count(*) AS adressen FROM verblijfsobject GROUP BY gemeentecode
        ),
"""


def indicator_sql(adres_ctes: str) -> str:
    """The indicator view, its indexes and comment; ``adres_ctes`` defines ``adres_in`` and
    ``gemeente_adres`` (shared with revision 0005, which replaces only those)."""
    return f"""
        CREATE MATERIALIZED VIEW indicator AS
        WITH area AS (
            SELECT id, soort, code, naam, gemeentecode FROM actueel_gebied
            WHERE soort IN ('buurt', 'wijk', 'bedrijventerrein', 'buitengebied')
        ),
        span AS (
            SELECT coalesce(min(datum), current_date) AS lo, coalesce(max(datum), current_date) AS hi
            FROM signaal
        ),
        periode AS (
            SELECT to_char(d, 'YYYY') AS periode, 'jaar'::text AS periode_soort,
                   d::date AS van, (d + interval '1 year')::date AS tot,
                   to_char(d - interval '1 year', 'YYYY') AS vorige
            FROM span, generate_series(date_trunc('year', lo), date_trunc('year', hi), interval '1 year') d
            UNION ALL
            SELECT to_char(d, 'YYYY-"K"Q'), 'kwartaal', d::date, (d + interval '3 months')::date,
                   to_char(d - interval '3 months', 'YYYY-"K"Q')
            FROM span, generate_series(date_trunc('quarter', lo), date_trunc('quarter', hi), interval '3 months') d
        ),
        thema AS (SELECT unnest(ARRAY[{THEMAS}]) AS thema),
        bg AS (
            SELECT DISTINCT ON (gemeentecode) gemeentecode, code FROM actueel_gebied
            WHERE soort = 'buitengebied' ORDER BY gemeentecode, code
        ),
{adres_ctes}        adres AS (
            SELECT a.soort, a.code, coalesce(ai.adressen, 0) AS adressen
            FROM area a LEFT JOIN adres_in ai ON ai.gebied_soort = a.soort AND ai.code = a.code
        ),
        telling AS (
            SELECT p.gebied_soort, p.code, pe.periode, t.thema,
                   count(*) AS signalen,
                   count(*) FILTER (WHERE p.soort = 'pandsluiting') AS pandsluitingen,
                   count(*) FILTER (WHERE p.soort = 'bibob') AS bibob,
                   count(*) FILTER (WHERE p.soort = 'bestuurlijke_controle') AS controles,
                   count(*) FILTER (WHERE p.soort = 'melding') AS meldingen
            FROM punt_gebied p
            JOIN periode pe ON p.datum >= pe.van AND p.datum < pe.tot
            JOIN thema t ON t.thema IN ('alle', p.thema)
            GROUP BY p.gebied_soort, p.code, pe.periode, t.thema
        ),
        gemeente AS (
            SELECT s.gemeentecode, pe.periode, t.thema, count(*) AS signalen
            FROM signaal s
            JOIN periode pe ON s.datum >= pe.van AND s.datum < pe.tot
            JOIN thema t ON t.thema IN ('alle', s.thema)
            GROUP BY s.gemeentecode, pe.periode, t.thema
        ),
        leeg AS (
            SELECT u.gebied_soort AS soort, u.code, pe.periode, count(*) AS leegstand
            FROM leegstand l
            LEFT JOIN bg ON l.buitengebied AND bg.gemeentecode = l.gemeentecode
            CROSS JOIN LATERAL (VALUES ('buurt', l.buurtcode), ('wijk', l.wijkcode),
                ('bedrijventerrein', l.bedrijventerreincode), ('buitengebied', bg.code))
                AS u(gebied_soort, code)
            JOIN periode pe ON l.sinds < pe.tot AND (l.tot IS NULL OR l.tot >= pe.van)
            WHERE u.code IS NOT NULL
            GROUP BY u.gebied_soort, u.code, pe.periode
        ),
        basis AS (
            SELECT a.id AS gebied_id, a.soort AS gebied_soort, a.code, a.naam, a.gemeentecode,
                   pe.periode, pe.periode_soort, pe.vorige, t.thema,
                   coalesce(tl.signalen, 0) AS signalen,
                   coalesce(tl.pandsluitingen, 0) AS pandsluitingen,
                   coalesce(tl.bibob, 0) AS bibob,
                   coalesce(tl.controles, 0) AS controles,
                   coalesce(tl.meldingen, 0) AS meldingen,
                   ad.adressen,
                   coalesce(le.leegstand, 0) AS leegstand,
                   coalesce(gm.signalen, 0) AS gemeente_signalen,
                   coalesce(ga.adressen, 0) AS gemeente_adressen
            FROM area a CROSS JOIN periode pe CROSS JOIN thema t
            JOIN adres ad ON ad.soort = a.soort AND ad.code = a.code
            LEFT JOIN telling tl ON tl.gebied_soort = a.soort AND tl.code = a.code
                AND tl.periode = pe.periode AND tl.thema = t.thema
            LEFT JOIN leeg le ON le.soort = a.soort AND le.code = a.code AND le.periode = pe.periode
            LEFT JOIN gemeente gm ON gm.gemeentecode = a.gemeentecode AND gm.periode = pe.periode
                AND gm.thema = t.thema
            LEFT JOIN gemeente_adres ga ON ga.gemeentecode = a.gemeentecode
        ),
        verwacht AS (
            SELECT b.*,
                   CASE WHEN b.gemeente_adressen > b.adressen
                        THEN (b.gemeente_signalen - b.signalen)::numeric
                             / (b.gemeente_adressen - b.adressen) * b.adressen END AS verwacht
            FROM basis b
        )
        SELECT v.gebied_soort || ':' || v.code || ':' || v.periode || ':' || v.thema AS id,
               v.gebied_id, v.gebied_soort, v.code, v.naam, v.gemeentecode, v.periode,
               v.periode_soort, v.thema, v.signalen, v.adressen,
               round(1000.0 * v.signalen / NULLIF(v.adressen, 0), 2) AS per_1000_adressen,
               v.leegstand,
               round(100.0 * v.leegstand / NULLIF(v.adressen, 0), 2) AS leegstand_pct,
               v.pandsluitingen, v.bibob, v.controles, v.meldingen,
               round(v.verwacht, 2) AS verwacht,
               round((v.signalen - v.verwacht) / sqrt(NULLIF(v.verwacht, 0)), 2) AS z,
               coalesce((v.signalen - v.verwacht) / sqrt(NULLIF(v.verwacht, 0)) >= {AFWIJKEND_Z}
                        AND v.signalen >= {AFWIJKEND_MIN}, false) AS afwijkend,
               round(2 * (sqrt(v.signalen::numeric) - sqrt(prev.signalen::numeric)), 2) AS trend_z
        FROM verwacht v
        LEFT JOIN basis prev ON prev.gebied_id = v.gebied_id AND prev.periode = v.vorige
            AND prev.thema = v.thema;

        CREATE UNIQUE INDEX indicator_id_idx ON indicator (id);
        CREATE INDEX indicator_lookup_idx ON indicator (gebied_soort, periode, thema);
        COMMENT ON MATERIALIZED VIEW indicator IS
            'Signals, vacancy and deviation per area, period and theme; refreshed after ingests.';
    """


def upgrade() -> None:
    op.execute(
        f"""
        CREATE VIEW actueel_gebied AS
        SELECT g.* FROM gebied g
        WHERE g.jaar = (SELECT max(x.jaar) FROM gebied x WHERE x.soort = g.soort);
        COMMENT ON VIEW actueel_gebied IS 'Areas of the newest boundary edition per area type.';

        -- Every signal once per area it lies in: buurt, wijk, bedrijventerrein, buitengebied.
        CREATE VIEW punt_gebied AS
        WITH bg AS (
            SELECT DISTINCT ON (gemeentecode) gemeentecode, code FROM actueel_gebied
            WHERE soort = 'buitengebied' ORDER BY gemeentecode, code
        )
        SELECT s.id, s.gemeentecode, s.thema, s.soort, s.datum, u.gebied_soort, u.code
        FROM signaal s
        LEFT JOIN bg ON s.buitengebied AND bg.gemeentecode = s.gemeentecode
        CROSS JOIN LATERAL (VALUES ('buurt', s.buurtcode), ('wijk', s.wijkcode),
            ('bedrijventerrein', s.bedrijventerreincode), ('buitengebied', bg.code))
            AS u(gebied_soort, code)
        WHERE u.code IS NOT NULL;

        {indicator_sql(ADRES_CTES)}
        """
    )
    op.execute(
        """
        CREATE VIEW laag_indicator AS
        SELECT i.*, g.geom, g.geom_3857 FROM indicator i JOIN gebied g ON g.id = i.gebied_id;

        CREATE VIEW laag_gebied AS
        SELECT g.soort || ':' || g.code AS id, g.soort, g.code, g.naam, g.gemeentecode, g.wijkcode,
               g.jaar, g.geom, g.geom_3857
        FROM actueel_gebied g;

        CREATE VIEW laag_signaal AS
        SELECT s.id::text AS id, s.bron, s.thema, s.soort, s.datum, s.einddatum, s.dataklasse,
               s.convenant, s.gemeentecode, s.buurtcode, s.wijkcode, s.bedrijventerreincode,
               s.buitengebied, s.geom, s.geom_3857
        FROM signaal s WHERE s.bewaren_tot >= current_date;

        CREATE VIEW laag_leegstand AS
        SELECT l.id::text AS id, l.soort, l.sinds, l.tot, l.bron, l.gemeentecode, l.buurtcode,
               l.wijkcode, l.bedrijventerreincode, l.buitengebied, l.geom, l.geom_3857
        FROM leegstand l;

        CREATE VIEW laag_verblijfsobject AS
        SELECT v.sleutel AS id, v.identificatie, v.openbare_ruimte, v.huisnummer, v.huisletter,
               v.huisnummertoevoeging, v.postcode, v.woonplaats,
               array_to_string(v.gebruiksdoel, ',') AS gebruiksdoel, v.oppervlakte, v.bouwjaar,
               v.status, v.gemeentecode, v.buurtcode, v.wijkcode, v.bedrijventerreincode,
               v.buitengebied, v.geom, v.geom_3857
        FROM verblijfsobject v;

        GRANT SELECT ON actueel_gebied, punt_gebied, indicator, laag_indicator, laag_gebied,
            laag_signaal, laag_leegstand, laag_verblijfsobject TO okaart_api;
        ALTER MATERIALIZED VIEW indicator OWNER TO CURRENT_USER;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP VIEW IF EXISTS laag_indicator, laag_gebied, laag_signaal, laag_leegstand,
            laag_verblijfsobject;
        DROP MATERIALIZED VIEW IF EXISTS indicator;
        DROP VIEW IF EXISTS punt_gebied, actueel_gebied;
        """
    )
