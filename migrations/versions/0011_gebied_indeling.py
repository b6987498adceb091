"""Area divisions side by side; postcode areas and CBS grid squares.

An area is now keyed by type, division (``indeling``) and edition: a municipality's own buurt
division and the CBS buurten of the same year coexist instead of overwriting each other, and
every output chooses one (docs/architecture.md §3). Each type has a default division
(``standaard_indeling(soort)``, mirrored by ``core.domain.STANDAARD_INDELING``): CBS for the
gemeente, wijk and buurt, IBIS for business parks, the municipality's own for the buitengebied,
``postcode`` for PC4 and PC6, ``cbs_vierkant`` for the grid squares of 100 m and 500 m.

Points carry the areas of the default divisions of the five original types as columns
(assigned at ingest, unchanged). Every other area (another division, a postcode area, a grid
square) gets its figures from a spatial join at refresh: the signals in ``signaal_kubus``,
addresses and vacancy in ``zicht_cijfers``; nothing is added to the ingest of points.

- ``gebied.indeling``; unique (soort, indeling, code, jaar); the code patterns hold for the
  CBS division (another division numbers its areas as it likes).
- ``actueel_gebied``: the newest edition per type and division.
- ``laag_gebied``, ``laag_indicator_zicht``: with ``indeling`` and ``standaard`` (the row
  belongs to its type's default division: what an output shows unless asked otherwise).
- ``signaal_kubus``, ``indicator_zicht``, ``zicht_cijfers``: per division.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Snapshots of core.domain at this revision (a migration never imports the code it outlives).
SOORTEN = (
    "gemeente",
    "wijk",
    "buurt",
    "bedrijventerrein",
    "buitengebied",
    "pc4",
    "pc6",
    "vierkant100",
    "vierkant500",
)
OUDE_SOORTEN = ("gemeente", "wijk", "buurt", "bedrijventerrein", "buitengebied")
INDELINGEN = ("cbs", "gemeente", "ibis", "postcode", "cbs_vierkant")
STANDAARD = {
    "gemeente": "cbs", "wijk": "cbs", "buurt": "cbs", "bedrijventerrein": "ibis", "buitengebied": "gemeente",
    "pc4": "postcode", "pc6": "postcode", "vierkant100": "cbs_vierkant", "vierkant500": "cbs_vierkant",
}  # fmt: skip
THEMAS = "'alle','drugs','mensenhandel','criminogene_branche','vastgoed','zorgfraude','buitengebied','cyber','overig'"
AFWIJKEND_Z = 3
AFWIJKEND_MIN = 10
COUNTS = ("signalen", "adressen", "leegstand", "pandsluitingen", "bibob", "controles", "meldingen")
SEES = """(z.gemeenten IS NULL OR k.gemeentecode = ANY (z.gemeenten))
             AND (z.convenanten IS NULL OR k.convenant = ANY (z.convenanten))
             AND k.dataklasse = ANY (z.dataklassen)"""


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


#: The areas points carry as columns: the five original types in their default division.
ASSIGNED = f"(g.soort IN {_in(OUDE_SOORTEN)} AND g.indeling = standaard_indeling(g.soort))"
#: The newest edition of a type and division (``g`` is a row of gebied).
NEWEST = "g.jaar = (SELECT max(x.jaar) FROM gebied x WHERE x.soort = g.soort AND x.indeling = g.indeling)"
#: The newest buitengebied polygon of the default division per municipality (signals carry a flag).
BG = """
    bg AS (
        SELECT DISTINCT ON (gemeentecode) gemeentecode, code FROM actueel_gebied
        WHERE soort = 'buitengebied' AND indeling = standaard_indeling('buitengebied')
        ORDER BY gemeentecode, code
    )"""


def _extra(table: str, where: str = "true") -> str:
    """Rows of ``table`` with the newest other areas they lie in (one per type and division,
    the lowest code on a border): id, soort, indeling, code. Driven from those areas (few, or
    none: then it costs nothing), one probe of the points' GIST index per area."""
    return f"""
        SELECT DISTINCT ON (p.id, g.soort, g.indeling) p.id, g.soort, g.indeling, g.code
        FROM (SELECT g.soort, g.indeling, g.code, g.geom FROM gebied g
              WHERE NOT {ASSIGNED} AND {NEWEST} OFFSET 0) g
        JOIN {table} p ON ST_Intersects(p.geom, g.geom)
        WHERE {where}
        ORDER BY p.id, g.soort, g.indeling, g.code"""


