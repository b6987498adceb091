"""Audit chains per partition: the single chain's lock no longer caps the service.

Issue #16: every audited request took one advisory lock, held through its commit, so the
whole service wrote at most about 950 audit rows a second per database. Now the trigger
chains a row into one of ``KETENS`` chains, each with its own lock:

* ``audit_log.keten``: the chain a row belongs to. A writer takes the first chain whose lock
  is free (``pg_try_advisory_xact_lock``, chain 0 first), so a quiet service keeps writing
  one chain and concurrent writers spread over as many as they need; when all are taken it
  waits for one chosen by its backend pid. A transaction keeps the chain it took for every
  further row (a transaction-local setting), so it never holds two chain locks and two
  writers can never wait for each other's chain.
* Within a chain nothing changes: ids are taken under the chain's lock, so they rise in
  commit order, and each row hashes its predecessor in the chain.
* ``audit_log_canonical`` leaves ``keten`` out for chain 0, so the rows and anchors written
  before this revision (one chain, now chain 0) keep their hashes and still verify.
* The trigger computes the row's canonical bytes inline, the same expression as
  ``audit_log_canonical`` (which verify and the tests use), so a request does not pay for
  setting up a SQL function.
* ``audit_log_verify()`` links the rows per chain; ``audit_anker`` gets an index on
  ``audit_id`` because every chain head is anchored (core/audit_anchors.py).

The api and ingest roles keep INSERT on the request's columns only; ``keten`` is decided
by the trigger like ``id`` and the hashes (docs/decisions.md "Audit chains per partition").

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: Chains the trigger spreads writers over. More chains cost one anchor line each per
#: anchor run (only chains whose head moved) and nothing per request.
KETENS = 32
#: The advisory lock class of the chains (the objid is the chain number).
LOCK_CLASS = "hashtext('okaart.audit_log.keten')"


def _revision(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _server_set_fields() -> str:
    """0006's server-set time and bounds, applied to every new row; the texts are cut only
    when one is too long (one test per row instead of ten assignments, the same result)."""
    keyed = _revision("0006_audit_keyed.py")
    cuts = "\n                ".join(
        f"NEW.{c} := left(NEW.{c}, {keyed.MAX_TEXT});" for c in keyed.TEXT_COLUMNS
    )
    longest = ", ".join(f"length(NEW.{c})" for c in keyed.TEXT_COLUMNS)
    return f"""NEW.tijdstip := clock_timestamp();
            IF greatest({longest}) > {keyed.MAX_TEXT} THEN
                {cuts}
            END IF;
            IF cardinality(NEW.object_ids) > {keyed.MAX_IDS} THEN
                NEW.object_ids := NULL;
            END IF;"""


def _canonical(row: str) -> str:
    """The bytes a row's hash covers: ``audit_log_canonical``'s expression, which the trigger
    evaluates inline (a SQL function with a setting is never inlined and is set up again in
    every transaction, i.e. for every audited request). Needs ``timezone = 'UTC'``."""
    return (
        f"convert_to((to_jsonb({row}) - 'hash' - 'prev_hash'"
        f" - CASE WHEN {row}.keten = 0 THEN 'keten' ELSE '' END)::text, 'UTF8')"
    )


CHAIN = f"""
        CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC'
        AS $$
        DECLARE
            previous bytea;
            k integer := nullif(current_setting('okaart.audit_keten', true), '')::integer;
            lock_class integer;
        BEGIN
            -- A chain of our own: the one this transaction already holds, else the first
            -- free one, else wait for one picked by pid. Ids and links follow commit order
            -- within each chain.
            IF k IS NULL THEN
                lock_class := {LOCK_CLASS};
                FOR i IN 0..{KETENS - 1} LOOP
                    IF pg_try_advisory_xact_lock(lock_class, i) THEN
                        k := i;
                        EXIT;
                    END IF;
                END LOOP;
                IF k IS NULL THEN
                    k := pg_backend_pid() % {KETENS};
                    PERFORM pg_advisory_xact_lock(lock_class, k);
                END IF;
                PERFORM set_config('okaart.audit_keten', k::text, true);
            END IF;
            NEW.id := nextval('audit_log_id_seq');
            NEW.keten := k;
            -- The server's clock, after the lock: times rise with the ids in a chain.
            {_server_set_fields()}
            SELECT a.hash INTO previous FROM audit_log a WHERE a.keten = k ORDER BY a.id DESC LIMIT 1;
            NEW.prev_hash := previous;
            NEW.hash := sha256(coalesce(previous, '\\x'::bytea) || {_canonical("NEW")});
            RETURN NEW;
        END
        $$;
"""

CANONICAL = f"""
        CREATE OR REPLACE FUNCTION audit_log_canonical(r audit_log) RETURNS bytea
        LANGUAGE sql IMMUTABLE SET timezone = 'UTC' AS $$
            SELECT {_canonical("r")}
        $$;
"""

VERIFY = """
        CREATE OR REPLACE FUNCTION audit_log_verify()
        RETURNS TABLE (id bigint, probleem text)
        LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
            WITH chain AS (
                SELECT a.id, a.hash, a.prev_hash,
                       lag(a.hash) OVER (PARTITION BY a.keten ORDER BY a.id) AS expected_prev,
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


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE audit_log ADD COLUMN keten smallint NOT NULL DEFAULT 0 CHECK (keten >= 0);
        COMMENT ON COLUMN audit_log.keten IS
            'Chain of the row, set by the trigger: each row hashes its predecessor in its chain.';
        CREATE INDEX audit_log_keten_idx ON audit_log (keten, id);
        CREATE INDEX audit_anker_audit_id_idx ON audit_anker (audit_id);
        """
    )
    op.execute(CANONICAL)
    op.execute(CHAIN)
    op.execute(VERIFY)


def downgrade() -> None:
    """Back to one chain, only while every row is in chain 0: joining chains would mean
    recomputing hashes, which is what tampering looks like."""
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM audit_log WHERE keten <> 0) THEN
                RAISE EXCEPTION 'audit_log has rows in more than one chain; 0016 cannot be undone';
            END IF;
        END $$;
        """
    )
    keyed = _revision("0006_audit_keyed.py")
    op.execute(keyed._chain_function(_server_set_fields()))
    op.execute(
        """
        DROP INDEX audit_anker_audit_id_idx;
        DROP INDEX audit_log_keten_idx;
        CREATE OR REPLACE FUNCTION audit_log_canonical(r audit_log) RETURNS bytea
        LANGUAGE sql IMMUTABLE SET timezone = 'UTC' AS $$
            SELECT convert_to((to_jsonb(r) - 'hash' - 'prev_hash')::text, 'UTF8')
        $$;
        """
    )
    op.execute(VERIFY.replace("PARTITION BY a.keten ", ""))
    op.execute("ALTER TABLE audit_log DROP COLUMN keten")
