"""Search speed: how long ``/zoeken`` takes per kind of question, and what the street index
(migration 0018) saves in the database.

One throwaway cluster with the demo dataset (its ~30,000 addresses); the app serves it with one
uvicorn worker. A fixed sample of addresses becomes three lists of questions: street and
number ("Eikenlaan 12"), postcode and number ("9711 AB 12") and the start of a street name
("Eike"). Each list is asked over HTTP with an analyst's key (audit row included, as in
production); then the SQL of each street question is timed in the database (``EXPLAIN
ANALYZE``), with the street index and with it dropped (in a transaction rolled back).

Run: ``.venv/bin/python -m benchmarks zoeken [--rows N]`` (N addresses, default 200).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import create_engine, text

from app import zoeken
from benchmarks.common import cluster, console, demo_database, save_results, start_okaart
from core.security import Principal

TARGET_MS = 50
ANALYST = Principal(0, "benchmark", "analist", "benchmark", (), ("GM0014",), ())


def questions(url: str, rows: int) -> dict[str, list[str]]:
    """Three lists of what a person types, from a fixed sample of the demo's addresses."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sample = conn.execute(
                text(
                    "SELECT openbare_ruimte, huisnummer, postcode FROM verblijfsobject"
                    " WHERE gemeentecode = 'GM0014' ORDER BY md5(sleutel) LIMIT :n"
                ),
                {"n": rows},
            ).all()
    finally:
        engine.dispose()
    return {
        "straat en huisnummer": [f"{s} {n}" for s, n, _ in sample],
        "postcode en huisnummer": [f"{p[:4]} {p[4:]} {n}" for _, n, p in sample],
        "begin van een straatnaam": [s[:4] for s, _, _ in sample],
    }


def over_http(base: str, key: str, asked: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    figures = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        client.get("/zoeken", params={"q": "Eiken 1"}).raise_for_status()  # warm the pool
        for kind, qs in asked.items():
            took, found = [], 0
            for q in qs:
                start = time.perf_counter()
                r = client.get("/zoeken", params={"q": q})
                took.append((time.perf_counter() - start) * 1000)
                r.raise_for_status()
                found += bool(r.json()["kandidaten"])
            took.sort()
            figures[kind] = {
                "median_ms": statistics.median(took),
                "p95_ms": took[int(0.95 * (len(took) - 1))],
                "found_share": found / len(qs),
            }
    return figures


def _median_sql_ms(conn: Any, qs: list[str]) -> float:
    times = []
    for q in qs:
        vraag = zoeken.begrijp(q)
        assert vraag is not None, q
        sql, params = zoeken.statement(vraag, ANALYST, 10)
        plan: Any = conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), params).scalar()
        doc = plan if isinstance(plan, list) else json.loads(plan)
        times.append(float(doc[0]["Execution Time"]))
    return statistics.median(times)


def in_database(url: str, asked: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Median execution time of the street questions' SQL, with the street index and without it
    (dropped inside a transaction that is rolled back; every other index stays)."""
    engine = create_engine(url)
    kinds = ("straat en huisnummer", "begin van een straatnaam")
    figures: dict[str, dict[str, float]] = {kind: {} for kind in kinds}
    try:
        with engine.connect() as conn:
            for kind in kinds:
                figures[kind]["met index"] = _median_sql_ms(conn, asked[kind])
            conn.rollback()
            with conn.begin() as transaction:
                conn.execute(text("DROP INDEX verblijfsobject_straat_idx"))
                for kind in kinds:
                    figures[kind]["zonder index"] = _median_sql_ms(conn, asked[kind])
                transaction.rollback()
    finally:
        engine.dispose()
    return figures


def run(rows: int = 200) -> None:
    console.print(f"[bold]search benchmark[/]: {rows} addresses, three kinds of question")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-zoeken-")))
        c = stack.enter_context(cluster())
        url, key = demo_database(
            c, workdir, "zoeken", naam="benchmark-analist", rol="analist",
            organisatie="Gemeente Groningen (benchmark)", convenanten=["gemeente"], gemeenten=["GM0014"],
            doelen=["benchmark"],
        )  # fmt: skip
        asked = questions(url, rows)
        env = {"OKAART_BASEMAP_URL": "", "OKAART_RATE_LIMIT_PER_MINUTE": "0"}
        base = start_okaart(stack, url, workdir / "okaart.log", env=env)
        http = over_http(base, key, asked)
        sql = in_database(url, asked)
    table = Table(title=f"/zoeken ({rows} questions of each kind, demo data)")
    for column in ("question", "HTTP median", "HTTP p95", "found", "SQL with index", "SQL without"):
        table.add_column(column, justify="left" if column == "question" else "right")
    for kind, f in http.items():
        s = sql.get(kind, {})
        table.add_row(
            kind, f"{f['median_ms']:.1f} ms", f"{f['p95_ms']:.1f} ms", f"{f['found_share']:.0%}",
            f"{s['met index']:.2f} ms" if s else "", f"{s['zonder index']:.2f} ms" if s else "",
        )  # fmt: skip
    console.print(table)
    console.print(f"target: HTTP p95 under {TARGET_MS} ms")
    save_results("zoeken", {"rows": rows, "http": http, "sql": sql})
