"""The regional view on the map in a real browser (issue 16): a principal of two municipalities
gets "Hele regio" in the municipality selector, and switches the colours of the areas between
the deviation against the rest of the municipality (z) and against the rest of the region
(z_regio); the popup names both. A principal of one municipality is offered neither.

The two municipalities are tests/test_regio.py's world (Groningen and its copy 40 km south).
Screenshots go to test-artifacts/ (the path is printed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from app.main import create_app
from app.maps import DEVIATION_CLASSES, GEEN_WAARDE
from core import db
from core.settings import Settings
from tests.browser_support import artifact, serving
from tests.test_browser import READY, Watched, _sign_in_with_key
from tests.test_regio import ELDERS, GM, World, all_items, headers, owner_rows
from tests.test_regio import world as world  # the module fixture, reused

MAP = "/kaart?soort=wijk&periode=2024&thema=alle&indicator=afwijkend"


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    """The two-municipality world served over HTTP, without a basemap (no network)."""
    url = world.owner.url.render_as_string(hide_password=False)
    api = db.make_engine(url, role="okaart_api")
    app = create_app(
        Settings(database_url=url, environment="test", basemap_url="", rate_limit_per_minute=0), engine=api
    )
    try:
        with serving(app) as base:
            yield base
    finally:
        api.dispose()


def _class_colour(value: Any) -> str:
    """The colour kaart.js gives a deviation: the last class whose minimum it reaches."""
    if value is None:
        return GEEN_WAARDE
    colour = GEEN_WAARDE
    for c in DEVIATION_CLASSES:
        if float(value) >= c.min:
            colour = c.colour
    return colour


def _drawn(page: Page) -> dict[str, str]:
    colours: dict[str, str] = page.evaluate("() => ({...okaart.kleuren})")
    return colours


def _wijken(world: World, who: str) -> dict[str, dict[str, Any]]:
    """The caller's wijken of 2024, all themes together, as the API gives them."""
    return {
        str(f["id"]): f["properties"]
        for f in all_items(world, who, "wijken")
        if f["properties"]["periode"] == "2024" and f["properties"]["thema"] == "alle"
    }


def _click_wijk(page: Page, world: World, code: str) -> str:
    """Centre the map on a point inside the wijk, click it, and return the popup's text."""
    (lat, lon) = owner_rows(
        world,
        "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p"
        " FROM gebied WHERE soort = 'wijk' AND code = :c) s",
        c=code,
    )[0]
    page.evaluate(
        """([lat, lon]) => new Promise((resolve) => {
            okaart.kaart.closePopup();
            okaart.lagen['wijken'].once('load', () => resolve(true));
            okaart.kaart.setView([lat, lon], 13, {animate: false});
        })""",
        [float(lat), float(lon)],
    )
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    return popup.inner_text()


def test_a_regional_caller_switches_the_deviation_between_municipality_and_region(
    page: Watched, base_url: str, world: World
) -> None:
    _sign_in_with_key(page.page, base_url, world.keys["beide"], MAP)
    page.page.wait_for_function(READY, timeout=30_000)
    first = page.page.locator("#gemeente option").first
    assert first.inner_text() == "Hele regio (2 gemeenten)" and first.get_attribute("value") == ""
    assert page.page.locator("#afwijking").input_value() == "afwijkend"
    figures = _wijken(world, "beide")
    both = {p["gemeentecode"] for p in figures.values()}
    assert both == {GM, ELDERS}

    # Against the municipality: every wijk of both municipalities drawn in the class of its z.
    drawn = _drawn(page.page)
    assert set(drawn) == set(figures)
    assert {i: _class_colour(figures[i]["z"]) for i in drawn} == drawn
    page.page.screenshot(path=artifact("kaart-regio-gemeente.png"))

    # Against the region: the switch reloads the map coloured by z_regio, in the same place.
    page.page.select_option("#afwijking", "afwijkend_regio")
    page.page.wait_for_url("**indicator=afwijkend_regio**", timeout=30_000)
    page.page.wait_for_function(READY, timeout=30_000)
    assert page.page.locator("#afwijking").input_value() == "afwijkend_regio"
    assert page.page.locator(".legenda").inner_text().startswith("Afwijking van de rest van de regio (z)")
    drawn = _drawn(page.page)
    assert set(drawn) == set(figures)
    assert {i: _class_colour(figures[i]["z_regio"]) for i in drawn} == drawn
    assert any(figures[i]["z_regio"] is not None for i in drawn)  # a regional figure was drawn
    page.page.screenshot(path=artifact("kaart-regio-regio.png"))

    # The popup gives both comparisons.
    code = next(
        p["code"] for p in figures.values() if p["z_regio"] is not None and p["gemeentecode"] == ELDERS
    )
    text = _click_wijk(page.page, world, code)
    assert "Ten opzichte van de rest van de gemeente" in text
    assert "Ten opzichte van de rest van de regio" in text
    page.page.screenshot(path=artifact("kaart-regio-popup.png"))
    assert page.errors == []


def test_a_caller_of_one_municipality_is_offered_no_region(world: World) -> None:
    """No selector, no switch, no regional indicator: for one municipality there is no region
    to compare with (its regional figures are empty, migration 0024)."""
    response = world.client.get(MAP, headers=headers(world, "groningen"))
    assert response.status_code == 200, response.text
    assert 'id="gemeente"' not in response.text and 'id="afwijking"' not in response.text
    assert 'value="afwijkend_regio"' not in response.text
    assert '"regio": false' in response.text
    regional = world.client.get(MAP, headers=headers(world, "beide"))
    assert regional.status_code == 200 and 'value="afwijkend_regio"' in regional.text
    assert '"regio": true' in regional.text
