"""Resolved callers, kept a few seconds so a burst of tile requests costs one key lookup.

A request's credentials are parsed and hashed once (:class:`Credentials`, made by
``app.deps.caller_of``); that one digest is the cache's key, the failed sign-ins' memory of
known keys (:mod:`app.auth_failures`) and, being ``core.security.hash_key``, the hash the
database stores for keys and sessions, so a notification can name the entry it ends. Only
hashes are kept, so no secret stays in memory. The cache is read and written on the event
loop only (the dependencies that use it are ``async``), so it needs no lock.

Revocation reaches every worker at once: triggers on ``principal``, ``api_key`` and
``sessie`` (migration 0022, replacing 0017's) send ``NOTIFY okaart_toegang`` when what a
lookup reads changes (revoked, ended, expired, other rights; not a session's bookkeeping),
naming what changed: ``sessie:<token hash>``, ``sleutel:<key hash>``, ``principal:<id>``, or
``*`` (a table emptied). Each worker's :class:`RevocationListener` drops just those entries.
While the listener is not connected (the database restarting) the cache's
:data:`PRINCIPAL_TTL` bounds how long a revoked key keeps working, as before. A lookup that
started before an invalidation and ends after it is not cached
(:attr:`PrincipalCache.generation`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import psycopg

from core.security import Principal, hash_key

log = logging.getLogger("okaart.toegang")

#: Seconds a resolved key is trusted before it is looked up again (revocation latency when
#: the listener is down).
PRINCIPAL_TTL = 10.0
#: Beyond this many entries the cache starts afresh (a flood of unknown keys cannot grow it).
MAX_ENTRIES = 10_000
#: The channel migration 0022's triggers notify.
CHANNEL = "okaart_toegang"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presents: ``kind`` is ``sleutel`` (an API key), ``jwt`` (a provider's
    access token) or ``sessie`` (a browser session token)."""

    kind: str
    token: str
    #: ``hash_key(token)``, computed once per request.
    digest: str

    @classmethod
    def of(cls, kind: str, token: str) -> Credentials:
        return cls(kind, token, hash_key(token))

    @property
    def key(self) -> tuple[str, str]:
        """Where the cache keeps this caller: kinds apart, by hash only."""
        return self.kind, self.digest


class PrincipalCache:
    """Callers by :attr:`Credentials.key`; a cached None is an unknown or refused key."""

    def __init__(self, ttl: float = PRINCIPAL_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, Principal | None]] = {}
        #: Raised by every invalidation; a lookup begun under an older one is not kept.
        self.generation = 0
        #: Set once revocations reach this cache (the listener's first LISTEN is in place).
        self.listening = threading.Event()

    def get(self, credentials: Credentials) -> tuple[bool, Principal | None]:
        """``(True, principal)`` on a fresh hit (the principal may be None: unknown key)."""
        hit = self._entries.get(credentials.key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def put(
        self, credentials: Credentials, principal: Principal | None, generation: int | None = None
    ) -> None:
        """Keep a lookup; not when access changed since it began (``generation``)."""
        if generation is not None and generation != self.generation:
            return
        if len(self._entries) > MAX_ENTRIES:
            self._entries.clear()
        self._entries[credentials.key] = (time.monotonic(), principal)

    def clear(self) -> None:
        """Forget every lookup (a table of callers emptied, a missed notification, or tests
        changing principals behind the service's back)."""
        self.generation += 1
        self._entries.clear()

    def forget(self, kind: str, token: str) -> None:
        """Drop one lookup at once (a session that was just ended here)."""
        self.drop(kind, hash_key(token))

    def drop(self, kind: str, digest: str) -> None:
        """Drop the entry of one key or session, by the hash the database stores."""
        self.generation += 1
        self._entries.pop((kind, digest), None)

    def drop_principal(self, principal_id: int) -> None:
        """Drop every entry resolved to this principal (its rights or one of its keys
        changed). A scan, but only on such a change, never per request; entries cached as
        unknown stay, which can only refuse a little longer (fail closed)."""
        self.generation += 1
        for key in [k for k, (_, p) in self._entries.items() if p is not None and p.id == principal_id]:
            del self._entries[key]

    def invalidate(self, payload: str) -> None:
        """Apply one notification; anything not understood empties the whole cache."""
        what, _, value = payload.partition(":")
        if what in ("sessie", "sleutel") and value:
            self.drop(what, value)
        elif what == "principal" and value.isdigit():
            self.drop_principal(int(value))
        else:
            self.clear()


class RevocationListener:
    """A thread that LISTENs on :data:`CHANNEL` and applies each notification to the cache.

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

    def _on_loop(self, payload: str, connected: bool = False) -> None:
        """Hand a notification (or ``*`` on a (re)connect) to the event loop, which owns
        the cache."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._apply, payload, connected)

    def _apply(self, payload: str, connected: bool) -> None:
        self.cache.invalidate(payload)
        if connected:
            self.cache.listening.set()

    def _run(self) -> None:
        reported = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_loop("*", connected=True)
                    if reported:
                        log.warning("revocation listener connected again")
                        reported = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._on_loop(note.payload)
            except psycopg.Error as exc:
                self.cache.listening.clear()
                if not reported:  # one line per outage, not one per retry
                    log.warning("revocation listener lost its connection (%s); cache TTL applies", exc)
                    reported = True
                self._stop.wait(self.retry_s)
