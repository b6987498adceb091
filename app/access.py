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
:mod:`app.layer_sql`; the gate adds the per-key rate limit (:mod:`app.ratelimit`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi import Request

from app import audit
from app.deps import OptionalPrincipalDep, require_principal
from app.errors import NotFoundError, TooManyRequestsError
from app.services import services_of

Toegang = Literal["open", "aangemeld", "gegevens"]
RULE_KEY = "x-toegang"


def rule(toegang: Toegang) -> dict[str, Any]:
    """``openapi_extra`` for a route: ``@router.get(..., openapi_extra=rule("gegevens"))``."""
    return {RULE_KEY: toegang}


def rule_of(route: Any) -> str | None:
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(RULE_KEY)
    return value if isinstance(value, str) else None


async def gate(request: Request, principal: OptionalPrincipalDep) -> None:
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
    wait = services_of(request.app).rate_limiter.take(principal.id)
    if wait:
        raise TooManyRequestsError(
            f"te veel verzoeken met deze sleutel; probeer het over {math.ceil(wait)} s opnieuw",
            headers={"Retry-After": str(math.ceil(wait))},
        )
