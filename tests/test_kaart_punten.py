"""Points on the map in a real browser (headless Chromium): signals, vacancy and establishments
each draw in their own style, and a click on a point opens its popup (it used to throw in
Leaflet, issue #15). Screenshots go to test-artifacts/ (the path is printed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, text

from app.klassen import counted, quantile_classes
from core.domain import SIGNAAL_SOORTEN, THEMAS
from layers import REGISTRY
from tests.browser_support import artifact
from tests.conftest import serving_demo
from tests.test_browser import READY, Watched, _sign_in_with_key

CENTRE = (53.2194, 6.5665)  # Grote Markt, Groningen


@pytest.fixture(scope="module")
def base_url(demo_engine: Engine, api_login: Any) -> Iterator[str]:
    # The rate limit is shared through the database (migration 0017): every page of this module
    # draws with the same keys, so a limit meant for one client would end these tests, not test it.
    with serving_demo(demo_engine, api_login, rate_limit_per_minute=0) as base:
        yield base


# browser and page: tests/conftest.py.


def _show(page: Page, layer_ids: list[str], zoom: int) -> None:
    """Add the point layers and centre the map on the city centre; wait until they loaded."""
    page.evaluate(
        """([ids, centre, zoom]) => {
            ids.forEach((id) => { if (!okaart.kaart.hasLayer(okaart.lagen[id])) okaart.kaart.addLayer(okaart.lagen[id]); });
            okaart.kaart.setView(centre, zoom, {animate: false});
        }""",
        [layer_ids, list(CENTRE), zoom],
    )
    page.wait_for_function(
        "(ids) => ids.every((id) => okaart.getekend[id] && okaart.getekend[id].size > 0"
        " && !okaart.lagen[id].isLoading())",
        arg=layer_ids,
        timeout=30_000,
    )


def _drawn_styles(page: Page, layer_id: str) -> list[dict[str, Any]]:
    """Fill, outline and size of the SVG paths one tile layer drew."""
    styles: list[dict[str, Any]] = page.evaluate(
        """(id) => Array.from(okaart.lagen[id].getContainer().querySelectorAll('path')).map((p) => ({
            fill: p.getAttribute('fill'), stroke: p.getAttribute('stroke'),
            width: p.getAttribute('stroke-width'), box: String(Math.round(p.getBBox().width)),
        }))""",
        layer_id,
    )
    return styles


def test_signals_vacancy_and_establishments_draw_in_their_own_styles(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    _show(page.page, ["signalen", "leegstand", "vestigingen"], 16)

    seen = {}
    for layer_id in ("signalen", "leegstand", "vestigingen"):
        styles = _drawn_styles(page.page, layer_id)
        assert styles, layer_id
        distinct = {(s["fill"], s["stroke"], float(s["width"])) for s in styles}
        assert len(distinct) == 1, (layer_id, distinct)  # one style per layer, not per area figure
        style = REGISTRY[layer_id].style
        assert distinct == {(style.colour, style.outline, style.weight)}, layer_id
        seen[layer_id] = distinct.pop()
    # Three kinds, three looks: no two share fill or outline, so form tells them apart too.
    assert len({s[0] for s in seen.values()}) == 3
    assert len({(s[1], s[2]) for s in seen.values()}) == 3
    # None of them is the grey of an area without a value (the old bug drew every point grey).
    assert all(s[0] != "#bdbdbd" for s in seen.values())
    legend = page.page.locator(".legenda").inner_text()
    assert all(REGISTRY[i].title in legend for i in seen)
    shot = artifact("kaart-punten-stijlen.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []


def _a_clickable_point(page: Page, layer_id: str) -> tuple[float, float]:
    """The screen position of a point of the layer that is on top where it is drawn."""
    found: list[float] | None = page.evaluate(
        """(id) => {
            const map = okaart.kaart.getContainer().getBoundingClientRect();
            const paths = okaart.lagen[id].getContainer().querySelectorAll('path.leaflet-interactive');
            for (const p of paths) {
                const b = p.getBoundingClientRect();
                const x = b.left + b.width / 2, y = b.top + b.height / 2;
                const inside = x > map.left + 380 && x < map.right - 330 && y > map.top + 200 && y < map.bottom - 120;
                if (inside && document.elementFromPoint(x, y) === p) return [x, y];
            }
            return null;
        }""",
        layer_id,
    )
    assert found is not None, f"no {layer_id} point to click in the middle of the map"
    return found[0], found[1]


@pytest.mark.parametrize(("layer_id", "kop"), [("signalen", "Signaal"), ("leegstand", "Leegstand")])
def test_a_click_on_a_point_opens_its_popup(
    page: Watched, base_url: str, api_keys: dict[str, str], layer_id: str, kop: str
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    others = [i for i in ("signalen", "leegstand", "vestigingen") if i != layer_id]
    page.page.evaluate("(ids) => ids.forEach((id) => okaart.kaart.removeLayer(okaart.lagen[id]))", others)
    _show(page.page, [layer_id], 16)
    x, y = _a_clickable_point(page.page, layer_id)
    page.page.mouse.click(x, y)
    popup = page.page.locator(f".leaflet-popup-content .popup.punt[data-laag={layer_id}]")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    assert text.startswith(kop)
    rows = dict(
        zip(
            popup.locator("th").all_inner_texts(),
            popup.locator("td").all_inner_texts(),
            strict=True,
        )
    )
    assert rows["Bron"] and rows["Buurt"].startswith("BU")
    if layer_id == "signalen":
        assert rows["Soort signaal"].replace(" ", "_") in SIGNAAL_SOORTEN
        assert rows["Thema"].replace(" ", "_") in THEMAS
        assert rows["Datum"].endswith("2024")  # the period on the map, written out in Dutch
    else:
        assert rows["Leeg sinds"][-4:].isdigit()
    # The popup opens at the point itself, not somewhere else on the map.
    tip = page.page.locator(".leaflet-popup-tip").bounding_box()
    assert tip is not None and abs(tip["x"] + tip["width"] / 2 - x) < 12
    shot = artifact(f"kaart-popup-{layer_id}.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []


def test_the_default_buurt_map_has_classes_of_ten_to_thirty_percent(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    """Classes from the data: each colour of the default map stands for 10-30 % of the buurten
    with a figure, and the legend's counts are the areas drawn in that colour."""
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart")
    page.page.wait_for_function(READY, timeout=30_000)
    colours: dict[str, str] = page.page.evaluate("() => okaart.kleuren")
    legend = page.page.locator(".legenda li[data-min]")
    assert legend.count() == 5
    valued = [c for c in colours.values() if c != "#bdbdbd"]
    assert len(colours) == 151 and len(valued) >= 100
    shown = {}
    for i in range(legend.count()):
        item = legend.nth(i)
        colour = item.locator(".vlak").evaluate("(e) => e.style.backgroundColor")
        count = int(item.locator(".aantal").inner_text().strip("()").replace(".", ""))
        shown[colour] = count
    drawn: dict[str, int] = {}
    for c in valued:
        rgb = "rgb({}, {}, {})".format(*(int(c[i : i + 2], 16) for i in (1, 3, 5)))
        drawn[rgb] = drawn.get(rgb, 0) + 1
    assert drawn == shown
    for colour, n in drawn.items():
        assert 0.10 <= n / len(valued) <= 0.30, (colour, n, len(valued))
        assert 0.10 <= n / len(colours) <= 0.30, (colour, n, len(colours))  # of all buurten too
    shot = artifact("kaart-klassen-buurten.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}; classes {sorted(drawn.values())} of {len(valued)} buurten")
    assert page.errors == []


