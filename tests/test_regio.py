"""Two municipalities side by side (issue 16): a principal of one sees nothing of the other.

The world holds Groningen (GM0014) and a second municipality built from it: the same buurten,
wijken and addresses moved 40 km south, with their own codes (BU0106..., WK0106..., postcodes
94..), in the layouts the registers deliver, each with its own signals. Every output a
principal can ask for (items of every layer, tiles, area overviews and exports, /locate,
/selectie) is checked against the municipality of each row, read from the database as the
owner. A principal listing both municipalities sees both.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import pandas as pd
import pyproj
import pytest
from fastapi.testclient import TestClient
from shapely.affinity import translate
from sqlalchemy import Engine, create_engine, text
from starlette.applications import Starlette

from app.main import create_app
from app.services import services_of
from core import db
from core.domain import RunStatus
from core.security import create_principal_key
from core.settings import Settings
from core.zicht import MIN_ADRESSEN
from layers import REGISTRY
from tests import files
from tests.conftest import TEMPLATE, TestServer
from tests.files import ingest, load_bronnen

TMS = morecantile.tms.get("WebMercatorQuad")
#: The two municipalities, and how far south the second lies (metres, RD New).
GM, ELDERS, SHIFT = "GM0014", "GM0106", -40_000.0
N_ADRESSEN = 400
N_SIGNALEN = 60
#: Who asks: one principal per municipality, and one listing both.
WHO = {
    "groningen": [GM],
    "assen": [ELDERS],
    "beide": [GM, ELDERS],
}


def _moved_code(code: str) -> str:
    """BU00140101 -> BU01060101: the second municipality's own codes."""
    return code[:2] + ELDERS[2:] + code[6:]


def areas_gpkg(path: Path) -> Path:
    """The CBS Wijk- en Buurtkaart layout (three layers) with both municipalities."""
    here = files.buurten().to_crs(28992)
    there = here.assign(
        code=here["code"].map(_moved_code),
        wijkcode=here["wijkcode"].map(_moved_code),
        naam=here["naam"] + " (Z)",
        geometry=here.geometry.map(lambda g: translate(g, yoff=SHIFT)),
    )
    both = pd.concat([here.assign(gemeentecode=GM), there.assign(gemeentecode=ELDERS)], ignore_index=True)
    frame = gpd.GeoDataFrame(both, geometry="geometry", crs=28992)
    gemeenten = frame.dissolve(by="gemeentecode", as_index=False).assign(
        gemeentenaam=lambda f: f["gemeentecode"].map({GM: "Groningen", ELDERS: "Assen"})
    )
    gemeenten[["gemeentecode", "gemeentenaam", "geometry"]].to_file(path, layer="gemeenten", driver="GPKG")
    wijken = frame.dissolve(by="wijkcode", as_index=False)
    wijken.assign(wijknaam=wijken["wijkcode"].str.replace("WK", "Wijk "))[
        ["wijkcode", "wijknaam", "gemeentecode", "geometry"]
    ].to_file(path, layer="wijken", driver="GPKG")
    frame.rename(columns={"code": "buurtcode", "naam": "buurtnaam", "inwoners": "aantal_inwoners"}).assign(
        omgevingsadressendichtheid=frame["adressendichtheid"]
    )[
        ["buurtcode", "buurtnaam", "wijkcode", "gemeentecode", "aantal_inwoners", "omgevingsadressendichtheid",
         "geometry"]
    ].to_file(path, layer="buurten", driver="GPKG")  # fmt: skip
    return path


def _address_rows(gemeente: str) -> pd.DataFrame:
    rows = files.addresses(N_ADRESSEN).copy()
    if gemeente == ELDERS:
        rows["postal_code"] = "94" + rows["postal_code"].str[2:]
        rows["city"] = "Assen"
    return rows


def addresses_csv(path: Path, gemeente: str) -> Path:
    """A municipal address export (semicolons, RD coordinates) of one municipality."""
    to_rd = pyproj.Transformer.from_crs(4326, 28992, always_xy=True)
    lines = ["straat;huisnummer;postcode;woonplaats;x;y"]
    for _, r in _address_rows(gemeente).iterrows():
        x, y = to_rd.transform(float(r["lon"]), float(r["lat"]))
        if gemeente == ELDERS:
            y += SHIFT
        number = r["number"] + (r["letter"] or "") + (f"-{r['suffix']}" if r["suffix"] else "")
        lines.append(f"{r['street']};{number};{r['postal_code']};{r['city']};{x:.2f};{y:.2f}")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return path


