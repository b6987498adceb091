"""Read replicas with a real streaming standby: ``pg_basebackup -R`` from the session's own
cluster, same binaries, its own port and data directory.

What a read was served from is seen in the data, not in a diagnostic: while the standby's
replay is paused, a change made on the primary is there only, so an answer without it came
from the standby and an answer with it from the primary. The audit rows are counted on the
primary, where the trail lives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from core import db
from core.pgcluster import Cluster
from core.security import create_principal_key
from core.settings import Settings
from tests.conftest import TestServer

PRIMARY_ONLY = "Alleen op de primary"


@pytest.fixture(scope="module")
def primary_url(pg_server: TestServer, demo_engine: Engine) -> Iterator[str]:
    """A copy of the demo database of its own (the test changes it)."""
    name, url = pg_server.copy_database(str(demo_engine.url.database), "okaart_replica")
    yield url
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def key(primary_url: str) -> str:
    engine = create_engine(primary_url)
    with engine.begin() as conn:
        made, _ = create_principal_key(
            conn,
            naam="replica-analist",
            rol="analist",
            organisatie="Gemeente Groningen",
            convenanten=["gemeente"],
            gemeenten=["GM0014"],
            doelen=["analyse"],
        )
    engine.dispose()
    return made


@pytest.fixture(scope="module")
def standby(
    pg_server: TestServer, primary_url: str, key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A hot standby of the session's cluster, taken after the database and key exist."""
    owner = make_url(pg_server.base_url)
    dsn = f"host={owner.host} port={owner.port} user={owner.username} password={owner.password}"
    cluster = Cluster.at(Path(tmp_path_factory.mktemp("standby")), fast=True)
    cluster.init_standby(dsn)
    cluster.start_server()
    yield cluster
    cluster.destroy()


def _standby_conn(standby: Cluster, primary_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(standby.dsn(str(make_url(primary_url).database)), autocommit=True)


def _app(
    primary_url: str, api_login: Any, standby: Cluster, *, max_lag_s: float, statement_timeout_ms: int = 5000
) -> Any:
    from app.main import create_app

    api = api_login(primary_url)
    replica = make_url(api).set(port=int(standby.state()["port"])).render_as_string(hide_password=False)
    settings = Settings(
        database_url=primary_url,
        api_database_url=api,
        environment="test",
        replica_urls=(replica,),
        replica_max_lag_s=max_lag_s,
        replica_check_s=0.05,
        rate_limit_per_minute=0,
    )
    return create_app(settings, engine=db.make_engine(api, statement_timeout_ms=statement_timeout_ms))


def _replicas(app: Any) -> Any:
    from app.services import services_of

    return services_of(app).replicas


def _wijk(client: TestClient, key: str) -> tuple[str, str]:
    """A wijk's feature id and code, as the service lists it."""
    body = client.get(
        "/collections/gebieden/items", params={"soort": "wijk", "limit": 1}, headers=_auth(key)
    ).json()
    feature = body["features"][0]
    return feature["id"], feature["properties"]["code"]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Doel": "analyse"}


def _rename_on_primary(primary_url: str, code: str, naam: str) -> None:
    engine = create_engine(primary_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE gebied SET naam = :naam WHERE soort = 'wijk' AND code = :code"),
            {"naam": naam, "code": code},
        )
    engine.dispose()


def _caught_up(standby: Cluster, primary_url: str) -> None:
    """Resume replay and wait until the standby has replayed all the primary wrote."""
    primary = create_engine(primary_url)
    with primary.connect() as conn:
        target = conn.execute(text("SELECT CAST(pg_current_wal_lsn() AS text)")).scalar_one()
    primary.dispose()
    with _standby_conn(standby, primary_url) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
        deadline = time.monotonic() + 30
        while True:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()) <= 0", (target,)
            ).fetchone()
            if row is not None and row[0]:
                return
            assert time.monotonic() < deadline, "the standby does not catch up"
            time.sleep(0.05)


def _audit_rows(conn: Any) -> int:
    """The trail's rows of the gebieden layer answered with 200 (a SQLAlchemy or psycopg connection)."""
    query = "SELECT count(*) FROM audit_log WHERE laag = 'gebieden' AND status = 200"
    if isinstance(conn, psycopg.Connection):
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])
    return int(conn.execute(text(query)).scalar_one())


def _primary_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = _audit_rows(conn)
    engine.dispose()
    return found


