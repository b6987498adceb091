"""Registers of establishments and permits (vestigingen) and risk-branch figures per view class.

- ``vestiging``: one register entry per partner (``bron``) and its own id (KvK
  vestigingsnummer, permit number): an establishment or a permit, its SBI codes or permit type,
  its risk branch (from the editable mapping, core/risicobranches.toml), its validity interval
  (``geldig_van`` .. ``geldig_tot``, both optional), the partner's data class and covenant, the
  address it was matched to (or its own point), and the areas it lies in.
- ``vestiging_locatie`` (materialised, refreshed with the signal cube): the entries valid
  today, grouped by location (the matched address, else the point to the metre), area,
  branch, covenant and data class. Counting locations rather than rows keeps an establishment
  that is in the KvK export *and* holds a permit from being counted twice.
- ``vestiging_cijfers(ids, volgorde)``: per view class (zicht, as the signal figures are),
  from the locations that class may see: per area and risk branch (and ``alle``) the number
  of locations with a risk-branch entry, every location with an entry (``totaal``), the area in
  hectares, per hectare and share. On one location the branch first in ``volgorde`` counts.
- ``vestiging_zicht``: those rows, with withheld flags for suppressed classes (core.vestiging_cijfers);
  ``laag_vestiging_zicht`` adds the polygons and is what the api role reads, one class at a time.
- ``laag_vestiging``: the entries as points (for cleared principals; the layer scopes them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INGEST_SOORTEN_OUD = "'gebieden', 'adressen', 'leegstand', 'signalen'"
INGEST_SOORTEN = f"{INGEST_SOORTEN_OUD}, 'vestigingen'"
DATAKLASSEN = "'openbaar', 'intern', 'vertrouwelijk', 'zeer_vertrouwelijk'"
RD_EXTENT = "ST_X(geom) BETWEEN -7000 AND 300000 AND ST_Y(geom) BETWEEN 289000 AND 629000"
#: Which locations (``l``) a view class (``z``) may see: as for signals (revision 0007).
SEES = """(z.gemeenten IS NULL OR l.gemeentecode = ANY (z.gemeenten))
             AND (z.convenanten IS NULL OR l.convenant = ANY (z.convenanten))
             AND l.dataklasse = ANY (z.dataklassen)"""
BG = """
    bg AS (
        SELECT DISTINCT ON (gemeentecode) gemeentecode, code FROM actueel_gebied
        WHERE soort = 'buitengebied' AND indeling = standaard_indeling(soort)
        ORDER BY gemeentecode, code
    )"""

TABLES = f"""
    CREATE TABLE vestiging (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        bron text NOT NULL REFERENCES bron (code),
        bron_id text NOT NULL CHECK (length(bron_id) BETWEEN 1 AND 100),
        soort text NOT NULL CHECK (soort IN ('vestiging', 'vergunning')),
        naam text,
        sbi text CHECK (sbi ~ '^[0-9]{{2,5}}(,[0-9]{{2,5}})*$'),
        vergunning text,
        risicobranche text CHECK (risicobranche ~ '^[a-z][a-z0-9_]{{1,39}}$' AND risicobranche <> 'alle'),
        geldig_van date,
        geldig_tot date,
        dataklasse text NOT NULL CHECK (dataklasse IN ({DATAKLASSEN})),
        convenant text NOT NULL,
        verblijfsobject_id bigint REFERENCES verblijfsobject (id) ON DELETE SET NULL,
        geom geometry(Point, 28992) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND {RD_EXTENT}),
        geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
        gemeentecode text CHECK (gemeentecode ~ '^GM[0-9]{{4}}$'),
        buurtcode text CHECK (buurtcode ~ '^BU[0-9]{{8}}$'),
        wijkcode text CHECK (wijkcode ~ '^WK[0-9]{{6}}$'),
        bedrijventerreincode text,
        buitengebied boolean NOT NULL DEFAULT false,
        ingest_run_id bigint,
        bijgewerkt_op timestamptz NOT NULL DEFAULT now(),
        UNIQUE (bron, bron_id),
        CHECK (geldig_tot IS NULL OR geldig_van IS NULL OR geldig_tot >= geldig_van)
    );
    CREATE INDEX vestiging_geom_idx ON vestiging USING gist (geom);
    CREATE INDEX vestiging_geom_3857_idx ON vestiging USING gist (geom_3857);
    CREATE INDEX vestiging_buurt_idx ON vestiging (buurtcode);
    CREATE INDEX vestiging_verblijfsobject_idx ON vestiging (verblijfsobject_id);
    COMMENT ON TABLE vestiging IS
        'Register entries (establishments, permits) with validity interval and risk branch.';

    CREATE TABLE vestiging_zicht (
        zicht_id bigint NOT NULL,
        id text NOT NULL,
        gebied_id bigint NOT NULL,
        gebied_soort text NOT NULL,
        code text NOT NULL,
        naam text NOT NULL,
        gemeentecode text NOT NULL,
        risicobranche text NOT NULL,
        vestigingen bigint NOT NULL,
        totaal bigint NOT NULL,
        hectare numeric,
        per_hectare numeric,
        aandeel_pct numeric,
        vestigingen_onderdrukt boolean,
        totaal_onderdrukt boolean,
        PRIMARY KEY (zicht_id, id)
    );
    CREATE INDEX vestiging_zicht_lookup_idx ON vestiging_zicht (zicht_id, gebied_soort, risicobranche);
    COMMENT ON TABLE vestiging_zicht IS
        'Risk-branch figures per view class, area and branch, from the register entries that class may see.';

    ALTER TABLE ingest_run DROP CONSTRAINT ingest_run_soort_check,
        ADD CONSTRAINT ingest_run_soort_check CHECK (soort IN ({INGEST_SOORTEN}));
