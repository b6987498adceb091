"""Figures that heal after faults: each run that changed data says when the figures caught up.

The indicators are refreshed after an ingest's commit, in a transaction of their own. A
process killed between the two left the figures stale, and running the same file again did
not heal them: it changed nothing, so it skipped the refresh. Now every run that changed
data (``status = 'geslaagd'`` and something inserted, updated or removed; retention runs
included) carries ``ververst_op``: NULL until a refresh that started after its commit has
committed. Any later command (the next ingest of anything, ``okaart ingest refresh``,
``okaart serve``) finds such a run and refreshes first (``ingest/refresh.py``).

Existing runs are left NULL on purpose: the first command after this migration refreshes
once, which costs one refresh and proves nothing was left behind.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE ingest_run ADD COLUMN ververst_op timestamptz;
        COMMENT ON COLUMN ingest_run.ververst_op IS
            'When the indicators were refreshed after this run''s data change (NULL: not yet).';
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE ingest_run DROP COLUMN ververst_op")