def signals_file(path: Path, gemeente: str) -> Path:
    """A RIEC delivery: signals at addresses of one municipality."""
    source = _address_rows(gemeente)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"{gemeente}-{i}",
            "Thema": "drugs" if i % 3 else "vastgoed",
            "Soort": "melding",
            "Datum melding": dt.datetime(2024, 1 + i % 12, 1 + i % 27),
            "Postcode": source.loc[i * 5, "postal_code"],
            "Huisnummer": int(str(source.loc[i * 5, "number"])),
            "Huisletter": source.loc[i * 5, "letter"] or None,
            "Toevoeging": source.loc[i * 5, "suffix"] or None,
        }
        for i in range(N_SIGNALEN)
    ]
    return files.signals_xlsx(path, rows)


@dataclass
class World:
    client: TestClient
    owner: Engine
    keys: dict[str, str]
    tmp: Path


@pytest.fixture(scope="module")
def world(
    pg_server: TestServer, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    name = f"okaart_regio_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    tmp = tmp_path_factory.mktemp("regio")
    owner = create_engine(url)
    report = ingest(owner, "gebieden", areas_gpkg(tmp / "wijkbuurtkaart_2024.gpkg"))
    assert report.status is RunStatus.GESLAAGD, report.melding
    for gemeente in (GM, ELDERS):
        report = ingest(owner, "adressen", addresses_csv(tmp / f"adressen_{gemeente}.csv", gemeente))
        assert report.status is RunStatus.GESLAAGD, report.melding
    load_bronnen(owner, tmp)
    for gemeente in (GM, ELDERS):
        report = ingest(owner, "signalen", signals_file(tmp / f"riec_{gemeente}.xlsx", gemeente), bron="riec")
        assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, N_SIGNALEN), report.melding
    keys = {}
    with owner.begin() as c:
        for who, gemeenten in WHO.items():
            keys[who], _ = create_principal_key(
                c, naam=f"analist-{who}", rol="analist", organisatie="Test", convenanten=["riec"],
                gemeenten=gemeenten, doelen=["analyse"],
            )  # fmt: skip
            keys[f"planner-{who}"], _ = create_principal_key(
                c, naam=f"planner-{who}", rol="planner", organisatie="Test", convenanten=[],
                gemeenten=gemeenten, doelen=["planvorming"],
            )  # fmt: skip
    api = db.make_engine(url, role="okaart_api")
    app = create_app(Settings(database_url=url, environment="test", rate_limit_per_minute=0), engine=api)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, owner, keys, tmp)
    api.dispose()
    owner.dispose()
    pg_server.drop_database(name)


def headers(world: World, who: str) -> dict[str, str]:
    doel = "planvorming" if who.startswith("planner") else "analyse"
    return {"Authorization": f"Bearer {world.keys[who]}", "X-Doel": doel}


def gemeenten_of(who: str) -> set[str]:
    return set(WHO[who.removeprefix("planner-")])


def owner_rows(world: World, sql: str, **params: Any) -> list[Any]:
    with world.owner.connect() as c:
        return list(c.execute(text(sql), params).all())


def area_gemeente(world: World) -> dict[str, str]:
    """Every area code and its municipality (a municipality's own code is its own)."""
    rows = owner_rows(world, "SELECT code, coalesce(gemeentecode, code) FROM gebied")
    return {code: gm for code, gm in rows}


def all_items(world: World, who: str, layer: str) -> list[dict[str, Any]]:
    """Every feature of a layer the principal gets, following the next links."""
    url: str | None = f"/collections/{layer}/items?limit=1000"
    features: list[dict[str, Any]] = []
    while url:
        response = world.client.get(url, headers=headers(world, who))
        assert response.status_code == 200, (who, layer, response.text)
        body = response.json()
        features += body["features"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features


def feature_gemeente(world: World, layer: str, feature: dict[str, Any], codes: dict[str, str]) -> str:
    props = feature["properties"]
    if props.get("gemeentecode"):
        return str(props["gemeentecode"])
    if props.get("code") in codes:
        return codes[props["code"]]
    source = REGISTRY[layer].source
    (gm,) = owner_rows(
        world, f"SELECT gemeentecode FROM {source} WHERE id::text = :i LIMIT 1", i=str(feature["id"])
    )[0]
    return str(gm)


@pytest.mark.parametrize("who", ["groningen", "assen", "beide", "planner-groningen", "planner-beide"])
def test_items_of_every_layer_stay_within_the_principals_municipalities(world: World, who: str) -> None:
    codes = area_gemeente(world)
    seen: set[str] = set()
    for layer in sorted(REGISTRY):
        response = world.client.get(f"/collections/{layer}/items?limit=1", headers=headers(world, who))
        if response.status_code == 404:
            assert who.startswith("planner") and REGISTRY[layer].clearance != "aggregaat"
            continue
        for feature in all_items(world, who, layer):
            gm = feature_gemeente(world, layer, feature, codes)
            assert gm in gemeenten_of(who), (who, layer, feature["properties"])
            seen.add(gm)
    assert seen == gemeenten_of(who)  # each of its municipalities has data, and only those


def _tile_of(world: World, gemeente: str, zoom: int) -> tuple[int, int, int]:
    (lon, lat) = owner_rows(
        world,
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, 4326) AS p FROM signaal"
        " WHERE gemeentecode = :g ORDER BY id LIMIT 1) s",
        g=gemeente,
    )[0]
    tile = TMS.tile(float(lon), float(lat), zoom)
    return zoom, tile.x, tile.y


