"""What is recomputed after data changed: the signal cube and the figures of every view class.

Called after an ingest that changed something (or once after a batch of loads, such as the
demo), and after a retention run, so a removed signal leaves the figures too. The refresh
runs outside the data transaction, as the owner; readers keep the old figures until the new
ones are committed. What a view class is and how its figures are computed is
:mod:`core.zicht` (docs/architecture.md §4, §7).

Because the refresh commits apart from the data, a process killed between the two leaves
figures older than the data. So the bookkeeping is in the data itself: a run that changed
data (``ingest_run``: geslaagd, something inserted, updated or removed) has ``ververst_op``
NULL until a refresh that started after its commit has committed. :func:`stale` asks
whether any such run exists, and :func:`heal` refreshes when one does: every ingest run
calls it at its end (even one that changes nothing or fails), as do ``okaart ingest
refresh`` and ``okaart serve``. A kill at any moment is healed by the next command.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from core import zicht
from core.domain import RunStatus
from ingest.session import guard

#: Runs whose data change the figures have not caught up with yet.
PENDING = "status = :geslaagd AND ingevoegd + bijgewerkt + verwijderd > 0 AND ververst_op IS NULL"


def stale(conn: Connection) -> bool:
    """Whether some committed data change is newer than the figures."""
    return bool(
        conn.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM ingest_run WHERE {PENDING})"),
            {"geslaagd": RunStatus.GESLAAGD},
        ).scalar_one()
    )


def refresh_indicators(conn: Connection, k: int | None = None, *, per_gemeente: bool = False) -> int:
    """Recompute the cube and every view class's figures, with suppression threshold ``k``
    (default: the settings'); returns how many runs' changes it caught up with.

    The pending runs are marked first, in the refresh's own transaction: only runs committed
    before it started are marked, and everything they wrote is visible to the recomputation
    that follows, so a mark never claims more than the figures hold. A run committing
    meanwhile stays pending and is caught by the next command.

    ``per_gemeente``: recompute only the municipalities the pending runs changed
    (``ingest_run.gemeenten``), or everything when one of them may have changed any (NULL).
    Without it (retention, ``okaart ingest refresh --force``, the demo) everything is
    recomputed: the safe answer when the data changed outside an ingest run.
    """
    guard(conn)
    conn.execute(text("SET work_mem = '256MB'"))
    conn.execute(text("SET hash_mem_multiplier = 1"))  # a hash bounded as a sort is
    marked = conn.execute(
        text(f"UPDATE ingest_run SET ververst_op = now() WHERE {PENDING} RETURNING gemeenten"),
        {"geslaagd": RunStatus.GESLAAGD},
    ).all()
    gemeenten: set[str] | None = set()
    for (changed,) in marked:
        if changed is None or gemeenten is None:
            gemeenten = None
        else:
            gemeenten |= set(changed)
    zicht.refresh(conn, k, sorted(gemeenten) if per_gemeente and gemeenten is not None else None)
    conn.commit()
    return len(marked)


def heal(engine: Engine) -> bool:
    """Refresh when the data is newer than the figures; returns whether it did."""
    with engine.connect() as conn:
        if not stale(conn):
            conn.rollback()
            return False
        conn.rollback()
        refresh_indicators(conn, per_gemeente=True)
    return True
