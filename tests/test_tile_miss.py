"""Tiles the cache does not hold, built on the early path (app/tile_hits.py), issue 16.

The early path builds a missing tile with the route's own building code (app/tile_build.py)
once its checks have passed. What is compared here is that nothing of the answer depends on
the way a tile came: the bytes, the headers and the audit row are those of the ordinary
route (forced by declining the early path), every refusal is the ordinary route's, warm or
cold, and a database error while building is answered as the route answers it, after one
query and with no data.

On a private copy of the demo database, so that taking the api role's INSERT away touches
no other test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app import admission, audit, metrics
from app.services import services_of
from app.tms import GRIDS, WEB_MERCATOR
from core import db
from core.security import create_principal_key
from core.settings import Settings
from tests.conftest import PRINCIPALS

CENTRE = (6.567, 53.219)
RD = "NetherlandsRDNewQuad"
WM = GRIDS[WEB_MERCATOR].tms
SIGNALS = WM.tile(*CENTRE, 18)
POINTS = WM.tile(*CENTRE, 15)
AREAS = WM.tile(*CENTRE, 13)
RD_TILE = GRIDS[RD].tms.tile(*CENTRE, 10)
#: A tile at street level full of signals, the same one filtered, areas, the RD grid, and
#: two answered empty without a query (below the layer's zoom range; far outside the data).
URLS = {
    "signalen": f"/collections/signalen/tiles/WebMercatorQuad/18/{SIGNALS.x}/{SIGNALS.y}",
    "gefilterd": f"/collections/signalen/tiles/WebMercatorQuad/15/{POINTS.x}/{POINTS.y}?filter=thema='drugs'",
    "thema": f"/collections/signalen/tiles/WebMercatorQuad/15/{POINTS.x}/{POINTS.y}?thema=drugs",
    "buurten": f"/collections/buurten/tiles/WebMercatorQuad/13/{AREAS.x}/{AREAS.y}?periode=2024&thema=alle",
    "rd": f"/collections/signalen/tiles/{RD}/10/{RD_TILE.x}/{RD_TILE.y}",
    "te_laag": "/collections/signalen/tiles/WebMercatorQuad/3/4/2",
    "buiten": "/collections/buurten/tiles/WebMercatorQuad/10/0/0",
}
#: The columns a row is written with (the server sets id, time, chain and hashes).
COLUMNS = ", ".join(name for name, _ in audit.ROW_COLUMNS)


@dataclass
class Copy:
    owner: Engine
    app: Any
    client: TestClient
    keys: dict[str, str]
    doelen: dict[str, str]


@pytest.fixture(scope="module")
def copy(pg_server: Any, demo_engine: Engine, api_login: Callable[[str], str]) -> Iterator[Copy]:
    from app.main import create_app

    name, url = pg_server.copy_database(str(demo_engine.url.database), "okaart_miss")
    owner = create_engine(url)
    keys: dict[str, str] = {}
    doelen: dict[str, str] = {}
    with owner.begin() as c:
        for who in ("analist", "planner", "partner_riec", "partner_zorg"):
            spec: dict[str, Any] = dict(PRINCIPALS[who])
            keys[who], _ = create_principal_key(c, naam=f"miss-{who}", **spec)
            doelen[who] = spec["doelen"][0]
    api = db.make_engine(api_login(url), statement_timeout_ms=1000)
    app = create_app(Settings(database_url=url, environment="test", admission_slots=40), engine=api)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Copy(owner, app, client, keys, doelen)
    api.dispose()
    owner.dispose()
    pg_server.drop_database(name)


@pytest.fixture(autouse=True)
def lasting_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Data versions known for the whole test once looked up: a stale one sends a request
    through the route, and a slow machine must not make a test of the early path test the
    route instead."""
    monkeypatch.setattr("app.dataversion.TTL", 600.0)


def headers(c: Copy, who: str | None, doel: str | None = None) -> dict[str, str]:
    if who is None:
        return {}
    return {"Authorization": f"Bearer {c.keys[who]}", "X-Doel": c.doelen[who] if doel is None else doel}


def early_builds() -> float:
    return metrics.REGISTRY.get_sample_value("okaart_tile_builds_early_total") or 0.0


def early_hits() -> float:
    return metrics.REGISTRY.get_sample_value("okaart_tile_hits_early_total") or 0.0


def last_id(c: Copy) -> int:
    with c.owner.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one())


def rows_since(c: Copy, mark: int) -> list[dict[str, Any]]:
    with c.owner.connect() as conn:
        found = conn.execute(text(f"SELECT {COLUMNS} FROM audit_log WHERE id > :m ORDER BY id"), {"m": mark})
        return [dict(r._mapping) for r in found]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes
    rows: list[dict[str, Any]]


