"""Named regions: a set of municipalities under one name (RIEC Noord-Nederland).

A region is data (``core/regio.toml``, or the file ``OKAART_REGIO`` names), expanded into a
principal's municipalities when its key is made. The visibility rule therefore stays one
list of municipality codes (:meth:`core.security.Principal.sees_gemeente`, the view class of
:mod:`core.zicht`): a region adds no second path to check. See docs/decisions.md "Regions".
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT = Path(__file__).with_name("regio.toml")
#: A municipality code as CBS writes it.
GEMEENTECODE = re.compile(r"^GM[0-9]{4}$")
_NAAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class RegioError(ValueError):
    """A region file or name that cannot be used; the message is for the user (Dutch)."""


@dataclass(frozen=True)
class Regio:
    code: str
    naam: str
    gemeenten: tuple[str, ...]


def parse(text: str, bron: str = "regio") -> dict[str, Regio]:
    """The regions of a TOML text; a :class:`RegioError` names the first mistake."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegioError(f"{bron}: geen geldige TOML: {exc}") from exc
    unknown = set(raw) - {"regio"}
    if unknown:
        raise RegioError(f"{bron}: onbekende sectie {', '.join(sorted(unknown))}")
    regios: dict[str, Regio] = {}
    for code, entry in raw.get("regio", {}).items():
        where = f"{bron}: regio {code!r}"
        if not _NAAM.fullmatch(code):
            raise RegioError(f"{where}: gebruik kleine letters, cijfers en '-'")
        if not isinstance(entry, dict):
            raise RegioError(f"{where}: verwacht een tabel met naam en gemeenten")
        gemeenten = entry.get("gemeenten")
        if not isinstance(gemeenten, list) or not gemeenten:
            raise RegioError(f"{where}: 'gemeenten' moet een niet-lege lijst zijn")
        wrong = [g for g in gemeenten if not isinstance(g, str) or not GEMEENTECODE.fullmatch(g)]
        if wrong:
            raise RegioError(f"{where}: geen gemeentecode (GM en vier cijfers): {', '.join(map(str, wrong))}")
        regios[code] = Regio(code, str(entry.get("naam", code)), tuple(sorted(set(gemeenten))))
    return regios


def path() -> Path:
    configured = os.environ.get("OKAART_REGIO")
    return Path(configured) if configured else DEFAULT


def load(file: Path | None = None) -> dict[str, Regio]:
    """The regions of ``file`` (default: ``OKAART_REGIO`` or ``core/regio.toml``)."""
    source = file or path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegioError(f"regiobestand {source} is niet te lezen: {exc.strerror}") from exc
    return parse(text, str(source))


def gemeenten(regios: list[str], losse: list[str], file: Path | None = None) -> list[str]:
    """The municipalities of the named regions plus the ones named one by one, sorted and
    without duplicates; an unknown region is an error, never an empty scope."""
    known = load(file) if regios else {}
    found = set(losse)
    for code in regios:
        if code not in known:
            raise RegioError(f"onbekende regio {code!r}; bekend: {', '.join(sorted(known)) or '(geen)'}")
        found.update(known[code].gemeenten)
    return sorted(found)