@pytest.mark.parametrize("layer", ["signalen", "verblijfsobjecten", "buurten", "wijken", "gebieden"])
def test_a_tile_of_the_other_municipality_is_empty(world: World, layer: str) -> None:
    zoom = max(REGISTRY[layer].minzoom, 14)
    for gemeente in (GM, ELDERS):
        z, x, y = _tile_of(world, gemeente, zoom)
        url = f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"
        counts = {}
        for who in WHO:
            response = world.client.get(url, headers=headers(world, who))
            assert response.status_code in (200, 204), (who, response.text)
            decoded = mapbox_vector_tile.decode(response.content) if response.content else {}
            counts[who] = sum(len(part["features"]) for part in decoded.values())
        other = "assen" if gemeente == GM else "groningen"
        own = "groningen" if gemeente == GM else "assen"
        assert counts[other] == 0, (layer, gemeente, counts)
        assert counts[own] > 0 and counts["beide"] > 0, (layer, gemeente, counts)


@pytest.mark.parametrize("who", ["groningen", "assen", "planner-groningen", "beide"])
def test_overviews_and_exports_hold_only_own_areas(world: World, who: str) -> None:
    codes = area_gemeente(world)
    for soort in ("buurt", "wijk", "buitengebied"):
        body = world.client.get("/gebieden", params={"soort": soort}, headers=headers(world, who))
        assert body.status_code == 200, body.text
        listed = {codes[str(r["code"])] for r in body.json()["gebieden"]}
        assert listed == gemeenten_of(who), (who, soort, listed)
        exported = world.client.get(
            "/gebieden", params={"soort": soort, "f": "csv"}, headers=headers(world, who)
        )
        assert exported.status_code == 200, exported.text
        table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
        if table and "code" not in table[0]:
            table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert {codes[r["code"]] for r in table} == gemeenten_of(who), (who, soort)
        for fmt in ("xlsx", "gpkg"):
            download = world.client.get(
                "/gebieden", params={"soort": soort, "f": fmt}, headers=headers(world, who)
            )
            assert download.status_code == 200, download.text
            assert {codes[c] for c in _export_codes(download.content, fmt, world.tmp)} == gemeenten_of(who)
    for gemeente in (GM, ELDERS):
        buurt = owner_rows(
            world, "SELECT min(code) FROM gebied WHERE soort = 'buurt' AND gemeentecode = :g", g=gemeente
        )[0][0]
        for fmt in ("json", "csv", "html", "pdf", "xlsx"):
            response = world.client.get(f"/gebieden/{buurt}", params={"f": fmt}, headers=headers(world, who))
            assert response.status_code == (200 if gemeente in gemeenten_of(who) else 404), (who, buurt, fmt)


def _export_codes(body: bytes, fmt: str, tmp: Path) -> set[str]:
    """The area codes in an Excel or GeoPackage export."""
    if fmt == "gpkg":
        path = tmp / f"export-{uuid.uuid4().hex[:6]}.gpkg"
        path.write_bytes(body)
        return {str(c) for c in gpd.read_file(path)["code"]}
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    column = list(rows[0]).index("code")
    return {str(r[column]) for r in rows[1:] if r[column] is not None}


