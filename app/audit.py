"""The audit trail: one row per access to non-open data, denials included.

How it is guaranteed rather than hoped for:

* the access gate (:mod:`app.access`) opens an :class:`AuditEntry` for every request on a
  route that is not open, before any check can fail, so denials are recorded too;
* a data route reads through :func:`audited_read`, which writes the row with the count and
  ids it served *in the same transaction as the read*: if the row cannot be written the
  read is rolled back and the client gets a 503, never the data;
* :class:`AuditMiddleware` holds back the start of every response on such a route until its
  row is written (errors, denials, and data routes that answered without reading); if that
  write fails the response becomes a 503.

A ``304 Not Modified`` discloses nothing new and is not recorded, nor is a ``503`` (the
database that holds the trail is what failed; the service log records it). Rows go to the
append-only, hash-chained ``audit_log`` (migration 0001); the api role may only insert.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request
from sqlalchemy import Connection, Engine, Row, text
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ProblemError, problem
from core.security import Principal

log = logging.getLogger("okaart.audit")

STATE_KEY = "okaart_audit"
#: Answers that disclose nothing and are not recorded: 304 (nothing new) and 503 (the
#: database, which holds the trail, is what failed; the service log has them).
UNRECORDED = {304, 503}
#: Ids beyond this many are recorded as a count only (a page holds at most 1,000).
MAX_IDS = 1000


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
    written: bool = False

    def params(self, status: int) -> dict[str, Any]:
        p = self.principal
        return {
            "principal_id": p.id if p else None,
            "principal": p.naam if p else None,
            "organisatie": p.organisatie if p else None,
            "rol": p.rol if p else None,
            "doel": self.doel,
            "methode": self.methode,
            "route": self.route,
            "laag": self.laag,
            "gebied": self.gebied,
            "bbox": self.bbox,
            "object_ids": self.object_ids,
            "aantal": self.aantal,
            "status": status,
            "client": self.client,
        }


#: The audit columns bound from the entry, with their types (a bound NULL needs one).
_BOUND = (
    ("principal_id", "bigint"), ("principal", "text"), ("organisatie", "text"), ("rol", "text"),
    ("doel", "text"), ("methode", "text"), ("route", "text"), ("laag", "text"), ("gebied", "text"),
    ("bbox", "text"), ("status", "integer"), ("client", "text"),
)  # fmt: skip
_COLUMNS = ", ".join(name for name, _ in _BOUND) + ", aantal, object_ids"
INSERT = text(
    f"INSERT INTO audit_log ({_COLUMNS}) VALUES ("
    + ", ".join(f"CAST(:{name} AS {kind})" for name, kind in _BOUND)
    + ", :aantal, :object_ids)"
)
#: The same row, filled from a read ``r`` with columns ``aantal`` and ``ids`` (see
#: :func:`audited_one`).
_FROM_READ = (
    f"INSERT INTO audit_log ({_COLUMNS}) SELECT "
    + ", ".join(f"CAST(:audit_{name} AS {kind})" for name, kind in _BOUND)
    + ", r.aantal, r.ids FROM r"
)


def open_entry(request: Request, route: str, *, data: bool) -> AuditEntry:
    """Start the request's entry (called by the access gate before any check)."""
    entry = AuditEntry(
        methode=request.method,
        route=route,
        client=request.client.host if request.client else None,
        data=data,
    )
    request.scope.setdefault("state", {})[STATE_KEY] = entry
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
        entry.object_ids = [str(i) for i in ids] if len(ids) <= MAX_IDS else None
        if entry.aantal is None:
            entry.aantal = len(ids)
    if gebied is not None:
        entry.gebied = gebied
    if bbox is not None:
        entry.bbox = bbox


def write(conn: Connection, entry: AuditEntry, status: int) -> None:
    conn.execute(INSERT, entry.params(status))
    entry.written = True


@contextmanager
def audited_read(request: Request, engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction whose audit row (status 200) commits with the read.

    Call :func:`note` inside the block with what was served. Without an entry (an open
    route) this is a plain transaction.
    """
    entry = entry_of(request)
    with engine.connect() as conn, conn.begin():
        yield conn
        if entry is not None:
            try:
                write(conn, entry, 200)
            except DBAPIError as exc:
                raise _refused(entry, exc) from exc


def audited_one(request: Request, engine: Engine, sql: str, params: dict[str, Any]) -> Row[Any]:
    """Run a one-row read (with columns ``aantal`` and ``ids``) and insert its audit row in
    the same statement, so both commit together in one implicit transaction and one round
    trip. The chain's lock is then held only inside the server, for the insert and the
    commit, never across a round trip to a busy Python worker; this is what keeps the
    hash-chained trail from serialising the tile traffic.
    """
    entry = entry_of(request)
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as conn:
        if entry is None:
            return conn.execute(text(sql), params).one()
        wrapped = f"WITH r AS ({sql}), a AS ({_FROM_READ} RETURNING 1) SELECT r.* FROM r"
        bound = {f"audit_{k}": v for k, v in entry.params(200).items()}
        try:
            row = conn.execute(text(wrapped), {**params, **bound}).one()
        except DBAPIError as exc:
            if "audit_log" not in str(exc.orig):
                raise  # a timeout or a broken connection: the error handlers answer
            raise _refused(entry, exc) from exc
    entry.written = True
    entry.aantal, entry.object_ids = row.aantal, list(row.ids) if row.ids is not None else None
    return row


def record_now(request: Request, engine: Engine, *, aantal: int, ids: Sequence[str] | None) -> None:
    """The audit row of an answer served without a read (a cached tile), in one statement."""
    entry = entry_of(request)
    if entry is None:
        return
    note(request, aantal=aantal, ids=ids)
    try:
        _write_alone(engine, entry, 200)
    except DBAPIError as exc:
        raise _refused(entry, exc) from exc


def _write_alone(engine: Engine, entry: AuditEntry, status: int) -> None:
    """The row on its own, one statement in autocommit: one round trip."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        write(conn, entry, status)


def _refused(entry: AuditEntry, exc: DBAPIError) -> AuditUnavailableError:
    """No row, no data: the request ends in a 503 (and the middleware does not try again)."""
    entry.written = True
    log.error("audit row could not be written; refusing the response: %s", exc.orig)
    return AuditUnavailableError(NO_TRAIL_NO_DATA)


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
                if (
                    isinstance(entry, AuditEntry)
                    and not entry.written
                    and status not in UNRECORDED
                    and (entry.data or status >= 400)
                ):
                    try:
                        await anyio.to_thread.run_sync(_write_alone, self.engine_of(scope), entry, status)
                    except Exception as exc:
                        log.error("audit row could not be written; answering 503: %s", exc)
                        replaced = True
                        await problem(
                            503, UNAVAILABLE, title=AuditUnavailableError.title, headers={"Retry-After": "5"}
                        )(scope, receive, send)
                        return
            await send(message)

        await self.app(scope, receive, guarded_send)
