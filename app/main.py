"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from app import db, errors
from app.dataversion import DataVersions
from app.routers import gebieden, health, ogc, tiles
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; tests pass their own settings and engine."""
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    owns_engine = engine is None
    engine = engine or db.api_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
        docs_url="/api.html",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.versions = DataVersions(engine)
    app.state.principal_cache = {}
    errors.install(app)
    app.include_router(health.router)
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(gebieden.router)
    return app
