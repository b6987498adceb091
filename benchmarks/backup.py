"""Backup and restore times of the demo database: the figures behind the RTO in
docs/operations.md.

A cluster with production settings (fsync on) gets the demo data and ``rows`` extra audit rows
(a trail grows every request; the demo alone has almost none); then, each as the operator
runs it and each timed with its peak RSS: ``okaart backup`` to a .tar, ``okaart restore`` into
a second fresh cluster, ``okaart audit verify`` there, and ``pg_basebackup`` of the whole
source cluster (the start of a point-in-time recovery). Timings only; nothing passes or fails.

Run: ``.venv/bin/python -m benchmarks backup [--rows N]`` (default 20,000 audit rows).
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import psycopg
from rich.table import Table

from benchmarks.common import Timing, cluster, console, demo_database, save_results, timed
from core.backup import dump_size

ANALIST = {
    "naam": "bench backup", "rol": "analist", "organisatie": "Gemeente Groningen", "convenanten": [],
    "gemeenten": ["GM0014"], "doelen": ["analyse"],
}  # fmt: skip


def _audit_rows(dsn: str, rows: int, batch: int = 2_000) -> None:
    """Extra trail rows, written as the service writes them: one statement each, in
    transactions of ``batch`` rows with ANALYZE between. One INSERT ... SELECT of 200,000 rows,
    and one loop of 100,000 single-row inserts in a single transaction, each ran for minutes
    without finishing (the chain trigger looks up the newest row for every row; which of
    visibility or plan makes the long transaction slow was not isolated); batches take seconds."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, rows, batch):
            count = min(batch, rows - start)
            conn.execute(
                "DO $$ BEGIN FOR i IN 1.." + str(int(count)) + " LOOP"
                " INSERT INTO audit_log (methode, route, laag, status, aantal)"
                " VALUES ('GET', '/collections/{collection_id}/items', 'signalen', 200, i % 100);"
                " END LOOP; END $$"
            )
            conn.execute("ANALYZE audit_log")


def run(rows: int = 20_000) -> None:
    console.print(f"[bold]backup benchmark[/]: demo database + {rows:,} audit rows")
    okaart = [sys.executable, "-m", "cli"]
    key = secrets.token_hex(32)
    timings: list[Timing] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-backup-")))
        source = stack.enter_context(cluster())
        url, _ = demo_database(source, workdir, "backup", **ANALIST)
        _audit_rows(source.dsn("backup"), rows)
        with psycopg.connect(source.dsn("backup")) as conn:
            size_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            trail_row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
        assert size_row is not None and trail_row is not None
        database_mb, trail = size_row[0] / 1e6, int(trail_row[0])
        env = {"DATABASE_URL": url, "OKAART_AUDIT_KEY": key}
        timed("audit anchor", trail, [*okaart, "audit", "anchor"], env)
        archive = workdir / "okaart.tar"
        timings.append(timed("okaart backup", trail, [*okaart, "backup", str(archive)], env))

        target = stack.enter_context(cluster())
        data_dir = target.root.parent
        target_env = {"OKAART_DATA_DIR": str(data_dir), "OKAART_AUDIT_KEY": key}
        timings.append(timed("okaart restore", trail, [*okaart, "restore", str(archive)], target_env))
        timings.append(timed("okaart audit verify", trail, [*okaart, "audit", "verify"], target_env))

        base = workdir / "basebackup"
        owner = source.state()
        timings.append(
            timed(
                "pg_basebackup (cluster)",
                trail,
                [
                    str(source.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(owner["port"]),
                    "-U", str(owner["user"]), "-D", str(base), "-X", "stream", "-c", "fast", "--no-password",
                ],
                {"PGPASSWORD": str(owner["password"])},
            )
        )  # fmt: skip
        archive_mb = dump_size(archive) / 1e6
    table = Table(title=f"backup and restore: demo database {database_mb:,.0f} MB, {trail:,} audit rows")
    for column in ("step", "s", "peak RSS MB"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for t in timings:
        table.add_row(t.label, f"{t.seconds:.2f}", f"{t.peak_rss_mb:,.0f}")
    console.print(table)
    console.print(f"backup archive: {archive_mb:,.1f} MB")
    save_results(
        "backup",
        {
            "database_mb": database_mb,
            "audit_rows": trail,
            "archive_mb": archive_mb,
            "timings": [asdict(t) for t in timings],
        },
    )
