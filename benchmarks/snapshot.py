"""A ``--snapshot`` that removes most addresses: how long the removal takes.

Loads ``rows`` generated addresses (the ingest benchmark's PDOK-layout file), points a signal
and a vacancy at every tenth of them (the foreign keys whose ``ON DELETE SET NULL`` each
removal looks up), then delivers the first fifth of the file with ``--snapshot``: four fifths
are removed. Before migration 0008 each removal scanned ``signaal`` and ``leegstand`` for its
referrers; a run removing 380,000 addresses was still deleting after ten minutes.

Run: ``.venv/bin/python -m benchmarks snapshot [--rows N]`` (default 500,000).
"""

from __future__ import annotations

import sys
import time

import psycopg
import pyogrio

from benchmarks.common import CACHE, Timing, cluster, console, save_results, timed
from benchmarks.ingest import generated_gpkg, prepare_okaart

REFERRERS = """
    INSERT INTO bron (code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden)
    VALUES ('politie', 'Politie', 'Politie Noord-Nederland', 'vertrouwelijk', 'riec', 60);
    INSERT INTO signaal (bron, bron_id, thema, soort, datum, dataklasse, convenant, bewaren_tot,
                         verblijfsobject_id, geom)
    SELECT 'politie', 'B' || id, 'drugs', 'melding', DATE '2025-01-01', 'vertrouwelijk', 'riec',
           DATE '2030-01-01', id, geom FROM verblijfsobject WHERE id % 10 = 0;
    INSERT INTO leegstand (sleutel, bron, soort, sinds, verblijfsobject_id, geom)
    SELECT 'L' || id, 'gemeente', 'woning', DATE '2024-01-01', id, geom
    FROM verblijfsobject WHERE id % 10 = 5;
    ANALYZE signaal; ANALYZE leegstand;
"""


def first_rows(rows: int, keep: int) -> str:
    """The first ``keep`` rows of the generated file, as a file of their own (cached)."""
    path = CACHE / f"adressen_{rows}_eerste_{keep}.gpkg"
    if not path.exists():
        frame = pyogrio.read_dataframe(generated_gpkg(rows), layer="verblijfsobject", max_features=keep)
        tmp = path.with_suffix(".tmp.gpkg")
        pyogrio.write_dataframe(frame, tmp, layer="verblijfsobject", driver="GPKG")
        tmp.replace(path)
    return str(path)


def run(rows: int = 500_000) -> None:
    keep = rows // 5
    console.print(f"[bold]snapshot benchmark[/]: {rows:,} addresses, then a snapshot of {keep:,}")
    full, part = str(generated_gpkg(rows)), first_rows(rows, keep)
    with cluster() as c:
        url = prepare_okaart(c, "okaart_snapshot")
        env = {"DATABASE_URL": url, "OKAART_REJECT_SHARE": "1.0"}
        okaart = [sys.executable, "-m", "cli", "ingest", "adressen"]
        timings: list[Timing] = [timed("load", rows, [*okaart, full], env)]
        with psycopg.connect(c.dsn("okaart_snapshot"), autocommit=True) as conn:
            start = time.perf_counter()
            conn.execute(REFERRERS)  # type: ignore[arg-type]  # a constant, several statements
            seconds = time.perf_counter() - start
            console.print(f"signals and vacancies for every tenth address: {seconds:.1f} s")
        timings.append(timed("snapshot", rows - keep, [*okaart, part, "--snapshot"], env))
        with psycopg.connect(c.dsn("okaart_snapshot")) as conn:
            left, unlinked, run_ms, phases = conn.execute(
                "SELECT (SELECT count(*) FROM verblijfsobject),"
                " (SELECT count(*) FROM signaal WHERE verblijfsobject_id IS NULL),"
                " duur_ms, opties -> 'fasen' FROM ingest_run ORDER BY id DESC LIMIT 1"
            ).fetchone() or (0, 0, 0, {})
    for t in timings:
        console.print(f"{t.label}: {t.rows:,} rows in {t.seconds:.1f} s (peak RSS {t.peak_rss_mb:,.0f} MB)")
    console.print(f"phases of the snapshot run (ms): {phases}")
    console.print(
        f"after the snapshot: {left:,} addresses, {unlinked:,} signals unlinked; run {run_ms / 1000:.1f} s"
    )
    save_results(
        "snapshot",
        {
            "rows": rows,
            "kept": keep,
            "left": left,
            "signals_unlinked": unlinked,
            "run_ms": run_ms,
            "phases_ms": phases,
            "timings": [{"label": t.label, "rows": t.rows, "seconds": t.seconds} for t in timings],
        },
    )
