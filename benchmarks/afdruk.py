"""Print speed: how long the server takes to make the printed map view and the area
overview as PDFs (with embedded fonts), and how big they are.

One throwaway cluster with the demo dataset, the app under one uvicorn worker; each request is
made ``rows`` times after one warm-up, as an analyst: the whole buurt map (151 buurten), the
city centre (a box of about 3 by 2 km), the wijk map, and the overview PDF of the buurt with
the most signals. Medians and extremes of the wall time seen by the client.

Run: ``.venv/bin/python -m benchmarks afdruk [--rows N]`` (N requests per case, default 9).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import create_engine, text

from benchmarks.common import cluster, console, demo_database, save_results, start_okaart

#: A print should come back about as fast as a page: under two seconds.
TARGET_MS = 2000


def cases(code: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "kaart buurten (heel)": ("/kaart/afdruk", {"soort": "buurt", "periode": "2024"}),
        "kaart buurten (centrum)": (
            "/kaart/afdruk",
            {"soort": "buurt", "periode": "2024", "bbox": "6.545,53.208,6.590,53.228"},
        ),
        "kaart wijken": ("/kaart/afdruk", {"soort": "wijk", "indicator": "signalen", "periode": "2024"}),
        "gebiedsoverzicht": (f"/gebieden/{code}", {"f": "pdf", "periode": "2024"}),
    }


def measure(base: str, key: str, path: str, params: dict[str, str], runs: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    times, size = [], 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for i in range(runs + 1):  # the first request warms the server and is not counted
            start = time.perf_counter()
            r = client.get(path, params=params)
            elapsed = (time.perf_counter() - start) * 1000
            r.raise_for_status()
            if r.headers["content-type"] != "application/pdf":
                raise RuntimeError(f"{path}: {r.headers['content-type']}")
            size = len(r.content)
            if i:
                times.append(elapsed)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "bytes": size}


def run(rows: int = 9) -> None:
    console.print(f"[bold]print benchmark[/]: {rows} requests per PDF")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-afdruk-")))
        c = stack.enter_context(cluster())
        url, key = demo_database(
            c, workdir, "afdruk", naam="benchmark-analist", rol="analist",
            organisatie="Gemeente Groningen (benchmark)", convenanten=["gemeente"], gemeenten=["GM0014"],
            doelen=["benchmark"],
        )  # fmt: skip
        engine = create_engine(url)
        with engine.connect() as conn:
            code = conn.execute(
                text(
                    "SELECT code FROM indicator_zicht WHERE gebied_soort = 'buurt' AND periode = '2024'"
                    " AND thema = 'alle' ORDER BY signalen DESC LIMIT 1"
                )
            ).scalar_one()
        engine.dispose()
        base = start_okaart(stack, url, workdir / "okaart.log", env={"OKAART_BASEMAP_URL": ""})
        results = {name: measure(base, key, p, params, rows) for name, (p, params) in cases(code).items()}
    table = Table(title="PDFs (embedded fonts), wall time at the client")
    for column in ("PDF", "median", "min / max", "size", "target"):
        table.add_column(column, justify="left" if column == "PDF" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['median_ms']:.0f} ms",
            f"{r['min_ms']:.0f} / {r['max_ms']:.0f} ms",
            f"{r['bytes'] / 1024:,.0f} KB",
            f"< {TARGET_MS} ms",
        )
    console.print(table)
    save_results("afdruk", {"runs": rows, "results": results})
