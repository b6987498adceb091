"""Retention (docs/architecture.md §7): after the clock passes ``bewaren_tot``, the signal is gone from
every layer, tile and export, and the run says what it removed as counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from app.main import create_app
from app.services import services_of
from core import db
from core.security import create_principal_key
from core.settings import Settings
from tests.conftest import PRINCIPALS, TestServer, auth

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture
def demo_copy(pg_server: TestServer, demo_engine: Engine, demo_app: Any) -> Iterator[str]:
    """A private copy of the demo database (retention deletes; the demo stays intact)."""
    demo_engine.dispose()
    services_of(demo_app).engine.dispose()  # a template may have no other sessions
    name, url = pg_server.copy_database(str(demo_engine.url.database), "okaart_ret")
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def test_expired_signals_are_gone_everywhere(demo_copy: str, monkeypatch: Any, api_login: Any) -> None:
    from cli.main import cli
    from core.settings import get_settings

    owner = create_engine(demo_copy)
    with owner.begin() as c:
        key, _ = create_principal_key(
            c,
            naam="ret",
            dataklasse="zeer_vertrouwelijk",
            **PRINCIPALS["analist"],  # type: ignore[arg-type]
        )
        # The clock moves to the median retention date: about half the signals expire.
        peil = c.execute(
            text("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY bewaren_tot) FROM signaal")
        ).scalar_one()
        expired = c.execute(
            text(
                "SELECT id::text, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)), buurtcode,"
                " extract(year FROM datum)::int FROM signaal WHERE bewaren_tot < :p ORDER BY id"
            ),
            {"p": peil},
        ).all()
        kept = c.execute(
            text("SELECT count(*) FROM signaal WHERE bewaren_tot >= :p"), {"p": peil}
        ).scalar_one()
    assert len(expired) > 1000 and kept > 1000
    api = db.make_engine(api_login(demo_copy))
    app = create_app(Settings(database_url=demo_copy, environment="test"), engine=api)
    headers = auth(key, doel="analyse")
    victim = expired[len(expired) // 2]
    tile = TMS.tile(victim[1], victim[2], 16)
    tile_url = f"/collections/signalen/tiles/WebMercatorQuad/16/{tile.x}/{tile.y}"
    buurt_url = f"/gebieden/{victim[3]}"

    with TestClient(app) as client:
        before_tile = client.get(tile_url, headers=headers)
        assert victim[0] in tile_ids(before_tile.content)
        assert client.get(f"/collections/signalen/items/{victim[0]}", headers=headers).status_code == 200
        before_buurt = buurt_signals(client.get(buurt_url, headers=headers).json(), victim[4])

        monkeypatch.setenv("DATABASE_URL", demo_copy)
        get_settings.cache_clear()
        runner = CliRunner()
        first = runner.invoke(cli, ["retention", "run", "--peildatum", peil.isoformat()])
        assert first.exit_code == 0, first.output
        assert f"{len(expired)} signalen verwijderd" in first.output
        second = runner.invoke(cli, ["retention", "run", "--peildatum", peil.isoformat()])
        assert second.exit_code == 0 and "0 signalen verwijderd" in second.output
        get_settings.cache_clear()

        services_of(app).versions.expire()
        # Points: items by id, listing, tiles (with a new ETag, so no cache keeps it).
        assert client.get(f"/collections/signalen/items/{victim[0]}", headers=headers).status_code == 404
        after_tile = client.get(tile_url, headers={**headers, "If-None-Match": before_tile.headers["etag"]})
        assert after_tile.status_code == 200 and after_tile.headers["etag"] != before_tile.headers["etag"]
        assert victim[0] not in tile_ids(after_tile.content)
        listing = client.get("/collections/signalen/items", params={"limit": 1}, headers=headers).json()
        assert listing["numberMatched"] == kept
        export = client.get(
            "/collections/signalen/items",
            params={"f": "csv", "limit": 1000, "buurtcode": victim[3]},
            headers=headers,
        )
        assert export.status_code == 200 and export.text.startswith("id,")
        exported = export.text
        assert all(line.split(",")[0] != victim[0] for line in exported.splitlines()[1:])
        # Aggregates: the derived indicators were refreshed.
        after_buurt = buurt_signals(client.get(buurt_url, headers=headers).json(), victim[4])
        gone_here = sum(1 for e in expired if e[3] == victim[3] and e[4] == victim[4])
        assert after_buurt == before_buurt - gone_here
    api.dispose()

    with owner.connect() as c:
        assert (
            c.execute(text("SELECT count(*) FROM signaal WHERE bewaren_tot < :p"), {"p": peil}).scalar_one()
            == 0
        )
        runs = c.execute(
            text("SELECT verwijderd, opties FROM ingest_run WHERE bestand = 'retentie' ORDER BY id")
        ).all()
        logged = (
            c.execute(text("SELECT aantal FROM audit_log WHERE route = 'okaart retention run' ORDER BY id"))
            .scalars()
            .all()
        )
    owner.dispose()
    assert [r.verwijderd for r in runs] == [len(expired)]  # idempotent: the second run recorded nothing
    per_source = runs[0].opties["retentie"]["per_bron_thema"]
    assert sum(per_source.values()) == len(expired)
    assert all(isinstance(v, int) for v in per_source.values())  # counts, never the signals
    assert logged == [len(expired)]
    assert peil > dt.date(2020, 1, 1)


def tile_ids(data: bytes) -> set[str]:
    decoded = mapbox_vector_tile.decode(data)
    return {str(f["properties"]["id"]) for f in decoded.get("signalen", {}).get("features", [])}


def buurt_signals(overview: dict[str, Any], year: int) -> int:
    row = next(p for p in overview["perioden"] if p["periode"] == str(year))
    return int(row["signalen"])
