"""Overload: goodput, refusals and liveness at twice the saturating load (issue 16).

``python -m benchmarks overload``. On a fresh cluster with the demo data, one okaart server
(2 uvicorn workers) serves a heavy request (a whole layer's items, ``OKAART_BENCH_PATH``) to
a closed loop of ``c`` clients for ``OKAART_BENCH_SECONDS`` (default 12) per step, while a
probe in a process of its own asks ``/healthz`` every 20 ms on a new connection each time (as
an orchestrator does), so its figures are the server's and not the load generator's event
loop. First a ladder of concurrencies finds the saturating one (the smallest whose goodput is
within 10 % of the best); then the same load at twice that, and at the issue's 50 clients, is
run against three configurations. The load itself comes from :data:`LOAD_PROCESSES`
processes, each running its share of the clients on its own event loop, their counts and
latencies merged: one Python process driving 50 clients saturated its own core and its loop's
lag showed up as the server's latency.

Configurations:

* ``zonder toelating``: admission control off (slots far above the load, no queue), the
  behaviour before issue 16;
* ``standaard``: the default settings (slots per worker = twice the database's cores, here
  this machine's; queue 64; 0.5 s);
* ``pool``: the first defaults, slots = the pool size (10) per worker, queue 32;
* ``korte rij``: the defaults with a queue of 4, so that these loads are refused in part:
  the default queue holds every client of this benchmark, and the refusals (their latency
  is a target) would otherwise not be measured at all.

Also the cost of the shared rate limit per request (``rate_take`` round trips, with a lease of
1 and of 10). Reported per run: goodput (200s per second) against the peak, requests refused
by admission control (503 "Tijdelijk overbelast"), the p99 and max of their latency and the
max of the part spent in the app (its ``Server-Timing``; the rest is accept queue, run queue
and the client), other 503s (statement timeouts, an exhausted pool: database work that
failed), other errors, ``/healthz`` p99 and max, and the share of the machine's CPU the load
generator itself used (it competes with the server and the database for the same cores).
Targets: goodput >= 80 % of peak, refused p99 < 1 s, ``/healthz`` max < 50 ms.
"""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.table import Table

from app.admission import TITLE as ADMISSION_TITLE
from app.ratelimit import RateLimiter
from benchmarks.common import cluster, console, demo_database, save_results, start_okaart

PATH = os.environ.get("OKAART_BENCH_PATH", "/collections/buurten/items?limit=1000&periode=2024&thema=alle")
LADDER = (1, 2, 4, 8, 16, 32)
ISSUE_CONCURRENCY = 50
CONFIGS: dict[str, dict[str, str]] = {
    "zonder toelating": {"OKAART_ADMISSION_SLOTS": "10000", "OKAART_ADMISSION_QUEUE": "0"},
    "standaard": {},
    "pool": {"OKAART_ADMISSION_SLOTS": "10", "OKAART_ADMISSION_QUEUE": "32"},
    "korte rij": {"OKAART_ADMISSION_QUEUE": "4"},
}
PROBE_EVERY_S = 0.02
#: Processes the closed-loop clients are spread over.
LOAD_PROCESSES = 4


