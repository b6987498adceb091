"""One row per real address: pand ids as a list, indexes for the foreign keys to addresses.

- ``verblijfsobject.pand_identificatie`` (text) becomes ``pand_identificaties`` (text[]): a
  verblijfsobject can lie in several panden, and a BAG export joined with its panden repeats
  it once per pand; the ingest merges those rows into one with the list. The check keeps
  each id 16 digits; single-id lists (nearly all) take a check without a bounded regex
  repetition, which costs about 1.4 µs per row (see 0004).
- ``signaal.verblijfsobject_id`` and ``leegstand.verblijfsobject_id`` get an index: every
  removed address looked its referrers up for ``ON DELETE SET NULL`` with a sequential scan,
  so a ``--snapshot`` removing 380,000 addresses was still deleting after ten minutes.
- A partial index on the addresses stored without BAG id, by which a BAG delivery finds the
  ones it adopts (``ingest/address_identity.py``); usually it is empty and answers at once.
- Addresses stored twice before this revision (once under their BAG id, once without it) are
  merged: what pointed at the row without BAG id is repointed, then that row is removed. The
  downgrade cannot split them again; it keeps the first pand id of each list.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PANDEN = "pand_identificaties"
PANDEN_CHECK = (
    f"CASE WHEN cardinality({PANDEN}) = 1"
    f" THEN coalesce(octet_length({PANDEN}[1]) = 16 AND {PANDEN}[1] !~ '[^0-9]', false)"
    f" ELSE array_to_string({PANDEN}, ',') ~ '^[0-9]{{16}}(,[0-9]{{16}})+$'"
    f" AND array_position({PANDEN}, NULL) IS NULL END"
)
OLD_CHECK = "(octet_length(pand_identificatie) = 16 AND pand_identificatie !~ '[^0-9]')"

SAME_ADDRESS = (
    "a.postcode = b.postcode AND a.huisnummer = b.huisnummer"
    " AND a.huisletter IS NOT DISTINCT FROM b.huisletter"
    " AND a.huisnummertoevoeging IS NOT DISTINCT FROM b.huisnummertoevoeging"
)


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE verblijfsobject DROP CONSTRAINT verblijfsobject_pand_identificatie_check;
        ALTER TABLE verblijfsobject RENAME COLUMN pand_identificatie TO {PANDEN};
        ALTER TABLE verblijfsobject ALTER COLUMN {PANDEN} TYPE text[]
            USING CASE WHEN {PANDEN} IS NULL THEN NULL ELSE ARRAY[{PANDEN}] END;
        ALTER TABLE verblijfsobject ADD CONSTRAINT verblijfsobject_{PANDEN}_check CHECK ({PANDEN_CHECK});
        COMMENT ON COLUMN verblijfsobject.{PANDEN} IS 'The BAG panden this address unit lies in.';

        CREATE INDEX signaal_verblijfsobject_idx ON signaal (verblijfsobject_id);
        CREATE INDEX leegstand_verblijfsobject_idx ON leegstand (verblijfsobject_id);
        CREATE INDEX verblijfsobject_zonder_bag_idx ON verblijfsobject (postcode, huisnummer)
            WHERE identificatie IS NULL;

        CREATE TEMP TABLE dubbel AS
            SELECT DISTINCT ON (a.id) a.id AS adres_id, b.id AS bag_id
            FROM verblijfsobject a JOIN verblijfsobject b ON b.identificatie IS NOT NULL AND {SAME_ADDRESS}
            WHERE a.identificatie IS NULL
            ORDER BY a.id, b.id;
        UPDATE signaal t SET verblijfsobject_id = d.bag_id FROM dubbel d WHERE t.verblijfsobject_id = d.adres_id;
        UPDATE leegstand t SET verblijfsobject_id = d.bag_id FROM dubbel d WHERE t.verblijfsobject_id = d.adres_id;
        DELETE FROM verblijfsobject v USING dubbel d WHERE v.id = d.adres_id;
        DROP TABLE dubbel;
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DROP INDEX verblijfsobject_zonder_bag_idx;
        DROP INDEX leegstand_verblijfsobject_idx;
        DROP INDEX signaal_verblijfsobject_idx;
        ALTER TABLE verblijfsobject DROP CONSTRAINT verblijfsobject_{PANDEN}_check;
        COMMENT ON COLUMN verblijfsobject.{PANDEN} IS NULL;
        ALTER TABLE verblijfsobject ALTER COLUMN {PANDEN} TYPE text USING {PANDEN}[1];
        ALTER TABLE verblijfsobject RENAME COLUMN {PANDEN} TO pand_identificatie;
        ALTER TABLE verblijfsobject ADD CONSTRAINT verblijfsobject_pand_identificatie_check
            CHECK {OLD_CHECK};
        """
    )
