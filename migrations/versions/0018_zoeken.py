"""Search by street name: the lower-cased street name of every address, indexed for prefixes.

The map's search (``/zoeken``, issue #15) finds "Oosterstraat 12" or "ooster" by the start of
the street name, in any case. ``lower(openbare_ruimte) LIKE 'ooster%'`` can use a B-tree only
with ``text_pattern_ops`` (the database's collation is not C); the house number follows, so a
street and number is one index range. A prefix index needs no extension (pg_trgm would also
find the middle of a name, which nobody types).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX verblijfsobject_straat_idx ON verblijfsobject"
        " (lower(openbare_ruimte) text_pattern_ops, huisnummer)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX verblijfsobject_straat_idx")
