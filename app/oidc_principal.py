"""Who a person or script signed in with OpenID Connect is: their profile's principal.

The decision shared by a sign-in (app/oidc.py), a session refresh and a script's bearer
token: the claims mapping (:mod:`core.claims`) picks a profile, the profile must be loaded
as written, and the token's ``acr``/``amr`` say whether there was a second factor. Kept
apart from the routes so the request dependencies (app/deps.py) can use it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from app.tokens import ProviderClient, Providers, TokenError
from core import claims as claims_mapping
from core import sessions
from core.security import PRINCIPAL_COLUMNS, Principal, principal_from_row
from core.tables import principal

log = logging.getLogger("okaart.oidc")


class SignInRefusedError(Exception):
    """A sign-in that does not go through: the Dutch reason, the status, who (if known)."""

    def __init__(self, reden: str, status: int = 403, wie: str | None = None) -> None:
        super().__init__(reden)
        self.reden, self.status, self.wie = reden, status, wie


def decide(
    engine: Engine, mapping: Path | None, client: ProviderClient, claims: dict[str, Any]
) -> tuple[claims_mapping.Besluit, int, bool]:
    """The mapping's decision, the loaded profile's principal id, and the second factor."""
    try:
        toegang = claims_mapping.current(mapping)
    except claims_mapping.ToegangError as exc:
        log.error("claims mapping unusable: %s", exc)
        raise SignInRefusedError(
            "De toegangsregels zijn nu niet te lezen; probeer het later opnieuw.", 503
        ) from exc
    besluit = toegang.decide(claims)
    if besluit.profiel is None:
        raise SignInRefusedError(f"Geen toegang: {besluit.reden}.", 403, besluit.gelezen.naam)
    with engine.connect() as conn:
        principal_id = claims_mapping.profile_principal_id(conn, besluit.profiel)
    if principal_id is None:
        raise SignInRefusedError(
            f"Geen toegang: profiel {besluit.profiel.naam!r} is nog niet geladen (okaart toegang laad).",
            403,
            besluit.gelezen.naam,
        )
    mfa, _ = claims_mapping.tweede_factor(claims, client.config.mfa_acr)
    return besluit, principal_id, mfa


def refresh_session(
    engine: Engine, providers: Providers, mapping: Path | None, token: str
) -> Principal | None:
    """Renew an OpenID Connect session whose token ran out, if its provider gave a refresh
    token and the session may still live; a refusal (a closed or disabled account, a person
    who lost every mapped group) ends the session. Runs in a worker thread."""
    with engine.begin() as conn:
        due = sessions.oidc_session_due(conn, token)
        if due is None:
            return None
        if due["levend"]:
            return sessions.principal_for_session(conn, token)  # another request just renewed it
        client = providers.get(due["oidc_provider"])
        try:
            if client is None:
                raise TokenError("de aanmeldaanbieder is niet meer ingesteld")
            answer = client.refresh(due["oidc_ververs"])
            id_token = answer.get("id_token")
            if isinstance(id_token, str):
                claims = client.validate_id_token(id_token, nonce=None, sub=due["oidc_sub"])
            else:
                raise TokenError("de vernieuwing gaf geen ID-token")
            besluit, principal_id, mfa = decide(engine, mapping, client, claims)
        except (TokenError, SignInRefusedError) as exc:
            log.info("OIDC session refresh refused, session ended: %s", exc)
            sessions.end_session_by_id(conn, due["id"])
            return None
        new_refresh = answer.get("refresh_token")
        sessions.refreshed(
            conn,
            due["id"],
            principal_id=principal_id,
            tweede_factor=mfa,
            claims={**besluit.gelezen.as_dict(), "amr": claims.get("amr"), "acr": claims.get("acr")},
            id_token=id_token,
            refresh_token=new_refresh if isinstance(new_refresh, str) else due["oidc_ververs"],
            verloopt_op=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
        return sessions.principal_for_session(conn, token)


def principal_for_access_token(
    engine: Engine, providers: Providers, mapping: Path | None, token: str
) -> Principal | None:
    """The principal of a provider-issued access token a script sends (a JWT validated
    against the provider's keys and this service's audience), as that person's profile;
    None when refused (the reason goes to the log)."""
    try:
        client = providers.for_access_token(token)
        claims = client.validate_access_token(token)
        besluit, principal_id, mfa = decide(engine, mapping, client, claims)
    except (TokenError, SignInRefusedError) as exc:
        log.info("bearer token refused: %s", exc)
        return None
    with engine.connect() as conn:
        row = conn.execute(select(*PRINCIPAL_COLUMNS).where(principal.c.id == principal_id)).mappings().one()
    return replace(principal_from_row(row), naam=besluit.gelezen.naam, tweede_factor=mfa)