def test_locate_finds_no_area_of_the_other_municipality(world: World) -> None:
    for gemeente in (GM, ELDERS):
        (x, y) = owner_rows(
            world,
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM gebied"
            " WHERE soort = 'buurt' AND gemeentecode = :g ORDER BY code LIMIT 1) s",
            g=gemeente,
        )[0]
        for who in WHO:
            response = world.client.get("/locate", params={"x": x, "y": y}, headers=headers(world, who))
            assert response.status_code == 200, response.text
            found = response.json()["gebieden"]
            if gemeente in WHO[who]:
                assert any(a["soort"] == "buurt" for a in found), (who, gemeente)
            else:
                assert found == [], (who, gemeente, found)


def test_selectie_counts_nothing_of_the_other_municipality(world: World) -> None:
    for gemeente in (GM, ELDERS):
        (hull,) = owner_rows(
            world,
            "SELECT ST_AsGeoJSON(ST_Transform(ST_Buffer(ST_ConvexHull(ST_Collect(geom)), 100), 4326), 6)::json FROM signaal"
            " WHERE gemeentecode = :g",
            g=gemeente,
        )[0]
        hull = {"type": "Polygon", "coordinates": hull["coordinates"]}
        for who in WHO:
            response = world.client.post("/selectie", json=hull, headers=headers(world, who))
            assert response.status_code == 200, response.text
            body = response.json()
            if gemeente in WHO[who]:
                assert body["signalen"] == N_SIGNALEN and body["adressen"] > 0, (who, gemeente, body)
            else:
                # Nothing of the other municipality: no buurt named, no count (the polygon holds
                # none of the caller's addresses, so the answer falls back to buurt sums: none).
                assert body["buurten"] == [], (who, gemeente, body)
                assert body["signalen"] in (0, None) and body["adressen"] in (0, None), (who, gemeente, body)


def test_an_object_of_the_other_municipality_looks_missing(world: World) -> None:
    for layer in ("signalen", "verblijfsobjecten"):
        source = REGISTRY[layer].source
        for gemeente in (GM, ELDERS):
            (feature_id,) = owner_rows(
                world, f"SELECT min(id) FROM {source} WHERE gemeentecode = :g", g=gemeente
            )[0]
            for who in WHO:
                response = world.client.get(
                    f"/collections/{layer}/items/{feature_id}", headers=headers(world, who)
                )
                assert response.status_code == (200 if gemeente in WHO[who] else 404), (layer, gemeente, who)


