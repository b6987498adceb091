"""Tile and items speed: okaart vs tipg vs MapServer vs the bare ``ST_AsMVT`` SQL, in one run.

One throwaway cluster with the demo dataset; okaart and tipg (pinned, in its own virtualenv
``benchmarks/.venv-tipg``, as tipg pins its own FastAPI/pydantic) serve the same database,
both with 2 uvicorn workers. ``wrk`` replays the same seeded requests against each (city
centre tiles full of points, and random ones that are often empty) at 8 and 32 connections.
MapServer (``benchmarks/mapserver.py``: Debian's cgi-mapserver as 2 FastCGI processes behind
lighttpd) serves the same layers from the stored 3857 copies with the same tile buffer.
The floor is okaart's own tile SQL sent straight to PostgreSQL from a thread pool: what is
left when HTTP and Python are taken away, so the gap to it is the price of the service.

Fair by construction: tipg gets the same properties (``properties=``) and filters, no
feature cap below okaart's (``TIPG_MAX_FEATURES_PER_TILE``), and access logs are off on
both. Signal tiles use zoom 15-16: below 15 okaart sends clusters of points (and below 12
nothing), which the peers do not; all three read the view okaart reads (``laag_signaal``).
tipg reprojects its first geometry column (RD) per row; the extra row ``tipg 3857`` asks it
(``geom-column=geom_3857``) for the stored 3857 copy: reprojection apart from the rest of its cost.
The machine has 2 cores for servers, database and load generator alike: run nothing else.

Run: ``.venv/bin/python -m benchmarks tiles [--rows N]`` (N requests per list);
``OKAART_BENCH_SECONDS=3`` for a quick smoke run (default 20 s per measurement).
``OKAART_BENCH_ONLY=cached`` measures only okaart's cached tiles against tipg: no MapServer,
no uncached okaart, no floor, no items. okaart's cache is warmed with every tile of the lists
first (once each: a worker's cache has about half of them then, the warm-up runs fill the
rest), and each okaart row reports the share of its answers that came from the cache (and,
of those, the share answered before the route's dependencies ran, app/tile_hits.py), read
from its ``/metrics`` (the workers' counters added up: ``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from app import layer_sql
from benchmarks import mapserver
from benchmarks.common import ROOT, cluster, console, demo_database, save_results, serving, start_okaart
from core import zicht
from core.pgcluster import Cluster, free_port
from core.security import Principal
from layers import REGISTRY

HERE = ROOT / "benchmarks"
TIPG_VENV = HERE / ".venv-tipg"
TIPG_REQUIREMENTS = HERE / "requirements-tipg.txt"
TIPG_VERSION = "1.6.1"
SEED = 20240014
CONCURRENCY = (8, 32)
EXTENT = (6.45, 53.10, 6.75, 53.30)  # Groningen, lon/lat
CENTRE = (6.567, 53.219)
TMS = morecantile.tms.get("WebMercatorQuad")
TILE = "tiles/WebMercatorQuad/{z}/{x}/{y}"
BEHEERDER = Principal(
    id=0, naam="benchmark", rol="beheerder", organisatie="Gemeente Groningen (benchmark)",
    convenanten=(), gemeenten=("GM0014",), doelen=("benchmark",), dataklasse="zeer_vertrouwelijk",
)  # fmt: skip
BUURT_FILTERS = {"periode": "2024", "thema": "alle"}
#: okaart with its tile cache off: every tile built by PostGIS, as tipg and the floor do.
NOCACHE = "okaart zonder cache"
COLUMNS = (
    "tool",
    "concurrency",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "KB/answer",
    "CPU ms/answer",
)


def _props(layer_id: str) -> str:
    """The columns okaart publishes for a layer, as tipg's ``properties=`` list."""
    return ",".join(["id", *(p.name for p in REGISTRY[layer_id].properties)])


@dataclass
class Workload:
    """One comparison: the same requests as each tool spells them, in the same order."""

    name: str
    title: str
    paths: dict[str, list[str]]
    requests: list[str]  # short labels (z/x/y or bbox) for the sanity table
    floor_sql: str | None = None  # tiles only
    floor_params: list[dict[str, Any]] = field(default_factory=list)
    #: Whether the floor is measured too (its SQL also serves the sanity check).
    with_floor: bool = True


