"""Keyset paging of the point layers: their ids in text order, indexed.

The point layers publish their ids as text (``laag_signaal.id`` is ``signaal.id::text``) and
page in that order. Without an index on that expression every page sorted the whole layer,
and ``OFFSET`` read every row it skipped: offset 300,000 took 4 s, and from about 370,000
the statement timeout answered 503. With the index a page that starts after an id (the
``cursor`` of the next links) is one index range, as fast at any depth as the first page.
Addresses need nothing new: their id is ``sleutel``, which is unique and so indexed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("signaal", "leegstand")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"CREATE INDEX {table}_id_tekst_idx ON {table} ((id::text))")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP INDEX {table}_id_tekst_idx")
