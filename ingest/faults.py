"""Test-only fault injection: pause a run at a named point, so a test can kill it there.

``OKAART_TEST_PAUSE=<point>:<seconds>`` makes a run wait at that point:

- ``in_transactie``: inside the data transaction, after the upsert, as a statement running
  on the server (``pg_sleep``), holding the run's locks: a long ``DELETE`` stand-in, to
  show that the server gives up when the client dies (``ingest/session.py``).
- ``voor_verversen``: after the data committed, before the indicators are refreshed: to
  show that the figures heal at the next command (``ingest/refresh.py``).

Used by ``tests/test_herstel.py`` only; ignored in production (``OKAART_ENVIRONMENT``).
"""

from __future__ import annotations

import os
import time

from sqlalchemy import Connection, text

from core.settings import get_settings

ENV = "OKAART_TEST_PAUSE"
POINTS = ("in_transactie", "voor_verversen")


def pause(point: str, conn: Connection | None = None) -> None:
    """Wait here when the environment asks for it (on the server when ``conn`` is given)."""
    spec = os.environ.get(ENV)
    if not spec or get_settings().environment == "production":
        return
    name, _, seconds = spec.partition(":")
    if name != point:
        return
    wait = float(seconds or "60")
    if conn is not None:
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": wait})
    else:
        time.sleep(wait)
