"""Test fixtures: a real, throwaway PostGIS cluster for the whole session.

The cluster is started with the same code as ``okaart db start`` (so the tests exercise
it), in a temporary directory, with durability switched off for speed. A template
database is migrated once; every test that commits gets its own clone of it (cheap
``CREATE DATABASE ... TEMPLATE``), and tests that only read and write inside one
transaction share a database and roll back. ``TEST_DATABASE_URL`` points the suite at an
existing server instead (its user needs CREATEDB and CREATEROLE). There is no fallback:
without PostGIS the fixtures raise and every database test errors.

The service under test logs in as production's does: a login of its own that is a member
of ``okaart_api`` (:func:`api_login`), never the owner with ``SET ROLE``.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401  (imported early: see the note in app/routers/ogc.py)
import psycopg
import pytest
import uvicorn
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from core import db
from core.pgcluster import API_LOGIN, Cluster, ensure_api_login

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data" / "groningen"
TEMPLATE = "okaart_test_template"


@dataclass
class TestServer:
    """A PostgreSQL server the tests may create databases on."""

    __test__ = False
    base_url: str  # SQLAlchemy URL with any database name
    api_login: str = API_LOGIN
    api_password: str = ""

    def url(self, dbname: str) -> str:
        return db.normalise_url(
            make_url(self.base_url).set(database=dbname).render_as_string(hide_password=False)
        )

    def api_url(self, url: str) -> str:
        """The same database as ``url``, as the service's api login."""
        login = make_url(url).set(username=self.api_login, password=self.api_password)
        return db.normalise_url(login.render_as_string(hide_password=False))

    def dsn(self, dbname: str) -> str:
        return self.url(dbname).replace("postgresql+psycopg://", "postgresql://")

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.dsn("postgres"), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.admin() as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(stmt)
        return self.url(name)

    def copy_database(self, template: str, prefix: str) -> tuple[str, str]:
        """A private copy of ``template`` (a test that changes data leaves the original intact);
        returns its name and URL.

        PostgreSQL copies only a template nobody is connected to, and background threads of
        servers other tests started (the revocation listener, pool pre-pings) reconnect at any
        moment. So the template refuses new connections while it is copied, its sessions are
        ended, and the copy is retried for the rare session that slipped in between."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(template))
            )
            try:
                for attempt in range(50):
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        (template,),
                    )
                    try:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                                sql.Identifier(name), sql.Identifier(template)
                            )
                        )
                        break
                    except psycopg.errors.ObjectInUse:
                        if attempt == 49:
                            raise
                        time.sleep(0.1)
            finally:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(template))
                )
        return name, self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    """The session's PostgreSQL server: TEST_DATABASE_URL, or a fresh embedded cluster."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        # A login of this run's own, so parallel runs on one server do not reset each other's.
        server = TestServer(
            db.normalise_url(external), f"okaart_api_test_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
        )
        with server.admin() as conn:
            ensure_api_login(conn, server.api_password, server.api_login)
        try:
            yield server
        finally:
            with server.admin() as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(server.api_login)))
        return
    cluster = Cluster.at(tmp_path_factory.mktemp("cluster"), fast=True)
    cluster.start("postgres")  # creates the api login, as `okaart db start` does
    try:
        yield TestServer(cluster.url("postgres"), api_password=str(cluster.state()["api_password"]))
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def api_login(pg_server: TestServer) -> Callable[[str], str]:
    """``api_login(url)``: the URL of that database as the service's own login."""
    return pg_server.api_url


