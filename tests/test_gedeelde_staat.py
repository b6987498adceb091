"""State shared by workers and app replicas (issue 16): the per-key rate limit lives in
PostgreSQL, so two real app processes give a key its rate once; a revoked key or an ended
session stops working in every worker at once (LISTEN/NOTIFY), not after each one's cache
runs out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from app.main import create_app
from app.principal_cache import CHANNEL, Credentials
from app.services import services_of
from core import db
from core.pgcluster import free_port
from core.security import create_principal_key, hash_key
from core.settings import Settings
from tests.conftest import REPO, auth

BURST = 6


@pytest.fixture
def two_processes(demo_engine: Engine, api_login: Any, tmp_path: Path) -> Iterator[list[str]]:
    """Two uvicorn processes of the service on the demo database, as two replicas."""
    url = demo_engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": url,
        "OKAART_API_DATABASE_URL": api_login(url),
        "OKAART_ENVIRONMENT": "test",
        "OKAART_LOG_LEVEL": "WARNING",
        # Next to nothing refills during the test: the burst is the whole allowance.
        "OKAART_RATE_LIMIT_PER_MINUTE": "1",
        "OKAART_RATE_LIMIT_BURST": str(BURST),
        # One token per round trip: exact (a larger lease may let a held token lapse).
        "OKAART_RATE_LIMIT_LEASE": "1",
    }
    processes, bases = [], []
    for n in range(2):
        port = free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        log = (tmp_path / f"okaart-{n}.log").open("wb")
        processes.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for base, proc in zip(bases, processes, strict=True):
            while True:
                assert proc.poll() is None, (tmp_path / "okaart-0.log").read_text()
                assert time.monotonic() < deadline, "the service did not start"
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        yield bases
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.wait(timeout=15)


def test_two_app_processes_give_a_key_its_rate_once(two_processes: list[str], demo_engine: Engine) -> None:
    with demo_engine.begin() as conn:
        key, _ = create_principal_key(
            conn, naam=f"tempo-{uuid.uuid4().hex[:6]}", rol="analist", organisatie="Gemeente Groningen",
            convenanten=[], gemeenten=["GM0014"], doelen=["analyse"],
        )  # fmt: skip
    served: dict[str, int] = dict.fromkeys(two_processes, 0)
    limited = []
    with httpx.Client(timeout=30) as client:
        for _ in range(2 * BURST):
            for base in two_processes:
                r = client.get(f"{base}/collections", headers=auth(key, "analyse"))
                assert r.status_code in (200, 429), r.text
                if r.status_code == 200:
                    served[base] += 1
                else:
                    limited.append(r)
    # Per process the key would get its burst in each (12); shared, it gets it once.
    assert sum(served.values()) == BURST
    assert all(n > 0 for n in served.values()), served  # both processes took part
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)


@pytest.fixture
def two_workers(
    demo_engine: Engine, api_login: Any
) -> Iterator[Callable[[], list[tuple[FastAPI, TestClient]]]]:
    url = demo_engine.url.render_as_string(hide_password=False)
    engines: list[Engine] = []
    clients: list[TestClient] = []

    def build() -> list[tuple[FastAPI, TestClient]]:
        made = []
        for _ in range(2):
            api = db.make_engine(api_login(url))
            engines.append(api)
            app = create_app(
                Settings(database_url=url, environment="test", rate_limit_per_minute=0), engine=api
            )
            client = TestClient(app, raise_server_exceptions=False)
            client.__enter__()
            clients.append(client)
            services_of(app).principals.ttl = 3600.0  # only a notification can end a cached key
            assert services_of(app).principals.listening.wait(30)
            made.append((app, client))
        return made

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    for api in engines:
        api.dispose()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30  # ends a hung test; not a measured time
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_revoked_key_stops_in_every_worker_at_once(
    two_workers: Callable[[], list[tuple[FastAPI, TestClient]]], demo_engine: Engine
) -> None:
    with demo_engine.begin() as conn:
        key, key_id = create_principal_key(
            conn, naam=f"intrekken-{uuid.uuid4().hex[:6]}", rol="analist", organisatie="Gemeente Groningen",
            convenanten=[], gemeenten=["GM0014"], doelen=["analyse"],
        )  # fmt: skip
    workers = two_workers()
    for _, client in workers:
        assert client.get("/collections", headers=auth(key, "analyse")).status_code == 200  # cached now
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE api_key SET ingetrokken_op = now() WHERE id = :i"), {"i": key_id})
    for _, client in workers:
        _until(
            lambda c=client: c.get("/collections", headers=auth(key, "analyse")).status_code == 401,  # type: ignore[misc]
            "a worker kept serving the revoked key",
        )


def test_an_ended_session_stops_in_the_other_worker_too(
    two_workers: Callable[[], list[tuple[FastAPI, TestClient]]], demo_engine: Engine
) -> None:
    from core.sessions import SESSION_COOKIE, create_session

    with demo_engine.begin() as conn:
        _, key_id = create_principal_key(
            conn, naam=f"sessie-{uuid.uuid4().hex[:6]}", rol="analist", organisatie="Gemeente Groningen",
            convenanten=[], gemeenten=["GM0014"], doelen=["analyse"],
        )  # fmt: skip
        token = create_session(conn, key_id, 1.0)
    (_, first), (_, second) = two_workers()
    for client in (first, second):
        client.cookies.set(SESSION_COOKIE, token)
        assert client.get("/collections").status_code == 200
    # Signing out in one worker (the same-origin check wants the service's own origin).
    out = first.post("/afmelden", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert out.status_code == 303
    second.cookies.set(SESSION_COOKIE, token)
    _until(lambda: second.get("/collections").status_code == 401, "the other worker kept the session")


def _key_and_session(demo_engine: Engine, naam: str) -> tuple[str, int, int, list[str]]:
    """A fresh key (key, key id, principal id) and two sessions of it."""
    from core.sessions import create_session

    with demo_engine.begin() as conn:
        key, key_id = create_principal_key(
            conn, naam=f"{naam}-{uuid.uuid4().hex[:6]}", rol="analist", organisatie="Gemeente Groningen",
            convenanten=[], gemeenten=["GM0014"], doelen=["analyse"],
        )  # fmt: skip
        principal_id = conn.execute(text("SELECT principal_id FROM api_key WHERE id = :i"), {"i": key_id})
        tokens = [create_session(conn, key_id, 1.0) for _ in range(2)]
    return key, key_id, int(principal_id.scalar_one()), tokens


def test_notifications_name_what_changed_and_skip_a_sessions_bookkeeping(demo_engine: Engine) -> None:
    """Only a change a lookup would see is announced, naming the entry it ends; a session's
    bookkeeping (provider tokens, claims) and removing an ended session are silent."""
    key, key_id, principal_id, (first, second) = _key_and_session(demo_engine, "melding")
    mine = {f"sessie:{hash_key(first)}", f"sessie:{hash_key(second)}", f"sleutel:{hash_key(key)}"}
    mine.add(f"principal:{principal_id}")
    url = db.libpq_uri(demo_engine.url.render_as_string(hide_password=False))
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")

        def announced(change: str, **params: Any) -> list[str]:
            """What is announced about this test's rows for ``change`` (notifications arrive
            in commit order, so the marker sent after it closes the list)."""
            marker = f"einde-{uuid.uuid4().hex}"
            with demo_engine.begin() as conn:
                conn.execute(text(change), params)
            with demo_engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:c, :m)"), {"c": CHANNEL, "m": marker})
            seen: list[str] = []
            for note in listener.notifies(timeout=30):
                if note.payload == marker:
                    return seen
                if note.payload in mine or note.payload == "*":
                    seen.append(note.payload)
            raise AssertionError("the marker did not arrive")

        where = {"h": hash_key(first)}
        bookkeeping = (
            "UPDATE sessie SET oidc_ververs = 'r2', oidc_claims = '{\"x\": 1}' WHERE token_hash = :h"
        )
        assert announced(bookkeeping, **where) == []
        assert announced("UPDATE sessie SET verloopt_op = verloopt_op WHERE token_hash = :h", **where) == []
        ended = "UPDATE sessie SET beeindigd_op = now() WHERE token_hash = :h"
        assert announced(ended, **where) == [f"sessie:{hash_key(first)}"]
        extended = "UPDATE sessie SET verloopt_op = verloopt_op + interval '1 hour' WHERE token_hash = :h"
        assert announced(extended, h=hash_key(second)) == [f"sessie:{hash_key(second)}"]
        assert announced("DELETE FROM sessie WHERE token_hash = :h", **where) == []  # already ended
        revoked = "UPDATE api_key SET ingetrokken_op = now() WHERE id = :i"
        assert sorted(announced(revoked, i=key_id)) == sorted(
            [f"principal:{principal_id}", f"sleutel:{hash_key(key)}"]
        )
        rights = "UPDATE principal SET gemeenten = '{GM0014,GM0106}' WHERE id = :i"
        assert announced(rights, i=principal_id) == [f"principal:{principal_id}"]
        assert announced("UPDATE principal SET actief = actief WHERE id = :i", i=principal_id) == []


def test_ending_one_session_keeps_the_others_cached_in_every_worker(
    two_workers: Callable[[], list[tuple[FastAPI, TestClient]]], demo_engine: Engine
) -> None:
    from core.sessions import SESSION_COOKIE, end_session

    _, _, _, (ending, staying) = _key_and_session(demo_engine, "eentje")
    workers = two_workers()
    for _, client in workers:
        for token in (ending, staying):
            client.cookies.set(SESSION_COOKIE, token)
            assert client.get("/collections").status_code == 200  # cached now
    with demo_engine.begin() as conn:
        assert end_session(conn, ending)
    for app, _ in workers:
        cache = services_of(app).principals
        _until(
            lambda c=cache: not c.get(Credentials.of("sessie", ending))[0], "a worker kept the ended session"
        )  # type: ignore[misc]
        assert cache.get(Credentials.of("sessie", staying))[0], "the other session was dropped too"


def test_a_request_parses_and_hashes_its_credentials_once(
    two_workers: Callable[[], list[tuple[FastAPI, TestClient]]],
    demo_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gate, the route's own dependencies and the failed sign-in memory share one
    resolved caller: one digest per request, cached key or not, and one lookup on a miss."""
    from app import principal_cache

    key, _, _, _ = _key_and_session(demo_engine, "eenmaal")
    (app, client), _ = two_workers()
    digests: list[str] = []
    real = principal_cache.hash_key
    monkeypatch.setattr(principal_cache, "hash_key", lambda token: digests.append(token) or real(token))
    lookups: list[str] = []
    engine = services_of(app).engine

    def seen(*args: Any) -> None:
        lookups.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        statuses = [
            client.get("/collections/buurten/items", headers=auth(key, "analyse")).status_code
            for _ in range(2)
        ]
        unknown = client.get("/collections", headers={"Authorization": "Bearer okk_onbekend_x"})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statuses == [200, 200] and unknown.status_code == 401
    assert digests == [key, key, "okk_onbekend_x"]
    assert sum("FROM api_key" in s for s in lookups) == 2  # the first request and the unknown key


