"""Risk branches: which establishments and permits count as a risk branch, and in what order.

The mapping is a small TOML file a municipality may edit (``core/risicobranches.toml`` by
default, ``OKAART_RISICOBRANCHES`` for its own copy; docs/risicobranches.md). It lives in the
core floor because three floors read it: the ingest classifies register rows with it, the
figures rank branches by it, and the service shows its titles. Each branch names SBI code
prefixes (as CBS writes them, dots optional) and words that a permit type may contain. The
order of the file is the precedence when one address holds entries of several branches.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT = Path(__file__).with_name("risicobranches.toml")
#: The branch code every risk branch sums to in the figures (as ``alle`` themes do).
ALLE = "alle"
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_SBI = re.compile(r"^[0-9]{2,5}$")


@dataclass(frozen=True)
class Branche:
    """One risk branch."""

    code: str
    titel: str
    #: SBI code prefixes, digits only (``56.10`` -> ``5610``).
    sbi: tuple[str, ...]
    #: Lower-case words a permit type contains.
    vergunningen: tuple[str, ...]


@dataclass(frozen=True)
class Indeling:
    """The branches in order of precedence."""

    branches: tuple[Branche, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code for b in self.branches)

    def titel(self, code: str) -> str:
        """The title users read; ``alle`` is every risk branch together."""
        if code == ALLE:
            return "Alle risicobranches"
        return next((b.titel for b in self.branches if b.code == code), code)

    def by_sbi(self, code: str) -> str | None:
        """The branch of one SBI code: the one with the longest matching prefix."""
        digits = sbi_digits(code)
        if digits is None:
            return None
        best: tuple[int, str] | None = None
        for branche in self.branches:
            for prefix in branche.sbi:
                if digits.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), branche.code)
        return None if best is None else best[1]

    def by_vergunning(self, soort: str) -> str | None:
        """The branch of a permit type: the first branch (in file order) one of whose words
        it contains, so ``Exploitatievergunning seksinrichting`` is not plain horeca."""
        lowered = soort.lower()
        for branche in self.branches:
            if any(word in lowered for word in branche.vergunningen):
                return branche.code
        return None


def sbi_digits(code: str) -> str | None:
    """``56.10`` / ``5610`` / `` 96022 `` -> digits; None when it is no SBI code."""
    digits = re.sub(r"[.\s]", "", code)
    return digits if _SBI.fullmatch(digits) else None


def parse(text: str, origin: str = "risicobranches") -> Indeling:
    """The mapping in ``text``; a ValueError in Dutch names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin} is geen geldige TOML: {exc}") from exc
    rows = data.get("branche")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{origin} noemt geen enkele [[branche]]")
    branches: list[Branche] = []
    for i, row in enumerate(rows, start=1):
        code = row.get("code") if isinstance(row, dict) else None
        if not isinstance(code, str) or not _CODE.fullmatch(code) or code == ALLE:
            raise ValueError(f"{origin}: branche {i} heeft geen geldige code (kleine letters, cijfers, _)")
        titel = row.get("titel")
        if not isinstance(titel, str) or not titel.strip():
            raise ValueError(f"{origin}: branche {code!r} heeft geen titel")
        sbi = [sbi_digits(str(c)) for c in row.get("sbi", [])]
        if any(c is None for c in sbi):
            raise ValueError(f"{origin}: branche {code!r} heeft een SBI-code die geen 2 tot 5 cijfers is")
        words = [str(w).strip().lower() for w in row.get("vergunningen", [])]
        if any(not w for w in words):
            raise ValueError(f"{origin}: branche {code!r} heeft een leeg woord bij vergunningen")
        branches.append(Branche(code, titel.strip(), tuple(c for c in sbi if c), tuple(words)))
    codes = [b.code for b in branches]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{origin}: een branchecode staat er twee keer in")
    return Indeling(tuple(branches))


@cache
def _load(path: Path) -> Indeling:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"risicobranches {path} is niet te lezen: {exc.strerror}") from exc
    return parse(text, str(path))


def load(path: Path | None = None) -> Indeling:
    """The mapping at ``path``, else the settings' (``OKAART_RISICOBRANCHES``), else the default."""
    if path is None:
        from core.settings import get_settings

        path = get_settings().risicobranches or DEFAULT
    return _load(path)
