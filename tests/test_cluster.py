"""`okaart db start|stop` manage an embedded cluster that survives restarts and crashes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from core.pgcluster import Cluster

OKAART = [sys.executable, "-m", "cli"]


def okaart(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OKAART_DATABASE_URL")}
    full_env["OKAART_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run(
        [*OKAART, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=180,
        cwd=Path(__file__).resolve().parent.parent,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "okaart"
    yield directory
    Cluster.at(directory).destroy()


def rows(cluster: Cluster) -> list[tuple[object, ...]]:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        return conn.execute("SELECT v FROM kept ORDER BY v").fetchall()


def test_start_twice_stop_and_crash_keep_the_data(data_dir: Path) -> None:
    first = okaart(data_dir, "db", "start")
    assert first.returncode == 0, first.stderr
    again = okaart(data_dir, "db", "start")
    assert again.returncode == 0, again.stderr

    cluster = Cluster.at(data_dir)
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (1), (2)")
        assert conn.execute("SELECT postgis_lib_version()").fetchone()

    stopped = okaart(data_dir, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not cluster.running()
    assert okaart(data_dir, "db", "start").returncode == 0
    assert rows(cluster) == [(1,), (2,)]

    # A crash: the postmaster killed outright leaves a stale pid file behind.
    pid = int((cluster.datadir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    restarted = okaart(data_dir, "db", "start")
    assert restarted.returncode == 0, restarted.stderr
    assert rows(cluster) == [(1,), (2,)]

    status = okaart(data_dir, "db", "status")
    assert "running: True" in status.stdout


def test_url_prints_a_working_connection_url(data_dir: Path) -> None:
    assert okaart(data_dir, "db", "start").returncode == 0
    url = okaart(data_dir, "db", "url").stdout.strip()
    assert url.startswith("postgresql+psycopg://okaart:")
    with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _fake_bindir(root: Path) -> Path:
    """Server binaries of a PostgreSQL for which no PostGIS package is installed."""
    bindir = root / "lib" / "postgresql" / "99" / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        script = bindir / name
        script.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 99.1'\n")
        script.chmod(0o755)
    return bindir


def test_missing_postgis_is_one_clear_line(tmp_path: Path) -> None:
    bindir = _fake_bindir(tmp_path)
    cmd = [*OKAART, "db", "start"]
    env = {
        "OKAART_PG_BINDIR": str(bindir),
        "OKAART_DATA_DIR": str(tmp_path / "data"),
        "PATH": os.environ["PATH"],
    }
    # Without root: as root, drop to `nobody` when it can reach this interpreter and code.
    if os.geteuid() == 0:
        os.chmod(tmp_path, 0o777)
        reach = subprocess.run(
            ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import cli.main"],
            capture_output=True,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
        if reach.returncode == 0 and shutil.which("runuser"):
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "postgresql-99-postgis-3" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_demo_serves_a_ready_service_and_prints_its_url(data_dir: Path) -> None:
    """`okaart demo` from nothing: own cluster, schema, demo data, service answering /readyz."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OKAART_DATABASE_URL")}
    env["OKAART_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [*OKAART, "demo", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(1)
        assert status == 200
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output
    assert "API-sleutel demo-analist: okk_" in output
