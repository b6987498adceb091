"""Ways into the map (issue #15): search by postcode, street and house number, and the view as
a link. The search answers candidates within the caller's municipalities; a planner gets the
buurt, never an address's own point; the browser lands on the right buurt with its figures.
A shared link reopens the same view, and back from an overview returns to it. Screenshots go
to test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, text

from app import zoeken
from core.security import Principal
from tests.browser_support import artifact
from tests.conftest import auth, scalar
from tests.test_browser import READY, Watched, _sign_in_with_key

#: One address of Groningen whose street and number name it alone (no letter, no addition,
#: no other address with the same street name and number), with its buurt and point.
UNIQUE_ADDRESS = """
    SELECT v.openbare_ruimte AS straat, v.huisnummer, v.postcode, v.buurtcode, v.wijkcode, b.naam AS buurtnaam,
           ST_X(ST_Transform(v.geom, 4326)) AS lon, ST_Y(ST_Transform(v.geom, 4326)) AS lat,
           ST_X(ST_Transform(ST_PointOnSurface(b.geom), 4326)) AS buurt_lon,
           ST_Y(ST_Transform(ST_PointOnSurface(b.geom), 4326)) AS buurt_lat
    FROM verblijfsobject v
    JOIN actueel_gebied b ON b.soort = 'buurt' AND b.indeling = standaard_indeling('buurt') AND b.code = v.buurtcode
    WHERE v.gemeentecode = 'GM0014' AND v.huisletter IS NULL AND v.huisnummertoevoeging IS NULL
      AND v.openbare_ruimte ~ '^[A-Z][a-z]+(straat|weg|laan)$'
      AND (SELECT count(*) FROM verblijfsobject w WHERE lower(w.openbare_ruimte) = lower(v.openbare_ruimte)
           AND w.huisnummer = v.huisnummer) = 1
      AND (SELECT count(*) FROM verblijfsobject w WHERE w.postcode = v.postcode
           AND w.huisnummer = v.huisnummer) = 1
    ORDER BY v.openbare_ruimte, v.huisnummer OFFSET :n LIMIT 1
