"""Audited reads on a streaming replica: the data from the replica, the row on the primary.

On the primary a read and its audit row share one statement (``app.audit.audited_one``), so
both commit or neither does. A replica cannot take the row (it is read-only, and the trail
lives on the primary), so the two are split, in this order:

1. the read runs on the replica; its result stays in this process;
2. the audit row, with the count and ids actually read, is written on the primary and
   committed (by the process's audit writer, app/audit_batch.py: in one INSERT and one
   commit with the other rows waiting then);
3. only then does the route build and send its answer.

No data leaves before its row is committed on the primary: when step 2 fails the request ends
in the same 503 as on the primary alone, and what was read is dropped. The row records what
was served, as on the primary (the same ids, 404 for a feature not found). A read that fails
on the replica because the replica is gone is repeated on the primary; an error inside the
block of :func:`then_record` ends the request as it would on the primary, and the access
middleware writes its row with the status sent, as today.

A replica is only used when the request has an audit entry (every data route has one) and
:class:`core.replica.ReplicaSet` finds it current; everything else reads on the primary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Row, text
from sqlalchemy.exc import DBAPIError

from app import audit
from app import services as app_services  # a module: app.services imports this one's importers
from core.domain import RunStatus
from core.replica import ReplicaSet, retry_on_primary


def _replicas(request: Request) -> ReplicaSet | None:
    return app_services.services_of(request.app).replicas


#: Whether the replica has replayed the ingest runs an answer is keyed by, asked in the
#: read's own statement (one snapshot): true means the read saw their data.
_REPLAYED = (
    "SELECT r.*, (SELECT count(*) FROM ingest_run WHERE id = ANY(:replica_runs) AND status = :replica_ok)"
    " = cardinality(CAST(:replica_runs AS bigint[])) AS replica_replayed FROM ({sql}) r"
)


def one(
    request: Request, sql: str, params: dict[str, Any], empty_status: int, runs: Sequence[int] = ()
) -> Row[Any] | None:
    """A one-row read (columns ``aantal`` and ``ids``) on a replica, its row then committed on
    the primary; None when no replica is usable or it turned out to be gone (read on the
    primary then). Raises the audit refusal (503) when the row cannot be written.

    ``runs``: the ingest runs whose data the answer is keyed by (a tile's ETag and cache key,
    app/dataversion.py). A replica within its allowed lag may not have replayed the newest of
    them yet; what it read then is older than the key says, and cached under that key it would
    be served until the next ingest. So the read also asks, in the same snapshot, whether the
    replica holds those runs, and is done again on the primary (before any row is written)
    when it does not."""
    replicas, entry = _replicas(request), audit.entry_of(request)
    if replicas is None or entry is None:
        return None
    engine = replicas.pick()
    if engine is None:
        return None
    if runs:
        sql = _REPLAYED.format(sql=sql)
        params = {**params, "replica_runs": list(runs), "replica_ok": RunStatus.GESLAAGD}
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(text(sql), params).one()
    except DBAPIError as exc:
        if not retry_on_primary(exc):
            raise
        replicas.mark_down(engine, exc)
        return None
    if runs and not row.replica_replayed:
        return None  # behind the answer's data version: the primary reads it
    entry.aantal, entry.object_ids = row.aantal, list(row.ids) if row.ids is not None else None
    writer = app_services.services_of(request.app).audit_batch
    audit.commit_row(writer, entry, empty_status if row.aantal == 0 else 200)
    return row


def begin(request: Request) -> Connection | None:
    """A connection to a usable replica, in a transaction that has answered once (so a
    replica that went away since its last check is found here, where the primary can still
    take over); None: read on the primary."""
    replicas = _replicas(request)
    if replicas is None or audit.entry_of(request) is None:
        return None
    engine = replicas.pick()
    if engine is None:
        return None
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        if not retry_on_primary(exc):
            raise
        replicas.mark_down(engine, exc)
        return None
    try:
        conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        conn.close()
        if not retry_on_primary(exc):
            raise
        replicas.mark_down(engine, exc)
        return None
    return conn


@contextmanager
def then_record(request: Request, conn: Connection) -> Iterator[Connection]:
    """The reads of the block on the replica connection from :func:`begin`; after the block
    the row (status 200) on the primary, committed before the route answers."""
    entry = audit.entry_of(request)
    try:
        with conn:
            yield conn
    except DBAPIError as exc:
        replicas = _replicas(request)
        if replicas is not None and retry_on_primary(exc):
            replicas.mark_down(conn.engine, exc)
        raise
    if entry is not None:
        audit.commit_row(app_services.services_of(request.app).audit_batch, entry, 200)
