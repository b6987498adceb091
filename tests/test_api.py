"""The map API: every layer through every output, GeoJSON, tiles, CRS, indicators, access."""

from __future__ import annotations

import math
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from sqlalchemy import Engine, text

from layers import REGISTRY
from tests.conftest import auth, scalar, zicht_id

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.mark.parametrize("layer_id", sorted(REGISTRY))
def test_contract_every_layer_through_items_item_and_tiles(
    client: Any, api_keys: dict[str, str], demo_engine: Engine, layer_id: str
) -> None:
    layer = REGISTRY[layer_id]
    headers = auth(api_keys["beheerder"])
    where = " AND ".join(f"{k} = '{v}'" for k, v in layer.where.items()) or "true"
    if layer.by_zicht:  # figures per view class: the beheerder's
        where += f" AND zicht_id = {zicht_id(demo_engine, api_keys['beheerder'])}"
    expected = scalar(demo_engine, f"SELECT count(*) FROM {layer.source} WHERE {where}")
    assert expected > 0

    page = client.get(f"/collections/{layer_id}/items", params={"limit": 5}, headers=headers)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "application/geo+json"
    body = page.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == expected
    assert body["numberReturned"] == len(body["features"]) == 5
    assert any(link["rel"] == "next" for link in body["links"])
    for feature in body["features"]:
        assert feature["type"] == "Feature" and feature["id"]
        assert feature["geometry"]["type"] == layer.geometry_type
        assert set(feature["properties"]) == {p.name for p in layer.properties}
        lon, lat = _first_coordinate(feature["geometry"])
        assert 6.3 < lon < 6.9 and 53.0 < lat < 53.4  # Groningen, in CRS84 order

    first = body["features"][0]
    single = client.get(f"/collections/{layer_id}/items/{first['id']}", headers=headers)
    assert single.status_code == 200
    assert single.json()["properties"] == first["properties"]

    # A tile with that feature in it decodes and contains it.
    lon, lat = _first_coordinate(first["geometry"])
    # Points are single from their layer's ``single_from`` zoom; below it a cluster hides them.
    z = max(layer.minzoom, layer.single_from or 14 if layer.kind == "punten" else 10)
    t = TMS.tile(lon, lat, z)
    query = (
        {}
        if layer.kind == "punten"
        else {"periode": first["properties"]["periode"], "thema": first["properties"]["thema"]}
        if "periode" in first["properties"]
        else {}
    )
    tile = client.get(
        f"/collections/{layer_id}/tiles/WebMercatorQuad/{z}/{t.x}/{t.y}", params=query, headers=headers
    )
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(tile.content)
    ids = {f["properties"]["id"] for f in decoded[layer_id]["features"]}
    assert first["id"] in ids


def _first_coordinate(geometry: dict[str, Any]) -> tuple[float, float]:
    coords = geometry["coordinates"]
    while isinstance(coords[0], list):
        coords = coords[0]
    return float(coords[0]), float(coords[1])


def test_paging_walks_every_feature_once(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    seen: list[str] = []
    url: str | None = "/collections/gebieden/items?limit=50"
    while url:
        body = client.get(url, headers=headers).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == body["numberMatched"]


def test_rd_output_equals_the_stored_coordinates(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    sleutel, x, y = (
        demo_engine.connect()
        .execute(text("SELECT sleutel, ST_X(geom), ST_Y(geom) FROM verblijfsobject ORDER BY sleutel LIMIT 1"))
        .one()
    )
    response = client.get(
        f"/collections/verblijfsobjecten/items/{sleutel}",
        params={"crs": "http://www.opengis.net/def/crs/EPSG/0/28992"},
        headers=auth(api_keys["analist"]),
    )
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/28992>"
    got_x, got_y = response.json()["geometry"]["coordinates"]
    assert math.isclose(got_x, x, abs_tol=1e-6) and math.isclose(got_y, y, abs_tol=1e-6)


def test_bbox_and_filters_and_datetime(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    headers = auth(api_keys["analist"])
    # A bbox in RD around the city centre, signals of one theme in 2024.
    bbox = "232000,581000,235000,583000"
    params = {
        "bbox": bbox,
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
        "thema": "drugs",
        "datetime": "2024-01-01/2024-12-31",
        "limit": 1,
    }
    body = client.get("/collections/signalen/items", params=params, headers=headers).json()
    expected = scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE geom && ST_MakeEnvelope(232000,581000,235000,583000,28992)"
        " AND thema = 'drugs' AND datum BETWEEN '2024-01-01' AND '2024-12-31'",
    )
    assert body["numberMatched"] == expected > 0


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"onbekend": "x"}, "onbekende parameter"),
        ({"datetime": "gisteren"}, "datetime"),
        ({"crs": "EPSG:3857"}, "crs"),
    ],
)
def test_client_mistakes_are_problems(
    client: Any, api_keys: dict[str, str], params: dict[str, Any], fragment: str
) -> None:
    response = client.get("/collections/signalen/items", params=params, headers=auth(api_keys["analist"]))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"]


