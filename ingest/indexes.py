"""Index maintenance around a bulk load: drop before, rebuild after (osm2pgsql's order).

A small load keeps every index and blocks nobody; a large one trades a short exclusive lock
for a sorted rebuild, which is several times cheaper than maintaining the indexes row by row.
The thresholds below are measured, not guessed; tests lower them to exercise the rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text

from ingest.base import INGEST_ROLE

#: A load that brings at least this many rows, and a fifth of the table, rebuilds the
#: secondary indexes afterwards instead of maintaining them row by row (osm2pgsql's
#: order: load, then index). Each GIST insert costs ~10 µs; a sorted rebuild of a million
#: points takes under 2 s.
BULK_MIN_ROWS = 50_000
#: Into an empty table nobody reads yet, so the rebuild pays off much sooner: 25,000
#: addresses are stored and indexed in 0.55 s instead of 1.1 s with their seven indexes
#: maintained row by row.
BULK_MIN_ROWS_EMPTY = 1_000


@contextmanager
def bulk_indexes(conn: Connection, table: str, incoming: int, empty: bool) -> Iterator[bool]:
    """Drop and rebuild the secondary indexes of ``table`` around a large load.

    Yields True when it rebuilds an empty table: then the primary key and unique constraints go
    too (the rows are already deduplicated; the foreign keys that point here are dropped
    and re-checked with them, which costs nothing as nothing can point into an empty
    table) and a plain INSERT replaces the upsert. A sorted index build is several times
    cheaper than a million random btree inserts; even the primary key's in-order inserts
    cost 3 s per million, its build 0.6 s. On a table with rows, unique indexes stay
    because ON CONFLICT needs them. The drop takes an exclusive lock for the rest of the
    transaction, so readers wait for a bulk load (on a first load also readers of the
    tables pointing here); small loads keep the indexes and block nobody. Index DDL needs
    the table owner, not the ingest role.
    """
    estimate = conn.execute(
        text("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": table},
    ).scalar_one()
    if incoming < (BULK_MIN_ROWS_EMPTY if empty else max(BULK_MIN_ROWS, 0.2 * estimate)):
        yield False
        return
    indexes = conn.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            " AND (NOT i.indisunique OR :empty)"
        ),
        {"t": table, "empty": empty},
    ).all()
    # (table, name, definition): the primary key before the unique constraints.
    constraints: Sequence[Any] = []
    references: Sequence[Any] = []
    if empty:
        constraints = conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u') ORDER BY contype, conname"
            ),
            {"t": table},
        ).all()
        references = conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE confrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conrelid::regclass::text"
            ),
            {"t": table},
        ).all()
    conn.execute(text("RESET ROLE"))
    for owner, name, _ in [*references, *constraints]:
        conn.execute(text(f"ALTER TABLE {owner} DROP CONSTRAINT {name}"))
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    conn.execute(text(f"SET LOCAL ROLE {INGEST_ROLE}"))
    yield empty
    conn.execute(text("RESET ROLE"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    for owner, name, definition in constraints:
        conn.execute(text(f"ALTER TABLE {owner} ADD CONSTRAINT {name} {definition}"))
    for _, definition in indexes:
        conn.execute(text(definition))
    for owner, name, definition in references:
        conn.execute(text(f"ALTER TABLE {owner} ADD CONSTRAINT {name} {definition}"))
    conn.execute(text(f"SET LOCAL ROLE {INGEST_ROLE}"))
