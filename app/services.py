"""The service's long-lived parts, built once by ``create_app`` and handed to routes as
typed dependencies (``engine: EngineDep``) instead of being looked up in ``app.state``.

A route's signature then says what it uses, mypy checks it, and a test can build the app
with its own settings and engine and reach the same objects through :func:`services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.applications import Starlette

from app import audit_batch as batching  # a module: app.audit_batch's imports reach this one
from app.admission import Admission
from app.async_reads import AsyncReads
from app.auth_failures import AuthFailures
from app.dataversion import DataVersions
from app.extents import Extents
from app.principal_cache import PrincipalCache
from app.ratelimit import RateLimiter
from app.tilecache import TileCache
from app.tokens import Providers
from core.replica import ReplicaSet
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    #: Connections of the read-only api role.
    engine: Engine
    #: Data versions of the layers, for ETags.
    versions: DataVersions
    tile_cache: TileCache
    rate_limiter: RateLimiter
    #: Failed sign-ins per client address (app/auth_failures.py).
    auth_failures: AuthFailures
    #: Requests doing database work at once, and those waiting (app/admission.py).
    admission: Admission
    principals: PrincipalCache
    extents: Extents
    #: The OpenID Connect providers people and scripts sign in with (app/oidc.py).
    providers: Providers
    #: Commits audit rows of answers served without a read of their own, many in one
    #: statement (app/audit_batch.py): cached tiles, reads on a replica.
    audit_batch: batching.AuditBatch
    #: Streaming replicas the audited reads may go to (app/replica_reads.py); None: none.
    replicas: ReplicaSet | None = None
    #: Async connections for the early paths' reads (app/async_reads.py); None: the engine's.
    async_reads: AsyncReads | None = None

    def reads_now(self) -> AsyncReads | None:
        """The async connections, when this request may use them: opened on the running
        loop, and no replica to read from (reads on a replica go through the engine's way,
        app/replica_reads.py)."""
        reads = self.async_reads
        return reads if reads is not None and self.replicas is None and reads.usable() else None

    @classmethod
    def build(cls, settings: Settings, engine: Engine) -> Services:
        versions = DataVersions(engine)
        return cls(
            settings=settings,
            engine=engine,
            versions=versions,
            tile_cache=TileCache(settings.tile_cache_mb * 1024 * 1024),
            rate_limiter=RateLimiter(
                engine, settings.rate_limit_per_minute, settings.rate_limit_burst, settings.rate_limit_lease
            ),
            auth_failures=AuthFailures(
                engine, settings.auth_failures_per_window, settings.auth_failure_window_s
            ),
            admission=Admission(
                settings.slots_per_worker(),
                settings.admission_queue,
                settings.admission_wait_s,
                settings.admission_tile_queue,
            ),
            principals=PrincipalCache(),
            extents=Extents(engine, versions),
            providers=Providers(settings.oidc_providers),
            audit_batch=batching.AuditBatch(engine),
            replicas=ReplicaSet.from_settings(settings, engine),
            async_reads=AsyncReads.for_engine(engine, settings),
        )


def services_of(app: Starlette) -> Services:
    """The services of an app made by ``create_app``."""
    services: Services = app.state.services
    return services


# Each dependency reads the app directly, not through a shared ``Services`` dependency:
# FastAPI solves a dependency's own dependencies at every place it is used. They are
# ``async`` so FastAPI calls them on the event loop, without a thread hop. The hot routes
# (tiles, items) take ``ServicesDep`` whole, one dependency for all they use; the access
# gate and the caller's lookup, which run on every request, use :func:`services_of`.
async def get_services(request: Request) -> Services:
    return services_of(request.app)


async def get_settings(request: Request) -> Settings:
    return services_of(request.app).settings


async def get_engine(request: Request) -> Engine:
    return services_of(request.app).engine


async def get_principal_cache(request: Request) -> PrincipalCache:
    return services_of(request.app).principals


async def get_extents(request: Request) -> Extents:
    return services_of(request.app).extents


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PrincipalCacheDep = Annotated[PrincipalCache, Depends(get_principal_cache)]
ExtentsDep = Annotated[Extents, Depends(get_extents)]