def test_z_score_matches_a_hand_computation(demo_engine: Engine, api_keys: dict[str, str]) -> None:
    # The beheerder is cleared for every signal of the municipality: the hand count below.
    zicht = zicht_id(demo_engine, api_keys["beheerder"])
    with demo_engine.connect() as c:
        row = (
            c.execute(
                text(
                    "SELECT * FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'buurt' AND periode = '2024' AND thema = 'drugs' AND signalen > 20 ORDER BY code LIMIT 1"
                ),
                {"z": zicht},
            )
            .mappings()
            .one()
        )
        observed = c.execute(
            text(
                "SELECT count(*) FROM signaal WHERE buurtcode = :b AND thema = 'drugs' AND extract(year FROM datum) = 2024"
            ),
            {"b": row["code"]},
        ).scalar_one()
        addresses = c.execute(
            text("SELECT count(*) FROM verblijfsobject WHERE buurtcode = :b"), {"b": row["code"]}
        ).scalar_one()
        total = c.execute(
            text("SELECT count(*) FROM signaal WHERE thema = 'drugs' AND extract(year FROM datum) = 2024")
        ).scalar_one()
        all_addresses = c.execute(text("SELECT count(*) FROM verblijfsobject")).scalar_one()
        previous = c.execute(
            text(
                "SELECT count(*) FROM signaal WHERE buurtcode = :b AND thema = 'drugs' AND extract(year FROM datum) = 2023"
            ),
            {"b": row["code"]},
        ).scalar_one()
    expected = (total - observed) / (all_addresses - addresses) * addresses
    z = (observed - expected) / math.sqrt(expected)
    assert row["signalen"] == observed and row["adressen"] == addresses
    assert float(row["verwacht"]) == pytest.approx(expected, abs=0.01)
    assert float(row["z"]) == pytest.approx(z, abs=0.01)
    assert row["afwijkend"] == (z >= 3 and observed >= 10)
    assert float(row["trend_z"]) == pytest.approx(2 * (math.sqrt(observed) - math.sqrt(previous)), abs=0.01)


def test_some_buurten_deviate(demo_engine: Engine, api_keys: dict[str, str]) -> None:
    deviating = scalar(
        demo_engine,
        "SELECT count(*) FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'buurt' AND periode = '2024' AND thema = 'drugs' AND afwijkend",
        z=zicht_id(demo_engine, api_keys["beheerder"]),
    )
    assert 0 < deviating < 40


def test_anonymous_gets_the_landing_page_but_no_data(client: Any) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/conformance").status_code == 200
    response = client.get("/collections")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (
        client.get(
            "/collections/buurten/items", headers={"Authorization": "Bearer okk_nope_nope"}
        ).status_code
        == 401
    )


