"""National synthetic run (issue 16): 342 municipalities, 10 M addresses, 5 M signals.

``python -m benchmarks national [--scale 0.1]``. Generated files (``benchmarks/national_data.py``)
go through the real command line (``okaart ingest ...``) into a cluster of the benchmark's
own, started as ``benchmarks/common.py`` does; then a 1 % delta (corrected and new RIEC
signals in the five largest municipalities) and its refresh per municipality touched, a full
refresh for comparison, and tiles and items at 32 connections against ``okaart serve``'s
uvicorn with 2 workers and no tile cache (every tile cold), with the answers counted per HTTP
status from the server's ``/metrics`` (a run of fast 503s must not pass for a fast one).
Peak RSS: each command's own (``benchmarks/rss.py``), the server workers' and the PostgreSQL
backends' (``VmHWM`` sampled from /proc every half second: a backend's peak is gone when it
exits).

Targets (issue 16 acceptance): ingest of the addresses under 10 minutes; the delta and its
refresh under 60 s; cold tile p95 under 300 ms at c=32; peak RSS under 2 GB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyproj
from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table
from sqlalchemy import create_engine, text

from benchmarks.common import ROOT, Timing, cluster, console, fresh_database, save_results, timed
from benchmarks.national_data import Plan, Writer, write_areas
from benchmarks.tiles import TILE, TMS, serving, wrk
from core import db
from core.pgcluster import Cluster, free_port

CONCURRENCY = 32
SECONDS = int(os.environ.get("OKAART_BENCH_SECONDS", "30"))
TARGETS = {"ingest adressen": 600.0, "delta + verversing": 60.0, "tegel p95 ms": 300.0, "piek RSS MB": 2048.0}
BRONNEN = (
    "code,naam,organisatie,dataklasse,convenant,bewaartermijn_maanden\n"
    "politie,Politie,Politie,vertrouwelijk,riec,60\nriec,RIEC,RIEC,vertrouwelijk,riec,60\n"
)


class Peaks:
    """The highest VmHWM seen per process under some parents, sampled in a thread.

    Also per step (:attr:`step`, set by the run): a rise of a process's VmHWM is booked to
    the step running when it was seen, so a backend's peak names the step that caused it.
    VmHWM counts the shared buffers a backend touched, which all backends share; the largest
    ``RssAnon`` sampled is its private memory (a peak between two samples can be missed).
    """

    def __init__(self) -> None:
        self.roots: dict[str, int] = {}
        #: (root label, step) -> highest VmHWM / RssAnon booked to that step (a label's peak
        #: is the highest over its steps).
        self.step_kb: dict[tuple[str, str], int] = {}
        self.step_anon_kb: dict[tuple[str, str], int] = {}
        self.step = ""
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _children(pid: int) -> list[int]:
        found: list[int] = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with suppress(OSError):
                found += [int(p) for p in task.read_text().split()]
        return found

    @staticmethod
    def _memory(pid: int) -> tuple[int, int]:
        """VmHWM and RssAnon of ``pid`` in kB (0, 0 when it is gone)."""
        hwm = anon = 0
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
        except OSError:
            pass
        return hwm, anon

    @staticmethod
    def _raise(table: dict[Any, int], key: Any, kb: int) -> None:
        table[key] = max(table.get(key, 0), kb)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for label, root in list(self.roots.items()):
                for pid in self._children(root):
                    hwm, anon = self._memory(pid)
                    self._raise(self.step_anon_kb, (label, self.step), anon)
                    if hwm > self._seen.get(pid, 0):
                        self._seen[pid] = hwm
                        self._raise(self.step_kb, (label, self.step), hwm)

    def mb(self, label: str, *, private: bool = False) -> float:
        """The label's highest VmHWM (``private``: RssAnon) over every step, in MB."""
        table = self.step_anon_kb if private else self.step_kb
        return max((kb for (root, _), kb in table.items() if root == label), default=0) / 1024

    def by_step(self, label: str) -> dict[str, dict[str, float]]:
        """Per step: the highest VmHWM booked to it and the highest RssAnon seen, in MB."""
        steps = {step for (root, step) in [*self.step_kb, *self.step_anon_kb] if root == label}
        return {
            step or "(voor de eerste stap)": {
                "vmhwm_mb": self.step_kb.get((label, step), 0) / 1024,
                "rss_anon_mb": self.step_anon_kb.get((label, step), 0) / 1024,
            }
            for step in sorted(steps)
        }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def principals(url: str, plan: Plan, workdir: Path) -> str:
    """A national beheerder (its key is the one the load uses), an analyst of a delta town,
    a regional planner (the first 20 municipalities) and a police partner of one town."""
    from core.security import create_principal_key
    from ingest import bronnen

    engine = create_engine(url)
    town = plan.delta_set()[0]
    try:
        with engine.begin() as conn:
            path = workdir / "bronnen.csv"
            path.write_text(BRONNEN)
            bronnen.load(conn, path)
        with engine.begin() as conn:
            key, _ = create_principal_key(
                conn, naam="bench beheerder", rol="beheerder", organisatie="RIEC", convenanten=[],
                gemeenten=[], doelen=["benchmark"], dataklasse="zeer_vertrouwelijk",
            )  # fmt: skip
            for naam, rol, gemeenten in (
                ("bench analist", "analist", [f"GM{plan.code(town)}"]),
                ("bench planner", "planner", [f"GM{plan.code(g)}" for g in range(min(20, plan.gemeenten))]),
                ("bench partner", "partner", [f"GM{plan.code(town)}"]),
            ):
                create_principal_key(
                    conn, naam=naam, rol=rol, organisatie="Test", convenanten=["riec"], gemeenten=gemeenten,
                    doelen=["benchmark"],
                )  # fmt: skip
    finally:
        engine.dispose()
    return key


