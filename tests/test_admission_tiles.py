"""Admission control's line for map requests (issue 16): tiles, TileJSON, styles and tile
matrix sets wait in a line of their own, are seated first when a slot frees, and are
refused only when that line is full; other requests wait at most their limit, counted from
their arrival. A response that waited says so in ``Server-Timing``.

Concurrency is driven deterministically, as in tests/test_overload.py: a test route waits on
an advisory lock the test holds, and the test waits for states of the gate, not for times.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.access import rule
from app.admission import TITLE, Admission, is_map_request
from app.main import create_app
from app.services import services_of
from core.settings import Settings
from tests.test_overload import LOCK, _until, _waiting_on_lock
from tests.test_overload import make_app as make_app  # the fixture, reused

TILE = "/tileMatrixSets/test/tegel"  # a map request by its path; no real route is this one


@pytest.mark.parametrize(
    ("path", "map_request"),
    [
        ("/collections/buurten/tiles/WebMercatorQuad/12/2106/1339", True),
        ("/collections/buurten/tiles/WebMercatorQuad", True),
        ("/collections/buurten/tiles", True),
        ("/collections/signalen/styles/standaard", True),
        ("/tileMatrixSets", True),
        ("/tileMatrixSets/NetherlandsRDNewQuad", True),
        ("/collections/buurten/items", False),
        ("/collections/tiles", False),
        ("/collections", False),
        ("/kaart", False),
        ("/gebieden/BU00140000", False),
    ],
)
def test_map_requests_are_known_by_their_path(path: str, map_request: bool) -> None:
    assert is_map_request(path) is map_request


def test_a_freed_slot_goes_to_a_waiting_tile_before_an_older_other_request() -> None:
    async def scenario() -> list[str]:
        admission = Admission(slots=1, queue=4, wait_s=30.0, tile_queue=4)
        assert await admission.enter()  # the one slot, held
        order: list[str] = []

        async def request(name: str, *, tile: bool) -> None:
            assert await admission.enter(tile=tile)
            order.append(name)
            admission.leave()

        other = asyncio.create_task(request("ander", tile=False))
        await asyncio.sleep(0)
        tile = asyncio.create_task(request("tegel", tile=True))
        await asyncio.sleep(0)
        assert (len(admission.waiting), len(admission.tiles_waiting)) == (1, 1)
        admission.leave()
        await asyncio.gather(other, tile)
        assert admission.running == 0 and not admission.waiting and not admission.tiles_waiting
        return order

    assert asyncio.run(scenario()) == ["tegel", "ander"]


def test_the_wait_limit_counts_from_arrival_and_tiles_have_none() -> None:
    """A request that arrived longer ago than the wait limit is refused at once when it would
    have to wait; a tile that arrived as long ago waits for its turn instead."""

    async def scenario() -> tuple[bool, bool, int]:
        admission = Admission(slots=1, queue=4, wait_s=0.5, tile_queue=4)
        assert await admission.enter()
        long_ago = time.monotonic() - 5
        other = await admission.enter(arrived=long_ago)
        tile = asyncio.create_task(admission.enter(tile=True, arrived=long_ago))
        await asyncio.sleep(0)
        queued = len(admission.tiles_waiting)
        admission.leave()  # to the tile
        seated = await tile
        admission.leave()
        return other, seated, queued

    other, seated, queued = asyncio.run(scenario())
    assert other is False  # refused without waiting: its time was already spent
    assert queued == 1 and seated is True


def _busy_route(app: FastAPI, api: Engine) -> None:
    @app.get("/test-bezet", openapi_extra=rule("open"))
    def busy() -> dict[str, str]:
        """Database work that lasts until the test lets go of its lock."""
        with api.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
            conn.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        return {"status": "klaar"}


def test_through_the_app_a_tile_is_served_first_and_says_how_long_it_waited(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine
) -> None:
    app, api = make_app(admission_slots=1, admission_queue=4, admission_tile_queue=4, admission_wait_s=0.9)
    _busy_route(app, api)
    order: list[str] = []

    @app.get("/test-ander", openapi_extra=rule("open"))
    async def other() -> dict[str, str]:
        order.append("ander")
        return {"status": "klaar"}

    @app.get(TILE, openapi_extra=rule("open"))
    async def tile() -> dict[str, str]:
        order.append("tegel")
        return {"status": "klaar"}

    admission = services_of(app).admission
    admission.wait_s = 60.0  # the other request waits as long as the test does: no race
    answers: dict[str, Any] = {}
    with TestClient(app, raise_server_exceptions=False) as client, demo_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})

        def call(name: str, path: str) -> threading.Thread:
            thread = threading.Thread(target=lambda: answers.setdefault(name, client.get(path)))
            thread.start()
            return thread

        threads = [call("bezet", "/test-bezet")]
        _until(lambda: _waiting_on_lock(demo_engine) == 1, "the first request never reached the database")
        threads.append(call("ander", "/test-ander"))
        _until(lambda: len(admission.waiting) == 1, "the other request never queued")
        threads.append(call("tegel", TILE))
        _until(lambda: len(admission.tiles_waiting) == 1, "the tile never queued")
        holder.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        holder.commit()
        for thread in threads:
            thread.join()
    assert order == ["tegel", "ander"]  # the tile came later and went first
    assert {name: a.status_code for name, a in answers.items()} == {"bezet": 200, "ander": 200, "tegel": 200}
    assert "server-timing" not in answers["bezet"].headers  # seated at once
    for name in ("tegel", "ander"):
        timing = answers[name].headers["server-timing"]
        assert timing.startswith("admission;dur=") and float(timing.split("=")[1]) >= 0
    assert admission.running == 0 and admission.refused == 0


def test_tiles_are_refused_only_when_their_line_is_full(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine
) -> None:
    """With the slot taken, two tiles wait; a third finds the line full and gets the 503
    problem with Retry-After. An other request that queued after the tiles runs out of its
    wait and is refused, while the tiles, which waited longer, are still waiting; they are
    served when the slot frees."""
    app, api = make_app(admission_slots=1, admission_queue=1, admission_tile_queue=2, admission_wait_s=0.2)
    _busy_route(app, api)

    @app.get(TILE, openapi_extra=rule("open"))
    async def tile() -> dict[str, str]:
        return {"status": "klaar"}

    admission = services_of(app).admission
    answers: list[Any] = []
    with TestClient(app, raise_server_exceptions=False) as client, demo_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:o)"), {"o": LOCK})
        first = threading.Thread(target=lambda: answers.append(client.get("/test-bezet")))
        first.start()
        _until(lambda: _waiting_on_lock(demo_engine) == 1, "the first request never reached the database")
        tiles = [threading.Thread(target=lambda: answers.append(client.get(TILE))) for _ in range(2)]
        for t in tiles:
            t.start()
        _until(lambda: len(admission.tiles_waiting) == 2, "the tiles never queued")
        full = client.get(TILE)
        other = client.get("/test-bezet")  # queues behind the tiles, then runs out of time
        still_waiting = len(admission.tiles_waiting)
        holder.execute(text("SELECT pg_advisory_unlock(:o)"), {"o": LOCK})
        holder.commit()
        for t in (first, *tiles):
            t.join()
    assert full.status_code == 503
    assert full.headers["content-type"] == "application/problem+json"
    assert full.headers["retry-after"] == "1"
    assert full.json()["title"] == TITLE
    assert other.status_code == 503 and other.headers["retry-after"] == "1"
    assert other.headers["server-timing"].startswith("admission;dur=")
    assert still_waiting == 2  # the tiles outwaited the other request's limit, unrefused
    assert sorted(a.status_code for a in answers) == [200, 200, 200]
    assert admission.refused == 2 and admission.running == 0 and not admission.tiles_waiting


def test_the_tile_line_defaults_to_256_per_worker_and_is_a_setting() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    for settings, expected in (
        (Settings(database_url=url, environment="test"), 256),
        (Settings(database_url=url, environment="test", admission_tile_queue=9), 9),
    ):
        admission = services_of(create_app(settings, engine=create_engine(url))).admission
        assert admission.tile_queue == expected
