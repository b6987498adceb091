"""From a provider's claims to rights: the profile a person signed in with OpenID Connect gets.

The mapping is data (``core/toegang.toml``, or the file ``OKAART_TOEGANG`` names): *profiles*
say what a principal may (role, organisation, covenants, municipalities, purposes), *rules*
pick a profile from the claims (a group or app role, optionally the organisation and a
municipality code). The first rule that holds wins, no rule means no access, and every
decision carries its explanation in Dutch (``okaart toegang uitleg``).

A profile is a principal in the database (``oidc:<profiel>``), created with its view class
by :func:`load_profiles` (``okaart toegang laad``, run with the owner's rights): the service
itself may not create principals, and a person's figures must exist before they sign in. The
service reads the file again when it changes (:func:`current`), so a new rule takes effect at
the next sign-in or refresh; a rule that names a profile not yet loaded refuses (fail closed).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, true, update
from sqlalchemy.dialects import postgresql

from core.domain import DATAKLASSEN
from core.security import DEFAULT_DATAKLASSE, ROLE_CLEARANCE
from core.tables import principal

DEFAULT = Path(__file__).with_name("toegang.toml")
#: Principals of profiles are named ``oidc:<profiel>``; a key's principal can never be one.
PREFIX = "oidc:"
_NAAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: ``amr`` values (RFC 8176) that show a second factor; ``pwd`` alone does not.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "sms", "tel", "sc", "fpt", "face", "iris", "retina", "vbm"})


class ToegangError(ValueError):
    """The mapping file is unreadable or inconsistent: one Dutch line says where."""


@dataclass(frozen=True)
class Profiel:
    """The rights one kind of person gets."""

    naam: str
    rol: str
    organisatie: str
    convenanten: tuple[str, ...]
    gemeenten: tuple[str, ...]
    doelen: tuple[str, ...]
    dataklasse: str

    @property
    def principal(self) -> str:
        return PREFIX + self.naam


@dataclass(frozen=True)
class Regel:
    """Conditions on the claims, and the profile they give."""

    nummer: int
    profiel: str
    groep: str
    organisatie: str | None = None
    gemeente: str | None = None

    def toets(self, gelezen: Gelezen) -> tuple[bool, str]:
        """Whether this rule holds, and in words why (not)."""
        waarom = [f"groep {self.groep!r} {'aanwezig' if self.groep in gelezen.groepen else 'ontbreekt'}"]
        ok = self.groep in gelezen.groepen
        if self.organisatie is not None:
            same = gelezen.organisatie == self.organisatie
            waarom.append(f"organisatie {self.organisatie!r} {'klopt' if same else 'klopt niet'}")
            ok = ok and same
        if self.gemeente is not None:
            has = self.gemeente in gelezen.gemeenten
            waarom.append(f"gemeentecode {self.gemeente!r} {'aanwezig' if has else 'ontbreekt'}")
            ok = ok and has
        return ok, ", ".join(waarom)


@dataclass(frozen=True)
class Gelezen:
    """What the mapping read from the claims: the only claims a decision depends on."""

    naam: str
    groepen: tuple[str, ...]
    organisatie: str | None
    gemeenten: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "naam": self.naam,
            "groepen": list(self.groepen),
            "organisatie": self.organisatie,
            "gemeenten": list(self.gemeenten),
        }


@dataclass(frozen=True)
class Besluit:
    """A decision: the profile (None: no access) and why, rule by rule."""

    profiel: Profiel | None
    gelezen: Gelezen
    uitleg: tuple[str, ...]

    @property
    def reden(self) -> str:
        """The last line of the explanation: what a refused person is told."""
        return self.uitleg[-1]


@dataclass(frozen=True)
class ClaimNamen:
    groepen: tuple[str, ...] = ("groups", "roles")
    organisatie: str = "organisatie"
    gemeenten: str = "gemeentecode"
    naam: tuple[str, ...] = ("email", "preferred_username", "name", "sub")


@dataclass(frozen=True)
class Toegang:
    """The whole mapping: claim names, profiles, rules in order."""

    claims: ClaimNamen
    profielen: Mapping[str, Profiel]
    regels: tuple[Regel, ...]
    bron: str = field(default="", compare=False)

    def read(self, claims: Mapping[str, Any]) -> Gelezen:
        groepen: list[str] = []
        for name in self.claims.groepen:
            groepen.extend(_strings(claims.get(name)))
        naam = next((str(claims[n]) for n in self.claims.naam if isinstance(claims.get(n), str | int)), "?")
        organisatie = claims.get(self.claims.organisatie)
        return Gelezen(
            naam=naam,
            groepen=tuple(dict.fromkeys(groepen)),
            organisatie=organisatie if isinstance(organisatie, str) else None,
            gemeenten=tuple(_strings(claims.get(self.claims.gemeenten))),
        )

    def decide(self, claims: Mapping[str, Any]) -> Besluit:
        """The first rule that holds gives the profile; no rule, no access."""
        gelezen = self.read(claims)
        uitleg = [
            f"gelezen uit de claims: groepen {list(gelezen.groepen)}, organisatie {gelezen.organisatie!r}, "
            f"gemeentecodes {list(gelezen.gemeenten)}"
        ]
        for regel in self.regels:
            ok, waarom = regel.toets(gelezen)
            uitleg.append(
                f"regel {regel.nummer} ({regel.profiel}): {waarom}: {'geldt' if ok else 'geldt niet'}"
            )
            if ok:
                profiel = self.profielen[regel.profiel]
                uitleg.append(
                    f"profiel {profiel.naam!r}: rol {profiel.rol}, organisatie {profiel.organisatie!r}, "
                    f"gemeenten {list(profiel.gemeenten)}, convenanten {list(profiel.convenanten)}, "
                    f"doelen {list(profiel.doelen)}"
                )
                return Besluit(profiel, gelezen, tuple(uitleg))
        uitleg.append("geen regel geldt voor deze claims: geen toegang (vraag uw beheerder om een groep)")
        return Besluit(None, gelezen, tuple(uitleg))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def _texts(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToegangError(f"{where}: '{key}' moet een lijst van teksten zijn")
    return tuple(value)


def _profiel(naam: str, raw: Any) -> Profiel:
    where = f"profiel {naam!r}"
    if not _NAAM.match(naam) or not isinstance(raw, dict):
        raise ToegangError(f"{where}: naam alleen kleine letters, cijfers en '-', met velden eronder")
    unknown = set(raw) - {"rol", "organisatie", "convenanten", "gemeenten", "doelen", "dataklasse"}
    if unknown:
        raise ToegangError(f"{where}: onbekend veld {', '.join(sorted(unknown))}")
    rol = raw.get("rol")
    if rol not in ROLE_CLEARANCE:
        raise ToegangError(f"{where}: rol moet een van {', '.join(ROLE_CLEARANCE)} zijn, niet {rol!r}")
    dataklasse = raw.get("dataklasse", DEFAULT_DATAKLASSE[rol])
    if dataklasse not in DATAKLASSEN:
        raise ToegangError(f"{where}: dataklasse {dataklasse!r} bestaat niet ({', '.join(DATAKLASSEN)})")
    organisatie = raw.get("organisatie")
    if not isinstance(organisatie, str) or not organisatie:
        raise ToegangError(f"{where}: organisatie ontbreekt")
    return Profiel(
        naam=naam,
        rol=rol,
        organisatie=organisatie,
        convenanten=_texts(raw, "convenanten", where),
        gemeenten=_texts(raw, "gemeenten", where),
        doelen=_texts(raw, "doelen", where),
        dataklasse=dataklasse,
    )


def _regel(nummer: int, raw: Any, profielen: Mapping[str, Profiel]) -> Regel:
    where = f"regel {nummer}"
    if not isinstance(raw, dict):
        raise ToegangError(f"{where}: een regel is een tabel [[regels]]")
    unknown = set(raw) - {"groep", "organisatie", "gemeente", "profiel"}
    if unknown:
        raise ToegangError(f"{where}: onbekende voorwaarde {', '.join(sorted(unknown))}")
    if raw.get("profiel") not in profielen:
        raise ToegangError(f"{where}: profiel {raw.get('profiel')!r} staat niet onder [profielen]")
    if not isinstance(raw.get("groep"), str) or not raw["groep"]:
        raise ToegangError(f"{where}: een regel noemt altijd een groep (of app-rol)")
    for key in ("organisatie", "gemeente"):
        if key in raw and not isinstance(raw[key], str):
            raise ToegangError(f"{where}: '{key}' moet een tekst zijn")
    return Regel(nummer, raw["profiel"], raw["groep"], raw.get("organisatie"), raw.get("gemeente"))


def parse(text: str, bron: str = "") -> Toegang:
    """The mapping from TOML text; a :class:`ToegangError` names the first mistake."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ToegangError(f"{bron or 'toegang'}: geen geldige TOML: {exc}") from exc
    unknown = set(raw) - {"claims", "profielen", "regels"}
    if unknown:
        raise ToegangError(f"onbekende sectie {', '.join(sorted(unknown))}")
    c = raw.get("claims", {})
    naam = c.get("naam", list(ClaimNamen.naam))
    namen = ClaimNamen(
        groepen=tuple(_texts(c, "groepen", "[claims]") or ClaimNamen.groepen),
        organisatie=str(c.get("organisatie", ClaimNamen.organisatie)),
        gemeenten=str(c.get("gemeenten", ClaimNamen.gemeenten)),
        naam=tuple(naam) if isinstance(naam, list) else (str(naam),),
    )
    profielen = {naam: _profiel(naam, p) for naam, p in raw.get("profielen", {}).items()}
    regels = tuple(_regel(i, r, profielen) for i, r in enumerate(raw.get("regels", []), start=1))
    return Toegang(namen, profielen, regels, bron)


