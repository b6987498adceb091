"""Security: data-class clearance per principal, browser sessions and one-time sign-in links.

A principal's ``dataklasse`` is the most sensitive class of signal it may see; signals of a
higher class are filtered out in SQL like rows of another municipality. Sessions and
sign-in links store only the sha256 of their token, as API keys do; the api role may create
and end them but never read a token.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DATAKLASSEN = "'openbaar','intern','vertrouwelijk','zeer_vertrouwelijk'"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE principal ADD COLUMN dataklasse text NOT NULL DEFAULT 'vertrouwelijk'
            CHECK (dataklasse IN ({DATAKLASSEN}));
        COMMENT ON COLUMN principal.dataklasse IS
            'Most sensitive data class of signal this principal may see.';

        CREATE TABLE sessie (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{{64}}$'),
            api_key_id bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
            aangemaakt_op timestamptz NOT NULL DEFAULT now(),
            verloopt_op timestamptz NOT NULL,
            beeindigd_op timestamptz,
            CHECK (verloopt_op > aangemaakt_op)
        );
        COMMENT ON TABLE sessie IS 'Browser sessions; a session lives no longer than its key.';

        CREATE TABLE aanmeldlink (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{{64}}$'),
            api_key_id bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
            volgende text NOT NULL DEFAULT '/kaart' CHECK (volgende ~ '^/[^/\\\\]'),
            aangemaakt_op timestamptz NOT NULL DEFAULT now(),
            verloopt_op timestamptz NOT NULL,
            gebruikt_op timestamptz
        );
        COMMENT ON TABLE aanmeldlink IS 'One-time sign-in links; usable once, before they expire.';

        GRANT SELECT, INSERT, UPDATE ON sessie, aanmeldlink TO okaart_api;
        GRANT SELECT, INSERT, UPDATE, DELETE ON sessie, aanmeldlink TO okaart_ingest;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS aanmeldlink, sessie;
        ALTER TABLE principal DROP COLUMN IF EXISTS dataklasse;
        """
    )
