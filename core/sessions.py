"""Browser sessions: a cookie that stands for an API key, without the key in the browser.

Only the sha256 of a session token is stored; a session ends when it expires, when the
user signs out, or when its key is revoked (it is looked up through the key every time).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, insert, select, update

from core.security import (
    KEY_IS_ACTIVE,
    PRINCIPAL_COLUMNS,
    Principal,
    active_key,
    hash_key,
    principal_from_row,
)
from core.tables import aanmeldlink, api_key, principal, sessie

#: The cookie that carries the session token.
SESSION_COOKIE = "okaart_sessie"


def principal_for_session(conn: Connection, token: str) -> Principal | None:
    """The principal of a live session token, or None."""
    if not token or len(token) > 200:
        return None
    query = (
        select(*PRINCIPAL_COLUMNS)
        .select_from(sessie.join(api_key).join(principal))
        .where(
            sessie.c.token_hash == hash_key(token),
            sessie.c.beeindigd_op.is_(None),
            sessie.c.verloopt_op > func.now(),
            KEY_IS_ACTIVE,
        )
    )
    row = conn.execute(query).mappings().first()
    return principal_from_row(row) if row else None


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
