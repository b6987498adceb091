"""The gebiedsoverzicht (HTML, PDF, CSV) and the area exports (CSV, GeoPackage): the figures
are the map's, and a planner's pass the same disclosure checks as the map API."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from typing import Any

import geopandas as gpd
import pytest
from sqlalchemy import Engine, text

from app.formats import getal
from app.overview import KOLOMMEN
from tests.browser_support import artifact
from tests.conftest import auth, zicht_id

K = 10
COUNTS = ("signalen", "adressen", "leegstand", "pandsluitingen", "bibob", "controles", "meldingen")
DERIVED = {"per_1000_adressen": "signalen", "verwacht": "signalen", "z": "signalen", "afwijkend": "signalen",
           "trend_z": "signalen", "leegstand_pct": "leegstand"}  # fmt: skip
BAG_ID = re.compile(r"(?<!\d)\d{16}(?!\d)")
POSTCODE = re.compile(r"\b[1-9]\d{3} ?[A-Z]{2}\b")


def _blank(value: Any) -> bool:
    return (
        value is None or value == "" or (isinstance(value, float) and value != value) or str(value) == "<NA>"
    )


def assert_disclosure_safe(rows: list[dict[str, Any]]) -> int:
    """Counts < k withheld, others rounded to 5, derived figures of withheld counts withheld,
    ``onderdrukt`` set exactly when something is withheld. Returns how many rows withhold."""
    withheld_rows = 0
    for row in rows:
        withheld = False
        for name in COUNTS:
            value = row[name]
            if _blank(value):
                withheld = True
            else:
                assert int(value) >= K and int(value) % 5 == 0, (name, row)
        for name, basis in DERIVED.items():
            if _blank(row[basis]):
                assert _blank(row[name]), (name, row)
        assert str(row["onderdrukt"]).lower() == str(withheld).lower(), row
        withheld_rows += withheld
    return withheld_rows


def assert_no_object_data(body: str) -> None:
    assert not BAG_ID.search(body), "a BAG id"
    assert not POSTCODE.search(body), "a postcode"
    assert "signaal:" not in body and "geom_3857" not in body


def _small_buurt(engine: Engine, key: str) -> dict[str, Any]:
    """A buurt where the planner's view has a few (1 to 9) signals in 2024, so its figure is withheld."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT code, naam, signalen FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'buurt'"
                " AND periode = '2024' AND thema = 'alle' AND signalen BETWEEN 1 AND 9 ORDER BY code LIMIT 1"
            ),
            {"z": zicht_id(engine, key)},
        ).one()
    return dict(row._mapping)


