"""The audit trail: one row per access to non-open data, denials included.

How it is guaranteed rather than hoped for:

* the access gate (:mod:`app.access`) opens an :class:`AuditEntry` for every request on a
  route that is not open, before any check can fail, so denials are recorded too;
* a data route reads through :func:`audited_read`, which writes the row with the count and
  ids it served *in the same transaction as the read*: if the row cannot be written the
  read is rolled back and the client gets a 503, never the data;
* :class:`AuditMiddleware` holds back the start of every response on such a route until its
  row is written (errors, denials, and data routes that answered without reading); if that
  write fails the response becomes a 503;
* refusals given in front of the routes (a body too large, a NUL in the address) are
  recorded by :func:`record_refusal` when they were meant for an audited route.

A row says the status actually sent: a one-row read that finds nothing is written with
the status it ends in (a single feature: 404), and an answer that ends otherwise than its
row says (an error after the read) gets a row of its own with that status. A
``304 Not Modified`` discloses nothing new and is not recorded, nor is a ``503`` (the
database that holds the trail is what failed; the service log records it).

What a caller sends is bounded before it reaches a row: a purpose is kept only when it is
one of the principal's own (so a key pasted into ``X-Doel`` is never stored) and every
text is cut to :data:`MAX_TEXT` characters (the trigger cuts again, migration 0006). Rows
go to the append-only, hash-chained ``audit_log``; the api role may only insert the
columns that describe a request (the server sets id, time, chain and hashes). The trigger
gives each writing transaction a chain of its own (migration 0016), so concurrent
requests do not wait for each other's commit; the row is chained before it commits, and
it commits before the answer leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Connection, Engine, Row, text
from sqlalchemy.exc import DBAPIError
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics, replica_reads
from app.errors import ProblemError, problem
from core import db
from core.security import Principal, principal_for_key
from core.sessions import SESSION_COOKIE, principal_for_session

if TYPE_CHECKING:
    from app.async_reads import AsyncReads
    from app.audit_batch import AuditBatch  # it imports this module

log = logging.getLogger("okaart.audit")

STATE_KEY = "okaart_audit"
#: Answers that disclose nothing and are not recorded: 304 (nothing new) and 503 (the
#: database, which holds the trail, is what failed; the service log has them).
UNRECORDED = {304, 503}
#: Ids beyond this many are recorded as a count only (a page holds at most 1,000).
MAX_IDS = 1000
#: Longest text kept in a column of a row (the same bound as the trigger's, migration 0006).
MAX_TEXT = 256


#: When the row of an already computed response cannot be written.
UNAVAILABLE = "het toegangslogboek kan nu niet worden bijgewerkt; probeer het later opnieuw"
NO_TRAIL_NO_DATA = (
    "het toegangslogboek kan nu niet worden bijgewerkt; daarom worden geen gegevens geleverd. "
    "Probeer het later opnieuw."
)


class AuditUnavailableError(ProblemError):
    status = 503
    title = "Dienst tijdelijk niet beschikbaar"


@dataclass
class AuditEntry:
    """What one request touched; filled in as the request is handled."""

    methode: str
    route: str
    client: str | None
    principal: Principal | None = None
    #: Data routes are recorded whatever the outcome; other gated routes only on denial.
    data: bool = False
    doel: str | None = None
    laag: str | None = None
    gebied: str | None = None
    bbox: str | None = None
    object_ids: list[str] | None = None
    aantal: int | None = None
    #: The status the trail already accounts for: a row written with it, or a refusal
    #: (503) for which no row could be written. None: nothing yet.
    accounted: int | None = None
    #: Answered in front of the app (a refusal of :func:`record_refusal`): whatever the
    #: app still sends is dropped, and needs no row.
    closed: bool = False

    def params(self, status: int) -> dict[str, Any]:
        """The row's values, bounded: only a purpose the principal holds, short texts."""
        p = self.principal
        doel = self.doel if p is not None and self.doel is not None and p.allows_doel(self.doel) else None
        return {
            "principal_id": p.id if p else None,
            "principal": cut(p.naam) if p else None,
            "organisatie": cut(p.organisatie) if p else None,
            "rol": cut(p.rol) if p else None,
            "doel": cut(doel),
            "methode": cut(self.methode),
            "route": cut(self.route),
            "laag": cut(self.laag),
            "gebied": cut(self.gebied),
            "bbox": cut(self.bbox),
            "object_ids": self.object_ids,
            "aantal": self.aantal,
            "status": status,
            "client": cut(self.client),
        }


