"""Accessibility in a real browser (issue #15): axe-core finds no serious or critical violation
on the map, an overview and the sign-in page; the map is operable by keyboard; on a 390 px
phone the panel and the layer control do not overlap and the map stays usable.

axe-core comes from its npm package like Leaflet (scripts/vendor-web.sh, docs/web-assets.md)
and is injected into the page by the test; no page of the app loads it. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from tests.browser_support import REPO, artifact
from tests.conftest import scalar
from tests.test_browser import READY, Watched, _sign_in_with_key
from tests.test_zoeken import _street_in_several_buurten

AXE = REPO / "app" / "static" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


# The map served over HTTP, Chromium and a desktop page: tests/conftest.py (base_url, browser, page).


@pytest.fixture
def phone(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True, locale="nl-NL"
    )
    yield Watched(context.new_page())
    context.close()


def serious_violations(page: Page) -> list[str]:
    """Run axe-core on the page as it stands; its serious and critical violations, one line
    each (rule, impact, help and the first elements it names)."""
    assert AXE.exists(), f"{AXE} is missing: run scripts/vendor-web.sh"
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"]["name"] == "axe-core" and len(result["passes"]) > 10  # it did run
    found = []
    for v in result["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
            found.append(f"{v['id']} ({v['impact']}): {v['help']}; {len(v['nodes'])}x, e.g. {targets}")
    return found


def _open(page: Watched, base_url: str, key: str | None, path: str) -> None:
    if key is None:
        page.page.goto(base_url + path)
    else:
        _sign_in_with_key(page.page, base_url, key, path)
    if path.startswith("/kaart"):
        page.page.wait_for_function(READY, timeout=30_000)


@pytest.mark.parametrize(
    ("name", "who", "path"),
    [
        ("aanmelden", None, "/aanmelden"),
        ("kaart", "analist", "/kaart?periode=2024&doel=analyse"),
        ("kaart-planner", "planner", "/kaart?periode=2024"),
        ("overzicht", "analist", "/gebieden/{buurt}?periode=2024"),
    ],
)
def test_axe_finds_no_serious_or_critical_violation(
    page: Watched,
    base_url: str,
    api_keys: dict[str, str],
    demo_engine: Engine,
    name: str,
    who: str | None,
    path: str,
) -> None:
    buurt = scalar(
        demo_engine,
        "SELECT min(code) FROM actueel_gebied WHERE soort = 'buurt' AND indeling = standaard_indeling('buurt')",
    )
    _open(page, base_url, api_keys[who] if who else None, path.format(buurt=buurt))
    violations = serious_violations(page.page)
    shot = artifact(f"axe-{name}.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert violations == [], "\n".join(violations)
    assert page.errors == []


def test_axe_finds_no_serious_or_critical_violation_on_a_phone(
    phone: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _open(phone, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    assert serious_violations(phone.page) == []
    phone.page.click("#paneelknop")  # the folded choices, opened
    assert serious_violations(phone.page) == []


def _focus_trail(page: Page, presses: int) -> list[str]:
    """What Tab reaches, in order, from the top of the page: an id, a name or a class per stop."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    trail = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        trail.append(
            page.evaluate(
                """() => {
                    const e = document.activeElement;
                    if (!e || e === document.body) return 'body';
                    if (e.classList.contains('leaflet-container')) return 'kaart';
                    if (e.closest('.leaflet-control-layers')) return 'lagen:' + e.tagName.toLowerCase();
                    if (e.id) return '#' + e.id;
                    if (e.name) return e.tagName.toLowerCase() + '[name=' + e.name + ']';
                    return e.tagName.toLowerCase() + '.' + e.className;
                }"""
            )
        )
    return trail


