"""One error hierarchy, one handler: RFC 9457 ``application/problem+json``.

Each error class carries its HTTP status and a Dutch title for the user; the detail is
what the client can act on. Only server errors are logged with a traceback, and the
client never sees one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import outage

log = logging.getLogger("okaart.errors")

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Base of all errors that become a problem document."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Interne fout"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequestError(ProblemError):
    status = 400
    title = "Ongeldig verzoek"


class UnauthorizedError(ProblemError):
    status = 401
    title = "Niet aangemeld"


class ForbiddenError(ProblemError):
    status = 403
    title = "Geen toegang"


class NotFoundError(ProblemError):
    status = 404
    title = "Niet gevonden"


class NotAcceptableError(ProblemError):
    status = 406
    title = "Formaat niet beschikbaar"


class TooManyRequestsError(ProblemError):
    status = 429
    title = "Te veel verzoeken"


class UnavailableError(ProblemError):
    status = 503
    title = "Tijdelijk niet beschikbaar"


_STATUS_TITLES = {
    400: BadRequestError.title,
    401: UnauthorizedError.title,
    403: ForbiddenError.title,
    404: NotFoundError.title,
    405: "Methode niet toegestaan",
    406: NotAcceptableError.title,
    413: "Verzoek te groot",
    422: "Ongeldige parameters",
    429: TooManyRequestsError.title,
    503: UnavailableError.title,
}


def choose(value: str, allowed: Iterable[str], what: str) -> str:
    """``value`` when it is one of ``allowed``; else a 400 that lists the choices."""
    options = list(allowed)
    if value not in options:
        raise BadRequestError(f"{what} {value!r} bestaat niet; kies uit {', '.join(options)}")
    return value


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _STATUS_TITLES.get(status, "Fout"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        errors.append({"parameter": loc, "message": str(err.get("msg", ""))})
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors) or "ongeldige invoer"
    return detail, errors


def install(app: FastAPI) -> None:
    """Register the handlers once on the app."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.detail)
        return problem(
            exc.status,
            exc.detail,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "fout in het verzoek"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"geen resource op {request.url.path}"
        elif exc.status_code == 405:
            detail = f"methode {request.method} is niet toegestaan op {request.url.path}"
        return problem(exc.status_code, detail, instance=request.url.path, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem(400, detail, instance=request.url.path, errors=errors)

    @app.exception_handler(PoolTimeoutError)
    async def _pool(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        outage.POOL_EXHAUSTED.report(request.url.path)
        return problem(
            503,
            "alle databaseverbindingen zijn bezet; probeer het zo opnieuw",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        cancelled = "canceling statement due to statement timeout" in str(exc.orig)
        if cancelled:
            outage.STATEMENT_TIMEOUT.report(request.url.path)
            detail = "de database deed te lang over dit verzoek; verklein het gebied of de pagina"
        else:
            # One line a minute with a count, not a traceback per request (app/outage.py).
            outage.DATABASE_DOWN.report(f"{request.url.path}: {exc.orig}")
            detail = "de database is niet bereikbaar"
        return problem(503, detail, instance=request.url.path, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "er ging iets mis aan onze kant; de fout is gelogd", instance=request.url.path)