def _schema() -> str:
    cases = " ".join(f"WHEN '{s}' THEN '{d}'" for s, d in STANDAARD.items())
    return f"""
        CREATE FUNCTION standaard_indeling(soort text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE soort {cases} END;
        COMMENT ON FUNCTION standaard_indeling(text) IS
            'The default division of an area type: what points are assigned to and outputs show unless asked.';

        ALTER TABLE gebied ADD COLUMN indeling text;
        UPDATE gebied SET indeling = standaard_indeling(soort);
        ALTER TABLE gebied ALTER COLUMN indeling SET NOT NULL,
            ADD CONSTRAINT gebied_indeling_check CHECK (indeling IN {_in(INDELINGEN)}),
            DROP CONSTRAINT gebied_soort_check,
            ADD CONSTRAINT gebied_soort_check CHECK (soort IN {_in(SOORTEN)}),
            DROP CONSTRAINT gebied_soort_code_jaar_key,
            ADD CONSTRAINT gebied_soort_indeling_code_jaar_key UNIQUE (soort, indeling, code, jaar),
            DROP CONSTRAINT gebied_code_patroon,
            ADD CONSTRAINT gebied_code_patroon CHECK (
                (soort = 'gemeente' AND code ~ '^GM[0-9]{{4}}$')
                OR (soort = 'wijk' AND code ~ '^WK[0-9]{{6}}$')
                OR (soort = 'buurt' AND code ~ '^BU[0-9]{{8}}$')
                OR (soort = 'buitengebied' AND code ~ '^BG[0-9]{{4}}(-[0-9A-Za-z]+)?$')
                OR (soort = 'pc4' AND code ~ '^[1-9][0-9]{{3}}$')
                OR (soort = 'pc6' AND code ~ '^[1-9][0-9]{{3}}[A-Z]{{2}}$')
                OR (soort IN ('vierkant100', 'vierkant500') AND code ~ '^E[0-9]{{4}}N[0-9]{{4}}$')
                OR ((soort = 'bedrijventerrein' OR (soort IN ('wijk', 'buurt') AND indeling <> 'cbs'))
                    AND code ~ '^[0-9A-Za-z][0-9A-Za-z_.-]{{0,31}}$')
            );
        -- A row written without a division (an older script, a hand-made area) gets its type's
        -- default: what it meant before divisions existed.
        CREATE FUNCTION gebied_standaard_indeling() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.indeling := coalesce(NEW.indeling, standaard_indeling(NEW.soort));
            RETURN NEW;
        END $$;
        CREATE TRIGGER gebied_standaard_indeling BEFORE INSERT ON gebied
            FOR EACH ROW EXECUTE FUNCTION gebied_standaard_indeling();
        COMMENT ON COLUMN gebied.indeling IS
            'Whose division: cbs, gemeente (the municipality''s own), ibis, postcode, cbs_vierkant.';
        COMMENT ON TABLE gebied IS
            'Every area by type, division and edition; divisions and editions side by side.';

        CREATE OR REPLACE VIEW actueel_gebied AS
        SELECT g.* FROM gebied g WHERE {NEWEST};
        COMMENT ON VIEW actueel_gebied IS 'Areas of the newest boundary edition per area type and division.';

        DROP VIEW laag_gebied;
        CREATE VIEW laag_gebied AS
        SELECT CASE WHEN g.indeling = standaard_indeling(g.soort) THEN g.soort
                    ELSE g.soort || '.' || g.indeling END || ':' || g.code AS id,
               g.soort, g.code, g.naam, g.gemeentecode, g.wijkcode, g.jaar, g.indeling,
               g.indeling = standaard_indeling(g.soort) AS standaard, g.geom, g.geom_3857
        FROM actueel_gebied g;
        GRANT SELECT ON laag_gebied TO okaart_api;
    """


