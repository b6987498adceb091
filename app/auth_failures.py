"""Failed sign-ins per client address: a limit (429) and an aggregate audit trail.

A request that presents credentials which resolve to nobody (an unknown or revoked key, an
ended session, a bad token) is a failed sign-in. Counted per client address and window in
``auth_failure`` (migration 0017, shared by every worker); past the limit the address gets a
429 without its credentials being looked up, so a client trying random keys costs the
database nothing more until the window ends. Credentials this worker has seen resolve before
are still looked up from that address (a colleague behind the same NAT is not locked out). Only
failures that took a lookup count toward the limit; the same bad key again is answered from
the worker's cache and counted for the audit only.

Such requests get no audit row each: :meth:`AuthFailures.seal` writes one row per address and
window with their count (``aantal``), status 401, route :data:`ROUTE`, all in one
``INSERT ... SELECT`` from the windows it claims. A flood of random keys
then writes a handful of rows a minute instead of one per request.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, text

log = logging.getLogger("okaart.aanmelding")

#: The route of the aggregate audit rows.
ROUTE = "(mislukte aanmeldingen per clientadres)"

#: Add ``n`` failures, ``opgezocht`` of which took a lookup; returns the window's lookups.
COUNT = text(
    "INSERT INTO auth_failure AS f (client, venster, aantal, opgezocht) "
    "VALUES (:client, :venster, :n, :opgezocht) "
    "ON CONFLICT (client, venster) DO UPDATE SET aantal = f.aantal + excluded.aantal, "
    "opgezocht = f.opgezocht + excluded.opgezocht "
    "RETURNING f.opgezocht"
)
#: The failures counted in this worker since the last seal, every slot in one statement
#: (the slots are distinct, so no row is hit twice).
COUNT_PENDING = text(
    "INSERT INTO auth_failure AS f (client, venster, aantal, opgezocht) "
    "SELECT p.client, p.venster, p.n, 0 FROM unnest(CAST(:clients AS text[]), "
    "CAST(:vensters AS bigint[]), CAST(:ns AS integer[])) AS p(client, venster, n) "
    "ON CONFLICT (client, venster) DO UPDATE SET aantal = f.aantal + excluded.aantal"
)
#: Claim what closed windows hold beyond what was reported and write its audit rows, one per
#: address and window, in one statement; SKIP LOCKED lets workers seal at once.
SEAL = text(
    "WITH c AS (SELECT client, venster, aantal - gemeld AS nieuw FROM auth_failure "
    "           WHERE venster < :venster AND aantal > gemeld FOR UPDATE SKIP LOCKED), "
    "g AS (UPDATE auth_failure f SET gemeld = f.aantal FROM c "
    "      WHERE f.client = c.client AND f.venster = c.venster RETURNING c.client, c.venster, c.nieuw) "
    "INSERT INTO audit_log (methode, route, client, aantal, status) "
    "SELECT '*', CAST(:route AS text), g.client, g.nieuw, 401 FROM g ORDER BY g.venster, g.client"
)
#: Credentials remembered as once valid, so they are still looked up from a blocked address.
MAX_VOUCHED = 10_000
#: Windows reported in full and older than an hour are of no further use.
PRUNE = text("DELETE FROM auth_failure WHERE venster < :oud AND aantal = gemeld")


class AuthFailures:
    """``limit`` failed sign-ins per client address per ``window_s`` (0: no limit)."""

    def __init__(self, engine: Engine, limit: int, window_s: int) -> None:
        self.engine = engine
        self.limit = limit
        self.window_s = window_s
        #: Addresses over the limit in this worker, until the end of their window.
        self.blocked: dict[str, float] = {}
        #: Failures counted here but not yet in the database: (address, window) -> count.
        self.pending: dict[tuple[str, int], int] = {}
        #: Hashes of credentials that resolved to a principal in this worker.
        self.vouched: set[str] = set()

    def vouch(self, digest: str) -> None:
        """Remember credentials that resolved to a principal: from an address over the
        limit they are still looked up (a colleague behind the same NAT keeps working; a
        revoked key then fails its lookup as usual)."""
        if len(self.vouched) >= MAX_VOUCHED:
            self.vouched.clear()
        self.vouched.add(digest)

    def known(self, digest: str) -> bool:
        """Whether credentials (by their ``Credentials.digest``) resolved here before."""
        return digest in self.vouched

    def window(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(now // self.window_s) * self.window_s

    def blocked_for(self, client: str) -> float:
        """Seconds ``client`` is still refused in this worker (0: not refused). No I/O."""
        until = self.blocked.get(client)
        if until is None:
            return 0.0
        left = until - time.time()
        if left <= 0:
            del self.blocked[client]
            return 0.0
        return left

    def refused(self, client: str, digest: str) -> float:
        """Seconds to refuse credentials (by their digest) from ``client`` without a lookup,
        counting that failure; 0: look them up. An address over the limit is refused except
        for credentials this worker has seen resolve (:meth:`vouch`). No I/O: the access gate
        and the sign-in form ask this before their lookup."""
        blocked = self.blocked_for(client)
        if blocked and not self.known(digest):
            self.count(client)
            return blocked
        return 0.0

    def count(self, client: str) -> None:
        """Count a failure that took no lookup (no I/O; :meth:`seal` or the address's next
        :meth:`failed` stores it)."""
        slot = (client, self.window())
        self.pending[slot] = self.pending.get(slot, 0) + 1

    def failed(self, client: str) -> float:
        """Count one failure that took a lookup (blocking: a round trip), with those counted
        here meanwhile; the seconds to refuse the address for when its lookups are now over
        the limit, else 0."""
        venster = self.window()
        n = 1 + self.pending.pop((client, venster), 0)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            params = {"client": client, "venster": venster, "n": n, "opgezocht": 1}
            lookups = int(conn.execute(COUNT, params).scalar_one())
        if self.limit and lookups > self.limit:
            until = venster + self.window_s
            self.blocked[client] = until
            return max(until - time.time(), 1.0)
        return 0.0

    def seal(self, now: float | None = None) -> int:
        """Store the failures counted here, and write one audit row per address and closed
        window with what is not yet reported; returns the rows written. Blocking; every
        worker calls it now and then, and workers sealing at once skip each other's rows."""
        venster = self.window(now)
        pending, self.pending = self.pending, {}
        with self.engine.begin() as conn:
            if pending:
                slots = list(pending.items())
                params = {
                    "clients": [client for (client, _), _ in slots],
                    "vensters": [slot for (_, slot), _ in slots],
                    "ns": [n for _, n in slots],
                }
                conn.execute(COUNT_PENDING, params)
            written = conn.execute(SEAL, {"venster": venster, "route": ROUTE}).rowcount
            conn.execute(PRUNE, {"oud": venster - 3600})
        if written:
            log.info("%d aggregate audit rows of failed sign-ins written", written)
        return written
