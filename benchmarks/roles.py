"""What the visibility rule costs: indicator tiles and items per kind of principal, in one run.

Every figure a principal receives is computed from the signal rows it may see (its
municipalities, covenants, data classes; docs/architecture.md §7), and planners get the
published rule on top. This benchmark checks that the rule does not make aggregates slow: the
same seeded buurt tiles and items, sent with the key of an analyst cleared for everything, an
analyst without ``zeer_vertrouwelijk``, a partner of one covenant and a planner, against one
okaart server with its tile cache off (cold: every tile built by PostGIS) and one with it on
(warm: repeated tiles from memory, still audited). Ratios are against the cleared analyst; the
target is at least 0.8 for the partner and the planner.

Run: ``.venv/bin/python -m benchmarks roles [--rows N]``; ``OKAART_BENCH_SECONDS=3`` for a
quick run (default 20 s per measurement); ``OKAART_BENCH_ROUNDS`` turns per principal (default 3,
interleaved, the median kept). Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.table import Table
from sqlalchemy import create_engine

from benchmarks.common import cluster, console, demo_database, save_results, start_okaart
from benchmarks.tiles import (
    SEED,
    TILE,
    Result,
    _show,
    bbox_list,
    cpu_busy,
    ensure_wrk,
    tile_list,
    wrk,
)
from core.security import create_principal_key

#: The principals compared; the first is the reference.
GEMEENTE = {"organisatie": "Gemeente Groningen", "convenanten": []}
PRINCIPALS: dict[str, dict[str, Any]] = {
    "analist (alles)": {"rol": "analist", **GEMEENTE, "dataklasse": "zeer_vertrouwelijk"},
    "analist (vertrouwelijk)": {"rol": "analist", **GEMEENTE, "dataklasse": "vertrouwelijk"},
    "partner (riec)": {
        "rol": "partner", "organisatie": "Politie Noord-Nederland", "convenanten": ["riec"],
        "dataklasse": "vertrouwelijk",
    },
    "planner": {"rol": "planner", **GEMEENTE, "dataklasse": "intern"},
}  # fmt: skip
SERVERS = ("koud (geen tegelcache)", "warm (tegelcache)")


def keys(url: str) -> dict[str, str]:
    """One key per compared principal, on the benchmark database (not timed)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return {
                label: create_principal_key(
                    conn, naam=f"bench {label}", gemeenten=["GM0014"], doelen=["benchmark"], **spec
                )[0]
                for label, spec in list(PRINCIPALS.items())[1:]
            }
    finally:
        engine.dispose()


def paths(rows: int) -> dict[str, list[str]]:
    """Buurt tiles at zoom 10-16 and buurt items in small boxes, the same for every key."""
    rng = np.random.default_rng(SEED)
    tiles = tile_list(rng, rows, range(10, 17))
    boxes = bbox_list(rng, rows)
    query = "?periode=2024&thema=alle"
    return {
        "tegels buurten": [f"/collections/buurten/{TILE.format(z=z, x=x, y=y)}{query}" for z, x, y in tiles],
        "items buurten": [f"/collections/buurten/items?periode=2024&thema=alle&bbox={b}" for b in boxes],
    }


def start(stack: ExitStack, url: str, workdir: Path) -> dict[str, str]:
    """Two okaart servers (cache off and on), 2 workers each, no rate limit, no access log."""
    bases: dict[str, str] = {}
    for label in SERVERS:
        env = {"OKAART_RATE_LIMIT_PER_MINUTE": "0"}
        # Warm means warm for every principal: each view class has tiles of its own in the cache,
        # and four classes' 1,500 tiles do not fit the default 64 MB, so a principal measured
        # after another found its tiles evicted and measured the eviction, not the rule.
        env["OKAART_TILE_CACHE_MB"] = "512" if label.startswith("warm") else "0"
        log = workdir / f"okaart-{label.split()[0]}.log"
        bases[label] = start_okaart(stack, url, log, workers=2, env=env, label=label)
    return bases