@dataclass
class Run:
    config: str
    concurrency: int
    seconds: float
    ok: int = 0
    #: Refused by admission control (its own 503 title).
    refused: int = 0
    #: 503s after database work: statement timeouts, an exhausted pool.
    failed_503: int = 0
    other: int = 0
    refused_latencies: list[float] = field(default_factory=list, repr=False)
    #: The same refusals as the server timed them, from arrival in the app to the 503
    #: (``Server-Timing: admission``): the rest of a refusal's latency is outside the app.
    refused_in_app: list[float] = field(default_factory=list, repr=False)
    ok_latencies: list[float] = field(default_factory=list, repr=False)
    healthz: list[float] = field(default_factory=list, repr=False)
    healthz_failed: int = 0
    #: CPU seconds the load generator's process used during the run.
    client_cpu_s: float = 0.0

    def merge(self, part: Run) -> None:
        """Add the counts and latencies of one load process's share."""
        self.ok += part.ok
        self.refused += part.refused
        self.failed_503 += part.failed_503
        self.other += part.other
        self.refused_latencies += part.refused_latencies
        self.refused_in_app += part.refused_in_app
        self.ok_latencies += part.ok_latencies
        self.client_cpu_s += part.client_cpu_s

    @property
    def goodput(self) -> float:
        return self.ok / self.seconds

    def summary(self, peak: float) -> dict[str, Any]:
        return {
            "config": self.config,
            "c": self.concurrency,
            "goodput_per_s": round(self.goodput, 2),
            "of_peak": round(self.goodput / peak, 3) if peak else None,
            "ok": self.ok,
            "refused_503": self.refused,
            "failed_503": self.failed_503,
            "other_errors": self.other,
            "refused_p99_s": round(_pct(self.refused_latencies, 99), 3),
            "refused_max_s": round(max(self.refused_latencies, default=0.0), 3),
            "refused_in_app_max_s": round(max(self.refused_in_app, default=0.0), 3),
            "ok_p50_s": round(_pct(self.ok_latencies, 50), 3),
            "healthz_p99_ms": round(1000 * _pct(self.healthz, 99), 1),
            "healthz_max_ms": round(1000 * max(self.healthz, default=0.0), 1),
            "healthz_probes": len(self.healthz),
            "healthz_failed": self.healthz_failed,
            "client_cpu_share": round(self.client_cpu_s / self.seconds / (os.cpu_count() or 1), 3),
        }


