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
    assert html.count("<svg") == 2  # the trend chart and the small map
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
