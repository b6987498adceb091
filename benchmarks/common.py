"""Shared pieces of the benchmarks: a throwaway cluster, okaart under uvicorn, timing with
peak RSS, tables."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from core.pgcluster import Cluster, free_port

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
console = Console()


@dataclass
class Timing:
    """One measured command."""

    label: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@contextmanager
def cluster(keep: Path | None = None) -> Iterator[Cluster]:
    """A fresh cluster with production settings (fsync on), removed afterwards; or, with
    ``keep``, made in that (empty) directory and only stopped afterwards."""
    workdir = keep or Path(tempfile.mkdtemp(prefix="okaart-bench-"))
    c = Cluster.at(workdir)
    c.start("postgres")
    try:
        yield c
    finally:
        if keep is None:
            c.destroy()
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            c.stop()


def fresh_database(c: Cluster, name: str) -> str:
    """Create an empty PostGIS database; returns its SQLAlchemy URL."""
    with psycopg.connect(c.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    c.ensure_database(name)
    return c.url(name)


def demo_database(c: Cluster, workdir: Path, name: str, **principal: Any) -> tuple[str, str]:
    """A migrated database with the demo data, analysed, and a key for ``principal`` (not timed)."""
    from sqlalchemy import create_engine, text

    from cli import demo
    from core import db
    from core.security import create_principal_key

    url = fresh_database(c, name)
    db.migrate(url)
    engine = create_engine(url)
    try:
        demo.load_into(engine, workdir / "demo", console)
        with engine.begin() as conn:
            key, _ = create_principal_key(conn, **principal)
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return url, key


@contextmanager
def serving(label: str, cmd: list[str], env: dict[str, str], probe: str, log: Path) -> Iterator[None]:
    """Start a server, wait until ``probe`` answers 200, and always stop it again.

    It runs in a process group of its own, and stopping signals the whole group: lighttpd left
    its FastCGI ``mapserv`` children running when only it was stopped, and they took CPU from
    the next measurement."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{label} exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                if httpx.get(probe, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not answer {probe}: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield
    finally:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # whatever of the group outlived its leader


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def start_okaart(
    stack: ExitStack,
    url: str,
    log: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    label: str = "okaart",
    extra_args: tuple[str, ...] = (),
) -> str:
    """okaart under uvicorn on a free loopback port, stopped by ``stack``; returns its base URL.

    What every benchmark wants of it: the development settings, the service's own log at
    WARNING and uvicorn's as well (no line per request), ``/readyz`` answering before the
    first measured request. ``env`` adds or overrides settings (a rate limit of 0, a cache
    size, no basemap); the log goes to ``log``, printed when the server does not come up.
    """
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": url, "OKAART_ENVIRONMENT": "development"}
    # The workers share the database's cores, as under `okaart serve --workers`.
    environment |= {"OKAART_LOG_LEVEL": "WARNING", "OKAART_WORKERS": str(workers), **(env or {})}
    cmd = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--app-dir", str(ROOT),
        *extra_args,
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(serving(label, cmd, environment, f"{base}/readyz", log))
    return base


def timed(label: str, rows: int, cmd: list[str], env: dict[str, str] | None = None) -> Timing:
    """Run a command as a child; wall time and its peak RSS (through benchmarks/rss.py)."""
    launcher = [sys.executable, "-S", str(ROOT / "benchmarks" / "rss.py")]
    start = time.perf_counter()
    proc = subprocess.run(
        [*launcher, *cmd], env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}): {err[-2000:]}")
    peak_kb = int(err.rsplit("OKAART_PEAK_RSS_KB=", 1)[1].split()[0])
    return Timing(label, rows, seconds, peak_kb / 1024)


def report(title: str, timings: list[Timing], peer: str, floor: str) -> None:
    """Print rows/s, peak RSS and the ratios against the peer and the floor."""
    by_label = {t.label: t for t in timings}
    table = Table(title=title)
    for column in ("tool", "rows", "s", "rows/s", "peak RSS MB", f"× {peer}", f"× {floor}"):
        table.add_column(column, justify="right" if column != "tool" else "left")
    for t in timings:
        table.add_row(
            t.label,
            f"{t.rows:,}",
            f"{t.seconds:.2f}",
            f"{t.rate:,.0f}",
            f"{t.peak_rss_mb:,.0f}",
            f"{t.rate / by_label[peer].rate:.2f}",
            f"{t.rate / by_label[floor].rate:.2f}",
        )
    console.print(table)


def save_results(name: str, doc: dict[str, Any]) -> Path:
    """Write one run's figures to ``benchmarks/results/<name>-<UTC time>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(doc, indent=2))
    console.print(f"results written to {out.relative_to(ROOT)}")
    return out
