"""``/metrics``: Prometheus text for an operator key or a loopback client, a 404 like any
missing route for everyone else; route templates as labels, the pool, audit writes and the
tile cache."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import morecantile
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from app.metrics import PoolWatch, exposition
from core import db
from tests.browser_support import serving
from tests.conftest import auth


def _samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return sum(v for (n, lbl), v in samples.items() if n == name and set(labels.items()) <= set(lbl))


def test_metrics_answer_the_operator_and_404_everyone_else(client: Any, api_keys: dict[str, str]) -> None:
    # The TestClient's address is "testclient": not loopback.
    for who in ("analist", "planner", "partner_riec", "analist_elders"):
        response = client.get("/metrics", headers=auth(api_keys[who]))
        assert response.status_code == 404, who
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer okk_onzin"}).status_code == 404
    assert "/metrics" not in client.get("/api").json()["paths"]

    # Some traffic: a page of items, and the same tile twice (built, then from the cache).
    key = api_keys["analist"]
    assert client.get("/collections/buurten/items", params={"limit": 2}, headers=auth(key)).status_code == 200
    tile = morecantile.tms.get("WebMercatorQuad").tile(6.5665, 53.2194, 12)
    url = f"/collections/buurten/tiles/WebMercatorQuad/12/{tile.x}/{tile.y}"
    before = _samples(client.get("/metrics", headers=auth(api_keys["beheerder"])).text)
    assert client.get(url, headers=auth(key)).status_code == 200
    assert client.get(url, headers=auth(key)).status_code == 200
    response = client.get("/metrics", headers=auth(api_keys["beheerder"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    tiles = "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}"
    grown = _value(samples, "okaart_requests_total", route=tiles, status="200") - _value(
        before, "okaart_requests_total", route=tiles, status="200"
    )
    assert grown == 2
    assert _value(samples, "okaart_tile_cache_total", resultaat="hit") >= 1 + _value(
        before, "okaart_tile_cache_total", resultaat="hit"
    )
    assert (
        _value(samples, "okaart_requests_total", route="/collections/{collection_id}/items", methode="GET")
        >= 1
    )
    assert _value(samples, "okaart_requests_total", route="/metrics", status="404") >= 6
    assert _value(samples, "okaart_request_duration_seconds_count", route=tiles) >= 2
    assert _value(samples, "okaart_audit_write_seconds_count") >= 1  # the cache hit's row, written alone
    assert ("okaart_db_pool_in_use", frozenset()) not in samples  # labelled by pid
    assert _value(samples, "okaart_db_pool_size") >= 1
    # Labels are templates, never concrete paths with ids or codes in them.
    routes = {dict(lbl).get("route") for (n, lbl) in samples if n == "okaart_requests_total"}
    assert not any(r and "buurten" in r for r in routes), routes


def test_metrics_answer_a_loopback_client(demo_engine: Engine, api_login: Any) -> None:
    from app.main import create_app
    from core.settings import Settings

    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url))
    app = create_app(Settings(database_url=url, environment="test"), engine=api)
    with serving(app) as base:
        response = httpx.get(f"{base}/metrics")  # anonymous, from 127.0.0.1
    api.dispose()
    assert response.status_code == 200
    assert "okaart_db_pool_waiting" in response.text


def test_the_pool_gauges_count_connections_in_use_and_callers_waiting(demo_engine: Engine) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    engine = db.make_engine(url, pool_size=1, max_overflow=0, pool_timeout=10)
    watch = PoolWatch(engine)
    held = engine.connect()
    got = threading.Event()

    def second() -> None:
        with engine.connect():
            got.set()

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 5
    while watch.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    samples = _samples(exposition(watch).decode())
    assert _value(samples, "okaart_db_pool_in_use") == 1
    assert _value(samples, "okaart_db_pool_waiting") == 1
    assert not got.is_set()
    held.close()
    thread.join(timeout=10)
    assert got.is_set()
    samples = _samples(exposition(watch).decode())
    assert _value(samples, "okaart_db_pool_waiting") == 0
    assert _value(samples, "okaart_db_pool_in_use") == 0
    engine.dispose()


def test_with_a_multiprocess_directory_a_scrape_adds_up_every_worker(tmp_path: Any) -> None:
    """Several uvicorn workers: each writes its counters to PROMETHEUS_MULTIPROC_DIR and any
    worker's scrape reports the sum."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = "from app import metrics; metrics.tile_cache(hit=True); metrics.tile_cache(hit=False)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True)
    scrape = (
        "from types import SimpleNamespace as N; from app import metrics;"
        "print(metrics.exposition(N(in_use=lambda: 0, size=lambda: 1, waiting=0)).decode())"
    )
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True)
    samples = _samples(out.stdout)
    assert _value(samples, "okaart_tile_cache_total", resultaat="hit") == 2
    assert _value(samples, "okaart_tile_cache_total", resultaat="miss") == 2