"""


def _street_in_several_buurten(engine: Engine) -> tuple[str, list[str]]:
    """The street of Groningen with the most addresses among those through two to five buurten."""
    with engine.connect() as conn:
        straat, buurten = conn.execute(
            text(
                "SELECT openbare_ruimte, array_agg(DISTINCT buurtcode ORDER BY buurtcode) FROM verblijfsobject"
                " WHERE gemeentecode = 'GM0014' AND buurtcode IS NOT NULL GROUP BY openbare_ruimte"
                " HAVING count(DISTINCT buurtcode) BETWEEN 2 AND 5 AND count(DISTINCT woonplaats) = 1"
                " ORDER BY count(*) DESC, openbare_ruimte LIMIT 1"
            )
        ).one()
    return str(straat), list(buurten)


def _address(engine: Engine, n: int = 0) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(text(UNIQUE_ADDRESS), {"n": n}).mappings().one())


# -- what was typed --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "vraag", "postcode", "straat", "nummer", "letter"),
    [
        ("9711 AA 12", "postcode", "9711AA", None, 12, None),
        ("9711aa12b", "postcode", "9711AA", None, 12, "B"),
        ("9711 aa", "postcode", "9711AA", None, None, None),
        ("Oosterstraat 12", "adres", None, "oosterstraat", 12, None),
        ("  Oosterstraat   12 a ", "adres", None, "oosterstraat", 12, "A"),
        ("2e Hugo de Grootstraat 7-1", "adres", None, "2e hugo de grootstraat", 7, None),
        ("Oosterstraat, 3", "adres", None, "oosterstraat", 3, None),
        ("ooster", "straat", None, "ooster", None, None),
        ("9711 aardappelstraat", "straat", None, "9711 aardappelstraat", None, None),
    ],
)
def test_what_was_typed_is_read_as_a_postcode_an_address_or_a_street(
    typed: str, vraag: str, postcode: str | None, straat: str | None, nummer: int | None, letter: str | None
) -> None:
    found = zoeken.begrijp(typed)
    assert found == zoeken.Zoekvraag(
        vraag=vraag,  # type: ignore[arg-type]
        postcode=postcode,
        straat=straat,
        huisnummer=nummer,
        huisletter=letter,
    )


@pytest.mark.parametrize("typed", ["12", "  1 ", "%%", "--", "a"])
def test_a_number_alone_or_a_single_letter_is_no_question(typed: str) -> None:
    assert zoeken.begrijp(typed) is None


def test_wildcards_in_a_street_name_are_taken_literally() -> None:
    vraag = zoeken.begrijp("a_b%")
    assert vraag is not None
    _, params = zoeken.statement(vraag, Principal(1, "x", "analist", "o", (), ("GM0014",), ()), 10)
    assert params["straat"] == r"a\_b\%%"


# -- the API ---------------------------------------------------------------------------------


def test_a_street_and_number_is_found_with_its_buurt_and_point(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    address = _address(demo_engine)
    typed = f"{address['straat'].lower()} {address['huisnummer']}"
    r = client.get("/zoeken", params={"q": typed}, headers=auth(api_keys["analist"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["vraag"] == "adres" and len(body["kandidaten"]) == 1
    found = body["kandidaten"][0]
    assert found["soort"] == "adres" and found["punt"] == "adres"
    assert (found["straat"], found["huisnummer"], found["postcode"]) == (
        address["straat"], address["huisnummer"], address["postcode"],
    )  # fmt: skip
    assert (found["buurtcode"], found["buurtnaam"], found["wijkcode"]) == (
        address["buurtcode"], address["buurtnaam"], address["wijkcode"],
    )  # fmt: skip
    assert found["lon"] == pytest.approx(address["lon"], abs=1e-6)
    assert found["lat"] == pytest.approx(address["lat"], abs=1e-6)
    pc = address["postcode"]
    assert found["label"] == (
        f"{address['straat']} {address['huisnummer']}, {pc[:4]} {pc[4:]} Groningen (buurt {address['buurtnaam']})"
    )
    # The same address by postcode and number.
    r = client.get(
        "/zoeken",
        params={"q": f"{pc[:4]} {pc[4:]} {address['huisnummer']}"},
        headers=auth(api_keys["analist"]),
    )
    assert [k["buurtcode"] for k in r.json()["kandidaten"]] == [address["buurtcode"]]
    assert r.json()["vraag"] == "postcode"


def test_the_start_of_a_street_name_lists_the_street_once_per_buurt(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    straat, buurten = _street_in_several_buurten(demo_engine)
    with demo_engine.connect() as conn:
        per_buurt = dict(
            conn.execute(
                text(
                    "SELECT buurtcode, count(*) FROM verblijfsobject WHERE openbare_ruimte = :s"
                    " AND gemeentecode = 'GM0014' GROUP BY buurtcode"
                ),
                {"s": straat},
            ).all()
        )
    r = client.get("/zoeken", params={"q": straat.upper()}, headers=auth(api_keys["analist"]))
    body = r.json()
    assert body["vraag"] == "straat"
    exact = [k for k in body["kandidaten"] if k["straat"] == straat]
    # The street typed in full comes first, one candidate per buurt it runs through, each
    # with its number of addresses and a point on the street in that buurt.
    assert body["kandidaten"][: len(exact)] == exact
    assert sorted(k["buurtcode"] for k in exact) == buurten
    assert {k["buurtcode"]: k["adressen"] for k in exact} == per_buurt
    assert all(k["punt"] == "straat" and k["huisnummer"] is None for k in exact)
    prefix = straat[:4].lower()
    r = client.get("/zoeken", params={"q": prefix, "limit": 25}, headers=auth(api_keys["analist"]))
    names = [k["straat"] for k in r.json()["kandidaten"]]
    assert names and all(n.lower().startswith(prefix) for n in names)
    assert len(names) <= 25


def test_a_planner_is_taken_to_the_buurt_not_to_the_address(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    address = _address(demo_engine)
    typed = f"{address['straat']} {address['huisnummer']}"
    r = client.get("/zoeken", params={"q": typed}, headers=auth(api_keys["planner"]))
    assert r.status_code == 200
    [found] = r.json()["kandidaten"]
    assert found["buurtcode"] == address["buurtcode"] and found["punt"] == "buurt"
    assert found["lon"] == pytest.approx(address["buurt_lon"], abs=1e-6)
    assert found["lat"] == pytest.approx(address["buurt_lat"], abs=1e-6)
    # And /locate at that point names the same buurt, with its published figures.
    located = client.get(
        "/locate", params={"lon": found["lon"], "lat": found["lat"]}, headers=auth(api_keys["planner"])
    ).json()
    assert [g["code"] for g in located["gebieden"] if g["soort"] == "buurt"] == [address["buurtcode"]]


def test_another_municipality_finds_nothing_and_each_search_is_audited(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    address = _address(demo_engine, 3)
    typed = f"{address['straat']} {address['huisnummer']}"
    r = client.get("/zoeken", params={"q": typed}, headers=auth(api_keys["analist_elders"]))
    assert r.status_code == 200 and r.json()["kandidaten"] == []
    before = scalar(
        demo_engine, "SELECT count(*) FROM audit_log WHERE route = '/zoeken' AND principal = 'test-analist'"
    )
    client.get("/zoeken", params={"q": typed}, headers=auth(api_keys["analist"]))
    with demo_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT aantal, gebied, status FROM audit_log WHERE route = '/zoeken'"
                " AND principal = 'test-analist' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    after = scalar(
        demo_engine, "SELECT count(*) FROM audit_log WHERE route = '/zoeken' AND principal = 'test-analist'"
    )
    assert after == before + 1
    assert tuple(row) == (1, address["buurtcode"], 200)


@pytest.mark.parametrize("typed", ["12", "%%"])
def test_what_names_nothing_is_a_dutch_400(client: Any, api_keys: dict[str, str], typed: str) -> None:
    r = client.get("/zoeken", params={"q": typed}, headers=auth(api_keys["analist"]))
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert "straatnaam" in r.json()["detail"]


def test_a_street_prefix_is_one_index_range(demo_engine: Engine) -> None:
    """Fast: the prefix and the number are read from the street index (migration 0018), not by
    scanning every address."""
    vraag = zoeken.begrijp("oost 12")
    assert vraag is not None
    sql, params = zoeken.statement(vraag, Principal(1, "x", "analist", "o", (), ("GM0014",), ()), 10)
    with demo_engine.connect() as conn:
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}"), params))
    assert "verblijfsobject_straat_idx" in plan, plan


# -- in the browser --------------------------------------------------------------------------


# The map served over HTTP, Chromium and a desktop page: tests/conftest.py (base_url, browser, page).


def _view(page: Page) -> tuple[int, float, float]:
    zoom, lat, lon = page.evaluate(
        "() => [okaart.kaart.getZoom(), okaart.kaart.getCenter().lat, okaart.kaart.getCenter().lng]"
    )
    return int(zoom), float(lat), float(lon)


def _search(page: Page, typed: str) -> None:
    page.fill("#zoekterm", typed)
    page.press("#zoekterm", "Enter")


def test_a_street_and_a_postcode_search_land_on_the_right_buurt(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    address = _address(demo_engine, 7)
    # No purpose chosen: addresses are register data, the search needs none.
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)
    found = page.page.locator("#zoekuitkomst a.gevonden")
    for typed in (
        f"{address['straat']} {address['huisnummer']}",
        f"{address['postcode'][:4]} {address['postcode'][4:].lower()} {address['huisnummer']}",
    ):
        page.page.evaluate("() => okaart.kaart.setView([53.2, 6.6], 12, {animate: false})")
        _search(page.page, typed)
        page.page.wait_for_function(
            "(code) => { const a = document.querySelector('#zoekuitkomst a.gevonden');"
            " return a && a.dataset.code === code; }",
            arg=address["buurtcode"],
            timeout=10_000,
        )
        assert found.inner_text() == address["buurtnaam"]
        assert found.get_attribute("href") == f"/gebieden/{address['buurtcode']}?periode=2024"
        # The buurt's figures from /locate, as the analyst may see them.
        assert "per 1.000 adressen" in page.page.locator("#zoekuitkomst .cijfers").inner_text()
        zoom, lat, lon = _view(page.page)
        assert zoom >= 16 and abs(lat - address["lat"]) < 1e-5 and abs(lon - address["lon"]) < 1e-5, typed
    shot = artifact("zoeken-straat-nummer.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")

    # A street alone: a list to choose from; a choice lands on its buurt.
    straat, _ = _street_in_several_buurten(demo_engine)
    _search(page.page, straat)
    choices = page.page.locator("#zoeklijst button.kandidaat")
    choices.first.wait_for(timeout=10_000)
    assert choices.count() > 1
    assert page.page.evaluate("() => document.activeElement.classList.contains('kandidaat')")
    label = choices.nth(1).inner_text()
    choices.nth(1).click()
    found.wait_for(timeout=10_000)
    assert f"(buurt {found.inner_text()})" in label
    assert page.errors == []


def test_a_planner_searches_to_the_buurt_with_its_published_figures(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    address = _address(demo_engine, 11)
    _sign_in_with_key(page.page, base_url, api_keys["planner"], "/kaart?periode=2024")
    page.page.wait_for_function(READY, timeout=30_000)
    _search(page.page, f"{address['straat']} {address['huisnummer']}")
    found = page.page.locator("#zoekuitkomst a.gevonden")
    found.wait_for(timeout=10_000)
    assert found.get_attribute("data-code") == address["buurtcode"]
    _, lat, lon = _view(page.page)
    assert abs(lat - address["buurt_lat"]) < 1e-5 and abs(lon - address["buurt_lon"]) < 1e-5
    assert (
        abs(lat - address["lat"]) + abs(lon - address["lon"]) > 1e-6 or address["lat"] == address["buurt_lat"]
    )
    assert page.page.evaluate("() => !okaart.gezocht")  # no marker on an address
    assert page.errors == []


def _controls(page: Page) -> dict[str, str]:
    return {
        name: page.locator(f"#keuze select[name={name}]").input_value()
        for name in ("soort", "indicator", "thema", "periode")
    }


def test_a_shared_link_reopens_the_view_and_back_from_an_overview_restores_it(
    browser: Browser, page: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    want = {"soort": "wijk", "indicator": "signalen", "thema": "drugs", "periode": "2023"}
    link = f"{base_url}/kaart?soort=wijk&indicator=signalen&thema=drugs&periode=2023#14/53.21500/6.57000"
    # A colleague's link, opened in a browser of one's own (after signing in).
    _sign_in_with_key(page.page, base_url, api_keys["analist"], "/kaart")
    page.page.goto(link)
    page.page.wait_for_function(READY, timeout=30_000)
    assert _controls(page.page) == want
    assert _view(page.page) == pytest.approx((14, 53.215, 6.57), abs=1e-5)
    assert page.page.locator(".legenda h4").inner_text() == "Aantal signalen"

    # A click on an area opens its popup; its link leads to the overview; back returns.
    box = page.page.locator(".folium-map").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7)
    link_out = page.page.locator(".leaflet-popup-content a.overzicht")
    link_out.wait_for(timeout=10_000)
    page.page.wait_for_timeout(300)  # a popup near the edge pans the map: the URL follows
    before_url, before_view = page.page.url, _view(page.page)
    assert before_url.startswith(f"{base_url}/kaart?") and "#14/" in before_url
    link_out.click()
    page.page.wait_for_url(lambda u: "/gebieden/" in u)
    assert page.page.locator("h1").inner_text().startswith("Gebiedsoverzicht")
    page.page.go_back()
    page.page.wait_for_function(READY, timeout=30_000)
    assert page.page.url == before_url
    assert _view(page.page) == pytest.approx(before_view, abs=1e-5)
    assert _controls(page.page) == want
    shot = artifact("kaart-terug-van-overzicht.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert page.errors == []
