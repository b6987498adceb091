"""``/metrics`` for Prometheus: only for an operator (role ``beheerder``) or a scrape from
the machine itself (a loopback client address); everyone else gets the 404 of a route that
does not exist. Not in the API document: it is no part of the API.

"Loopback" is the address uvicorn reports: behind a reverse proxy on the same machine,
uvicorn takes the client from ``X-Forwarded-For`` only when the proxy is trusted
(``--forwarded-allow-ips``, by default 127.0.0.1), so a proxied caller is not loopback.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access import rule
from app.deps import OptionalPrincipalDep
from app.errors import NotFoundError
from app.metrics import PoolWatch, exposition

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def router_for(pool: PoolWatch) -> APIRouter:
    router = APIRouter()

    # "open" for the gate (no audit row, no rate limit for the scraper); the check is here.
    @router.get("/metrics", include_in_schema=False, openapi_extra=rule("open"))
    def metrics(request: Request, principal: OptionalPrincipalDep) -> Response:
        operator = principal is not None and principal.rol == "beheerder"
        if not (operator or _loopback(request)):
            raise NotFoundError(f"geen resource op {request.url.path}")
        return Response(exposition(pool), media_type=CONTENT_TYPE)

    return router