def mapping_path(configured: Path | None) -> Path:
    return configured if configured is not None else DEFAULT


_loaded: dict[Path, tuple[int, Toegang]] = {}


def current(configured: Path | None = None) -> Toegang:
    """The mapping, read again when the file changed since the last call (reloadable)."""
    path = mapping_path(configured)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ToegangError(f"toegangsbestand {path} is niet te lezen: {exc.strerror}") from exc
    cached = _loaded.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    toegang = parse(path.read_text(encoding="utf-8"), str(path))
    _loaded[path] = (stamp, toegang)
    return toegang


def tweede_factor(claims: Mapping[str, Any], acr_values: Sequence[str]) -> tuple[bool, str]:
    """Whether the token shows a second factor: an ``amr`` method beyond a password, or an
    ``acr`` the provider's settings name as multi-factor. With the reason, in Dutch."""
    amr = set(_strings(claims.get("amr")))
    found = sorted(amr & MFA_AMR)
    if found:
        return True, f"tweede factor volgens amr: {', '.join(found)}"
    acr = claims.get("acr")
    if isinstance(acr, str) and acr in acr_values:
        return True, f"tweede factor volgens acr: {acr}"
    return False, (
        f"geen tweede factor (amr: {', '.join(sorted(amr)) or 'geen'}; acr: {acr or 'geen'}): "
        "u ziet alleen cijfers per gebied; meld u opnieuw aan met een tweede factor (MFA) "
        "om signaalpunten, selecties en exports op objectniveau te zien"
    )


