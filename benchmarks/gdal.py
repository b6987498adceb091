"""What a partner's GDAL costs: copying the signal layer (7,400 visible points) from the
features API into a GeoPackage, as ``ogr2ogr`` does.

Three ways to the same GeoPackage, each run several times in turn against one okaart server
(one worker, the rate limit as in production):
- GDAL 3.12 (the one pyogrio bundles, as in current QGIS) with **default options**: it pages
  by the ``maximum`` of ``limit`` in the OpenAPI document (1,000);
- Debian 12's ``ogr2ogr`` (GDAL 3.6.2) with ``-oo PAGE_SIZE=1000`` (the peer: without it,
  GDAL 3.6 asks 10 features a page, 23.6 s in issue 14);
- Debian's ``ogr2ogr`` reading the same rows straight from PostGIS with one SQL statement
  (the floor: no HTTP, no GeoJSON, no access check, no audit).
The partner's key and purpose go as headers: a header file for GDAL 3.12 (its OAPIF driver
replaces ``GDAL_HTTP_HEADERS`` with its own ``Accept``), ``GDAL_HTTP_HEADERS`` for GDAL 3.6.
GDAL 3.12 runs in a Python child (pyogrio has no ``ogr2ogr``): its row times GDAL's own work
(open, read, write), as a binary would run; the wall time with Python's start and pyogrio's
import (seconds on a busy machine) is shown beside it. The server's audit rows count the
items requests of each copy (no 429 may occur: a refused
page fails the copy). The target (issue #14): default options, one request per 1,000
features, under 2 s.

Run: ``.venv/bin/python -m benchmarks gdal [--rows N]`` (N visible signals, default 7,400).
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
from rich.table import Table

from benchmarks.common import Timing, cluster, console, fresh_database, save_results, start_okaart, timed
from core import db
from core.security import create_principal_key

ROUNDS = 3
PARTNER: dict[str, Any] = {
    "naam": "bench gdal", "rol": "partner", "organisatie": "Politie Noord-Nederland",
    "convenanten": ["riec"], "gemeenten": ["GM0014"], "doelen": ["opsporing"],
}  # fmt: skip
BRONNEN = """
    INSERT INTO bron (code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden) VALUES
        ('politie', 'Politie', 'Politie Noord-Nederland', 'vertrouwelijk', 'riec', 60),
        ('wij', 'WIJ Groningen', 'WIJ Groningen', 'vertrouwelijk', 'zorg', 60)
"""
#: ``visible`` signals of the partner's covenant and a tenth as many of another, spread over
#: the city of Groningen in RD New.
SIGNALEN = """
    INSERT INTO signaal (bron, bron_id, thema, soort, datum, dataklasse, convenant, bewaren_tot,
                         gemeentecode, geom)
    SELECT CASE WHEN i <= %(hidden)s THEN 'wij' ELSE 'politie' END, 'S' || i,
           (ARRAY['drugs', 'vastgoed', 'mensenhandel', 'overig'])[1 + i %% 4], 'melding',
           DATE '2023-01-01' + (i %% 700), 'vertrouwelijk',
           CASE WHEN i <= %(hidden)s THEN 'zorg' ELSE 'riec' END, DATE '2099-01-01', 'GM0014',
           ST_SetSRID(ST_MakePoint(228000 + (i * 7919 %% 9000), 578000 + (i * 104729 %% 7000)), 28992)
    FROM generate_series(1, %(total)s) AS i
"""


def seed(dsn: str, url: str, *, visible: int, hidden: int) -> str:
    """The two partners, ``visible`` signals of the partner's covenant and ``hidden`` of
    another in the database at ``dsn``/``url`` (owner), and the partner's key, which it returns.
    Shared with ``tests/test_gdal_oapif.py``: the test and the benchmark copy the same layer."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BRONNEN)
        conn.execute(SIGNALEN, {"hidden": hidden, "total": visible + hidden})
        conn.execute("ANALYZE")
    owner = db.make_engine(url)
    try:
        with owner.begin() as conn:
            return create_principal_key(conn, **PARTNER)[0]
    finally:
        owner.dispose()


#: The same rows for the floor, with the columns the API gives a partner.
FLOOR_SQL = (
    "SELECT id, bron, thema, soort, datum, einddatum, dataklasse, convenant, gemeentecode, buurtcode, "
    "wijkcode, bedrijventerreincode, buitengebied, geom FROM laag_signaal WHERE convenant = 'riec'"
)
#: GDAL 3.12 in a process of its own: what ``ogr2ogr -f GPKG out OAPIF:url signalen`` does.
#: It writes how long GDAL itself took (open, read, write) to the file named last: what an
#: ``ogr2ogr`` binary of GDAL 3.12 would take, without Python's start and pyogrio's import.
COPY_312 = """
import sys, time
import pyogrio, pyogrio.raw
source, out, took = sys.argv[1:4]
start = time.perf_counter()
meta, _, geometry, fields = pyogrio.raw.read(source, layer="signalen")
pyogrio.raw.write(out, geometry, fields, layer="signalen", driver="GPKG", **meta)
open(took, "w").write(str(time.perf_counter() - start))
"""
LABELS = ("GDAL 3.12, standaard", "ogr2ogr 3.6 PAGE_SIZE=1000", "ogr2ogr 3.6 uit PostGIS (SQL)")


