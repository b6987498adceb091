"""Request dependencies: the engine, the caller, and the layer the caller may see.

The caller comes from ``Authorization: Bearer <key>`` or, in a browser, from the session
cookie. The access gate (:mod:`app.access`) has already refused anonymous callers on
every non-open route; :func:`visible_layer` then decides per layer: a layer the caller may
not see answers exactly like one that does not exist (404), and a layer with data below
aggregate level needs a purpose (``doel``) from the caller's allowed list.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app import audit
from app.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from core.security import Principal, principal_for_key
from core.sessions import SESSION_COOKIE, principal_for_session
from layers import REGISTRY
from layers.base import Layer

#: Seconds a resolved key is trusted before it is looked up again (revocation latency).
PRINCIPAL_TTL = 10.0


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def current_principal(request: Request, engine: EngineDep) -> Principal | None:
    """The caller, from ``Authorization: Bearer <key>``; None when anonymous or unknown.

    The dependencies are ``async`` so FastAPI does not send each one to the thread pool; only
    a cache miss looks the key up, in a worker thread.
    """
    token, kind = _bearer(request), "sleutel"
    if token is None:
        token, kind = request.cookies.get(SESSION_COOKIE), "sessie"
        if not token:
            return None
    cache: dict[str, tuple[float, Principal | None]] = request.app.state.principal_cache
    digest = _cache_key(kind, token)
    hit = cache.get(digest)
    now = time.monotonic()
    if hit and now - hit[0] < PRINCIPAL_TTL:
        return hit[1]
    principal = await run_in_threadpool(_lookup, engine, kind, token)
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (now, principal)
    return principal


def forget_session(request: Request, session_token: str) -> None:
    """Drop a session's cached lookup at once (sign-out)."""
    request.app.state.principal_cache.pop(_cache_key("sessie", session_token), None)


def _cache_key(kind: str, token: str) -> str:
    """Keys and session tokens are cached apart, by hash only (no secret stays in memory)."""
    return hashlib.sha256(f"{kind}\0{token}".encode()).hexdigest()


def _lookup(engine: Engine, kind: str, token: str) -> Principal | None:
    with engine.connect() as conn:
        return principal_for_session(conn, token) if kind == "sessie" else principal_for_key(conn, token)


async def require_principal(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    if principal is None:
        raise UnauthorizedError(
            "aanmelden vereist: stuur een geldige API-sleutel als 'Authorization: Bearer <sleutel>'",
            headers={"WWW-Authenticate": 'Bearer realm="ondermijningskaart"'},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]


def doel_of(request: Request) -> str | None:
    """The purpose the request states: header ``X-Doel``, else parameter ``doel``."""
    value = request.headers.get("x-doel") or request.query_params.get("doel")
    return value.strip() if value and value.strip() else None


async def visible_layer(request: Request, collection_id: str, principal: PrincipalDep) -> Layer:
    """The layer, if this principal may see it; otherwise exactly like a missing one.

    A request for data below aggregate level (signals, addresses, vacancy points; not the
    layer's metadata) must state a purpose the principal is allowed: missing is a 400, not
    allowed a 403. Both are audited with the purpose given.
    """
    layer = REGISTRY.get(collection_id)
    if layer is None or not principal.can_see(layer.clearance):
        raise NotFoundError(f"collectie {collection_id!r} bestaat niet")
    entry = audit.entry_of(request)
    doel = doel_of(request)
    if entry is not None:
        entry.laag, entry.doel = layer.id, doel
    if layer.clearance != "aggregaat" and (entry is None or entry.data):
        if doel is None:
            raise BadRequestError(
                f"laag {layer.id!r} bevat gegevens op objectniveau: vermeld het doel van uw verzoek "
                f"met de header 'X-Doel' of de parameter 'doel' (toegestaan: {', '.join(principal.doelen)})"
            )
        if not principal.allows_doel(doel):
            raise ForbiddenError(
                f"doel {doel!r} is voor u niet toegestaan; "
                f"toegestaan: {', '.join(principal.doelen) or '(geen)'}"
            )
    return layer


LayerDep = Annotated[Layer, Depends(visible_layer)]
