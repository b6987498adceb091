"""Consistency under faults: figures heal after a kill, and a dead client's session gives up.

The ingest runs in a real ``okaart`` process that is killed with SIGKILL at a chosen moment
(``OKAART_TEST_PAUSE``, ingest/faults.py: test-only). The figures are compared with a full
recount: the signal cube recomputed from the tables and every view class's figures computed
from it afresh (``zicht_cijfers``), in a transaction that is rolled back.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from core import zicht
from core.domain import RunStatus
from core.settings import get_settings
from ingest.refresh import stale
from tests import files
from tests.conftest import PRINCIPALS, scalar
from tests.files import ingest, load_areas, load_bronnen


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    yield eng
    eng.dispose()


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    """Areas, addresses, partners, a principal (so there is a view class) and some signals."""
    from core.security import create_principal_key

    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=120))
    load_bronnen(engine, tmp_path)
    with engine.begin() as c:
        create_principal_key(c, naam="test-analist", **PRINCIPALS["analist"])  # type: ignore[arg-type]
    report = ingest(engine, "signalen", signals(tmp_path / "eerste.xlsx", range(0, 40)), bron="politie")
    assert report.status is RunStatus.GESLAAGD, report.melding
    assert figures(engine) == recount(engine)
    return engine


def signals(path: Path, numbers: range) -> Path:
    source = files.addresses(120)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"H-{i}",
            "Thema": "drugs" if i % 3 else "vastgoed",
            "Soort": "melding",
            "Datum melding": dt.datetime(2025, 1 + i % 12, 1 + i % 28),
            "Postcode": source.loc[i, "postal_code"],
            "Huisnummer": int(source.loc[i, "number"]),
            "Huisletter": source.loc[i, "letter"] or None,
            "Toevoeging": source.loc[i, "suffix"] or None,
        }
        for i in numbers
    ]
    return files.signals_xlsx(path, rows)


def _columns(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(text("SELECT * FROM zicht_cijfers(ARRAY[]::bigint[]) LIMIT 0")).keys())


def figures(engine: Engine) -> list[tuple[Any, ...]]:
    """The published figures of every view class."""
    cols = ", ".join(_columns(engine))
    with engine.connect() as c:
        return [
            tuple(r) for r in c.execute(text(f"SELECT {cols} FROM indicator_zicht ORDER BY zicht_id, id"))
        ]


def recount(engine: Engine) -> list[tuple[Any, ...]]:
    """The figures as a full recount from the tables gives them (rolled back afterwards)."""
    cols = ", ".join(_columns(engine))
    with engine.connect() as c:
        zicht.refill_cubes(c, None)
        ids = list(c.execute(text("SELECT id FROM zicht ORDER BY id")).scalars())
        rows = [
            tuple(r)
            for r in c.execute(
                text(f"SELECT {cols} FROM zicht_cijfers(CAST(:ids AS bigint[])) ORDER BY zicht_id, id"),
                {"ids": ids},
            )
        ]
        c.rollback()
    return rows


def start_okaart(url: str, pause: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "OKAART_TEST_PAUSE": pause}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=files.REPO,
    )


def wait_for(proc: subprocess.Popen[bytes], engine: Engine, sql: str, **params: Any) -> None:
    """Wait until ``sql`` counts something, while the process still runs."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if scalar(engine, sql, **params):
            return
        if proc.poll() is not None:
            pytest.fail(f"okaart ended early: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)
    pytest.fail(f"never happened: {sql}")


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def killed_before_refresh(engine: Engine, url: str, path: Path) -> None:
    """An ingest whose data committed and whose process died before the refresh."""
    proc = start_okaart(url, "voor_verversen:120", "ingest", "signalen", str(path), "--bron", "politie")
    try:
        wait_for(
            proc,
            engine,
            "SELECT count(*) FROM ingest_run WHERE bestand = :b AND status = 'geslaagd' AND ingevoegd > 0",
            b=path.name,
        )
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert figures(engine) != recount(engine), "the kill should have left the figures stale"
    with engine.connect() as c:
        assert stale(c)


@pytest.fixture
def cli_env(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.delenv("OKAART_TEST_PAUSE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def okaart(*args: str) -> int:
    from cli.main import main

    try:
        main(list(args))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def test_a_kill_between_commit_and_refresh_is_healed_by_rerunning_the_same_file(
    loaded: Engine, fresh_db: str, tmp_path: Path, cli_env: None
) -> None:
    """The rerun changes nothing, yet it finds the data newer than the figures and refreshes."""
    path = signals(tmp_path / "tweede.xlsx", range(40, 80))
    killed_before_refresh(loaded, fresh_db, path)
    assert okaart("ingest", "signalen", str(path), "--bron", "politie") == 0
    with loaded.connect() as c:
        rerun = c.execute(
            text("SELECT ingevoegd, bijgewerkt, ongewijzigd FROM ingest_run ORDER BY id DESC")
        ).first()
        assert tuple(rerun or ()) == (0, 0, 40)
        assert not stale(c)
    assert figures(loaded) == recount(loaded)


def test_a_kill_is_healed_by_the_next_ingest_of_anything_even_a_failing_one(
    loaded: Engine, fresh_db: str, tmp_path: Path, cli_env: None
) -> None:
    killed_before_refresh(loaded, fresh_db, signals(tmp_path / "derde.xlsx", range(40, 70)))
    empty = tmp_path / "leeg.csv"
    empty.write_bytes(b"")
    assert okaart("ingest", "adressen", str(empty)) == 1
    assert figures(loaded) == recount(loaded)


def test_a_kill_is_healed_by_okaart_ingest_refresh(
    loaded: Engine, fresh_db: str, tmp_path: Path, cli_env: None
) -> None:
    killed_before_refresh(loaded, fresh_db, signals(tmp_path / "vierde.xlsx", range(40, 100)))
    assert okaart("ingest", "refresh") == 0
    assert figures(loaded) == recount(loaded)
    with loaded.connect() as c:
        assert not stale(c)
        pending = c.execute(
            text("SELECT count(*) FROM ingest_run WHERE ververst_op IS NULL AND ingevoegd > 0")
        )
        assert pending.scalar_one() == 0


def test_a_killed_clients_statement_stops_and_the_next_ingest_does_not_wait(
    loaded: Engine, fresh_db: str, tmp_path: Path
) -> None:
    """A run killed while its statement runs on the server (a long DELETE, here pg_sleep in the
    data transaction, holding the rows it upserted): the server notices the client is gone
    within about a second and rolls back, so the next run of the same rows goes through."""
    path = signals(tmp_path / "vijfde.xlsx", range(0, 60))  # 40 known rows and 20 new ones
    proc = start_okaart(fresh_db, "in_transactie:120", "ingest", "signalen", str(path), "--bron", "politie")
    try:
        wait_for(proc, loaded, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = time.monotonic()
    while scalar(loaded, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"):
        assert time.monotonic() - killed < 10, "the server went on with a dead client's statement"
        time.sleep(0.1)
    started = time.monotonic()
    report = ingest(loaded, "signalen", path, bron="politie")
    assert time.monotonic() - started < 30
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 20), report.melding
    assert scalar(loaded, "SELECT count(*) FROM signaal") == 60
    assert figures(loaded) == recount(loaded)
