"""Small areas tell the truth (issue #15): below the minimum of addresses no rate and no z in
any output; the Empirical Bayes rate equals a hand computation; high and low z read as such;
an unknown z leaves ``afwijkend`` unknown; the first period says there is no previous one."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import mapbox_vector_tile
import morecantile
import openpyxl
import pytest
from sqlalchemy import Engine, text

from app import exports
from app.overview import oordeel, trend_zin
from core.zicht import MIN_ADRESSEN
from tests.conftest import auth

TMS = morecantile.tms.get("WebMercatorQuad")
#: Figures an area below the minimum has none of.
PER_ADRES = ("per_1000_adressen", "per_1000_eb", "leegstand_pct", "verwacht", "z", "afwijkend", "trend_z")


def _items(client: Any, key: str, **params: str) -> list[dict[str, Any]]:
    r = client.get(
        "/collections/buurten/items",
        params={"periode": "2024", "thema": "alle", "limit": "1000", **params},
        headers=auth(key),
    )
    assert r.status_code == 200, r.text
    return [f["properties"] | {"_geometry": f["geometry"]} for f in r.json()["features"]]


@pytest.fixture(scope="module")
def small(demo_engine: Engine) -> dict[str, Any]:
    """The buurt with the fewest addresses (but some), below the minimum, and a point in it."""
    with demo_engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT b.code, b.naam, count(v.*) AS n,"
                    " ST_X(ST_Transform(ST_PointOnSurface(b.geom), 4326)) AS lon,"
                    " ST_Y(ST_Transform(ST_PointOnSurface(b.geom), 4326)) AS lat"
                    " FROM actueel_gebied b JOIN verblijfsobject v ON v.buurtcode = b.code"
                    " WHERE b.soort = 'buurt' GROUP BY b.code, b.naam, b.geom ORDER BY count(v.*) LIMIT 1"
                )
            )
            .mappings()
            .one()
        )
    assert 0 < row["n"] < MIN_ADRESSEN
    return dict(row)


@pytest.mark.parametrize("who", ["analist", "planner"])
def test_an_area_below_the_minimum_has_no_rate_and_no_z_anywhere(
    client: Any, api_keys: dict[str, str], small: dict[str, Any], who: str
) -> None:
    key = api_keys[who]
    code = small["code"]
    # Items (the features API).
    row = next(r for r in _items(client, key) if r["code"] == code)
    assert row["te_weinig_adressen"] is True
    assert all(row.get(name) is None for name in PER_ADRES), row
    # Tiles: the feature is drawn (grey), without any of those figures.
    t = TMS.tile(small["lon"], small["lat"], 13)
    tile = client.get(
        f"/collections/buurten/tiles/WebMercatorQuad/13/{t.x}/{t.y}",
        params={"periode": "2024", "thema": "alle"},
        headers=auth(key),
    )
    assert tile.status_code == 200
    features = mapbox_vector_tile.decode(tile.content)["buurten"]["features"]
    props = next(f["properties"] for f in features if f["properties"]["code"] == code)
    assert props["te_weinig_adressen"] is True
    assert not set(PER_ADRES) & {k for k, v in props.items() if v is not None}
    # The overview (JSON and HTML): no rate, and the reason in words.
    overview = client.get(f"/gebieden/{code}", params={"periode": "2024"}, headers=auth(key))
    assert overview.status_code == 200
    current = next(p for p in overview.json()["perioden"] if p["periode"] == "2024")
    assert all(current.get(name) is None for name in PER_ADRES)
    html = client.get(f"/gebieden/{code}", params={"periode": "2024", "f": "html"}, headers=auth(key)).text
    assert f"Te weinig adressen (minder dan {MIN_ADRESSEN})" in html
    assert "wijkt daarmee" not in html and "z = " not in html
    # The list of areas (JSON and CSV export).
    listed = client.get("/gebieden", params={"soort": "buurt", "periode": "2024"}, headers=auth(key))
    entry = next(g for g in listed.json()["gebieden"] if g["code"] == code)
    assert all(entry.get(name) is None for name in PER_ADRES)
    # /locate at a point inside it.
    located = client.get("/locate", params={"lon": small["lon"], "lat": small["lat"]}, headers=auth(key))
    assert located.status_code == 200
    buurt = next(g for g in located.json()["gebieden"] if g["code"] == code)
    assert buurt["indicatoren"]["te_weinig_adressen"] is True
    assert all(buurt["indicatoren"].get(name) is None for name in PER_ADRES)


def _eb_by_hand(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Marshall's global Empirical Bayes estimate per 1,000 addresses, written out:
    m = sum(O) / sum(n); s2 = sum(n (r - m)^2) / sum(n) - m / mean(n), at least 0;
    EB = m + s2 / (s2 + m / n) * (r - m); over every area with addresses."""
    areas = [(r["code"], r["signalen"], r["adressen"]) for r in rows if r["adressen"] > 0]
    total_o = sum(o for _, o, _ in areas)
    total_n = sum(n for _, _, n in areas)
    m = total_o / total_n
    mean_n = total_n / len(areas)
    s2 = max(sum(n * (o / n - m) ** 2 for _, o, n in areas) / total_n - m / mean_n, 0.0)
    return {code: 1000 * (m + s2 / (s2 + m / n) * (o / n - m)) for code, o, n in areas}


