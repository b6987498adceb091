"""Audited requests per second: the chains per partition against the single chain and a bare insert.

Every audited request commits one ``audit_log`` row before its answer leaves. Until
migration 0016 every such row took one advisory lock held through its commit, which capped
a database at about 950 audited requests a second (issue #16). This benchmark writes rows
the way the request path does (one autocommit INSERT of the request's columns, prepared,
as the service's api login) from many concurrent connections with ``pgbench`` (a C client,
so the client is not what is measured), in one run against three tables of one database:

* ``ketens (0016)``: the real ``audit_log`` with the trigger of migration 0016;
* ``enkele keten (0006)``: a copy of the table with migration 0006's single-lock trigger
  (its SQL text, renamed), the peer;
* ``kale INSERT``: the same columns without trigger, chain or lock, the floor.

The cluster runs with production settings (fsync and synchronous commit on). Afterwards
the chains are checked (``audit_log_verify()`` must report nothing) and the time that takes
is shown. Target: at least 3,000 audited requests a second.

Run: ``.venv/bin/python -m benchmarks audit``; ``OKAART_BENCH_SECONDS=3`` for a quick run
(default 10 s per measurement).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
from rich.table import Table

from benchmarks.common import ROOT, cluster, console, fresh_database, save_results
from benchmarks.tiles import cpu_busy
from core import db
from core.pgcluster import API_ROLE, find_bindir

CONCURRENCY = (8, 32, 64)
#: label -> table written.
TABLES = {"ketens (0016)": "audit_log", "enkele keten (0006)": "audit_oud", "kale INSERT": "audit_vloer"}
PEER, FLOOR = "enkele keten (0006)", "kale INSERT"
#: A tile request's row: a principal, the route template, the tile and twelve ids served.
ROW = (
    "INSERT INTO {table} (principal_id, principal, organisatie, rol, doel, methode, route, laag, bbox,"
    " status, client, aantal, object_ids) VALUES (1, 'benchmark', 'Gemeente Groningen', 'analist',"
    " 'toezicht', 'GET', '/collections/{{collection_id}}/tiles/{{tms}}/{{z}}/{{x}}/{{y}}', 'signalen',"
    " 'tegel 15/' || :n, 200, '127.0.0.1', 12, ARRAY[{ids}]);"
)
IDS = ", ".join(f"'s{i}'" for i in range(12))


def _revision_0006() -> Any:
    path = ROOT / "migrations" / "versions" / "0006_audit_keyed.py"
    spec = importlib.util.spec_from_file_location("okaart_bench_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_chain_sql() -> str:
    """Migration 0006's single-lock chain, on a table of its own with its own lock and sequence."""
    keyed = _revision_0006()
    cuts = "\n".join(f"NEW.{c} := left(NEW.{c}, {keyed.MAX_TEXT});" for c in keyed.TEXT_COLUMNS)
    body = f"NEW.tijdstip := clock_timestamp();\n{cuts}"
    trigger = keyed._chain_function(body).replace("audit_log", "audit_oud")
    return f"""
        CREATE TABLE audit_oud (LIKE audit_log INCLUDING DEFAULTS);
        ALTER TABLE audit_oud DROP COLUMN keten, ADD PRIMARY KEY (id);
        CREATE SEQUENCE audit_oud_id_seq;
        CREATE FUNCTION audit_oud_canonical(r audit_oud) RETURNS bytea
        LANGUAGE sql IMMUTABLE SET timezone = 'UTC' AS $$
            SELECT convert_to((to_jsonb(r) - 'hash' - 'prev_hash')::text, 'UTF8')
        $$;
        {trigger}
        CREATE TRIGGER audit_oud_chain BEFORE INSERT ON audit_oud
            FOR EACH ROW EXECUTE FUNCTION audit_oud_chain();
        CREATE TABLE audit_vloer (LIKE audit_log INCLUDING DEFAULTS);
        ALTER TABLE audit_vloer DROP COLUMN keten, ALTER hash DROP NOT NULL,
            ALTER tijdstip SET DEFAULT clock_timestamp(),
            ALTER id ADD GENERATED ALWAYS AS IDENTITY, ADD PRIMARY KEY (id);
        GRANT INSERT ({keyed.WRITABLE}) ON audit_oud, audit_vloer TO {API_ROLE};
    """


