"""The map page, server side: assets from the app only, small page, layers by clearance."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.periods import period_range
from app.services import services_of
from tests.conftest import auth


def _page(client: Any, key: str, **params: str) -> Any:
    return client.get("/kaart", params=params, headers={**auth(key), "Accept": "text/html"})


def test_every_script_and_stylesheet_comes_from_the_app(client: Any, api_keys: dict[str, str]) -> None:
    page = _page(client, api_keys["analist"], doel="analyse")
    assert page.status_code == 200, page.text
    html = page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert "/static/vendor/leaflet/leaflet.js" in sources
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in sources
    for src in sources:
        assert src.startswith("/static/"), src
        assert client.get(src).status_code == 200, src
    # The one external address is the configured basemap (images only, allowed by the CSP).
    basemap = services_of(client.app).settings.basemap_url
    assert basemap and basemap in html
    assert not re.search(r"https?://", html.replace(basemap, "")), "external URL in the page"
    assert basemap.split("/")[2] in page.headers["content-security-policy"]
    assert '<html lang="nl">' in html
    assert len(page.content) < 500_000


def test_layers_follow_clearance(client: Any, api_keys: dict[str, str]) -> None:
    analyst = _page(client, api_keys["analist"], doel="analyse").text
    assert "/collections/buurten/tiles/WebMercatorQuad/{z}/{x}/{y}?periode=" in analyst
    assert "/collections/bedrijventerreinen/tiles/" in analyst
    assert "/collections/signalen/tiles/WebMercatorQuad/{z}/{x}/{y}?doel=analyse" in analyst
    assert "/collections/leegstand/tiles/" in analyst

    planner = _page(client, api_keys["planner"]).text
    assert "/collections/buurten/tiles/" in planner
    assert "/collections/signalen/" not in planner and "/collections/leegstand/" not in planner
    assert "onderdrukt" in planner
    # A planner cannot ask for points by naming a purpose either.
    assert "/collections/signalen/" not in _page(client, api_keys["planner"], doel="planvorming").text

    partner = _page(client, api_keys["partner_riec"], doel="opsporing").text
    assert "/collections/signalen/tiles/" in partner and "/collections/leegstand/" not in partner


def test_points_need_a_purpose_of_the_caller(client: Any, api_keys: dict[str, str]) -> None:
    without = _page(client, api_keys["analist"]).text
    assert "/collections/signalen/" not in without
    wrong = _page(client, api_keys["analist"], doel="opsporing")
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("soort", ["buurt", "wijk", "bedrijventerrein", "buitengebied"])
@pytest.mark.parametrize(
    "indicator", ["per_1000_adressen", "leegstand_pct", "afwijkend", "trend_z", "signalen"]
)
def test_every_area_type_and_indicator(
    client: Any, api_keys: dict[str, str], soort: str, indicator: str
) -> None:
    page = _page(client, api_keys["planner"], soort=soort, indicator=indicator, periode="2024", thema="drugs")
    assert page.status_code == 200, page.text
    assert "periode=2024&thema=drugs" in page.text
    assert f'"indicator": {{"id": "{indicator}"' in page.text


def test_bad_choices_are_400_problems(client: Any, api_keys: dict[str, str]) -> None:
    for params in ({"soort": "provincie"}, {"indicator": "x"}, {"thema": "x"}, {"periode": "1999"}):
        r = _page(client, api_keys["analist"], **params)
        assert r.status_code == 400, params
        assert r.headers["content-type"] == "application/problem+json"


def test_anonymous_browser_is_sent_to_sign_in_scripts_get_401(client: Any) -> None:
    browser = client.get("/kaart?soort=wijk", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/aanmelden?next=%2Fkaart%3Fsoort%3Dwijk"
    script = client.get("/kaart")
    assert script.status_code == 401
    assert script.headers["content-type"] == "application/problem+json"


def test_period_ranges() -> None:
    assert period_range("2024") == "2024-01-01/2024-12-31"
    assert period_range("2024-K2") == "2024-04-01/2024-06-30"
    assert period_range("2023-K4") == "2023-10-01/2023-12-31"