"""

LOCATIONS = """
    CREATE MATERIALIZED VIEW vestiging_locatie AS
    SELECT coalesce('v' || v.verblijfsobject_id,
                    'p' || round(ST_X(v.geom)) || ':' || round(ST_Y(v.geom))) AS locatie,
           v.gemeentecode, v.buurtcode, v.wijkcode, v.bedrijventerreincode, v.buitengebied,
           v.risicobranche, v.convenant, v.dataklasse, count(*) AS inschrijvingen
    FROM vestiging v
    WHERE (v.geldig_van IS NULL OR v.geldig_van <= current_date)
      AND (v.geldig_tot IS NULL OR v.geldig_tot >= current_date)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
    COMMENT ON MATERIALIZED VIEW vestiging_locatie IS
        'Register entries valid today per location, branch, covenant and data class; unscoped: never for the api role.';
"""


def _figures() -> str:
    return f"""
    CREATE FUNCTION vestiging_cijfers(ids bigint[], volgorde text[]) RETURNS SETOF vestiging_zicht
    LANGUAGE sql STABLE
    SET enable_nestloop = off SET enable_mergejoin = off SET jit = off
    AS $$
    WITH z AS (
        SELECT id, gemeenten, convenanten, dataklassen FROM zicht WHERE id = ANY (ids)
    ),
    {BG},
    plek AS (
        -- Each location a class may see, once, with the branch of its entries that comes
        -- first in the mapping's order (NULL: no risk branch, or one no longer mapped).
        SELECT z.id AS zicht_id, l.locatie, l.gemeentecode, l.buurtcode, l.wijkcode,
               l.bedrijventerreincode, l.buitengebied,
               (array_agg(l.risicobranche ORDER BY array_position(volgorde, l.risicobranche))
                   FILTER (WHERE l.risicobranche = ANY (volgorde)))[1] AS risicobranche
        FROM z JOIN vestiging_locatie l ON {SEES}
        GROUP BY 1, 2, 3, 4, 5, 6, 7
    ),
    telling AS (
        SELECT p.zicht_id, u.soort, u.code, b.branche, count(*) AS n
        FROM plek p
        LEFT JOIN bg ON p.buitengebied AND bg.gemeentecode = p.gemeentecode
        CROSS JOIN LATERAL (VALUES ('gemeente', p.gemeentecode), ('buurt', p.buurtcode),
            ('wijk', p.wijkcode), ('bedrijventerrein', p.bedrijventerreincode),
            ('buitengebied', bg.code)) AS u(soort, code)
        CROSS JOIN LATERAL (VALUES ('#totaal'),
            (CASE WHEN p.risicobranche IS NOT NULL THEN 'alle' END), (p.risicobranche)) AS b(branche)
        WHERE u.code IS NOT NULL AND b.branche IS NOT NULL
        GROUP BY 1, 2, 3, 4
    ),
    area AS (
        SELECT z.id AS zicht_id, a.id AS gebied_id, a.soort, a.code, a.naam, a.gemeentecode,
               ST_Area(a.geom) / 10000.0 AS hectare
        FROM z JOIN actueel_gebied a
          ON a.soort IN ('gemeente', 'wijk', 'buurt', 'bedrijventerrein', 'buitengebied')
         AND a.indeling = standaard_indeling(a.soort)  -- points carry the default divisions' codes
         AND (z.gemeenten IS NULL OR a.gemeentecode = ANY (z.gemeenten))
    ),
    branche AS (SELECT unnest(ARRAY['alle'] || volgorde) AS branche)
    SELECT a.zicht_id, a.soort || ':' || a.code || ':' || b.branche, a.gebied_id, a.soort, a.code,
           a.naam, a.gemeentecode, b.branche, coalesce(t.n, 0), coalesce(tt.n, 0),
           round(a.hectare::numeric, 2),
           round((coalesce(t.n, 0) / NULLIF(a.hectare, 0))::numeric, 3),
           round((100.0 * coalesce(t.n, 0) / NULLIF(tt.n, 0))::numeric, 1),
           NULL::boolean, NULL::boolean
    FROM area a
    CROSS JOIN branche b
    LEFT JOIN telling t ON t.zicht_id = a.zicht_id AND t.soort = a.soort AND t.code = a.code
        AND t.branche = b.branche
    LEFT JOIN telling tt ON tt.zicht_id = a.zicht_id AND tt.soort = a.soort AND tt.code = a.code
        AND tt.branche = '#totaal'
    $$;
    COMMENT ON FUNCTION vestiging_cijfers(bigint[], text[]) IS
        'Risk-branch rows of these view classes from the locations they may see; withheld flags unset.';
    """


VIEWS = """
    CREATE VIEW laag_vestiging_zicht AS
    SELECT v.*, g.geom, g.geom_3857 FROM vestiging_zicht v JOIN gebied g ON g.id = v.gebied_id;
    COMMENT ON VIEW laag_vestiging_zicht IS
        'Risk-branch layers: one view class at a time (zicht_id), with the area polygons.';

    CREATE VIEW laag_vestiging AS
    SELECT v.id::text AS id, v.bron, v.soort, v.naam, replace(v.sbi, ',', ', ') AS sbi, v.vergunning,
           coalesce(v.risicobranche, 'geen') AS risicobranche, v.geldig_van, v.geldig_tot,
           (v.geldig_van IS NULL OR v.geldig_van <= current_date)
               AND (v.geldig_tot IS NULL OR v.geldig_tot >= current_date) AS actueel,
           v.dataklasse, v.convenant, v.gemeentecode, v.buurtcode, v.wijkcode,
           v.bedrijventerreincode, v.buitengebied, v.geom, v.geom_3857
    FROM vestiging v;

    GRANT SELECT, INSERT, UPDATE, DELETE ON vestiging TO okaart_ingest;
    GRANT USAGE ON SEQUENCE vestiging_id_seq TO okaart_ingest;
    GRANT SELECT ON laag_vestiging, laag_vestiging_zicht TO okaart_api;
