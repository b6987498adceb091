"""Overload (issue 16): admission control, a /healthz that touches nothing, database outages
logged once a minute, failed sign-ins limited per client address and audited in aggregate.

Concurrency is driven deterministically: a test-only route waits on an advisory lock the
test holds, so the slot stays taken exactly as long as the test wants. No timings decide a
test; ``python -m benchmarks overload`` measures the speed targets.
"""

from __future__ import annotations

import gc
import inspect
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from app import looplag, outage
from app.access import rule
from app.auth_failures import ROUTE
from app.main import create_app
from app.metrics import REGISTRY
from app.routers import health
from app.services import services_of
from core import db
from core.pgcluster import Cluster
from core.settings import Settings, admission_slots_for, machine_cores
from tests.conftest import auth, scalar

LOCK = 4242


@pytest.fixture
def make_app(demo_engine: Engine, api_login: Any) -> Iterator[Callable[..., tuple[FastAPI, Engine]]]:
    """An app on the demo database with its own settings and pool."""
    made: list[Engine] = []
    url = demo_engine.url.render_as_string(hide_password=False)

    def build(**overrides: Any) -> tuple[FastAPI, Engine]:
        settings = Settings(database_url=url, environment="test", **overrides)
        api = db.make_engine(
            api_login(url),
            statement_timeout_ms=settings.statement_timeout_ms,
            pool_size=settings.pool_size,
            max_overflow=0,
            pool_timeout=settings.pool_timeout_s,
        )
        made.append(api)
        return create_app(settings, engine=api), api

    yield build
    for api in made:
        api.dispose()


def _waiting_on_lock(engine: Engine) -> int:
    return int(
        scalar(
            engine,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :o AND NOT granted",
            o=LOCK,
        )
    )


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a state of the system (not a timing: the deadline only ends a hung test)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_beyond_the_queue_a_request_gets_a_503_with_retry_after(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine
) -> None:
    app, api = make_app(admission_slots=1, admission_queue=1, admission_wait_s=0.9)

    @app.get("/test-bezet", openapi_extra=rule("open"))
    def busy() -> dict[str, str]:
        """Database work that lasts until the test lets go of its lock."""
        with api.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
            conn.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        return {"status": "klaar"}

    admission = services_of(app).admission
    statuses: dict[str, Any] = {}
    with TestClient(app, raise_server_exceptions=False) as client, demo_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
        first = threading.Thread(target=lambda: statuses.setdefault("first", client.get("/test-bezet")))
        first.start()
        _until(lambda: _waiting_on_lock(demo_engine) == 1, "the first request never reached the database")
        queued = threading.Thread(target=lambda: statuses.setdefault("queued", client.get("/test-bezet")))
        queued.start()
        _until(lambda: len(admission.waiting) == 1, "the second request never queued")
        refused = client.get("/test-bezet")  # the slot is taken and the queue is full
        live = client.get("/healthz", headers={"Authorization": "Bearer okk_" + secrets.token_urlsafe(20)})
        queued.join()
        holder.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        holder.commit()
        first.join()
        after = client.get("/test-bezet")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "Tijdelijk overbelast"
    assert refused.headers["x-content-type-options"] == "nosniff"  # inside the security headers
    # The queued request waited its limit (under a second) and was refused too.
    assert statuses["queued"].status_code == 503 and statuses["queued"].headers["retry-after"] == "1"
    assert statuses["first"].status_code == 200
    assert live.status_code == 200  # liveness needs no slot
    assert after.status_code == 200  # the slot was given back
    assert admission.refused == 2 and admission.running == 0 and not admission.waiting


def test_a_slot_is_handed_to_the_next_waiter(make_app: Callable[..., tuple[FastAPI, Engine]]) -> None:
    """Waiting requests are served in turn when slots come free, none refused."""
    app, _ = make_app(admission_slots=2, admission_queue=16, admission_wait_s=0.9)

    @app.get("/test-kort", openapi_extra=rule("open"))
    async def short() -> dict[str, str]:
        return {"status": "klaar"}

    with TestClient(app) as client:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(client.get("/test-kort").status_code))
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    admission = services_of(app).admission
    assert results == [200] * 10
    assert admission.running == 0 and not admission.waiting and admission.refused == 0