def _big_buurt(engine: Engine, key: str) -> dict[str, Any]:
    """The buurt with the most signals in 2024 that this key's view holds, and its figures."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT code, naam, signalen, adressen, per_1000_adressen FROM indicator_zicht"
                " WHERE zicht_id = :z AND gebied_soort = 'buurt' AND periode = '2024' AND thema = 'alle'"
                " ORDER BY signalen DESC LIMIT 1"
            ),
            {"z": zicht_id(engine, key)},
        ).one()
    return dict(row._mapping)


def _pdftotext(body: bytes, name: str) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: run scripts/system-deps.sh as root (apt-get install poppler-utils)"
    path = artifact(name)
    path.write_bytes(body)
    return subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_overview_html_for_an_analyst(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    buurt = _big_buurt(demo_engine, api_keys["analist"])
    r = client.get(f"/gebieden/{buurt['code']}", headers={**auth(api_keys["analist"]), "Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert f"Gebiedsoverzicht {buurt['naam']}" in html
    assert f'<td class="getal">{getal(buurt["signalen"])}</td>' in html
    assert "Signalen per thema" in html  # cleared role
    assert html.count("<svg") == 3  # the trend chart, the small map and the locator
    assert "gemeente Groningen" in html and "gemeente GM0014" not in html
    assert html.count('class="schaal"') == 2  # a scale bar on the map and on the locator
    assert "Waar de cijfers op berusten" in html and "Adressen (BAG-verblijfsobjecten): stand" in html
    assert "/static/okaart.css" in html and "https://" not in html


def test_overview_pdf_holds_the_name_and_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    buurt = _big_buurt(demo_engine, api_keys["analist"])
    audited_sql = text(
        "SELECT count(*) FROM audit_log WHERE route = '/gebieden/{code}' AND gebied = :c AND status = 200"
    )
    with demo_engine.connect() as conn:
        before = conn.execute(audited_sql, {"c": buurt["code"]}).scalar_one()
    r = client.get(
        f"/gebieden/{buurt['code']}",
        params={"f": "pdf", "periode": "2024"},
        headers=auth(api_keys["analist"]),
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    body = _pdftotext(r.content, f"gebiedsoverzicht-{buurt['code']}.pdf")
    assert f"Gebiedsoverzicht {buurt['naam']}" in body
    for figure in (getal(buurt["signalen"]), getal(buurt["adressen"]), getal(buurt["per_1000_adressen"])):
        assert figure in body, figure
    assert "Signalen per jaar" in body and "2024" in body and "pagina 1/" in body
    with demo_engine.connect() as conn:
        audited = conn.execute(audited_sql, {"c": buurt["code"]}).scalar_one()
    assert audited == before + 1  # this very download left its row


def test_a_planners_overview_withholds_small_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    buurt = _small_buurt(demo_engine, api_keys["planner"])
    headers = auth(api_keys["planner"])
    html = client.get(f"/gebieden/{buurt['code']}", params={"f": "html"}, headers=headers).text
    assert "onderdrukt" in html and "Signalen per thema" not in html
    assert f'<td class="getal">{buurt["signalen"]}</td>' not in html
    assert_no_object_data(html)

    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/gebieden/{buurt['code']}", params={"f": "csv"}, headers=headers).text)
        )
    )
    assert [r["periode"] for r in rows] == ["2023", "2024", "2025"]
    assert assert_disclosure_safe(rows) >= 1
    assert next(r for r in rows if r["periode"] == "2024")["signalen"] == ""

    pdf = client.get(f"/gebieden/{buurt['code']}", params={"f": "pdf"}, headers=headers)
    body = _pdftotext(pdf.content, f"gebiedsoverzicht-{buurt['code']}-planner.pdf")
    assert buurt["naam"] in body and "onderdrukt" in body and "Partners met signalen" not in body
    assert_no_object_data(body)


@pytest.mark.parametrize("soort", ["buurt", "wijk", "bedrijventerrein", "buitengebied"])
def test_a_planners_exports_pass_the_disclosure_checks(
    client: Any, api_keys: dict[str, str], soort: str
) -> None:
    headers = auth(api_keys["planner"])
    params = {"soort": soort, "periode": "2024-K1", "thema": "mensenhandel"}
    r = client.get("/gebieden", params={**params, "f": "csv"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    assert_no_object_data(r.text)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [*KOLOMMEN, "onderdrukt"]
    withheld = assert_disclosure_safe(rows)

    g = client.get("/gebieden", params={**params, "f": "gpkg"}, headers=headers)
    assert g.status_code == 200 and g.content[:16] == b"SQLite format 3\x00"
    frame = gpd.read_file(io.BytesIO(g.content))
    assert frame.crs.to_epsg() == 28992 and len(frame) == len(rows)
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
    assert set(frame.columns) == {*KOLOMMEN, "onderdrukt", "geometry"}
    assert assert_disclosure_safe(frame.drop(columns="geometry").to_dict("records")) == withheld
    if soort == "buurt":
        assert withheld > 0  # the check above had something to check


def test_an_analysts_export_has_the_exact_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    r = client.get(
        "/gebieden",
        params={"soort": "wijk", "periode": "2024", "f": "csv"},
        headers=auth(api_keys["analist"]),
    )
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert "onderdrukt" not in next(iter(rows.values()))
    with demo_engine.connect() as conn:
        exact = dict(
            conn.execute(
                text(
                    "SELECT code, signalen FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'wijk' AND periode = '2024' AND thema = 'alle'"
                ),
                {"z": zicht_id(demo_engine, api_keys["analist"])},
            ).all()
        )
    assert {code: int(row["signalen"]) for code, row in rows.items()} == exact


def test_formats_and_errors(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    assert client.get("/gebieden", params={"soort": "wijk", "f": "pdf"}, headers=headers).status_code == 406
    assert client.get("/gebieden/BU00000000", params={"f": "pdf"}, headers=headers).status_code == 404
    elsewhere = client.get(
        "/gebieden", params={"soort": "wijk", "f": "csv"}, headers=auth(api_keys["analist_elders"])
    )
    assert (
        elsewhere.status_code == 200 and elsewhere.text.count("\n") == 1
    )  # header only: not their municipality


# -- for a council memo (issue #15): fonts, the municipality, a locator, themes, dates --------


def _pdffonts_embedded(body: bytes, name: str) -> list[str]:
    """The ``emb`` column of every font ``pdffonts`` lists."""
    tool = shutil.which("pdffonts")
    assert tool, "pdffonts is missing: run scripts/system-deps.sh as root (poppler-utils)"
    path = artifact(name)
    path.write_bytes(body)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[-5] for line in out.splitlines()[2:]]


@pytest.mark.parametrize("key", ["analist", "planner"])
def test_the_overview_pdf_embeds_its_fonts_and_names_the_municipality(
    client: Any, api_keys: dict[str, str], demo_engine: Engine, key: str
) -> None:
    buurt = _big_buurt(demo_engine, api_keys[key])
    r = client.get(f"/gebieden/{buurt['code']}", params={"f": "pdf"}, headers=auth(api_keys[key]))
    embedded = _pdffonts_embedded(r.content, f"gebiedsoverzicht-fonts-{key}.pdf")
    assert embedded and set(embedded) == {"yes"}, embedded
    body = _pdftotext(r.content, f"gebiedsoverzicht-fonts-{key}.pdf")
    assert "gemeente Groningen" in body and "GM0014" not in body
    # The locator's caption, over two lines beside the small map.
    assert "Ligging van het gebied in" in body and "de gemeente Groningen." in body
    assert "Gemeente Groningen" in body  # the comparison


def test_the_chart_value_stays_clear_of_its_title() -> None:
    from app.svg import TITLE_Y, trend_chart

    svg = trend_chart([("2023", 80.0), ("2024", 120.0), ("2025", None)], "Signalen per jaar")
    values = [
        (float(y), float(size))
        for y, size, label in re.findall(
            r'<text x="[\d.]+" y="([\d.]+)" font-size="(\d+)"[^>]*>([^<]+)</text>', svg
        )
        if label in ("120", "80", "onderdrukt")
    ]
    assert len(values) == 3
    # The tallest bar's value: its cap height (about 0.75 of the size) stays below the title's
    # baseline with room for the title's descenders.
    top_of_highest = min(y - 0.75 * size for y, size in values)
    assert top_of_highest >= TITLE_Y + 6, top_of_highest


def test_scale_bar_lengths() -> None:
    from app.svg import scale_length, scale_text

    assert scale_length(3000) == 500 and scale_text(500) == "500 m"
    assert scale_length(30_000) == 5000 and scale_text(5000) == "5 km"
    assert scale_length(11_000) == 2500 and scale_text(2500) == "2,5 km"
    assert scale_length(20) == 10  # never none at all


def _json_periods(client: Any, key: str, code: str, thema: str) -> dict[str, dict[str, Any]]:
    r = client.get(f"/gebieden/{code}", params={"f": "json", "thema": thema}, headers=auth(key))
    assert r.status_code == 200
    return {p["periode"]: p for p in r.json()["perioden"]}


def test_the_theme_is_honoured_in_html_pdf_and_csv(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["analist"]
    buurt = _big_buurt(demo_engine, key)
    code = buurt["code"]
    pages: dict[str, str] = {}
    for thema in ("drugs", "vastgoed"):
        expected = _json_periods(client, key, code, thema)
        assert expected and all(p["thema"] == thema for p in expected.values())
        html = client.get(f"/gebieden/{code}", params={"f": "html", "thema": thema}, headers=auth(key)).text
        pages[thema] = html
        assert f"thema {thema}" in html and "Signalen per thema" not in html
        for periode, row in expected.items():
            cells = f'<tr><td>{periode}</td><td class="getal">{getal(row["signalen"])}</td>'
            assert cells in html, (thema, periode)
        latest = max(expected)
        pdf = client.get(f"/gebieden/{code}", params={"f": "pdf", "thema": thema}, headers=auth(key))
        body = _pdftotext(pdf.content, f"gebiedsoverzicht-{code}-{thema}.pdf")
        assert f"thema {thema}" in body
        kern = re.search(r"Aantal signalen\s+(\S+)", body)
        assert kern and kern[1] == getal(expected[latest]["signalen"]), (thema, kern)
        rows = list(
            csv.DictReader(
                io.StringIO(
                    client.get(
                        f"/gebieden/{code}", params={"f": "csv", "thema": thema}, headers=auth(key)
                    ).text
                )
            )
        )
        assert {r["thema"] for r in rows} == {thema}
        assert {r["periode"]: int(r["signalen"]) for r in rows} == {
            p: int(v["signalen"]) for p, v in expected.items()
        }
    assert pages["drugs"] != pages["vastgoed"]
    bad = client.get(f"/gebieden/{code}", params={"f": "html", "thema": "alles"}, headers=auth(key))
    assert bad.status_code == 400


def test_the_excel_download_of_the_overview_honours_the_theme(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    from openpyxl import load_workbook

    key = api_keys["analist"]
    code = _big_buurt(demo_engine, key)["code"]
    r = client.get(f"/gebieden/{code}", params={"f": "xlsx", "thema": "drugs"}, headers=auth(key))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content))["Cijfers"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    index = header.index("thema")
    assert rows and {row[index] for row in rows} == {"drugs"}
    signalen = header.index("signalen")
    assert all(isinstance(row[signalen], int) for row in rows)  # numbers, not text: Excel sums them


def test_each_source_is_dated_by_its_data(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    from app.bronstand import maand

    with demo_engine.connect() as conn:
        newest_signal = conn.execute(
            text("SELECT max(datum) FROM signaal WHERE gemeentecode = 'GM0014'")
        ).scalar()
        newest_vacancy = conn.execute(
            text("SELECT max(sinds) FROM leegstand WHERE gemeentecode = 'GM0014'")
        ).scalar()
        loaded = conn.execute(
            text(
                "SELECT max(beeindigd)::date FROM ingest_run WHERE soort = 'signalen' AND status = 'geslaagd'"
            )
        ).scalar()
    assert newest_signal != loaded  # else this test could not tell the two apart
    buurt = _big_buurt(demo_engine, api_keys["analist"])
    html = client.get(
        f"/gebieden/{buurt['code']}", params={"f": "html"}, headers=auth(api_keys["analist"])
    ).text
    assert f"Signalen van partners: stand {newest_signal:%d-%m-%Y} (datum van het nieuwste signaal" in html
    assert f"Leegstand: stand {newest_vacancy:%d-%m-%Y} (nieuwste begin van leegstand" in html
    assert (
        "Gebiedsindeling (CBS Wijk- en Buurtkaart; bedrijventerreinen uit IBIS): stand gebiedsindeling 2024"
        in html
    )
    assert "de levering draagt geen eigen peildatum" in html  # addresses: said, not hidden
    planner = _big_buurt(demo_engine, api_keys["planner"])
    pdf = client.get(f"/gebieden/{planner['code']}", params={"f": "pdf"}, headers=auth(api_keys["planner"]))
    body = " ".join(_pdftotext(pdf.content, "gebiedsoverzicht-stand-planner.pdf").split())
    # A planner sees the month of the newest signal, not the day.
    assert f"Signalen van partners: stand {maand(newest_signal)}" in body
    assert f"{newest_signal:%d-%m-%Y}" not in body


def test_the_comparison_uses_the_municipality_and_similar_buurten(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["analist"]
    z = zicht_id(demo_engine, key)
    with demo_engine.connect() as conn:
        buurt = conn.execute(
            text(
                "SELECT i.code, (g.kenmerken ->> 'stedelijkheid')::int AS klasse FROM indicator_zicht i"
                " JOIN actueel_gebied g ON g.soort = 'buurt' AND g.code = i.code AND g.indeling = i.indeling"
                " WHERE i.zicht_id = :z AND i.gebied_soort = 'buurt' AND i.periode = '2024' AND i.thema = 'alle'"
                " AND g.kenmerken ? 'stedelijkheid' ORDER BY i.signalen DESC LIMIT 1"
            ),
            {"z": z},
        ).one()
        gm = conn.execute(
            text(
                "SELECT signalen, adressen, per_1000_adressen FROM indicator_zicht WHERE zicht_id = :z"
                " AND gebied_soort = 'gemeente' AND code = 'GM0014' AND periode = '2024' AND thema = 'alle'"
            ),
            {"z": z},
        ).one()
        similar = conn.execute(
            text(
                "SELECT count(*), sum(i.signalen), sum(i.adressen) FROM indicator_zicht i"
                " JOIN actueel_gebied g ON g.soort = 'buurt' AND g.code = i.code AND g.indeling = i.indeling"
                " WHERE i.zicht_id = :z AND i.gebied_soort = 'buurt' AND i.periode = '2024' AND i.thema = 'alle'"
                " AND i.indeling = 'cbs' AND i.code <> :c AND (g.kenmerken ->> 'stedelijkheid')::int = :k"
            ),
            {"z": z, "c": buurt.code, "k": buurt.klasse},
        ).one()
    html = client.get(
        f"/gebieden/{buurt.code}", params={"f": "html", "periode": "2024"}, headers=auth(key)
    ).text
    table = html.split('<table class="vergelijking">')[1].split("</table>")[0]
    assert (
        f'<td>Gemeente Groningen</td><td class="getal">{getal(gm.signalen)}</td><td class="getal">'
        f'{getal(gm.adressen)}</td><td class="getal">{getal(gm.per_1000_adressen)}</td>'
    ) in table
    from app.vergelijking import STEDELIJKHEID

    rate = round(1000 * similar[1] / similar[2], 2)
    assert (
        f"Andere buurten, {STEDELIJKHEID[buurt.klasse]} ({similar[0]} gebieden)</td>"
        f'<td class="getal">{getal(similar[1])}</td><td class="getal">{getal(similar[2])}</td>'
        f'<td class="getal">{getal(rate)}</td>'
    ) in table
    # A wijk has no urbanity class in the delivered files: the overview says so.
    wijk = client.get("/gebieden/WK001400", params={"f": "html"}, headers=auth(key)).text
    assert "levert de gebiedsindeling geen stedelijkheid" in wijk


def test_a_planners_comparison_sums_published_counts_only(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    key = api_keys["planner"]
    buurt = _small_buurt(demo_engine, key)
    html = client.get(
        f"/gebieden/{buurt['code']}", params={"f": "html", "periode": "2024"}, headers=auth(key)
    ).text
    table = html.split('<table class="vergelijking">')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr><td>([^<]*)</td><td class="getal">([^<]*)</td><td class="getal">([^<]*)</td>', table
    )
    assert [r[0] for r in rows][:2] == ["Dit gebied", "Gemeente Groningen"]
    assert rows[0][1] == "onderdrukt"  # this buurt's own count is withheld
    for _, signalen, adressen in rows[1:]:
        for value in (signalen, adressen):  # sums of published counts: multiples of 5
            assert value == "onderdrukt" or int(value.replace(".", "")) % 5 == 0, value
