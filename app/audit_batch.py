"""Group commit of audit rows: the rows of many requests in one INSERT and one commit.

A cached tile or a read on a replica has its data in memory already; what it waits for is
its audit row, committed on the primary before the answer leaves (DESIGN: no data leaves
before its audit row is committed). Written one by one, each row costs a connection, a
round trip and a commit (a WAL flush) of its own, and those commits, not the answers,
became what a cached tile cost. Here the requests hand their rows to one writer per
process:

* the writer takes every row waiting (at most :data:`MAX_ROWS`) and writes them as one
  multi-row ``INSERT`` in one transaction: one round trip, one commit, one chain lock;
* a lone row is written at once: the writer never waits for a batch to fill, so a quiet
  service answers as fast as before; rows that arrive while a batch commits form the next
  batch, so batches grow with the load by themselves (group commit);
* each request waits until *its* batch has committed; if that commit fails, every request
  of the batch fails with the audit refusal (503, no data), as a lone row's would.

The rows are sealed by the same trigger as always (migration 0016): within one statement
each row sees the rows inserted before it, so the batch's rows are chained one after the
other in the one chain the transaction holds, and ``okaart audit verify`` proves exactly
what it proved of rows written one by one.

Callers on the event loop await :meth:`AuditBatch.write_async`; callers in a worker thread
(a route run in the thread pool) call :meth:`AuditBatch.write`. The writer is a thread with
a connection of the app's own (synchronous) engine, held from batch to batch (no checkout
and no pre-ping per batch; after a failed batch it takes a fresh one), started on first use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app import audit, metrics  # modules: app.audit's imports reach this one

if TYPE_CHECKING:
    from app.audit import AuditEntry

log = logging.getLogger("okaart.audit")

#: Most rows in one INSERT (14 parameters each: 7,000 per statement, well under the
#: protocol's 65,535).
MAX_ROWS = 500


@functools.lru_cache(maxsize=64)
def insert_sql(rows: int) -> str:
    """``INSERT INTO audit_log (...) VALUES (...), (...)`` for ``rows`` rows, with positional
    placeholders (sent as it is to the driver: no SQL text to parse per batch)."""
    one = "(" + ", ".join(f"CAST(%s AS {kind})" for _, kind in audit.ROW_COLUMNS) + ")"
    names = ", ".join(name for name, _ in audit.ROW_COLUMNS)
    return f"INSERT INTO audit_log ({names}) VALUES " + ", ".join([one] * rows)


def _values(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    names = [name for name, _ in audit.ROW_COLUMNS]
    return tuple(row[name] for row in rows for name in names)


@dataclass(slots=True)
class _Pending:
    """One request's row and how to tell it that its batch committed (or failed)."""

    params: dict[str, Any]
    #: For a caller in a thread.
    done: concurrent.futures.Future[None] | None = None
    #: For a caller on an event loop: resolved on that loop.
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[None] | None = None


@dataclass
class AuditBatch:
    """The process's audit writer; ``max_rows`` per INSERT."""

    engine: Engine
    max_rows: int = MAX_ROWS
    #: Start the writer on first use (tests queue rows first to see them in one batch).
    autostart: bool = True
    #: Batches and rows written, for tests and the benchmark.
    batches: int = 0
    rows: int = 0
    _queue: queue.SimpleQueue[_Pending | None] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, entry: AuditEntry, status: int) -> None:
        """Write the row and wait for its commit (from a worker thread). Raises what the
        commit raised."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._put(_Pending(entry.params(status), done=done))
        done.result()
        entry.accounted = status

    async def write_async(self, entry: AuditEntry, status: int) -> None:
        """Write the row and wait for its commit (on the event loop, which stays free)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._put(_Pending(entry.params(status), loop=loop, waiter=waiter))
        await waiter
        entry.accounted = status

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="okaart-audit-batch", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the writer after the rows already handed to it."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _put(self, pending: _Pending) -> None:
        self._queue.put(pending)
        if self.autostart and self._thread is None:
            self.start()

    def _run(self) -> None:
        conn: Connection | None = None  # held between batches: no checkout, no pre-ping
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stopping = [first], False
                while len(batch) < self.max_rows:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                error: BaseException | None = None
                rows = [p.params for p in batch]
                try:
                    try:
                        conn = conn or self._connect()
                        self._insert(conn, rows)
                    except DBAPIError as exc:
                        if not exc.connection_invalidated:
                            raise
                        # The held connection had gone (a restart, an idle timeout): once
                        # more on a fresh one. Should the commit have happened just before
                        # it went, the rows are there twice: the trail over-records, never under.
                        _discard(conn)
                        conn = self._connect()
                        self._insert(conn, rows)
                except Exception as exc:  # every request of the batch is refused
                    log.error("a batch of %d audit rows could not be committed: %s", len(batch), exc)
                    error = exc
                    _discard(conn)  # a fresh connection for the next batch
                    conn = None
                _settle(batch, error)
                if stopping:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> Connection:
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """One statement in autocommit: one round trip, one commit."""
        with metrics.audit_write():
            conn.exec_driver_sql(insert_sql(len(rows)), _values(rows))
        self.batches += 1
        self.rows += len(rows)


def _discard(conn: Connection | None) -> None:
    """Close a connection that failed, never handing it back to the pool as it is."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.invalidate()
            conn.close()


def _settle(batch: list[_Pending], error: BaseException | None) -> None:
    """Tell each request of the batch; those on an event loop in one call per loop."""
    waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
    for pending in batch:
        if pending.done is not None:
            if error is None:
                pending.done.set_result(None)
            else:
                pending.done.set_exception(error)
        elif pending.loop is not None and pending.waiter is not None:
            waiting[pending.loop].append(pending.waiter)
    for loop, waiters in waiting.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_wake, waiters, error)


def _wake(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if waiter.done():  # its request was cancelled (the client went away)
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
