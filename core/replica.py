"""Read replicas on streaming replication: which one, if any, a read may go to now.

A replica takes read load off the primary, but it answers from the WAL it has replayed so
far. Two things make it unusable for a while: it is down, or it is too far behind (replay
paused, a long query holding replay back, a slow network). Both are found by a cheap check
that a background task of each worker runs every ``OKAART_REPLICA_CHECK_S``
(``app/background.py``: one small query on the primary and one per replica), never a
request: a request only reads the last verdict, so a dead replica's connect timeout or a
slow primary never lands on a user's request. A verdict older than a few check rounds is not
trusted (the checker stopped or hangs): reads go to the primary then. A read that finds its
replica gone is told to retry on the primary (:func:`retry_on_primary`). Nothing here
writes: keys, sessions, ingests and audit rows always go to the primary (see
``app/replica_reads.py`` and docs/operations.md).

Lag is measured as the replay position's distance from the primary's WAL position and, when
there is a distance, as the age of the last transaction replayed: a replica that has replayed
everything is current however long ago the primary last committed, and one that is behind is
at most as stale as that last replayed commit.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from core import db
from core.settings import Settings

log = logging.getLogger("okaart.replica")

#: A replica that did not answer is left alone this long before it is tried again.
RETRY_S = 5.0
#: How long a connection attempt to a replica may take: a dead host must not hold a request.
CONNECT_TIMEOUT_S = 2
#: SQLSTATEs after which a read is repeated on the primary: the connection is gone (class 08),
#: the server is shutting down or starting (57P01-57P03), or the standby cancelled the query to
#: go on replaying (40001, a conflict with recovery).
RETRYABLE_STATES = frozenset({"57P01", "57P02", "57P03", "40001"})

_PRIMARY_POSITION = text("SELECT CAST(pg_current_wal_lsn() AS text)")
_STANDBY_STATE = text(
    "SELECT pg_is_in_recovery() AS standby,"
    " pg_wal_lsn_diff(CAST(:primary AS pg_lsn), pg_last_wal_replay_lsn()) AS behind_bytes,"
    " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) AS replay_age_s"
)


@dataclass
class Replica:
    """One replica and what the last check found."""

    name: str
    engine: Engine
    usable: bool = False
    reason: str = "nog niet gecontroleerd"
    behind_bytes: float | None = None
    replay_age_s: float | None = None
    #: Not checked again before this moment (monotonic) after it failed to answer.
    retry_at: float = 0.0


def retry_on_primary(exc: DBAPIError) -> bool:
    """Whether a read that failed on a replica should be repeated on the primary.

    A lost connection, a replica shutting down or a conflict with recovery: yes. A statement
    timeout or an error in the query itself: no, the primary would fail the same way, twice
    the load for the same answer.
    """
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if state is None:
        # No SQLSTATE: the connection could not be made at all.
        return isinstance(exc, OperationalError)
    return str(state).startswith("08") or state in RETRYABLE_STATES


class ReplicaSet:
    """The configured replicas of one process, each checked at most every ``check_s``."""

    def __init__(
        self,
        primary: Engine,
        replicas: list[Replica],
        *,
        max_lag_s: float,
        check_s: float,
        retry_s: float = RETRY_S,
    ) -> None:
        self.primary = primary
        self.replicas = replicas
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self.retry_s = retry_s
        self._lock = threading.Lock()
        #: When the last check round ended (monotonic); None: not yet checked.
        self.checked_at: float | None = None
        self.checks = 0
        self._turn = itertools.count()

    @classmethod
    def from_settings(cls, settings: Settings, primary: Engine) -> ReplicaSet | None:
        """The replicas of ``OKAART_REPLICA_URLS`` (None when there are none).

        Each URL is the api login on that replica (roles are replicated with the data), with
        the same pool limits as the primary's api engine: a replica serves the same requests.
        """
        if not settings.replica_urls:
            return None
        _, role = db.api_url(settings)
        replicas = [
            Replica(
                name=_name(url),
                engine=db.make_engine(
                    url,
                    role=role,
                    statement_timeout_ms=settings.statement_timeout_ms,
                    pool_size=settings.pool_size,
                    max_overflow=0,
                    pool_timeout=settings.pool_timeout_s,
                    pool_pre_ping=False,
                    pool_recycle=600,
                    connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
                ),
            )
            for url in settings.replica_urls
        ]
        return cls(primary, replicas, max_lag_s=settings.replica_max_lag_s, check_s=settings.replica_check_s)

    @property
    def trusted_s(self) -> float:
        """How old the last verdict may be before reads stop believing it: a few rounds, plus
        the connect timeouts a round may spend on replicas that do not answer."""
        return 3 * self.check_s + CONNECT_TIMEOUT_S * (1 + len(self.replicas))

    def pick(self) -> Engine | None:
        """A usable replica's engine (in turn), or None: read on the primary.

        Reads the state the background check keeps (:meth:`check`); runs no statement.
        """
        checked = self.checked_at
        if checked is None or time.monotonic() - checked > self.trusted_s:
            return None
        usable = [r for r in self.replicas if r.usable]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)].engine

    def check(self) -> None:
        """One check round: each replica's distance from the primary, and its verdict.

        Blocking (it connects and queries): the background task runs it in a thread. One
        round at a time; a caller arriving during a round skips it.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._check():
                self.checked_at = time.monotonic()
                self.checks += 1
        finally:
            self._lock.release()

    def mark_down(self, engine: Engine, exc: BaseException) -> None:
        """A read found this replica gone: skip it until it answers a check again."""
        for replica in self.replicas:
            if replica.engine is engine:
                replica.retry_at = time.monotonic() + self.retry_s
                self._set(replica, False, f"onbereikbaar ({type(exc).__name__})")

    def status(self) -> list[dict[str, object]]:
        """What the last check found, per replica (for diagnostics and tests)."""
        return [
            {
                "naam": r.name,
                "bruikbaar": r.usable,
                "reden": r.reason,
                "achter_bytes": r.behind_bytes,
                "replay_leeftijd_s": r.replay_age_s,
            }
            for r in self.replicas
        ]

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()

    def _check(self) -> bool:
        """False when the primary could not be asked (the verdicts are left as they were)."""
        try:
            with self.primary.connect() as conn:
                position = str(conn.execute(_PRIMARY_POSITION).scalar_one())
        except DBAPIError:
            # The primary is what fails: its own error handling answers; keep the last verdict
            # (it goes stale, and reads stay on the primary, if this lasts).
            return False
        now = time.monotonic()
        for replica in self.replicas:
            if replica.retry_at > now:
                continue
            try:
                with replica.engine.connect() as conn:
                    row = conn.execute(_STANDBY_STATE, {"primary": position}).one()
            except DBAPIError as exc:
                replica.retry_at = now + self.retry_s
                self._set(replica, False, f"onbereikbaar ({type(exc.orig or exc).__name__})")
                continue
            behind = float(row.behind_bytes) if row.behind_bytes is not None else None
            age = float(row.replay_age_s) if row.replay_age_s is not None else None
            replica.behind_bytes, replica.replay_age_s = behind, age
            if not row.standby:
                self._set(replica, False, "geen standby (gepromoveerd of verkeerd ingesteld)")
            elif behind is not None and behind > 0 and (age is None or age > self.max_lag_s):
                self._set(
                    replica, False, f"loopt achter ({behind:.0f} bytes, laatste replay {age or 0:.1f} s)"
                )
            else:
                self._set(replica, True, "actueel")
        return True

    @staticmethod
    def _set(replica: Replica, usable: bool, reason: str) -> None:
        """Record a verdict; a change is logged once, not every request that meets it."""
        if usable != replica.usable:
            if usable:
                log.info("replica %s weer in gebruik", replica.name)
            else:
                log.warning("replica %s niet gebruikt: %s; lezen op de primary", replica.name, reason)
        replica.usable, replica.reason = usable, reason


def _name(url: str) -> str:
    """host:port of a URL, without credentials, for the log."""
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}"
