"""Signing in with OpenID Connect: the authorization code flow with PKCE, state and nonce.

``GET /aanmelden/oidc/{aanbieder}`` keeps a fresh state, nonce and PKCE verifier in the
database (``oidc_aanmelding``), binds the state to this browser with a short-lived cookie,
and sends the browser to the provider. The provider sends it back to
``/aanmelden/oidc/terug``: the state must be this browser's and unused (one UPDATE spends it,
so a replay fails), the code is exchanged with the verifier, the ID token is validated
(:mod:`app.tokens`: signature, issuer, audience, expiry, nonce), and the claims mapping
(:mod:`core.claims`) picks the profile. Only then does a session start, ending with the
token (:mod:`core.sessions`). Every sign-in, refusal and sign-out gets an audit row
(:mod:`app.audit`), the refusals with the person's identity as far as it is known.

The session cookie is ``SameSite=Strict``, and a browser does not send such a cookie on the
redirect chain that began at the provider's site; so the return answers with a small page
that moves on to the target from our own origin.

Also here: refreshing a session whose token ran out (a closed account is refused by the
provider and loses access there), the principal of a provider-issued access token that a
script sends, the provider's back-channel logout, and RP-initiated logout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import Engine

from app import audit
from app.access import rule
from app.errors import NotFoundError
from app.oidc_principal import SignInRefusedError, decide
from app.pages import render
from app.services import services_of
from app.tokens import TokenError
from core import sessions
from core.security import Principal
from core.settings import Settings

log = logging.getLogger("okaart.oidc")
router = APIRouter(tags=["Aanmelden"])

#: Binds a sign-in's state to the browser that started it (login CSRF); Lax, because the
#: provider's redirect back is a cross-site navigation.
STATE_COOKIE = "okaart_oidc_state"
CALLBACK = "/aanmelden/oidc/terug"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


def base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _secure(request: Request) -> bool:
    return (request.url.hostname or "") not in LOCAL_HOSTS


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class SignedIn:
    token: str
    target: str
    principal: Principal


def _finish(request: Request, code: str | None, state: str, entry: audit.AuditEntry) -> SignedIn:
    """Everything after the provider's return, or a :class:`SignInRefusedError` saying why."""
    services = services_of(request.app)
    engine, settings = services.engine, services.settings
    with engine.begin() as conn:
        started = sessions.redeem_oidc_start(conn, state)
    if started is None:
        raise SignInRefusedError("Deze aanmelding is ongeldig, al gebruikt of verlopen. Begin opnieuw.", 400)
    client = services.providers.get(started["provider"])
    if client is None or not code:
        raise SignInRefusedError("De aanmeldaanbieder gaf geen code terug. Begin opnieuw.", 400)
    try:
        answer = client.exchange_code(code, started["code_verifier"], base_url(request, settings) + CALLBACK)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise TokenError("de aanmeldaanbieder gaf geen ID-token")
        claims = client.validate_id_token(id_token, nonce=started["nonce"])
    except TokenError as exc:
        raise SignInRefusedError(f"Aanmelden geweigerd: {exc}.", 401) from exc
    wie = f"{client.naam}:{claims['sub']}"
    entry.object_ids = [audit.cut(wie) or ""]
    besluit, principal_id, mfa = decide(engine, settings.toegang, client, claims)
    now = datetime.now(UTC)
    refresh = answer.get("refresh_token") if client.config.ververs else None
    with engine.begin() as conn:
        token = sessions.create_oidc_session(
            conn,
            principal_id=principal_id,
            persoon=besluit.gelezen.naam,
            tweede_factor=mfa,
            provider=client.naam,
            sub=str(claims["sub"]),
            sid=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
            claims={**besluit.gelezen.as_dict(), "amr": claims.get("amr"), "acr": claims.get("acr")},
            id_token=id_token,
            refresh_token=refresh if isinstance(refresh, str) else None,
            verloopt_op=datetime.fromtimestamp(int(claims["exp"]), UTC),
            ververs_tot=now + timedelta(hours=settings.session_hours),
        )
        found = sessions.principal_for_session(conn, token)
        assert found is not None  # just created, in this transaction
        entry.principal = found
        audit.write(conn, entry, 200)
    return SignedIn(token, started["volgende"], found)