def test_sealing_writes_every_addresses_aggregate_row_in_one_statement(
    demo_engine: Engine, api_login: Any
) -> None:
    """Failed sign-ins of many addresses: the counts in one statement, the audit rows in one
    INSERT ... SELECT from the claimed windows, whatever the number of addresses."""
    from app.auth_failures import ROUTE, AuthFailures

    api = db.make_engine(api_login(demo_engine.url.render_as_string(hide_password=False)))
    failures = AuthFailures(api, limit=0, window_s=60)
    prefix = f"203.0.113.{uuid.uuid4().int % 200}"  # TEST-NET-3, an address family of this test
    addresses = [f"{prefix}:{n}" for n in range(5)]
    for n, address in enumerate(addresses):
        for _ in range(n + 1):
            failures.count(address)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(api, "before_cursor_execute", seen)
    try:
        written = failures.seal(now=time.time() + 120)  # their window has closed
        first = list(statements)
        again = failures.seal(now=time.time() + 120)
    finally:
        event.remove(api, "before_cursor_execute", seen)
        api.dispose()
    assert written >= 5 and again == 0  # with what earlier tests left in closed windows
    assert sum("INSERT INTO audit_log" in s for s in first) == 1
    assert len(first) == 3  # the counts, the seal with its audit rows, the prune
    assert len(statements) == 3 + 2  # then nothing to count: the seal (no rows) and the prune
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT client, aantal, status, principal_id FROM audit_log WHERE route = :r AND client = ANY(:c)"
            ),
            {"r": ROUTE, "c": addresses},
        ).all()
    assert sorted((r.client, r.aantal, r.status, r.principal_id) for r in rows) == [
        (address, n + 1, 401, None) for n, address in enumerate(addresses)
    ]