def request_paths(plan: Plan, n: int = 2_000) -> dict[str, list[str]]:
    """Buurt tiles (zoom 10-16) and signal tiles (13-16) at random addresses' places, and
    buurt items in boxes of about a wijk, all over the grid."""
    rng = np.random.default_rng(16)
    to_wgs = pyproj.Transformer.from_crs(28992, 4326, always_xy=True)
    g = rng.integers(0, plan.gemeenten, n)
    boxes = np.array([plan.centre(int(i)) for i in g])
    x = boxes[:, 0] + rng.random(n) * (boxes[:, 2] - boxes[:, 0])
    y = boxes[:, 1] + rng.random(n) * (boxes[:, 3] - boxes[:, 1])
    lon, lat = to_wgs.transform(x, y)
    query = "?periode=2024&thema=alle"
    buurt_tiles, signal_tiles, items = [], [], []
    for i in range(n):
        t = TMS.tile(float(lon[i]), float(lat[i]), int(rng.integers(10, 17)))
        buurt_tiles.append(f"/collections/buurten/{TILE.format(z=t.z, x=t.x, y=t.y)}{query}")
        s = TMS.tile(float(lon[i]), float(lat[i]), int(rng.integers(13, 17)))
        signal_tiles.append(f"/collections/signalen/{TILE.format(z=s.z, x=s.x, y=s.y)}")
        w, h = 0.03, 0.02
        bbox = f"{lon[i] - w:.5f},{lat[i] - h:.5f},{lon[i] + w:.5f},{lat[i] + h:.5f}"
        items.append(f"/collections/buurten/items{query}&limit=100&bbox={bbox}")
    return {"tegels buurten": buurt_tiles, "tegels signalen": signal_tiles, "items buurten": items}


#: The route templates the measured paths go to (as ``/metrics`` labels them).
ROUTES = {
    "tegels": "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}",
    "items": "/collections/{collection_id}/items",
}


