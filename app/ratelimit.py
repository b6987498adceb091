"""The per-key rate limit: a token bucket per principal, kept in the worker's memory."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per principal: ``per_minute`` sustained, bursts up to ``burst``.

    Kept in process: with N workers a key gets N times the rate, which the settings
    document; it protects the database from one runaway client, not a distributed attack.
    """

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.buckets: dict[int, Bucket] = {}

    def take(self, key: int) -> float:
        """0 when allowed, otherwise the seconds until the next request is allowed."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
