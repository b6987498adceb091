"""Resolved callers, kept a few seconds so a burst of tile requests costs one key lookup.

Keys and session tokens are cached apart and by hash only, so no secret stays in memory.
The cache is read and written on the event loop only (the dependencies that use it are
``async``), so it needs no lock.
"""

from __future__ import annotations

import hashlib
import time

from core.security import Principal

#: Seconds a resolved key is trusted before it is looked up again (revocation latency).
PRINCIPAL_TTL = 10.0
#: Beyond this many entries the cache starts afresh (a flood of unknown keys cannot grow it).
MAX_ENTRIES = 10_000


class PrincipalCache:
    """``kind`` is ``sleutel`` (an API key) or ``sessie`` (a browser session token)."""

    def __init__(self, ttl: float = PRINCIPAL_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def get(self, kind: str, token: str) -> tuple[bool, Principal | None]:
        """``(True, principal)`` on a fresh hit (the principal may be None: unknown key)."""
        hit = self._entries.get(_key(kind, token))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def put(self, kind: str, token: str, principal: Principal | None) -> None:
        if len(self._entries) > MAX_ENTRIES:
            self._entries.clear()
        self._entries[_key(kind, token)] = (time.monotonic(), principal)

    def clear(self) -> None:
        """Forget every lookup (tests that change principals behind the service's back)."""
        self._entries.clear()

    def forget(self, kind: str, token: str) -> None:
        """Drop one lookup at once (a session that was just ended)."""
        self._entries.pop(_key(kind, token), None)


def _key(kind: str, token: str) -> str:
    return hashlib.sha256(f"{kind}\0{token}".encode()).hexdigest()