def test_the_empirical_bayes_rate_equals_a_hand_computation(client: Any, api_keys: dict[str, str]) -> None:
    rows = _items(client, api_keys["analist"])
    assert len(rows) == 151 and {r["gemeentecode"] for r in rows} == {"GM0014"}
    expected = _eb_by_hand(rows)
    checked = 0
    for row in rows:
        if row["te_weinig_adressen"]:
            assert row["per_1000_eb"] is None
            continue
        assert float(row["per_1000_eb"]) == pytest.approx(expected[row["code"]], abs=0.006), row["code"]
        checked += 1
        # Shrinkage: the smoothed rate lies between the area's own rate and the municipality's.
        own = float(row["per_1000_adressen"])
        m = 1000 * sum(r["signalen"] for r in rows) / sum(r["adressen"] for r in rows)
        assert min(own, m) - 0.01 <= float(row["per_1000_eb"]) <= max(own, m) + 0.01
    assert checked > 100


def test_a_small_example_by_hand() -> None:
    """Three areas worked out on paper: O = (2, 30, 8), n = (20, 1000, 400).
    m = 40 / 1420 = 0.028169; r = (0.1, 0.03, 0.02);
    sum n (r - m)^2 = 20 * 0.0051597 + 1000 * 0.00000335 + 400 * 0.00006654 = 0.13324
    s2 = 0.13324 / 1420 - 0.028169 / 473.33 = 0.00009383 - 0.00005951 = 0.00003432;
    w = s2 / (s2 + m / n) = (0.0238, 0.5492, 0.3277); EB per 1,000 = (29.88, 29.17, 25.49)."""
    rows = [
        {"code": "a", "signalen": 2, "adressen": 20},
        {"code": "b", "signalen": 30, "adressen": 1000},
        {"code": "c", "signalen": 8, "adressen": 400},
    ]
    eb = _eb_by_hand(rows)
    assert eb["a"] == pytest.approx(29.88, abs=0.01)
    assert eb["b"] == pytest.approx(29.17, abs=0.01)
    assert eb["c"] == pytest.approx(25.49, abs=0.01)


def test_the_database_applies_the_same_formula_to_the_small_example(demo_engine: Engine) -> None:
    """The formula of migration 0015 on the three areas above, as SQL over the same window
    sums the function uses (so the test's hand computation and the database's agree)."""
    with demo_engine.connect() as conn:
        result = conn.execute(
            text(
                "WITH b(code, o, n) AS (VALUES ('a', 2, 20), ('b', 30, 1000), ('c', 8, 400)),"
                " g AS (SELECT b.*, sum(o) OVER () AS so, sum(n) OVER () AS sn,"
                "  sum(o::float8 ^ 2 / n) OVER () AS q, count(*) OVER () AS k FROM b),"
                " s AS (SELECT g.*, so::float8 / sn AS m FROM g),"
                " v AS (SELECT s.*, greatest(q / sn - m ^ 2 - m * k / sn, 0) AS s2 FROM s)"
                " SELECT code, 1000 * (m + s2 / (s2 + m / n) * (o::float8 / n - m)) AS eb FROM v ORDER BY code"
            )
        ).all()
    assert [round(r.eb, 2) for r in result] == [29.88, 29.17, 25.49]