@pytest.fixture(scope="session")
def template_url(pg_server: TestServer) -> str:
    """A database with PostGIS and the schema at head, cloned by ``fresh_db``."""
    pg_server.drop_database(TEMPLATE)
    url = pg_server.create_database(TEMPLATE)
    with psycopg.connect(pg_server.dsn(TEMPLATE), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(url)
    return url


@pytest.fixture
def fresh_db(pg_server: TestServer, template_url: str) -> Iterator[str]:
    """A database of its own for a test that commits; dropped afterwards."""
    name = f"okaart_t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def shared_url(pg_server: TestServer, template_url: str) -> str:
    """One database shared by the tests that roll back."""
    name = f"okaart_shared_{uuid.uuid4().hex[:8]}"
    return pg_server.create_database(name, template=TEMPLATE)


@pytest.fixture(scope="session")
def shared_engine(shared_url: str) -> Iterator[Engine]:
    engine = create_engine(shared_url)
    yield engine
    engine.dispose()


def _rolled_back(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def conn(shared_engine: Engine) -> Iterator[Connection]:
    """The shared (empty, migrated) database; changes are rolled back after the test."""
    yield from _rolled_back(shared_engine)


@pytest.fixture
def demo_conn(demo_engine: Engine) -> Iterator[Connection]:
    """The demo database; changes are rolled back after the test."""
    yield from _rolled_back(demo_engine)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files, built once per session."""
    from cli.demo import build_files

    out = tmp_path_factory.mktemp("demo")
    build_files(out)
    return out


@pytest.fixture(scope="session")
def demo_engine(pg_server: TestServer, template_url: str, demo_dir: Path) -> Iterator[Engine]:
    """A database with the whole demo dataset, loaded once per session; read-only for tests."""
    from cli.demo import load_into

    name = f"okaart_demo_{uuid.uuid4().hex[:8]}"
    # Pre-ping: a test that copies the demo database ends idle sessions on it.
    engine = create_engine(pg_server.create_database(name, template=TEMPLATE), pool_pre_ping=True)
    reports = load_into(engine, demo_dir)
    failed = [r for r in reports if r.status != "geslaagd"]
    assert not failed, [(r.bestand, r.status, r.melding) for r in failed]
    yield engine
    engine.dispose()


PRINCIPALS = {
    "beheerder": dict(
        rol="beheerder",
        organisatie="Gemeente Groningen",
        convenanten=[],
        gemeenten=["GM0014"],
        doelen=["beheer"],
    ),
    "analist": dict(
        rol="analist",
        organisatie="Gemeente Groningen",
        convenanten=["gemeente", "riec"],
        gemeenten=["GM0014"],
        doelen=["analyse"],
    ),
    "analist_elders": dict(
        rol="analist",
        organisatie="Gemeente Assen",
        convenanten=["gemeente"],
        gemeenten=["GM0106"],
        doelen=["analyse"],
    ),
    "planner": dict(
        rol="planner",
        organisatie="Gemeente Groningen",
        convenanten=[],
        gemeenten=["GM0014"],
        doelen=["planvorming"],
    ),
    "partner_riec": dict(
        rol="partner",
        organisatie="Politie Noord-Nederland",
        convenanten=["riec"],
        gemeenten=["GM0014"],
        doelen=["opsporing"],
    ),
    "partner_zorg": dict(
        rol="partner",
        organisatie="WIJ Groningen",
        convenanten=["zorg"],
        gemeenten=["GM0014"],
        doelen=["zorg"],
    ),
}


@pytest.fixture(scope="session")
def api_keys(demo_engine: Engine) -> dict[str, str]:
    """One API key per kind of principal, on the demo database."""
    from core.security import create_principal_key

    keys = {}
    with demo_engine.begin() as conn:
        for name, spec in PRINCIPALS.items():
            keys[name], _ = create_principal_key(conn, naam=f"test-{name}", **spec)  # type: ignore[arg-type]
            DOELEN[keys[name]] = spec["doelen"][0]  # type: ignore[index]
    return keys


@pytest.fixture(scope="session")
def demo_app(demo_engine: Engine, api_login: Callable[[str], str]) -> Iterator[Any]:
    """The service on the demo database, logged in as the api login (as in production)."""
    from app.main import create_app
    from core.settings import Settings

    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    app = create_app(Settings(database_url=url, environment="test"), engine=api)
    yield app
    api.dispose()


@pytest.fixture(scope="session")
def client(demo_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(demo_app, raise_server_exceptions=False) as c:
        yield c


#: The first allowed purpose of each test key: :func:`auth` states it, as a client would.
DOELEN: dict[str, str] = {}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    """One value read from the database (a count, a checksum)."""
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def zicht_id(engine: Engine, key: str) -> int:
    """The view class of a key: its figures are the rows of ``indicator_zicht`` with this id."""
    from core.security import principal_for_key
    from core.zicht import LOOKUP, Zicht

    with engine.connect() as c:
        principal = principal_for_key(c, key)
        assert principal is not None
        return int(c.execute(text(f"SELECT {LOOKUP}"), Zicht.of(principal).params()).scalar_one())


def auth(key: str, doel: str | None = None) -> dict[str, str]:
    """Headers of a signed-in request stating the key's purpose (or ``doel``)."""
    headers = {"Authorization": f"Bearer {key}"}
    stated = doel or DOELEN.get(key)
    if stated:
        headers["X-Doel"] = stated
    return headers


@pytest.fixture(scope="session")
def live_url(demo_app: Any) -> Iterator[str]:
    """The demo app served over real HTTP on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(demo_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# -- the map in Chromium (shared by the browser tests that need nothing special) -------------------


@contextmanager
def serving_demo(demo_engine: Engine, api_login: Callable[[str], str], **settings: Any) -> Iterator[str]:
    """The demo database's app served over HTTP without a basemap (no data leaves the machine),
    with ``settings`` on top; yields the base URL."""
    from app.main import create_app
    from core.settings import Settings
    from tests.browser_support import serving

    # One process serves the whole map here (production has a worker per core), and a map
    # fires dozens of tile requests at once: with the cores-based default a slow CI machine
    # could shed a tile with a 503, failing a map test for what tests/test_overload.py tests.
    settings.setdefault("admission_slots", 10)
    # The test keys are the session's: every module's requests draw on their shared rate
    # buckets, so a map test run after busy ones could get 429s for what tests/test_limits.py
    # and tests/test_gedeelde_staat.py test. A module that tests the limit sets it.
    settings.setdefault("rate_limit_per_minute", 0)
    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    app = create_app(Settings(database_url=url, environment="test", basemap_url="", **settings), engine=api)
    try:
        with serving(app) as base:
            yield base
    finally:
        api.dispose()


@pytest.fixture(scope="module")
def base_url(demo_engine: Engine, api_login: Callable[[str], str]) -> Iterator[str]:
    """The demo app over HTTP (:func:`serving_demo`); a module that needs other settings
    defines its own ``base_url`` with them."""
    with serving_demo(demo_engine, api_login) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per module."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop page (1280 × 900, Dutch) that records failed requests and console errors."""
    from tests.test_browser import Watched

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    yield Watched(context.new_page())
    context.close()
