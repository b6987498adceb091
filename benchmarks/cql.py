"""What a CQL2 filter costs: signal items filtered by simple property parameters against the
same filters written in CQL2 text and CQL2 JSON, in one run.

The same seeded requests (theme and kind of signal, a page somewhere in the first few
thousand matches, ``numberMatched`` counted every time) are sent to one okaart server, once
as ``thema=drugs&soort=melding``, once as ``filter=thema = 'drugs' AND soort = 'melding'``
and once as the same filter in CQL2 JSON. The filter is parsed (cql2) and translated the
first time, remembered after that, and bound per request; the SQL PostgreSQL runs differs
only in how the condition is spelled. The target (issue #14): a CQL2-filtered request at 0.9
or more of the simple filter's throughput.
On a shared 2-core machine one measurement drifts by more than that, so the spellings take
turns in several short rounds and the table gives the median of the per-round ratios beside
the totals; the time the service spends parsing and translating one filter (the first time, and
again: app.cql remembers recent filters, which a paging client or a map repeats) is measured apart,
in process, as the cost that cannot drift.

Run: ``.venv/bin/python -m benchmarks cql [--rows N]``; ``OKAART_BENCH_SECONDS=5`` for a quick
run (default 20 s per measurement). Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import timeit
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
from rich.table import Table

from app import cql
from benchmarks.common import cluster, console, demo_database, save_results, start_okaart
from benchmarks.tiles import SEED, Result, _show, cpu_busy, ensure_wrk, wrk
from layers import REGISTRY
from layers.base import Layer

THEMES = ("drugs", "vastgoed", "overig", "criminogene_branche", "zorgfraude")
SOORTEN = ("melding", "melding", "melding", "schouw")
VARIANTS = ("eenvoudig filter", "CQL2-tekst", "CQL2-JSON")
ROUNDS = 5
PRINCIPAL: dict[str, Any] = {
    "naam": "bench cql", "rol": "analist", "organisatie": "Gemeente Groningen", "convenanten": [],
    "gemeenten": ["GM0014"], "doelen": ["benchmark"], "dataklasse": "zeer_vertrouwelijk",
}  # fmt: skip


def paths(rows: int) -> dict[str, list[str]]:
    """The same requests in each spelling: theme, kind, and a page of 100 at some offset."""
    rng = np.random.default_rng(SEED)
    themes = rng.choice(THEMES, rows)
    soorten = rng.choice(SOORTEN, rows)
    offsets = rng.integers(0, 20, rows) * 100
    out: dict[str, list[str]] = {v: [] for v in VARIANTS}
    for thema, soort, offset in zip(themes, soorten, offsets, strict=True):
        page = {"limit": 100, "offset": int(offset)}
        text_filter = f"thema = '{thema}' AND soort = '{soort}'"
        json_filter = json.dumps(
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [{"property": "thema"}, str(thema)]},
                    {"op": "=", "args": [{"property": "soort"}, str(soort)]},
                ],
            },
            separators=(",", ":"),
        )
        base = "/collections/signalen/items?"
        out[VARIANTS[0]].append(base + urlencode({"thema": thema, "soort": soort, **page}))
        out[VARIANTS[1]].append(base + urlencode({"filter": text_filter, **page}))
        out[VARIANTS[2]].append(base + urlencode({"filter": json_filter, "filter-lang": "cql2-json", **page}))
    return out


def start(stack: ExitStack, url: str, workdir: Path) -> str:
    """One okaart server, 2 workers, no rate limit, no access log."""
    env = {"OKAART_RATE_LIMIT_PER_MINUTE": "0"}
    return start_okaart(stack, url, workdir / "okaart-cql.log", workers=2, env=env)


def sanity(base: str, lists: dict[str, list[str]], headers: dict[str, str]) -> None:
    """The three spellings of each of the first requests answer 200 with the same features."""
    with httpx.Client(timeout=60, headers=headers) as client:
        for i in range(20):
            bodies = []
            for variant in VARIANTS:
                r = client.get(base + lists[variant][i])
                if r.status_code != 200:
                    raise RuntimeError(f"{variant} {lists[variant][i]}: {r.status_code} {r.text[:300]}")
                bodies.append(r.json())
            ids = [[f["id"] for f in b["features"]] for b in bodies]
            matched = [b["numberMatched"] for b in bodies]
            if ids[1:] != [ids[0]] * 2 or matched[1:] != [matched[0]] * 2:
                raise RuntimeError(f"the spellings disagree on request {i}: {matched}")


def same_plan(url: str, key: str) -> None:
    """The simple filter and its CQL2 spelling give PostgreSQL the same plan (EXPLAIN without
    costs: the same nodes on the same indexes): what differs between them is the service's
    parsing, not the query."""
    from sqlalchemy import create_engine, text

    from app import layer_sql
    from app.layer_sql import Selection
    from core.security import principal_for_key

    layer = REGISTRY["signalen"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            principal = principal_for_key(conn, key)
            assert principal is not None
            where = cql.translate("thema = 'drugs' AND soort = 'melding'", "cql2-text", layer, 4326)
            plans = []
            for selection in (
                Selection(filters={"thema": "drugs", "soort": "melding"}),
                Selection(cql=where),
            ):
                sql, params = layer_sql.geojson_features(
                    layer, principal, selection, srid=4326, latlon=False, limit=100, offset=500, k=10,
                    count=True,
                )  # fmt: skip
                rows = conn.execute(text("EXPLAIN (COSTS OFF) " + sql), params).scalars()
                # The same nodes and indexes (conditions may be listed in another order).
                plans.append([line for line in rows if ":" not in line])
    finally:
        engine.dispose()
    if plans[0] != plans[1]:
        raise RuntimeError("the spellings get different plans:\n" + "\n".join(plans[0] + ["--"] + plans[1]))
    console.print(f"one plan for both spellings ({len(plans[0])} lines of EXPLAIN)")


def _per_filter(
    fn: Callable[[str, str, Layer, int], object], filters: list[str], lang: str, layer: Layer
) -> float:
    """Microseconds per filter for ``fn`` over ``filters`` (four passes)."""
    seconds = timeit.timeit(lambda: [fn(f, lang, layer, 4326) for f in filters], number=4)
    return seconds / (4 * len(filters)) * 1e6


def parse_cost(lists: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """Microseconds to parse and translate one filter of each spelling (in process): the
    first time (``cql.translate``), and again (``cql.parse``, which remembers filters: the
    requests of a paging client or a map repeat one)."""
    from urllib.parse import parse_qs, urlsplit

    layer, cost = REGISTRY["signalen"], {}
    for variant, lang in ((VARIANTS[1], "cql2-text"), (VARIANTS[2], "cql2-json")):
        filters = [parse_qs(urlsplit(p).query)["filter"][0] for p in lists[variant][:500]]
        first, again = (_per_filter(fn, filters, lang, layer) for fn in (cql.translate, cql.parse))
        cost[variant] = (first, again)
    return cost


def run(rows: int = 2_000) -> None:
    """Setup, sanity check, then each spelling at 32 connections, in turns; one table."""
    seconds = int(os.environ.get("OKAART_BENCH_SECONDS", "20"))
    console.print(f"[bold]cql benchmark[/]: {rows:,} requests per list, {seconds} s per measurement")
    ensure_wrk()
    lists = paths(rows)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-cql-")))
        c = stack.enter_context(cluster())
        url, key = demo_database(c, workdir, "cql", **PRINCIPAL)
        base = start(stack, url, workdir)
        headers = {"Authorization": f"Bearer {key}", "X-Doel": "benchmark"}
        sanity(base, lists, headers)
        same_plan(url, key)
        # Rounds in turn, so drift on a shared machine falls on every spelling alike.
        for round_ in range(1, ROUNDS + 1):
            for variant in VARIANTS:
                busy = cpu_busy()
                wrk(base, lists[variant], 32, max(1, seconds // 10), headers)
                r: Result = wrk(base, lists[variant], 32, seconds, headers)
                r.tool, r.busy_before = variant, busy
                results.append({"round": round_, **asdict(r), "rate": r.rate})
                console.print(f"  ronde {round_}, {variant}: {r.rate:,.0f}/s ({r.errors} errors)")
    cost = parse_cost(lists)
    ratios = {
        v: statistics.median(
            mine["rate"] / simple["rate"]
            for mine, simple in zip(
                (r for r in results if r["tool"] == v),
                (r for r in results if r["tool"] == VARIANTS[0]),
                strict=True,
            )
        )
        for v in VARIANTS
    }
    table = Table(title=f"Signal items, 32 connections: CQL2 against the simple filter ({ROUNDS} rounds)")
    for column in (
        "variant",
        "req/s",
        "p50 ms",
        "p95 ms",
        "errors",
        "× eenvoudig",
        "mediaan ×",
        "parse µs (1e / herhaald)",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    totals = {
        v: (
            sum(r["requests"] for r in results if r["tool"] == v)
            / sum(r["seconds"] for r in results if r["tool"] == v)
        )
        for v in VARIANTS
    }
    for variant in VARIANTS:
        mine = [r for r in results if r["tool"] == variant]
        table.add_row(
            variant, f"{totals[variant]:,.0f}", f"{np.mean([r['p50_ms'] for r in mine]):.1f}",
            f"{np.mean([r['p95_ms'] for r in mine]):.1f}", f"{sum(r['errors'] for r in mine):,}",
            f"{totals[variant] / totals[VARIANTS[0]]:.2f}" if totals[VARIANTS[0]] else "-",
            f"{ratios[variant]:.2f}",
            f"{cost[variant][0]:.0f} / {cost[variant][1]:.1f}" if variant in cost else "-",
        )  # fmt: skip
    _show(table)
    save_results(
        "cql",
        {
            "seconds": seconds, "rows": rows, "seed": SEED, "results": results, "rates": totals,
            "median_ratios": ratios, "parse_us": cost,
        },
    )  # fmt: skip
