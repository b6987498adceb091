"""Disclosure control for aggregate-only principals (docs/architecture.md §7, issue #5 acceptance 2).

Over generated datasets (hypothesis), every planner response, in every format, holds no
address, BAG id, signal id or point geometry, and no count below k: counts are withheld
(null plus ``onderdrukt``) or rounded to 5, and every derived figure is either withheld or
computed from the published counts. A differencing attempt with custom areas (a buurt,
the same buurt minus a few addresses, a published buurt plus a withheld neighbour) learns
nothing suppression hides.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from app.main import create_app
from app.services import services_of
from core import db
from core.security import create_principal_key
from core.settings import Settings
from ingest.refresh import refresh_indicators
from tests import files
from tests.conftest import PRINCIPALS, auth
from tests.files import ingest, load_areas, load_bronnen

K = 10
TMS = morecantile.tms.get("WebMercatorQuad")
COUNTS = ("signalen", "adressen", "leegstand", "pandsluitingen", "bibob", "controles", "meldingen")
DERIVED = {
    "per_1000_adressen": "signalen",
    "leegstand_pct": "leegstand",
    "verwacht": "signalen",
    "z": "signalen",
    "afwijkend": "signalen",
    "trend_z": "signalen",
}
AREA_LAYERS = ("buurten", "wijken", "bedrijventerreinen", "buitengebied", "gebieden")
#: Anything that identifies an object: BAG ids, postcodes, our synthetic source ids.
IDENTIFYING = re.compile(r"\b\d{16}\b|\b[1-9]\d{3} ?[A-Z]{2}\b|SIG-[0-9a-f]{6}")
SOORTEN = ("melding", "bibob", "pandsluiting", "bestuurlijke_controle")


@dataclass
class World:
    client: TestClient
    owner: Engine
    headers: dict[str, str]
    buurten: list[dict[str, Any]]


@pytest.fixture(scope="module")
def world(
    pg_server: Any, template_url: str, tmp_path_factory: pytest.TempPathFactory, api_login: Any
) -> Iterator[World]:
    """Groningen's areas and 3,000 real addresses; signals are generated per example."""
    import uuid

    from tests.conftest import TEMPLATE

    name = f"okaart_disc_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    tmp = tmp_path_factory.mktemp("disclosure")
    owner = create_engine(url)
    load_areas(owner, tmp)
    ingest(owner, "adressen", files.address_csv_cp1252(tmp / "adressen.csv", n=3000))
    load_bronnen(owner, tmp)
    with owner.begin() as c:
        # Cleared for every planted signal (figures come only from signals a principal may see).
        spec = {**PRINCIPALS["planner"], "dataklasse": "zeer_vertrouwelijk"}
        key, _ = create_principal_key(c, naam="planner", **spec)  # type: ignore[arg-type]
        # Eight neighbouring buurten with addresses: one wijk's worth of cells.
        buurten = [
            dict(r)
            for r in c.execute(
                text(
                    "SELECT b.code, b.wijkcode, b.naam FROM actueel_gebied b WHERE b.soort = 'buurt'"
                    " AND b.wijkcode = (SELECT v.wijkcode FROM verblijfsobject v GROUP BY v.wijkcode"
                    "   ORDER BY count(*) DESC LIMIT 1)"
                    " ORDER BY b.code LIMIT 8"
                )
            ).mappings()
        ]
    assert len(buurten) >= 4
    api = db.make_engine(api_login(url))
    settings = Settings(database_url=url, environment="test", suppression_k=K, rate_limit_per_minute=0)
    app = create_app(settings, engine=api)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, owner, auth(key, doel="planvorming"), buurten)
    api.dispose()
    owner.dispose()
    pg_server.drop_database(name)


def plant(world: World, counts: list[int], seed: int) -> None:
    """Replace all signals by ``counts[i]`` signals in buurt i (2024), at random points inside it."""
    with world.owner.begin() as c:
        c.execute(text("DELETE FROM signaal"))
        for i, (buurt, n) in enumerate(zip(world.buurten, counts, strict=False)):
            if not n:
                continue
            c.execute(
                text(
                    "INSERT INTO signaal (bron, bron_id, thema, soort, datum, dataklasse, convenant, bewaren_tot,"
                    " geom, gemeentecode, buurtcode, wijkcode)"
                    " SELECT 'politie', 'SIG-' || substr(md5(:code || d.path[1]::text || :seed), 1, 6) || d.path[1],"
                    " (ARRAY['drugs','vastgoed','mensenhandel'])[1 + d.path[1] % 3],"
                    " (ARRAY[:s0, :s1, :s2, :s3])[1 + d.path[1] % 4],"
                    " DATE '2024-01-01' + (d.path[1] * 37 % 360),"
                    " CASE WHEN d.path[1] % 3 = 2 THEN 'zeer_vertrouwelijk' ELSE 'vertrouwelijk' END,"
                    " 'riec', DATE '2035-01-01',"
                    " d.geom, g.gemeentecode, g.code, g.wijkcode"
                    " FROM actueel_gebied g, ST_Dump(ST_GeneratePoints(g.geom, :n, :rs)) d"
                    " WHERE g.soort = 'buurt' AND g.code = :code"
                ),
                {
                    "code": buurt["code"],
                    "n": n,
                    "rs": seed + i,
                    "seed": str(seed),
                    **{f"s{j}": s for j, s in enumerate(SOORTEN)},
                },
            )
    with world.owner.connect() as c:
        refresh_indicators(c)
    # Signals were written behind the ingest's back, so no data version moved: drop what the
    # service cached (an ingest or retention run would have moved the version instead).
    services_of(world.client.app).versions.expire()
    services_of(world.client.app).tile_cache.clear()


