"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from app import background, errors, looplag, oidc, outage
from app.access import gate
from app.admission import AdmissionMiddleware, ArrivalMiddleware
from app.audit import AuditMiddleware
from app.metrics import MetricsMiddleware, PoolWatch
from app.middleware import (
    BodyLimitMiddleware,
    LivenessMiddleware,
    NulByteMiddleware,
    SecurityHeadersMiddleware,
    install_log_redaction,
)
from app.routers import aanmelden, apidocs, gebieden, health, kaart, ogc, selectie, tijd, tiles
from app.routers import afdruk as afdruk_route
from app.routers import metrics as metrics_route
from app.services import Services, services_of
from core import db
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; tests pass their own settings and engine."""
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    install_log_redaction()
    outage.install()
    owns_engine = engine is None
    engine = engine or db.api_engine(settings)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        # The startup heap frozen and the loop watched (app/looplag.py); shared state: the
        # revocation listener and the sealer of failed sign-ins.
        reads = services_of(served).async_reads
        if reads is not None:
            await reads.open()
        async with looplag.watching(), background.running(services_of(served)):
            yield
        if reads is not None:
            await reads.close()
        services_of(served).audit_batch.stop()  # after the rows already handed to it
        replicas = services_of(served).replicas
        if replicas is not None:
            replicas.dispose()  # the replicas' pools are the app's own
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="Ondermijningskaart",
        description=(
            "Kaartlagen over ondermijning per bedrijventerrein, buitengebied en buurt/wijk: "
            "OGC API Features en Tiles."
        ),
        version="0.1.0",
        openapi_url="/api",
        # /api.html is app/routers/apidocs.py: Swagger UI from /static, not from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry looked for a global provider on every request (2 % of
        # a cached tile's CPU) to find none: the service's metrics are Prometheus (/metrics).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Every route passes the access gate first; see app/access.py.
        dependencies=[Depends(gate)],
    )
    # The one thing kept in app.state: routes take its parts as dependencies (app/services.py).
    app.state.services = Services.build(settings, engine)
    errors.install(app)
    # The single tile first: the busiest route by far (a map asks dozens at once), and matching
    # is a walk down the route list; its path shape (seven segments under /collections/{id}/tiles)
    # is no other route's, so its place changes nothing else.
    app.include_router(tiles.tile_router)
    app.include_router(health.router)
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(gebieden.router)
    app.include_router(selectie.router)
    app.include_router(kaart.router)
    app.include_router(afdruk_route.router)
    app.include_router(tijd.router)
    app.include_router(aanmelden.router)
    app.include_router(oidc.router)
    app.include_router(apidocs.router)
    app.include_router(metrics_route.router_for(PoolWatch(engine)))
    aanmelden.install(app)
    # Scripts and stylesheets of the map pages (the CSP allows no other origin for them).
    app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"), name="static")

    def engine_of(_scope: Any) -> Engine:
        return engine

    # Outermost last: body cap first, then headers on every answer, then the audit hold.
    app.add_middleware(AuditMiddleware, engine_of=engine_of)
    app.add_middleware(NulByteMiddleware)  # inside the security headers, so its 400 gets them too
    # A slot before any database work; its fast 503s get the security headers too.
    app.add_middleware(AdmissionMiddleware, admission=app.state.services.admission)
    app.add_middleware(
        SecurityHeadersMiddleware,
        basemap_origin=_origin(settings.basemap_url),
        form_origins=tuple(_origin(p.issuer) for p in settings.oidc_providers),
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)  # counts refusals too
    app.add_middleware(ArrivalMiddleware)  # admission's wait counts from here
    app.add_middleware(LivenessMiddleware)  # outermost: /healthz waits for nothing else
    return app


def _origin(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
