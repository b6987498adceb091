"""Principals, API keys and the clearance a role gives.

A key is shown once and stored only as its sha256: keys are 32 random bytes, so a fast
hash is enough (no password stretching needed), and a lookup by its non-secret prefix
avoids comparing against every stored hash. Every route resolves the caller through
:func:`current_principal`; what a principal may see is decided in one place
(:func:`can_see`), and a layer it may not see answers exactly like a missing one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    and_,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from core.domain import DATAKLASSEN
from core.tables import api_key, principal

Rol = Literal["beheerder", "analist", "partner", "planner"]
Clearance = Literal["aggregaat", "signalen", "adressen"]

#: What each role may see. Planners: suppressed aggregates only. Partners: aggregates and
#: the signal points of the covenants they are party to. Analysts: everything of their
#: municipality, addresses included. Beheerders: everything.
ROLE_CLEARANCE: dict[str, frozenset[str]] = {
    "planner": frozenset({"aggregaat"}),
    "partner": frozenset({"aggregaat", "signalen"}),
    "analist": frozenset({"aggregaat", "signalen", "adressen"}),
    "beheerder": frozenset({"aggregaat", "signalen", "adressen"}),
}
KEY_PREFIX = "okk"


@dataclass(frozen=True)
class Principal:
    """Who is asking: role, organisation, covenants, municipalities, allowed purposes."""

    id: int
    naam: str
    rol: str
    organisatie: str
    convenanten: tuple[str, ...]
    gemeenten: tuple[str, ...]
    doelen: tuple[str, ...]
    #: The most sensitive data class of signal this principal may see.
    dataklasse: str = "vertrouwelijk"
    #: Whether the sign-in showed a second factor. Keys and key sessions count as such (an
    #: administrator handed them out); a person signed in with OpenID Connect without one
    #: sees aggregates only (docs/oidc.md). Not a column: it belongs to the sign-in.
    tweede_factor: bool = True

    @property
    def suppressed(self) -> bool:
        """Aggregate-only principals get small counts withheld."""
        return self.rol == "planner"

    @property
    def all_gemeenten(self) -> bool:
        """A beheerder without listed municipalities sees every municipality."""
        return self.rol == "beheerder" and not self.gemeenten

    def sees_gemeente(self, code: str) -> bool:
        return self.all_gemeenten or code in self.gemeenten

    def can_see(self, clearance: str) -> bool:
        """The one visibility rule of layers and figures below aggregate level: the role's
        clearance, and for anything but aggregates a sign-in with a second factor."""
        return self.role_can_see(clearance) and (clearance == "aggregaat" or self.tweede_factor)

    def role_can_see(self, clearance: str) -> bool:
        """What the role alone would allow (to tell a person why MFA is missing)."""
        return clearance in ROLE_CLEARANCE.get(self.rol, frozenset())

    @property
    def dataklassen(self) -> list[str]:
        """The data classes up to and including this principal's own."""
        if self.dataklasse not in DATAKLASSEN:
            return []
        return list(DATAKLASSEN[: DATAKLASSEN.index(self.dataklasse) + 1])

    def allows_doel(self, doel: str) -> bool:
        return doel in self.doelen


#: The data class a new principal gets when none is given: only beheerders see the most
#: sensitive class (human trafficking) by default; others need it granted explicitly.
DEFAULT_DATAKLASSE = {
    "planner": "intern",
    "partner": "vertrouwelijk",
    "analist": "vertrouwelijk",
    "beheerder": "zeer_vertrouwelijk",
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its lookup prefix: ``okk_<prefix>_<secret>``."""
    prefix = secrets.token_urlsafe(9)[:12].replace("-", "x").replace("_", "y")
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def create_principal_key(
    conn: Connection,
    *,
    naam: str,
    rol: str,
    organisatie: str,
    convenanten: list[str],
    gemeenten: list[str],
    doelen: list[str],
    dataklasse: str | None = None,
) -> tuple[str, int]:
    """Create (or reuse by name) a principal and give it a new key; returns (key, key id)."""
    given = {
        "rol": rol,
        "organisatie": organisatie,
        "convenanten": convenanten,
        "gemeenten": gemeenten,
        "doelen": doelen,
        "dataklasse": dataklasse or DEFAULT_DATAKLASSE.get(rol, "openbaar"),
    }
    upsert = postgresql.insert(principal).values(naam=naam, **given)
    upsert = upsert.on_conflict_do_update(
        index_elements=[principal.c.naam],
        set_={**{name: upsert.excluded[name] for name in given}, "actief": true()},
    )
    principal_id = conn.execute(upsert.returning(principal.c.id)).scalar_one()
    from core.zicht import register  # here, not at the top: core.zicht builds on this module

    register(conn, principal_id)  # its figures exist before its key can read anything
    key, prefix = new_key()
    key_id = conn.execute(
        insert(api_key)
        .values(principal_id=principal_id, prefix=prefix, hash=hash_key(key))
        .returning(api_key.c.id)
    ).scalar_one()
    return key, int(key_id)


def active_key(conn: Connection, key: str) -> RowMapping | None:
    """The row (``key_id`` and the principal's columns) of an active presented key, or None.

    Looked up by the key's non-secret prefix, then compared by hash in constant time.
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    query = (
        select(api_key.c.id.label("key_id"), api_key.c.hash, *PRINCIPAL_COLUMNS)
        .select_from(api_key.join(principal))
        .where(api_key.c.prefix == parts[1], KEY_IS_ACTIVE)
    )
    row = conn.execute(query).mappings().first()
    if row is None or not hmac.compare_digest(row["hash"], hash_key(key)):
        return None
    return row


def principal_for_key(conn: Connection, key: str) -> Principal | None:
    """The active principal a presented key belongs to, or None."""
    row = active_key(conn, key)
    return principal_from_row(row) if row is not None else None


#: The columns :func:`principal_from_row` needs: one per field of :class:`Principal`.
PRINCIPAL_COLUMNS = tuple(principal.c[field.name] for field in fields(Principal) if field.name in principal.c)


def _key_is_active(key: FromClause[Any], owner: FromClause[Any]) -> ColumnElement[bool]:
    """A key that may still be used: not revoked, not expired, and its principal active."""
    return and_(
        key.c.ingetrokken_op.is_(None),
        owner.c.actief,
        or_(key.c.verloopt_op.is_(None), key.c.verloopt_op > func.now()),
    )


#: An ``api_key`` (joined to its ``principal``) that may still be used.
KEY_IS_ACTIVE = _key_is_active(api_key, principal)
#: The same condition as SQL text, for queries that name ``api_key k`` and ``principal p``.
ACTIVE_KEY = str(_key_is_active(api_key.alias("k"), principal.alias("p")))


def principal_from_row(row: RowMapping) -> Principal:
    return Principal(
        id=row["id"],
        naam=row["naam"],
        rol=row["rol"],
        organisatie=row["organisatie"],
        convenanten=tuple(row["convenanten"]),
        gemeenten=tuple(row["gemeenten"]),
        doelen=tuple(row["doelen"]),
        dataklasse=row["dataklasse"],
    )