def pgbench(dsn: str, script: Path, clients: int, seconds: int) -> float:
    """Transactions per second of ``script`` at ``clients`` connections."""
    binary = shutil.which("pgbench") or str(find_bindir() / "pgbench")
    proc = subprocess.run(
        [binary, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
         "-f", str(script), dsn],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"tps = ([0-9.]+)", proc.stdout)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"pgbench failed: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    return float(found.group(1))


def run(rows: int | None = None) -> None:
    """``rows`` is unused (the measure is time); accepted like the other benchmarks'."""
    seconds = int(os.environ.get("OKAART_BENCH_SECONDS", "10"))
    workdir = Path(tempfile.mkdtemp(prefix="okaart-bench-audit-"))
    results: dict[str, dict[int, float]] = {label: {} for label in TABLES}
    with cluster() as c:
        url = fresh_database(c, "audit_bench")
        db.migrate(url)
        with psycopg.connect(c.dsn("audit_bench"), autocommit=True) as conn:
            conn.execute(_old_chain_sql())
            settings: dict[str, str] = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN"
                                         " ('fsync', 'synchronous_commit')").fetchall())  # fmt: skip
        api = c.api_url("audit_bench").replace("postgresql+psycopg://", "postgresql://")
        scripts: dict[str, Path] = {}
        for label, name in TABLES.items():
            script = workdir / f"{name}.sql"
            script.write_text("\\set n random(1, 1000000)\n" + ROW.format(table=name, ids=IDS) + "\n")
            scripts[label] = script
        busy = cpu_busy()
        console.print(f"CPU busy before the run (others): {busy:.0%}; server {settings}")
        for clients in CONCURRENCY:
            for label in TABLES:
                with suppress(RuntimeError):  # warm-up: connections, plans, caches
                    pgbench(api, scripts[label], clients, 2)
                results[label][clients] = pgbench(api, scripts[label], clients, seconds)
        with psycopg.connect(c.dsn("audit_bench"), autocommit=True) as conn:
            start = time.perf_counter()
            problems = conn.execute("SELECT count(*) FROM audit_log_verify()").fetchone()
            verify_s = time.perf_counter() - start
            counts = conn.execute("SELECT count(*), count(DISTINCT keten) FROM audit_log").fetchone()
    shutil.rmtree(workdir, ignore_errors=True)
    assert problems is not None and counts is not None
    table = Table(title=f"audited rows per second (pgbench, {seconds} s each, fsync on)")
    for column in ("variant", *(f"c={n}" for n in CONCURRENCY), *(f"× {PEER} c={n}" for n in CONCURRENCY),
                   *(f"× floor c={n}" for n in CONCURRENCY)):  # fmt: skip
        table.add_column(column, justify="left" if column == "variant" else "right")
    for label, by_c in results.items():
        table.add_row(
            label,
            *(f"{by_c[n]:,.0f}" for n in CONCURRENCY),
            *(f"{by_c[n] / results[PEER][n]:.2f}" for n in CONCURRENCY),
            *(f"{by_c[n] / results[FLOOR][n]:.2f}" for n in CONCURRENCY),
        )
    console.print(table)
    console.print(
        f"audit_log: {counts[0]:,} rows in {counts[1]} chains; audit_log_verify(): {problems[0]} problems"
        f" in {verify_s:.2f} s"
    )
    save_results(
        "audit",
        {
            "seconds": seconds,
            "cpu_busy_before": busy,
            "server": settings,
            "tps": {label: {str(n): v for n, v in by_c.items()} for label, by_c in results.items()},
            "rows": counts[0],
            "chains_used": counts[1],
            "verify_problems": problems[0],
            "verify_seconds": verify_s,
        },
    )
