"""The map in a real browser (headless Chromium): it loads cleanly, draws every area,
and a click opens the area's popup with the right figure. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine, text

from core import sessions
from core.security import hash_key
from tests.browser_support import artifact
from tests.conftest import auth

READY = "() => window.okaart && window.okaart.klaar === true"


# base_url and browser: tests/conftest.py.


class Watched:
    """A page with its console errors and failed requests collected (requests the browser
    itself abandons when the page navigates away are not failures)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def _failed(self, request: Any) -> None:
        if "ERR_ABORTED" not in (request.failure or ""):
            self.errors.append(f"request failed: {request.url} ({request.failure})")


# page: tests/conftest.py.


def _sign_in_with_key(page: Page, base_url: str, key: str, path: str) -> None:
    page.goto(base_url + path)
    assert "/aanmelden" in page.url  # an anonymous browser is sent to the sign-in form
    page.fill("#sleutel", key)
    page.click("form.aanmelden button[type=submit]")
    page.wait_for_load_state()
    assert page.url == base_url + path, (page.url, page.content()[:3000])


def _expected_count(base_url: str, key: str, soort: str) -> int:
    r = httpx.get(f"{base_url}/gebieden", params={"soort": soort, "periode": "2024"}, headers=auth(key))
    assert r.status_code == 200
    return len(r.json()["gebieden"])


def _biggest_buurt_outside_parks(engine: Engine) -> tuple[str, float, float]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT b.code, ST_Y(p) AS lat, ST_X(p) AS lon FROM actueel_gebied b"
                " CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(b.geom), 4326) AS p) x"
                " WHERE b.soort = 'buurt' AND NOT EXISTS (SELECT 1 FROM actueel_gebied t"
                "   WHERE t.soort = 'bedrijventerrein' AND ST_DWithin(t.geom, ST_Transform(x.p, 28992), 200))"
                " ORDER BY ST_Area(b.geom) DESC LIMIT 1"
            )
        ).one()
    return str(row.code), float(row.lat), float(row.lon)


def _centre_and_wait(page: Page, lat: float, lon: float, zoom: int) -> None:
    """Put (lat, lon) in the middle of the map and wait until the area tiles have loaded."""
    page.evaluate(
        """([lat, lon, zoom]) => new Promise((resolve) => {
            const layer = okaart.lagen[okaart.gebied ?? Object.keys(okaart.lagen)[0]];
            okaart.kaart.closePopup();
            layer.once('load', () => resolve(true));
            okaart.kaart.setView([lat, lon], zoom, {animate: false});
        })""",
        [lat, lon, zoom],
    )


def _click_centre(page: Page) -> None:
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_analyst_map_draws_every_buurt_and_a_click_shows_the_figure(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["analist"]
    _sign_in_with_key(page.page, base_url, key, "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)

    drawn = page.page.evaluate(
        "() => Object.fromEntries(Object.entries(okaart.getekend).map(([k, v]) => [k, v.size]))"
    )
    assert drawn["buurten"] == _expected_count(base_url, key, "buurt") == 151
    assert drawn["bedrijventerreinen"] == _expected_count(base_url, key, "bedrijventerrein") > 0
    assert page.page.locator(".leaflet-tile-container svg path").count() >= 151
    assert page.page.locator(".legenda").inner_text().startswith("Signalen per 1.000 adressen")
    page.page.screenshot(path=artifact("kaart-buurten-analist.png"))

    code, lat, lon = _biggest_buurt_outside_parks(demo_engine)
    page.page.evaluate("() => { window.okaart.gebied = 'buurten'; }")
    _centre_and_wait(page.page, lat, lon, 14)
    _click_centre(page.page)
    popup = page.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    expected = httpx.get(f"{base_url}/gebieden/{code}", headers=auth(key)).json()
    row = next(p for p in expected["perioden"] if p["periode"] == "2024")
    assert row["naam"] in popup.inner_text()
    shown = popup.locator(".waarde").get_attribute("data-waarde")
    assert shown is not None and float(shown) == pytest.approx(float(row["per_1000_adressen"]))
    assert popup.locator("a.overzicht").get_attribute("href") == f"/gebieden/{code}?periode=2024"
    page.page.screenshot(path=artifact("kaart-popup-analist.png"))
    assert page.errors == []


def test_analyst_with_a_purpose_sees_signal_points(
    page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    page.page.wait_for_function(READY, timeout=30_000)
    page.page.evaluate(
        """() => new Promise((resolve) => {
            okaart.lagen.signalen.once('load', () => resolve(true));
            okaart.kaart.setView([53.2194, 6.5665], 15, {animate: false});
        })"""
    )
    assert page.page.evaluate("() => okaart.getekend.signalen.size") > 0
    page.page.screenshot(path=artifact("kaart-signalen-analist.png"))
    assert page.errors == []


def test_planner_signs_in_with_a_link_and_sees_suppressed_areas_only(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["planner"]
    with demo_engine.begin() as conn:
        key_id = conn.execute(
            text("SELECT id FROM api_key WHERE hash = :h"), {"h": hash_key(key)}
        ).scalar_one()
        token = sessions.create_link(conn, key_id, "/kaart?periode=2024&indicator=signalen")
    page.page.goto(f"{base_url}/aanmelden?token={token}&next=/kaart")
    page.page.wait_for_url(f"{base_url}/kaart?periode=2024&indicator=signalen")
    page.page.wait_for_function(READY, timeout=30_000)
    drawn = page.page.evaluate("() => Object.keys(okaart.getekend)")
    assert sorted(drawn) == ["bedrijventerreinen", "buurten"]
    assert page.page.evaluate("() => okaart.getekend.buurten.size") == 151
    assert "onderdrukt" in page.page.locator(".legenda").inner_text()
    page.page.screenshot(path=artifact("kaart-buurten-planner.png"))
    # Signing out ends the session: the map sends the browser back to the sign-in form.
    page.page.click("#paneel form[action='/afmelden'] button")
    page.page.wait_for_url(f"{base_url}/aanmelden")
    page.page.goto(f"{base_url}/kaart")
    assert "/aanmelden?next=" in page.page.url
    assert page.errors == []
