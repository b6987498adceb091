"""What time and hotspots cost: the overlays per request, and the refresh with rolling windows.

On the demo database (151 buurten, 2023-2025 signals): the median time of ``/kaart/hotspots``
(buurten and 500 m squares) and ``/kaart/vergelijking`` for an analyst and a planner, served
in-process; and the figures of every view class computed from scratch (``zicht.compute``)
at revision 0015 (years and quarters) and at 0018 (plus the two rolling windows from the
day cube ``signaal_dag``), so the windows' share of a refresh is measured, not guessed.

Run: ``.venv/bin/python -m benchmarks tijd [--rows N]`` (N requests per measure, default 15).
Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.table import Table
from sqlalchemy import create_engine, text

from benchmarks.common import cluster, console, demo_database, save_results
from core import db, zicht
from core.security import create_principal_key

GEMEENTE = {"organisatie": "Gemeente Groningen", "convenanten": [], "gemeenten": ["GM0014"]}
REQUESTS = {
    "hotspots buurten": ("/kaart/hotspots", {"periode": "2024"}),
    "hotspots vierkanten 500 m": ("/kaart/hotspots", {"periode": "2024", "soort": "vierkant500"}),
    "verschil 2025-2024": ("/kaart/vergelijking", {"periode": "2025", "vergelijk": "2024"}),
    "buurten items (ter vergelijking)": (
        "/collections/buurten/items",
        {"periode": "2024", "thema": "alle", "limit": "1000"},
    ),
}


def _median_ms(call: Callable[[], Any], n: int) -> float:
    call()  # warm
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _compute_s(url: str) -> float:
    """All view classes' figures from scratch, in one transaction that is rolled back."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [int(i) for i in conn.execute(text("SELECT id FROM zicht ORDER BY id")).scalars()]
            conn.execute(text("DELETE FROM indicator_zicht"))
            start = time.perf_counter()
            zicht.compute(conn, ids, 10)
            seconds = time.perf_counter() - start
            conn.rollback()
    finally:
        engine.dispose()
    return seconds


def run(rows: int = 15) -> None:
    from app.main import create_app
    from core.settings import Settings

    results: dict[str, Any] = {}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-tijd-")))
        c = stack.enter_context(cluster())
        url, analist = demo_database(
            c, workdir, "tijd", naam="bench-analist", rol="analist", doelen=["analyse"], **GEMEENTE
        )
        engine = create_engine(url)
        with engine.begin() as conn:
            planner, _ = create_principal_key(
                conn, naam="bench-planner", rol="planner", doelen=["planvorming"], **GEMEENTE
            )
            zicht.refresh(conn)
        engine.dispose()
        app = create_app(Settings(database_url=url, environment="test"))
        with TestClient(app) as client:
            for who, key in (("analist", analist), ("planner", planner)):
                for label, (path, params) in REQUESTS.items():
                    headers = {"Authorization": f"Bearer {key}"}

                    def call(
                        path: str = path, params: dict[str, str] = params, headers: Any = headers
                    ) -> None:
                        client.get(path, params=params, headers=headers).raise_for_status()

                    results[f"{who}: {label}"] = _median_ms(call, rows)
        with_windows = _compute_s(url)
        db.downgrade(url, "0015")
        without = _compute_s(url)
        db.migrate(url)
    table = Table(title=f"time and hotspots, demo database, median of {rows} requests")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, ms in results.items():
        table.add_row(label, f"{ms:.0f} ms")
    table.add_row("figures of every class from scratch, 0015 (years, quarters)", f"{without:.2f} s")
    table.add_row("figures of every class from scratch, 0018 (+ windows)", f"{with_windows:.2f} s")
    console.print(table)
    save_results(
        "tijd", {"requests_ms": results, "compute_s": {"0015": without, "0018": with_windows}, "rows": rows}
    )
