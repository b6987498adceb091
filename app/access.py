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
from fastapi.concurrency import run_in_threadpool

from app import audit
from app.deps import Caller, caller_of, look_up, require_principal
from app.errors import NotFoundError, TooManyRequestsError
from app.services import Services, services_of

Toegang = Literal["open", "aangemeld", "gegevens"]
RULE_KEY = "x-toegang"


def rule(toegang: Toegang) -> dict[str, Any]:
    """``openapi_extra`` for a route: ``@router.get(..., openapi_extra=rule("gegevens"))``."""
    return {RULE_KEY: toegang}


def rule_of(route: Any) -> str | None:
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(RULE_KEY)
    return value if isinstance(value, str) else None


async def gate(request: Request) -> None:
    """Run before every API route (an app-wide dependency).

    An open route passes at once: the caller is not resolved there, so ``/healthz`` with a
    bearer header does no key lookup. Elsewhere the caller is resolved here, once for the
    whole request (:func:`app.deps.caller_of`: parsed and hashed once, kept on the request),
    and credentials that resolve to nobody count as a failed sign-in of the client address
    (:mod:`app.auth_failures`): a 401 (a 429 past the limit) without an audit row of its
    own, since the aggregate row per address accounts for it.
    """
    route = request.scope.get("route")
    toegang = rule_of(route)
    if toegang == "open":
        return
    path = getattr(route, "path", request.url.path)
    entry = audit.open_entry(request, path, data=toegang == "gegevens")
    services = services_of(request.app)
    caller = caller_of(request)
    if not caller.resolved and caller.credentials is not None:
        await _look_up(request, services, caller, entry)
    entry.principal = caller.principal
    if toegang not in ("aangemeld", "gegevens"):
        raise NotFoundError(f"geen resource op {request.url.path}")
    if caller.principal is None and caller.credentials is not None:
        entry.accounted = 401  # in the address's aggregate row
        client = client_address(request)
        if not caller.looked_up:  # the same bad key again, answered from the cache: no I/O
            services.auth_failures.count(client)
        elif wait := await run_in_threadpool(services.auth_failures.failed, client):
            entry.accounted = 429
            raise _too_many(wait, "te veel mislukte aanmeldingen vanaf dit adres")
    principal = await require_principal(caller.principal)
    limiter = services.rate_limiter
    if limiter.enabled and not limiter.take_local(principal.id):
        wait = await run_in_threadpool(limiter.take, principal.id)
        if wait:
            raise _too_many(wait, "te veel verzoeken met deze sleutel")


async def _look_up(request: Request, services: Services, caller: Caller, entry: audit.AuditEntry) -> None:
    """Look up credentials the cache did not know.

    Only lookups count toward the failed sign-in limit: they are what a client trying
    random keys makes, and what costs the database. From an address over that limit only
    credentials this worker has seen resolve before are looked up; known keys keep working
    there (a colleague behind the same NAT is not locked out).
    """
    credentials = caller.credentials
    if credentials is None:
        return
    failures = services.auth_failures
    if blocked := failures.refused(client_address(request), credentials.digest):
        entry.accounted = 429  # in the address's aggregate row
        raise _too_many(blocked, "te veel mislukte aanmeldingen vanaf dit adres")
    if await look_up(request, caller) is not None:
        failures.vouch(credentials.digest)


def client_address(request: Request) -> str:
    """The address failed sign-ins are counted for."""
    return request.client.host if request.client else "(onbekend)"


def _too_many(wait: float, why: str) -> TooManyRequestsError:
    seconds = max(1, math.ceil(wait))
    return TooManyRequestsError(
        f"{why}; probeer het over {seconds} s opnieuw", headers={"Retry-After": str(seconds)}
    )