def cut(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """At most ``limit`` characters, the last one an ellipsis when something was left out."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


#: The audit columns bound from the entry, with their types (a bound NULL needs one).
_BOUND = (
    ("principal_id", "bigint"), ("principal", "text"), ("organisatie", "text"), ("rol", "text"),
    ("doel", "text"), ("methode", "text"), ("route", "text"), ("laag", "text"), ("gebied", "text"),
    ("bbox", "text"), ("status", "integer"), ("client", "text"),
)  # fmt: skip
#: Every column of a row written from an entry, in the order of its parameters.
ROW_COLUMNS = (*_BOUND, ("aantal", "integer"), ("object_ids", "text[]"))
_COLUMNS = ", ".join(name for name, _ in ROW_COLUMNS)
INSERT = text(
    f"INSERT INTO audit_log ({_COLUMNS}) VALUES ("
    + ", ".join(f"CAST(:{name} AS {kind})" for name, kind in _BOUND)
    + ", :aantal, :object_ids)"
)
#: The same row, filled from a read ``r`` with columns ``aantal`` and ``ids`` (see
#: :func:`audited_one`); the status 200, or ``:audit_empty`` when the read found nothing.
_FROM_READ = (
    f"INSERT INTO audit_log ({_COLUMNS}) SELECT "
    + ", ".join(
        "CASE WHEN r.aantal = 0 THEN CAST(:audit_empty AS integer) ELSE 200 END"
        if name == "status"
        else f"CAST(:audit_{name} AS {kind})"
        for name, kind in _BOUND
    )
    + ", r.aantal, r.ids FROM r"
)


def open_entry(request: Request, route: str, *, data: bool) -> AuditEntry:
    """Start the request's entry (called by the access gate before any check)."""
    state = request.scope.setdefault("state", {})
    previous = state.get(STATE_KEY)
    entry = AuditEntry(
        methode=request.method,
        route=route,
        client=request.client.host if request.client else None,
        data=data,
        # Already refused in front of the app: what it sends now is dropped.
        closed=isinstance(previous, AuditEntry) and previous.closed,
    )
    state[STATE_KEY] = entry
    return entry


def entry_of(request: Request) -> AuditEntry | None:
    state = request.scope.get("state") or {}
    found = state.get(STATE_KEY)
    return found if isinstance(found, AuditEntry) else None


def note(
    request: Request,
    *,
    aantal: int | None = None,
    ids: Sequence[str] | None = None,
    gebied: str | None = None,
    bbox: str | None = None,
) -> None:
    """Record what the request served (ids only up to :data:`MAX_IDS`)."""
    entry = entry_of(request)
    if entry is None:
        return
    if aantal is not None:
        entry.aantal = aantal
    if ids is not None:
        entry.object_ids = audit_ids(ids)
        if entry.aantal is None:
            entry.aantal = len(ids)
    if gebied is not None:
        entry.gebied = gebied
    if bbox is not None:
        entry.bbox = bbox


def audit_ids(ids: Sequence[str]) -> list[str] | None:
    """The ids as a row records them: each cut, none at all beyond :data:`MAX_IDS`."""
    return [cut(str(i)) or "" for i in ids] if len(ids) <= MAX_IDS else None


def write(conn: Connection, entry: AuditEntry, status: int) -> None:
    with metrics.audit_write():
        conn.execute(INSERT, entry.params(status))
    entry.accounted = status


@contextmanager
def audited_read(request: Request, engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction whose audit row (status 200) commits with the read.

    Call :func:`note` inside the block with what was served. Without an entry (an open
    route) this is a plain transaction.
    """
    entry = entry_of(request)
    replica = replica_reads.begin(request)  # a read on a streaming replica, if one is usable
    if replica is not None:
        with replica_reads.then_record(request, replica) as conn:
            yield conn
        return
    with engine.connect() as conn, conn.begin():
        yield conn
        if entry is not None:
            try:
                write(conn, entry, 200)
            except DBAPIError as exc:
                raise _refused(entry, exc) from exc


def audited_one(
    request: Request,
    engine: Engine,
    sql: str,
    params: dict[str, Any],
    *,
    empty_status: int = 200,
    runs: Sequence[int] = (),
) -> Row[Any]:
    """Run a one-row read (with columns ``aantal`` and ``ids``) and insert its audit row in
    the same statement, so both commit together in one implicit transaction and one round
    trip. The lock of the row's chain is then held only inside the server, for the insert
    and the commit, never across a round trip to a busy Python worker; with a chain per
    concurrent writer (migration 0016) this keeps the hash-chained trail from serialising
    the tile traffic.

    ``empty_status`` is the status the caller answers when the read finds nothing (a
    single feature: 404): the row records that, not a 200 the client never got. ``runs``: the
    ingest runs the answer is keyed by (a cached tile); a replica that has not replayed them
    is not read (app/replica_reads.py).
    """
    entry = entry_of(request)
    if (replicated := replica_reads.one(request, sql, params, empty_status, runs)) is not None:
        return replicated  # read on a replica, its row committed on the primary first
    if entry is None:
        return db.one_row(engine, sql, params)
    wrapped, bound = with_row(entry, sql, params, empty_status)
    try:
        row = db.one_row(engine, wrapped, bound)
    except DBAPIError as exc:
        refuse_if_unrecorded(entry, exc)
        raise  # a timeout or a broken connection: the error handlers answer
    accounted(entry, row, empty_status)
    return row


async def audited_one_async(
    request: Request,
    reads: AsyncReads,
    sql: str,
    params: dict[str, Any],
    *,
    empty_status: int = 200,
    generic: bool = False,
) -> Any:
    """:func:`audited_one` on the event loop (app/async_reads.py): the same statement, the
    same row, the same errors. The caller makes sure ``reads`` is usable and no replica is
    configured. ``generic``: see ``AsyncReads.one``."""
    entry = entry_of(request)
    if entry is None:
        return await reads.one(sql, params, generic=generic)
    wrapped, bound = with_row(entry, sql, params, empty_status)
    try:
        row = await reads.one(wrapped, bound, generic=generic)
    except DBAPIError as exc:
        refuse_if_unrecorded(entry, exc)
        raise
    accounted(entry, row, empty_status)
    return row


def with_row(
    entry: AuditEntry, sql: str, params: dict[str, Any], empty_status: int
) -> tuple[str, dict[str, Any]]:
    """The read ``sql`` with the insert of its audit row, and their parameters."""
    wrapped = f"WITH r AS ({sql}), a AS ({_FROM_READ} RETURNING 1) SELECT r.* FROM r"
    bound = {f"audit_{k}": v for k, v in entry.params(200).items() if k != "status"}
    return wrapped, {**params, **bound, "audit_empty": empty_status}


def refuse_if_unrecorded(entry: AuditEntry, exc: DBAPIError) -> None:
    """Raise the audit refusal when it was the row that could not be inserted."""
    if "audit_log" in str(exc.orig):
        raise _refused(entry, exc) from exc


def accounted(entry: AuditEntry, row: Any, empty_status: int) -> None:
    """Note on the entry what the read's row served (its row is committed with it)."""
    entry.accounted = empty_status if row.aantal == 0 else 200
    entry.aantal, entry.object_ids = row.aantal, list(row.ids) if row.ids is not None else None


def record_now(request: Request, writer: AuditBatch, *, aantal: int, ids: Sequence[str] | None) -> None:
    """The audit row of an answer served without a read (a cached tile), committed by the
    process's audit writer (app/audit_batch.py) before this returns."""
    entry = entry_of(request)
    if entry is None:
        return
    note(request, aantal=aantal, ids=ids)
    commit_row(writer, entry, 200)


def commit_row(writer: AuditBatch, entry: AuditEntry, status: int) -> None:
    """The row, committed (in a batch with whatever other rows wait: one round trip and one
    commit for all), or the audit refusal (503): a read served without its row in the same
    statement (a cached tile, a read on a replica) sends nothing before this returns. From a
    worker thread; on the event loop use :func:`commit_row_async`."""
    try:
        writer.write(entry, status)
    except Exception as exc:
        raise _refused(entry, exc) from exc


async def commit_row_async(writer: AuditBatch, entry: AuditEntry, status: int) -> None:
    """:func:`commit_row` on the event loop, which stays free while the batch commits."""
    try:
        await writer.write_async(entry, status)
    except Exception as exc:
        raise _refused(entry, exc) from exc


def _write_alone(engine: Engine, entry: AuditEntry, status: int) -> None:
    """The row on its own, one statement in autocommit: one round trip."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        write(conn, entry, status)


def _refused(entry: AuditEntry, exc: Exception) -> AuditUnavailableError:
    """No row, no data: the request ends in a 503 (and the middleware does not try again)."""
    entry.accounted = AuditUnavailableError.status
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    log.error("audit row could not be written; refusing the response: %s", reason)
    return AuditUnavailableError(NO_TRAIL_NO_DATA)


def _needs_row(entry: AuditEntry, status: int) -> bool:
    """Whether an answer with ``status`` still needs a row of its own."""
    if entry.closed or status in UNRECORDED or entry.accounted == status:
        return False
    # Recorded already with another status (an error after the read): the answer sent
    # gets its own row. Not recorded yet: data routes always, the others when denied.
    return entry.accounted is not None or entry.data or status >= 400


class AuditMiddleware:
    """Holds each gated response until its audit row is written (pure ASGI, no buffering
    of bodies: only the start message waits)."""

    def __init__(self, app: ASGIApp, engine_of: Any) -> None:
        self.app = app
        self.engine_of = engine_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                entry = scope["state"].get(STATE_KEY)
                status = int(message["status"])
                if isinstance(entry, AuditEntry) and _needs_row(entry, status):
                    try:
                        await anyio.to_thread.run_sync(_write_alone, self.engine_of(scope), entry, status)
                    except Exception as exc:
                        log.error("audit row could not be written; answering 503: %s", exc)
                        replaced = True
                        await _unavailable(scope, receive, send)
                        return
            await send(message)

        await self.app(scope, receive, guarded_send)


async def record_refusal(scope: Scope, receive: Receive, send: Send, status: int) -> bool:
    """Record a refusal given in front of the routes (a 413, a NUL's 400) when the request
    was meant for an audited route; False, after answering 503, when that row cannot be
    written (the refusal then is not sent: no answer leaves without its row).

    The route is matched here and the caller looked up from its key or session, because
    neither the router nor the access gate ran: such a row is as complete as one the gate
    opened. A request for a route that does not exist, or an open one, has no row.
    """
    state = scope.setdefault("state", {})
    entry = state.get(STATE_KEY)
    if isinstance(entry, AuditEntry):  # the gate ran (a body read inside the route)
        credentials = None
    else:
        entry = _entry_for_unrouted(scope)
        if entry is None:
            return True
        state[STATE_KEY] = entry
        credentials = _credentials(scope)
    needed = _needs_row(entry, status)
    entry.closed = True
    if not needed:
        return True
    try:
        engine = scope["app"].state.services.engine
        await anyio.to_thread.run_sync(_record_with_caller, engine, entry, status, credentials)
    except Exception as exc:
        log.error("audit row could not be written; answering 503: %s", exc)
        entry.accounted = AuditUnavailableError.status
        await _unavailable(scope, receive, send)
        return False
    return True


def _entry_for_unrouted(scope: Scope) -> AuditEntry | None:
    """An entry for a request the router has not seen yet, if its route is audited.

    Matched on path and method against every API route, wherever it was included (the
    router's own matching also dispatches, so it is not called here).
    """
    from app.access import rule_of  # the gate's own reading of the rule; it imports this module

    path, method = str(scope.get("path", "")), str(scope.get("method", ""))
    for context in iter_route_contexts(scope["app"].routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or method not in (route.methods or ()):
            continue  # static files and the like: the gate never sees them either
        template = context.path or route.path
        if compile_path(template)[0].match(path) is None:
            continue
        toegang = rule_of(route)
        if toegang == "open":
            return None
        client = scope.get("client")
        return AuditEntry(
            methode=method,
            route=template,
            client=client[0] if client else None,
            data=toegang == "gegevens",
        )
    return None


def _credentials(scope: Scope) -> tuple[str, str] | None:
    """(kind, token) from ``Authorization: Bearer`` or the session cookie, as the gate reads them."""
    headers = {k.lower(): v for k, v in scope.get("headers", [])}
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "sleutel", token.strip()
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return "sessie", value
    return None


def _record_with_caller(
    engine: Engine, entry: AuditEntry, status: int, credentials: tuple[str, str] | None
) -> None:
    """Look the caller up and write the row, on one connection in one transaction."""
    with engine.connect() as conn, conn.begin():
        if credentials is not None:
            kind, token = credentials
            entry.principal = (
                principal_for_session(conn, token) if kind == "sessie" else principal_for_key(conn, token)
            )
        write(conn, entry, status)


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    await problem(503, UNAVAILABLE, title=AuditUnavailableError.title, headers={"Retry-After": "5"})(
        scope, receive, send
    )
