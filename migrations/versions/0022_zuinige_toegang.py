"""Cheaper shared state per request (issue 16, cleanup): a rate limit that writes its bucket
once, and revocation notices that name what changed, only when it changes.

- ``rate_take`` becomes one ``INSERT ... ON CONFLICT DO UPDATE``: refill, take and stamp in
  one write of the bucket row (0017's version wrote it, then updated it again). What was
  taken is kept in the row (``gegeven``) so the statement can return it: the refilled count
  it was taken from is gone once the row is written, and PostgreSQL 15 cannot return the
  old row.
- ``okaart_toegang`` (0017 notified on every statement that touched ``principal``,
  ``api_key`` or ``sessie``, and every worker then emptied its whole cache): row triggers
  fire only when a column a lookup reads changes (a session ended, expired, extended or its
  second factor changed; a key revoked or expiring; a principal's rights), never on a
  session's bookkeeping (its provider tokens, claims); deleting an ended or expired session
  is silent too. The payload names the entry: ``sessie:<token_hash>``,
  ``sleutel:<hash>`` with ``principal:<principal_id>`` (its key sessions resolve to that
  principal), ``principal:<id>``; ``*`` for a TRUNCATE. Workers drop just those entries
  (``app/principal_cache.py``).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-02
"""

from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

#: The tokens in the bucket now, refilled since its stamp (``excluded.stamp`` is this
#: statement's one clock reading).
_REFILLED = "LEAST(p_burst, b.tokens + GREATEST(0, extract(epoch FROM excluded.stamp - b.stamp)) * p_rate)"

RATE_TAKE = f"""
CREATE OR REPLACE FUNCTION rate_take(p_sleutel text, p_rate double precision, p_burst double precision,
                                     p_wil integer, OUT gegeven integer, OUT wacht double precision)
LANGUAGE plpgsql AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is prepared once per connection (a SQL function's INSERT
    -- is planned again on every call, which costs more than the second write it saves).
    INSERT INTO rate_bucket AS b (sleutel, tokens, stamp, gegeven)
    VALUES (p_sleutel, p_burst - LEAST(p_wil, floor(p_burst)), clock_timestamp(), LEAST(p_wil, floor(p_burst)))
    ON CONFLICT (sleutel) DO UPDATE SET
        gegeven = LEAST(p_wil, floor({_REFILLED})),
        tokens = {_REFILLED} - LEAST(p_wil, floor({_REFILLED})),
        stamp = excluded.stamp
    RETURNING b.gegeven, CASE WHEN b.gegeven > 0 THEN 0 ELSE (1 - b.tokens) / p_rate END
    INTO gegeven, wacht;
END $$;
COMMENT ON FUNCTION rate_take(text, double precision, double precision, integer) IS
    'Take up to p_wil tokens from a key''s bucket (refilled at p_rate per second up to '
    'p_burst), in one write; gegeven: how many, wacht: seconds until one is there when none was.';
"""

NOTIFY = """
CREATE OR REPLACE FUNCTION okaart_toegang_gewijzigd() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rij jsonb;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN  -- a TRUNCATE: every entry
        PERFORM pg_notify('okaart_toegang', '*');
        RETURN NULL;
    END IF;
    -- The old row's entry, and the new one's when an update moved it (identical payloads
    -- in one transaction are delivered once).
    FOREACH rij IN ARRAY CASE TG_OP
        WHEN 'UPDATE' THEN ARRAY[to_jsonb(OLD), to_jsonb(NEW)]
        WHEN 'DELETE' THEN ARRAY[to_jsonb(OLD)]
        ELSE ARRAY[to_jsonb(NEW)] END
    LOOP
        CASE TG_TABLE_NAME
            WHEN 'sessie' THEN
                PERFORM pg_notify('okaart_toegang', 'sessie:' || (rij ->> 'token_hash'));
            WHEN 'api_key' THEN
                PERFORM pg_notify('okaart_toegang', 'sleutel:' || (rij ->> 'hash'));
                PERFORM pg_notify('okaart_toegang', 'principal:' || (rij ->> 'principal_id'));
            ELSE
                PERFORM pg_notify('okaart_toegang', 'principal:' || (rij ->> 'id'));
        END CASE;
    END LOOP;
    RETURN NULL;
END $$;
"""