def figures(world: World, who: str, soort: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    response = world.client.get("/gebieden", params={"soort": soort}, headers=headers(world, who))
    assert response.status_code == 200, response.text
    return {(r["code"], r["periode"], r["thema"]): r for r in response.json()["gebieden"]}


@pytest.mark.parametrize("soort", ["buurt", "wijk"])
def test_a_principal_of_both_gets_each_areas_deviation_against_its_own_municipality(
    world: World, soort: str
) -> None:
    """Listing several municipalities joins their areas, it does not pool them: each area's
    expected count, z and ``afwijkend`` are against the rest of its own municipality, the same
    figures a principal of that municipality alone gets."""
    both = figures(world, "beide", soort)
    single = {**figures(world, "groningen", soort), **figures(world, "assen", soort)}
    assert set(both) == set(single)
    assert any(r["z"] is not None for r in both.values())  # some deviation to compare
    for key, row in single.items():
        for name in ("signalen", "adressen", "verwacht", "z", "afwijkend"):
            assert both[key][name] == row[name], (key, name, both[key][name], row[name])


def test_a_key_for_a_named_region_sees_every_municipality_of_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``okaart keys create --regio``: the region's municipalities become the principal's."""
    from typer.testing import CliRunner

    from cli.keys import keys_cli
    from core.settings import get_settings

    regio_file = world.tmp / "regio.toml"
    regio_file.write_text(f'[regio.proef]\nnaam = "Proefregio"\ngemeenten = ["{ELDERS}", "{GM}"]\n')
    monkeypatch.setenv("DATABASE_URL", world.owner.url.render_as_string(hide_password=False))
    monkeypatch.setenv("OKAART_REGIO", str(regio_file))
    get_settings.cache_clear()
    try:
        base = [
            "create",
            "--rol",
            "analist",
            "--organisatie",
            "RIEC",
            "--doel",
            "analyse",
            "--convenant",
            "riec",
        ]
        result = CliRunner().invoke(keys_cli, [*base, "--naam", "regio-analist", "--regio", "proef"])
        assert result.exit_code == 0, result.output
        unknown = CliRunner().invoke(keys_cli, [*base, "--naam", "regio-fout", "--regio", "elders"])
        assert unknown.exit_code == 1 and "onbekende regio 'elders'" in unknown.output
    finally:
        get_settings.cache_clear()
    world.keys["regio"] = result.output.strip().splitlines()[-1]
    WHO["regio"] = [GM, ELDERS]
    try:
        codes = area_gemeente(world)
        seen = {feature_gemeente(world, "signalen", f, codes) for f in all_items(world, "regio", "signalen")}
        assert seen == {GM, ELDERS}
        assert figures(world, "regio", "buurt") == figures(world, "beide", "buurt")
    finally:
        del WHO["regio"]
    assert owner_rows(world, "SELECT count(*) FROM principal WHERE naam = 'regio-fout'")[0][0] == 0


def _versions(world: World, gemeente: str) -> dict[tuple[int, str], str]:
    """The row version (xmin) of every figure of one municipality's areas, of every class of
    one municipality; in a class of several, the row's figures other than those against the
    region (which move with any municipality of the region, by design)."""
    rows = owner_rows(
        world,
        "SELECT i.zicht_id, i.id, CASE WHEN cardinality(z.gemeenten) = 1 THEN i.xmin::text"
        " ELSE md5((to_jsonb(i) - CAST(:regio AS text[]))::text) END"
        " FROM indicator_zicht i JOIN zicht z ON z.id = i.zicht_id"
        " WHERE coalesce(i.gemeentecode, i.code) = :g",
        g=gemeente,
        regio=list(REGIO_FIGURES),
    )
    return {(int(z), str(i)): str(x) for z, i, x in rows}


def _computed(world: World) -> dict[int, Any]:
    return {int(i): t for i, t in owner_rows(world, "SELECT id, berekend_op FROM zicht")}


def _class_of(world: World, gemeenten: list[str], planner: bool) -> int:
    (zicht_id,) = owner_rows(
        world,
        "SELECT id FROM zicht WHERE gemeenten = CAST(:g AS text[]) AND onderdrukt = :o",
        g=sorted(gemeenten),
        o=planner,
    )[0]
    return int(zicht_id)


# --- The deviation against the region (z_regio): by hand, isolation, published figures only ---

#: The indicator figures compared against the region (migration 0024).
REGIO_FIGURES = ("verwacht_regio", "z_regio", "afwijkend_regio")


def _r2(value: float | None) -> float | None:
    """Rounded to two decimals, half away from zero (as PostgreSQL's numeric round)."""
    if value is None:
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _round5(value: int) -> int:
    return int(Decimal(value / 5).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 5


def _close(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, bool):
        return got is want
    return abs(float(got) - float(want)) <= 0.011


def _deviation(s: int, n: int, region_s: int, region_n: int) -> dict[str, Any]:
    """An area's figures against the rest of the region, as docs/architecture.md §4 defines
    them against the rest of the municipality: expected = the rest's rate x the area's addresses,
    z = (observed - expected) / sqrt(expected), deviating at z >= 3 with at least 10 signals."""
    if n < MIN_ADRESSEN or region_n <= n:
        return dict.fromkeys(REGIO_FIGURES)
    verwacht = max(region_s - s, 0) / (region_n - n) * n
    z = (s - verwacht) / math.sqrt(verwacht) if verwacht else None
    return {
        "verwacht_regio": _r2(verwacht),
        "z_regio": _r2(z),
        "afwijkend_regio": None if z is None else bool(z >= 3 and s >= 10),
    }


def _periods(datum: dt.date) -> list[str]:
    return [str(datum.year), f"{datum.year}-K{(datum.month - 1) // 3 + 1}"]


@pytest.mark.parametrize("soort", ["buurt", "wijk"])
def test_a_regional_principals_z_regio_is_the_deviation_against_both_municipalities(
    world: World, soort: str
) -> None:
    """Recomputed here from the rows themselves (signals and addresses, read as the owner), not
    from any figure of the service: the rest of the region is both municipalities minus the
    area, for every area, year, quarter and theme."""
    column = f"{soort}code"
    signals = owner_rows(world, f"SELECT {column}, gemeentecode, thema, datum FROM signaal")
    addresses = owner_rows(world, f"SELECT {column}, count(*) FROM verblijfsobject GROUP BY 1")
    n_of = {str(code): int(n) for code, n in addresses if code is not None}
    region_n = sum(n for code, n in owner_rows(world, "SELECT gemeentecode, count(*) FROM verblijfsobject GROUP BY 1")
                   if code in (GM, ELDERS))  # fmt: skip
    per_area: Counter[tuple[str, str, str]] = Counter()
    per_region: Counter[tuple[str, str]] = Counter()
    for code, gemeente, thema, datum in signals:
        assert gemeente in (GM, ELDERS)
        for periode in _periods(datum):
            for t in ("alle", thema):
                per_region[(periode, t)] += 1
                if code is not None:
                    per_area[(str(code), periode, t)] += 1
    rows = figures(world, "beide", soort)
    checked = differs = 0
    for (code, periode, thema), row in rows.items():
        if row["periode_soort"] not in ("jaar", "kwartaal"):
            continue
        s = per_area[(code, periode, thema)]
        assert row["signalen"] == s, (code, periode, thema)
        assert row["adressen"] == n_of.get(code, 0), code
        want = _deviation(s, row["adressen"], per_region[(periode, thema)], region_n)
        for name, value in want.items():
            assert _close(row[name], value), (code, periode, thema, name, row[name], value)
        checked += want["z_regio"] is not None
        differs += want["z_regio"] is not None and row["z"] is not None and row["z"] != row["z_regio"]
    assert checked > 0 and differs > 0  # figures were compared, and they are not the municipal ones


def test_the_area_overview_names_the_regional_deviation_for_a_regional_caller_only(world: World) -> None:
    rows = figures(world, "beide", "wijk")
    (code, periode, _) = next(
        key
        for key, r in rows.items()
        if key[2] == "alle" and r["periode_soort"] == "jaar" and r["z_regio"] is not None
    )
    sentence = "Ten opzichte van de rest van de regio"
    page = world.client.get(
        f"/gebieden/{code}", params={"periode": periode, "f": "html"}, headers=headers(world, "beide")
    )
    assert page.status_code == 200 and sentence in page.text
    gemeente = area_gemeente(world)[code]
    single = "groningen" if gemeente == GM else "assen"
    page = world.client.get(
        f"/gebieden/{code}", params={"periode": periode, "f": "html"}, headers=headers(world, single)
    )
    assert page.status_code == 200 and sentence not in page.text


def _regional_figures(world: World, who: str, soort: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        key: {name: row[name] for name in ("z", "verwacht", "afwijkend", "signalen", *REGIO_FIGURES)}
        for key, row in figures(world, who, soort).items()
    }


def _items_regional(world: World, who: str) -> dict[str, dict[str, Any]]:
    return {
        str(f["id"]): {name: f["properties"][name] for name in ("z", *REGIO_FIGURES)}
        for f in all_items(world, who, "buurten")
    }


def test_a_principal_of_one_municipality_gets_no_regional_figure_from_the_other(world: World) -> None:
    """A class of one municipality has no region (docs/decisions.md "Deviation against the
    region"): its regional figures are empty, in the overviews and the items alike, and none of
    its figures moves when signals are added to the other municipality; the same delivery does
    move the regional figures of the principal who sees both."""
    singles = ("assen", "planner-assen")
    before = {who: _regional_figures(world, who, "buurt") for who in singles}
    items_before = _items_regional(world, "assen")
    both_before = _regional_figures(world, "beide", "buurt")
    for who in singles:
        assert all(row[name] is None for row in before[who].values() for name in REGIO_FIGURES), who
    source = _address_rows(GM)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"REGIO-{i}",
            "Thema": "drugs",
            "Soort": "melding",
            "Datum melding": dt.datetime(2024, 5, 1 + i % 28),
            "Postcode": source.loc[i * 3 + 2, "postal_code"],
            "Huisnummer": int(str(source.loc[i * 3 + 2, "number"])),
            "Huisletter": source.loc[i * 3 + 2, "letter"] or None,
            "Toevoeging": source.loc[i * 3 + 2, "suffix"] or None,
        }
        for i in range(40)
    ]
    report = ingest(world.owner, "signalen", files.signals_xlsx(world.tmp / "regio.xlsx", rows), bron="riec")
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 40), report.melding
    for who in singles:
        assert _regional_figures(world, who, "buurt") == before[who], who
    assert _items_regional(world, "assen") == items_before
    both_after = _regional_figures(world, "beide", "buurt")
    codes = area_gemeente(world)
    elders = [key for key in both_before if codes[key[0]] == ELDERS]
    # Assen's buurten against the rest of the municipality: unchanged; against the region: moved.
    assert all(both_after[key]["z"] == both_before[key]["z"] for key in elders)
    assert any(both_after[key]["z_regio"] != both_before[key]["z_regio"] for key in elders)