def test_the_map_is_operable_by_keyboard(
    page: Watched, base_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    _open(page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    trail = _focus_trail(page.page, 60)
    selects = [f"select[name={n}]" for n in ("soort", "indeling", "indicator", "thema", "periode", "doel")]
    for stop in ["#zoekterm", *selects, "lagen:input"]:
        assert stop in trail, f"{stop} not reached: " + " > ".join(trail)
    # The map itself takes focus, and zooms with + (Leaflet's keyboard handler).
    assert "kaart" in trail, " > ".join(trail)
    # The panel comes first: the search before the map.
    assert trail.index("#zoekterm") < trail.index("kaart") < trail.index("lagen:input")

    # A layer's checkbox: Space switches the layer off and on again.
    visible = page.page.evaluate("() => okaart.kaart.hasLayer(okaart.lagen.bedrijventerreinen)")
    page.page.locator(".leaflet-control-layers input").nth(1).focus()
    page.page.keyboard.press("Space")
    assert page.page.evaluate("() => okaart.kaart.hasLayer(okaart.lagen.bedrijventerreinen)") != visible
    page.page.keyboard.press("Space")
    assert page.page.evaluate("() => okaart.kaart.hasLayer(okaart.lagen.bedrijventerreinen)") == visible

    page.page.locator(".folium-map").focus()
    zoom = page.page.evaluate("() => okaart.kaart.getZoom()")
    page.page.keyboard.press("+")
    page.page.wait_for_function("(z) => okaart.kaart.getZoom() === z + 1", arg=zoom)

    # Enter in the search field searches; the candidates are reached with Tab.
    page.page.locator("#zoekterm").focus()
    page.page.keyboard.type(_street_in_several_buurten(demo_engine)[0])
    page.page.keyboard.press("Enter")
    page.page.wait_for_function(
        "() => document.querySelector('#zoeklijst button') || document.querySelector('#zoekuitkomst a.gevonden')",
        timeout=10_000,
    )
    first = page.page.evaluate("() => document.activeElement.className")
    assert first == "kandidaat"
    page.page.keyboard.press("Enter")
    page.page.locator("#zoekuitkomst a.gevonden").wait_for(timeout=10_000)
    assert page.errors == []


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@pytest.mark.parametrize("size", [(1280, 900), (1000, 760)])
def test_on_a_desktop_the_panel_and_the_layer_control_do_not_overlap(
    browser: Browser, base_url: str, api_keys: dict[str, str], size: tuple[int, int]
) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="nl-NL")
    page = Watched(context.new_page())
    _open(page, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")  # five layers listed
    panel, layers = _box(page.page, "#paneel"), _box(page.page, ".leaflet-control-layers")
    shot = artifact(f"kaart-paneel-{size[0]}.png")
    page.page.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert not _overlap(panel, layers), (panel, layers)
    assert page.page.locator("#keuze select[name=periode]").is_visible()
    context.close()
    assert page.errors == []


def test_on_a_phone_the_panel_leaves_the_layer_control_and_the_map_free(
    phone: Watched, base_url: str, api_keys: dict[str, str]
) -> None:
    _open(phone, base_url, api_keys["analist"], "/kaart?periode=2024&doel=analyse")
    p = phone.page
    width = p.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the screen
    # Folded at first: the title, the button and the search.
    assert p.locator("#paneelknop").get_attribute("aria-expanded") == "false"
    assert p.locator("#keuze").is_hidden() and p.locator("#zoekterm").is_visible()
    for state in ("dicht", "open"):
        shot = artifact(f"telefoon-paneel-{state}.png")
        p.screenshot(path=shot)
        print(f"screenshot: {shot}")
        panel, layers, legend, kaart = (
            _box(p, s) for s in ("#paneel", ".leaflet-control-layers", ".legenda", ".folium-map")
        )
        assert not _overlap(panel, layers), (state, panel, layers)
        assert not _overlap(panel, legend), (state, panel, legend)
        assert not _overlap(layers, legend), (state, layers, legend)
        assert layers["x"] + layers["width"] <= PHONE["width"] and layers["y"] >= kaart["y"]
        # The map keeps a usable share of the screen, and its middle is map, not a control.
        assert kaart["height"] >= 0.35 * PHONE["height"], (state, kaart)
        middle = p.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y);"
            " return !!e.closest('.leaflet-container') && !e.closest('.leaflet-control'); }",
            [kaart["x"] + kaart["width"] / 2, kaart["y"] + kaart["height"] / 2],
        )
        assert middle, state
        if state == "dicht":
            p.locator("#paneelknop").tap()
            assert p.locator("#paneelknop").get_attribute("aria-expanded") == "true"
            assert p.locator("#keuze select[name=indicator]").is_visible()

    # So is the legend's list of classes, below its title.
    assert p.locator(".legenda ul").is_hidden()
    p.locator(".legendaknop").tap()
    assert p.locator(".legenda ul").is_visible()
    assert not _overlap(_box(p, ".legenda"), _box(p, ".leaflet-control-layers"))
    p.locator(".legendaknop").tap()

    # The layer control is folded to its button; a tap opens it, still clear of the panel.
    p.locator("#paneelknop").tap()
    lagen = p.locator(".leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in (lagen.get_attribute("class") or "")
    p.locator(".leaflet-control-layers-toggle").tap()
    p.wait_for_function("() => document.querySelector('.leaflet-control-layers-expanded')")
    assert not _overlap(_box(p, "#paneel"), _box(p, ".leaflet-control-layers"))
    assert _box(p, ".leaflet-control-layers")["x"] >= 0
    shot = artifact("telefoon-lagen-open.png")
    p.screenshot(path=shot)
    print(f"screenshot: {shot}")

    # Usable: the zoom button zooms, and a tap on an area opens its popup.
    zoom = p.evaluate("() => okaart.kaart.getZoom()")
    p.locator(".leaflet-control-zoom-in").tap()
    p.wait_for_function("(z) => okaart.kaart.getZoom() === z + 1", arg=zoom)
    kaart = _box(p, ".folium-map")
    p.wait_for_function(READY, timeout=30_000)
    p.touchscreen.tap(kaart["x"] + kaart["width"] / 2, kaart["y"] + kaart["height"] / 2)
    p.locator(".leaflet-popup-content .popup").wait_for(timeout=10_000)
    # Leaflet pans the map to fit an opened popup, in an animation: measure once it ended.
    p.wait_for_function(
        "(w) => { const r = document.querySelector('.leaflet-popup-content-wrapper')"
        ".getBoundingClientRect(); return r.left >= 0 && r.right <= w; }",
        arg=PHONE["width"],
        timeout=10_000,
    )
    popup = _box(p, ".leaflet-popup-content-wrapper")
    assert popup["x"] >= 0 and popup["x"] + popup["width"] <= PHONE["width"], popup
    shot = artifact("telefoon-popup.png")
    p.screenshot(path=shot)
    print(f"screenshot: {shot}")
    assert phone.errors == []
