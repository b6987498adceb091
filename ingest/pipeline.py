"""The shared ingest pipeline: read -> normalise -> validate -> stage -> upsert -> report.

One run is one transaction. Rows stream from the file in batches; each batch is
normalised and validated with vectorised code; bad rows go whole to ``ingest_reject``
with a reason; good rows are COPYed into a temporary staging table. Then SQL does the
rest in bulk: address matching, area assignment (spatial joins on GIST indexes), one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE something changed``, snapshot removal and
ANALYZE. A crash at any point leaves the previous state intact; the same file twice
changes nothing. The indicators are refreshed after the commit, and whenever an earlier run's
change is still missing from them (a run killed before its refresh): every run ends by
healing the figures (``refresh.heal``), also one that changes nothing or fails. The data
transaction gives up when its client dies (``session``).

This module is the run itself; its rooms: ``staging`` (the staging table and the COPY
writer), ``indexes`` (drop and rebuild around a bulk load), ``refresh`` (what is recomputed
afterwards) and ``report`` (the outcome stored in ``ingest_run``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import shapely
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Engine, text

from core.domain import RunStatus
from ingest import areas, constants, fallback, faults, session
from ingest.base import INGEST_ROLE, Context, Options, SourceKind, canonical
from ingest.errors import IngestError
from ingest.indexes import bulk_indexes
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
from ingest.reasons import CLASSES, explain, nothing_stored, over_threshold, per_class, summary
from ingest.refresh import heal
from ingest.report import IngestReport, file_sha256
from ingest.staging import RejectRow, StagingWriter, create_staging, json_row, points_as_xy

log = logging.getLogger("okaart.ingest")
#: Tables whose rows count in the figures of their own municipality only: a run over them
#: records the municipalities it changed (``ingest_run.gemeenten``), and the refresh after
#: it recomputes those (core/zicht.py). A run over any other table refreshes everything.
PER_GEMEENTE = frozenset({"signaal"})
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def limits(options: Options) -> dict[str, float]:
    """The reject threshold of each reason class, as the operator set them."""
    return {c.name: float(getattr(options, c.option)) for c in CLASSES}


class Pipeline:
    """Runs a source kind over a file against one database."""

    def __init__(self, engine: Engine, kind: SourceKind[Any], console: Console | None = None) -> None:
        self.engine = engine
        self.kind = kind
        self.console = console or Console(stderr=True)
        self._xy = points_as_xy(kind)
        #: The ``ingest_run`` id of the latest run, also of one that failed (for its message).
        self.last_run_id: int | None = None

    # -- one batch ----------------------------------------------------------------------
    def _geometry(
        self, ctx: Context[Any], geometry: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], Reasons]:
        if self.kind.geometry == "polygon":
            rd, reasons, _ = to_rd(ctx.crs, geometry)
            fixed, poly_reasons, repaired = multipolygons(rd)
            ctx.repairs.hersteld += repaired
            return fixed, first_reason(reasons, poly_reasons)
        single, type_reasons = points(geometry)
        rd, reasons, swapped = to_rd(ctx.crs, single)
        ctx.repairs.omgedraaid += swapped
        if self.kind.geometry == "optional_point":
            reasons = reasons.copy()
            reasons[reasons == "geometrie_ontbreekt"] = None
        return rd, first_reason(type_reasons, reasons)

    def _batch(
        self, ctx: Context[Any], mapping: dict[str, str], batch: Any, seen: set[Any]
    ) -> tuple[int, list[RejectRow], pa.Table | None]:
        """Normalise and validate one batch: its rejects, and its good rows as staging columns."""
        fields = list(self.kind.aliases)
        frame = canonical(batch.frame, mapping, fields, others=self.kind.keeps_other_columns)
        frame, notes = constants.supply(frame, batch.frame, mapping, self.kind, ctx.options)
        ctx.notes.extend(notes)
        geometry, geo_reasons = self._geometry(ctx, batch.geometry)
        norm = self.kind.normalise(frame, ctx)
        if fallback.takes_part(self.kind):
            fallback.keep_own_points(norm.frame, norm.reasons, geometry, geo_reasons)
        reasons = first_reason(norm.reasons, geo_reasons)
        staged = norm.frame
        # Repeated keys within the file: the first occurrence wins. Later ones are rejected,
        # or staged with the row as delivered for a kind that merges them (merge_same_key).
        keys = self.kind.key_values(staged)
        repeated = np.zeros(len(staged), dtype=bool)
        for i in np.flatnonzero(pd.isna(reasons)):
            if keys[i] in seen:
                repeated[i] = True
            else:
                seen.add(keys[i])
        if not self.kind.merge_same_key:
            reasons[repeated] = "dubbele_sleutel"
        bad = np.flatnonzero(~pd.isna(reasons))
        rejects = [
            (
                ctx.run_id,
                int(batch.rows[i]),
                str(reasons[i]),
                explain(str(reasons[i])),
                json_row(batch.frame, batch.geometry, int(i)),
            )
            for i in bad
        ]
        good = pd.isna(reasons)
        if good.any():
            columns: dict[str, Any] = {"_rij": pa.array(batch.rows[good])}
            if self.kind.keeps_raw:
                columns["_raw"] = pa.array(
                    [json_row(batch.frame, batch.geometry, int(i)).decode() for i in np.flatnonzero(good)]
                )
            elif self.kind.merge_same_key:  # only repeats carry their row: they are few
                raw = np.full(len(staged), None, dtype=object)
                for i in np.flatnonzero(repeated):
                    raw[i] = json_row(batch.frame, batch.geometry, int(i)).decode()
                columns["_raw"] = pa.array(raw[good], type=pa.string())
            for col in self.kind.columns:
                columns[col.name] = pa.Array.from_pandas(staged[col.name][good])
            if self._xy:
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
        # A file that cannot be read at all is recorded under the hash of nothing.
        report = IngestReport(0, self.kind.name, options.path.name, EMPTY_SHA256, RunStatus.MISLUKT)
        self.last_run_id = None
        try:
            constants.check(self.kind, options)
            source = sniff(options.path)
            sha = report.sha256 = file_sha256(options.path)
            with self.engine.connect() as conn, conn.begin():
                session.guard(conn)
                # Sorts and hashes over a million staged rows stay in memory: sorting them
                # by location before the insert takes ~300 MB; spilled to disk it took
                # twice as long. One ingest runs at a time, so this is bounded; a hash gets
                # the same bound, not twice it (hash_mem_multiplier's default of 2), so one
                # backend stays well under 2 GB on the national run's 10 M addresses.
                conn.execute(text("SET LOCAL work_mem = '512MB'"))
                conn.execute(text("SET LOCAL hash_mem_multiplier = 1"))
                conn.execute(text(f"SET LOCAL ROLE {INGEST_ROLE}"))
                run_id = conn.execute(
                    text(
                        "INSERT INTO ingest_run (soort, bestand, sha256, bron, laag, status, gestart,"
                        " opties) VALUES (:soort, :bestand, :sha, :bron, :laag, :status, :gestart,"
                        " CAST(:opties AS jsonb)) RETURNING id"
                    ),
                    {
                        "soort": self.kind.name,
                        "bestand": options.path.name,
                        "sha": sha,
                        "bron": options.bron,
                        "laag": options.layer,
                        "status": RunStatus.MISLUKT,
                        "gestart": started,
                        "opties": orjson.dumps(
                            {
                                "map": options.mapping,
                                "jaar": options.jaar,
                                "indeling": options.indeling,
                                "snapshot": options.snapshot,
                                "proef": options.dry_run,
                                "zet": options.constants,
                                "sleutel": list(options.key_columns),
                                "drempels": limits(options),
                            }
                        ).decode(),
                    },
                ).scalar_one()
                report.run_id = run_id
                self.last_run_id = run_id
                ctx = Context(options, source, run_id, conn, self.kind.new_state())
                create_staging(conn, self.kind)
                mark = report.phase("start", t0)
                read = self._read_all(ctx)
                mark = report.phase("lezen_en_laden", mark)
                self.kind.after_stage(ctx)
                mark = report.phase("koppelen", mark)
                report.redenen = self._reasons(conn, run_id)
                report.gelezen, report.afgekeurd = read, sum(report.redenen.values())
                notes = [*dict.fromkeys(ctx.notes), *ctx.repairs.notes()]
                if read == 0:
                    raise IngestError(f"{options.path.name} bevat geen rijen")
                if report.redenen:
                    notes.insert(0, f"afgekeurd per reden: {summary(report.redenen)}")
                over = over_threshold(report.redenen, read, limits(options))
                if over:
                    report.status = RunStatus.AFGEWEZEN
                    notes.insert(0, f"{'; '.join(over)}: niets opgeslagen")
                else:
                    savepoint = conn.begin_nested() if options.dry_run else None
                    self._store(ctx, report)
                    mark = report.phase("opslaan", mark)
                    if savepoint is not None:
                        savepoint.rollback()
                        report.status = RunStatus.PROEF
                        notes.insert(0, "proefrun: niets opgeslagen")
                    else:
                        report.status = RunStatus.GESLAAGD
                    if not report.opgeslagen:
                        notes.insert(0, nothing_stored(report.redenen, read))
                report.melding = "; ".join(notes) or None
                report.duur_ms = int((time.perf_counter() - t0) * 1000)
                self._finish(conn, report)
                faults.pause("in_transactie", conn)
            faults.pause("voor_verversen")
            if (
                report.status is RunStatus.GESLAAGD
                and report.ingevoegd + report.bijgewerkt + report.verwijderd
            ):
                self._analyze()
            if options.refresh:
                heal(self.engine)
            report.phase("analyze", mark)
        except IngestError as exc:
            self._failed(report, started, t0, str(exc), options.refresh)
            raise
        except Exception as exc:
            translated = session.translate(exc)
            if translated is not None:
                self._failed(report, started, t0, str(translated), options.refresh)
                raise translated from exc
            self._failed(report, started, t0, f"onverwachte fout: {type(exc).__name__}", options.refresh)
            raise
        return report

    @staticmethod
    def _reasons(conn: Connection, run_id: int) -> dict[str, int]:
        """Rejected rows per reason, from the quarantine (the read's rejects and the SQL's)."""
        rows = conn.execute(
            text("SELECT reden, count(*) FROM ingest_reject WHERE ingest_run_id = :r GROUP BY reden"),
            {"r": run_id},
        ).all()
        return {str(reden): int(n) for reden, n in rows}

    def _failed(
        self, report: IngestReport, started: datetime, t0: float, message: str, refresh: bool
    ) -> None:
        """Record a failed run, and still heal figures an earlier killed run left stale."""
        report.melding = message
        report.duur_ms = int((time.perf_counter() - t0) * 1000)
        self._record_failure(report, started)
        self.last_run_id = report.run_id or None
        if refresh:
            try:
                heal(self.engine)
            except Exception:  # the database may be what failed; the run's own error matters
                log.debug("could not heal the figures after a failed run", exc_info=True)

    def _read_all(self, ctx: Context[Any]) -> int:
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
                        ctx.crs = CrsDecision(
                            ctx.options.crs or batch.crs, forced=ctx.options.crs is not None
                        )
                    n, rejects, table = self._batch(ctx, mapping, batch, seen)
                    writer.add(table, rejects)
                    read += n
                    elapsed = max(time.perf_counter() - start, 1e-6)
                    progress.update(task, advance=n)
                    progress.update(task, rate=progress.tasks[task].completed / elapsed)
        ctx.notes.extend(ctx.crs.notes)
        ctx.crs = CrsDecision(None)
        return read

    def _store(self, ctx: Context[Any], report: IngestReport) -> None:
        kind, conn = self.kind, ctx.conn
        kind.before_upsert(ctx)
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
        # Where the figures change: the municipalities of the rows before and after.
        touched = self._touched(conn, source) if kind.table in PER_GEMEENTE else None
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
                    + (" RETURNING t.gemeentecode, t.bedrijventerreincode" if touched is not None else "")
                ),
                scope_params,
            )
            report.verwijderd = int(removed.rowcount)
            if touched is not None:
                touched = self._with_parks(conn, touched, removed.all())
        conn.execute(
            text("UPDATE ingest_run SET gemeenten = CAST(:g AS text[]) WHERE id = :run"),
            {"g": None if touched is None else sorted(touched), "run": ctx.run_id},
        )
        if report.ingevoegd or report.bijgewerkt or report.verwijderd:
            kind.after_upsert(ctx)  # re-assigning every point costs seconds per million
        report.phase("nabewerking", mark)

    def _touched(self, conn: Connection, source: str) -> set[str] | None:
        """The municipalities of the changed rows, as stored and as they will be (None: some
        row lies in none, so a refresh of everything is the safe answer)."""
        match = " AND ".join(f"t.{c} = s.{c}" for c in self.kind.conflict)
        rows = conn.execute(
            text(
                f"SELECT a.gemeentecode, a.bedrijventerreincode FROM {areas.RESULT} a"
                " UNION SELECT t.gemeentecode, t.bedrijventerreincode"
                f" FROM {self.kind.table} t JOIN {source} s ON {match}"
            )
        ).all()
        return self._with_parks(conn, set(), rows)

    @staticmethod
    def _with_parks(conn: Connection, touched: set[str] | None, rows: Any) -> set[str] | None:
        """``touched`` with the rows' municipalities and those of their business parks (a
        park may cross a border: its figures are its municipality's)."""
        if touched is None:
            return None
        pairs = [tuple(r) for r in rows]
        if any(gemeente is None for gemeente, _ in pairs):
            return None
        parks = sorted({park for _, park in pairs if park is not None})
        of_parks = conn.execute(
            text(
                "SELECT DISTINCT gemeentecode FROM gebied WHERE soort = 'bedrijventerrein' AND code = ANY(:c)"
            ),
            {"c": parks},
        ).scalars()
        found = {*touched, *(gemeente for gemeente, _ in pairs), *of_parks}
        return None if None in found else found

    def _finish(self, conn: Connection, report: IngestReport) -> None:
        conn.execute(
            text(
                "UPDATE ingest_run SET status = :status, gelezen = :gelezen, ingevoegd = :ingevoegd,"
                " bijgewerkt = :bijgewerkt, ongewijzigd = :ongewijzigd, afgekeurd = :afgekeurd,"
                " verwijderd = :verwijderd, duur_ms = :duur_ms, melding = :melding,"
                " opties = opties || jsonb_build_object('fasen', CAST(:fasen_json AS jsonb),"
                " 'redenen', CAST(:redenen_json AS jsonb), 'klassen', CAST(:klassen_json AS jsonb)),"
                " beeindigd = now() WHERE id = :run_id"
            ),
            {
                **report.as_dict(),
                "fasen_json": orjson.dumps(report.fasen).decode(),
                "redenen_json": orjson.dumps(report.redenen).decode(),
                "klassen_json": orjson.dumps(per_class(report.redenen)).decode(),
            },
        )

    def _analyze(self) -> None:
        """Fresh statistics after a load; outside the data transaction, as the owner. (The
        indicators follow in ``heal``: this run's change is pending like any other.)"""
        with self.engine.connect() as conn:
            conn.execute(text(f"ANALYZE {self.kind.table}"))
            conn.commit()

    def _record_failure(self, report: IngestReport, started: datetime) -> None:
        """A failed run leaves its report, written apart from the rolled-back data."""
        try:
            with self.engine.begin() as conn:
                report.run_id = conn.execute(
                    text(
                        "INSERT INTO ingest_run (soort, bestand, sha256, status, gestart, duur_ms,"
                        " melding) VALUES (:soort, :bestand, :sha256, :status, :gestart,"
                        " :duur_ms, :melding) RETURNING id"
                    ),
                    {**report.as_dict(), "status": RunStatus.MISLUKT, "gestart": started},
                ).scalar_one()
        except Exception:  # the database itself may be the problem; the error still surfaces
            log.warning("could not record the failed run", exc_info=log.isEnabledFor(logging.DEBUG))