"""


#: Existing classes get their (empty) rows now, flags unset (withheld) until the next refresh;
#: the branch order is the packaged mapping's, as an own mapping is read by the refresh.
EXISTING = """
    INSERT INTO vestiging_zicht
    SELECT * FROM vestiging_cijfers(ARRAY(SELECT id FROM zicht WHERE berekend_op IS NOT NULL),
                                    CAST(:volgorde AS text[]));
"""


def upgrade() -> None:
    from core.risicobranches import DEFAULT, parse

    op.execute(TABLES)
    op.execute(LOCATIONS)
    op.execute(_figures())
    op.execute(VIEWS)
    volgorde = list(parse(DEFAULT.read_text(encoding="utf-8")).codes)
    op.get_bind().execute(sa.text(EXISTING), {"volgorde": volgorde})


def downgrade() -> None:
    op.execute(
        f"""
        DROP VIEW laag_vestiging, laag_vestiging_zicht;
        DROP FUNCTION vestiging_cijfers(bigint[], text[]);
        DROP MATERIALIZED VIEW vestiging_locatie;
        DROP TABLE vestiging_zicht, vestiging;
        DELETE FROM ingest_run WHERE soort = 'vestigingen';
        ALTER TABLE ingest_run DROP CONSTRAINT ingest_run_soort_check,
            ADD CONSTRAINT ingest_run_soort_check CHECK (soort IN ({INGEST_SOORTEN_OUD}));
        """
    )
