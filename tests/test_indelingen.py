"""Area divisions side by side, editions from --jaar or the file name, the area-file quirks,
and postcode areas and grid squares with their own indicator layers (issue #13).

Every file is generated here in the shape the real exports have: a municipality's own buurt
division, IBIS with its ``JAAR`` issue column (``v1900``) and parks in parts, a 2015 CBS
file with pre-merger codes and secrecy values, CBS PC4 areas and 500 m grid squares.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from core import db
from core.domain import RunStatus
from ingest.errors import IngestError
from tests import files
from tests.conftest import scalar
from tests.files import ingest, load_areas, load_bronnen

CBS_AREAS = "wijkbuurtkaart_2024.gpkg"


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    yield eng
    eng.dispose()


@pytest.fixture
def api(fresh_db: str, api_login: Callable[[str], str]) -> Iterator[Callable[[], TestClient]]:
    """``api()``: the service on this test's database, built after the test loaded its files
    (its key's figures are computed when the key is made)."""
    made: list[Any] = []

    def build() -> TestClient:
        from app.main import create_app
        from core.security import create_principal_key
        from core.settings import Settings

        owner = create_engine(fresh_db)
        with owner.begin() as c:
            key, _ = create_principal_key(
                c, naam="analist", rol="analist", organisatie="Gemeente Groningen",
                convenanten=["riec"], gemeenten=["GM0014"], doelen=["analyse"],
            )  # fmt: skip
        owner.dispose()
        engine = db.make_engine(api_login(fresh_db))
        app = create_app(Settings(database_url=fresh_db, environment="test"), engine=engine)
        client = TestClient(app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {key}"
        client.headers["X-Doel"] = "analyse"
        made.append(engine)
        return client

    yield build
    for engine in made:
        engine.dispose()


def checksum(engine: Engine, where: str = "true") -> str:
    return str(
        scalar(
            engine,
            f"SELECT md5(coalesce(string_agg(g::text, '|' ORDER BY g.id), '')) FROM gebied g WHERE {where}",
        )
    )


# -- files ---------------------------------------------------------------------------------------


def municipal_buurten(path: Path, n: int = 10) -> Path:
    """The municipality's own buurten: each the union of two CBS buurten, under the code of the
    first and the municipality's own name; the generic ``code``/``naam`` layout."""
    b = files.buurten(2 * n).to_crs(28992)
    shapes = [shapely.union(b.geometry[2 * i], b.geometry[2 * i + 1]) for i in range(n)]
    frame = gpd.GeoDataFrame(
        {"code": list(b["code"][::2]), "naam": [f"Gemeentelijke buurt {i}" for i in range(n)]},
        geometry=shapes,
        crs=28992,
    )
    frame.to_file(path, driver="GPKG")
    return path


def ibis_with_issue_year(path: Path, *, parts: bool = False, conflict: bool = False) -> Path:
    """IBIS as delivered: ``JAAR`` is the year of issue (``v1900``), not the boundary edition.
    ``parts``: the first park in two rows (same RIN, same name); ``conflict``: the second
    park's code also used by a park of another name."""
    parks = gpd.read_file(files.SOURCE / "bedrijventerreinen_proxy_cbs2017_groningen.geojson").to_crs(28992)
    frame = gpd.GeoDataFrame(
        {
            "RIN_NUMMER": "BT" + parks["BU_CODE"].str[2:],
            "PLAN_NAAM": parks["terrein_naam"],
            "JAAR": "v1900",
            "OPP_NETTO": parks["OPP_LAND"],
        },
        geometry=parks.geometry,
        crs=28992,
    )
    if parts:
        first = frame.iloc[[0]].copy()
        box = first.geometry.iloc[0].bounds
        middle = (box[0] + box[2]) / 2
        west = shapely.box(box[0] - 1, box[1] - 1, middle, box[3] + 1)
        whole = first.geometry.iloc[0]
        frame.loc[frame.index[0], "geometry"] = shapely.intersection(whole, west)
        first["geometry"] = [shapely.difference(whole, west)]
        frame = gpd.GeoDataFrame(
            [*frame.to_dict("records"), *first.to_dict("records")], geometry="geometry", crs=28992
        )
    if conflict:
        other = frame.iloc[[1]].copy()
        other["PLAN_NAAM"] = "Een ander terrein"
        other["geometry"] = [frame.geometry.iloc[2]]
        frame = gpd.GeoDataFrame(
            [*frame.to_dict("records"), *other.to_dict("records")], geometry="geometry", crs=28992
        )
    frame.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def cbs_2015_with_pre_merger_codes(path: Path) -> Path:
    """A 2015 Wijk- en Buurtkaart: Haren (GM0017) and Ten Boer (GM0009) under their own codes,
    as they were before they merged into Groningen; CBS secrecy values in the key figures."""
    b = files.buurten(4).to_crs(28992)
    frame = gpd.GeoDataFrame(
        {
            "BU_CODE": ["BU00170101", "BU00170102", "BU00090001", "BU00140000"],
            "BU_NAAM": ["Haren-Centrum", "Haren-Noord", "Ten Boer", "Binnenstad"],
            "GM_CODE": ["GM0017", "GM0017", "GM0009", "GM0014"],
            "AANT_INW": [4200, -99999999, -99997, 12000],
        },
        geometry=b.geometry.to_numpy(),
        crs=28992,
    )
    frame.to_file(path, driver="GPKG")
    return path


def pc4_areas(path: Path, n_addresses: int = 300) -> Path:
    """CBS PC4 areas as the hull (plus 30 m) of the sample addresses of each PC4."""
    sample = files.addresses(n_addresses)
    points = gpd.GeoDataFrame(
        sample,
        geometry=gpd.points_from_xy(sample["lon"].astype(float), sample["lat"].astype(float)),
        crs=4326,
    ).to_crs(28992)
    points["pc4"] = points["postal_code"].str[:4]
    hulls = points.dissolve(by="pc4", as_index=False)
    hulls["geometry"] = hulls.geometry.convex_hull.buffer(30)
    gpd.GeoDataFrame(
        {"PC4": hulls["pc4"].astype(int), "AANTAL_INWONERS": -99997}, geometry=hulls.geometry
    ).to_file(path, driver="GPKG")
    return path


def grid_500m(path: Path, n_addresses: int = 300) -> Path:
    """CBS 500 m grid squares (``crs28992res500m``, codes ``E2330N5820``) around the sample
    addresses; one code in the long form ``CRS28992RES500M...``."""
    sample = files.addresses(n_addresses)
    points = gpd.GeoSeries(
        gpd.points_from_xy(sample["lon"].astype(float), sample["lat"].astype(float)), crs=4326
    ).to_crs(28992)
    cells = sorted({(int(p.x // 500) * 500, int(p.y // 500) * 500) for p in points})
    codes = [f"E{x // 100:04d}N{y // 100:04d}" for x, y in cells]
    codes[0] = "CRS28992RES500M" + codes[0]
    squares = [shapely.box(x, y, x + 500, y + 500) for x, y in cells]
    gpd.GeoDataFrame({"crs28992res500m": codes, "aantal_inwoners": 5}, geometry=squares, crs=28992).to_file(
        path, driver="GPKG"
    )
    return path


def load_signals(engine: Engine, tmp_path: Path, n: int = 20) -> None:
    load_bronnen(engine, tmp_path)
    source = files.addresses(n)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"RIEC-{i}",
            "Thema": "drugs",
            "Soort": "melding",
            "Datum melding": dt.datetime(2025, 1, 1 + i),
            "Postcode": source.loc[i, "postal_code"],
            "Huisnummer": int(str(source.loc[i, "number"])),
            "Huisletter": source.loc[i, "letter"] or None,
            "Toevoeging": source.loc[i, "suffix"] or None,
        }
        for i in range(n)
    ]
    report = ingest(engine, "signalen", files.signals_xlsx(tmp_path / "riec.xlsx", rows), bron="riec")
    assert report.status is RunStatus.GESLAAGD, report.melding


# -- divisions side by side ----------------------------------------------------------------------


def test_a_municipal_division_coexists_with_the_cbs_buurten_of_its_year(
    engine: Engine, tmp_path: Path, api: Callable[[], TestClient]
) -> None:
    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=200))
    cbs = checksum(engine, "indeling = 'cbs'")
    assigned = scalar(engine, "SELECT md5(string_agg(buurtcode, ',' ORDER BY id)) FROM verblijfsobject")
    path = municipal_buurten(tmp_path / "buurten_gemeente_2024.gpkg")

    # Loaded as buurten without a division it would move the CBS boundaries: refused, one line.
    with pytest.raises(IngestError, match="--indeling") as refused:
        ingest(engine, "gebieden", path, soort="buurt")
    assert "\n" not in str(refused.value) and "--vervang" in str(refused.value)
    assert checksum(engine, "indeling = 'cbs'") == cbs

    report = ingest(engine, "gebieden", path, soort="buurt", indeling="gemeente")
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 10), report.melding
    assert "10 gebieden bestaan ook in indeling cbs" in (report.melding or "")
    assert checksum(engine, "indeling = 'cbs'") == cbs  # nothing of CBS's changed, names included
    counts: dict[Any, Any] = dict(
        engine.connect()
        .execute(text("SELECT indeling, count(*) FROM gebied WHERE soort = 'buurt' GROUP BY 1"))
        .all()
    )
    assert counts == {"cbs": 151, "gemeente": 10}
    # Points stay with the CBS buurten (the default division).
    after = scalar(engine, "SELECT md5(string_agg(buurtcode, ',' ORDER BY id)) FROM verblijfsobject")
    assert after == assigned
    # The same file again changes nothing.
    again = ingest(engine, "gebieden", path, soort="buurt", indeling="gemeente")
    assert (again.ingevoegd, again.bijgewerkt, again.ongewijzigd) == (0, 0, 10)

    client = api()
    own = client.get("/gebieden", params={"soort": "buurt", "indeling": "gemeente"}).json()
    assert own["indeling"] == "gemeente"
    assert {r["code"] for r in own["gebieden"]} == set(files.buurten(20)["code"][::2])
    assert {r["naam"] for r in own["gebieden"]} == {f"Gemeentelijke buurt {i}" for i in range(10)}
    assert {r["indeling"] for r in own["gebieden"]} == {"gemeente"}
    default = client.get("/gebieden", params={"soort": "buurt"}).json()
    assert default["indeling"] == "cbs" and len({r["code"] for r in default["gebieden"]}) == 151
    # The area layer and the indicator layer: CBS unless asked, each division on request.
    shapes = client.get("/collections/gebieden/items", params={"soort": "buurt", "limit": 1000}).json()
    assert shapes["numberMatched"] == 151
    assert {f["properties"]["indeling"] for f in shapes["features"]} == {"cbs"}
    theirs = client.get(
        "/collections/gebieden/items", params={"soort": "buurt", "indeling": "gemeente"}
    ).json()
    assert theirs["numberMatched"] == 10
    assert {f["properties"]["jaar"] for f in theirs["features"]} == {2024}
    figures = client.get(
        "/collections/buurten/items",
        params={"indeling": "gemeente", "thema": "alle", "periode_soort": "jaar"},
    ).json()
    assert figures["numberMatched"] == 10
    # Their figures come from their own polygons: the addresses in each (lowest code on a border).
    with engine.connect() as c:
        expected: dict[Any, Any] = dict(
            c.execute(
                text(
                    "SELECT code, count(*) FROM (SELECT (SELECT min(g.code) FROM gebied g WHERE g.soort = 'buurt'"
                    " AND g.indeling = 'gemeente' AND ST_Intersects(g.geom, v.geom)) AS code"
                    " FROM verblijfsobject v) x WHERE code IS NOT NULL GROUP BY code"
                )
            ).all()
        )
    assert sum(expected.values()) > 0
    assert {r["code"]: r["adressen"] for r in own["gebieden"] if r["adressen"]} == expected
    codes = list(files.buurten(2)["code"])
    overview = client.get(f"/gebieden/{codes[0]}", params={"indeling": "gemeente", "f": "json"}).json()
    assert (overview["naam"], overview["indeling"]) == ("Gemeentelijke buurt 0", "gemeente")
    assert client.get("/gebieden", params={"soort": "buurt", "indeling": "politie"}).status_code == 400
    html = client.get(f"/gebieden/{codes[0]}", params={"indeling": "gemeente", "f": "html"})
    assert html.status_code == 200 and "Gemeentelijke buurt 0" in html.text
    inside = scalar(
        engine, "SELECT ST_X(p) || ',' || ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM gebied"
        " WHERE indeling = 'gemeente' AND code = :c) x", c=codes[0],
    )  # fmt: skip
    x, y = (float(v) for v in str(inside).split(","))
    located = client.get("/locate", params={"x": x, "y": y, "indeling": "gemeente"}).json()["gebieden"]
    assert [(a["soort"], a["code"], a["indeling"]) for a in located] == [("buurt", codes[0], "gemeente")]
    default_located = client.get("/locate", params={"x": x, "y": y}).json()["gebieden"]
    assert {a["indeling"] for a in default_located} == {"cbs"} and len(default_located) >= 3
    # The map draws the division asked for, and offers the choice.
    page = client.get("/kaart", params={"indeling": "gemeente"})
    assert page.status_code == 200, page.text
    assert "indeling=gemeente" in page.text and '<select name="indeling">' in page.text
    assert "indeling=gemeente" not in client.get("/kaart").text


def test_replacing_the_boundaries_of_an_edition_needs_vervang(engine: Engine, tmp_path: Path) -> None:
    load_areas(engine, tmp_path)
    path = municipal_buurten(tmp_path / "buurten_2024.gpkg", n=3)
    report = ingest(engine, "gebieden", path, soort="buurt", vervang=True)
    assert (report.status, report.bijgewerkt) == (RunStatus.GESLAAGD, 3), report.melding
    assert "3 grenzen van indeling cbs 2024 vervangen" in (report.melding or "")


# -- editions ------------------------------------------------------------------------------------


def test_an_ibis_issue_year_is_not_the_edition(engine: Engine, tmp_path: Path) -> None:
    load_areas(engine, tmp_path)
    by_name = ingest(engine, "gebieden", ibis_with_issue_year(tmp_path / "ibis_2023.geojson"))
    assert (by_name.status, by_name.ingevoegd) == (RunStatus.GESLAAGD, 16), by_name.melding
    by_option = ingest(engine, "gebieden", ibis_with_issue_year(tmp_path / "ibis.geojson"), jaar=2025)
    assert by_option.status is RunStatus.GESLAAGD, by_option.melding
    with engine.connect() as c:
        editions: dict[Any, Any] = dict(
            c.execute(
                text("SELECT jaar, count(*) FROM gebied WHERE soort = 'bedrijventerrein' GROUP BY 1")
            ).all()
        )
        indeling = c.execute(
            text("SELECT DISTINCT indeling FROM gebied WHERE soort = 'bedrijventerrein'")
        ).all()
    assert editions == {2023: 16, 2024: 16, 2025: 16}
    assert indeling == [("ibis",)]


@pytest.mark.parametrize(
    ("name", "jaar", "message"),
    [
        ("ibis.geojson", None, "jaar van de gebiedsindeling onbekend"),
        ("ibis.geojson", 1989, "jaar 1989 (uit --jaar)"),
        ("ibis_1985.geojson", None, "jaar 1985 (uit de bestandsnaam)"),
        ("ibis.geojson", dt.date.today().year + 2, "geen gebiedsindeling tussen 1990"),
    ],
)
def test_a_missing_or_impossible_edition_is_one_line(
    engine: Engine, tmp_path: Path, name: str, jaar: int | None, message: str
) -> None:
    path = ibis_with_issue_year(tmp_path / name)
    with pytest.raises(IngestError, match=re.escape(message)) as refused:
        ingest(engine, "gebieden", path, jaar=jaar)
    assert "\n" not in str(refused.value)
    assert scalar(engine, "SELECT count(*) FROM gebied") == 0


# -- quirks of area files --------------------------------------------------------------------------


def test_a_park_in_parts_is_merged_and_a_conflict_quarantined(engine: Engine, tmp_path: Path) -> None:
    load_areas(engine, tmp_path)
    whole = scalar(engine, "SELECT sum(ST_Area(geom)) FROM gebied WHERE soort = 'bedrijventerrein'")
    path = ibis_with_issue_year(tmp_path / "ibis_2025.geojson", parts=True, conflict=True)
    report = ingest(engine, "gebieden", path, reject_share=0.2)
    assert report.status is RunStatus.GESLAAGD, report.melding
    assert (report.gelezen, report.afgekeurd) == (18, 2)
    assert "1 gebieden in delen geleverd (2 rijen)" in (report.melding or "")
    with engine.connect() as c:
        reasons = c.execute(
            text("SELECT reden, count(*) FROM ingest_reject WHERE ingest_run_id = :r GROUP BY 1"),
            {"r": report.run_id},
        ).all()
        stored = c.execute(
            text(
                "SELECT count(*), sum(ST_Area(geom)) FROM gebied WHERE soort = 'bedrijventerrein' AND jaar = 2025"
            )
        ).one()
    assert reasons == [("dubbele_sleutel", 2)]
    assert stored[0] == 15  # the 16 parks less the code two parks claim
    # The parted park is whole again: the 2025 areas are the 2024 ones less the conflicting park.
    parks = gpd.read_file(files.SOURCE / "bedrijventerreinen_proxy_cbs2017_groningen.geojson")
    conflicting = scalar(
        engine,
        "SELECT ST_Area(geom) FROM gebied WHERE soort = 'bedrijventerrein' AND jaar = 2024 AND code = :c",
        c="BT" + parks["BU_CODE"][1][2:],
    )
    assert stored[1] == pytest.approx(float(whole) - float(conflicting), rel=1e-6)
    again = ingest(engine, "gebieden", path, reject_share=0.2)
    assert (again.ingevoegd, again.bijgewerkt, again.ongewijzigd) == (0, 0, 15)


def test_pre_merger_codes_are_kept_with_a_note_and_secrecy_values_become_null(
    engine: Engine, tmp_path: Path
) -> None:
    report = ingest(engine, "gebieden", cbs_2015_with_pre_merger_codes(tmp_path / "buurt_2015.gpkg"))
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 4), report.melding
    melding = report.melding or ""
    assert "Haren (GM0017) is per 2019-01-01 opgegaan in Groningen (GM0014)" in melding
    assert "Ten Boer (GM0009)" in melding
    assert "2 CBS-kerncijfers geheim of onbekend" in melding
    with engine.connect() as c:
        rows = {
            r.code: r
            for r in c.execute(
                text("SELECT code, gemeentecode, jaar, kenmerken FROM gebied WHERE soort = 'buurt'")
            )
        }
    haren, haren_noord, ten_boer, stad = (
        rows[c] for c in ("BU00170101", "BU00170102", "BU00090001", "BU00140000")
    )
    assert (haren.gemeentecode, haren.jaar) == ("GM0017", 2015)
    assert haren.kenmerken["huidige_gemeentecode"] == "GM0014"
    assert "Groningen (GM0014)" in haren.kenmerken["herindeling"]
    assert ten_boer.gemeentecode == "GM0009" and ten_boer.kenmerken["huidige_gemeentecode"] == "GM0014"
    assert "herindeling" not in stad.kenmerken
    assert haren.kenmerken["AANT_INW"] == 4200
    assert haren_noord.kenmerken["AANT_INW"] is None and "AANT_INW" in haren_noord.kenmerken
    assert ten_boer.kenmerken["AANT_INW"] is None