def _published_region(world: World, zicht_id: int) -> dict[tuple[str, str], tuple[int, int] | None]:
    """The region's totals per period and theme as a planner can add them up: the class's
    municipality rows, each rounded to 5; unknown when any of them is withheld."""
    rows = owner_rows(
        world,
        "SELECT periode, thema, signalen, adressen, signalen_onderdrukt, adressen_onderdrukt"
        " FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'gemeente'",
        z=zicht_id,
    )
    grouped: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        grouped.setdefault((r.periode, r.thema), []).append(r)
    out: dict[tuple[str, str], tuple[int, int] | None] = {}
    for key, cells in grouped.items():
        published = len(cells) == 2 and all(
            c.signalen_onderdrukt is False and c.adressen_onderdrukt is False for c in cells
        )
        out[key] = (
            (sum(_round5(c.signalen) for c in cells), sum(_round5(c.adressen) for c in cells))
            if published
            else None
        )
    return out


def _expire_versions(world: World) -> None:
    """Flags were changed behind the service's back: no data version moved, so drop its own."""
    app = world.client.app
    assert isinstance(app, Starlette)
    services_of(app).versions.expire()


def test_a_planners_regional_figures_come_from_published_figures_only(world: World) -> None:
    """Every regional figure a planner gets is computed from what a planner is shown: the
    area's published counts and the region's published municipality totals. So it can hold no
    withheld count (core/disclosure.py decided which); where a count is withheld, so is the
    figure; and where a municipality's total is withheld the region's figures are unknown."""
    who = "planner-vertrouwelijk"
    if who not in world.keys:
        # The fixture's planners see no signal (their data class is below the partners'):
        # this one sees them all, in both municipalities, aggregated and suppressed.
        with world.owner.begin() as c:
            world.keys[who], _ = create_principal_key(
                c, naam=who, rol="planner", organisatie="Test", convenanten=[], gemeenten=[GM, ELDERS],
                doelen=["planvorming"], dataklasse="vertrouwelijk",
            )  # fmt: skip
    (zicht_id,) = owner_rows(
        world,
        "SELECT id FROM zicht WHERE gemeenten = CAST(:g AS text[]) AND onderdrukt"
        " AND 'vertrouwelijk' = ANY(dataklassen)",
        g=sorted([GM, ELDERS]),
    )[0]
    region = _published_region(world, zicht_id)
    shown = 0
    for soort in ("buurt", "wijk"):
        rows = figures(world, who, soort)
        for (code, periode, thema), row in rows.items():
            totals = region.get((periode, thema))
            s, n = row["signalen"], row["adressen"]
            if s is None or n is None or totals is None or row["te_weinig_adressen"]:
                want: dict[str, Any] = dict.fromkeys(REGIO_FIGURES)
            else:
                want = _deviation(s, n, *totals)
                # From the published counts the planner sees: its own counts rounded to 5.
                assert s % 5 == 0 and n % 5 == 0
            for name, value in want.items():
                assert _close(row[name], value), (code, periode, thema, name, row[name], value)
            shown += row["z_regio"] is not None
    assert shown > 0  # some regional figures are published (of wijken: buurten are too small)

    # A withheld municipality total: the region's figures of that period and theme go unknown.
    (periode, thema) = ("2024", "alle")
    assert region[(periode, thema)] is not None
    assert any(r["z_regio"] is not None for (_, p, t), r in rows.items() if (p, t) == (periode, thema))
    with world.owner.begin() as c:
        c.execute(
            text(
                "UPDATE indicator_zicht SET signalen_onderdrukt = true WHERE zicht_id = :z"
                " AND gebied_soort = 'gemeente' AND code = :g AND periode = :p AND thema = :t"
            ),
            {"z": zicht_id, "g": ELDERS, "p": periode, "t": thema},
        )
    try:
        _expire_versions(world)
        withheld = figures(world, who, "wijk")
        for (_, p, t), r in withheld.items():
            if (p, t) == (periode, thema):
                assert all(r[name] is None for name in REGIO_FIGURES), r
    finally:
        with world.owner.begin() as c:
            c.execute(
                text(
                    "UPDATE indicator_zicht SET signalen_onderdrukt = false WHERE zicht_id = :z"
                    " AND gebied_soort = 'gemeente' AND code = :g AND periode = :p AND thema = :t"
                ),
                {"z": zicht_id, "g": ELDERS, "p": periode, "t": thema},
            )
        _expire_versions(world)


