"""Browser sessions: a cookie that stands for an API key, or for a person signed in with
OpenID Connect, without any secret of theirs in the browser.

Only the sha256 of a session token is stored; a session ends when it expires, when the
user signs out, or when its key is revoked (it is looked up through the key every time).
An OpenID Connect session stands for a profile principal (core.claims) and lives no
longer than the provider's token (``verloopt_op``); it may be refreshed up to
``ververs_tot`` (app/oidc.py), and the provider's back-channel logout ends it
(:func:`end_sessions_of`). The state, nonce and PKCE verifier of a sign-in in flight wait
in ``oidc_aanmelding`` and can be used once (:func:`redeem_oidc_start`).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping, and_, func, insert, or_, select, update

from core.security import (
    KEY_IS_ACTIVE,
    PRINCIPAL_COLUMNS,
    Principal,
    active_key,
    hash_key,
    principal_from_row,
)
from core.tables import aanmeldlink, api_key, oidc_aanmelding, principal, sessie

#: The cookie that carries the session token.
SESSION_COOKIE = "okaart_sessie"


def principal_for_session(conn: Connection, token: str) -> Principal | None:
    """The principal of a live session token, or None.

    A key session is the key's principal; an OpenID Connect session is its profile's
    principal under the person's name, with the second factor its token showed.
    """
    if not token or len(token) > 200:
        return None
    owner = func.coalesce(sessie.c.principal_id, api_key.c.principal_id)
    query = (
        select(*PRINCIPAL_COLUMNS, sessie.c.persoon, sessie.c.tweede_factor)
        .select_from(
            sessie.outerjoin(api_key, api_key.c.id == sessie.c.api_key_id).join(
                principal, principal.c.id == owner
            )
        )
        .where(
            sessie.c.token_hash == hash_key(token),
            sessie.c.beeindigd_op.is_(None),
            sessie.c.verloopt_op > func.now(),
            principal.c.actief,
            or_(sessie.c.api_key_id.is_(None), KEY_IS_ACTIVE),
        )
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    found = principal_from_row(row)
    if row["persoon"] is None:
        return found
    return replace(found, naam=row["persoon"], tweede_factor=bool(row["tweede_factor"]))


#: How long a one-time sign-in link stays usable when none is given.
LINK_MINUTES = 30


def key_id_for(conn: Connection, key: str) -> int | None:
    """The id of an active API key presented in a sign-in form, or None; a session then
    stands for this key, so revoking the key ends its sessions too."""
    row = active_key(conn, key.strip())
    return int(row["key_id"]) if row is not None else None


def create_session(conn: Connection, api_key_id: int, hours: float) -> str:
    """A new session for a key; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(sessie).values(
            token_hash=hash_key(token),
            api_key_id=api_key_id,
            verloopt_op=func.now() + timedelta(hours=hours),
        )
    )
    return token


def end_session(conn: Connection, token: str) -> bool:
    """Sign out: the session stops working at once (other sessions of the key stay)."""
    if not token or len(token) > 200:
        return False
    done = conn.execute(
        update(sessie)
        .where(sessie.c.token_hash == hash_key(token), sessie.c.beeindigd_op.is_(None))
        .values(beeindigd_op=func.now())
    ).rowcount
    return bool(done)


def safe_next(path: str | None) -> str | None:
    """``path`` when it is a path on this site, else None (no open redirect).

    Refused: absolute and scheme-relative URLs (``//host``), backslashes (browsers read
    ``/\\host`` as ``//host``), control characters and anything that is not a plain path.
    """
    if not path or len(path) > 500 or not path.startswith("/") or path.startswith("//"):
        return None
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path


def link_target(path: str) -> str | None:
    """``path`` when a sign-in link may lead there: a page on this site, not just ``/``."""
    target = safe_next(path)
    return target if target is not None and len(target) >= 2 else None


def create_link(conn: Connection, api_key_id: int, volgende: str, minutes: float = LINK_MINUTES) -> str:
    """A one-time sign-in link token for a key, leading to ``volgende`` (a local path)."""
    target = link_target(volgende)
    if target is None:
        raise ValueError(f"next must be a local path such as /kaart, not {volgende!r}")
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(aanmeldlink).values(
            token_hash=hash_key(token),
            api_key_id=api_key_id,
            volgende=target,
            verloopt_op=func.now() + timedelta(minutes=minutes),
        )
    )
    return token


def redeem_link(conn: Connection, token: str) -> tuple[int, str] | None:
    """Use a sign-in link: (key id, next path) once, before it expires and while its key
    is active; None otherwise.

    The single UPDATE that marks it used is the check: of two concurrent redemptions only
    one sees ``gebruikt_op IS NULL``.
    """
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        update(aanmeldlink)
        .where(
            aanmeldlink.c.token_hash == hash_key(token),
            aanmeldlink.c.gebruikt_op.is_(None),
            aanmeldlink.c.verloopt_op > func.now(),
            api_key.c.id == aanmeldlink.c.api_key_id,
            principal.c.id == api_key.c.principal_id,
            KEY_IS_ACTIVE,
        )
        .values(gebruikt_op=func.now())
        .returning(aanmeldlink.c.api_key_id, aanmeldlink.c.volgende)
    ).first()
    return (int(row.api_key_id), str(row.volgende)) if row else None


#: How long a sign-in at a provider may take, from our redirect to its return.
OIDC_START_MINUTES = 10


def start_oidc(
    conn: Connection, *, state: str, provider: str, nonce: str, code_verifier: str, volgende: str
) -> None:
    """Keep a sign-in's secrets until the provider sends the browser back (``state`` hashed)."""
    conn.execute(
        insert(oidc_aanmelding).values(
            state_hash=hash_key(state),
            provider=provider,
            nonce=nonce,
            code_verifier=code_verifier,
            volgende=link_target(volgende) or "/kaart",
            verloopt_op=func.now() + timedelta(minutes=OIDC_START_MINUTES),
        )
    )