def test_healthz_runs_no_statement_even_with_a_bearer_header(
    make_app: Callable[..., tuple[FastAPI, Engine]], api_keys: dict[str, str]
) -> None:
    app, api = make_app()
    statements: list[str] = []
    checkouts: list[int] = []
    event.listen(api, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
    event.listen(api.pool, "checkout", lambda *a: checkouts.append(1))
    assert inspect.iscoroutinefunction(health.healthz)  # no thread pool
    with TestClient(app) as client:
        random_key = {"Authorization": "Bearer okk_" + secrets.token_urlsafe(30)}
        answers = [
            client.get("/healthz"),
            client.get("/healthz", headers=random_key),
            client.get("/healthz", headers=auth(api_keys["analist"])),
        ]
        during = (list(statements), list(checkouts))  # not the sealing at shutdown
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert during == ([], [])


@pytest.fixture
def stopped_cluster(tmp_path: Path) -> Iterator[str]:
    """The URL of a real cluster that was started, then stopped: the database is down."""
    cluster = Cluster.at(tmp_path / "gestopt", fast=True)
    cluster.start("postgres")
    url = cluster.url("postgres")
    cluster.stop()
    try:
        yield url
    finally:
        cluster.destroy()


def test_healthz_answers_with_the_database_stopped(stopped_cluster: str) -> None:
    engine = db.make_engine(stopped_cluster, pool_size=2, max_overflow=0, pool_timeout=0.5)
    app = create_app(Settings(database_url=stopped_cluster, environment="test"), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        live = client.get("/healthz", headers={"Authorization": "Bearer okk_" + secrets.token_urlsafe(30)})
        ready = client.get("/readyz")
    engine.dispose()
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 503


def test_a_database_outage_logs_one_line_a_minute_not_a_traceback_per_request(
    stopped_cluster: str, caplog: pytest.LogCaptureFixture
) -> None:
    for throttle in (outage.DATABASE_DOWN, outage.STATEMENT_TIMEOUT, outage.POOL_EXHAUSTED):
        throttle.last, throttle.count = None, 0
    engine = db.make_engine(stopped_cluster, pool_size=2, max_overflow=0, pool_timeout=0.5)
    app = create_app(Settings(database_url=stopped_cluster, environment="test"), engine=engine)
    caplog.set_level(logging.INFO)
    answers = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for n in range(40):
            key = {"Authorization": f"Bearer okk_{n}_" + secrets.token_urlsafe(20)}
            answers.append(client.get("/collections/buurten/items", headers=key))
            answers.append(client.get("/collections"))  # anonymous: its 401 row cannot be written
    engine.dispose()
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    serious = [
        r for r in caplog.records if r.levelno >= logging.WARNING and not r.name.startswith("okaart.toegang")
    ]
    outage_lines = [r for r in serious if "database unreachable" in r.getMessage()]
    assert len(outage_lines) == 1, [r.getMessage() for r in serious]
    assert not any(r.exc_info for r in serious), "a traceback was logged"
    # Whatever else is logged about the outage is throttled too: a few lines, not one per request.
    assert len(serious) <= 5, [r.getMessage() for r in serious]
    # The next line, a minute later, carries the count of what failed meanwhile.
    outage.DATABASE_DOWN.last = time.monotonic() - outage.EVERY_SECONDS
    outage.DATABASE_DOWN.report("/x: down")
    assert "40 failed request(s)" in caplog.records[-1].getMessage()
    # The revocation listener says once that it lost its connection, not once per retry.
    assert sum(r.name == "okaart.toegang" for r in caplog.records) <= 1


def test_random_keys_from_one_address_get_429_and_one_aggregate_audit_row(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    window = 3600
    if window - time.time() % window < 60:  # not across a window's end
        time.sleep(window - time.time() % window + 1)
    app, _ = make_app(auth_failures_per_window=5, auth_failure_window_s=window)
    address = f"192.0.2.{secrets.randbelow(250) + 1}"  # TEST-NET: an address of this test alone
    rows = "SELECT count(*) FROM audit_log WHERE client = :c"
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        assert services_of(app).principals.listening.wait(30)
        known = auth(api_keys["analist"])
        assert client.get("/collections", headers=known).status_code == 200  # cached from now on
        before = scalar(demo_engine, rows, c=address)
        statuses = [
            client.get(
                "/collections/buurten/items", headers={"Authorization": f"Bearer okk_{n}_x"}
            ).status_code
            for n in range(12)
        ]
        limited = client.get("/collections", headers={"Authorization": "Bearer okk_nog_een"})
        still_known = client.get("/collections", headers=known)
        assert scalar(demo_engine, rows, c=address) == before  # no audit row per failure
        written = services_of(app).auth_failures.seal(now=time.time() + window)
    assert statuses == [401] * 5 + [429] * 7
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= window
    assert limited.json()["title"] == "Te veel verzoeken"
    assert still_known.status_code == 200  # a known key from the same address keeps working
    assert written >= 1
    with demo_engine.connect() as conn:
        aggregate = (
            conn.execute(
                text(
                    "SELECT route, status, aantal, principal_id FROM audit_log WHERE client = :c AND id > 0"
                ),
                {"c": address},
            )
            .mappings()
            .all()
        )
    failures = [r for r in aggregate if r["route"] == ROUTE]
    assert len(failures) == 1
    assert (
        failures[0]["status"] == 401 and failures[0]["aantal"] == 13 and failures[0]["principal_id"] is None
    )


def test_the_same_bad_key_again_is_counted_but_not_looked_up(
    make_app: Callable[..., tuple[FastAPI, Engine]],
) -> None:
    """A revoked key a script keeps sending costs no lookup and does not lock out its
    address: only lookups count toward the limit."""
    app, api = make_app(auth_failures_per_window=3, auth_failure_window_s=3600)
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    lookups: list[str] = []
    event.listen(api, "before_cursor_execute", lambda *a: lookups.append(str(a[2])))
    bad = {"Authorization": "Bearer okk_steeds_dezelfde"}
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        assert services_of(app).principals.listening.wait(30)
        statuses = [client.get("/collections", headers=bad).status_code for _ in range(10)]
        pending = sum(n for (c, _), n in services_of(app).auth_failures.pending.items() if c == address)
        looked_up = sum("api_key" in s for s in lookups)
        # Two more lookups make three: at the limit, not over it (the nine repeats did not count).
        others = [
            client.get("/collections", headers={"Authorization": f"Bearer okk_{n}_y"}) for n in range(3)
        ]
    assert statuses == [401] * 10
    assert looked_up == 1
    assert pending == 9  # counted for the aggregate audit row, without a round trip
    assert [r.status_code for r in others] == [401, 401, 429]


@pytest.mark.parametrize(
    ("cores", "pool_size", "workers", "slots"),
    [
        (1, 10, 1, 2),
        (2, 10, 1, 4),
        (4, 10, 1, 8),
        (16, 10, 1, 10),
        (8, 3, 1, 3),
        (2, 10, 2, 2),
        (4, 10, 2, 4),
        (2, 10, 8, 1),
    ],
)
def test_admission_slots_default_to_the_database_cores_shared_by_the_workers_capped_by_the_pool(
    cores: int, pool_size: int, workers: int, slots: int
) -> None:
    """Two slots per database core for the instance, divided among its workers (at most one
    per connection, at least one), whatever this machine has when the database's cores are
    given; building the app opens no connection."""
    assert admission_slots_for(cores, pool_size, workers) == slots
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    settings = Settings(
        database_url=url, environment="test", pool_size=pool_size, database_cores=cores, workers=workers
    )
    assert settings.slots_per_worker() == slots
    admission = services_of(create_app(settings, engine=create_engine(url))).admission
    assert (admission.slots, admission.queue, admission.wait_s) == (slots, 64, 0.5)


def test_without_a_core_count_the_default_follows_this_machine() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", environment="test")
    assert machine_cores() >= 1
    assert settings.slots_per_worker() == admission_slots_for(machine_cores(), settings.pool_size)
    # An explicit setting wins over the rule.
    assert Settings(database_url=settings.database_url, admission_slots=7).slots_per_worker() == 7


def test_healthz_answers_while_every_slot_is_taken_and_the_queue_is_full(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine
) -> None:
    """Liveness is answered in front of the admission gate and every other middleware: with
    the one slot held by a request waiting in the database and the queue full, /healthz still
    answers, with the security headers, and takes neither a slot nor a place in the queue."""
    app, api = make_app(admission_slots=1, admission_queue=1, admission_wait_s=0.9)

    @app.get("/test-bezet", openapi_extra=rule("open"))
    def busy() -> dict[str, str]:
        with api.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
            conn.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        return {"status": "klaar"}

    admission = services_of(app).admission
    admission.wait_s = 60.0  # the queued request waits as long as the test does: no race
    held: list[Any] = []
    with TestClient(app, raise_server_exceptions=False) as client, demo_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
        first = threading.Thread(target=lambda: held.append(client.get("/test-bezet")))
        first.start()
        _until(lambda: _waiting_on_lock(demo_engine) == 1, "the first request never reached the database")
        queued = threading.Thread(target=lambda: held.append(client.get("/test-bezet")))
        queued.start()
        _until(lambda: len(admission.waiting) == 1, "the second request never queued")
        full = client.get("/test-bezet")
        state = (admission.running, len(admission.waiting))
        live = [client.get("/healthz") for _ in range(5)]
        during = (admission.running, len(admission.waiting), admission.refused)
        holder.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        holder.commit()
        queued.join()
        first.join()
    assert full.status_code == 503 and state == (1, 1)  # saturated: a data request is refused
    assert [r.status_code for r in live] == [200] * 5
    assert all(r.json() == {"status": "ok"} for r in live)
    assert live[0].headers["x-content-type-options"] == "nosniff"
    assert live[0].headers["cache-control"] == "no-store"
    assert during == (1, 1, 1)  # the probes took no slot, no place in the queue, no refusal
    assert sorted(r.status_code for r in held) == [200, 200]  # the queued one got the slot


def test_a_worker_freezes_its_startup_heap_and_reports_loop_lag_and_gc_pauses(
    make_app: Callable[..., tuple[FastAPI, Engine]],
) -> None:
    """At start a worker collects once and freezes what is alive (no later collection scans
    the imported modules again); the loop's lag and the collector's pauses are histograms on
    /metrics."""
    app, _ = make_app()

    def lag_count() -> float:
        return REGISTRY.get_sample_value("okaart_event_loop_lag_seconds_count") or 0.0

    def full_collections() -> float:
        return REGISTRY.get_sample_value("okaart_gc_pause_seconds_count", {"generatie": "2"}) or 0.0

    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        frozen = gc.get_freeze_count()
        probed, collected = lag_count(), full_collections()
        gc.collect()  # a full collection, timed by the hook and drained by the probe
        _until(lambda: full_collections() > collected, "the full collection was never recorded")
        _until(lambda: lag_count() > probed, "the loop lag probe never ran")
        scrape = client.get("/metrics")
    assert frozen > 0
    assert gc.get_threshold()[0] >= looplag.GEN0_THRESHOLD
    assert scrape.status_code == 200
    assert "okaart_event_loop_lag_seconds_bucket" in scrape.text
    for generation in range(3):
        assert f'okaart_gc_pause_seconds_count{{generatie="{generation}"}}' in scrape.text