def test_deviation_and_trend_in_words() -> None:
    assert oordeel({"z": -6.0, "afwijkend": False}) == "het gebied ligt duidelijk lager"
    assert oordeel({"z": -10.2, "afwijkend": False}) == "het gebied ligt duidelijk lager"
    assert oordeel({"z": 4.0, "afwijkend": True}) == "het gebied ligt duidelijk hoger"
    assert oordeel({"z": 4.0, "afwijkend": False}).startswith("hoger, maar met minder dan 10 signalen")
    assert oordeel({"z": 1.2, "afwijkend": False}) == "het gebied wijkt niet duidelijk af"
    assert oordeel({"z": None, "afwijkend": None}) == "onbekend"
    assert "geen vorige periode" in trend_zin({"eerste_periode": True, "trend_z": None}, suppressed=True)
    assert trend_zin({"eerste_periode": False, "trend_z": 2.5}, suppressed=False).endswith("z = 2,50.")


def test_afwijkend_is_unknown_where_z_is_and_the_first_period_has_no_trend(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        counts = (
            conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE z IS NULL AND afwijkend IS NOT NULL) AS bekend_zonder_z,"
                    " count(*) FILTER (WHERE z IS NULL) AS zonder_z,"
                    " count(*) FILTER (WHERE z IS NOT NULL AND afwijkend IS NULL) AS onbekend_met_z,"
                    " count(*) FILTER (WHERE eerste_periode AND trend_z IS NOT NULL) AS trend_eerste,"
                    " count(*) FILTER (WHERE eerste_periode) AS eerste,"
                    " count(*) FILTER (WHERE NOT eerste_periode AND NOT te_weinig_adressen"
                    "   AND trend_z IS NULL) AS zonder_trend,"
                    " count(*) FILTER (WHERE z <= -3) AS duidelijk_lager,"
                    " count(*) FILTER (WHERE te_weinig_adressen AND adressen >= :m) AS fout_klein"
                    " FROM indicator_zicht"
                ),
                {"m": MIN_ADRESSEN},
            )
            .mappings()
            .one()
        )
    assert counts["bekend_zonder_z"] == 0 < counts["zonder_z"]
    assert counts["onbekend_met_z"] == 0
    assert counts["trend_eerste"] == 0 < counts["eerste"]
    assert counts["zonder_trend"] == 0
    assert counts["fout_klein"] == 0
    assert counts["duidelijk_lager"] > 0  # the demo has clearly lower areas, which now say so
    assert math.isfinite(float(counts["eerste"]))


@pytest.mark.parametrize("who", ["analist", "planner"])
def test_the_excel_download_holds_the_csv_figures_as_numbers(
    client: Any, api_keys: dict[str, str], small: dict[str, Any], who: str
) -> None:
    """``f=xlsx`` for people (typed cells: a Dutch Excel shows decimal commas), ``f=csv`` stays
    the machine format (comma, decimal point); both carry the same figures."""
    params = {"soort": "buurt", "periode": "2024"}
    machine = client.get("/gebieden", params={**params, "f": "csv"}, headers=auth(api_keys[who]))
    assert machine.status_code == 200 and machine.text.splitlines()[0].startswith("code,naam,")
    by_code = {r["code"]: r for r in csv.DictReader(io.StringIO(machine.text))}
    people = client.get("/gebieden", params={**params, "f": "xlsx"}, headers=auth(api_keys[who]))
    assert people.status_code == 200
    assert people.headers["content-type"].startswith(exports.XLSX_TYPE)
    assert people.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(people.content), read_only=True)
    rows = list(book["Cijfers"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header == list(next(iter(by_code.values())).keys())
    assert len(rows) - 1 == len(by_code) == 151
    for values in rows[1:]:
        row = dict(zip(header, values, strict=True))
        want = by_code[str(row["code"])]
        for name, value in row.items():
            if value is None:
                assert want[name] == "", (name, want[name])
            elif isinstance(value, bool):
                assert want[name].lower() in ("true", "false") and value is (want[name].lower() == "true")
            elif isinstance(value, int | float):
                assert float(want[name]) == pytest.approx(value), name
            else:
                assert str(value) == want[name]
        if row["code"] == small["code"]:
            assert row["per_1000_adressen"] is None and row["z"] is None
    # Rates are numbers in the workbook, not text: Excel computes with them.
    rates = [dict(zip(header, v, strict=True))["per_1000_adressen"] for v in rows[1:]]
    assert any(isinstance(r, float) for r in rates)
    explained = dict(list(book["Toelichting"].iter_rows(values_only=True))[1 : len(header) + 1])
    assert explained["per_1000_eb"].startswith("Signalen per 1.000 adressen, gladgestreken")
