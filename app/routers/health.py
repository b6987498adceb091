"""Liveness and readiness: for load balancers, orchestrators and the demo's start-up check.

An orchestrator probes liveness with ``/healthz`` (restart the process when it fails) and
readiness with ``/readyz`` (send traffic only when it passes). ``/healthz`` is an ``async``
route that touches nothing: no database, no thread pool, no admission slot, no key lookup
(the access gate returns on an open route before resolving the caller), so it answers at
once while the database is down or every connection is busy. ``/readyz`` asks the database.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.access import rule
from app.errors import problem
from app.services import EngineDep
from core import db

router = APIRouter(tags=["Beheer"])


@router.get("/healthz", summary="Het proces leeft", openapi_extra=rule("open"))
async def healthz() -> dict[str, str]:
    """Liveness only: no database round trip, so a slow database does not kill the pod."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Klaar voor verkeer: database bereikbaar en schema actueel",
    responses={503: {"description": "Niet klaar", "content": {"application/problem+json": {}}}},
    openapi_extra=rule("open"),
)
def readyz(engine: EngineDep) -> Any:
    """Ready when the database answers and its schema is at the code's newest migration."""
    try:
        db.ping(engine)
    except Exception:  # readiness must answer, whatever the database does
        return problem(503, "de database is niet bereikbaar")
    head = db.head_revision()
    try:
        current = db.current_revision(engine)
    except Exception:  # no version table, or the api role may not read it: not migrated
        current = None
    if current != head:
        return problem(503, f"databaseschema staat op {current}, de code verwacht {head}")
    return JSONResponse({"status": "ok", "database": "ok", "schema": current})
