"""The printed map view (``/kaart/afdruk``, issue #15): an A4 PDF with embedded fonts that
names the municipality and the user, carries the caller's own figures only (a planner's
withheld figure does not appear), honours the view's box and choices, and is audited; the
map's "Afdrukken" link prints the view the browser shows."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from playwright.sync_api import Browser
from sqlalchemy import Engine, text

from app.formats import getal
from tests.browser_support import artifact
from tests.conftest import auth, scalar, zicht_id
from tests.test_browser import READY, Watched, _sign_in_with_key
from tests.test_gebiedsoverzicht import _pdftotext

A4_LANDSCAPE = (841.89, 595.28)  # points


def pdffonts(body: bytes, name: str) -> list[dict[str, str]]:
    """The fonts of a PDF as ``pdffonts`` lists them: name, type and the ``emb`` column."""
    tool = shutil.which("pdffonts")
    assert tool, "pdffonts is missing: run scripts/system-deps.sh as root (poppler-utils)"
    path = artifact(name)
    path.write_bytes(body)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()[2:]
    fonts = []
    for line in lines:
        cols = line.split()
        # name type [type...] encoding emb sub uni object ID: emb is the 5th from the end.
        fonts.append({"name": cols[0], "emb": cols[-5]})
    return fonts


def assert_fonts_embedded(body: bytes, name: str) -> None:
    fonts = pdffonts(body, name)
    assert fonts, "no fonts at all"
    assert all(f["emb"] == "yes" for f in fonts), fonts


def _print(client: Any, key: str, **params: str) -> Any:
    r = client.get("/kaart/afdruk", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    return r


def _withheld_buurt(engine: Engine, planner: str, analyst: str) -> dict[str, Any]:
    """A buurt whose 2024 signal count the planner's view withholds (1 to 9 signals), with the
    analyst's exact figure."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.code, p.naam, a.signalen FROM indicator_zicht p JOIN indicator_zicht a"
                " ON a.code = p.code AND a.gebied_soort = p.gebied_soort AND a.periode = p.periode"
                " AND a.thema = p.thema AND a.indeling = p.indeling AND a.zicht_id = :a"
                " WHERE p.zicht_id = :p AND p.gebied_soort = 'buurt' AND p.periode = '2024'"
                " AND p.thema = 'alle' AND p.signalen BETWEEN 1 AND 9 ORDER BY p.code LIMIT 1"
            ),
            {"p": zicht_id(engine, planner), "a": zicht_id(engine, analyst)},
        ).one()
    return dict(row._mapping)


def _line_of(body: str, naam: str, code: str) -> str:
    """The figure printed beside one area in the list of areas in view."""
    m = re.search(re.escape(f"{naam} ({code})") + r"\s+(\S+(?: \S+)?)", body)
    assert m, f"{naam} ({code}) not in the list"
    return m.group(1)


def test_the_print_embeds_its_fonts_and_names_municipality_and_user(
    client: Any, api_keys: dict[str, str]
) -> None:
    r = _print(client, api_keys["analist"], soort="buurt", indicator="per_1000_adressen", periode="2024")
    assert "attachment" in r.headers["content-disposition"]
    assert_fonts_embedded(r.content, "afdruk-analist.pdf")
    body = _pdftotext(r.content, "afdruk-analist.pdf")
    assert "Signalen per 1.000 adressen: buurten" in body  # the title
    assert "Gemeente Groningen" in body and "GM0014" not in body
    assert "test-analist (analist)" in body  # the user and role
    assert re.search(r"\d{2}-\d{2}-20\d{2}", body)  # the date
    assert "Legenda" in body and "geen waarde" in body
    assert "periode 2024" in body and "alle thema's" in body
    # A4 landscape: the first page's MediaBox.
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", r.content)
    assert box and (round(float(box[1]), 1), round(float(box[2]), 1)) == (
        round(A4_LANDSCAPE[0], 1),
        round(A4_LANDSCAPE[1], 1),
    )


def test_the_print_carries_the_callers_own_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    buurt = _withheld_buurt(demo_engine, api_keys["planner"], api_keys["analist"])
    params = {"soort": "buurt", "indicator": "signalen", "periode": "2024"}
    analyst = _pdftotext(_print(client, api_keys["analist"], **params).content, "afdruk-signalen-analist.pdf")
    planner = _pdftotext(_print(client, api_keys["planner"], **params).content, "afdruk-signalen-planner.pdf")
    assert _line_of(analyst, buurt["naam"], buurt["code"]) == getal(buurt["signalen"])
    assert _line_of(planner, buurt["naam"], buurt["code"]) == "geen waarde"
    assert "aantallen onder 10 zijn onderdrukt" in " ".join(planner.split())
    assert "de rest is afgerond" not in " ".join(analyst.split())
    # Every count the planner's print lists is published: 10 or more, a multiple of 5.
    listed = re.findall(r"\(BU\d{8}\)\s+(\d[\d.]*)\b", planner)
    assert listed and all(int(v.replace(".", "")) >= 10 and int(v.replace(".", "")) % 5 == 0 for v in listed)


