"""OpenID Connect: sessions of people signed in at an identity provider, and the sign-ins
in flight (state, nonce, PKCE verifier).

A session now stands either for an API key (as before) or for a person signed in with
OpenID Connect, whose rights come from a profile principal (``oidc:<profiel>``, loaded from
the claims mapping by ``okaart toegang laad``). Such a session lives no longer than the
provider's token (``verloopt_op``), may be refreshed up to ``ververs_tot``, and ends by the
provider's back-channel logout (found by ``oidc_sid``). ``oidc_aanmelding`` holds the
secrets of a sign-in between the redirect to the provider and its return; the single
UPDATE that marks one used makes a replayed ``state`` fail.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE sessie ALTER COLUMN api_key_id DROP NOT NULL;
        ALTER TABLE sessie
            ADD COLUMN principal_id bigint REFERENCES principal (id) ON DELETE CASCADE,
            ADD COLUMN persoon text,
            ADD COLUMN tweede_factor boolean,
            ADD COLUMN oidc_provider text,
            ADD COLUMN oidc_sub text,
            ADD COLUMN oidc_sid text,
            ADD COLUMN oidc_claims jsonb,
            ADD COLUMN oidc_id_token text,
            ADD COLUMN oidc_ververs text,
            ADD COLUMN ververs_tot timestamptz,
            ADD CONSTRAINT sessie_herkomst_check CHECK ((api_key_id IS NULL) <> (principal_id IS NULL));
        COMMENT ON COLUMN sessie.persoon IS 'Who signed in with OpenID Connect (name or subject), for the audit.';
        COMMENT ON COLUMN sessie.tweede_factor IS
            'Whether the provider''s token showed a second factor (acr/amr); NULL: a key session.';
        COMMENT ON COLUMN sessie.oidc_ververs IS 'Refresh token of the provider, when it issued one.';
        COMMENT ON COLUMN sessie.ververs_tot IS 'Refreshing stops here: the longest a session may live.';
        CREATE INDEX sessie_oidc_sid_idx ON sessie (oidc_provider, oidc_sid);
        COMMENT ON TABLE sessie IS
            'Browser sessions; a session lives no longer than its key or its provider''s token.';

        CREATE TABLE oidc_aanmelding (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            state_hash text NOT NULL UNIQUE CHECK (state_hash ~ '^[0-9a-f]{64}$'),
            provider text NOT NULL,
            nonce text NOT NULL,
            code_verifier text NOT NULL,
            volgende text NOT NULL DEFAULT '/kaart',
            aangemaakt_op timestamptz NOT NULL DEFAULT now(),
            verloopt_op timestamptz NOT NULL,
            gebruikt_op timestamptz
        );
        COMMENT ON TABLE oidc_aanmelding IS
            'OpenID Connect sign-ins in flight; each state can be used once, before it expires.';

        GRANT SELECT, INSERT, UPDATE ON oidc_aanmelding TO okaart_api;
        GRANT SELECT, INSERT, UPDATE, DELETE ON oidc_aanmelding TO okaart_ingest;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS oidc_aanmelding;
        DELETE FROM sessie WHERE api_key_id IS NULL;
        DROP INDEX IF EXISTS sessie_oidc_sid_idx;
        ALTER TABLE sessie
            DROP CONSTRAINT IF EXISTS sessie_herkomst_check,
            DROP COLUMN IF EXISTS principal_id, DROP COLUMN IF EXISTS persoon,
            DROP COLUMN IF EXISTS tweede_factor, DROP COLUMN IF EXISTS oidc_provider,
            DROP COLUMN IF EXISTS oidc_sub, DROP COLUMN IF EXISTS oidc_sid,
            DROP COLUMN IF EXISTS oidc_claims, DROP COLUMN IF EXISTS oidc_id_token,
            DROP COLUMN IF EXISTS oidc_ververs, DROP COLUMN IF EXISTS ververs_tot;
        ALTER TABLE sessie ALTER COLUMN api_key_id SET NOT NULL;
        COMMENT ON TABLE sessie IS 'Browser sessions; a session lives no longer than its key.';
        """
    )
