"""Ingest speed of this checkout against another one, on the same file, in one run.

``python -m benchmarks ingest_ab --before PATH`` (PATH: a checkout of an earlier commit, e.g.
``git worktree add /tmp/before <commit>``). Both checkouts load the generated 1,000,000-row
BAG GeoPackage of :mod:`benchmarks.ingest` into fresh databases of one cluster, alternating
before/after for a few rounds, so that a machine whose speed drifts affects both alike. Each
database is migrated and given the real areas by its own checkout first (not timed); the
timed part is the first load and the unchanged re-delivery, as the command line runs them.
Prints the median of each and the ratio after/before.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from benchmarks.common import ROOT, cluster, console, fresh_database, save_results
from benchmarks.ingest import SOURCE, generated_gpkg

ROUNDS = int(os.environ.get("OKAART_BENCH_ROUNDS", "3"))
AREAS = (
    ("cbs_gemeente_2022_groningen.geojson", "gemeente"),
    ("cbs_wijken_2022_groningen.geojson", "wijk"),
    ("cbs_buurten_2024_groningen_approx.geojson", "buurt"),
)


def _cli(checkout: Path, url: str, *args: str) -> float:
    """Run ``python -m cli ARGS`` of a checkout; its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "DATABASE_URL": url, "OKAART_REJECT_SHARE": "1.0"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli", *args], cwd=checkout, env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def _prepare(checkout: Path, url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    code = f"from core import db; db.migrate({url!r})"
    subprocess.run([sys.executable, "-c", code], cwd=checkout, env=env, check=True)
    for file, soort in AREAS:
        _cli(checkout, url, "ingest", "gebieden", str(SOURCE / file), "--soort", soort, "--jaar", "2024")


def run(rows: int = 1_000_000, before: Path | None = None) -> None:
    """Alternate the two checkouts over ROUNDS rounds; print medians and ratios."""
    if before is None:
        raise SystemExit("geef --before PAD: een checkout van de eerdere commit")
    big = generated_gpkg(rows)
    times: dict[tuple[str, str], list[float]] = {}
    with cluster() as c:
        for round_no in range(ROUNDS):
            for label, checkout in (("voor", before.resolve()), ("na", ROOT)):
                name = f"ab_{label}_{round_no}"
                url = fresh_database(c, name)
                _prepare(checkout, url)
                first = _cli(checkout, url, "ingest", "adressen", str(big))
                again = _cli(checkout, url, "ingest", "adressen", str(big))
                with psycopg.connect(c.dsn(name)) as conn:  # a failed load would look fast
                    stored = conn.execute("SELECT count(*) FROM verblijfsobject").fetchone()
                if stored is None or stored[0] < rows * 0.95:
                    raise SystemExit(f"{label}: {stored} adressen opgeslagen van {rows}: de lading mislukte")
                times.setdefault((label, "eerste"), []).append(first)
                times.setdefault((label, "opnieuw"), []).append(again)
                console.print(f"ronde {round_no + 1} {label}: eerste {first:.1f} s, opnieuw {again:.1f} s")
    doc: dict[str, dict[str, float]] = {}
    for phase in ("eerste", "opnieuw"):
        old = statistics.median(times[("voor", phase)])
        new = statistics.median(times[("na", phase)])
        console.print(
            f"{phase}: voor {old:.1f} s, na {new:.1f} s (mediaan van {ROUNDS}); na/voor {new / old:.2f}"
        )
        doc[phase] = {"voor_s": old, "na_s": new, "verhouding": new / old}
    save_results("ingest_ab", doc)