def test_quantile_classes_by_hand() -> None:
    """Ten values in five quantile classes: two each, breaks rounded as the legend prints them,
    counts by the map's own rule (a value gets the last class whose minimum it reaches)."""
    values = [0.5, 1.2, 2.0, 3.3, 4.1, 8.0, 12.4, 30.0, 55.5, 5800.0]
    colours = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    classes = quantile_classes(values, colours)
    # mapclassify's quantile bins here are 1.84, 3.78, 9.76 and 35.1 (linear interpolation
    # between the sorted values); the legend prints them rounded and the map reads them as
    # lower bounds, which moves no value here: two per class.
    assert [c.min for c in classes] == [0, 1.8, 3.8, 9.8, 35.0]
    assert [c.count for c in classes] == [2, 2, 2, 2, 2]
    assert [c.label for c in classes] == [
        "minder dan 1,8", "1,8 tot 3,8", "3,8 tot 9,8", "9,8 tot 35", "35 of meer",
    ]  # fmt: skip
    assert [c.colour for c in classes] == colours
    # Ties merge classes: eight equal values leave no break below them; every value is counted.
    few = quantile_classes([1.0] * 8 + [2.0, 3.0], colours)
    assert len(few) <= 2 and sum(c.count or 0 for c in few) == 10
    assert counted(classes, [0.0, 1.8, 5800.0])[0].count == 1
    assert [c.count for c in counted(classes, [0.0, 1.8, 5800.0])] == [1, 1, 0, 0, 1]


def _view(page: Page) -> tuple[int, float, float]:
    zoom, lat, lon = page.evaluate(
        "() => [okaart.kaart.getZoom(), okaart.kaart.getCenter().lat, okaart.kaart.getCenter().lng]"
    )
    return int(zoom), float(lat), float(lon)