def sanity(bases: dict[str, str], lists: dict[str, list[str]], principal_keys: dict[str, str]) -> None:
    """Every key gets 200 on the first requests before anything is timed."""
    with httpx.Client(timeout=60) as client:
        for base in bases.values():
            for label, key in principal_keys.items():
                for requests in lists.values():
                    for path in requests[:3]:
                        r = client.get(base + path, headers={"Authorization": f"Bearer {key}"})
                        if r.status_code != 200:
                            raise RuntimeError(f"{label} {path}: {r.status_code} {r.text[:300]}")


def interleaved(
    base: str,
    requests: list[str],
    principal_keys: dict[str, str],
    seconds: int,
    rounds: int,
    server: str,
    workload: str,
) -> list[dict[str, Any]]:
    """Each principal measured in ``rounds`` turns, the order rotated every round, and its
    median turn kept. Measured one after the other, a principal measured late in a run
    caught whatever slowed the database over it (autovacuum, a growing audit table, another
    process) and looked slower for it; interleaved, drift falls on every principal alike."""
    labels = list(principal_keys)
    turns: dict[str, list[Result]] = {label: [] for label in labels}
    for i in range(rounds):
        for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
            headers = {"Authorization": f"Bearer {principal_keys[label]}"}
            busy = cpu_busy()
            wrk(base, requests, 32, max(1, seconds // 10), headers)
            r: Result = wrk(base, requests, 32, seconds, headers)
            r.tool, r.busy_before = label, busy
            turns[label].append(r)
    rows = []
    for label in labels:
        middle = sorted(turns[label], key=lambda r: r.rate)[len(turns[label]) // 2]
        rates = ", ".join(f"{r.rate:,.0f}" for r in turns[label])
        console.print(f"  {server}, {workload}, {label}: {middle.rate:,.0f}/s (turns {rates})")
        rows.append({"server": server, "workload": workload, **asdict(middle), "rate": middle.rate})
    return rows


def run(rows: int = 2_000) -> None:
    """Setup, sanity check, every (server, workload, principal) at 32 connections; one table."""
    seconds = int(os.environ.get("OKAART_BENCH_SECONDS", "20"))
    rounds = int(os.environ.get("OKAART_BENCH_ROUNDS", "3"))
    console.print(f"[bold]roles benchmark[/]: {rows:,} requests per list, {seconds} s per measurement")
    ensure_wrk()
    lists = paths(rows)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-roles-")))
        c = stack.enter_context(cluster())
        first, spec = next(iter(PRINCIPALS.items()))
        url, key = demo_database(c, workdir, "roles", naam=f"bench {first}", gemeenten=["GM0014"],
                                 doelen=["benchmark"], **spec)  # fmt: skip
        principal_keys = {first: key, **keys(url)}
        bases = start(stack, url, workdir)
        sanity(bases, lists, principal_keys)
        for server, base in bases.items():
            for workload, requests in lists.items():
                results += interleaved(base, requests, principal_keys, seconds, rounds, server, workload)
    table = Table(title="Indicator tiles and items per principal, 32 connections (× analist (alles))")
    for column in ("server", "workload", "principal", "req/s", "p50 ms", "p95 ms", "errors", "× analist"):
        table.add_column(column, justify="left" if column in ("server", "workload", "principal") else "right")
    reference = {(r["server"], r["workload"]): r["rate"] for r in results if r["tool"] == first}
    for r in results:
        ratio = (
            r["rate"] / reference[(r["server"], r["workload"])]
            if reference[(r["server"], r["workload"])]
            else 0
        )
        table.add_row(
            r["server"], r["workload"], r["tool"], f"{r['rate']:,.0f}", f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}", f"{r['errors']:,}", f"{ratio:.2f}",
        )  # fmt: skip
    _show(table)
    save_results("roles", {"seconds": seconds, "rows": rows, "seed": SEED, "results": results})
