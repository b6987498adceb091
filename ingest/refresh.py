"""What is recomputed after data changed: the signal cube and the figures of every view class.

Called once after an ingest that changed something (or once after a batch of loads, such as
the demo), and after a retention run, so a removed signal leaves the figures too. The refresh
runs outside the data transaction, as the owner; readers keep the old figures until the new
ones are committed. What a view class is and how its figures are computed is
:mod:`core.zicht` (docs/architecture.md §4, §7).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from core import zicht


def refresh_indicators(conn: Connection, k: int | None = None) -> None:
    """Recompute the cube and every view class's figures, with suppression threshold ``k``
    (default: the settings')."""
    conn.execute(text("SET work_mem = '256MB'"))
    zicht.refresh(conn, k)
    conn.commit()