def answers_by_status(base: str) -> dict[tuple[str, str], float]:
    """The server's answers so far per (route template, status), all workers together (the
    server runs with ``PROMETHEUS_MULTIPROC_DIR``); read on loopback, which needs no key."""
    exposition = httpx.get(f"{base}/metrics", timeout=30).text
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != "okaart_requests":
            continue
        for sample in family.samples:
            if sample.name == "okaart_requests_total":
                key = (sample.labels["route"], sample.labels["status"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def status_counts(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], route: str
) -> dict[str, int]:
    """The answers of one route between two readings, per HTTP status."""
    return {
        status: int(n - before.get((r, status), 0.0))
        for (r, status), n in sorted(after.items())
        if r == route and n - before.get((r, status), 0.0) > 0
    }


def serve_and_measure(
    url: str, key: str, plan: Plan, workdir: Path, peaks: Peaks
) -> dict[str, dict[str, Any]]:
    """Tiles and items at c=32, with the answers per HTTP status from the server's own
    counters: wrk's latencies and rate mean nothing if the answers were 503s (the national
    run's first tiles all were, fast), so the table shows how many were not 200."""
    port = free_port()
    metrics_dir = workdir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "OKAART_ENVIRONMENT": "development",
        "OKAART_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env |= {"OKAART_RATE_LIMIT_PER_MINUTE": "0", "OKAART_TILE_CACHE_MB": "0", "OKAART_WORKERS": "2"}
    cmd = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2", "--log-level", "warning", "--app-dir", str(ROOT),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        stack.enter_context(serving("okaart", cmd, env, f"{base}/readyz", workdir / "okaart.log"))
        main = next(
            int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and f"\0{port}\0".encode() in _cmdline(p)
        )  # fmt: skip
        peaks.roots["server"] = main
        headers = {"Authorization": f"Bearer {key}", "X-Doel": "benchmark"}
        for label, paths in request_paths(plan).items():
            before = answers_by_status(base)
            r = wrk(base, paths, CONCURRENCY, SECONDS, headers)
            statuses = status_counts(before, answers_by_status(base), ROUTES[label.split()[0]])
            results[label] = {"req_s": r.rate, "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "p99_ms": r.p99_ms}
            results[label] |= {"errors": r.errors, "status": statuses, "not_200": not_ok(statuses)}
            console.print(f"  {label}: {results[label]}")
        time.sleep(1)  # one more sample of the workers
    return results


def not_ok(statuses: dict[str, int]) -> float:
    """The share of answers that were not 200 (1.0 when there were none at all)."""
    total = sum(statuses.values())
    return 1.0 - statuses.get("200", 0) / total if total else 1.0


def _statuses(r: dict[str, Any]) -> str:
    """``200: 5,120, 503: 12`` (older result files have no counts)."""
    found: dict[str, int] = r.get("status", {})
    return ", ".join(f"{s}: {n:,}" for s, n in found.items()) or "?"


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def run(rows: int | None = None, scale: float = 1.0, keep: Path | None = None) -> None:
    """Generate, load, change 1 %, serve; print each target with its figure.

    ``keep``: leave the loaded cluster in that directory (with the load's key), so the
    serving half can be measured again after a change (:func:`serve_only`) without the
    half hour of loading.
    """
    plan = Plan.at(scale)
    console.print(
        f"[bold]national run[/] (scale {scale}): {plan.gemeenten} gemeenten, {plan.adressen:,} adressen,"
        f" {plan.signalen:,} signalen"
    )
    workdir = Path(tempfile.mkdtemp(prefix="okaart-national-"))
    timings: list[Timing] = []
    doc: dict[str, Any] = {"scale": scale, "plan": {"gemeenten": plan.gemeenten, "adressen": plan.adressen,
                                                   "signalen": plan.signalen}}  # fmt: skip
    try:
        start = time.perf_counter()
        buurten = write_areas(plan, workdir / "wijkbuurtkaart_2024.gpkg", workdir / "ibis_2024.geojson")
        files = Writer(plan, workdir)
        files.write()
        doc["generate_s"] = time.perf_counter() - start
        doc["buurten"], doc["delta_rows"] = buurten, files.delta_rows
        console.print(
            f"  files in {doc['generate_s']:.0f} s: {buurten:,} buurten, delta {files.delta_rows:,} rows"
        )
        with cluster(keep) as c, Peaks() as peaks:
            peaks.roots["postgres"] = _postmaster(c)
            url = fresh_database(c, "nationaal")
            db.migrate(url)
            env = {"DATABASE_URL": url, "OKAART_REJECT_SHARE": "0.05"}
            key = principals(url, plan, workdir)
            if keep is not None:
                (keep / KEY_FILE).write_text(key)
            ingest = ("ingest", "gebieden")
            police = ("--bron", "politie", "--zet", "thema=overig", "--zet", "soort=melding")
            steps = [
                ("ingest gebieden", buurten, _cli(*ingest, str(workdir / "wijkbuurtkaart_2024.gpkg"))),
                ("ingest bedrijventerreinen", plan.gemeenten * 3,
                 _cli(*ingest, str(workdir / "ibis_2024.geojson"), "--jaar", "2024")),
                ("ingest adressen", plan.adressen, _cli("ingest", "adressen", str(files.adressen))),
                ("ingest signalen riec", 0, _cli("ingest", "signalen", str(files.riec), "--bron", "riec")),
                ("ingest signalen politie", 0, _cli("ingest", "signalen", str(files.politie), *police)),
                ("delta + verversing", files.delta_rows,
                 _cli("ingest", "signalen", str(files.delta), "--bron", "riec")),
                ("volledige verversing", 0, _cli("ingest", "refresh", "--force")),
            ]  # fmt: skip
            for label, n, cmd in steps:
                peaks.step = label
                timing = timed(label, n, cmd, env)
                timings.append(timing)
                console.print(f"  {label}: {timing.seconds:.1f} s, peak RSS {timing.peak_rss_mb:,.0f} MB")
            doc["runs"] = [
                dict(r._mapping)
                for r in _rows(
                    url,
                    "SELECT id, soort, bestand, gelezen, ingevoegd, bijgewerkt, afgekeurd, duur_ms,"
                    " gemeenten FROM ingest_run ORDER BY id",
                )
            ]
            doc["sizes"] = {
                str(r.relname): int(r.n)
                for r in _rows(
                    url, "SELECT relname, n_live_tup AS n FROM pg_stat_user_tables WHERE n_live_tup > 0"
                )
            }
            peaks.step = "tegels en items"
            doc["requests"] = serve_and_measure(url, key, plan, workdir, peaks)
            doc["peak_rss_mb"] = {
                "server worker": peaks.mb("server"),
                "postgres backend": peaks.mb("postgres"),
            }
            doc["postgres_backend_mb"] = {
                "private (RssAnon)": peaks.mb("postgres", private=True),
                "per step": peaks.by_step("postgres"),
            }
        doc["timings"] = [asdict(t) for t in timings]
        doc["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        show(doc, timings)
        save_results(f"national-{scale:g}", doc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


KEY_FILE = "beheerder.key"


def serve_only(kept: Path, scale: float = 1.0) -> None:
    """Measure tiles and items again on a cluster a run kept (``--keep``), migrated first
    (a change may bring a migration)."""
    plan = Plan.at(scale)
    c = Cluster.at(kept)
    c.start_server()
    workdir = Path(tempfile.mkdtemp(prefix="okaart-national-"))
    try:
        url = c.url("nationaal")
        db.migrate(url)
        with Peaks() as peaks:
            peaks.roots["postgres"] = _postmaster(c)
            requests = serve_and_measure(url, (kept / KEY_FILE).read_text(), plan, workdir, peaks)
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        peak = {"server worker": peaks.mb("server"), "postgres backend": peaks.mb("postgres")}
        doc = {"scale": scale, "kept": str(kept), "requests": requests, "peak_rss_mb": peak, "uptime": uptime}
        table = Table(title=f"National serving, scale {scale:g} ({doc['uptime']})")
        for column in ("what", "p50 ms", "p95 ms", "req/s", "errors", "answers by status"):
            table.add_column(column, justify="left" if column in ("what", "answers by status") else "right")
        for label, r in requests.items():
            figures = (r["p50_ms"], r["p95_ms"], r["req_s"], r["errors"])
            table.add_row(label, *(f"{f:.0f}" for f in figures), _statuses(r))
        console.print(table)
        save_results(f"national-serve-{scale:g}", doc)
    finally:
        c.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _postmaster(c: Cluster) -> int:
    return int((c.datadir / "postmaster.pid").read_text().split()[0])


def show(doc: dict[str, Any], timings: list[Timing]) -> None:
    by = {t.label: t for t in timings}
    delta_run = next((r for r in reversed(doc["runs"]) if r["bestand"] == "riec_delta.csv"), None)
    ingest_ms = delta_run["duur_ms"] if delta_run else 0
    table = Table(title=f"National run, scale {doc['scale']:g} ({doc['uptime']})")
    for column in ("what", "figure", "target", "holds"):
        table.add_column(column, justify="left" if column == "what" else "right")

    def row(what: str, figure: float, target: float | None, unit: str) -> None:
        holds = "" if target is None else ("yes" if figure <= target else "NO")
        table.add_row(
            what, f"{figure:,.1f} {unit}", "" if target is None else f"< {target:,.0f} {unit}", holds
        )

    for label, t in by.items():
        target = TARGETS.get(label)
        row(f"{label} ({t.rows:,} rows)" if t.rows else label, t.seconds, target, "s")
    for run in doc["runs"]:
        row(f"  run {run['id']} {run['bestand']}: the ingest itself", run["duur_ms"] / 1000, None, "s")
    if delta_run:
        row("  of which the ingest itself", ingest_ms / 1000, None, "s")
        row("  of which the refresh", by["delta + verversing"].seconds - ingest_ms / 1000, None, "s")
        table.add_row("  municipalities touched", ", ".join(delta_run["gemeenten"] or ["(alle)"]), "", "")
    for label, r in doc["requests"].items():
        tile = label.startswith("tegels")
        row(f"{label} p95 at c={CONCURRENCY}", r["p95_ms"], TARGETS["tegel p95 ms"] if tile else None, "ms")
        row(f"{label} req/s (errors {r['errors']:.0f})", r["req_s"], None, "/s")
        # A latency holds only when the answers were answers: at most 1 % other than 200.
        share = 100 * r.get("not_200", 1.0)
        table.add_row(f"  {label} answers ({_statuses(r)})", f"{share:.1f} % not 200", "< 1 %",
                      "yes" if share < 1 else "NO")  # fmt: skip
    peak = max([t.peak_rss_mb for t in timings] + list(doc["peak_rss_mb"].values()))
    for label, t in by.items():
        row(f"peak RSS {label}", t.peak_rss_mb, None, "MB")
    for label, mb in doc["peak_rss_mb"].items():
        row(f"peak RSS {label} (VmHWM, shared buffers included)", mb, None, "MB")
    row("peak RSS, highest process", peak, TARGETS["piek RSS MB"], "MB")
    backends = doc.get("postgres_backend_mb")
    if backends:
        row("  postgres backend private (RssAnon, sampled)", backends["private (RssAnon)"], None, "MB")
        for step, mb in backends["per step"].items():
            table.add_row(f"    postgres backend in {step}", f"VmHWM {mb['vmhwm_mb']:,.0f} MB",
                          "", f"RssAnon {mb['rss_anon_mb']:,.0f} MB")  # fmt: skip
    console.print(table)
