"""Resolved callers, kept a few seconds so a burst of tile requests costs one key lookup.

Keys and session tokens are cached apart and by hash only, so no secret stays in memory.
The cache is read and written on the event loop only (the dependencies that use it are
``async``), so it needs no lock.

Revocation reaches every worker at once: a trigger on ``principal``, ``api_key`` and
``sessie`` (migration 0017) sends ``NOTIFY okaart_toegang`` on any change, and each worker's
:class:`RevocationListener` empties its cache when one arrives. While the listener is not
connected (the database restarting) the cache's :data:`PRINCIPAL_TTL` bounds how long a
revoked key keeps working, as before. A lookup that started before a revocation and ends
after it is not cached (:attr:`PrincipalCache.generation`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time

import psycopg

from core.security import Principal

log = logging.getLogger("okaart.toegang")

#: Seconds a resolved key is trusted before it is looked up again (revocation latency when
#: the listener is down).
PRINCIPAL_TTL = 10.0
#: Beyond this many entries the cache starts afresh (a flood of unknown keys cannot grow it).
MAX_ENTRIES = 10_000
#: The channel migration 0017's trigger notifies.
CHANNEL = "okaart_toegang"


class PrincipalCache:
    """``kind`` is ``sleutel`` (an API key) or ``sessie`` (a browser session token)."""

    def __init__(self, ttl: float = PRINCIPAL_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        #: Raised by every :meth:`clear`; a lookup begun under an older one is not kept.
        self.generation = 0
        #: Set once revocations reach this cache (the listener's first LISTEN is in place).
        self.listening = threading.Event()

    def get(self, kind: str, token: str) -> tuple[bool, Principal | None]:
        """``(True, principal)`` on a fresh hit (the principal may be None: unknown key)."""
        hit = self._entries.get(_key(kind, token))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def put(self, kind: str, token: str, principal: Principal | None, generation: int | None = None) -> None:
        """Keep a lookup; not when access changed since it began (``generation``)."""
        if generation is not None and generation != self.generation:
            return
        if len(self._entries) > MAX_ENTRIES:
            self._entries.clear()
        self._entries[_key(kind, token)] = (time.monotonic(), principal)

    def clear(self) -> None:
        """Forget every lookup (access changed, or tests change principals behind the
        service's back)."""
        self.generation += 1
        self._entries.clear()

    def forget(self, kind: str, token: str) -> None:
        """Drop one lookup at once (a session that was just ended)."""
        self._entries.pop(_key(kind, token), None)


def _key(kind: str, token: str) -> str:
    return hashlib.sha256(f"{kind}\0{token}".encode()).hexdigest()


class RevocationListener:
    """A thread that LISTENs on :data:`CHANNEL` and empties the cache on each notification.

    It holds one connection of its own (outside the pool; behind a transaction-pooling
    proxy it needs a direct one) and reconnects every ``retry_s`` seconds after a failure,
    emptying the cache on each (re)connect, since notifications sent meanwhile were missed.
    """

    def __init__(self, conninfo: str, cache: PrincipalCache, retry_s: float = 5.0) -> None:
        self.conninfo = conninfo
        self.cache = cache
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="okaart-toegang", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _clear(self, connected: bool = False) -> None:
        """Empty the cache on the event loop, which owns it."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._cleared, connected)

    def _cleared(self, connected: bool) -> None:
        self.cache.clear()
        if connected:
            self.cache.listening.set()

    def _run(self) -> None:
        reported = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._clear(connected=True)
                    if reported:
                        log.warning("revocation listener connected again")
                        reported = False
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._clear()
            except psycopg.Error as exc:
                self.cache.listening.clear()
                if not reported:  # one line per outage, not one per retry
                    log.warning("revocation listener lost its connection (%s); cache TTL applies", exc)
                    reported = True
                self._stop.wait(self.retry_s)