#: Per table: the columns whose change alters what a lookup answers, and when deleting a
#: row matters (an ended or expired session resolves to nobody already).
WATCHED = {
    "sessie": (
        "token_hash, api_key_id, principal_id, verloopt_op, beeindigd_op, persoon, tweede_factor",
        "OLD.beeindigd_op IS NULL AND OLD.verloopt_op > now()",
    ),
    "api_key": ("hash, principal_id, verloopt_op, ingetrokken_op", None),
    "principal": ("*", None),
}


def _row(prefix: str, columns: str) -> str:
    if columns == "*":
        return f"{prefix}.*"
    return "(" + ", ".join(f"{prefix}.{c.strip()}" for c in columns.split(",")) + ")"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE rate_bucket ADD COLUMN gegeven integer NOT NULL DEFAULT 0;"
        " COMMENT ON COLUMN rate_bucket.gegeven IS"
        " 'Tokens the last take got (rate_take returns it from the row it wrote).';"
    )
    op.execute(RATE_TAKE)
    op.execute(NOTIFY)
    for table, (columns, live) in WATCHED.items():
        changed = f"{_row('OLD', columns)} IS DISTINCT FROM {_row('NEW', columns)}"
        deleted = f" WHEN ({live})" if live else ""
        op.execute(
            f"""
            DROP TRIGGER {table}_toegang_gewijzigd ON {table};
            CREATE TRIGGER {table}_toegang_gewijzigd AFTER UPDATE ON {table} FOR EACH ROW
                WHEN ({changed}) EXECUTE FUNCTION okaart_toegang_gewijzigd();
            CREATE TRIGGER {table}_toegang_verwijderd AFTER DELETE ON {table} FOR EACH ROW{deleted}
                EXECUTE FUNCTION okaart_toegang_gewijzigd();
            CREATE TRIGGER {table}_toegang_geleegd AFTER TRUNCATE ON {table} FOR EACH STATEMENT
                EXECUTE FUNCTION okaart_toegang_gewijzigd();
            """
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(
            f"""
            DROP TRIGGER {table}_toegang_gewijzigd ON {table};
            DROP TRIGGER {table}_toegang_verwijderd ON {table};
            DROP TRIGGER {table}_toegang_geleegd ON {table};
            """
        )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION okaart_toegang_gewijzigd() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('okaart_toegang', TG_TABLE_NAME);
            RETURN NULL;
        END $$;
        DROP FUNCTION rate_take(text, double precision, double precision, integer);
        CREATE FUNCTION rate_take(p_sleutel text, p_rate double precision, p_burst double precision,
                                  p_wil integer, OUT gegeven integer, OUT wacht double precision)
        LANGUAGE plpgsql AS $f$
        DECLARE
            t double precision;
        BEGIN
            INSERT INTO rate_bucket AS b (sleutel, tokens, stamp)
            VALUES (p_sleutel, p_burst, clock_timestamp())
            ON CONFLICT (sleutel) DO UPDATE SET
                tokens = LEAST(p_burst, b.tokens
                    + GREATEST(0, extract(epoch FROM clock_timestamp() - b.stamp)) * p_rate),
                stamp = clock_timestamp()
            RETURNING b.tokens INTO t;
            gegeven := LEAST(p_wil, floor(t))::integer;
            IF gegeven > 0 THEN
                UPDATE rate_bucket SET tokens = t - gegeven WHERE sleutel = p_sleutel;
                wacht := 0;
            ELSE
                wacht := (1 - t) / p_rate;
            END IF;
        END $f$;
        ALTER TABLE rate_bucket DROP COLUMN gegeven;
        """
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_toegang_gewijzigd AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION okaart_toegang_gewijzigd()"
        )