def _wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_reads_come_from_the_replica_and_their_rows_go_to_the_primary(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    app = _app(primary_url, api_login, standby, max_lag_s=300)
    with TestClient(app, raise_server_exceptions=False) as client:
        feature, code = _wijk(client, key)
        _wait_for(lambda: _replicas(app).pick() is not None, "the replica is never taken into use")
        old = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).json()["properties"][
            "naam"
        ]
        before = _primary_rows(primary_url)
        with _standby_conn(standby, primary_url) as conn:
            # The standby first replays what the primary committed so far: a standby that has
            # replayed no commit since it started has no replay time, and one behind the
            # primary without one counts as lagging (core/replica.py), which is not this test.
            _wait_for(lambda: _audit_rows(conn) == before, "the standby does not catch up")
            conn.execute("SELECT pg_wal_replay_pause()")
            replayed = _audit_rows(conn)
        try:
            _rename_on_primary(primary_url, code, PRIMARY_ONLY)
            single = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key))
            listed = client.get("/collections/gebieden/items", params={"code": code}, headers=_auth(key))
            overview = client.get("/gebieden", params={"soort": "wijk"}, headers=_auth(key))
            tile = client.get("/collections/gebieden/tiles/WebMercatorQuad/10/530/332", headers=_auth(key))
            # The standby has not replayed the rename: these answers came from it ...
            assert single.status_code == 200 and single.json()["properties"]["naam"] == old
            assert listed.status_code == 200 and PRIMARY_ONLY not in listed.text
            assert overview.status_code == 200 and PRIMARY_ONLY not in overview.text
            assert tile.status_code == 200
            # ... and their rows are on the primary, committed; the paused standby has none.
            assert _primary_rows(primary_url) == before + 3
            with _standby_conn(standby, primary_url) as conn:
                assert _audit_rows(conn) == replayed
        finally:
            _caught_up(standby, primary_url)
        after = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key))
        assert after.json()["properties"]["naam"] == PRIMARY_ONLY
        _rename_on_primary(primary_url, code, old)
    _replicas(app).dispose()


def test_a_lagging_replica_is_skipped_for_the_primary(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    app = _app(primary_url, api_login, standby, max_lag_s=0.3)
    replicas = _replicas(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        feature, code = _wijk(client, key)
        _wait_for(lambda: replicas.pick() is not None, "the replica is never taken into use")
        with _standby_conn(standby, primary_url) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            _rename_on_primary(primary_url, code, PRIMARY_ONLY)
            time.sleep(0.6)  # beyond the bound: the last replayed commit is older than 0.3 s
            _wait_for(lambda: replicas.pick() is None, "a paused replica is still used")
            single = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key))
            assert single.status_code == 200
            assert single.json()["properties"]["naam"] == PRIMARY_ONLY  # the primary's answer
            assert "loopt achter" in replicas.status()[0]["reden"]
        finally:
            _caught_up(standby, primary_url)
        _wait_for(lambda: replicas.pick() is not None, "a replica that caught up is not used again")
        _rename_on_primary(primary_url, code, "Hersteld")
    replicas.dispose()


def test_no_data_leaves_before_its_row_is_committed_on_the_primary(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    app = _app(primary_url, api_login, standby, max_lag_s=300, statement_timeout_ms=500)
    replicas = _replicas(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        feature, _ = _wijk(client, key)
        naam = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).json()["properties"][
            "naam"
        ]
        _wait_for(lambda: replicas.pick() is not None, "the replica is never taken into use")
        blocker = psycopg.connect(
            make_url(primary_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            # The trail cannot take a row now (the insert waits past the statement timeout);
            # the replica could still read the feature.
            blocker.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
            refused = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key))
        finally:
            blocker.rollback()
            blocker.close()
        assert refused.status_code == 503
        assert "toegangslogboek" in refused.json()["detail"]
        assert naam not in refused.text and "geometry" not in refused.text
        assert client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).status_code == 200
    replicas.dispose()


