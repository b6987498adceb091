"""Map page speed: how long until the buurt map has drawn all buurten and the business parks
in headless Chromium, and how big its HTML is; and, with the signals on at zoom 15 in the city
centre (clusters, issue #15), how long until those are drawn too and how many SVG paths the
page then holds.

One throwaway cluster with the demo dataset; the app serves it with one uvicorn worker, no
basemap (the machine has no internet; basemap images would not change when the polygons are
drawn). Each run opens ``/kaart?periode=2024`` in a fresh browser context (empty cache), signed
in as an analyst, and reads from the page when each vector tile layer fired its ``load`` event
(``window.okaart.geladen``, milliseconds since navigation started) once every buurt and every
business park has been drawn. Debian's Chromium is driven by Playwright's Python package.

Run: ``.venv/bin/python -m benchmarks kaart [--rows N]`` (N runs, default 7).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright
from rich.table import Table
from sqlalchemy import create_engine, text

from benchmarks.common import cluster, console, demo_database, save_results, start_okaart

PATH = "/kaart?periode=2024"
#: The same map with the signals on (a purpose given), at zoom 15 on the Grote Markt.
POINTS_PATH = "/kaart?periode=2024&doel=benchmark#15/53.21940/6.56650"
TARGET_MS = 1500
TARGET_BYTES = 50_000
TARGET_PATHS = 1000


def prepare(c: Any, workdir: Path) -> tuple[str, str, dict[str, int]]:
    """A migrated database with the demo data, an analyst key and the expected area counts."""
    url, key = demo_database(
        c, workdir, "kaart", naam="benchmark-analist", rol="analist",
        organisatie="Gemeente Groningen (benchmark)", convenanten=["gemeente"], gemeenten=["GM0014"],
        doelen=["benchmark"],
    )  # fmt: skip
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    text(
                        "SELECT gebied_soort, count(DISTINCT code) FROM indicator_zicht"
                        " WHERE periode = '2024' AND thema = 'alle'"
                        " AND gebied_soort IN ('buurt', 'bedrijventerrein') GROUP BY gebied_soort"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return url, key, {"buurten": counts["buurt"], "bedrijventerreinen": counts["bedrijventerrein"]}


def session_cookie(base: str, key: str) -> str:
    r = httpx.post(f"{base}/aanmelden", data={"sleutel": key}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.cookies["okaart_sessie"]


def measure(
    base: str, cookie: str, expected: dict[str, int], runs: int, path: str = PATH
) -> list[dict[str, Any]]:
    """``runs`` cold loads of ``path``. With points (a purpose in the path) the draw counts
    once the signals have loaded as well, and every area is not expected on the screen."""
    points = "doel=" in path
    chromium = shutil.which("chromium")
    if not chromium:
        raise RuntimeError("chromium is missing: run scripts/system-deps.sh as root")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--headless=new"])
        for i in range(runs + 1):  # the first run warms the server and is not counted
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": "okaart_sessie", "value": cookie, "url": base}])
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + path)
            page.wait_for_function("() => window.okaart && window.okaart.klaar === true", timeout=60_000)
            if points:
                page.wait_for_function(
                    "() => okaart.geladen.signalen !== undefined && !okaart.lagen.signalen.isLoading()",
                    timeout=60_000,
                )
            doc = page.evaluate(
                """() => ({
                    drawn: Object.fromEntries(Object.entries(okaart.getekend).map(([k, v]) => [k, v.size])),
                    loaded: okaart.geladen,
                    dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
                    tiles: performance.getEntriesByType('resource')
                        .filter(r => r.name.includes('/tiles/')).length,
                    paths: okaart.kaart.getContainer().querySelectorAll('path').length,
                    clusters: Array.from(document.querySelectorAll('text.okaart-cluster-aantal'))
                        .reduce((n, t) => n + Number(t.getAttribute('data-aantal')), 0),
                })"""
            )
            context.close()
            for layer, n in expected.items():
                if not points and doc["drawn"].get(layer) != n:
                    raise RuntimeError(f"run {i}: {layer} drew {doc['drawn'].get(layer)} of {n}")
            if errors:
                raise RuntimeError(f"run {i}: console errors {errors}")
            drawn_ms = max(doc["loaded"][layer] for layer in [*expected, *(["signalen"] if points else [])])
            if i:
                results.append(
                    {"run": i, "drawn_ms": drawn_ms, "dom_ms": doc["dcl"], "tiles": doc["tiles"],
                     "paths": doc["paths"], "clustered_points": doc["clusters"]}
                )  # fmt: skip
        browser.close()
    return results


def run(rows: int = 7) -> None:
    console.print(f"[bold]map benchmark[/]: {rows} cold page loads of {PATH} in headless Chromium")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-kaart-")))
        c = stack.enter_context(cluster())
        url, key, expected = prepare(c, workdir)
        base = start_okaart(stack, url, workdir / "okaart.log", env={"OKAART_BASEMAP_URL": ""})
        cookie = session_cookie(base, key)
        html = httpx.get(base + PATH, cookies={"okaart_sessie": cookie}, headers={"Accept": "text/html"})
        html.raise_for_status()
        runs = measure(base, cookie, expected, rows)
        with_points = measure(base, cookie, expected, rows, POINTS_PATH)
    drawn = [r["drawn_ms"] for r in runs]
    drawn_points = [r["drawn_ms"] for r in with_points]
    summary = {
        "html_bytes": len(html.content),
        "drawn_ms_median": statistics.median(drawn),
        "drawn_ms_min": min(drawn),
        "drawn_ms_max": max(drawn),
        "areas": expected,
        "tiles_per_load": runs[0]["tiles"],
        "points_drawn_ms_median": statistics.median(drawn_points),
        "points_drawn_ms_max": max(drawn_points),
        "points_paths": with_points[0]["paths"],
        "points_clustered": with_points[0]["clustered_points"],
        "points_tiles_per_load": with_points[0]["tiles"],
    }
    table = Table(
        title=f"/kaart (buurten {expected['buurten']}, bedrijventerreinen {expected['bedrijventerreinen']})"
    )
    for column in ("measure", "value", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("HTML size", f"{summary['html_bytes']:,} B", f"< {TARGET_BYTES:,} B")
    table.add_row("all drawn, median", f"{summary['drawn_ms_median']:.0f} ms", f"< {TARGET_MS} ms")
    table.add_row("all drawn, min / max", f"{min(drawn):.0f} / {max(drawn):.0f} ms", "")
    table.add_row("tile requests per load", str(summary["tiles_per_load"]), "")
    table.add_row(
        "with signals at zoom 15: drawn, median",
        f"{summary['points_drawn_ms_median']:.0f} ms",
        f"< {TARGET_MS} ms",
    )
    table.add_row("with signals at zoom 15: drawn, max", f"{summary['points_drawn_ms_max']:.0f} ms", "")
    table.add_row("with signals at zoom 15: SVG paths", str(summary["points_paths"]), f"< {TARGET_PATHS}")
    table.add_row("with signals at zoom 15: points in clusters", f"{summary['points_clustered']:,}", "")
    console.print(table)
    save_results(
        "kaart",
        {
            "path": PATH,
            "points_path": POINTS_PATH,
            "summary": summary,
            "runs": runs,
            "points_runs": with_points,
        },
    )
