"""Time on the map (issue #15): two periods compared (difference and ratio, with a diverging
legend) from the caller's own figures, so a planner's difference is one of published values;
rolling windows of 28 and 365 days beside years and quarters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.klassen import DIVERGING, diverging_classes
from tests.browser_support import artifact
from tests.conftest import auth, scalar, zicht_id
from tests.test_browser import READY, Watched, _sign_in_with_key


def _items(client: Any, key: str, periode: str, layer: str = "buurten") -> dict[str, dict[str, Any]]:
    r = client.get(
        f"/collections/{layer}/items",
        params={"periode": periode, "thema": "alle", "limit": "1000"},
        headers=auth(key),
    )
    assert r.status_code == 200, r.text
    return {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}


def _compare(client: Any, key: str, **params: str) -> dict[str, Any]:
    r = client.get("/kaart/vergelijking", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("who", "indicator"),
    [("analist", "per_1000_adressen"), ("planner", "per_1000_adressen"), ("planner", "signalen")],
)
def test_the_difference_of_two_years_is_that_of_the_callers_own_figures(
    client: Any, api_keys: dict[str, str], who: str, indicator: str
) -> None:
    key = api_keys[who]
    body = _compare(client, key, periode="2025", vergelijk="2024", indicator=indicator, maat="verschil")
    now, then = _items(client, key, "2025"), _items(client, key, "2024")
    features = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(features) == set(now)
    withheld = 0
    for code, props in features.items():
        a, b = now[code][indicator], then[code][indicator]
        small = now[code]["te_weinig_adressen"]
        if small or a is None or b is None:
            assert props["verandering"] is None, code  # a withheld figure or a small area: no difference
            withheld += not small
        else:
            assert props["verandering"] == pytest.approx(float(a) - float(b), abs=0.011), code
    if who == "planner" and indicator == "signalen":
        assert withheld > 0, "some buurten have fewer than k signals: their difference must be missing"
    # The legend: five diverging classes around 0, counting every area with a difference.
    legend = body["legenda"]
    assert [c["colour"] for c in legend] == list(DIVERGING)
    assert legend[2]["min"] == -legend[3]["min"] and legend[1]["min"] == -legend[4]["min"]
    with_value = [p for p in features.values() if p["verandering"] is not None]
    assert sum(c["count"] for c in legend) == len(with_value)
    assert body["zonder_waarde"] == len(features) - len(with_value)


def test_a_small_area_gets_no_change_even_for_counts(client: Any, api_keys: dict[str, str]) -> None:
    body = _compare(client, api_keys["analist"], periode="2025", vergelijk="2024", indicator="signalen")
    small = [f["properties"] for f in body["features"] if f["properties"]["te_weinig_adressen"]]
    assert small, "the demo has buurten below the minimum of addresses"
    assert all(p["verandering"] is None and p["waarde"] is None for p in small)


def test_the_ratio_of_two_periods(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    body = _compare(client, key, periode="2025", vergelijk="2023", maat="verhouding")
    now, then = _items(client, key, "2025"), _items(client, key, "2023")
    for f in body["features"]:
        p = f["properties"]
        a, b = now[p["code"]]["per_1000_adressen"], then[p["code"]]["per_1000_adressen"]
        if a is None or b is None or float(b) == 0:
            assert p["verandering"] is None
        else:
            assert p["verandering"] == pytest.approx(float(a) / float(b), abs=0.001)
    assert [c["min"] for c in body["legenda"]][1:] == [0.67, 0.91, 1.1, 1.5]
    assert "ongeveer gelijk" in body["legenda"][2]["label"]


def test_wrong_choices_are_a_clear_400(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    for params, word in (
        ({"maat": "quotient"}, "maat"),
        ({"vergelijk": "1999"}, "vergelijk"),
        ({"indicator": "risicobranches"}, "indicator"),
        ({"soort": "gemeente"}, "soort"),
    ):
        r = client.get("/kaart/vergelijking", params=params, headers=auth(key))
        assert r.status_code == 400, params
        assert r.json()["detail"].startswith(word)
    elders = _compare(client, api_keys["analist_elders"])
    assert elders["features"] == []


def test_diverging_classes_are_symmetric_and_count() -> None:
    values = [-12.0, -3.0, -0.5, 0.0, 0.4, 2.0, 5.0, 9.0, 20.0]
    classes = diverging_classes(values, "verschil")
    mins = [c.min for c in classes]
    assert mins[0] < -1e8 and mins[1] == -mins[4] and mins[2] == -mins[3] and 0 < mins[3] < mins[4]
    assert sum(c.count or 0 for c in classes) == len(values)
    assert classes[2].count == sum(1 for v in values if -mins[3] <= v < mins[3])
    assert "ongeveer gelijk" in classes[2].label
    # No change anywhere still gives a legend, with every area in the middle.
    flat = diverging_classes([0.0, 0.0], "verschil")
    assert flat[2].count == 2


# -- rolling windows -----------------------------------------------------------------------------

#: The signals a view class sees (core/zicht.py, as the cube's SEES condition says it).
VISIBLE = (
    "FROM signaal s JOIN zicht z ON z.id = :z"
    " WHERE (z.gemeenten IS NULL OR s.gemeentecode = ANY (z.gemeenten))"
    " AND (z.convenanten IS NULL OR s.convenant = ANY (z.convenanten))"
    " AND s.dataklasse = ANY (z.dataklassen) AND s.bewaren_tot >= current_date"
)


@pytest.mark.parametrize("who", ["analist", "partner_zorg", "planner"])
def test_rolling_windows_end_on_the_newest_day_the_class_sees(
    client: Any, api_keys: dict[str, str], demo_engine: Engine, who: str
) -> None:
    key = api_keys[who]
    view = zicht_id(demo_engine, key)
    newest = scalar(demo_engine, f"SELECT max(s.datum) {VISIBLE}", z=view)
    k = scalar(demo_engine, "SELECT coalesce(k, 10) FROM zicht WHERE id = :z", z=view)
    for periode, days in (("laatste28d", 28), ("laatste365d", 365)):
        shown = _items(client, key, periode)
        assert shown and all(p["periode_soort"] == "venster" for p in shown.values())
        with demo_engine.connect() as conn:
            exact = dict(
                conn.execute(
                    text(
                        f"SELECT s.buurtcode, count(*) {VISIBLE} AND s.datum > CAST(:d AS date) - :n"
                        " AND s.datum <= :d AND s.buurtcode IS NOT NULL GROUP BY s.buurtcode"
                    ),
                    {"z": view, "d": newest, "n": days},
                ).all()
            )
        assert sum(exact.values()) > 0, "the demo has signals in both windows"
        for code, props in shown.items():
            count = exact.get(code, 0)
            if who != "planner":
                assert props["signalen"] == count, (periode, code)
            elif props["signalen"] is not None:  # published: at least k, rounded to 5
                assert count >= k and props["signalen"] == round(count / 5) * 5, (periode, code)
            else:
                assert props["onderdrukt"], (periode, code)
            assert props["trend_z"] is None and props["eerste_periode"] is True  # no previous window
    if who == "planner":
        small = [c for c, n in exact.items() if 0 < n < k]
        assert small and all(shown[c]["signalen"] is None for c in small)


def test_the_map_offers_the_windows_and_compares_them(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    page = client.get("/kaart", params={"periode": "laatste365d"}, headers=auth(key))
    assert page.status_code == 200
    assert 'value="laatste28d"' in page.text and 'value="laatste365d" selected' in page.text
    assert 'id="periodeschuif"' in page.text and "/static/kaart-tijd.js" in page.text
    body = _compare(client, key, periode="laatste365d", vergelijk="2024")
    assert body["features"] and body["legenda"]


# -- in the browser ------------------------------------------------------------------------------


# base_url: tests/conftest.py.


# page: tests/conftest.py (one Chromium per module).


def _overlay(page: Watched, name: str) -> dict[str, Any]:
    page.page.wait_for_function(f"() => window.okaartTijd && okaartTijd.klaar[{name!r}]", timeout=30_000)
    fills: list[str] = page.page.evaluate(
        "() => Array.from(document.querySelectorAll('.leaflet-overlay-pane path')).map((p) => p.getAttribute('fill'))"
    )
    return {
        "klaar": page.page.evaluate(f"() => okaartTijd.klaar[{name!r}]"),
        "getekend": page.page.evaluate(f"() => okaartTijd.getekend[{name!r}]"),
        "legenda": page.page.locator(f".tijdlegenda.{name}").inner_text(),
        "fills": set(fills),
    }


def test_a_difference_map_of_two_years_draws_with_its_legend(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(
        page.page, base_url, api_keys["planner"], "/kaart?periode=2025&vergelijk=2024&maat=verschil"
    )
    page.page.wait_for_function(READY, timeout=30_000)
    drawn = _overlay(page, "vergelijking")
    assert drawn["klaar"] is True and drawn["getekend"] > 100
    assert "verschil 2025 t.o.v. 2024" in drawn["legenda"] and "ongeveer gelijk" in drawn["legenda"]
    assert "geen waarde" in drawn["legenda"]
    # The overlay is coloured by the diverging scheme: more than the middle class and the grey.
    assert len(drawn["fills"] & set(DIVERGING)) >= 3
    assert page.page.locator("select[name=vergelijk]").input_value() == "2024"
    shot = artifact("kaart-verschil-2025-2024.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []


def test_the_hotspot_layer_draws_with_its_legend(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&hotspots=ja")
    page.page.wait_for_function(READY, timeout=30_000)
    drawn = _overlay(page, "hotspots")
    assert drawn["klaar"] is True and drawn["getekend"] > 100
    for word in ("hotspot", "coldspot", "niet significant", "Gi*"):
        assert word in drawn["legenda"], word
    assert "#b2182b" in drawn["fills"]  # at least one hotspot is drawn as one
    shot = artifact("kaart-hotspots-2024.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []


def test_the_period_slider_moves_the_map_to_another_period(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)
    slider = page.page.locator("#periodeschuif")
    options = page.page.evaluate(
        "() => Array.from(document.querySelectorAll('#keuze select[name=periode] option')).map((o) => o.value)"
    )
    assert slider.get_attribute("aria-valuetext") == "2024"
    target = options.index("2025")
    with page.page.expect_navigation():
        slider.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('change')); }", target)
    page.page.wait_for_function(READY, timeout=30_000)
    assert "periode=2025" in page.page.url
    assert page.page.locator("#periodeschuif").get_attribute("aria-valuetext") == "2025"
    assert page.errors == []