def test_a_hidden_layer_looks_like_a_missing_one(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["planner"])
    hidden = client.get("/collections/signalen/items", headers=headers)
    missing = client.get("/collections/bestaat_niet/items", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert set(hidden.json()) == set(missing.json())
    assert hidden.json()["title"] == missing.json()["title"]
    listed = {c["id"] for c in client.get("/collections", headers=headers).json()["collections"]}
    assert listed == {
        "buurten", "wijken", "bedrijventerreinen", "buitengebied", "gebieden", "postcode4", "vierkanten500",
        "risicobranches_bedrijventerreinen", "risicobranches_buurten",
    }  # fmt: skip


def test_partners_see_only_their_covenants_up_to_their_data_class(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    riec = client.get(
        "/collections/signalen/items", params={"limit": 1}, headers=auth(api_keys["partner_riec"])
    ).json()
    zorg = client.get(
        "/collections/signalen/items", params={"limit": 1}, headers=auth(api_keys["partner_zorg"])
    ).json()
    assert riec["numberMatched"] == scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE convenant = 'riec' AND dataklasse <> 'zeer_vertrouwelijk'",
    )
    assert zorg["numberMatched"] == scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE convenant = 'zorg' AND dataklasse <> 'zeer_vertrouwelijk'",
    )
    # The demo holds human-trafficking signals of the riec covenant, so the data class matters.
    assert scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE convenant = 'riec' AND dataklasse = 'zeer_vertrouwelijk'",
    )
    elders = client.get(
        "/collections/buurten/items", params={"limit": 1}, headers=auth(api_keys["analist_elders"])
    ).json()
    assert elders["numberMatched"] == 0


def test_planner_counts_are_suppressed_and_rounded(client: Any, api_keys: dict[str, str]) -> None:
    body = client.get(
        "/collections/buurten/items",
        params={"limit": 1000, "periode": "2024-K1", "thema": "mensenhandel"},
        headers=auth(api_keys["planner"]),
    ).json()
    values = [f["properties"]["signalen"] for f in body["features"]]
    assert any(v is None for v in values)
    assert all(v is None or (v >= 10 and v % 5 == 0) for v in values)
    for f in body["features"]:
        if f["properties"]["signalen"] is None:
            assert f["properties"]["per_1000_adressen"] is None and f["properties"]["onderdrukt"] is True