def test_an_ingest_into_one_municipality_leaves_the_others_figures_untouched(world: World) -> None:
    """Runs last: it adds signals to Groningen. The refresh at the end of the ingest rewrites
    no figure of the other municipality (row versions unchanged, in every class of one
    municipality, the suppressed ones too; in the classes of both only the deviation against
    the region moves), and does not recompute the class that sees only the other municipality
    at all."""
    before_elders, before_gm = _versions(world, ELDERS), _versions(world, GM)
    computed = _computed(world)
    assert before_elders and before_gm
    rows: list[dict[str, object]] = []
    source = _address_rows(GM)
    for i in range(25):
        rows.append(
            {
                "Kenmerk": f"EXTRA-{i}",
                "Thema": "drugs",
                "Soort": "melding",
                "Datum melding": dt.datetime(2024, 3, 1 + i),
                "Postcode": source.loc[i * 7 + 1, "postal_code"],
                "Huisnummer": int(str(source.loc[i * 7 + 1, "number"])),
                "Huisletter": source.loc[i * 7 + 1, "letter"] or None,
                "Toevoeging": source.loc[i * 7 + 1, "suffix"] or None,
            }
        )
    report = ingest(world.owner, "signalen", files.signals_xlsx(world.tmp / "extra.xlsx", rows), bron="riec")
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 25), report.melding
    after_elders, after_gm = _versions(world, ELDERS), _versions(world, GM)
    assert after_elders == before_elders  # not one figure of the other municipality rewritten
    assert after_gm != before_gm  # Groningen's figures did change
    now = _computed(world)
    elders_only = _class_of(world, [ELDERS], planner=False)
    assert now[elders_only] == computed[elders_only]  # its class was not recomputed
    assert now[_class_of(world, [GM], planner=False)] != computed[_class_of(world, [GM], planner=False)]

    # New addresses in Groningen: every class is recomputed (the address count is not in the
    # fingerprint per municipality), yet no figure of the other municipality is rewritten.
    extra = files.addresses(30, skip=N_ADRESSEN)
    lines = ["straat;huisnummer;postcode;woonplaats;x;y"]
    to_rd = pyproj.Transformer.from_crs(4326, 28992, always_xy=True)
    for _, r in extra.iterrows():
        x, y = to_rd.transform(float(r["lon"]), float(r["lat"]))
        number = r["number"] + (r["letter"] or "") + (f"-{r['suffix']}" if r["suffix"] else "")
        lines.append(f"{r['street']};{number};{r['postal_code']};{r['city']};{x:.2f};{y:.2f}")
    path = world.tmp / "adressen_extra.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    report = ingest(world.owner, "adressen", path)
    assert report.status is RunStatus.GESLAAGD and report.ingevoegd == 30, report.melding
    assert _versions(world, ELDERS) == before_elders
    assert _versions(world, GM) != after_gm


