"""State shared by every worker and app replica: the per-key rate limit, failed sign-ins per
client address, and a notification when access changes.

- ``rate_bucket``: a token bucket per key (and per configured limit), taken from with one
  call of ``rate_take`` (one round trip, the row locked only inside the server). UNLOGGED:
  losing the buckets in a crash only gives every key a full bucket again.
- ``auth_failure``: failed sign-ins per client address per window; the limit reads
  ``opgezocht`` (those that took a lookup), and a sealer writes one audit row per address and
  window with the ``aantal`` not yet ``gemeld``.
- ``okaart_toegang``: a statement trigger on ``principal``, ``api_key`` and ``sessie`` sends
  ``NOTIFY okaart_toegang`` on every change or removal, so each worker drops its cached
  callers at once (a revoked key or an ended session stops working everywhere).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WATCHED = ("principal", "api_key", "sessie")


def upgrade() -> None:
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_bucket (
            sleutel text PRIMARY KEY,
            tokens double precision NOT NULL,
            stamp timestamptz NOT NULL
        );
        COMMENT ON TABLE rate_bucket IS
            'Per-key token buckets of the rate limit, shared by all workers; unlogged, lost in a crash.';
        CREATE UNLOGGED TABLE auth_failure (
            client text NOT NULL,
            venster bigint NOT NULL,
            aantal integer NOT NULL DEFAULT 0,
            opgezocht integer NOT NULL DEFAULT 0,
            gemeld integer NOT NULL DEFAULT 0,
            PRIMARY KEY (client, venster)
        );
        COMMENT ON TABLE auth_failure IS
            'Failed sign-ins per client address and window (epoch seconds); opgezocht: those '
            'that took a lookup (the limit counts these); gemeld: how many are in the audit log.';
        GRANT SELECT, INSERT, UPDATE, DELETE ON rate_bucket, auth_failure TO okaart_api;

        CREATE FUNCTION rate_take(p_sleutel text, p_rate double precision, p_burst double precision,
                                  p_wil integer, OUT gegeven integer, OUT wacht double precision)
        LANGUAGE plpgsql AS $$
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
        END $$;
        COMMENT ON FUNCTION rate_take(text, double precision, double precision, integer) IS
            'Take up to p_wil tokens from a key''s bucket (refilled at p_rate per second up to '
            'p_burst); gegeven: how many, wacht: seconds until one is there when none was.';

        CREATE FUNCTION okaart_toegang_gewijzigd() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('okaart_toegang', TG_TABLE_NAME);
            RETURN NULL;
        END $$;
        """
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_toegang_gewijzigd AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION okaart_toegang_gewijzigd()"
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_toegang_gewijzigd ON {table}")
    op.execute(
        """
        DROP FUNCTION okaart_toegang_gewijzigd();
        DROP FUNCTION rate_take(text, double precision, double precision, integer);
        DROP TABLE auth_failure;
        DROP TABLE rate_bucket;
        """
    )
