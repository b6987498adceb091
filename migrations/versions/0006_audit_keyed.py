"""Audit trail that holds: server-set fields, bounded text, column grants, anchors.

* The chain trigger now sets ``tijdstip`` itself (it used to keep a value the writer
  supplied) besides ``id``, ``prev_hash`` and ``hash``, and cuts every text column to
  256 characters and ``object_ids`` to 1,000 entries: no writer can back-date a row or
  leave a megabyte in a table nothing may ever delete from.
* The api and ingest roles may INSERT only the columns that describe a request; naming
  ``id``, ``tijdstip``, ``prev_hash`` or ``hash`` is refused outright.
* ``audit_anker``: append-only record of the chain heads that ``okaart audit anchor``
  keyed with the secret kept outside the database (HMAC-SHA256 over id and row hash).
  Only the owner writes it; the row chain stays unkeyed SHA-256 (cheap, in the server,
  in commit order) and the anchors are what a superuser cannot recompute.
* Nobody but the owner may create objects in schema ``public`` (already so from
  PostgreSQL 15 on; older servers let every login create tables there).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: What a writer may supply; everything else the trigger decides.
WRITABLE = (
    "principal_id, principal, organisatie, rol, doel, methode, route, laag, gebied, bbox, "
    "object_ids, aantal, status, client"
)
TEXT_COLUMNS = (
    "principal",
    "organisatie",
    "rol",
    "doel",
    "methode",
    "route",
    "laag",
    "gebied",
    "bbox",
    "client",
)
#: Keep in step with app/audit.py (MAX_TEXT, MAX_IDS): the app cuts first, this guarantees it.
MAX_TEXT = 256
MAX_IDS = 1000


def _chain_function(body: str) -> str:
    return f"""
        CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC'
        AS $$
        DECLARE
            previous bytea;
        BEGIN
            -- One writer at a time: ids and the chain follow commit order.
            PERFORM pg_advisory_xact_lock(hashtext('okaart.audit_log'));
            NEW.id := nextval('audit_log_id_seq');
            {body}
            SELECT hash INTO previous FROM audit_log ORDER BY id DESC LIMIT 1;
            NEW.prev_hash := previous;
            NEW.hash := sha256(coalesce(previous, '\\x'::bytea) || audit_log_canonical(NEW));
            RETURN NEW;
        END
        $$;
    """


def upgrade() -> None:
    cuts = "\n            ".join(f"NEW.{c} := left(NEW.{c}, {MAX_TEXT});" for c in TEXT_COLUMNS)
    op.execute(
        _chain_function(
            f"""-- The server's clock, after the lock: times rise with the ids.
            NEW.tijdstip := clock_timestamp();
            {cuts}
            IF cardinality(NEW.object_ids) > {MAX_IDS} THEN
                NEW.object_ids := NULL;
            END IF;"""
        )
    )
    op.execute(
        f"""
        REVOKE INSERT ON audit_log FROM okaart_api, okaart_ingest;
        GRANT INSERT ({WRITABLE}) ON audit_log TO okaart_api, okaart_ingest;

        CREATE TABLE audit_anker (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            audit_id bigint NOT NULL,
            hash bytea NOT NULL CHECK (octet_length(hash) = 32),
            mac bytea NOT NULL CHECK (octet_length(mac) = 32),
            tijdstip timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        COMMENT ON TABLE audit_anker IS
            'Chain heads of audit_log keyed with a secret kept outside the database: '
            'HMAC-SHA256(secret, audit_id as 8 bytes big-endian || hash). Append-only.';
        CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        CREATE TRIGGER audit_anker_no_update BEFORE UPDATE OR DELETE ON audit_anker
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_anker_no_truncate BEFORE TRUNCATE ON audit_anker
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        """
    )


def downgrade() -> None:
    # The schema privilege stays revoked: granting CREATE to every login is not a state
    # worth restoring, and PostgreSQL 15 and later never had it.
    op.execute(
        """
        DROP TABLE audit_anker;
        CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END
        $$;
        REVOKE INSERT ON audit_log FROM okaart_api, okaart_ingest;
        GRANT INSERT ON audit_log TO okaart_api, okaart_ingest;
        """
    )
    op.execute(_chain_function("NEW.tijdstip := coalesce(NEW.tijdstip, clock_timestamp());"))
