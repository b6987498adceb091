"""The shared ingest pipeline: read -> normalise -> validate -> stage -> upsert -> report.

One run is one transaction. Rows stream from the file in batches; each batch is
normalised and validated with vectorised code; bad rows go whole to ``ingest_reject``
with a reason; good rows are COPYed into a temporary staging table. Then SQL does the
rest in bulk: address matching, area assignment (spatial joins on GIST indexes), one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE something changed``, snapshot removal and
ANALYZE. A crash at any point leaves the previous state intact; the same file twice
changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from psycopg.copy import QueuedLibpqWriter
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Engine, text

from core import zicht
from ingest import areas
from ingest.base import Context, Options, SourceKind, canonical
from ingest.errors import IngestError
from ingest.normalise import (
    CrsDecision,
    Reasons,
    ewkb_hex,
    first_reason,
    multipolygons,
    points,
    to_rd,
)
from ingest.read import read_batches, sniff
from ingest.reasons import explain

log = logging.getLogger("okaart.ingest")

INGEST_ROLE = "okaart_ingest"


@dataclass
class IngestReport:
    """The outcome of one run, as stored in ``ingest_run``."""

    run_id: int
    soort: str
    bestand: str
    sha256: str
    status: str
    gelezen: int = 0
    ingevoegd: int = 0
    bijgewerkt: int = 0
    ongewijzigd: int = 0
    afgekeurd: int = 0
    verwijderd: int = 0
    duur_ms: int = 0
    melding: str | None = None
    fasen: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def phase(self, name: str, since: float) -> float:
        """Record the seconds since ``since`` under ``name``; returns now."""
        now = time.perf_counter()
        self.fasen[name] = round(self.fasen.get(name, 0.0) + now - since, 3)
        return now


def file_sha256(path: Path) -> str:
    """Hash of the delivered file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _raw_conn(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _json_row(frame: pd.DataFrame, geometry: np.ndarray[Any, Any], i: int) -> bytes:
    row = {str(k): v for k, v in frame.iloc[i].items() if v is not None and v is not pd.NA}
    geom = geometry[i]
    if geom is not None:
        row["geometrie"] = shapely.to_wkt(geom, rounding_precision=6)
    return orjson.dumps(row, default=str)


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


RejectRow = tuple[int, int, str, str, bytes]  # run, row number, reason, explanation, row as JSON


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


def refresh_indicators(conn: Connection, k: int | None = None) -> None:
    """Recompute the indicators of every view class (after ingests and retention runs), with
    suppression threshold ``k`` (default: the settings'); readers keep the old figures until
    the new ones are committed."""
    conn.execute(text("SET work_mem = '256MB'"))
    zicht.refresh(conn, k)
    conn.commit()


class Pipeline:
    """Runs a source kind over a file against one database."""

    def __init__(self, engine: Engine, kind: SourceKind, console: Console | None = None) -> None:
        self.engine = engine
        self.kind = kind
        self.console = console or Console(stderr=True)

    # -- staging ------------------------------------------------------------------------
    @property
    def _points_as_xy(self) -> bool:
        """Points that are never replaced in staging travel as two numbers; the server makes
        the point. Encoding a million EWKB strings in Python costs 4 s, x and y nothing."""
        return self.kind.geometry == "point"

    def _create_staging(self, conn: Connection) -> None:
        cols = [f"{c.name} {c.sqltype}" for c in self.kind.columns]
        raw = ["_raw jsonb"] if self.kind.keeps_raw else []
        geom = (
            ["x double precision", "y double precision",
             "geom geometry(Point, 28992) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(x, y), 28992)) STORED"]
            if self._points_as_xy
            else ["geom geometry(Geometry, 28992)"]
        )  # fmt: skip
        conn.execute(
            text(
                "CREATE TEMP TABLE staging (_rij integer NOT NULL, "
                + ", ".join([*raw, *cols, *geom])
                + ") ON COMMIT DROP"
            )
        )

    # -- one batch ----------------------------------------------------------------------
    def _geometry(self, ctx: Context, geometry: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], Reasons]:
        if self.kind.geometry == "polygon":
            rd, reasons, _ = to_rd(ctx.crs, geometry)
            fixed, poly_reasons, repaired = multipolygons(rd)
            ctx.extra["hersteld"] = ctx.extra.get("hersteld", 0) + repaired
            return fixed, first_reason(reasons, poly_reasons)
        single, type_reasons = points(geometry)
        rd, reasons, swapped = to_rd(ctx.crs, single)
        ctx.extra["omgedraaid"] = ctx.extra.get("omgedraaid", 0) + swapped
        if self.kind.geometry == "optional_point":
            reasons = reasons.copy()
            reasons[reasons == "geometrie_ontbreekt"] = None
        return rd, first_reason(type_reasons, reasons)

    def _batch(
        self, ctx: Context, mapping: dict[str, str], batch: Any, seen: set[Any]
    ) -> tuple[int, list[RejectRow], pa.Table | None]:
        """Normalise and validate one batch: its rejects, and its good rows as staging columns."""
        fields = list(self.kind.aliases)
        frame = canonical(batch.frame, mapping, fields, others=self.kind.keeps_other_columns)
        geometry, geo_reasons = self._geometry(ctx, batch.geometry)
        norm = self.kind.normalise(frame, ctx)
        reasons = first_reason(norm.reasons, geo_reasons)
        staged = norm.frame
        # Duplicate keys within the file: the first occurrence wins, later ones are rejected.
        keys = self.kind.key_values(staged)
        for i in np.flatnonzero(pd.isna(reasons)):
            if keys[i] in seen:
                reasons[i] = "dubbele_sleutel"
            else:
                seen.add(keys[i])
        bad = np.flatnonzero(~pd.isna(reasons))
        rejects = [
            (
                ctx.run_id,
                int(batch.rows[i]),
                str(reasons[i]),
                explain(str(reasons[i])),
                _json_row(batch.frame, batch.geometry, int(i)),
            )
            for i in bad
        ]
        good = pd.isna(reasons)
        if good.any():
            columns: dict[str, Any] = {"_rij": pa.array(batch.rows[good])}
            if self.kind.keeps_raw:
                columns["_raw"] = pa.array(
                    [_json_row(batch.frame, batch.geometry, int(i)).decode() for i in np.flatnonzero(good)]
                )
            for col in self.kind.columns:
                columns[col.name] = pa.Array.from_pandas(staged[col.name][good])
            if self._points_as_xy:
                columns["x"] = pa.array(shapely.get_x(geometry[good]))
                columns["y"] = pa.array(shapely.get_y(geometry[good]))
            else:
                present = good & ~shapely.is_missing(geometry)
                geom = np.full(len(geometry), None, dtype=object)
                geom[present] = ewkb_hex(geometry[present])
                columns["geom"] = pa.array(geom[good], type=pa.string())
            return len(frame), rejects, pa.table(columns)
        return len(frame), rejects, None

    # -- the run --------------------------------------------------------------------------
    def run(self, options: Options) -> IngestReport:
        """Ingest one file; returns the report (also stored in ``ingest_run``)."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        source = sniff(options.path)
        sha = file_sha256(options.path)
        report = IngestReport(0, self.kind.name, options.path.name, sha, "mislukt")
        try:
            with self.engine.connect() as conn, conn.begin():
                # Sorts and hashes over a million staged rows stay in memory: sorting them
                # by location before the insert takes ~300 MB; spilled to disk it took
                # twice as long. One ingest runs at a time, so this is bounded.
                conn.execute(text("SET LOCAL work_mem = '512MB'"))
                conn.execute(text(f"SET LOCAL ROLE {INGEST_ROLE}"))
                run_id = conn.execute(
                    text(
                        "INSERT INTO ingest_run (soort, bestand, sha256, bron, laag, status, gestart,"
                        " opties) VALUES (:soort, :bestand, :sha, :bron, :laag, 'mislukt', :gestart,"
                        " CAST(:opties AS jsonb)) RETURNING id"
                    ),
                    {
                        "soort": self.kind.name,
                        "bestand": options.path.name,
                        "sha": sha,
                        "bron": options.bron,
                        "laag": options.layer,
                        "gestart": started,
                        "opties": orjson.dumps(
                            {
                                "map": options.mapping,
                                "jaar": options.jaar,
                                "snapshot": options.snapshot,
                                "proef": options.dry_run,
                            }
                        ).decode(),
                    },
                ).scalar_one()
                report.run_id = run_id
                ctx = Context(options, source, run_id, conn)
                self._create_staging(conn)
                mark = report.phase("start", t0)
                read = self._read_all(ctx)
                mark = report.phase("lezen_en_laden", mark)
                self.kind.after_stage(ctx)
                mark = report.phase("koppelen", mark)
                rejected = conn.execute(
                    text("SELECT count(*) FROM ingest_reject WHERE ingest_run_id = :r"),
                    {"r": run_id},
                ).scalar_one()
                report.gelezen, report.afgekeurd = read, rejected
                notes = list(dict.fromkeys(ctx.notes))
                for label, key in (
                    ("omgedraaide coördinaten hersteld", "omgedraaid"),
                    ("geometrieën hersteld", "hersteld"),
                ):
                    if ctx.extra.get(key):
                        notes.append(f"{label}: {ctx.extra[key]}")
                if read == 0:
                    raise IngestError(f"{options.path.name} bevat geen rijen")
                if rejected / read > options.reject_share:
                    report.status = "afgewezen"
                    notes.insert(
                        0,
                        f"{rejected} van {read} rijen afgekeurd ({rejected / read:.1%}), meer dan "
                        f"{options.reject_share:.0%}: niets opgeslagen",
                    )
                else:
                    savepoint = conn.begin_nested() if options.dry_run else None
                    self._store(ctx, report)
                    mark = report.phase("opslaan", mark)
                    if savepoint is not None:
                        savepoint.rollback()
                        report.status = "proef"
                        notes.insert(0, "proefrun: niets opgeslagen")
                    else:
                        report.status = "geslaagd"
                report.melding = "; ".join(notes) or None
                report.duur_ms = int((time.perf_counter() - t0) * 1000)
                self._finish(conn, report)
            if report.status == "geslaagd" and report.ingevoegd + report.bijgewerkt + report.verwijderd:
                self._analyze(refresh=options.refresh)
                report.phase("analyze", mark)
        except IngestError as exc:
            report.melding = str(exc)
            report.duur_ms = int((time.perf_counter() - t0) * 1000)
            self._record_failure(report, started)
            raise
        except Exception as exc:
            report.melding = f"onverwachte fout: {type(exc).__name__}"
            report.duur_ms = int((time.perf_counter() - t0) * 1000)
            self._record_failure(report, started)
            raise
        return report

    def _read_all(self, ctx: Context) -> int:
        seen: set[Any] = set()
        read = 0
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} rijen"),
            TextColumn("{task.fields[rate]:,.0f} rijen/s"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        self.kind.before_read(ctx)
        with progress, StagingWriter(ctx.conn) as writer:
            for layer in self.kind.layers(ctx.source, ctx.options.layer):
                ctx.layer = layer
                task = progress.add_task(f"{self.kind.name}: {layer}", total=None, rate=0.0)
                start = time.perf_counter()
                mapping: dict[str, str] | None = None
                for batch in read_batches(ctx.source, layer, ctx.options.batch_size):
                    if mapping is None:
                        mapping = self.kind.resolve(ctx, list(batch.frame.columns))
                        ctx.notes.extend(ctx.crs.notes)
                        ctx.crs = CrsDecision(batch.crs)
                    n, rejects, table = self._batch(ctx, mapping, batch, seen)
                    writer.add(table, rejects)
                    read += n
                    elapsed = max(time.perf_counter() - start, 1e-6)
                    progress.update(task, advance=n)
                    progress.update(task, rate=progress.tasks[task].completed / elapsed)
        ctx.notes.extend(ctx.crs.notes)
        ctx.crs = CrsDecision(None)
        return read

    def _store(self, ctx: Context, report: IngestReport) -> None:
        kind, conn = self.kind, ctx.conn
        staged = conn.execute(text("SELECT count(*) FROM staging")).scalar_one()
        cols = [c.name for c in kind.columns if c.stored] + ["geom"]
        # Rows identical to what is stored are counted and left alone: an upsert would lock
        # and rewrite every one of them, and their areas are already current (an area load
        # re-assigns every point), so they skip the spatial joins too. A re-delivered
        # national file is mostly these.
        mark = time.perf_counter()
        match = " AND ".join(f"t.{c} = s.{c}" for c in kind.conflict)
        compared = [c for c in cols if c not in kind.conflict]
        same = (
            f"({', '.join('t.' + c for c in compared)}) IS NOT DISTINCT FROM "
            f"({', '.join('s.' + c for c in compared)})"
        )
        empty = not conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {kind.table})")).scalar_one()
        if not empty:
            conn.execute(
                text(
                    "CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT s.* FROM staging s"
                    f" WHERE NOT EXISTS (SELECT 1 FROM {kind.table} t WHERE {match} AND {same})"
                )
            )
            source = "incoming"
            changed = conn.execute(text("SELECT count(*) FROM incoming")).scalar_one()
        else:  # a first load: every staged row is new, no need to copy them once more
            source, changed = "staging", staged
        conn.execute(text(f"ANALYZE {source}"))
        unchanged = int(staged) - int(changed)
        mark = report.phase("vergelijken", mark)
        select_cols = [f"s.{c}" for c in cols]
        target_cols = list(cols)
        joins = ""
        if kind.assigns_areas:
            areas.assign(conn, source, "_rij")
            select_cols += [f"a.{c}" for c in areas.AREA_COLUMNS]
            target_cols += areas.AREA_COLUMNS
            joins = f"JOIN {areas.RESULT} a ON a.key = s._rij"
            mark = report.phase("gebieden_toewijzen", mark)
        conflict = ", ".join(kind.conflict)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in target_cols if c not in kind.conflict)
        insert = (
            f"INSERT INTO {kind.table} AS t ({', '.join(target_cols)}, ingest_run_id)"
            f" SELECT {', '.join(select_cols)}, :run FROM {source} s {joins} ORDER BY s.geom"
        )
        upsert = f"""
            WITH up AS (
                {insert}
                ON CONFLICT ({conflict}) DO UPDATE
                    SET {sets}, ingest_run_id = EXCLUDED.ingest_run_id, bijgewerkt_op = now()
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
        """
        with bulk_indexes(conn, kind.table, int(changed), empty) as rebuilt_empty:
            if rebuilt_empty:  # no unique index left for ON CONFLICT, and nothing to conflict with
                inserted, updated = conn.execute(text(insert), {"run": ctx.run_id}).rowcount, 0
            else:
                inserted, updated = conn.execute(text(upsert), {"run": ctx.run_id}).one()
            mark = report.phase("upsert", mark)
        mark = report.phase("indexen", mark)  # rebuilt after a bulk load, else nothing
        report.ingevoegd, report.bijgewerkt = int(inserted), int(updated)
        report.ongewijzigd = int(unchanged)
        if ctx.options.snapshot:
            scope, scope_params = kind.snapshot_scope(ctx)
            match = " AND ".join(f"s.{c} = t.{c}" for c in kind.conflict)
            removed = conn.execute(
                text(
                    f"DELETE FROM {kind.table} t WHERE ({scope}) AND NOT EXISTS "
                    f"(SELECT 1 FROM staging s WHERE {match})"
                ),
                scope_params,
            ).rowcount
            report.verwijderd = int(removed)
        if report.ingevoegd or report.bijgewerkt or report.verwijderd:
            kind.after_upsert(ctx)  # re-assigning every point costs seconds per million
        report.phase("nabewerking", mark)

    def _finish(self, conn: Connection, report: IngestReport) -> None:
        conn.execute(
            text(
                "UPDATE ingest_run SET status = :status, gelezen = :gelezen, ingevoegd = :ingevoegd,"
                " bijgewerkt = :bijgewerkt, ongewijzigd = :ongewijzigd, afgekeurd = :afgekeurd,"
                " verwijderd = :verwijderd, duur_ms = :duur_ms, melding = :melding,"
                " opties = opties || jsonb_build_object('fasen', CAST(:fasen_json AS jsonb)),"
                " beeindigd = now() WHERE id = :run_id"
            ),
            {**report.as_dict(), "fasen_json": orjson.dumps(report.fasen).decode()},
        )

    def _analyze(self, *, refresh: bool) -> None:
        """Fresh statistics and indicators after a load; outside the data transaction, as
        the owner. CONCURRENTLY keeps the indicator view readable while it refreshes."""
        with self.engine.connect() as conn:
            conn.execute(text(f"ANALYZE {self.kind.table}"))
            conn.commit()
            if refresh:
                refresh_indicators(conn)

    def _record_failure(self, report: IngestReport, started: datetime) -> None:
        """A failed run leaves its report, written apart from the rolled-back data."""
        try:
            with self.engine.begin() as conn:
                report.run_id = conn.execute(
                    text(
                        "INSERT INTO ingest_run (soort, bestand, sha256, status, gestart, duur_ms,"
                        " melding) VALUES (:soort, :bestand, :sha256, 'mislukt', :gestart,"
                        " :duur_ms, :melding) RETURNING id"
                    ),
                    {**report.as_dict(), "gestart": started},
                ).scalar_one()
        except Exception:  # the database itself may be the problem; the error still surfaces
            log.exception("could not record the failed run")