# -- postcode areas and grid squares -------------------------------------------------------------


def test_pc4_and_500_m_squares_load_and_their_indicator_layers_answer(
    engine: Engine, tmp_path: Path, api: Callable[[], TestClient]
) -> None:
    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=300))
    load_signals(engine, tmp_path)
    pc4 = ingest(engine, "gebieden", pc4_areas(tmp_path / "pc4_2024.gpkg"), reject_share=0.2)
    assert pc4.status is RunStatus.GESLAAGD, pc4.melding
    grid = ingest(engine, "gebieden", grid_500m(tmp_path / "cbs_vierkant500m_2024.gpkg"), reject_share=0.2)
    assert grid.status is RunStatus.GESLAAGD, grid.melding
    with engine.connect() as c:
        stored: dict[Any, Any] = dict(
            c.execute(
                text(
                    "SELECT soort || '/' || indeling, count(*) FROM gebied WHERE soort IN ('pc4', 'vierkant500') GROUP BY 1"
                )
            ).all()
        )
        assert all(
            code.startswith("E") and len(code) == 10
            for code in c.execute(text("SELECT code FROM gebied WHERE soort = 'vierkant500'")).scalars()
        )
        # What a direct spatial join gives: per area, the addresses whose lowest-coded area it is.
        expected: dict[str, dict[str, int]] = {}
        for soort in ("pc4", "vierkant500"):
            expected[soort] = {
                code: int(n)
                for code, n in c.execute(
                    text(
                        "SELECT code, count(*) FROM (SELECT (SELECT min(g.code) FROM gebied g WHERE g.soort = :s"
                        " AND ST_Intersects(g.geom, v.geom)) AS code FROM verblijfsobject v) x"
                        " WHERE code IS NOT NULL GROUP BY code"
                    ),
                    {"s": soort},
                )
            }
        signals_in_grid = c.execute(
            text(
                "SELECT count(*) FROM signaal s WHERE EXISTS (SELECT 1 FROM gebied g"
                " WHERE g.soort = 'vierkant500' AND ST_Intersects(g.geom, s.geom))"
            )
        ).scalar_one()
    assert stored["pc4/postcode"] == pc4.ingevoegd > 0
    assert stored["vierkant500/cbs_vierkant"] == grid.ingevoegd > 0
    assert signals_in_grid > 0

    client = api()
    for layer, soort in (("postcode4", "pc4"), ("vierkanten500", "vierkant500")):
        answer = client.get(
            f"/collections/{layer}/items",
            params={"thema": "alle", "periode": "2025", "limit": 1000},
        )
        assert answer.status_code == 200, answer.text
        features = answer.json()["features"]
        adressen = {f["properties"]["code"]: f["properties"]["adressen"] for f in features}
        assert {k: v for k, v in adressen.items() if v} == expected[soort]
        assert {f["properties"]["indeling"] for f in features} == {
            "postcode" if soort == "pc4" else "cbs_vierkant"
        }
        assert {f["properties"]["gebied_jaar"] for f in features} == {2024}
        if soort == "vierkant500":
            assert sum(f["properties"]["signalen"] for f in features) == signals_in_grid
    tile = client.get("/collections/vierkanten500/tiles/WebMercatorQuad/12/2147/1338")
    assert tile.status_code in (200, 204)
    overview = client.get("/gebieden", params={"soort": "pc4", "periode": "2025"}).json()
    assert overview["indeling"] == "postcode" and overview["gebieden"]