def _items_requests(dsn: str) -> tuple[int, int, set[int]]:
    """Items requests of the signal layer in the audit log so far: count, features, statuses."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(aantal), 0), coalesce(array_agg(DISTINCT status), '{}') "
            "FROM audit_log WHERE laag = 'signalen' AND route LIKE '%%/items'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), set(row[2])


def run(rows: int = 7_400) -> None:
    """Setup, then each way in turn for ``ROUNDS`` rounds; one table of medians."""
    hidden = rows // 10
    console.print(
        f"[bold]gdal benchmark[/]: {rows:,} visible signals (and {hidden:,} hidden), {ROUNDS} rounds"
    )
    timings: dict[str, list[Timing]] = {label: [] for label in LABELS}
    requests: dict[str, list[int]] = {label: [] for label in LABELS}
    inner: dict[str, list[float]] = {LABELS[0]: []}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-gdal-")))
        c = stack.enter_context(cluster())
        url = fresh_database(c, "gdal")
        db.migrate(url)
        key = seed(c.dsn("gdal"), url, visible=rows, hidden=hidden)
        # The production rate limit stays on.
        base = start_okaart(stack, url, workdir / "okaart-gdal.log")
        took = workdir / "took.txt"
        headers = workdir / "headers.txt"
        headers.write_text(f"Authorization: Bearer {key}\nX-Doel: opsporing\n")
        pg = f"PG:{c.dsn('gdal')}"
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            LABELS[0]: (
                [sys.executable, "-c", COPY_312, f"OAPIF:{base}/", str(workdir / "a.gpkg"), str(took)],
                {"GDAL_HTTP_HEADER_FILE": str(headers)},
            ),
            LABELS[1]: (
                [
                    "ogr2ogr",
                    "-f",
                    "GPKG",
                    "-overwrite",
                    str(workdir / "b.gpkg"),
                    "-oo",
                    "PAGE_SIZE=1000",
                    f"OAPIF:{base}/",
                    "signalen",
                    "--config",
                    "GDAL_HTTP_HEADERS",
                    f"Authorization: Bearer {key}\r\nX-Doel: opsporing",
                ],
                {},
            ),
            LABELS[2]: (
                [
                    "ogr2ogr",
                    "-f",
                    "GPKG",
                    "-overwrite",
                    str(workdir / "c.gpkg"),
                    pg,
                    "-sql",
                    FLOOR_SQL,
                    "-nln",
                    "signalen",
                ],
                {},
            ),
        }
        dsn = c.dsn("gdal")
        for _ in range(ROUNDS):
            for label, (command, extra) in commands.items():
                before = _items_requests(dsn)
                timings[label].append(timed(label, rows, command, extra))
                if label == LABELS[0]:
                    inner[label].append(float(took.read_text()))
                after = _items_requests(dsn)
                if after[2] - {200}:
                    raise RuntimeError(f"{label}: items answered {sorted(after[2])}")
                requests[label].append(after[0] - before[0])
        for name in ("a", "b", "c"):
            import pyogrio

            got = pyogrio.read_info(workdir / f"{name}.gpkg")["features"]
            if got != rows:
                raise RuntimeError(f"{name}.gpkg holds {got:,} features, not {rows:,}")
    walls = {label: statistics.median(t.seconds for t in ts) for label, ts in timings.items()}
    # The GDAL 3.12 row compares GDAL's own time (as an ogr2ogr binary would run); its wall
    # time with Python's start and pyogrio's import is shown beside it.
    medians = {**walls, LABELS[0]: statistics.median(inner[LABELS[0]])}
    table = Table(title=f"Copy {rows:,} signal points into a GeoPackage (median of {ROUNDS})")
    for column in ("way", "s", "wall s", "features/s", "items requests", "× ogr2ogr 3.6 PAGE_SIZE", "× SQL"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for label in LABELS:
        table.add_row(
            label, f"{medians[label]:.2f}", f"{walls[label]:.2f}", f"{rows / medians[label]:,.0f}",
            str(max(requests[label])),
            f"{medians[LABELS[1]] / medians[label]:.2f}", f"{medians[LABELS[2]] / medians[label]:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"one request per 1,000 features: {math.ceil(rows / 1000)} pages of 1,000"
        " (GDAL 3.12 adds one probe of 20 features to learn the layer's fields)"
    )
    save_results(
        "gdal",
        {
            "rows": rows, "hidden": hidden, "rounds": ROUNDS,
            "seconds": {label: [t.seconds for t in ts] for label, ts in timings.items()},
            "peak_rss_mb": {label: max(t.peak_rss_mb for t in ts) for label, ts in timings.items()},
            "gdal_312_own_seconds": inner[LABELS[0]], "items_requests": requests,
            "median_seconds": medians, "median_wall_seconds": walls,
        },
    )  # fmt: skip