def test_a_stopped_replica_is_skipped_without_errors(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    app = _app(primary_url, api_login, standby, max_lag_s=300)
    replicas = _replicas(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        feature, code = _wijk(client, key)
        _wait_for(lambda: replicas.pick() is not None, "the replica is never taken into use")
        # Fill the replica's pool, so the stop leaves it broken connections to find.
        for _ in range(3):
            assert client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).status_code == 200
            assert client.get("/gebieden", params={"soort": "wijk"}, headers=_auth(key)).status_code == 200
        standby.stop()
        try:
            statuses = [
                client.get(path, params=params, headers=_auth(key)).status_code
                for _ in range(3)
                for path, params in (
                    (f"/collections/gebieden/items/{feature}", {}),
                    ("/collections/gebieden/items", {"code": code}),
                    ("/gebieden", {"soort": "wijk"}),
                    ("/collections/gebieden/tiles/WebMercatorQuad/10/530/332", {}),
                )
            ]
            assert statuses == [200] * len(statuses)
            assert replicas.pick() is None
            assert "onbereikbaar" in replicas.status()[0]["reden"]
        finally:
            standby.start_server()
    replicas.dispose()


def test_a_request_never_runs_the_replica_check(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    """The health check runs in the background task only: with a check interval longer than
    the test, the first round (at start) makes the replica usable, and the requests after it
    run their reads on the replica and not one check statement on either server."""
    from app.main import create_app

    api = api_login(primary_url)
    replica_url = make_url(api).set(port=int(standby.state()["port"])).render_as_string(hide_password=False)
    settings = Settings(
        database_url=primary_url,
        api_database_url=api,
        environment="test",
        replica_urls=(replica_url,),
        replica_max_lag_s=300,
        replica_check_s=3600,
        rate_limit_per_minute=0,
    )
    app = create_app(settings, engine=db.make_engine(api))
    replicas = _replicas(app)
    statements: dict[str, list[str]] = {"primary": [], "replica": []}
    event.listen(
        app.state.services.engine, "before_cursor_execute", lambda *a: statements["primary"].append(a[2])
    )
    event.listen(
        replicas.replicas[0].engine, "before_cursor_execute", lambda *a: statements["replica"].append(a[2])
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        _wait_for(lambda: replicas.checks == 1, "the background task never checked the replica")
        assert replicas.pick() is not None
        for side in statements.values():
            side.clear()
        feature, _ = _wijk(client, key)
        statuses = [
            client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).status_code,
            client.get("/gebieden", params={"soort": "wijk"}, headers=_auth(key)).status_code,
        ]
        checks = replicas.checks
    replicas.dispose()
    assert statuses == [200, 200]
    assert checks == 1  # no round since the first
    assert statements["replica"], "the reads did not go to the replica"
    every = statements["primary"] + statements["replica"]
    assert not [s for s in every if "pg_is_in_recovery" in s or "pg_current_wal_lsn" in s]


def _tile_names(body: bytes) -> set[str]:
    import mapbox_vector_tile

    decoded = mapbox_vector_tile.decode(body)
    return {str(f["properties"].get("naam")) for layer in decoded.values() for f in layer["features"]}


def test_a_tile_is_not_read_on_a_replica_that_has_not_replayed_its_data_version(
    primary_url: str, key: str, standby: Cluster, api_login: Any
) -> None:
    """A tile is cached under its data version (the newest ingest runs of its tables). A
    replica within its allowed lag that has not replayed the newest run would give the old
    data under the new key, served from the cache until the next ingest; such a tile is read
    on the primary. Reads that carry no version still go to the replica (the control)."""
    app = _app(primary_url, api_login, standby, max_lag_s=300)
    tile_path = "/collections/gebieden/tiles/WebMercatorQuad/10/530/332"
    with TestClient(app, raise_server_exceptions=False) as client:
        feature, code = _wijk(client, key)
        old = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key)).json()["properties"][
            "naam"
        ]
        _wait_for(lambda: _replicas(app).pick() is not None, "the replica is never taken into use")
        before = _primary_rows(primary_url)
        with _standby_conn(standby, primary_url) as conn:
            _wait_for(lambda: _audit_rows(conn) == before, "the standby does not catch up")
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            # An ingest of areas, as it commits: the data and its successful run together.
            engine = create_engine(primary_url)
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE gebied SET naam = :naam WHERE soort = 'wijk' AND code = :code"),
                    {"naam": PRIMARY_ONLY, "code": code},
                )
                conn.execute(
                    text(
                        "INSERT INTO ingest_run (soort, bestand, sha256, status, gestart)"
                        " VALUES ('gebieden', 'wijken.gpkg', repeat('ab', 32), 'geslaagd', now())"
                    )
                )
            engine.dispose()
            from app.services import services_of

            services_of(app).versions.expire()
            single = client.get(f"/collections/gebieden/items/{feature}", headers=_auth(key))
            first = client.get(tile_path, headers=_auth(key))
            cached = client.get(tile_path, headers=_auth(key))
            # The control: an unversioned read still came from the paused replica ...
            assert single.status_code == 200 and single.json()["properties"]["naam"] == old
            # ... the tile, keyed by the new run, from the primary; so is its cached copy.
            assert first.status_code == 200 and PRIMARY_ONLY in _tile_names(first.content)
            assert cached.status_code == 200 and cached.headers["etag"] == first.headers["etag"]
            assert PRIMARY_ONLY in _tile_names(cached.content)
        finally:
            _caught_up(standby, primary_url)
        _rename_on_primary(primary_url, code, old)
    _replicas(app).dispose()
