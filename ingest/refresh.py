"""What is recomputed after data changed: the materialised views built from the source tables.

Called once after an ingest that changed something (or once after a batch of loads, such as
the demo), and after a retention run, so a removed signal leaves the indicators too. The
refresh runs outside the data transaction, as the owner; CONCURRENTLY keeps each view
readable while it is rebuilt.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: The materialised views over ingested data, refreshed in this order. A migration that adds
#: one adds its name here (a view built on another comes after it; CONCURRENTLY needs a
#: unique index on each).
MATERIALISED_VIEWS: tuple[str, ...] = ("indicator",)


def refresh_indicators(conn: Connection) -> None:
    """Recompute the materialised indicators (after ingests and retention runs)."""
    conn.execute(text("SET work_mem = '256MB'"))
    for view in MATERIALISED_VIEWS:
        conn.execute(text(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {view}"))
    conn.commit()
