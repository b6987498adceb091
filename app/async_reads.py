"""The early paths' one-row reads on the event loop, on psycopg's own async connections.

An items page and an uncached tile answered early (app/items_early.py, app/tile_hits.py) ran
their one statement in a worker thread through SQLAlchemy: the hop to the thread and back, the
engine's checkout, its text compilation and result wrapping, and the thread's contention for
the interpreter lock with the event loop cost about as much Python CPU as the rest of the
answer (issue 16: items at 0.74x MapServer, CPU per answer 3.5 against 2.9 ms). Here the same
statement runs from the event loop on an :class:`psycopg_pool.AsyncConnectionPool`, with no
thread and no SQLAlchemy in between.

What stays the same as the engine's way, so either path sends the same thing:

* the connections: same database, same role, the engine's own set-up statements
  (``core.db.session_of``: role, statement timeout, custom plans), autocommit, a recycle age;
* the statement: the SQL as ``sqlalchemy.text`` reads it (``:name`` parameters, ``::`` casts,
  ``\\:`` for a colon), turned into psycopg's ``%(name)s`` once per text;
* the errors: a psycopg error is raised as SQLAlchemy would wrap it, so the error handlers
  answer it exactly as for the engine (app/errors.py: the 503s); when this pool has no
  connection to give, the engine runs the statement (and fails as it always did when the
  database is away).

It is only used where it is bound to the running loop (opened in the app's lifespan) and no
replica is configured (reads on a replica keep app/replica_reads.py); otherwise the callers
take the engine's way.
"""

from __future__ import annotations

import asyncio
import functools
import re
import select
from typing import Any

import anyio
import psycopg
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from core import db
from core.settings import Settings

#: Seconds background reconnects keep trying before a waiting request starts a new attempt.
RECONNECT_S = 2.0
#: A bound parameter as ``sqlalchemy.text`` finds one: a colon not after a colon, a word
#: character or a backslash, and a name not followed by another colon.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@functools.lru_cache(maxsize=1024)
def psycopg_sql(sql: str) -> str:
    """``sql`` in psycopg's parameter style, read as ``sqlalchemy.text`` reads it."""
    escaped = sql.replace("%", "%%")
    return _BIND.sub(r"%(\1)s", escaped).replace("\\:", ":")


class AsyncReads:
    """A pool of async connections to the engine's database, set up as its connections are;
    the engine itself when the pool has no connection to give."""

    def __init__(self, engine: Engine, session: db.Session, settings: Settings) -> None:
        self.engine = engine
        self.session = session
        self.settings = settings
        self.url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pool, self.generic = self._pools()
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Whether the pools were ever opened: a closed pool cannot open again, and an app's
        #: lifespan can run more than once (a test client entered twice).
        self.opened = False

    def _pools(self) -> tuple[AsyncConnectionPool, AsyncConnectionPool]:
        """The pool planning every run, and the pool on generic plans for the statements
        that are safe on one (:meth:`one`)."""
        slots = min(self.settings.slots_per_worker(), self.settings.pool_size)
        generic = self.session.statements(plans="force_generic_plan")
        return (
            self._pool(self.url, self.session.statements(), self.settings, slots, "okaart-async"),
            self._pool(self.url, generic, self.settings, 1, "okaart-async-generic"),
        )

    @staticmethod
    def _pool(
        url: str, statements: tuple[str, ...], settings: Settings, min_size: int, name: str
    ) -> AsyncConnectionPool:
        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            for statement in statements:
                await conn.execute(statement)

        return AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=settings.pool_size,
            timeout=settings.pool_timeout_s,
            max_lifetime=600.0,  # as the engine's pool_recycle
            configure=configure,
            kwargs={"autocommit": True, "connect_timeout": 2},
            open=False,
            name=name,
            # Background reconnects back off up to this long before giving up; after that a
            # request that finds no connection starts a new attempt at once. Short, so a
            # database that is back is used again within seconds.
            reconnect_timeout=RECONNECT_S,
        )

    @classmethod
    def for_engine(cls, engine: Engine, settings: Settings) -> AsyncReads | None:
        """The pool for ``engine``, or None when its connections' set-up is not known (an
        engine not made by ``core.db.make_engine``) or it is turned off."""
        session = db.session_of(engine)
        if session is None or not settings.async_reads:
            return None
        return cls(engine, session, settings)

    async def open(self) -> None:
        """Open on the running loop (the app's lifespan); connections are made in the
        background, so a database that is down does not keep the service from starting."""
        if self.opened:
            self.pool, self.generic = self._pools()
        self.opened = True
        for pool in (self.pool, self.generic):
            await pool.open(wait=False)
        self.loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self.loop = None
        for pool in (self.pool, self.generic):
            await pool.close()

    def usable(self) -> bool:
        """Open, on this loop (a test client without its lifespan runs each request on a
        loop of its own: the engine's way serves it)."""
        try:
            return self.loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    async def one(self, sql: str, params: dict[str, Any], *, generic: bool = False) -> Any:
        """The statement's one row (attributes by column name), or the error SQLAlchemy
        would have raised for it.

        ``generic``: on a connection that runs a prepared statement on one generic plan
        instead of planning it for every run's values (psycopg prepares a statement after
        five runs on a connection). Planning was a third of an items page's PostgreSQL CPU.
        Only for statements whose every plan scans the same way whatever the values: a
        page that counts its whole box in its own scan (``layer_sql.geojson_features``)
        reads every row in the box, so its plan is the box's index scan for any box. The
        engine's connections plan every run (core/db.py): a generic plan of a bbox over the
        indicator view took 600 ms.

        A connection the server has ended while it sat in the pool (a restart, a failover,
        ``pg_terminate_backend``) is closed and the next one taken. When the pool has no
        connection to give within ``pool_timeout_s`` (the database away, or still
        reconnecting after it came back), the engine's way answers: it connects on demand,
        so the request gets what it got before this pool existed (the row, or its 503)."""
        pool = self.generic if generic else self.pool
        for _ in range(pool.max_size + 1):
            try:
                async with pool.connection() as conn:
                    if _ended(conn):
                        await conn.close()  # the pool replaces a closed connection
                        continue
                    cursor = conn.cursor(row_factory=namedtuple_row)
                    await cursor.execute(psycopg_sql(sql), params)
                    row = await cursor.fetchone()
            except PoolTimeout:
                break
            except psycopg.Error as exc:
                raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
            if row is None:
                raise DBAPIError.instance(sql, params, psycopg.ProgrammingError("no row"), psycopg.Error)
            return row
        return await anyio.to_thread.run_sync(db.one_row, self.engine, sql, params)


def _ended(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server ended this idle connection: its last words (an error, the end of
    the stream) wait on the socket. Asked without a round trip: the engine pings neither."""
    if conn.closed:
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)