def test_pc6_by_its_values_and_100_m_squares_by_the_old_column_name_load_as_areas(
    engine: Engine, tmp_path: Path
) -> None:
    load_areas(engine, tmp_path)
    sample = files.addresses(60)
    points = gpd.GeoDataFrame(
        sample,
        geometry=gpd.points_from_xy(sample["lon"].astype(float), sample["lat"].astype(float)),
        crs=4326,
    ).to_crs(28992)
    pc6 = points.dissolve(by="postal_code", as_index=False)
    pc6["geometry"] = pc6.geometry.convex_hull.buffer(5)
    pc6_file = tmp_path / "pc6_2023.gpkg"
    gpd.GeoDataFrame({"postcode": pc6["postal_code"].str.lower()}, geometry=pc6.geometry).to_file(pc6_file)
    report = ingest(engine, "gebieden", pc6_file, reject_share=0.2)
    assert report.status is RunStatus.GESLAAGD, report.melding
    cells = sorted({(int(p.x // 100) * 100, int(p.y // 100) * 100) for p in points.geometry})
    grid_file = tmp_path / "vierkanten.gpkg"
    gpd.GeoDataFrame(
        {"C28992R100": [f"E{x // 100:04d}N{y // 100:04d}" for x, y in cells]},
        geometry=[shapely.box(x, y, x + 100, y + 100) for x, y in cells],
        crs=28992,
    ).to_file(grid_file)
    grid = ingest(engine, "gebieden", grid_file, jaar=2022, reject_share=0.2)
    assert grid.status is RunStatus.GESLAAGD, grid.melding
    with engine.connect() as c:
        found: dict[Any, Any] = dict(
            c.execute(
                text(
                    "SELECT soort || '/' || indeling || '/' || jaar, count(*) FROM gebied"
                    " WHERE soort IN ('pc6', 'vierkant100') GROUP BY 1"
                )
            ).all()
        )
        codes = set(c.execute(text("SELECT code FROM gebied WHERE soort = 'pc6'")).scalars())
    assert found == {"pc6/postcode/2023": report.ingevoegd, "vierkant100/cbs_vierkant/2022": grid.ingevoegd}
    assert codes <= set(sample["postal_code"]) and codes  # written in capitals, as the registers do


# -- the command line ----------------------------------------------------------------------------


def test_the_command_line_takes_indeling_and_vervang(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``okaart ingest gebieden F --soort buurt --indeling gemeente --jaar 2024``, as documented;
    a refusal is one line and exit 1, nothing else printed."""
    from typer.testing import CliRunner

    from cli.main import cli
    from core.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", fresh_db)
    get_settings.cache_clear()
    try:
        load_areas(engine, tmp_path)
        path = municipal_buurten(tmp_path / "eigen_buurten.gpkg", n=2)
        runner = CliRunner()
        unknown = runner.invoke(
            cli, ["ingest", "gebieden", str(path), "--soort", "buurt", "--indeling", "x", "--jaar", "2024"]
        )
        assert unknown.exit_code == 1 and "onbekende indeling 'x'" in " ".join(unknown.output.split())
        refused = runner.invoke(cli, ["ingest", "gebieden", str(path), "--soort", "buurt", "--jaar", "2024"])
        assert refused.exit_code == 1, refused.output
        # One message (the console wraps it at the terminal's width), no traceback.
        said = " ".join(refused.output.split())
        assert said.count("mislukt") == 1 and "--vervang" in said and "Traceback" not in said
        own = [
            "ingest",
            "gebieden",
            str(path),
            "--soort",
            "buurt",
            "--indeling",
            "gemeente",
            "--jaar",
            "2024",
        ]
        loaded = runner.invoke(cli, own)
        assert loaded.exit_code == 0, loaded.output
        assert (
            scalar(engine, "SELECT count(*) FROM gebied WHERE indeling = 'gemeente' AND soort = 'buurt'") == 2
        )
        replaced = runner.invoke(
            cli, ["ingest", "gebieden", str(path), "--soort", "buurt", "--jaar", "2024", "--vervang"]
        )
        assert replaced.exit_code == 0 and "vervangen (--vervang)" in " ".join(replaced.output.split())
    finally:
        get_settings.cache_clear()