def _cube() -> str:
    return f"""
        DROP MATERIALIZED VIEW signaal_kubus;
        CREATE MATERIALIZED VIEW signaal_kubus AS
        WITH {BG},
        groep AS (
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
        ),
        extra AS ({_extra("signaal", "p.bewaren_tot >= current_date")}
        ),
        per_gebied AS (
            SELECT u.gebied_soort, standaard_indeling(u.gebied_soort) AS indeling, u.code,
                   g.gemeentecode, g.kwartaal, g.thema, g.convenant, g.dataklasse,
                   g.signalen, g.pandsluitingen, g.bibob, g.controles, g.meldingen
            FROM groep g
            LEFT JOIN bg ON g.buitengebied AND bg.gemeentecode = g.gemeentecode
            CROSS JOIN LATERAL (VALUES ('gemeente', g.gemeentecode), ('buurt', g.buurtcode),
                ('wijk', g.wijkcode), ('bedrijventerrein', g.bedrijventerreincode),
                ('buitengebied', bg.code)) AS u(gebied_soort, code)
            WHERE u.code IS NOT NULL
            UNION ALL
            -- Every other area (another division, postcode areas, grid squares) by a spatial join.
            SELECT e.soort, e.indeling, e.code, s.gemeentecode,
                   date_trunc('quarter', s.datum)::date, s.thema, s.convenant, s.dataklasse,
                   1, (s.soort = 'pandsluiting')::int, (s.soort = 'bibob')::int,
                   (s.soort = 'bestuurlijke_controle')::int, (s.soort = 'melding')::int
            FROM extra e JOIN signaal s ON s.id = e.id
        )
        SELECT g.gebied_soort, g.indeling, g.code, g.gemeentecode, p.periode, p.periode_soort, p.van,
               t.thema, g.convenant, g.dataklasse,
               sum(g.signalen)::bigint AS signalen,
               sum(g.pandsluitingen)::bigint AS pandsluitingen,
               sum(g.bibob)::bigint AS bibob,
               sum(g.controles)::bigint AS controles,
               sum(g.meldingen)::bigint AS meldingen
        FROM per_gebied g
        CROSS JOIN LATERAL (VALUES
            (to_char(g.kwartaal, 'YYYY'), 'jaar', date_trunc('year', g.kwartaal)::date),
            (to_char(g.kwartaal, 'YYYY-"K"Q'), 'kwartaal', g.kwartaal)) AS p(periode, periode_soort, van)
        CROSS JOIN LATERAL (VALUES ('alle'), (g.thema)) AS t(thema)
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
        COMMENT ON MATERIALIZED VIEW signaal_kubus IS
            'Signal counts per area (type, division, code), period, theme, covenant and data class; unscoped: never for the api role.';
    """


