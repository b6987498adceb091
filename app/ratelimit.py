"""The per-key rate limit, shared by every worker and app replica through PostgreSQL.

Each key has one token bucket in the database (``rate_bucket``, migration 0017): refilled at
``per_minute / 60`` tokens a second up to ``burst``. A worker takes tokens with one call of
``rate_take`` (one round trip and one write of the bucket row: refill and take are one
``INSERT ... ON CONFLICT DO UPDATE``, migration 0022; the row is locked only inside that
statement), and takes up to ``lease`` at once, spending them locally over the next
:data:`LEASE_SECONDS`. Tokens a worker holds are gone from the shared bucket, so all workers
together never exceed the key's rate: a key gets its rate once, however many processes serve
it. ``lease`` trades round trips for fairness between workers (1: one round trip per
request, exact).

Buckets are keyed by the key and the configured limit, so a changed limit starts with a full
bucket instead of inheriting a bucket sized for another limit. The bucket table is UNLOGGED:
a database crash only refills every bucket. PostgreSQL is the only shared store: Redis would
save one round trip per ``lease`` requests and add a service to run and secure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

#: Seconds a worker may spend tokens it took; unused ones lapse (a client that moved on).
LEASE_SECONDS = 1.0

TAKE = text("SELECT gegeven, wacht FROM rate_take(:sleutel, :rate, :burst, :wil)")


@dataclass
class Lease:
    tokens: int
    until: float


class RateLimiter:
    """A token bucket per principal: ``per_minute`` sustained, bursts up to ``burst``."""

    def __init__(self, engine: Engine, per_minute: int, burst: int, lease: int = 10) -> None:
        self.engine = engine
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = burst
        self.lease = max(1, min(lease, burst))
        self.leases: dict[int, Lease] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take_local(self, key: int) -> bool:
        """Spend a token this worker holds for ``key``; False when it must ask the database.

        Runs on the event loop (no I/O), so most requests pay nothing for the shared limit.
        """
        held = self.leases.get(key)
        if held is None or held.tokens <= 0 or held.until < time.monotonic():
            return False
        held.tokens -= 1
        return True

    def take(self, key: int) -> float:
        """0 when allowed, otherwise the seconds until the next request is allowed.

        Blocking (a database round trip when no local token is left): call it in a thread.
        """
        if not self.enabled or self.take_local(key):
            return 0.0
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(
                TAKE,
                {
                    "sleutel": f"{key}:{self.per_minute}:{self.burst}",
                    "rate": self.rate,
                    "burst": float(self.burst),
                    "wil": self.lease,
                },
            ).one()
        granted, wait = int(row.gegeven), float(row.wacht)
        if granted <= 0:
            return max(wait, 0.001)
        self.leases[key] = Lease(granted - 1, time.monotonic() + LEASE_SECONDS)
        if len(self.leases) > 10_000:  # many keys at once: forget lapsed leases
            now = time.monotonic()
            self.leases = {k: v for k, v in self.leases.items() if v.until >= now}
        return 0.0
