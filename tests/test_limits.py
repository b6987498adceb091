"""Limits (docs/architecture.md §7): page size, bbox and zoom caps, statement timeout, pool exhaustion,
request size, per-key rate limit; security headers; secrets kept out of logs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.main import create_app
from app.services import services_of
from core import db
from core.settings import Settings
from tests.conftest import auth


@pytest.fixture
def make_client(demo_engine: Engine, api_login: Any) -> Iterator[Any]:
    """A client of a service on the demo database with its own settings and pool."""
    made: list[tuple[Any, Engine]] = []
    url = demo_engine.url.render_as_string(hide_password=False)

    def build(**overrides: Any) -> tuple[TestClient, Engine]:
        settings = Settings(database_url=url, environment="test", **overrides)
        api = db.make_engine(
            api_login(url),
            statement_timeout_ms=settings.statement_timeout_ms,
            pool_size=settings.pool_size,
            max_overflow=0,
            pool_timeout=settings.pool_timeout_s,
        )
        client = TestClient(create_app(settings, engine=api), raise_server_exceptions=False)
        client.__enter__()
        made.append((client, api))
        return client, api

    yield build
    for client, api in made:
        client.__exit__(None, None, None)
        api.dispose()


def test_page_size_default_and_maximum(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    default = client.get("/collections/buurten/items", headers=headers).json()
    assert default["numberReturned"] == 100
    # Above the maximum is the maximum, not an error (OGC API Features Part 1).
    too_many = client.get("/collections/signalen/items", params={"limit": 1001}, headers=headers)
    assert too_many.status_code == 200 and too_many.json()["numberReturned"] == 1000


def test_point_layers_cap_the_bbox_and_the_zoom(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    whole_province = client.get(
        "/collections/signalen/items", params={"bbox": "6.0,53.0,7.2,53.6"}, headers=headers
    )
    assert whole_province.status_code == 400
    assert whole_province.headers["content-type"] == "application/problem+json"
    assert "km²" in whole_province.json()["detail"]
    a_street = client.get(
        "/collections/signalen/items", params={"bbox": "6.55,53.21,6.57,53.22"}, headers=headers
    )
    assert a_street.status_code == 200
    # The same bbox on an area layer is fine: areas are few and aggregated.
    assert (
        client.get(
            "/collections/buurten/items", params={"bbox": "6.0,53.0,7.2,53.6"}, headers=headers
        ).status_code
        == 200
    )
    # Below the layer's minimum zoom a point tile is empty, whatever lies under it.
    low = client.get("/collections/signalen/tiles/WebMercatorQuad/9/263/164", headers=headers)
    assert low.status_code == 200 and low.content == b""


def test_statement_timeout_is_a_503_within_six_seconds_and_frees_the_connection(
    make_client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    client, api = make_client(pool_size=2)
    headers = auth(api_keys["analist"])
    assert client.get("/collections/gebieden/items", params={"limit": 1}, headers=headers).status_code == 200
    blocker = create_engine(demo_engine.url)
    with blocker.connect() as holder:
        holder.execute(text("BEGIN"))
        holder.execute(text("LOCK TABLE gebied IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = client.get("/collections/gebieden/items", params={"limit": 1}, headers=headers)
        took = time.monotonic() - started
        holder.execute(text("ROLLBACK"))
    blocker.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "te lang" in response.json()["detail"]
    assert 4.5 < took < 6.0
    assert api.pool.checkedout() == 0  # type: ignore[attr-defined]
    again = client.get("/collections/gebieden/items", params={"limit": 1}, headers=headers)
    assert again.status_code == 200


def test_pool_exhaustion_is_a_503_within_two_and_a_half_seconds(
    make_client: Any, api_keys: dict[str, str]
) -> None:
    client, api = make_client(pool_size=1, pool_timeout_s=2.0)
    headers = auth(api_keys["analist"])
    assert client.get("/collections/wijken/items", params={"limit": 1}, headers=headers).status_code == 200
    held = api.connect()
    try:
        started = time.monotonic()
        response = client.get("/collections/wijken/items", params={"limit": 1}, headers=headers)
        took = time.monotonic() - started
    finally:
        held.close()
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "bezet" in response.json()["detail"]
    assert took < 2.5
    assert client.get("/collections/wijken/items", params={"limit": 1}, headers=headers).status_code == 200


def test_request_bodies_are_capped(make_client: Any, api_keys: dict[str, str]) -> None:
    client, _ = make_client(max_body_bytes=4096)
    headers = {**auth(api_keys["analist"]), "Content-Type": "application/json"}
    big = b'{"type": "Polygon", "coordinates": [' + b"[1.0, 2.0]," * 2000 + b"[1.0, 2.0]]}"
    response = client.post("/selectie", content=big, headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post("/selectie", content=chunks(), headers=headers)
    assert streamed.status_code == 413


def test_rate_limit_per_key_answers_429_with_retry_after(make_client: Any, api_keys: dict[str, str]) -> None:
    client, _ = make_client(rate_limit_per_minute=6, rate_limit_burst=3)
    analyst, planner = auth(api_keys["analist"]), auth(api_keys["planner"])
    statuses = [
        client.get("/collections/wijken/items", params={"limit": 1}, headers=analyst).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/collections/wijken/items", params={"limit": 1}, headers=analyst)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 10
    assert limited.headers["content-type"] == "application/problem+json"
    # Another key is not affected.
    assert client.get("/collections/wijken/items", params={"limit": 1}, headers=planner).status_code == 200


def test_html_pages_carry_security_headers(client: Any, api_keys: dict[str, str]) -> None:
    page = client.get("/", params={"f": "html"})
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    data = client.get("/collections/buurten/items", params={"limit": 1}, headers=auth(api_keys["analist"]))
    assert data.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in data.headers


@pytest.mark.parametrize(
    "path",
    ["/kaart?thema=%00", "/collections/buurten/items?buurtcode=BU%0000", "/gebieden/BU%0000140000"],
)
def test_a_nul_character_is_a_400_problem_not_a_server_error(
    client: Any, api_keys: dict[str, str], path: str
) -> None:
    """PostgreSQL text cannot hold NUL; the fuzzer once sent one to /kaart and got a 500."""
    answer = client.get(path, headers=auth(api_keys["analist"]))
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in answer.json()["detail"]
    assert answer.headers["x-content-type-options"] == "nosniff"


class Collect(logging.Handler):
    """Records as their handlers would format them (uvicorn's loggers may not propagate)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_secrets_never_reach_the_logs(demo_app: Any) -> None:
    key = "okk_abcdefgh1234_" + "s" * 43
    names = ("uvicorn.access", "okaart.errors", "uvicorn.error")
    collect = Collect()
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(collect)
        lg.setLevel(logging.INFO)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", "/aanmelden?token=geheimtoken&next=/kaart", 303
        )
        logging.getLogger("okaart.errors").warning("bad key %s; header Bearer %s", key, key)
        logging.getLogger("uvicorn.error").info("cookie okaart_sessie=sessietoken; Path=/")
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(collect)
            lg.setLevel(level)
    logged = "\n".join(collect.lines)
    assert len(collect.lines) == 3
    assert "geheimtoken" not in logged and "token=[verborgen]" in logged
    assert key not in logged and "s" * 43 not in logged
    assert "sessietoken" not in logged