@dataclass
class Result:
    """One measured (tool, concurrency) pair."""

    tool: str
    concurrency: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    busy_before: float = 0.0  # CPU share in use just before, while our servers idled
    #: okaart with its cache: the share of tile answers from the cache, and of those the
    #: share answered before the dependencies ran (None: not measured).
    hit_share: float | None = None
    early_share: float | None = None
    bytes: int = 0  # all answers' bytes, headers included: an error page shows as a small answer
    cpu_ms: float = 0.0  # CPU of the server and the database per answer (wrk's own not counted)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def tile_list(rng: np.random.Generator, n: int, zooms: range) -> list[tuple[int, int, int]]:
    """Three centre tiles (the sanity samples), then half near the centre, half anywhere."""
    first = [TMS.tile(*CENTRE, z) for z in (zooms[0], (zooms[0] + zooms[-1]) // 2, zooms[-1])]
    m = n - len(first)
    near = rng.random(m) < 0.5
    lon = np.where(near, rng.normal(CENTRE[0], 0.012, m), rng.uniform(EXTENT[0], EXTENT[2], m))
    lat = np.where(near, rng.normal(CENTRE[1], 0.008, m), rng.uniform(EXTENT[1], EXTENT[3], m))
    zs = rng.integers(zooms.start, zooms.stop, m)
    rest = [TMS.tile(float(a), float(b), int(z)) for a, b, z in zip(lon, lat, zs, strict=True)]
    return [(t.z, t.x, t.y) for t in [*first, *rest]]


def bbox_list(rng: np.random.Generator, n: int) -> list[str]:
    """Small CRS84 boxes (200-800 m) in the city; the first three on the centre itself."""
    lon = np.concatenate([[CENTRE[0]] * 3, rng.normal(CENTRE[0], 0.02, n - 3)])
    lat = np.concatenate([[CENTRE[1]] * 3, rng.normal(CENTRE[1], 0.012, n - 3)])
    half = rng.uniform(0.0015, 0.006, n)
    return [
        f"{x - h:.6f},{y - h * 0.6:.6f},{x + h:.6f},{y + h * 0.6:.6f}"
        for x, y, h in zip(lon, lat, half, strict=True)
    ]


def mvt_sql(layer_id: str, filters: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The SQL okaart's tile route sends for a beheerder of GM0014, in psycopg's placeholders;
    the caller binds each tile's ``z``, ``x`` and ``y``. A point layer's SQL is that of its
    single points (from ``single_from``), the zooms the signal tiles are asked at: at zoom 0
    it would be the SQL of its clusters."""
    layer = REGISTRY[layer_id]
    selection = layer_sql.Selection(filters=dict(filters))
    selection.filters = {**layer.defaults_for(selection.filters), **selection.filters}
    z = layer.single_from or 0
    sql, params = layer_sql.mvt(layer, BEHEERDER, selection, morecantile.Tile(0, 0, z), k=10)
    return _pyformat(sql), params


def _pyformat(sql: str) -> str:
    """A ``:name`` SQL text in psycopg's placeholders."""
    return str(text(sql).compile(dialect=psycopg_dialect()))  # type: ignore[no-untyped-call]


def ensure_wrk() -> str:
    """wrk from Debian; installed when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("wrk is missing: run `apt-get install -y wrk` as root")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def ensure_tipg() -> Path:
    """tipg in its own virtualenv from the pinned list; never touches the project's .venv."""
    python = TIPG_VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('tipg'))"]
    installed = python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout
    if installed and installed.strip() == TIPG_VERSION:
        return TIPG_VENV / "bin" / "uvicorn"
    console.print(f"installing tipg {TIPG_VERSION} into {TIPG_VENV}")
    subprocess.run([shutil.which("python3") or "python3", "-m", "venv", str(TIPG_VENV)], check=True)
    pip = [str(TIPG_VENV / "bin" / "pip"), "install", "-q", "-r", str(TIPG_REQUIREMENTS)]
    subprocess.run(pip, check=True)
    return TIPG_VENV / "bin" / "uvicorn"


def prepare(c: Cluster, workdir: Path) -> tuple[str, str]:
    """A migrated database with the demo data and a beheerder key (not timed)."""
    return demo_database(
        c, workdir, "tiles", naam=BEHEERDER.naam, rol=BEHEERDER.rol, organisatie=BEHEERDER.organisatie,
        convenanten=[], gemeenten=list(BEHEERDER.gemeenten), doelen=list(BEHEERDER.doelen),
        dataklasse=BEHEERDER.dataklasse,
    )  # fmt: skip


def wrk(base: str, paths: list[str], concurrency: int, seconds: int, headers: dict[str, str]) -> Result:
    """One wrk run over the paths; its Lua script prints requests, errors and percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    cmd = [
        "wrk", "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "30s",
        "-s", str(HERE / "cycle.lua"), *(a for k, v in headers.items() for a in ("-H", f"{k}: {v}")),
        base, "--", f.name, "2",
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        Path(f.name).unlink()
    s = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    errors = sum(s[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        "", concurrency, s["requests"], s["duration_us"] / 1e6, errors,
        s["p50_us"] / 1e3, s["p95_us"] / 1e3, s["p99_us"] / 1e3, bytes=s["bytes"],
    )  # fmt: skip


def floor(
    dsn: str,
    sql: str,
    params: list[dict[str, Any]],
    concurrency: int,
    seconds: int,
    meter: CpuMeter | None = None,
) -> Result:
    """The same SQL straight to PostgreSQL: one connection per thread, each cycling the list.

    psycopg releases the GIL while it waits for the server, so the threads overlap like the
    servers' connections do; the Python left per query is a few microseconds. Each connection
    plans every query for its own values, as okaart's do (``core.db``): psycopg prepares a
    query it has sent five times, and the generic plan of the buurt tile query was many times
    slower. The meter reads while the connections are open, so their backends are counted.
    """
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(concurrency)]
    for conn in conns:
        conn.execute("SET plan_cache_mode = force_custom_plan")
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        n = i * len(params) // concurrency
        while (start := time.perf_counter()) < deadline:
            try:
                conns[i].execute(sql, params[n % len(params)]).fetchone()
            except psycopg.Error:
                errors[i] += 1
            latencies[i].append(time.perf_counter() - start)
            n += 1

    with meter or nullcontext():
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    ms = np.concatenate([np.asarray(x) for x in latencies]) * 1e3
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return Result("floor", concurrency, len(ms), elapsed, sum(errors), p50, p95, p99)


def _features(body: bytes, tiles: bool) -> int:
    if not tiles:
        return int(json.loads(body)["numberReturned"])
    return sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(body).values()) if body else 0


def _expected_type(content_type: str, tiles: bool) -> bool:
    """Whether an answer is a tile or a GeoJSON page at all: MapServer's tile mode answers an
    error with an HTML page and status 200, which wrk would count as a tile."""
    kind = content_type.split(";")[0].strip()
    mvt = ("application/vnd.mapbox-vector-tile", "application/x-protobuf")
    return kind in mvt if tiles else "json" in kind


def _auth(tool: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Doel": "benchmark"} if tool.startswith("okaart") else {}


def _show(table: Table) -> None:
    """Tables at a readable width also when the output goes to a file (rich assumes 80)."""
    (console if console.is_terminal else Console(width=120)).print(table)


def sanity(plan: list[Workload], bases: dict[str, str], key: str, dsn: str) -> list[dict[str, Any]]:
    """Before timing: the first three requests of each list answer 200, with data wherever the
    floor (or the other server) has data; bytes and feature counts side by side."""
    rows: list[dict[str, Any]] = []
    tools = [*plan[0].paths, "floor"]
    table = Table(title="Sanity: first three requests of each list (bytes / features)")
    for column in ("workload", "request", *tools):
        table.add_column(column, justify="left" if column in ("workload", "request") else "right")
    with httpx.Client(timeout=60) as client, psycopg.connect(dsn) as conn:
        for w in plan:
            for i in range(3):
                got: dict[str, tuple[int, int]] = {}
                for tool, paths in w.paths.items():
                    r = client.get(bases[tool] + paths[i], headers=_auth(tool, key))
                    media = r.headers.get("content-type", "")
                    wrong_type = r.content and not _expected_type(media, w.floor_sql is not None)
                    if r.status_code != 200 or wrong_type:
                        raise RuntimeError(f"{tool} {paths[i]}: {r.status_code} {media} {r.text[:300]}")
                    got[tool] = (len(r.content), _features(r.content, w.floor_sql is not None))
                if w.floor_sql:
                    row = conn.execute(w.floor_sql, w.floor_params[i]).fetchone()
                    body = bytes(row[0] or b"") if row else b""
                    got["floor"] = (len(body), _features(body, True))
                most = max(n for _, n in got.values())
                if most and not min(n for _, n in got.values()):
                    raise RuntimeError(f"{w.name}: an empty answer where others have data: {got}")
                # okaart's point tiles also carry the points in their buffer (about a tenth
                # more at zoom 15); a peer far below the rest is reading another layer.
                if min(n for _, n in got.values()) < 0.8 * most:
                    raise RuntimeError(f"{w.name}: far fewer features than the others: {got}")
                request = w.requests[i]
                cells = (f"{got[t][0]:,} / {got[t][1]:,}" if t in got else "-" for t in tools)
                table.add_row(w.name, request, *cells)
                rows.append({"workload": w.name, "request": request, "bytes_features": got})
    _show(table)
    return rows


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of the CPUs in use over a moment: with our servers idle, that is someone else."""

    def sample() -> tuple[int, int]:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    time.sleep(0.5)  # the previous run's last requests finish first
    all0, idle0 = sample()
    time.sleep(seconds)
    all1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, all1 - all0)


def _ticks(roots: tuple[int, ...]) -> dict[int, int]:
    """User + system clock ticks of every living process under ``roots`` (roots included)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        parent[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree = {pid for pid in ticks if pid in roots}
    grown = True
    while grown:
        more = {pid for pid, up in parent.items() if up in tree and pid not in tree}
        tree |= more
        grown = bool(more)
    return {pid: ticks[pid] for pid in tree}


class CpuMeter:
    """CPU spent by the servers (children of this process) and the database cluster while one
    tool is measured: the others idle, wrk is not yet running at the first reading and has
    ended at the second. On a shared machine the request rate says how much CPU a server
    *got*; CPU per answer says what an answer *costs*, which the load of others hardly moves
    (``2 cores x 1000 / cpu_ms`` is the rate this machine would give it alone, wrk apart)."""

    def __init__(self, postmaster: int) -> None:
        self.roots = (os.getpid(), postmaster)
        self.hz = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        self.before = _ticks(self.roots)
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        after = _ticks(self.roots)
        self.ms = sum(t - self.before.get(pid, 0) for pid, t in after.items()) * 1000 / self.hz


def postmaster_pid(c: Cluster) -> int:
    """The cluster's postmaster, the parent of every backend (its first line of postmaster.pid)."""
    return int((c.datadir / "postmaster.pid").read_text().split("\n", 1)[0])


def cache_counts(base: str) -> tuple[float, float, float]:
    """okaart's tile cache counters from its ``/metrics`` (this is loopback): hits, misses,
    and hits answered before the dependencies ran."""
    found = {"hit": 0.0, "miss": 0.0, "early": 0.0}
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        if line.startswith("okaart_tile_cache_total{"):
            kind = "hit" if 'resultaat="hit"' in line else "miss"
            found[kind] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("okaart_tile_hits_early_total "):
            found["early"] += float(line.rsplit(" ", 1)[1])
    return found["hit"], found["miss"], found["early"]


def warm_cache(plan: list[Workload], base: str, key: str) -> None:
    """Every distinct okaart tile of the lists asked once, each on a new connection, from
    eight threads. Each uvicorn worker has a cache of its own and a new connection may go to
    either, so a tile is in one worker's cache now; the warm-up before each measurement fills
    the other's, and the hit share reported says how far that got."""
    paths = list(dict.fromkeys(p for w in plan for p in w.paths.get("okaart", [])))
    headers = _auth("okaart", key)

    def ask(chunk: list[str]) -> None:
        for path in chunk:
            httpx.get(base + path, headers=headers, timeout=60)

    started = time.perf_counter()
    threads = [threading.Thread(target=ask, args=(paths[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    console.print(f"  cache warmed: {len(paths):,} tiles in {time.perf_counter() - started:.0f} s")


def measure(
    w: Workload, bases: dict[str, str], key: str, dsn: str, seconds: int, meter: CpuMeter
) -> list[Result]:
    """Every tool at every concurrency, each after a short warm-up at that concurrency."""
    warm = max(1, seconds // 10)
    results: list[Result] = []
    for c in CONCURRENCY:
        first = len(results)
        for tool, paths in w.paths.items():
            busy = cpu_busy()
            wrk(bases[tool], paths, c, warm, _auth(tool, key))
            counted = tool == "okaart" and w.floor_sql is not None  # tiles of the cached server
            before = cache_counts(bases[tool]) if counted else (0.0, 0.0, 0.0)
            with meter:
                results.append(wrk(bases[tool], paths, c, seconds, _auth(tool, key)))
            results[-1].tool, results[-1].busy_before = tool, busy
            results[-1].cpu_ms = meter.ms / max(1, results[-1].requests)
            if counted:
                hit, miss, early = (a - b for a, b in zip(cache_counts(bases[tool]), before, strict=True))
                results[-1].hit_share = hit / max(1.0, hit + miss)
                results[-1].early_share = early / max(1.0, hit)
        if w.floor_sql and w.with_floor:
            busy = cpu_busy()
            floor(dsn, w.floor_sql, w.floor_params, c, warm)
            # The floor's client threads run in this process: counted too.
            results.append(floor(dsn, w.floor_sql, w.floor_params, c, seconds, meter))
            results[-1].busy_before = busy
            results[-1].cpu_ms = meter.ms / max(1, results[-1].requests)
        done = ", ".join(
            f"{r.tool} {r.rate:,.0f}/s"
            + (
                f" (cache {r.hit_share:.1%}, before the dependencies {r.early_share or 0:.1%})"
                if r.hit_share is not None
                else ""
            )
            + (f" [yellow](CPU {r.busy_before:.0%} busy before)[/]" if r.busy_before > 0.1 else "")
            for r in results[first:]
        )
        console.print(f"  {w.name}, {c} connections: {done}")
    return results


def report(w: Workload, results: list[Result]) -> None:
    """req/s and latency per tool and concurrency, with each row's ratio to tipg, MapServer and
    the floor."""
    by = {(r.tool, r.concurrency): r for r in results}
    measured = {r.tool for r in results}
    peers = [p for p in ("tipg", "mapserver", "floor") if p in measured]
    shares = any(r.hit_share is not None for r in results)
    table = Table(title=f"{w.name}: {w.title}")
    for column in (*COLUMNS, *(("cache hits",) if shares else ()), *(f"× {p}" for p in peers)):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for r in results:
        peer_rates = [by[(p, r.concurrency)].rate for p in peers]
        ratios = (f"{r.rate / rate:.2f}" if rate else "-" for rate in peer_rates)
        hits = (f"{r.hit_share:.1%}" if r.hit_share is not None else "-",) if shares else ()
        table.add_row(
            r.tool, str(r.concurrency), f"{r.rate:,.0f}", f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}",
            f"{r.p99_ms:.1f}", f"{r.errors:,}", f"{r.bytes / max(1, r.requests) / 1024:,.1f}",
            f"{r.cpu_ms:.2f}", *hits, *ratios,
        )  # fmt: skip
    _show(table)


def workloads(rows: int, zicht_id: int) -> list[Workload]:
    """The seeded request lists: signal tiles, buurt tiles, signal items."""
    rng = np.random.default_rng(SEED)
    # Signal tiles from the zoom where okaart sends each point as it is (``single_from``):
    # below it okaart sends clusters, which neither tipg nor MapServer do, so the three
    # would not be building the same tile.
    single_from = REGISTRY["signalen"].single_from or REGISTRY["signalen"].minzoom
    points, areas = tile_list(rng, rows, range(single_from, 17)), tile_list(rng, rows, range(10, 17))
    boxes = bbox_list(rng, rows)
    sig_q = f"properties={_props('signalen')}"
    # tipg reads the beheerder's own view class of the figures (core.zicht), as okaart does.
    area_q = f"zicht_id={zicht_id}&gebied_soort=buurt&periode=2024&thema=alle&properties={_props('buurten')}"
    sig_sql, sig_params = mvt_sql("signalen", {})
    area_sql, area_params = mvt_sql("buurten", BUURT_FILTERS)

    def tiles(collection: str, query: str, tiles: list[tuple[int, int, int]]) -> list[str]:
        return [f"/collections/{collection}/{TILE.format(z=z, x=x, y=y)}{query}" for z, x, y in tiles]

    return [
        Workload(
            "tiles signalen",
            f"signal points, zoom {single_from}-16 (tipg: public.laag_signaal)",
            {
                "okaart": tiles("signalen", "", points),
                NOCACHE: tiles("signalen", "", points),
                "tipg": tiles("public.laag_signaal", f"?{sig_q}", points),
                "tipg 3857": tiles("public.laag_signaal", f"?{sig_q}&geom-column=geom_3857", points),
                "mapserver": [mapserver.tile_path("signalen", z, x, y) for z, x, y in points],
            },
            [f"{z}/{x}/{y}" for z, x, y in points],
            sig_sql,
            [{**sig_params, "z": z, "x": x, "y": y} for z, x, y in points],
        ),
        Workload(
            "tiles buurten",
            "buurt polygons 2024, zoom 10-16 (tipg: public.laag_indicator_zicht)",
            {
                "okaart": tiles("buurten", "?periode=2024&thema=alle", areas),
                NOCACHE: tiles("buurten", "?periode=2024&thema=alle", areas),
                "tipg": tiles("public.laag_indicator_zicht", f"?{area_q}", areas),
                "tipg 3857": tiles("public.laag_indicator_zicht", f"?{area_q}&geom-column=geom_3857", areas),
                "mapserver": [mapserver.tile_path("buurten", z, x, y) for z, x, y in areas],
            },
            [f"{z}/{x}/{y}" for z, x, y in areas],
            area_sql,
            [{**area_params, "z": z, "x": x, "y": y} for z, x, y in areas],
        ),
        Workload(
            "items signalen",
            "signal points as GeoJSON, limit 100, small bbox (tipg: public.laag_signaal)",
            {
                "okaart": [f"/collections/signalen/items?limit=100&bbox={b}" for b in boxes],
                "tipg": [f"/collections/public.laag_signaal/items?limit=100&bbox={b}&{sig_q}" for b in boxes],
                "mapserver": [mapserver.items_path("signalen", b, 100) for b in boxes],
            },
            boxes,
        ),
    ]


def start_servers(
    stack: ExitStack, url: str, tipg: Path, workdir: Path, *, cached_only: bool = False
) -> dict[str, str]:
    """okaart and tipg on the same database, 2 workers each, access logs off; stopped by ``stack``."""
    bases: dict[str, str] = {}
    for tool in ("okaart",) if cached_only else ("okaart", NOCACHE):
        # One key sends every request: the per-key rate limit would measure the policy, not the
        # server. The tile cache (keyed by ETag) answers repeated tiles from memory; the second
        # server shows what every cache miss costs.
        env = {"OKAART_RATE_LIMIT_PER_MINUTE": "0", "OKAART_TILE_CACHE_MB": "64" if tool == "okaart" else "0"}
        if tool == "okaart":  # its cache counters, all workers' added up in /metrics
            prom = workdir / "prometheus"
            prom.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        log = workdir / f"{tool.replace(' ', '-')}.log"
        bases[tool] = start_okaart(stack, url, log, workers=2, env=env, label=tool)
    port = free_port()
    # tipg runs from its own virtualenv: nothing of ours may leak into its imports.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env |= {
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://", 1),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.laag_signaal", "public.laag_indicator_zicht"]',
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",  # its default 10,000 would cut the centre tiles
        "TIPG_TILE_BUFFER": "64",  # okaart's (and MapServer's) buffer instead of its own 256
    }
    cmd = [
        str(tipg), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        "--log-level", "warning",
    ]  # fmt: skip
    bases["tipg"] = f"http://127.0.0.1:{port}"
    stack.enter_context(serving("tipg", cmd, env, f"{bases['tipg']}/healthz", workdir / "tipg.log"))
    return {**bases, "tipg 3857": bases["tipg"]}


def start_mapserver(stack: ExitStack, dsn: str, zicht_id: int, workdir: Path) -> str:
    """MapServer (FastCGI behind lighttpd, 2 processes) on the same database and layers."""
    cmd, probe, base = mapserver.command(
        workdir,
        connection=dsn,
        zicht_id=zicht_id,
        signal_items=_props("signalen").split(","),
        area_items=_props("buurten").split(","),
    )
    stack.enter_context(serving("mapserver", cmd, dict(os.environ), probe, workdir / "mapserver.log"))
    return base


def cached_plan(plan: list[Workload]) -> list[Workload]:
    """The tile workloads with okaart (cached) and tipg only, and no floor."""
    return [
        replace(w, paths={t: w.paths[t] for t in ("okaart", "tipg")}, with_floor=False)
        for w in plan
        if w.floor_sql is not None
    ]


def run(rows: int = 2_000) -> None:
    """Setup, sanity check, every workload, tables and a JSON file; one cluster, one run."""
    seconds = int(os.environ.get("OKAART_BENCH_SECONDS", "20"))
    cached_only = os.environ.get("OKAART_BENCH_ONLY", "") == "cached"
    console.print(
        f"[bold]tiles benchmark[/]: {rows:,} requests per list, {seconds} s per measurement"
        + (" (only cached okaart against tipg)" if cached_only else "")
    )
    ensure_wrk()
    tipg = ensure_tipg()
    results: dict[str, list[Result]] = {}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-tiles-")))
        c = stack.enter_context(cluster())
        url, key = prepare(c, workdir)
        with psycopg.connect(c.dsn("tiles")) as conn:
            row = conn.execute(_pyformat(zicht.LOOKUP), zicht.Zicht.of(BEHEERDER).params()).fetchone()
        zicht_id = int(row[0]) if row and row[0] is not None else 0
        plan = workloads(rows, zicht_id)
        if cached_only:
            plan = cached_plan(plan)
        bases = start_servers(stack, url, tipg, workdir, cached_only=cached_only)
        dsn = c.dsn("tiles")
        if not cached_only:
            bases["mapserver"] = start_mapserver(stack, dsn, zicht_id, workdir)
        checks = sanity(plan, bases, key, dsn)
        if cached_only:
            warm_cache(plan, bases["okaart"], key)
        meter = CpuMeter(postmaster_pid(c))
        for w in plan:
            results[w.name] = measure(w, bases, key, dsn, seconds, meter)
        for w in plan:
            report(w, results[w.name])
        for log in sorted(workdir.glob("*.log")):
            if log.read_text().strip():
                console.print(f"[yellow]{log.name} (last lines)[/]:\n{log.read_text()[-1500:]}")
        with psycopg.connect(dsn) as conn:
            versions = conn.execute("SELECT version(), postgis_lib_version()").fetchone()
    doc = {
        "only": "cached" if cached_only else None, "seconds": seconds, "rows": rows, "seed": SEED,
        "concurrency": CONCURRENCY, "tipg": TIPG_VERSION,
        "postgres_postgis": list(versions or ()), "sanity": checks,
        "first_request": {w.name: {t: p[0] for t, p in w.paths.items()} for w in plan},
        "results": {name: [{**asdict(r), "rate": r.rate} for r in rs] for name, rs in results.items()},
    }  # fmt: skip
    save_results("tiles", doc)