@router.get(CALLBACK, summary="Terugkeer van de identiteitsaanbieder", openapi_extra=rule("open"))
async def terug(
    request: Request, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    """The provider's answer: a session, or a page that says why not (both audited)."""
    settings = services_of(request.app).settings
    entry = audit.open_entry(request, CALLBACK, data=True)
    try:
        if error is not None:
            shown = error if _ERROR_CODE.match(error) else "onbekende fout"
            raise SignInRefusedError(f"De aanmeldaanbieder meldt: {shown}.", 401)
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not state or not cookie or not hmac.compare_digest(cookie, state):
            raise SignInRefusedError("Deze aanmelding is niet in deze browser begonnen. Begin opnieuw.", 400)
        done = await run_in_threadpool(_finish, request, code, state, entry)
    except SignInRefusedError as refused:
        if refused.wie and not entry.object_ids:
            entry.object_ids = [audit.cut(refused.wie) or ""]
        log.info("OIDC sign-in refused: %s", refused.reden)
        response = render(
            request, "aanmelden.html", refused.status, title="Aanmelden", melding=refused.reden,
            volgende="/kaart", aanbieders=aanbieders(request), principal=None,
            uren=f"{settings.session_hours:g}",
        )  # fmt: skip
        response.delete_cookie(STATE_COOKIE, path="/aanmelden/oidc")
        return response
    response = render(request, "doorsturen.html", 200, title="Aangemeld", volgende=done.target)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        done.token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(STATE_COOKIE, path="/aanmelden/oidc")
    return response


# After the return route: ``/aanmelden/oidc/terug`` is not a provider's name.
@router.get(
    "/aanmelden/oidc/{aanbieder}",
    summary="Aanmelden bij een identiteitsaanbieder",
    openapi_extra=rule("open"),
)
async def start(request: Request, aanbieder: str) -> Response:
    """Send the browser to the provider's sign-in, with state, nonce and a PKCE challenge."""
    services = services_of(request.app)
    client = services.providers.get(aanbieder)
    if client is None:
        raise NotFoundError(f"geen aanmeldaanbieder {aanbieder!r}")
    target = sessions.safe_next(request.query_params.get("next")) or "/kaart"
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)

    def begin() -> str:
        endpoint = client.endpoints().authorization
        with services.engine.begin() as conn:
            sessions.start_oidc(
                conn, state=state, provider=client.naam, nonce=nonce, code_verifier=verifier, volgende=target
            )
        return endpoint

    try:
        endpoint = await run_in_threadpool(begin)
    except TokenError as exc:
        return render(
            request, "aanmelden.html", 503, title="Aanmelden", melding=f"Aanmelden lukt nu niet: {exc}.",
            volgende=target, aanbieders=aanbieders(request), principal=None,
            uren=f"{services.settings.session_hours:g}",
        )  # fmt: skip
    query = {
        "response_type": "code",
        "client_id": client.config.client_id,
        "redirect_uri": base_url(request, services.settings) + CALLBACK,
        "scope": " ".join(client.config.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=sessions.OIDC_START_MINUTES * 60,
        path="/aanmelden/oidc",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.post(
    "/aanmelden/oidc/{aanbieder}/backchannel",
    summary="Afmelden door de identiteitsaanbieder (back-channel logout)",
    openapi_extra=rule("open"),
)
async def backchannel(request: Request, aanbieder: str) -> Response:
    """The provider ends a session (OpenID Connect Back-Channel Logout): every session here
    that belongs to it ends at once."""
    services = services_of(request.app)
    client = services.providers.get(aanbieder)
    entry = audit.open_entry(request, "/aanmelden/oidc/{aanbieder}/backchannel", data=True)
    if client is None:
        raise NotFoundError(f"geen aanmeldaanbieder {aanbieder!r}")
    body = (await request.body()).decode("utf-8", errors="replace")
    token = (parse_qs(body, max_num_fields=5).get("logout_token") or [""])[0]

    def end() -> list[str]:
        found = client.validate_logout_token(token)
        sid = found.get("sid") if isinstance(found.get("sid"), str) else None
        sub = found.get("sub") if isinstance(found.get("sub"), str) else None
        entry.object_ids = [audit.cut(f"{client.naam}:{sub or sid}") or ""]
        with services.engine.begin() as conn:
            return sessions.end_sessions_of(conn, client.naam, sid=sid, sub=sub)

    try:
        ended = await run_in_threadpool(end)
    except TokenError as exc:
        log.info("back-channel logout refused: %s", exc)
        return PlainTextResponse(str(exc), status_code=400, headers={"Cache-Control": "no-store"})
    # Cached lookups of the ended sessions must not outlive them in this worker.
    services.principals.clear()
    entry.aantal = len(ended)
    return PlainTextResponse("", status_code=200, headers={"Cache-Control": "no-store"})


def logout_redirect(request: Request, engine: Engine, token: str) -> str | None:
    """Where to send the browser so the provider's session ends too (RP-initiated logout),
    for an OpenID Connect session; None for a key session."""
    services = services_of(request.app)
    with engine.connect() as conn:
        row = sessions.oidc_of_session(conn, token)
    if row is None:
        return None
    client = services.providers.get(row["oidc_provider"])
    if client is None:
        return None
    try:
        endpoint = client.endpoints().end_session
    except TokenError:
        return None
    if endpoint is None:
        return None
    query = {
        "client_id": client.config.client_id,
        "post_logout_redirect_uri": base_url(request, services.settings) + "/aanmelden",
    }
    if row["oidc_id_token"]:
        query["id_token_hint"] = row["oidc_id_token"]
    return f"{endpoint}?{urlencode(query)}"


def aanbieders(request: Request) -> list[tuple[str, str]]:
    """(name, button title) of each configured provider, for the sign-in page."""
    return [(c.naam, c.config.titel) for c in services_of(request.app).providers.by_name.values()]