def _figures() -> str:
    """``zicht_cijfers(ids)`` as in revision 0007, per division: areas, counts and the
    municipal totals (always those of the default gemeente division) carry ``indeling``."""
    return f"""
        CREATE OR REPLACE FUNCTION zicht_cijfers(ids bigint[]) RETURNS SETOF indicator_zicht
        LANGUAGE sql STABLE
        SET enable_nestloop = off SET enable_mergejoin = off SET jit = off
        AS $$
        WITH z AS (
            SELECT id, gemeenten, convenanten, dataklassen, onderdrukt FROM zicht WHERE id = ANY (ids)
        ),
        {BG},
        area AS (
            SELECT z.id AS zicht_id, a.id AS gebied_id, a.soort, a.indeling, a.code, a.naam, a.gemeentecode
            FROM z JOIN actueel_gebied a ON (z.gemeenten IS NULL OR a.gemeentecode = ANY (z.gemeenten))
        ),
        kubus AS (
            SELECT z.id AS zicht_id, k.* FROM z JOIN signaal_kubus k ON {SEES}
        ),
        telling AS (
            SELECT zicht_id, gebied_soort, indeling, code, periode, thema,
                   sum(signalen)::bigint AS signalen,
                   sum(pandsluitingen)::bigint AS pandsluitingen,
                   sum(bibob)::bigint AS bibob,
                   sum(controles)::bigint AS controles,
                   sum(meldingen)::bigint AS meldingen
            FROM kubus
            GROUP BY zicht_id, gebied_soort, indeling, code, periode, thema
        ),
        span AS (
            SELECT z.id AS zicht_id, coalesce(min(k.van), current_date) AS lo,
                   coalesce(max(k.van), current_date) AS hi
            FROM z LEFT JOIN kubus k ON k.zicht_id = z.id AND k.periode_soort = 'kwartaal'
            GROUP BY z.id
        ),
        periode AS (
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
            SELECT u.soort, standaard_indeling(u.soort) AS indeling, u.code, sum(a.n)::bigint AS adressen
            FROM adres_groep a
            LEFT JOIN bg ON a.buitengebied AND bg.gemeentecode = a.gemeentecode
            CROSS JOIN LATERAL (VALUES ('gemeente', a.gemeentecode), ('buurt', a.buurtcode),
                ('wijk', a.wijkcode), ('bedrijventerrein', a.bedrijventerreincode),
                ('buitengebied', bg.code)) AS u(soort, code)
            WHERE u.code IS NOT NULL
            GROUP BY u.soort, u.code
            UNION ALL
            SELECT e.soort, e.indeling, e.code, count(*) FROM ({_extra("verblijfsobject")}) e
            GROUP BY e.soort, e.indeling, e.code
        ),
        leeg_gebied AS (
            SELECT l.sinds, l.tot, u.soort, standaard_indeling(u.soort) AS indeling, u.code
            FROM leegstand l
            LEFT JOIN bg ON l.buitengebied AND bg.gemeentecode = l.gemeentecode
            CROSS JOIN LATERAL (VALUES ('gemeente', l.gemeentecode), ('buurt', l.buurtcode),
                ('wijk', l.wijkcode), ('bedrijventerrein', l.bedrijventerreincode),
                ('buitengebied', bg.code)) AS u(soort, code)
            WHERE u.code IS NOT NULL
            UNION ALL
            SELECT l.sinds, l.tot, e.soort, e.indeling, e.code
            FROM ({_extra("leegstand")}) e JOIN leegstand l ON l.id = e.id
        ),
        leeg AS (
            SELECT l.soort, l.indeling, l.code, pe.periode, count(*) AS leegstand
            FROM leeg_gebied l
            JOIN (SELECT DISTINCT periode, van, tot FROM periode) pe
              ON l.sinds < pe.tot AND (l.tot IS NULL OR l.tot >= pe.van)
            GROUP BY l.soort, l.indeling, l.code, pe.periode
        ),
        vak AS (
            SELECT a.zicht_id, a.gebied_id, a.soort, a.indeling, a.code, a.naam, a.gemeentecode,
                   pe.periode, pe.periode_soort, pe.vorige, pe.eerste,
                   coalesce(ad.adressen, 0) AS adressen, coalesce(ga.adressen, 0) AS gemeente_adressen,
                   coalesce(le.leegstand, 0) AS leegstand
            FROM area a
            JOIN periode pe ON pe.zicht_id = a.zicht_id
            LEFT JOIN adres ad ON ad.soort = a.soort AND ad.indeling = a.indeling AND ad.code = a.code
            LEFT JOIN adres ga ON ga.soort = 'gemeente' AND ga.indeling = standaard_indeling('gemeente')
                AND ga.code = a.gemeentecode
            LEFT JOIN leeg le ON le.soort = a.soort AND le.indeling = a.indeling AND le.code = a.code
                AND le.periode = pe.periode
        ),
        basis AS (
            SELECT v.zicht_id, v.gebied_id, v.soort AS gebied_soort, v.indeling, v.code, v.naam,
                   v.gemeentecode, v.periode, v.periode_soort, t.thema,
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
                AND tl.indeling = v.indeling AND tl.code = v.code AND tl.periode = v.periode
                AND tl.thema = t.thema
            LEFT JOIN telling vg ON vg.zicht_id = v.zicht_id AND vg.gebied_soort = v.soort
                AND vg.indeling = v.indeling AND vg.code = v.code AND vg.periode = v.vorige
                AND vg.thema = t.thema
            LEFT JOIN telling gm ON gm.zicht_id = v.zicht_id AND gm.gebied_soort = 'gemeente'
                AND gm.indeling = standaard_indeling('gemeente') AND gm.code = v.gemeentecode
                AND gm.periode = v.periode AND gm.thema = t.thema
        ),
        afwijking AS (
            SELECT b.*, (b.signalen - b.verwacht) / sqrt(NULLIF(b.verwacht, 0)) AS z
            FROM basis b
        )
        SELECT v.zicht_id,
               CASE WHEN v.indeling = standaard_indeling(v.gebied_soort) THEN v.gebied_soort
                    ELSE v.gebied_soort || '.' || v.indeling END
                   || ':' || v.code || ':' || v.periode || ':' || v.thema,
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
               {", ".join("NULL::boolean" for _ in COUNTS)},
               v.indeling
        FROM afwijking v
        $$;
    """