def test_concurrent_requests_share_the_pool_without_errors(
    make_client: Any, api_keys: dict[str, str]
) -> None:
    """More callers than connections wait their turn (within the pool timeout), no 5xx."""
    # As many admission slots as callers: they all reach the pool and wait there (with the
    # default slots, the pool size, the others wait for a slot instead: tests/test_overload.py).
    client, _ = make_client(pool_size=2, pool_timeout_s=5.0, admission_slots=8)
    headers = auth(api_keys["analist"])
    statuses: list[int] = []

    def call() -> None:
        statuses.append(
            client.get("/collections/buurten/items", params={"limit": 20}, headers=headers).status_code
        )

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8


def test_a_repeated_request_is_planned_for_its_own_values(make_client: Any, api_keys: dict[str, str]) -> None:
    """psycopg prepares a statement after five runs and PostgreSQL may then choose a generic
    plan, blind to the bound bbox: on the indicator view that plan took 600 ms where the
    custom one takes 6 ms, in bursts, one connection at a time. The service's connections
    plan every run for its own values (core/db.py)."""
    client, api = make_client(pool_size=1)
    headers = auth(api_keys["analist"])
    params = {"periode": "2024", "thema": "alle", "bbox": "6.55,53.20,6.57,53.22"}
    for _ in range(12):
        assert client.get("/collections/buurten/items", params=params, headers=headers).status_code == 200
    count = "SELECT count(*) AS n, coalesce(sum(generic_plans), 0) AS generic FROM pg_prepared_statements"
    with api.connect() as conn:  # the engine's only connection
        prepared = [tuple(conn.execute(text(count)).one())]
    # The early path's reads (app/async_reads.py): the async pool's only connection.
    reads = services_of(client.app).async_reads
    assert reads is not None
    prepared.append(tuple(client.portal.call(reads.one, count, {})))
    assert sum(n for n, _ in prepared) > 0, "psycopg prepared nothing: the test no longer shows the risk"
    assert [generic for _, generic in prepared] == [0, 0]


def test_rate_take_refills_takes_and_writes_the_bucket_once_per_call(demo_engine: Engine) -> None:
    """The shared bucket (migration 0022): each call takes what is there up to its lease in
    one write of the row, and says how long to wait when nothing was there."""
    take = text("SELECT gegeven, wacht FROM rate_take(:k, :rate, 5, 2)")
    with demo_engine.connect() as conn, conn.begin() as tx:
        # Count the bucket's row updates (a counting trigger, gone with the rollback).
        conn.execute(text("CREATE TEMP SEQUENCE schrijft"))
        conn.execute(
            text(
                "CREATE FUNCTION pg_temp.tel() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN PERFORM nextval('pg_temp.schrijft'); RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER tel BEFORE UPDATE ON rate_bucket FOR EACH ROW EXECUTE FUNCTION pg_temp.tel()"
            )
        )
        key = f"test-{time.time_ns()}"
        slow = [tuple(conn.execute(take, {"k": key, "rate": 1e-6}).one()) for _ in range(4)]
        updates = conn.execute(text("SELECT last_value, is_called FROM pg_temp.schrijft")).one()
        # A bucket that refills fast is full again at the next call.
        fast = f"{key}-snel"
        conn.execute(take, {"k": fast, "rate": 1e9}).one()
        refilled = conn.execute(take, {"k": fast, "rate": 1e9}).one()
        tx.rollback()
    assert [g for g, _ in slow] == [2, 2, 1, 0]  # a burst of 5, a lease of 2
    assert [w for _, w in slow[:3]] == [0, 0, 0] and slow[3][1] > 1000  # nearly nothing refills
    assert updates.is_called and updates.last_value == 3  # the first call inserted; then one write each
    assert refilled.gegeven == 2 and refilled.wacht == 0
