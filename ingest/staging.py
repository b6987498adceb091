"""Staging: the temporary table a run's good rows are COPYed into, and its quarantined rows.

Good rows of every batch stream into ``staging`` through one COPY; the SQL that follows
(matching, area assignment, upsert) reads them from there in bulk. Bad rows go whole, as
JSON, to ``ingest_reject`` with a reason, so an operator can see what was refused and why.
"""

from __future__ import annotations

import io
from contextlib import ExitStack
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, text

from ingest.base import SourceKind

RejectRow = tuple[int, int, str, str, bytes]  # run, row number, reason, explanation, row as JSON


def points_as_xy(kind: SourceKind[Any]) -> bool:
    """Points that are never replaced in staging travel as two numbers; the server makes
    the point. Encoding a million EWKB strings in Python costs 4 s, x and y nothing."""
    return kind.geometry == "point"


def create_staging(conn: Connection, kind: SourceKind[Any]) -> None:
    """The run's staging table: the kind's columns, its row numbers and its geometry."""
    cols = [f"{c.name} {c.sqltype}" for c in kind.columns]
    raw = ["_raw jsonb"] if kind.keeps_raw or kind.merge_same_key else []
    geom = (
        ["x double precision", "y double precision",
         "geom geometry(Point, 28992) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(x, y), 28992)) STORED"]
        if points_as_xy(kind)
        else ["geom geometry(Geometry, 28992)"]
    )  # fmt: skip
    conn.execute(
        text(
            "CREATE TEMP TABLE staging (_rij integer NOT NULL, "
            + ", ".join([*raw, *cols, *geom])
            + ") ON COMMIT DROP"
        )
    )


def json_row(frame: pd.DataFrame, geometry: np.ndarray[Any, Any], i: int) -> bytes:
    """Row ``i`` as the file delivered it, as JSON: a reject's evidence, or a kind's ``_raw``."""
    row = {str(k): v for k, v in frame.iloc[i].items() if v is not None and v is not pd.NA}
    geom = geometry[i]
    if geom is not None:
        row["geometrie"] = shapely.to_wkt(geom, rounding_precision=6)
    return orjson.dumps(row, default=str)


def _raw_conn(conn: Connection) -> Any:
    return conn.connection.driver_connection


class StagingWriter:
    """Streams good rows into ``staging`` through one COPY, and rejects into ``ingest_reject``.

    The COPY stays open across batches and psycopg's queued writer sends the data from its
    own thread, so the server parses one batch while Python normalises the next: on two
    cores the load is as slow as the slower of the two, not their sum. Rejects wait in
    memory until the COPY is closed (one connection runs one COPY at a time); past
    ``FLUSH_REJECTS`` of them the COPY is closed, they are written, and a new one opens.
    """

    FLUSH_REJECTS = 20_000
    CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rejects: list[RejectRow] = []
        self._stack: ExitStack | None = None
        self._copy: Any = None

    def __enter__(self) -> StagingWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:  # let the COPY see the error: it aborts instead of finishing
            if self._stack is not None:
                self._stack.__exit__(*exc)
            return
        self._close()
        self._write_rejects()

    def add(self, table: pa.Table | None, rejects: list[RejectRow]) -> None:
        self.rejects.extend(rejects)
        if len(self.rejects) >= self.FLUSH_REJECTS:
            self._close()
            self._write_rejects()
        if table is None or table.num_rows == 0:
            return
        if self._copy is None:
            self._stack = ExitStack()
            cur = self._stack.enter_context(_raw_conn(self.conn).cursor())
            names = ", ".join(table.column_names)
            self._copy = self._stack.enter_context(
                cur.copy(f"COPY staging ({names}) FROM STDIN (FORMAT csv)", writer=QueuedLibpqWriter(cur))
            )
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, write_options=self.CSV)
        self._copy.write(buffer.getbuffer())

    def _close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._copy = self._stack, None, None
            stack.close()

    def _write_rejects(self) -> None:
        if not self.rejects:
            return
        with (
            _raw_conn(self.conn).cursor() as cur,
            cur.copy("COPY ingest_reject (ingest_run_id, rij, reden, detail, gegevens) FROM STDIN") as copy,
        ):
            for run_id, rij, reden, detail, gegevens in self.rejects:
                copy.write_row((run_id, rij, reden, detail, gegevens.decode()))
        self.rejects = []
