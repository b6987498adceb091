"""Browser sign-in: an API key or a one-time link becomes a session cookie.

The key travels once, in a form body; afterwards the browser holds only a random session
token (HttpOnly, SameSite=Strict, Secure except on localhost), whose sha256 is stored. The
only URL that ever carries a secret is the one-time link, which stops working on first use,
and log lines mask it (:mod:`app.middleware`). Anonymous browsers that navigate to a page are
sent here instead of getting a 401 document; scripts still get the 401.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection, Engine

from app import audit, oidc
from app.access import client_address, rule
from app.deps import OptionalPrincipalDep
from app.errors import ForbiddenError, UnauthorizedError, problem
from app.pages import render, wants_html
from app.services import EngineDep, PrincipalCacheDep, SettingsDep, services_of
from core import sessions
from core.security import Principal, hash_key
from core.settings import Settings

router = APIRouter(tags=["Aanmelden"])
DEFAULT_NEXT = "/kaart"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _next(value: str | None) -> str:
    target = sessions.safe_next(value)
    return target if target and not target.startswith("/aanmelden") else DEFAULT_NEXT


def _signed_in(request: Request, settings: Settings, token: str, target: str) -> RedirectResponse:
    """Redirect to ``target`` with the session cookie set."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=(request.url.hostname or "") not in LOCAL_HOSTS,
    )
    return response


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another site (login CSRF).

    Browsers say where a request comes from in ``Sec-Fetch-Site``; with our
    ``Referrer-Policy: no-referrer`` their ``Origin`` on a form POST is ``null``, so Origin is
    only the fallback for clients that do not send the former.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise ForbiddenError("aanmelden of afmelden vanaf een andere website is niet toegestaan")
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ForbiddenError("aanmelden of afmelden vanaf een andere website is niet toegestaan")


def _form(
    request: Request,
    settings: Settings,
    principal: Principal | None,
    target: str,
    melding: str | None,
    status: int,
) -> Response:
    return render(
        request,
        "aanmelden.html",
        status,
        title="Aanmelden",
        principal=principal,
        volgende=target,
        melding=melding,
        uren=f"{settings.session_hours:g}",
        aanbieders=oidc.aanbieders(request),
    )


def _audited_session(conn: Connection, key_id: int, hours: float, entry: audit.AuditEntry | None) -> str:
    """A session for a key, with the audit row of the sign-in in the same transaction."""
    token = sessions.create_session(conn, key_id, hours)
    if entry is not None:
        entry.principal = sessions.principal_for_session(conn, token)
        audit.write(conn, entry, 303)
    return token


def _redeem(engine: Engine, token: str, hours: float, entry: audit.AuditEntry) -> tuple[str, str] | None:
    with engine.begin() as conn:
        redeemed = sessions.redeem_link(conn, token)
        if redeemed is None:
            return None
        key_id, target = redeemed
        return _audited_session(conn, key_id, hours, entry), target


def _sign_in(engine: Engine, key: str, hours: float, entry: audit.AuditEntry) -> str | None:
    with engine.begin() as conn:
        key_id = sessions.key_id_for(conn, key)
        return _audited_session(conn, key_id, hours, entry) if key_id is not None else None


@router.get("/aanmelden", summary="Aanmelden in de browser", openapi_extra=rule("open"))
async def aanmelden_form(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: OptionalPrincipalDep,
    token: str | None = None,
) -> Response:
    """The sign-in form; with ``token`` (a one-time link) the session starts at once."""
    target = _next(request.query_params.get("next"))
    if token:
        # A sign-in is audited like any other access; a refused link is a failed sign-in of
        # the address, counted and audited in aggregate like a wrong key (app.auth_failures):
        # guessing links is no way around the limit on guessing keys.
        entry = audit.open_entry(request, "/aanmelden", data=True)
        failures = services_of(request.app).auth_failures
        client = client_address(request)
        # A link works once, so none is ever vouched for: from an address over the limit
        # every link is refused without a lookup.
        if blocked := failures.refused(client, hash_key(token)):
            entry.accounted = 429
            return _too_many(request, settings, target, blocked)
        started = await run_in_threadpool(_redeem, engine, token, settings.session_hours, entry)
        if started is None:
            entry.accounted = 400  # in the address's aggregate row
            if wait := await run_in_threadpool(failures.failed, client):
                entry.accounted = 429
                return _too_many(request, settings, target, wait)
            return _form(
                request, settings, None, target, "Deze aanmeldlink is ongeldig, al gebruikt of verlopen. "
                "Vraag een nieuwe aan of meld u aan met uw API-sleutel.", 400,
            )  # fmt: skip
        session, link_target = started
        return _signed_in(request, settings, session, _next(link_target))
    return _form(request, settings, principal, target, None, 200)


