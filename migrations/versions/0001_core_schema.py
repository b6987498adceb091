"""Core schema: areas, addresses, vacancy, signals, sources, ingest log, audit, principals.

The constraints here make malformed rows impossible whatever code writes them: BAG ids
of 16 digits, CBS codes by pattern, vocabularies as CHECKs, valid non-empty geometry in
RD New (EPSG:28992) inside the Netherlands' RD extent. Two group roles carry the grants:
``okaart_ingest`` writes the source tables, ``okaart_api`` only reads what is published
and may only INSERT into the append-only, hash-chained ``audit_log``.

``ingest_run_id`` on the data tables names the run that last changed a row. It has no
foreign key on purpose: the per-row referential check costs about 10 µs, a tenth of a
million-row load, and runs are never deleted.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Vocabularies are spelled out here on purpose: a migration is a snapshot and must not
# change when application code changes. tests/test_schema.py checks app.domain agrees.
GEBIED_SOORTEN = ("gemeente", "wijk", "buurt", "bedrijventerrein", "buitengebied")
GEBRUIKSDOELEN = (
    "woonfunctie",
    "bijeenkomstfunctie",
    "celfunctie",
    "gezondheidszorgfunctie",
    "industriefunctie",
    "kantoorfunctie",
    "logiesfunctie",
    "onderwijsfunctie",
    "sportfunctie",
    "winkelfunctie",
    "overige gebruiksfunctie",
)
VBO_STATUSSEN = (
    "Verblijfsobject gevormd",
    "Niet gerealiseerd verblijfsobject",
    "Verblijfsobject in gebruik (niet ingemeten)",
    "Verblijfsobject in gebruik",
    "Verbouwing verblijfsobject",
    "Verblijfsobject ingetrokken",
    "Verblijfsobject buiten gebruik",
    "Verblijfsobject ten onrechte opgevoerd",
)
THEMAS = (
    "drugs",
    "mensenhandel",
    "criminogene_branche",
    "vastgoed",
    "zorgfraude",
    "buitengebied",
    "cyber",
    "overig",
)
SIGNAAL_SOORTEN = (
    "melding",
    "erfbezoek",
    "schouw",
    "bibob",
    "bestuurlijke_controle",
    "bestuurlijke_rapportage",
    "pandsluiting",
    "waarschuwing",
    "last_onder_dwangsom",
    "overig",
)
DATAKLASSEN = ("openbaar", "intern", "vertrouwelijk", "zeer_vertrouwelijk")
LEEGSTAND_SOORTEN = ("woning", "winkel", "kantoor", "bedrijfspand", "agrarisch", "overig")
ROLLEN = ("beheerder", "analist", "partner", "planner")
INGEST_SOORTEN = ("gebieden", "adressen", "leegstand", "signalen")
INGEST_STATUSSEN = ("geslaagd", "mislukt", "afgewezen", "proef")

SOURCE_TABLES = ("gebied", "verblijfsobject", "leegstand", "signaal", "bron")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY" + _in(values).replace("(", "[", 1)[:-1] + "]::text[]"


# RD New extent of the Netherlands (the projection's validity area, rounded outward).
RD_EXTENT = "ST_X(geom) BETWEEN -7000 AND 300000 AND ST_Y(geom) BETWEEN 289000 AND 629000"

AREA_COLUMNS = """
    gemeentecode text CHECK (gemeentecode ~ '^GM[0-9]{4}$'),
    buurtcode text CHECK (buurtcode ~ '^BU[0-9]{8}$'),
    wijkcode text CHECK (wijkcode ~ '^WK[0-9]{6}$'),
    bedrijventerreincode text,
    buitengebied boolean NOT NULL DEFAULT false,
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for role in ("okaart_api", "okaart_ingest"):
        op.execute(
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN;
                END IF;
            END $$"""
        )
        op.execute(f"GRANT {role} TO CURRENT_USER")

    op.execute(
        f"""
        CREATE TABLE ingest_run (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            soort text NOT NULL CHECK (soort IN {_in(INGEST_SOORTEN)}),
            bestand text NOT NULL,
            sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
            bron text,
            laag text,
            status text NOT NULL CHECK (status IN {_in(INGEST_STATUSSEN)}),
            gestart timestamptz NOT NULL,
            beeindigd timestamptz NOT NULL DEFAULT now(),
            duur_ms integer NOT NULL DEFAULT 0 CHECK (duur_ms >= 0),
            gelezen integer NOT NULL DEFAULT 0 CHECK (gelezen >= 0),
            ingevoegd integer NOT NULL DEFAULT 0 CHECK (ingevoegd >= 0),
            bijgewerkt integer NOT NULL DEFAULT 0 CHECK (bijgewerkt >= 0),
            ongewijzigd integer NOT NULL DEFAULT 0 CHECK (ongewijzigd >= 0),
            afgekeurd integer NOT NULL DEFAULT 0 CHECK (afgekeurd >= 0),
            verwijderd integer NOT NULL DEFAULT 0 CHECK (verwijderd >= 0),
            opties jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            melding text
        );
        COMMENT ON TABLE ingest_run IS 'One row per ingest run: file hash, counts, duration, outcome.';

        CREATE TABLE ingest_reject (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ingest_run_id bigint NOT NULL REFERENCES ingest_run (id) ON DELETE CASCADE,
            rij integer NOT NULL CHECK (rij >= 0),
            reden text NOT NULL CHECK (reden ~ '^[a-z_]+$'),
            detail text,
            gegevens jsonb NOT NULL
        );
        CREATE INDEX ingest_reject_run_idx ON ingest_reject (ingest_run_id, rij);
        COMMENT ON TABLE ingest_reject IS 'Quarantine: every rejected row kept whole with its reason.';

        CREATE TABLE gebied (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            soort text NOT NULL CHECK (soort IN {_in(GEBIED_SOORTEN)}),
            code text NOT NULL,
            naam text NOT NULL CHECK (length(btrim(naam)) > 0),
            gemeentecode text NOT NULL CHECK (gemeentecode ~ '^GM[0-9]{{4}}$'),
            wijkcode text CHECK (wijkcode ~ '^WK[0-9]{{6}}$'),
            jaar smallint NOT NULL CHECK (jaar BETWEEN 1990 AND 2100),
            kenmerken jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            geom geometry(MultiPolygon, 28992) NOT NULL
                CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
            geom_3857 geometry(MultiPolygon, 3857)
                GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            ingest_run_id bigint,
            bijgewerkt_op timestamptz NOT NULL DEFAULT now(),
            UNIQUE (soort, code, jaar),
            CONSTRAINT gebied_code_patroon CHECK (
                (soort = 'gemeente' AND code ~ '^GM[0-9]{{4}}$')
                OR (soort = 'wijk' AND code ~ '^WK[0-9]{{6}}$')
                OR (soort = 'buurt' AND code ~ '^BU[0-9]{{8}}$')
                OR (soort = 'buitengebied' AND code ~ '^BG[0-9]{{4}}(-[0-9A-Za-z]+)?$')
                OR (soort = 'bedrijventerrein' AND code ~ '^[0-9A-Za-z][0-9A-Za-z_.-]{{0,31}}$')
            )
        );
        CREATE INDEX gebied_geom_idx ON gebied USING gist (geom);
        CREATE INDEX gebied_geom_3857_idx ON gebied USING gist (geom_3857);
        CREATE INDEX gebied_gemeente_idx ON gebied (gemeentecode, soort, jaar);
        COMMENT ON TABLE gebied IS
            'Every area: gemeente, wijk, buurt, bedrijventerrein, buitengebied; editions side by side.';
        COMMENT ON COLUMN gebied.kenmerken IS
            'Key figures delivered with the boundary (CBS: inwoners, adressendichtheid, misdrijven).';

        CREATE TABLE verblijfsobject (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sleutel text NOT NULL UNIQUE CHECK (sleutel ~ '^([0-9]{{16}}|A:[0-9]{{4}}[A-Z]{{2}}:[0-9]+:[A-Z]?:[0-9A-Z]*)$'),
            identificatie text UNIQUE CHECK (identificatie ~ '^[0-9]{{16}}$'),
            openbare_ruimte text NOT NULL CHECK (length(btrim(openbare_ruimte)) > 0),
            huisnummer integer NOT NULL CHECK (huisnummer BETWEEN 1 AND 99999),
            huisletter text CHECK (huisletter ~ '^[A-Z]$'),
            huisnummertoevoeging text CHECK (huisnummertoevoeging ~ '^[0-9A-Z]{{1,4}}$'),
            postcode text NOT NULL CHECK (postcode ~ '^[1-9][0-9]{{3}}[A-Z]{{2}}$'),
            woonplaats text NOT NULL,
            gebruiksdoel text[] NOT NULL DEFAULT '{{}}'
                CHECK (gebruiksdoel <@ {_array(GEBRUIKSDOELEN)}),
            oppervlakte integer CHECK (oppervlakte BETWEEN 1 AND 999999),
            bouwjaar smallint CHECK (bouwjaar BETWEEN 1000 AND 2100),
            status text CHECK (status IN {_in(VBO_STATUSSEN)}),
            pand_identificatie text CHECK (pand_identificatie ~ '^[0-9]{{16}}$'),
            geom geometry(Point, 28992) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND {RD_EXTENT}),
            geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            {AREA_COLUMNS}
            ingest_run_id bigint,
            bijgewerkt_op timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX verblijfsobject_geom_idx ON verblijfsobject USING gist (geom);
        CREATE INDEX verblijfsobject_geom_3857_idx ON verblijfsobject USING gist (geom_3857);
        CREATE INDEX verblijfsobject_adres_idx
            ON verblijfsobject (postcode, huisnummer, huisletter, huisnummertoevoeging);
        CREATE INDEX verblijfsobject_buurt_idx ON verblijfsobject (buurtcode);
        COMMENT ON TABLE verblijfsobject IS 'BAG address units (verblijfsobjecten) with assigned areas.';
        COMMENT ON COLUMN verblijfsobject.sleutel IS
            'BAG identificatie when known, else A:postcode:huisnummer:huisletter:toevoeging.';

        CREATE TABLE bron (
            code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{{1,39}}$'),
            naam text NOT NULL,
            organisatie text NOT NULL,
            dataklasse text NOT NULL CHECK (dataklasse IN {_in(DATAKLASSEN)}),
            convenant text NOT NULL CHECK (convenant ~ '^[a-z][a-z0-9_-]{{1,39}}$'),
            bewaartermijn_maanden integer NOT NULL CHECK (bewaartermijn_maanden BETWEEN 1 AND 240),
            gemeentecode text CHECK (gemeentecode ~ '^GM[0-9]{{4}}$')
        );
        COMMENT ON TABLE bron IS 'Partners that deliver signals, with their disclosure and retention rules.';

        CREATE TABLE leegstand (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sleutel text NOT NULL UNIQUE,
            bron text NOT NULL,
            soort text NOT NULL CHECK (soort IN {_in(LEEGSTAND_SOORTEN)}),
            sinds date NOT NULL,
            tot date,
            verblijfsobject_id bigint REFERENCES verblijfsobject (id) ON DELETE SET NULL,
            pand_identificatie text CHECK (pand_identificatie ~ '^[0-9]{{16}}$'),
            geom geometry(Point, 28992) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND {RD_EXTENT}),
            geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            {AREA_COLUMNS}
            ingest_run_id bigint,
            bijgewerkt_op timestamptz NOT NULL DEFAULT now(),
            CHECK (tot IS NULL OR tot >= sinds)
        );
        CREATE INDEX leegstand_geom_idx ON leegstand USING gist (geom);
        CREATE INDEX leegstand_geom_3857_idx ON leegstand USING gist (geom_3857);
        CREATE INDEX leegstand_buurt_idx ON leegstand (buurtcode);

        CREATE TABLE signaal (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bron text NOT NULL REFERENCES bron (code),
            bron_id text NOT NULL CHECK (length(bron_id) BETWEEN 1 AND 100),
            thema text NOT NULL CHECK (thema IN {_in(THEMAS)}),
            soort text NOT NULL CHECK (soort IN {_in(SIGNAAL_SOORTEN)}),
            datum date NOT NULL CHECK (datum >= DATE '1990-01-01'),
            einddatum date,
            dataklasse text NOT NULL CHECK (dataklasse IN {_in(DATAKLASSEN)}),
            convenant text NOT NULL,
            bewaren_tot date NOT NULL,
            toelichting text,
            verblijfsobject_id bigint REFERENCES verblijfsobject (id) ON DELETE SET NULL,
            geom geometry(Point, 28992) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND {RD_EXTENT}),
            geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            {AREA_COLUMNS}
            ingest_run_id bigint,
            bijgewerkt_op timestamptz NOT NULL DEFAULT now(),
            UNIQUE (bron, bron_id),
            CHECK (einddatum IS NULL OR einddatum >= datum),
            CHECK (bewaren_tot >= datum)
        );
        CREATE INDEX signaal_geom_idx ON signaal USING gist (geom);
        CREATE INDEX signaal_geom_3857_idx ON signaal USING gist (geom_3857);
        CREATE INDEX signaal_thema_datum_idx ON signaal (thema, datum);
        CREATE INDEX signaal_buurt_idx ON signaal (buurtcode);
        CREATE INDEX signaal_bewaren_tot_idx ON signaal (bewaren_tot);
        COMMENT ON TABLE signaal IS 'Partner signals; sensitive: access by role, covenant and purpose.';

        CREATE TABLE principal (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            naam text NOT NULL UNIQUE,
            rol text NOT NULL CHECK (rol IN {_in(ROLLEN)}),
            organisatie text NOT NULL,
            convenanten text[] NOT NULL DEFAULT '{{}}',
            gemeenten text[] NOT NULL DEFAULT '{{}}'
                CHECK (array_to_string(gemeenten, ',') ~ '^(GM[0-9]{{4}}(,GM[0-9]{{4}})*)?$'),
            doelen text[] NOT NULL DEFAULT '{{}}',
            actief boolean NOT NULL DEFAULT true,
            aangemaakt_op timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE api_key (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            principal_id bigint NOT NULL REFERENCES principal (id) ON DELETE CASCADE,
            prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[A-Za-z0-9_-]{{8,16}}$'),
            hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{{64}}$'),
            aangemaakt_op timestamptz NOT NULL DEFAULT now(),
            verloopt_op timestamptz,
            ingetrokken_op timestamptz
        );
        COMMENT ON COLUMN api_key.hash IS 'sha256 of the whole key; the key itself is never stored.';

        CREATE SEQUENCE audit_log_id_seq;
        CREATE TABLE audit_log (
            id bigint PRIMARY KEY,
            tijdstip timestamptz NOT NULL,
            principal_id bigint,
            principal text,
            organisatie text,
            rol text,
            doel text,
            methode text NOT NULL,
            route text NOT NULL,
            laag text,
            gebied text,
            bbox text,
            object_ids text[],
            aantal integer,
            status integer NOT NULL,
            client text,
            prev_hash bytea,
            hash bytea NOT NULL
        );
        COMMENT ON TABLE audit_log IS
            'Append-only access log; each row hashes its predecessor, so edits and removals show.';
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_canonical(r audit_log) RETURNS bytea
        LANGUAGE sql IMMUTABLE SET timezone = 'UTC' AS $$
            SELECT convert_to((to_jsonb(r) - 'hash' - 'prev_hash')::text, 'UTF8')
        $$;

        CREATE FUNCTION audit_log_chain() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC'
        AS $$
        DECLARE
            previous bytea;
        BEGIN
            -- One writer at a time: ids and the chain follow commit order.
            PERFORM pg_advisory_xact_lock(hashtext('okaart.audit_log'));
            NEW.id := nextval('audit_log_id_seq');
            NEW.tijdstip := coalesce(NEW.tijdstip, clock_timestamp());
            SELECT hash INTO previous FROM audit_log ORDER BY id DESC LIMIT 1;
            NEW.prev_hash := previous;
            NEW.hash := sha256(coalesce(previous, '\\x'::bytea) || audit_log_canonical(NEW));
            RETURN NEW;
        END
        $$;
        CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

        """
    )
    # Rows whose hash or link does not match: an edit shows at the row, a removal at the
    # row after it. The CTE computes the links over all rows before filtering.
    op.execute(
        """
        CREATE FUNCTION audit_log_verify()
        RETURNS TABLE (id bigint, probleem text)
        LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
            WITH chain AS (
                SELECT a.id, a.hash, a.prev_hash,
                       lag(a.hash) OVER (ORDER BY a.id) AS expected_prev,
                       sha256(coalesce(a.prev_hash, '\\x'::bytea) || audit_log_canonical(a))
                           AS expected_hash
                FROM audit_log a
            )
            SELECT chain.id,
                   CASE WHEN chain.prev_hash IS DISTINCT FROM chain.expected_prev
                        THEN 'schakel verbroken: voorganger gewijzigd of verwijderd'
                        ELSE 'inhoud gewijzigd' END
            FROM chain
            WHERE chain.prev_hash IS DISTINCT FROM chain.expected_prev
               OR chain.hash IS DISTINCT FROM chain.expected_hash
            ORDER BY chain.id
        $$;
        """
    )

    tables = ", ".join(SOURCE_TABLES)
    op.execute(
        f"""
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
        GRANT SELECT ON spatial_ref_sys TO PUBLIC;
        GRANT USAGE ON SCHEMA public TO okaart_api, okaart_ingest;

        GRANT SELECT ON {tables}, ingest_run, principal, api_key, alembic_version TO okaart_api;
        GRANT INSERT ON audit_log TO okaart_api;

        GRANT SELECT, INSERT, UPDATE, DELETE ON {tables}, ingest_run, ingest_reject
            TO okaart_ingest;
        GRANT SELECT ON alembic_version TO okaart_ingest;
        GRANT INSERT ON audit_log TO okaart_ingest;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO okaart_ingest;
        """
    )


def downgrade() -> None:
    # Roles are cluster-wide and may serve other databases (test clones): they stay; only
    # this database's objects and grants go.
    op.execute(
        """
        DROP TABLE IF EXISTS audit_log, api_key, principal, signaal, leegstand, bron,
            verblijfsobject, gebied, ingest_reject, ingest_run CASCADE;
        DROP SEQUENCE IF EXISTS audit_log_id_seq;
        DROP FUNCTION IF EXISTS audit_log_verify();
        DROP FUNCTION IF EXISTS audit_log_chain();
        DROP FUNCTION IF EXISTS audit_log_append_only();
        DROP FUNCTION IF EXISTS audit_log_canonical(audit_log);
        REVOKE ALL ON alembic_version FROM okaart_api, okaart_ingest;
        REVOKE ALL ON SCHEMA public FROM okaart_api, okaart_ingest;
        """
    )
