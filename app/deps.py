"""Request dependencies: the engine, the caller, and the layer the caller may see.

Every data route depends on :func:`visible_layer` (or :func:`require_principal`), so no
endpoint is born open: without a key the answer is 401, and a layer the caller may not see
answers exactly like one that does not exist (404).
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.errors import NotFoundError, UnauthorizedError
from app.security import Principal, principal_for_key
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
    key = _bearer(request)
    if key is None:
        return None
    cache: dict[str, tuple[float, Principal | None]] = request.app.state.principal_cache
    digest = hashlib.sha256(key.encode()).hexdigest()
    hit = cache.get(digest)
    now = time.monotonic()
    if hit and now - hit[0] < PRINCIPAL_TTL:
        return hit[1]
    principal = await run_in_threadpool(_lookup, engine, key)
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (now, principal)
    return principal


def _lookup(engine: Engine, key: str) -> Principal | None:
    with engine.connect() as conn:
        return principal_for_key(conn, key)


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


async def visible_layer(collection_id: str, principal: PrincipalDep) -> Layer:
    """The layer, if this principal may see it; otherwise exactly like a missing one."""
    layer = REGISTRY.get(collection_id)
    if layer is None or not principal.can_see(layer.clearance):
        raise NotFoundError(f"collectie {collection_id!r} bestaat niet")
    return layer


LayerDep = Annotated[Layer, Depends(visible_layer)]
