"""The early paths' reads on async connections (app/async_reads.py): the same statement,
answer, row and errors as the engine's way, and a database that comes back is used again."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import OperationalError

from app import audit, layer_sql
from app.async_reads import AsyncReads, psycopg_sql
from app.layer_sql import Selection
from app.main import create_app
from app.params import parse_bbox
from app.services import services_of
from core import db
from core.pgcluster import Cluster
from core.security import Principal
from core.settings import Settings
from layers import REGISTRY
from tests.conftest import auth

ITEMS = "/collections/signalen/items?limit=20&bbox=6.555,53.212,6.575,53.225"
#: A tile over the centre of Groningen, where the demo's signals are.
TILE = "/collections/signalen/tiles/WebMercatorQuad/15/16981/10641"
BEHEERDER = Principal(
    id=1, naam="t", organisatie="Gemeente Groningen", rol="beheerder", gemeenten=("GM0014",),
    convenanten=("riec",), dataklasse="zeer_vertrouwelijk", doelen=("beheer",), tweede_factor=True,
)  # fmt: skip


def _statements() -> list[str]:
    """The service's own statements of the early paths, and the corners of SQLAlchemy's
    reading of a text: casts, an escaped colon, a percent sign, a colon in a literal."""
    signalen, buurten = REGISTRY["signalen"], REGISTRY["buurten"]
    box = parse_bbox("6.55,53.2,6.56,53.21", None)
    selection = Selection(bbox=box.box, bbox_srid=box.srid)
    items, _ = layer_sql.geojson_features(signalen, BEHEERDER, selection, srid=4326, limit=10, offset=0, k=10)
    entry = audit.AuditEntry(
        "GET", "/collections/{collection_id}/items", "127.0.0.1", data=True, principal=BEHEERDER
    )
    wrapped, _ = audit.with_row(entry, items, {}, 200)
    tile = morecantile.Tile(16981, 10641, 15)
    return [
        items,
        wrapped,
        layer_sql.mvt(signalen, BEHEERDER, Selection(), tile, k=10)[0],
        layer_sql.mvt(buurten, BEHEERDER, Selection(filters={"periode": "2024"}), tile, k=10)[0],
        "SELECT :a::int, CAST(:b AS text), 'x:y', '{\"a\":1}', naam LIKE '50%' FROM t WHERE c = :c",
        "SELECT '\\:niet', :wel",
    ]


@pytest.mark.parametrize("n", range(6))
def test_the_sql_is_read_as_sqlalchemy_reads_it(n: int) -> None:
    sql = _statements()[n]
    assert psycopg_sql(sql) == str(text(sql).compile(dialect=psycopg_dialect()))


def _without_time(content: bytes) -> bytes:
    import re

    return re.sub(rb'"timeStamp":"[^"]*"', b"", content)


@pytest.fixture
def make_client(demo_engine: Engine, api_login: Callable[[str], str]) -> Iterator[Callable[..., TestClient]]:
    made: list[tuple[TestClient, Engine]] = []
    url = demo_engine.url.render_as_string(hide_password=False)

    def build(**overrides: Any) -> TestClient:
        api = db.make_engine(api_login(url), statement_timeout_ms=5000)
        app = create_app(Settings(database_url=url, environment="test", **overrides), engine=api)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        made.append((client, api))
        return client

    yield build
    for client, api in made:
        client.__exit__(None, None, None)
        api.dispose()


def _refuse(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"{name} was not to be used")

    monkeypatch.setattr(f"app.audit.{name}", refused)


def test_early_pages_and_tiles_are_read_on_the_loop_and_equal_the_engines(
    make_client: Callable[..., TestClient], api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = auth(api_keys["analist"])
    on_loop = make_client(tile_cache_mb=0)
    threaded = make_client(tile_cache_mb=0, async_reads=False)
    assert services_of(threaded.app).async_reads is None
    for client in (on_loop, threaded):  # the key and the data version known: early paths from now
        assert (
            client.get(ITEMS, headers=headers).status_code
            == client.get(TILE, headers=headers).status_code
            == 200
        )
    with monkeypatch.context() as m:
        _refuse(m, "audited_one")  # the engine's way would fail the request
        loop_items, loop_tile = on_loop.get(ITEMS, headers=headers), on_loop.get(TILE, headers=headers)
    with monkeypatch.context() as m:
        _refuse(m, "audited_one_async")
        thread_items, thread_tile = threaded.get(ITEMS, headers=headers), threaded.get(TILE, headers=headers)
    assert loop_items.status_code == thread_items.status_code == 200
    assert loop_items.json()["numberReturned"] > 0
    assert _without_time(loop_items.content) == _without_time(thread_items.content)
    assert loop_tile.status_code == thread_tile.status_code == 200
    assert loop_tile.content and loop_tile.content == thread_tile.content


def test_an_engine_of_unknown_setup_gets_no_async_connections(demo_engine: Engine) -> None:
    """A plain engine's connections may run as any role: the async pool could not copy them."""
    settings = Settings(
        database_url=demo_engine.url.render_as_string(hide_password=False), environment="test"
    )
    assert AsyncReads.for_engine(demo_engine, settings) is None
    assert db.session_of(demo_engine) is None


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster.at(tmp_path / "eigen", fast=True)
    cluster.start("postgres")
    try:
        yield cluster
    finally:
        cluster.destroy()