def test_the_view_is_in_the_url_a_shared_link_reopens_it_and_back_returns_to_it(
    browser: Browser, page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?indicator=signalen&thema=drugs")
    page.page.wait_for_function(READY, timeout=30_000)
    page.page.evaluate("() => okaart.kaart.setView([53.2101, 6.5890], 15, {animate: false})")
    page.page.wait_for_function("() => location.hash.startsWith('#15/')")
    url = page.page.url
    # Every choice is in the query (the period too, though the page opened on the default).
    assert "soort=buurt" in url and "indicator=signalen" in url and "thema=drugs" in url
    assert "periode=20" in url and url.endswith("#15/53.21010/6.58900")

    # Another choice keeps the place.
    page.page.select_option("#keuze select[name=indicator]", "per_1000_eb")
    page.page.wait_for_url(lambda u: "indicator=per_1000_eb" in u)
    page.page.wait_for_function(READY, timeout=30_000)
    assert _view(page.page) == pytest.approx((15, 53.2101, 6.5890), abs=1e-4)
    shot = artifact("kaart-url-eb.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")

    # To an overview and back: the same view.
    before = page.page.url
    code = page.page.evaluate("() => Object.keys(okaart.kleuren)[0].split(':')[1]")
    page.page.goto(f"{base_url}/gebieden/{code}")
    assert page.page.locator("h1").inner_text().startswith("Gebiedsoverzicht")
    page.page.go_back()
    page.page.wait_for_function(READY, timeout=30_000)
    assert page.page.url == before
    assert _view(page.page) == pytest.approx((15, 53.2101, 6.5890), abs=1e-4)

    # A shared link, opened by a colleague in a browser of their own, shows the same view.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    other = Watched(context.new_page())
    _sign_in_with_key(other.page, base_url, api_keys["analist"], "/kaart")
    other.page.goto(before)
    other.page.wait_for_function(READY, timeout=30_000)
    assert _view(other.page) == pytest.approx((15, 53.2101, 6.5890), abs=1e-4)
    assert other.page.locator("#keuze select[name=indicator]").input_value() == "per_1000_eb"
    assert other.page.locator("#keuze select[name=thema]").input_value() == "drugs"
    context.close()
    assert page.errors == [] and other.errors == []


def test_a_postcode_and_house_number_search_lands_on_the_right_buurt(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    with demo_engine.connect() as conn:
        address = (
            conn.execute(
                text(
                    "SELECT v.postcode, v.huisnummer, v.buurtcode, b.naam,"
                    " ST_X(ST_Transform(v.geom, 4326)) AS lon, ST_Y(ST_Transform(v.geom, 4326)) AS lat"
                    " FROM verblijfsobject v JOIN actueel_gebied b ON b.soort = 'buurt' AND b.code = v.buurtcode"
                    " WHERE v.postcode IS NOT NULL AND v.huisletter IS NULL AND v.huisnummertoevoeging IS NULL"
                    " AND (SELECT count(*) FROM verblijfsobject w WHERE w.postcode = v.postcode"
                    "      AND w.huisnummer = v.huisnummer) = 1"
                    " ORDER BY v.postcode, v.huisnummer OFFSET 500 LIMIT 1"
                )
            )
            .mappings()
            .one()
        )
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    typed = f"{address['postcode'][:4]} {address['postcode'][4:].lower()} {address['huisnummer']}"
    page.page.fill("#zoek input[name=adres]", typed)
    page.page.press("#zoek input[name=adres]", "Enter")
    found = page.page.locator("#zoekuitkomst a.gevonden")
    found.wait_for(timeout=10_000)
    assert found.get_attribute("data-code") == address["buurtcode"]
    assert found.inner_text() == address["naam"]
    assert found.get_attribute("href") == f"/gebieden/{address['buurtcode']}?periode=2024"
    zoom, lat, lon = _view(page.page)
    assert zoom >= 16 and abs(lat - address["lat"]) < 1e-5 and abs(lon - address["lon"]) < 1e-5
    shot = artifact("kaart-zoek-adres.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    # Not found says so; a planner (no addresses) gets no search at all.
    page.page.fill("#zoek input[name=adres]", "9999 ZZ 99999")
    page.page.press("#zoek input[name=adres]", "Enter")
    page.page.wait_for_function(
        "() => /niet gevonden/.test(document.getElementById('zoekuitkomst').textContent)"
    )
    assert page.errors == []


def test_a_planner_searches_without_points(page: Watched, base_url: str, api_keys: dict[str, str]) -> None:
    """A planner searches too (addresses are register data), but is taken to the buurt, never
    to an address's point (tests/test_zoeken.py), and has no point layers or purpose."""
    _sign_in_with_key(page.page, base_url, api_keys["planner"], "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)
    assert page.page.locator("#zoek").count() == 1
    assert page.page.locator("#keuze select[name=doel]").count() == 0