def ask(c: Copy, url: str, who: str | None, doel: str | None = None) -> Answer:
    mark = last_id(c)
    r = c.client.get(url, headers=headers(c, who, doel))
    kept = {
        k: r.headers[k]
        for k in ("content-type", "etag", "cache-control", "vary", "retry-after")
        if k in r.headers
    }
    return Answer(r.status_code, kept, r.content, rows_since(c, mark))


def fresh(c: Copy) -> None:
    """An empty tile cache and the data version looked up just now: the next request for a
    tile is a miss the early path may build (it never waits for a lookup itself)."""
    services = services_of(c.app)
    services.tile_cache.clear()
    services.versions.expire()
    services.versions.runs()


@pytest.fixture
def ordinary(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """``with ordinary():`` the early path declines every request, as when its checks need I/O."""
    import contextlib

    @contextlib.contextmanager
    def declining() -> Iterator[None]:
        async def declined(_request: Any) -> None:
            return None

        with monkeypatch.context() as m:
            m.setattr("app.tile_hits.answer_early", declined)
            yield

    return declining


def watch_reads(monkeypatch: pytest.MonkeyPatch, seen: Callable[[Any], object]) -> None:
    """Call ``seen(request)`` before every audited read, whichever way it runs: in a worker
    thread through the engine, or on the event loop (app/async_reads.py)."""
    threaded, awaited = audit.audited_one, audit.audited_one_async

    def in_thread(request: Any, *args: Any, **kwargs: Any) -> Any:
        seen(request)
        return threaded(request, *args, **kwargs)

    async def on_loop(request: Any, *args: Any, **kwargs: Any) -> Any:
        seen(request)
        return await awaited(request, *args, **kwargs)

    monkeypatch.setattr("app.audit.audited_one", in_thread)
    monkeypatch.setattr("app.audit.audited_one_async", on_loop)


def three_ways(
    c: Copy, ordinary: Callable[[], Any], url: str, who: str | None, doel: str | None = None
) -> tuple[Answer, Answer, Answer]:
    """The answer of the ordinary route (cache empty), of the early path with the cache
    empty, and of the early path once the tile is cached (by the caller itself)."""
    fresh(c)
    with ordinary():
        route = ask(c, url, who, doel)
    fresh(c)
    cold = ask(c, url, who, doel)
    warm = ask(c, url, who, doel)
    return route, cold, warm


@pytest.mark.parametrize("kind", ["signalen", "gefilterd", "thema", "buurten", "rd"])
def test_an_early_miss_is_the_routes_tile_with_the_routes_row(
    copy: Copy, ordinary: Callable[[], Any], kind: str
) -> None:
    c, url = copy, URLS[kind]
    who = "analist"
    fresh(c)
    with ordinary():
        builds = early_builds()
        route = ask(c, url, who)
        assert early_builds() == builds  # the route built it
    fresh(c)
    builds = early_builds()
    early = ask(c, url, who)
    assert early_builds() == builds + 1  # built before the dependencies ran
    assert route.status == early.status == 200
    assert route.content, "a tile with features: the comparison means something"
    assert early.content == route.content  # byte for byte
    assert early.headers == route.headers
    assert len(route.rows) == len(early.rows) == 1  # one row each, the same one
    assert early.rows == route.rows
    assert early.rows[0]["aantal"] > 0 and early.rows[0]["status"] == 200


@pytest.mark.parametrize("kind", ["te_laag", "buiten"])
def test_a_tile_outside_the_layer_is_empty_without_a_query_either_way(
    copy: Copy, ordinary: Callable[[], Any], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, url = copy, URLS[kind]
    queried: list[str] = []
    watch_reads(monkeypatch, lambda _request: queried.append(url))
    route, cold, warm = three_ways(c, ordinary, url, "analist")
    assert route.status == 200 and route.content == b""
    assert cold == route and warm == route
    assert len(route.rows) == 1 and route.rows[0]["aantal"] is None
    assert not queried


#: (caller, purpose, url) the ordinary route refuses, and with what.
REFUSALS = [
    (None, None, URLS["signalen"], 401),  # no key
    ("planner", None, URLS["signalen"], 404),  # a layer the role may not see: as if missing
    ("analist", "", URLS["signalen"], 400),  # no purpose below aggregate level
    ("analist", "opsporing", URLS["signalen"], 403),  # a purpose not the key's own
    ("analist", None, "/collections/signalen/tiles/WebMercatorQuad/18/999999/1", 404),  # no such tile
    ("analist", None, "/collections/signalen/tiles/WebMercatorQuad/25/1/1", 400),  # beyond the zoom bound
    ("analist", None, "/collections/signalen/tiles/Onbekend/18/1/1", 404),  # no such grid
    ("analist", None, URLS["signalen"] + "?datetime=gisteren", 400),  # a bad datetime
    ("analist", None, URLS["signalen"] + "?kleur=rood", 400),  # a property it cannot filter on
    ("analist", None, URLS["signalen"] + "?filter=kleur='rood'", 400),  # a filter on an unknown name
    ("analist", None, URLS["signalen"] + "?filter=thema=", 400),  # a filter that does not parse
    ("analist", None, URLS["buurten"].replace("periode=2024", "datetime=2024-01-01"), 400),  # no time
]


@pytest.mark.parametrize(("who", "doel", "url", "status"), REFUSALS)
def test_refusals_are_the_routes_warm_and_cold(
    copy: Copy, ordinary: Callable[[], Any], who: str | None, doel: str | None, url: str, status: int
) -> None:
    c = copy
    fresh(c)
    with ordinary():
        route = ask(c, url, who, doel)
    fresh(c)
    cold = ask(c, url, who, doel)
    # The tile at that address built and cached for someone who may see it: a warm cache
    # must refuse like a cold one.
    fresh(c)
    plain = url.split("?")[0]
    for _ in range(2):
        c.client.get(plain, headers=headers(c, "analist"))
    warm = ask(c, url, who, doel)
    assert route.status == status, route.content
    assert route.headers["content-type"] == "application/problem+json"
    assert cold == route and warm == route


def test_another_covenant_gets_its_own_tile_built_not_the_cached_one(
    copy: Copy, ordinary: Callable[[], Any]
) -> None:
    c, url = copy, URLS["signalen"]
    fresh(c)
    with ordinary():
        route = ask(c, url, "partner_zorg")
    fresh(c)
    riec = ask(c, url, "partner_riec")  # now cached for the riec covenant
    builds = early_builds()
    zorg = ask(c, url, "partner_zorg")
    assert early_builds() == builds + 1  # built for its own view, not served from riec's entry
    assert zorg == route
    assert zorg.rows[0]["principal"] == "miss-partner_zorg"
    assert riec.status == 200 and riec.headers["etag"] != zorg.headers["etag"]


def test_a_miss_keeps_its_admission_slot_during_the_query(
    copy: Copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query of a tile being built is the work the slots bound; a hit gives its slot
    back before its row's commit."""
    c = copy
    held: list[bool] = []
    watch_reads(monkeypatch, lambda request: held.append(request.scope["state"][admission.SLOT_KEY].held))
    fresh(c)
    builds, hits = early_builds(), early_hits()
    assert ask(c, URLS["signalen"], "analist").status == 200
    assert ask(c, URLS["signalen"], "analist").status == 200
    assert (early_builds(), early_hits()) == (builds + 1, hits + 1)
    assert held == [True]  # the build held its slot; the hit ran no query


def _slow_mvt(monkeypatch: pytest.MonkeyPatch, calls: list[int]) -> None:
    """The tile's SQL as it is, made to outlast the statement timeout (1 s here)."""
    from app import layer_sql

    real = layer_sql.mvt

    def slow(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        calls.append(1)
        sql, params = real(*args, **kwargs)
        return f"SELECT t.* FROM ({sql}) AS t, pg_sleep(3) AS s", params

    monkeypatch.setattr("app.layer_sql.mvt", slow)


def test_a_database_error_while_building_is_the_routes_503_after_one_query(
    copy: Copy, ordinary: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, url = copy, URLS["signalen"]
    calls: list[int] = []
    _slow_mvt(monkeypatch, calls)
    fresh(c)
    with ordinary():
        route = ask(c, url, "analist")
    assert len(calls) == 1
    fresh(c)
    builds = early_builds()
    early = ask(c, url, "analist")
    assert early_builds() == builds + 1  # the early path ran the query: its error is the answer
    assert len(calls) == 2  # once: not again through the route
    assert route.status == early.status == 503
    assert early.headers["content-type"] == "application/problem+json"
    assert early.headers.get("retry-after") == route.headers.get("retry-after") == "5"
    assert early.content == route.content
    # A 503 is not recorded (app/audit.py: the database that holds the trail failed), and
    # the read's row, in the statement that failed, was never committed.
    assert early.rows == route.rows == []
    monkeypatch.undo()
    again = ask(c, url, "analist")  # nothing was cached by the failed build
    assert again.status == 200 and again.content and len(again.rows) == 1


def test_no_row_no_tile_on_the_early_path_either(copy: Copy, ordinary: Callable[[], Any]) -> None:
    c, url = copy, URLS["buurten"]
    with c.owner.begin() as conn:
        conn.execute(text("REVOKE INSERT ON audit_log FROM okaart_api"))
    try:
        builds = early_builds()
        route, cold, warm = three_ways(c, ordinary, url, "analist")
        assert early_builds() == builds + 2  # cold and warm: nothing was cached to be warm
    finally:
        with c.owner.begin() as conn:
            conn.execute(text("GRANT INSERT ON audit_log TO okaart_api"))
    assert route.status == 503
    assert route.headers["content-type"] == "application/problem+json"
    assert b"toegangslogboek" in route.content
    assert cold == route and warm == route
    assert services_of(c.app).tile_cache.bytes == 0  # nothing built is kept without its row
    ok = ask(c, url, "analist")
    assert ok.status == 200 and ok.content and len(ok.rows) == 1