def check_row(row: dict[str, Any], where: str) -> None:
    """One published row: counts withheld or rounded to 5 and >= k; derived figures withheld
    with their count; the suppression flag says so."""
    for name in COUNTS:
        if name in row:
            value = row[name]
            assert value is None or (value >= K and value % 5 == 0), f"{where}: {name}={value}"
    for name, basis in DERIVED.items():
        if name in row and basis in row and row[basis] is None:
            assert row[name] is None, f"{where}: {name} shown while {basis} is withheld"
    if "onderdrukt" in row and any(row.get(c) is None for c in COUNTS if c in row):
        assert row["onderdrukt"] in (True, "true", "True", 1), where
    if row.get("per_1000_adressen") is not None and row.get("adressen"):
        # Computed from the published figures, so it cannot be solved back to an exact count.
        assert float(row["per_1000_adressen"]) == pytest.approx(
            1000 * row["signalen"] / row["adressen"], abs=0.01
        )


def no_identifying_content(body: str, where: str) -> None:
    found = IDENTIFYING.findall(body)
    assert not found, f"{where}: identifying content {found[:3]}"
    assert '"Point"' not in body and "POINT" not in body, f"{where}: point geometry"


def numeric(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value == "":
            out[key] = None
        elif key in COUNTS:
            out[key] = int(value)
        elif key in DERIVED and key != "afwijkend":
            out[key] = float(value)
        else:
            out[key] = value
    return out


def planner_outputs(world: World) -> Iterator[tuple[str, Any]]:
    """Every planner output over the generated data, by format."""
    c, h = world.client, world.headers
    for layer in AREA_LAYERS:
        params = {"periode": "2024"} if layer != "gebieden" else {}
        geo = c.get(f"/collections/{layer}/items", params={**params, "limit": 1000}, headers=h)
        assert geo.status_code == 200, geo.text
        yield f"{layer} geojson", geo
        yield (
            f"{layer} csv",
            c.get(f"/collections/{layer}/items", params={**params, "f": "csv", "limit": 1000}, headers=h),
        )
        yield f"{layer} html", c.get(f"/collections/{layer}/items", params={**params, "f": "html"}, headers=h)
    yield "gebieden json", c.get("/gebieden", params={"soort": "buurt", "periode": "2024"}, headers=h)
    for buurt in world.buurten[:3]:
        yield f"gebied {buurt['code']}", c.get(f"/gebieden/{buurt['code']}", headers=h)


def test_planner_never_sees_points_addresses_or_small_counts_property(world: World) -> None:
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        counts=st.lists(st.integers(min_value=0, max_value=40), min_size=8, max_size=8),
        seed=st.integers(min_value=1, max_value=10_000),
    )
    def check(counts: list[int], seed: int) -> None:
        plant(world, counts, seed)
        for where, response in planner_outputs(world):
            assert response.status_code == 200, f"{where}: {response.status_code} {response.text[:200]}"
            body = response.text
            no_identifying_content(body, where)
            kind = response.headers["content-type"]
            if "json" in kind:
                doc = response.json()
                for row in json_rows(doc):
                    check_row(row, where)
            elif "csv" in kind:
                for row in csv.DictReader(io.StringIO(body)):
                    check_row(numeric(row), where)
        if sum(counts):  # without signals there is no period 2024 to draw
            check_tiles(world)
        check_signals_not_reachable(world)

    check()