def redeem_oidc_start(conn: Connection, state: str) -> RowMapping | None:
    """A sign-in in flight by its state, once and before it expires (a replay finds None)."""
    if not state or len(state) > 200:
        return None
    return (
        conn.execute(
            update(oidc_aanmelding)
            .where(
                oidc_aanmelding.c.state_hash == hash_key(state),
                oidc_aanmelding.c.gebruikt_op.is_(None),
                oidc_aanmelding.c.verloopt_op > func.now(),
            )
            .values(gebruikt_op=func.now())
            .returning(
                oidc_aanmelding.c.provider,
                oidc_aanmelding.c.nonce,
                oidc_aanmelding.c.code_verifier,
                oidc_aanmelding.c.volgende,
            )
        )
        .mappings()
        .first()
    )


def create_oidc_session(
    conn: Connection,
    *,
    principal_id: int,
    persoon: str,
    tweede_factor: bool,
    provider: str,
    sub: str,
    sid: str | None,
    claims: dict[str, Any],
    id_token: str,
    refresh_token: str | None,
    verloopt_op: datetime,
    ververs_tot: datetime,
) -> str:
    """A session for a person signed in at a provider; it ends with the token
    (``verloopt_op``) unless refreshed, and never after ``ververs_tot``."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(sessie).values(
            token_hash=hash_key(token),
            principal_id=principal_id,
            persoon=persoon,
            tweede_factor=tweede_factor,
            oidc_provider=provider,
            oidc_sub=sub,
            oidc_sid=sid,
            oidc_claims=claims,
            oidc_id_token=id_token,
            oidc_ververs=refresh_token,
            verloopt_op=func.least(verloopt_op, ververs_tot),
            ververs_tot=ververs_tot,
        )
    )
    return token


def oidc_session_due(conn: Connection, token: str) -> RowMapping | None:
    """An OpenID Connect session whose token ran out but that may be refreshed, locked
    (``FOR UPDATE``) so that two requests never spend the same refresh token."""
    if not token or len(token) > 200:
        return None
    return (
        conn.execute(
            select(
                sessie.c.id,
                sessie.c.oidc_provider,
                sessie.c.oidc_sub,
                sessie.c.oidc_ververs,
                sessie.c.ververs_tot,
                (sessie.c.verloopt_op > func.now()).label("levend"),
            )
            .where(
                sessie.c.token_hash == hash_key(token),
                sessie.c.beeindigd_op.is_(None),
                sessie.c.oidc_ververs.is_not(None),
                sessie.c.ververs_tot > func.now(),
            )
            .with_for_update()
        )
        .mappings()
        .first()
    )


def refreshed(
    conn: Connection,
    session_id: int,
    *,
    principal_id: int,
    tweede_factor: bool,
    claims: dict[str, Any],
    id_token: str | None,
    refresh_token: str | None,
    verloopt_op: datetime,
) -> None:
    """Record a refresh: the new token's end (never past ``ververs_tot``) and what it says."""
    values: dict[str, Any] = {
        "principal_id": principal_id,
        "tweede_factor": tweede_factor,
        "oidc_claims": claims,
        "oidc_ververs": refresh_token,
        "verloopt_op": func.least(verloopt_op, sessie.c.ververs_tot),
    }
    if id_token is not None:
        values["oidc_id_token"] = id_token
    conn.execute(update(sessie).where(sessie.c.id == session_id).values(**values))


def end_session_by_id(conn: Connection, session_id: int) -> None:
    conn.execute(
        update(sessie)
        .where(sessie.c.id == session_id, sessie.c.beeindigd_op.is_(None))
        .values(beeindigd_op=func.now(), oidc_ververs=None)
    )


def oidc_of_session(conn: Connection, token: str) -> RowMapping | None:
    """Provider, ID token and person of an OpenID Connect session (for RP-initiated logout)."""
    if not token or len(token) > 200:
        return None
    return (
        conn.execute(
            select(
                sessie.c.oidc_provider, sessie.c.oidc_id_token, sessie.c.persoon, sessie.c.principal_id
            ).where(sessie.c.token_hash == hash_key(token), sessie.c.oidc_provider.is_not(None))
        )
        .mappings()
        .first()
    )


def end_sessions_of(conn: Connection, provider: str, *, sid: str | None, sub: str | None) -> list[str]:
    """Back-channel logout: end the provider session ``sid`` (or every session of ``sub``);
    returns the persons whose sessions ended."""
    where = [sessie.c.oidc_provider == provider, sessie.c.beeindigd_op.is_(None)]
    if sid is not None:
        where.append(sessie.c.oidc_sid == sid)
    if sub is not None:
        where.append(sessie.c.oidc_sub == sub)
    rows = conn.execute(
        update(sessie)
        .where(and_(*where))
        .values(beeindigd_op=func.now(), oidc_ververs=None)
        .returning(sessie.c.persoon)
    ).scalars()
    return [str(r) for r in rows]


def last_oidc_claims(conn: Connection, subject: str) -> RowMapping | None:
    """The latest session of a person (by subject or name): what its provider said."""
    return (
        conn.execute(
            select(sessie.c.oidc_provider, sessie.c.oidc_sub, sessie.c.persoon, sessie.c.oidc_claims)
            .where(
                or_(sessie.c.oidc_sub == subject, sessie.c.persoon == subject),
                sessie.c.oidc_claims.is_not(None),
            )
            .order_by(sessie.c.aangemaakt_op.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