def _reads(url: str, **settings: Any) -> AsyncReads:
    engine = db.make_engine(url, statement_timeout_ms=1000)
    reads = AsyncReads.for_engine(engine, Settings(database_url=url, environment="test", **settings))
    assert reads is not None
    return reads


def test_connections_are_set_up_as_the_engines_and_errors_raised_as_its_own(own_cluster: Cluster) -> None:
    url = own_cluster.url("postgres")

    async def run() -> None:
        reads = _reads(url, pool_size=1, pool_timeout_s=0.3)
        await reads.open()
        try:
            row = await reads.one(
                "SELECT current_setting('statement_timeout') AS timeout,"
                " current_setting('plan_cache_mode') AS plans, current_setting('application_name') AS naam,"
                " CAST(:x AS int) + 1 AS n, pg_backend_pid() AS pid",
                {"x": 41},
            )
            assert (row.timeout, row.plans, row.naam, row.n) == ("1s", "force_custom_plan", "okaart", 42)
            with pytest.raises(OperationalError, match="statement timeout"):
                await reads.one("SELECT pg_sleep(3)", {})
            # The pool's one connection busy: the engine answers, on a connection of its own.
            async with reads.pool.connection() as held:
                busy = (await (await held.execute("SELECT pg_backend_pid()")).fetchone() or (0,))[0]
                other = await reads.one("SELECT pg_backend_pid() AS pid, 1 AS n", {})
            assert other.n == 1 and other.pid != busy
        finally:
            await reads.close()

    asyncio.run(run())


def test_connections_the_server_ended_are_replaced_without_an_error(own_cluster: Cluster) -> None:
    """A restart or failover ends every pooled connection; the next reads get new ones."""
    url = own_cluster.url("postgres")
    admin = db.make_engine(url)

    async def run() -> None:
        reads = _reads(url, pool_size=3, pool_timeout_s=0.5)
        await reads.open()
        try:
            await reads.pool.wait()
            before = {(await reads.one("SELECT pg_backend_pid() AS pid", {})).pid for _ in range(3)}
            with admin.connect() as conn:
                ended = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = 'okaart' AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            assert ended >= 3
            await asyncio.sleep(0.2)  # the server has closed them
            after = {(await reads.one("SELECT pg_backend_pid() AS pid", {})).pid for _ in range(5)}
            assert not before & after
        finally:
            await reads.close()

    try:
        asyncio.run(run())
    finally:
        admin.dispose()


def test_a_database_that_comes_back_is_used_again_within_seconds(own_cluster: Cluster) -> None:
    url = own_cluster.url("postgres")

    async def run() -> None:
        reads = _reads(url, pool_size=2, pool_timeout_s=0.5)
        await reads.open()
        try:
            assert (await reads.one("SELECT 1 AS n", {})).n == 1
            await asyncio.to_thread(own_cluster.stop)
            # The engine's error, as before this pool: the handlers answer "niet bereikbaar".
            with pytest.raises(OperationalError):
                await reads.one("SELECT 1 AS n", {})
            await asyncio.sleep(3)  # reconnecting in the background gives up meanwhile
            await asyncio.to_thread(own_cluster.start, "postgres")
            assert (await reads.one("SELECT 1 AS n", {})).n == 1  # at once, through the engine
            back = asyncio.get_running_loop().time()
            while reads.pool.get_stats().get("pool_available", 0) == 0:
                assert asyncio.get_running_loop().time() - back < 10, "the pool did not connect again"
                await asyncio.sleep(0.1)
        finally:
            await reads.close()

    asyncio.run(run())


def test_a_point_layers_first_page_of_a_box_runs_on_a_generic_plan_with_the_same_answers(
    make_client: Callable[..., TestClient], api_keys: dict[str, str]
) -> None:
    """psycopg prepares a statement after five runs on a connection; on the generic pool its
    later runs take the generic plan. Each box must still get exactly its own page."""
    headers = auth(api_keys["analist"])
    on_loop, threaded = make_client(), make_client(async_reads=False)
    boxes = [f"6.55{i},53.21{i},6.57{i},53.22{i}" for i in range(9)]
    pages = [f"/collections/signalen/items?limit=10&bbox={box}" for box in boxes]
    for client in (on_loop, threaded):
        assert client.get(pages[0], headers=headers).status_code == 200  # the key known
    answers = [(on_loop.get(p, headers=headers), threaded.get(p, headers=headers)) for p in pages * 2]
    assert all(a.status_code == b.status_code == 200 for a, b in answers)
    assert all(_without_time(a.content) == _without_time(b.content) for a, b in answers)
    assert len({a.json()["numberMatched"] for a, _ in answers}) > 1, "the boxes differ in what they hold"
    reads = services_of(on_loop.app).async_reads
    assert reads is not None
    count = "SELECT coalesce(sum(generic_plans), 0) AS generic FROM pg_prepared_statements"
    generic = on_loop.portal.call(functools.partial(reads.one, count, {}, generic=True))
    assert generic.generic > 0, "no page ran on a generic plan"
    custom = on_loop.portal.call(functools.partial(reads.one, count, {}))
    assert custom.generic == 0