def json_rows(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        if doc.get("type") == "FeatureCollection":
            for feature in doc["features"]:
                assert feature["geometry"]["type"] != "Point"
                yield feature["properties"]
            return
        for key in ("gebieden", "perioden"):
            yield from doc.get(key, [])


def check_tiles(world: World) -> None:
    """The tiles over the generated buurten, decoded: the same rules as every other format."""
    z = 14
    with world.owner.connect() as c:
        centres = c.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p"
                " FROM actueel_gebied WHERE soort = 'buurt' AND code = ANY(:codes)) x"
            ),
            {"codes": [b["code"] for b in world.buurten]},
        ).all()
    tiles = {TMS.tile(lon, lat, z) for lon, lat in centres}
    seen = 0
    for layer in ("buurten", "wijken"):
        for tile in tiles:
            response = world.client.get(
                f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}",
                params={"periode": "2024"},
                headers=world.headers,
            )
            assert response.status_code == 200
            no_identifying_content(response.content.decode("latin-1"), f"{layer} tile")
            for feature in mapbox_vector_tile.decode(response.content).get(layer, {}).get("features", []):
                seen += 1
                assert feature["type"] != 1  # polygons only, never a point
                check_row(dict(feature["properties"]), f"{layer} tile")
    assert seen >= len(tiles)


def check_signals_not_reachable(world: World) -> None:
    for layer in ("signalen", "verblijfsobjecten", "leegstand"):
        response = world.client.get(f"/collections/{layer}/items", headers=world.headers)
        assert response.status_code == 404


def selectie(world: World, geometry_sql: str, **params: Any) -> dict[str, Any]:
    with world.owner.connect() as c:
        shape = c.execute(
            text(f"SELECT ST_AsGeoJSON(ST_Transform({geometry_sql}, 4326), 9)"), params
        ).scalar_one()
    response = world.client.post(
        "/selectie", params={"periode": "2024"}, json=json.loads(shape), headers=world.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


BUURT = "(SELECT geom FROM actueel_gebied WHERE soort = 'buurt' AND code = :code)"


def test_differencing_custom_areas_reveals_nothing(world: World) -> None:
    # Buurt 0 published (well above k), buurt 1 withheld (below k).
    counts = [23, 4, 0, 0, 0, 0, 0, 0]
    plant(world, counts, seed=7)
    published = selectie(world, BUURT, code=world.buurten[0]["code"])
    assert published["signalen"] == 25  # 23, rounded to 5
    assert published["buurten"] == [world.buurten[0]["code"]]
    # The same buurt minus three addresses (a tiny hole around each): the same answer.
    minus_three = selectie(
        world,
        f"ST_Difference({BUURT}, (SELECT ST_Union(ST_Buffer(v.geom, 3)) FROM (SELECT geom FROM verblijfsobject"
        " WHERE buurtcode = :code ORDER BY id LIMIT 3) v))",
        code=world.buurten[0]["code"],
    )
    assert {k: v for k, v in minus_three.items() if k != "oppervlakte_km2"} == {
        k: v for k, v in published.items() if k != "oppervlakte_km2"
    }
    # The published buurt plus its withheld neighbour: the neighbour adds nothing, and says so.
    with_hidden = selectie(
        world,
        f"ST_Union({BUURT}, (SELECT geom FROM actueel_gebied WHERE soort = 'buurt' AND code = :hidden))",
        code=world.buurten[0]["code"],
        hidden=world.buurten[1]["code"],
    )
    assert with_hidden["signalen"] - published["signalen"] == 0
    assert with_hidden["onderdrukt"] is True and with_hidden["onderdrukte_buurten"] >= 1
    # Only the withheld neighbour: nothing at all.
    alone = selectie(world, BUURT, code=world.buurten[1]["code"])
    assert alone["signalen"] is None and alone["onderdrukt"] is True
    for answer in (published, minus_three, with_hidden, alone):
        no_identifying_content(json.dumps(answer), "selectie")


def test_an_analyst_gets_exact_counts_for_a_custom_area(world: World) -> None:
    counts = [23, 4, 0, 0, 0, 0, 0, 0]
    plant(world, counts, seed=7)
    with world.owner.begin() as c:
        key, _ = create_principal_key(c, naam="analist-disc", **PRINCIPALS["analist"])  # type: ignore[arg-type]
        shape = c.execute(
            text(f"SELECT ST_AsGeoJSON(ST_Transform({BUURT}, 4326), 9)"), {"code": world.buurten[1]["code"]}
        ).scalar_one()
        inside = c.execute(
            text(
                "SELECT count(*) FROM signaal s WHERE ST_Intersects(s.geom, ST_Transform(ST_SetSRID("
                "ST_GeomFromGeoJSON(:g), 4326), 28992)) AND s.thema <> 'mensenhandel'"
            ),
            {"g": shape},
        ).scalar_one()
    response = world.client.post(
        "/selectie", params={"periode": "2024"}, json=json.loads(shape), headers=auth(key, doel="analyse")
    )
    assert response.status_code == 200, response.text
    # Exact, and without the data class the analyst is not cleared for (human trafficking).
    assert response.json()["signalen"] == inside
    assert 0 < inside <= 4