def load_profiles(conn: Connection, toegang: Toegang) -> list[str]:
    """Create or update a principal per profile (with its view class) and switch off the
    principals of profiles no longer in the file; returns the names loaded."""
    from core.zicht import register  # here, not at the top: core.zicht builds on core.security

    names = []
    for profiel in toegang.profielen.values():
        given = {
            "rol": profiel.rol,
            "organisatie": profiel.organisatie,
            "convenanten": list(profiel.convenanten),
            "gemeenten": list(profiel.gemeenten),
            "doelen": list(profiel.doelen),
            "dataklasse": profiel.dataklasse,
        }
        upsert = postgresql.insert(principal).values(naam=profiel.principal, **given)
        upsert = upsert.on_conflict_do_update(
            index_elements=[principal.c.naam],
            set_={**{name: upsert.excluded[name] for name in given}, "actief": true()},
        )
        register(conn, conn.execute(upsert.returning(principal.c.id)).scalar_one())
        names.append(profiel.principal)
    conn.execute(
        update(principal)
        .where(principal.c.naam.startswith(PREFIX, autoescape=True), principal.c.naam.not_in(names or [""]))
        .values(actief=False)
    )
    return names


def profile_principal_id(conn: Connection, profiel: Profiel) -> int | None:
    """The id of a loaded, active profile principal whose rights equal the file's; None when
    the profile is not (yet) loaded as written (then nobody gets it: fail closed)."""
    row = conn.execute(
        select(principal.c.id).where(
            principal.c.naam == profiel.principal,
            principal.c.actief,
            principal.c.rol == profiel.rol,
            principal.c.organisatie == profiel.organisatie,
            principal.c.convenanten == list(profiel.convenanten),
            principal.c.gemeenten == list(profiel.gemeenten),
            principal.c.doelen == list(profiel.doelen),
            principal.c.dataklasse == profiel.dataklasse,
        )
    ).first()
    return int(row.id) if row else None