def _pct(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def _load(base: str, key: str, run: Run) -> None:
    """``run.concurrency`` clients in a closed loop for the run's time."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=run.concurrency + 1, max_keepalive_connections=run.concurrency + 1)
    end = time.monotonic() + run.seconds
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < end:
                start = time.monotonic()
                try:
                    r = await client.get(PATH, headers=headers)
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                took = time.monotonic() - start
                if status == 200:
                    run.ok += 1
                    run.ok_latencies.append(took)
                elif status == 503 and r.headers.get("retry-after") and ADMISSION_TITLE in r.text:
                    run.refused += 1
                    run.refused_latencies.append(took)
                    if (timing := _admission_ms(r.headers.get("server-timing", ""))) is not None:
                        run.refused_in_app.append(timing / 1000)
                elif status == 503:  # a statement timeout or an exhausted pool: work that failed
                    run.failed_503 += 1
                else:
                    run.other += 1

        await asyncio.gather(*(worker() for _ in range(run.concurrency)))


def _admission_ms(header: str) -> float | None:
    """The ``admission;dur=<ms>`` entry of a Server-Timing header, if there is one."""
    for entry in header.split(","):
        name, _, dur = entry.strip().partition(";dur=")
        if name == "admission":
            try:
                return float(dur)
            except ValueError:
                return None
    return None


def _probe(base: str, seconds: float, out: Connection) -> None:
    """In a process of its own: GET /healthz on a new connection every 20 ms; the latencies
    (None for a failure) go back through ``out``."""
    parsed = urlsplit(base)
    found: list[float | None] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            found.append(time.monotonic() - start if response.status == 200 else None)
        except OSError:
            found.append(None)
        finally:
            conn.close()
        time.sleep(PROBE_EVERY_S)
    out.send(found)
    out.close()


def _load_share(base: str, key: str, share: Run, out: Connection) -> None:
    """In a process of its own: ``share.concurrency`` clients; the counts go back through
    ``out``, with the CPU time this process used."""
    cpu = time.process_time()
    asyncio.run(_load(base, key, share))
    share.client_cpu_s = time.process_time() - cpu
    out.send(share)
    out.close()


def measure(base: str, key: str, config: str, concurrency: int, seconds: float) -> Run:
    run = Run(config, concurrency, seconds)
    fork = multiprocessing.get_context("fork")
    receiving, sending = fork.Pipe(duplex=False)
    probe = fork.Process(target=_probe, args=(base, seconds, sending))
    processes = min(LOAD_PROCESSES, concurrency)
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    loaders = []
    for n in shares:
        got, put = fork.Pipe(duplex=False)
        loader = fork.Process(target=_load_share, args=(base, key, Run(config, n, seconds), put))
        loaders.append((loader, got))
    probe.start()
    for loader, _ in loaders:
        loader.start()
    for loader, got in loaders:
        run.merge(got.recv())
        loader.join()
    found: list[float | None] = receiving.recv()
    probe.join()
    run.healthz = [t for t in found if t is not None]
    run.healthz_failed = sum(t is None for t in found)
    time.sleep(1.0)  # let the statements of abandoned requests end before the next step
    return run


def rate_limit_cost(url: str, calls: int = 2000) -> dict[str, float]:
    """Microseconds per request the shared rate limit costs, as the api login sees it: every
    request a round trip (lease 1), and the default lease of 10."""
    from core import db

    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    costs: dict[str, float] = {}
    try:
        for lease in (1, 10):
            limiter = RateLimiter(engine, per_minute=10**9, burst=10**6, lease=lease)
            limiter.take(1)  # the connection and the bucket exist
            start = time.perf_counter()
            for _ in range(calls):
                limiter.take(1)
            costs[f"lease {lease} µs/request"] = round(1e6 * (time.perf_counter() - start) / calls, 1)
    finally:
        engine.dispose()
    return costs


def start(stack: ExitStack, url: str, workdir: Path, overrides: dict[str, str]) -> str:
    env = {"OKAART_RATE_LIMIT_PER_MINUTE": "0", **overrides}
    log = workdir / f"okaart-{len(list(workdir.glob('okaart-*.log')))}.log"
    return start_okaart(stack, url, log, workers=2, env=env, extra_args=("--no-access-log",))


def run(rows: int = 0) -> None:
    """Ladder, then twice the saturating load and the issue's 50 clients per configuration."""
    seconds = float(os.environ.get("OKAART_BENCH_SECONDS", "12"))
    console.print(f"[bold]overload benchmark[/]: {PATH}, {seconds:g} s per step")
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="okaart-bench-overload-")))
        c = stack.enter_context(cluster())
        url, key = demo_database(
            c, workdir, "overload", naam="bench overload", rol="analist", organisatie="Gemeente Groningen",
            convenanten=[], gemeenten=["GM0014"], doelen=["benchmark"],
        )  # fmt: skip
        costs = rate_limit_cost(url)
        console.print(f"shared rate limit: {costs}")
        with ExitStack() as server:
            base = start(server, url, workdir, CONFIGS["zonder toelating"])
            measure(base, key, "warm-up", 2, 3)
            ladder = [measure(base, key, "ladder", n, seconds) for n in LADDER]
        peak = max(r.goodput for r in ladder)
        saturating = next(r.concurrency for r in ladder if r.goodput >= 0.9 * peak)
        results += [r.summary(peak) for r in ladder]
        console.print(f"peak goodput {peak:.1f}/s; saturating concurrency {saturating}")
        for config, overrides in CONFIGS.items():
            with ExitStack() as server:
                base = start(server, url, workdir, overrides)
                measure(base, key, "warm-up", 2, 3)
                for n in (2 * saturating, ISSUE_CONCURRENCY):
                    results.append(measure(base, key, config, n, seconds).summary(peak))
    table = Table(title=f"overload: {PATH} (peak {peak:.1f}/s at c={saturating})")
    columns = {
        "config": "config", "c": "c", "goodput_per_s": "goodput/s", "of_peak": "× peak",
        "refused_503": "refused", "refused_p99_s": "refused p99 s",
        "refused_max_s": "refused max s", "refused_in_app_max_s": "of which in app max s",
        "failed_503": "other 503",
        "other_errors": "other",
        "ok_p50_s": "ok p50 s", "healthz_p99_ms": "healthz p99 ms", "healthz_max_ms": "healthz max ms",
        "client_cpu_share": "load gen CPU",
    }  # fmt: skip
    for name, title in columns.items():
        table.add_column(title, justify="left" if name == "config" else "right")
    for r in results:
        table.add_row(*(str(r[name]) for name in columns))
    console.print(table)
    save_results("overload", {"path": PATH, "seconds": seconds, "peak": peak, "saturating": saturating,
                              "runs": results, "cpus": os.cpu_count(), "rate_limit": costs,
                              "load_average": os.getloadavg()})  # fmt: skip
