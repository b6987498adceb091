"""A note on signals and vacancy that kept their own point instead of an address.

A row with a valid point of its own whose address cannot be read, or is not in the BAG,
is stored at its point (``ingest/fallback.py``) instead of being quarantined: a police
export lost 34 real incidents that way. ``adres_opmerking`` says why the row is not linked
to an address, or what was left out of its written house number, so an analyst can tell
a located incident from a matched address.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("signaal", "leegstand")
COMMENT = "Why the row keeps its own point instead of a BAG address, or what its house number lost."


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN adres_opmerking text")
        op.execute(f"COMMENT ON COLUMN {table}.adres_opmerking IS '{COMMENT}'")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN adres_opmerking")