def test_the_print_honours_box_and_theme(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    key = api_keys["analist"]
    whole = _pdftotext(_print(client, key, soort="buurt", periode="2024").content, "afdruk-heel.pdf")
    # A box of about 1 km around the Grote Markt holds a few buurten, not all of them.
    box = "6.5590,53.2160,6.5740,53.2230"
    part = _pdftotext(_print(client, key, soort="buurt", periode="2024", bbox=box).content, "afdruk-deel.pdf")
    in_whole, in_part = set(re.findall(r"\((BU\d{8})\)", whole)), set(re.findall(r"\((BU\d{8})\)", part))
    assert 0 < len(in_part) < len(in_whole) and in_part <= in_whole
    with demo_engine.connect() as conn:
        expected = set(
            conn.execute(
                text(
                    "SELECT code FROM actueel_gebied WHERE soort = 'buurt' AND indeling = 'cbs' AND"
                    " ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(6.5590, 53.2160, 6.5740, 53.2230, 4326), 28992))"
                )
            ).scalars()
        )
    assert expected <= in_part  # the fitted print shows at least the asked box
    # The theme: the per-area figures are that theme's.
    drugs = _pdftotext(
        _print(client, key, soort="wijk", indicator="signalen", periode="2024", thema="drugs").content,
        "afdruk-drugs.pdf",
    )
    assert "thema drugs" in drugs
    z = zicht_id(demo_engine, key)
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, naam, signalen FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'wijk'"
                " AND periode = '2024' AND thema = 'drugs' AND standaard_indeling('wijk') = indeling"
            ),
            {"z": z},
        ).all()
    assert rows
    for code, naam, signalen in rows:
        assert _line_of(drugs, naam, code) == getal(signalen)


def test_bad_views_are_refused_and_the_print_is_audited(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    headers = auth(api_keys["analist"])
    for params in (
        {"bbox": "1,2,3"},
        {"bbox": "6.6,53.2,6.5,53.3"},
        {"bbox": "0,40,10,60"},
        {"bbox": "a,b,c,d"},
        {"indicator": "geheim"},
        {"soort": "pc6"},
        {"thema": "alles"},
        {"periode": "1999"},
        {"soort": "wijk", "indicator": "risicobranches"},
    ):
        r = client.get("/kaart/afdruk", params=params, headers=headers)
        assert r.status_code == 400, (params, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/kaart/afdruk").status_code == 401
    before = scalar(
        demo_engine, "SELECT count(*) FROM audit_log WHERE route = '/kaart/afdruk' AND status = 200"
    )
    _print(client, api_keys["planner"], soort="wijk", bbox="6.50,53.18,6.62,53.25")
    with demo_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT gebied, bbox, aantal FROM audit_log WHERE route = '/kaart/afdruk' AND status = 200"
                " ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert scalar(
        demo_engine, "SELECT count(*) FROM audit_log WHERE route = '/kaart/afdruk' AND status = 200"
    ) == (before + 1)
    assert row.gebied == "wijk" and row.bbox and row.aantal > 0


def test_a_print_elsewhere_holds_nothing_of_groningen(client: Any, api_keys: dict[str, str]) -> None:
    r = _print(client, api_keys["analist_elders"], soort="buurt")
    body = _pdftotext(r.content, "afdruk-elders.pdf")
    assert "geen cijfers" in body and "BU0014" not in body and "Groningen" not in body
    assert_fonts_embedded(r.content, "afdruk-elders.pdf")


def test_the_risk_branch_map_prints_without_a_period(client: Any, api_keys: dict[str, str]) -> None:
    r = _print(client, api_keys["analist"], soort="bedrijventerrein", indicator="risicobranches")
    body = _pdftotext(r.content, "afdruk-risicobranches.pdf")
    assert "Risicobranches: adressen met een vestiging: bedrijventerreinen" in body
    assert "periode" not in body.split("Legenda")[0]


# -- the button on the map, in Chromium ----------------------------------------------------------


# base_url and browser: tests/conftest.py.


def test_the_afdrukken_button_prints_the_view_on_screen(
    browser: Browser, base_url: str, api_keys: dict[str, str]
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    watched = Watched(context.new_page())
    page = watched.page
    _sign_in_with_key(page, base_url, api_keys["analist"], "/kaart?soort=wijk&indicator=signalen&thema=drugs")
    page.wait_for_function(READY, timeout=20_000)
    page.evaluate("() => okaart.kaart.setView([53.2194, 6.5665], 15, {animate: false})")
    link = page.locator("#afdrukken")
    assert link.inner_text() == "Afdrukken"
    page.wait_for_function("() => document.getElementById('afdrukken').href.includes('bbox=')")
    href = link.get_attribute("href") or ""
    assert "soort=wijk" in href and "indicator=signalen" in href and "thema=drugs" in href
    found = re.search(r"bbox=([^&]+)", href)
    assert found
    printed = [float(v) for v in found[1].replace("%2C", ",").split(",")]
    bounds = page.evaluate(
        "() => { const b = okaart.kaart.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"
    )
    assert all(abs(a - b) < 1e-4 for a, b in zip(printed, bounds, strict=True)), (printed, bounds)
    response = context.request.get(base_url + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    body = _pdftotext(response.body(), "afdruk-knop.pdf")
    assert "Aantal signalen: wijken" in body and "thema drugs" in body and "Gemeente Groningen" in body
    page.screenshot(path=str(artifact("afdruk-knop.png")))
    assert not watched.errors, watched.errors
    context.close()
