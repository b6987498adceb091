"""The access gate: one decision in front of every route, failing closed.

Every route declares its rule in its OpenAPI operation (``x-toegang``, so the published API
document says it too):

* ``open``: anyone (landing page, conformance, health, sign-in);
* ``aangemeld``: a signed-in principal; metadata only (collections, TileJSON); audited when
  denied;
* ``gegevens``: a signed-in principal; serves data; every answer is audited.

A route without a rule answers like a route that does not exist, so forgetting the rule
can never publish data. What a principal may see inside a route (layer clearance, data
class, covenant, municipality, purpose) is decided by :mod:`app.deps` and in SQL by
:mod:`app.layer_sql`; the gate adds the per-key rate limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request

from app import audit
from app.deps import current_principal, require_principal
from app.errors import NotFoundError, TooManyRequestsError
from core.security import Principal

Toegang = Literal["open", "aangemeld", "gegevens"]
RULE_KEY = "x-toegang"


def rule(toegang: Toegang) -> dict[str, Any]:
    """``openapi_extra`` for a route: ``@router.get(..., openapi_extra=rule("gegevens"))``."""
    return {RULE_KEY: toegang}


def rule_of(route: Any) -> str | None:
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(RULE_KEY)
    return value if isinstance(value, str) else None


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


async def gate(request: Request, principal: Annotated[Principal | None, Depends(current_principal)]) -> None:
    """Run before every API route (an app-wide dependency)."""
    route = request.scope.get("route")
    toegang = rule_of(route)
    if toegang == "open":
        return
    path = getattr(route, "path", request.url.path)
    entry = audit.open_entry(request, path, data=toegang == "gegevens")
    entry.principal = principal
    if toegang not in ("aangemeld", "gegevens"):
        raise NotFoundError(f"geen resource op {request.url.path}")
    principal = await require_principal(principal)
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(principal.id)
    if wait:
        raise TooManyRequestsError(
            f"te veel verzoeken met deze sleutel; probeer het over {math.ceil(wait)} s opnieuw",
            headers={"Retry-After": str(math.ceil(wait))},
        )