def upgrade() -> None:
    op.execute(_schema())
    op.execute(_cube())
    op.execute(
        """
        ALTER TABLE indicator_zicht ADD COLUMN indeling text;
        UPDATE indicator_zicht i SET indeling = g.indeling FROM gebied g WHERE g.id = i.gebied_id;
        DELETE FROM indicator_zicht WHERE indeling IS NULL;
        ALTER TABLE indicator_zicht ALTER COLUMN indeling SET NOT NULL;
        COMMENT ON COLUMN indicator_zicht.indeling IS 'Division of the area (gebied.indeling).';
        """
    )
    op.execute(_figures())
    op.execute(
        """
        DROP VIEW laag_indicator_zicht;
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, i.indeling = standaard_indeling(i.gebied_soort) AS standaard, g.jaar AS gebied_jaar,
               g.geom, g.geom_3857
        FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons.';
        GRANT SELECT ON laag_indicator_zicht TO okaart_api;
        """
    )


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    """Back to one division per type: areas outside the default divisions and of the new
    types are removed (their figures with them)."""
    zicht = _revision("0007_zicht.py")
    op.execute(
        f"""
        DROP VIEW laag_indicator_zicht;
        DROP FUNCTION zicht_cijfers(bigint[]);
        DELETE FROM indicator_zicht WHERE indeling <> standaard_indeling(gebied_soort)
            OR gebied_soort NOT IN {_in(OUDE_SOORTEN)};
        ALTER TABLE indicator_zicht DROP COLUMN indeling;
        DROP MATERIALIZED VIEW signaal_kubus;
        DROP VIEW laag_gebied, punt_gebied, actueel_gebied;
        DELETE FROM gebied WHERE indeling <> standaard_indeling(soort) OR soort NOT IN {_in(OUDE_SOORTEN)};
        ALTER TABLE gebied
            DROP CONSTRAINT gebied_soort_indeling_code_jaar_key,
            ADD CONSTRAINT gebied_soort_code_jaar_key UNIQUE (soort, code, jaar),
            DROP CONSTRAINT gebied_soort_check,
            ADD CONSTRAINT gebied_soort_check CHECK (soort IN {_in(OUDE_SOORTEN)}),
            DROP CONSTRAINT gebied_code_patroon,
            ADD CONSTRAINT gebied_code_patroon CHECK (
                (soort = 'gemeente' AND code ~ '^GM[0-9]{{4}}$')
                OR (soort = 'wijk' AND code ~ '^WK[0-9]{{6}}$')
                OR (soort = 'buurt' AND code ~ '^BU[0-9]{{8}}$')
                OR (soort = 'buitengebied' AND code ~ '^BG[0-9]{{4}}(-[0-9A-Za-z]+)?$')
                OR (soort = 'bedrijventerrein' AND code ~ '^[0-9A-Za-z][0-9A-Za-z_.-]{{0,31}}$')
            ),
            DROP COLUMN indeling;
        DROP TRIGGER gebied_standaard_indeling ON gebied;
        DROP FUNCTION gebied_standaard_indeling(), standaard_indeling(text);
        COMMENT ON TABLE gebied IS
            'Every area: gemeente, wijk, buurt, bedrijventerrein, buitengebied; editions side by side.';

        CREATE VIEW actueel_gebied AS
        SELECT g.* FROM gebied g
        WHERE g.jaar = (SELECT max(x.jaar) FROM gebied x WHERE x.soort = g.soort);
        COMMENT ON VIEW actueel_gebied IS 'Areas of the newest boundary edition per area type.';
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
        CREATE VIEW laag_gebied AS
        SELECT g.soort || ':' || g.code AS id, g.soort, g.code, g.naam, g.gemeentecode, g.wijkcode,
               g.jaar, g.geom, g.geom_3857
        FROM actueel_gebied g;
        GRANT SELECT ON actueel_gebied, laag_gebied TO okaart_api;
        """
    )
    op.execute(zicht._cube())
    op.execute(zicht._figures())
    op.execute(
        """
        CREATE VIEW laag_indicator_zicht AS
        SELECT i.*, g.geom, g.geom_3857 FROM indicator_zicht i JOIN gebied g ON g.id = i.gebied_id;
        COMMENT ON VIEW laag_indicator_zicht IS
            'Indicator layers: one view class at a time (zicht_id), with the area polygons.';
        GRANT SELECT ON laag_indicator_zicht TO okaart_api;
        """
    )
