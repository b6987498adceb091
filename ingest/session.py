"""Limits on the database sessions of an ingest, so a dead client cannot block the next one.

A statement keeps running on the server after its client died: PostgreSQL notices only when
it next talks to the client, and a long ``DELETE`` does not. A killed ``--snapshot`` run went
on deleting for minutes and held its locks, and the next ingest waited behind it. So:

- ``client_connection_check_interval`` (PostgreSQL 14 and later): the server polls the
  socket while a statement runs and cancels it within a second of the client going away
  (a killed process closes its socket at once).
- TCP keepalives on the connection: a client whose machine or network vanished sends no
  close at all; the keepalives find it out within about a minute.
- ``lock_timeout``: if something else still holds a table (another ingest, an index rebuild),
  the run stops with one line after a minute instead of waiting without end. No statement
  timeout: a national load legitimately runs for minutes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from ingest.errors import IngestError

#: How often the server checks, during a statement, that the client is still there.
CLIENT_CHECK_MS = 1000
#: How long a run waits for a lock held by someone else before it gives up.
LOCK_TIMEOUT_MS = 60_000
#: libpq connection parameters: keepalives after 30 s idle, then every 10 s, 3 misses.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def connect_args() -> dict[str, Any]:
    """The driver's connection arguments for an ingest engine (``create_engine(connect_args=)``)."""
    return dict(KEEPALIVES)


def guard(conn: Connection) -> None:
    """Set the limits for the current transaction (``SET LOCAL``: they end with it)."""
    version = conn.dialect.server_version_info or (0,)
    if version >= (14,):
        conn.execute(text(f"SET LOCAL client_connection_check_interval = {CLIENT_CHECK_MS}"))
    conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))


def translate(exc: BaseException) -> IngestError | None:
    """The user's one line for a database failure an operator can act on; None for a bug."""
    if not isinstance(exc, DBAPIError):
        return None
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == "55P03":  # lock_not_available
        return IngestError(
            "de tabellen zijn bezet door een andere inlading of verversing",
            fix="probeer het opnieuw als die klaar is (`okaart ingest runs`)",
        )
    if exc.connection_invalidated or sqlstate in ("57P01", "57P02", "57P03", "08006", "08003"):
        return IngestError(
            "de verbinding met de database is verbroken; er is niets opgeslagen",
            fix="controleer `okaart db status` en probeer het opnieuw",
        )
    return None
