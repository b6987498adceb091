"""Two indexes for tiles and items at national scale (issue 16).

- ``gebied_editie_idx`` on gebied (soort, indeling, jaar): ``actueel_gebied`` keeps an area
  when its year is the newest of its type and division, a subquery per row. The unique key
  (soort, indeling, code, jaar) has the code before the year, so each of those subqueries read
  every area of its type: over the country (some 20,000 areas) the areas' extent took 22 s,
  past the statement timeout, and every tile answered 503. With the year next to the type
  and division the newest year is one index probe, for every user of the view.
- ``indicator_zicht_gebied_idx`` on indicator_zicht (zicht_id, gebied_id, periode, thema):
  an indicator layer's tile or bbox page finds its areas by their GIST index on ``gebied``
  and then needs each area's row of the view class, period and theme. The lookup index
  (zicht_id, gebied_soort, periode, thema) serves that only by reading every area of the type
  in the class (every buurt of the country for a national class) and joining them all to
  ``gebied`` to test the tile.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX gebied_editie_idx ON gebied (soort, indeling, jaar)")
    op.execute(
        "CREATE INDEX indicator_zicht_gebied_idx ON indicator_zicht (zicht_id, gebied_id, periode, thema)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX indicator_zicht_gebied_idx")
    op.execute("DROP INDEX gebied_editie_idx")