def test_locate_and_overview(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    located = client.get("/locate", params={"lon": 6.5665, "lat": 53.2194}, headers=headers).json()[
        "gebieden"
    ]
    soorten = [a["soort"] for a in located]
    assert soorten[:3] == ["gemeente", "wijk", "buurt"]
    buurt = next(a for a in located if a["soort"] == "buurt")
    assert buurt["indicatoren"]["code"] == buurt["code"]
    overview = client.get(f"/gebieden/{buurt['code']}", headers=headers).json()
    assert [p["periode"] for p in overview["perioden"]] == ["2023", "2024", "2025"]
    listing = client.get("/gebieden", params={"soort": "wijk", "periode": "2024"}, headers=headers).json()
    assert len(listing["gebieden"]) == 20


def test_etag_and_not_modified(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    t = TMS.tile(6.5665, 53.2194, 12)
    url = f"/collections/buurten/tiles/WebMercatorQuad/12/{t.x}/{t.y}"
    first = client.get(url, headers=headers)
    etag = first.headers["etag"]
    again = client.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert "private" in first.headers["cache-control"]
    # Another principal's view of the same tile has another ETag.
    planner = client.get(url, headers=auth(api_keys["planner"]))
    assert planner.headers["etag"] != etag


def test_empty_tiles_are_cheap_and_valid(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    outside = client.get("/collections/signalen/tiles/WebMercatorQuad/14/0/0", headers=headers)
    assert outside.status_code == 200 and outside.content == b""
    too_far_out = client.get("/collections/signalen/tiles/WebMercatorQuad/5/16/10", headers=headers)
    assert too_far_out.content == b""
    tilejson = client.get("/collections/signalen/tiles/WebMercatorQuad", headers=headers).json()
    assert tilejson["minzoom"] == REGISTRY["signalen"].minzoom
    assert tilejson["tiles"][0].endswith("/{z}/{x}/{y}")


def test_ingest_changes_the_indicator_layer_and_its_etag_only(
    fresh_db: str, tmp_path: Any, api_login: Any
) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine

    from app.main import create_app
    from app.services import services_of
    from core import db
    from core.security import create_principal_key
    from core.settings import Settings
    from tests import files
    from tests.files import ingest, load_areas, load_bronnen

    engine = create_engine(fresh_db)
    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=200))
    load_bronnen(engine, tmp_path)
    with engine.begin() as c:
        key, _ = create_principal_key(
            c,
            naam="etag",
            rol="analist",
            organisatie="x",
            convenanten=["riec"],
            gemeenten=["GM0014"],
            doelen=[],
        )
    api = db.make_engine(api_login(fresh_db))
    app = create_app(Settings(database_url=fresh_db, environment="test"), engine=api)
    headers = auth(key)
    source = files.addresses(200)
    lon, lat = float(source.loc[0, "lon"]), float(source.loc[0, "lat"])
    t = TMS.tile(lon, lat, 12)

    def snapshot(client: Any) -> tuple[str, str, int]:
        services_of(app).versions.expire()
        buurten = client.get(
            f"/collections/buurten/tiles/WebMercatorQuad/12/{t.x}/{t.y}",
            params={"periode": "2025"},
            headers=headers,
        )
        gebieden = client.get(f"/collections/gebieden/tiles/WebMercatorQuad/12/{t.x}/{t.y}", headers=headers)
        located = client.get("/locate", params={"lon": lon, "lat": lat}, headers=headers).json()["gebieden"]
        buurt = next(a for a in located if a["soort"] == "buurt")
        return buurten.headers["etag"], gebieden.headers["etag"], buurt["indicatoren"]["signalen"]

    rows = [
        {"Kenmerk": f"N-{i}", "Thema": "drugs", "Soort": "melding", "Datum": f"2025-02-{i + 1:02d}",
         "Postcode": source.loc[0, "postal_code"], "Huisnummer": source.loc[0, "number"] + source.loc[0, "letter"]}
        for i in range(7)
    ]  # fmt: skip
    with TestClient(app) as client:
        before = snapshot(client)
        report = ingest(engine, "signalen", files.signals_xlsx(tmp_path / "riec.xlsx", rows))
        assert report.ingevoegd == 7
        after = snapshot(client)
    assert after[2] == before[2] + 7  # the figure changed...
    assert after[0] != before[0]  # ...and so did the indicator layer's ETag
    assert after[1] == before[1]  # the areas layer was not touched: same ETag
    api.dispose()
    engine.dispose()


def test_openapi_document_is_valid(client: Any) -> None:
    import json
    import subprocess
    import sys

    spec = client.get("/api").json()
    # In a child process: the validator's deep recursion trips a CPython 3.11 bug
    # ("AST constructor recursion depth mismatch") in whatever this process compiles next.
    check = subprocess.run(
        [sys.executable, "-c", "import json, sys; from openapi_spec_validator import validate; validate(json.load(sys.stdin))"],
        input=json.dumps(spec), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr[-2000:]
    for path in (
        "/collections/{collection_id}/items",
        "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}",
        "/locate",
    ):
        assert path in spec["paths"]


def test_html_and_csv_outputs(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    import csv
    import io

    headers = auth(api_keys["analist"])
    page = client.get(
        "/collections/wijken/items",
        params={"f": "html", "limit": 20, "periode": "2024", "thema": "alle"},
        headers=headers,
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        "<table>" in page.text and "Ondermijningsbeeld per wijk" in page.text and "synthetisch" in page.text
    )
    browser = client.get("/collections", headers={**headers, "Accept": "text/html,application/xhtml+xml"})
    assert browser.headers["content-type"].startswith("text/html")
    exported = client.get(
        "/collections/wijken/items",
        params={"f": "csv", "limit": 1000, "periode": "2024", "thema": "alle"},
        headers=headers,
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 20
    first = rows[0]
    stored = (
        demo_engine.connect()
        .execute(
            text("SELECT signalen FROM indicator_zicht WHERE zicht_id = :z AND id = :i"),
            {"z": zicht_id(demo_engine, api_keys["analist"]), "i": first["id"]},
        )
        .scalar_one()
    )
    assert int(first["signalen"]) == stored
    assert first["geometrie"].startswith("MULTIPOLYGON")
    assert client.get("/collections/wijken/items", params={"f": "xml"}, headers=headers).status_code == 406