def test_the_map_offers_only_the_municipalities_the_caller_may_see(world: World) -> None:
    """The selector appears for a principal of several municipalities, lists only those,
    and moves the map to the one chosen; a principal of one gets no selector."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM_ARGS, chromium_path, serving
    from tests.test_browser import READY, _sign_in_with_key

    one = world.client.get("/kaart", params={"periode": "2024"}, headers=headers(world, "groningen"))
    assert one.status_code == 200 and 'id="gemeente"' not in one.text and ELDERS not in one.text
    url = world.owner.url.render_as_string(hide_password=False)
    api = db.make_engine(url, role="okaart_api")
    app = create_app(
        Settings(database_url=url, environment="test", basemap_url="", rate_limit_per_minute=0), engine=api
    )
    try:
        with serving(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="nl-NL")
            _sign_in_with_key(page, base, world.keys["beide"], "/kaart?periode=2024")
            page.wait_for_function(READY, timeout=30_000)
            options = page.eval_on_selector_all("#gemeente option", "os => os.map((o) => o.value)")
            assert options == ["", ELDERS, GM]  # all (the region), then by name: Assen, Groningen
            south = {}
            for code in (ELDERS, GM, ""):
                page.select_option("#gemeente", code)
                south[code] = page.evaluate("() => okaart.kaart.getBounds().getSouth()")
                centre = page.evaluate("() => okaart.kaart.getCenter().lat")
                (y0, y1) = owner_rows(
                    world,
                    "SELECT ST_YMin(e), ST_YMax(e) FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e"
                    " FROM gebied WHERE soort = 'gemeente' AND (code = :g OR :g = '')) s",
                    g=code,
                )[0]
                assert y0 <= centre <= y1, (code, centre, y0, y1)
            assert south[""] <= south[ELDERS] < south[GM]  # the regional view holds both
            browser.close()
    finally:
        api.dispose()