def _too_many(request: Request, settings: Settings, target: str, wait: float) -> Response:
    """429 with ``Retry-After``: the form again for a browser, a problem for a script."""
    seconds = max(1, math.ceil(wait))
    melding = f"Te veel mislukte aanmeldingen vanaf dit adres; probeer het over {seconds} s opnieuw."
    headers = {"Retry-After": str(seconds)}
    if wants_html(request):
        response = _form(request, settings, None, target, melding, 429)
        response.headers.update(headers)
        return response
    return problem(429, melding.lower().rstrip("."), instance=request.url.path, headers=headers)


@router.post("/aanmelden", summary="Aanmelden met een API-sleutel (formulier)", openapi_extra=rule("open"))
async def aanmelden(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Exchange a key (form field ``sleutel``) for a session cookie.

    A key that resolves to nobody is a failed sign-in of the client address, limited and
    audited in aggregate like one sent as a bearer key (:mod:`app.auth_failures`): the form
    is no way around that limit. From an address over it only keys this worker has seen
    resolve are looked up; the others get a 429 with ``Retry-After`` at once.
    """
    _same_origin(request)
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), max_num_fields=10)
    key = (fields.get("sleutel") or [""])[0]
    target = _next((fields.get("next") or [""])[0])
    entry = audit.open_entry(request, "/aanmelden", data=True)
    if not key:  # nothing to look up: audited on its own, as an anonymous request is
        return _unknown_key(request, settings, target)
    failures = services_of(request.app).auth_failures
    client, digest = client_address(request), hash_key(key)
    if blocked := failures.refused(client, digest):
        entry.accounted = 429  # in the address's aggregate row
        return _too_many(request, settings, target, blocked)
    session = await run_in_threadpool(_sign_in, engine, key, settings.session_hours, entry)
    if session is None:
        entry.accounted = 401  # in the address's aggregate row
        if wait := await run_in_threadpool(failures.failed, client):
            entry.accounted = 429
            return _too_many(request, settings, target, wait)
        return _unknown_key(request, settings, target)
    failures.vouch(digest)
    return _signed_in(request, settings, session, target)


def _unknown_key(request: Request, settings: Settings, target: str) -> Response:
    melding = "Deze API-sleutel is onbekend, ingetrokken of verlopen."
    if wants_html(request):
        return _form(request, settings, None, target, melding, 401)
    return problem(401, melding.lower(), instance=request.url.path)


@router.post("/afmelden", summary="Afmelden: de sessie eindigt", openapi_extra=rule("open"))
async def afmelden(
    request: Request, engine: EngineDep, principals: PrincipalCacheDep, principal: OptionalPrincipalDep
) -> Response:
    """End this browser's session at once and drop the cookie; a session of an OpenID
    Connect sign-in continues to the provider, which ends its session too (RP-initiated
    logout). Audited as the sign-out of whoever the session was."""
    _same_origin(request)
    token = request.cookies.get(sessions.SESSION_COOKIE)
    target = "/aanmelden"
    if token:
        entry = audit.open_entry(request, "/afmelden", data=True)
        entry.principal = principal

        def end() -> str | None:
            provider_logout = oidc.logout_redirect(request, engine, token)
            with engine.begin() as conn:
                sessions.end_session(conn, token)
            return provider_logout

        provider_logout = await run_in_threadpool(end)
        target = provider_logout or target
        # The principal lookup is cached per token for a few seconds; forget it here so
        # this worker refuses the ended session at once.
        principals.forget("sessie", token)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(
        sessions.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=(request.url.hostname or "") not in LOCAL_HOSTS,
    )
    return response


def install(app: FastAPI) -> None:
    """Send anonymous browsers that open a page to the sign-in form (303) instead of a 401.

    Only GETs that ask for HTML and carry no Authorization header; everything else keeps the
    problem document. The access rule is unchanged: no data is served either way.
    """

    @app.exception_handler(UnauthorizedError)
    async def _unauthorized(request: Request, exc: UnauthorizedError) -> Response:
        if request.method == "GET" and wants_html(request) and "authorization" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/aanmelden?" + urlencode({"next": target}), status_code=303)
        response: JSONResponse = problem(
            exc.status, exc.detail, title=exc.title, instance=request.url.path, headers=exc.headers
        )
        return response
