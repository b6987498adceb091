"""Registers as ``vestigingen`` (issue #13): a KvK-like export and a permit register, and the
risk-branch figures per business park and buurt they feed.

The files are generated in the shapes real exports have (a KvK-like ``;`` CSV with
vestigingsnummer, handelsnaam, SBI codes written ``5610``/``56.10``/``96022``, address fields
and optional RD coordinates; a permit register in cp1252 with vergunningnummer, soort
vergunning, dd-mm-jjjj dates and house numbers with their letter glued on), on real Groningen
addresses. Every figure is checked against a recount written here from the stored rows and
docs/risicobranches.md (valid today; one count per address, the branch first in the mapping
wins), not from the SQL under test.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.main import create_app
from core import db, risicobranches
from core.domain import RunStatus
from core.security import create_principal_key
from core.settings import Settings
from tests import files
from tests.conftest import TEMPLATE, TestServer, auth, scalar
from tests.files import ingest, load_areas

K = 10
TMS = morecantile.tms.get("WebMercatorQuad")
TODAY = dt.date.today()
BRONNEN = (
    "code,naam,organisatie,dataklasse,convenant,bewaartermijn_maanden\n"
    "kvk,KvK,Kamer van Koophandel,openbaar,gemeente,120\n"
    "vth,VTH,Gemeente Groningen,intern,gemeente,120\n"
)
PRINCIPALS = {
    "beheerder": ("beheerder", "zeer_vertrouwelijk", "beheer"),
    "planner": ("planner", "intern", "planvorming"),
    "analist_openbaar": ("analist", "openbaar", "analyse"),
}


@dataclass
class World:
    client: TestClient
    owner: Engine
    keys: dict[str, str]
    kvk: Path
    vergunningen: Path
    park: str  # the business park with the most risk-branch addresses
    reports: dict[str, Any]


def _dutch(day: dt.date) -> str:
    return f"{day:%d-%m-%Y}"


def _addresses(tmp: Path) -> Path:
    """Every sample address in a business park, plus 800 others: a BAG-like CSV."""
    import geopandas as gpd

    rows = files.addresses(25_000)
    points = gpd.GeoDataFrame(
        rows, geometry=gpd.points_from_xy(rows.lon.astype(float), rows.lat.astype(float)), crs=4326
    )
    parks = gpd.read_file(files.SOURCE / "bedrijventerreinen_proxy_cbs2017_groningen.geojson")
    inside = sorted(set(gpd.sjoin(points, parks[["geometry"]]).index))
    others = [i for i in range(len(rows)) if i not in set(inside)][:800]
    path = tmp / "adressen.csv"
    rows.iloc[sorted(inside + others)].to_csv(path, index=False)
    return path


def _registers(owner: Engine, tmp: Path) -> tuple[Path, Path, str]:
    """A KvK-like export and a permit register on stored addresses; the main park's code."""
    with owner.connect() as c:
        park = c.execute(
            text(
                "SELECT bedrijventerreincode FROM verblijfsobject WHERE bedrijventerreincode IS NOT NULL"
                " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()
        cols = "openbare_ruimte, huisnummer, huisletter, huisnummertoevoeging, postcode, woonplaats, ST_X(geom) x, ST_Y(geom) y"
        in_park = c.execute(
            text(f"SELECT {cols} FROM verblijfsobject WHERE bedrijventerreincode = :p ORDER BY id"),
            {"p": park},
        ).all()
        other_parks = c.execute(
            text(
                f"SELECT DISTINCT ON (bedrijventerreincode) {cols} FROM verblijfsobject"
                " WHERE bedrijventerreincode IS NOT NULL AND bedrijventerreincode <> :p"
                " ORDER BY bedrijventerreincode, id"
            ),
            {"p": park},
        ).all()
        town = c.execute(
            text(
                f"SELECT {cols} FROM verblijfsobject WHERE bedrijventerreincode IS NULL ORDER BY id LIMIT 40"
            )
        ).all()
    assert len(in_park) >= 40, len(in_park)
    founded = [_dutch(dt.date(1975, 3, 12)), _dutch(dt.date(2001, 6, 1)), "2015-09-30", ""]
    sbi_in_park = (
        ["5610", "56.10", "56101", "5630"] * 3  # 12 horeca
        + ["96022", "96.02.2", "96022"]  # nail studios
        + ["96.02.1", "96021"]  # barbers
        + ["4511", "45.20", "45112"]  # car trade
        + ["6201", "47.11", "6920", "4941", "2511", "7112"]  # no risk branch
    )
    kvk = ["Vestigingsnummer;Handelsnaam;SBI-code;SBI nevenactiviteiten;Straat;Huisnummer;"
           "Huisnummertoevoeging;Postcode;Plaats;Datum vestiging;Datum opheffing;X;Y"]  # fmt: skip
    n = 0

    def add(address: Any, sbi: str, neven: str = "", end: str = "", xy: bool = False) -> None:
        nonlocal n
        n += 1
        number = f"{address.huisnummer}{address.huisletter or ''}"
        x, y = (f"{address.x:.1f}", f"{address.y:.1f}") if xy else ("", "")
        kvk.append(
            f"{n:012d};Onderneming {n} B.V.;{sbi};{neven};{address.openbare_ruimte};{number};"
            f"{address.huisnummertoevoeging or ''};{address.postcode};{address.woonplaats};"
            f"{founded[n % len(founded)]};{end};{x};{y}"
        )

    for address, sbi in zip(in_park, sbi_in_park, strict=False):
        add(address, sbi, neven="4711" if sbi == "5630" else "", xy=n % 3 == 0)
    add(in_park[0], "96021")  # a barber at the first café's address: one address, branch kapper
    for address in other_parks:
        add(address, "4520")  # one garage per other park
    for address, sbi in zip(town, ["5610", "96022", "6201", "5630", "52.10"] * 4, strict=False):
        add(address, sbi)
    add(in_park[25], "5610", end=_dutch(TODAY - dt.timedelta(days=30)))  # closed last month
    # Not in the BAG, but with a point in the park: kept at its own point.
    stray = in_park[26]
    n += 1
    kvk.append(
        f"{n:012d};Losse Vestiging;4511;;Nergensweg;1;;9999ZZ;Groningen;;;{stray.x:.1f};{stray.y + 3:.1f}"
    )
    n += 1  # neither an address in the BAG nor a point: quarantined
    kvk.append(f"{n:012d};Onvindbaar;5610;;Nergensweg;2;;9999ZZ;Groningen;;;;")
    kvk_path = tmp / "kvk.csv"
    kvk_path.write_text("\n".join(kvk) + "\n", encoding="utf-8")

    rows = ["Vergunningnummer;Soort vergunning;Inrichting;Straat;Huisnummer;Postcode;Ingangsdatum;Einddatum"]

    def permit(nr: str, soort: str, address: Any, van: dt.date, tot: dt.date | None) -> None:
        number = f"{address.huisnummer}{(address.huisletter or '').lower()}"
        if address.huisnummertoevoeging:  # one field for number, letter and addition: 12a-2
            number += f"-{address.huisnummertoevoeging}"
        pc = f"{address.postcode[:4]} {address.postcode[4:]}"
        rows.append(f"{nr};{soort};Zaak {nr};{address.openbare_ruimte};{number};{pc};{_dutch(van)};"
                    f"{_dutch(tot) if tot else ''}")  # fmt: skip

    start = dt.date(2019, 1, 1)
    for i in range(5):  # permits of cafés in the KvK list: the same addresses, counted once
        permit(f"DHW-2019-{i:04d}", "Drank- en Horecavergunning", in_park[i], start, None)
    permit("GB-2020-0001", "Gedoogbeschikking coffeeshop", town[3], start, None)  # a KvK café
    permit("EXP-2022-0007", "Exploitatievergunning", in_park[30], start, TODAY + dt.timedelta(days=900))
    permit("EXP-2018-0002", "Exploitatievergunning", in_park[31], dt.date(2018, 1, 1), dt.date(2020, 12, 31))
    permit("DHW-2027-0001", "Drank- en Horecavergunning", in_park[32], TODAY + dt.timedelta(days=60), None)
    permit("EV-2024-0100", "Evenementenvergunning", in_park[33], start, None)  # no risk branch
    permit("EXP-2023-0042", "Exploitatievergunning seksinrichting", town[10], start, None)
    permit_path = tmp / "vergunningen.csv"
    permit_path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return kvk_path, permit_path, str(park)


@pytest.fixture(scope="module")
def world(
    pg_server: TestServer, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    name = f"okaart_vestiging_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    tmp = tmp_path_factory.mktemp("vestigingen")
    owner = create_engine(url)
    load_areas(owner, tmp)
    report = ingest(owner, "adressen", _addresses(tmp))
    assert report.status is RunStatus.GESLAAGD, report.melding
    (tmp / "bronnen.csv").write_text(BRONNEN)
    from ingest import bronnen

    keys = {}
    with owner.begin() as c:
        bronnen.load(c, tmp / "bronnen.csv")
        for naam, (rol, klasse, doel) in PRINCIPALS.items():
            keys[naam], _ = create_principal_key(
                c, naam=naam, rol=rol, organisatie="Test", convenanten=["gemeente"], gemeenten=["GM0014"],
                doelen=[doel], dataklasse=klasse,
            )  # fmt: skip
    kvk, vergunningen, park = _registers(owner, tmp)
    reports = {
        "kvk": ingest(owner, "vestigingen", kvk, bron="kvk"),
        "vergunningen": ingest(owner, "vestigingen", vergunningen, bron="vth"),
    }
    api = db.make_engine(url, role="okaart_api")
    app = create_app(
        Settings(database_url=url, environment="test", suppression_k=K, rate_limit_per_minute=0), engine=api
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, owner, keys, kvk, vergunningen, park, reports)
    api.dispose()
    owner.dispose()
    pg_server.drop_database(name)


# -- the recount: written from docs/risicobranches.md, not from the SQL -----------------------


def recount(
    owner: Engine, soort: str, dataklassen: tuple[str, ...] | None = None
) -> dict[tuple[str, str], int]:
    """(area code, branch or 'alle' or '#totaal') -> addresses, from the stored rows."""
    column = {"bedrijventerrein": "bedrijventerreincode", "buurt": "buurtcode"}[soort]
    order = risicobranches.load().codes
    with owner.connect() as c:
        rows = c.execute(
            text(
                f"SELECT {column} AS code, verblijfsobject_id, round(ST_X(geom)) AS x, round(ST_Y(geom)) AS y,"
                " risicobranche, geldig_van, geldig_tot, dataklasse FROM vestiging"
            )
        ).all()
    best: dict[tuple[str, str], str | None] = {}
    for r in rows:
        if r.code is None or (dataklassen is not None and r.dataklasse not in dataklassen):
            continue
        if (r.geldig_van and r.geldig_van > TODAY) or (r.geldig_tot and r.geldig_tot < TODAY):
            continue
        place = f"v{r.verblijfsobject_id}" if r.verblijfsobject_id else f"p{int(r.x)}:{int(r.y)}"
        key = (r.code, place)
        ranked = [b for b in (best.get(key), r.risicobranche) if b in order]
        best[key] = min(ranked, key=order.index) if ranked else None
    counts: Counter[tuple[str, str]] = Counter()
    for (code, _), branche in best.items():
        counts[(code, "#totaal")] += 1
        if branche is not None:
            counts[(code, "alle")] += 1
            counts[(code, branche)] += 1
    return counts


def items(world: World, layer: str, key: str, **params: str) -> list[dict[str, Any]]:
    """Every feature of a layer as this key gets it, page by page."""
    found: list[dict[str, Any]] = []
    while True:
        response = world.client.get(
            f"/collections/{layer}/items",
            params={"limit": "1000", "offset": str(len(found)), **params},
            headers=auth(key),
        )
        assert response.status_code == 200, response.text
        page = [f["properties"] for f in response.json()["features"]]
        found += page
        if len(page) < 1000:
            return found


def round5(value: int) -> int:
    return int(Decimal(value / 5).quantize(Decimal(1), ROUND_HALF_UP)) * 5


def share(part: int, whole: int) -> float | None:
    """A percentage with one decimal, halves away from zero (as PostgreSQL rounds numeric)."""
    if not whole:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


# -- loading ----------------------------------------------------------------------------------


def test_both_registers_load_as_vestigingen(world: World) -> None:
    kvk, permits = world.reports["kvk"], world.reports["vergunningen"]
    assert kvk.status is RunStatus.GESLAAGD, kvk.melding
    assert permits.status is RunStatus.GESLAAGD, permits.melding
    assert kvk.afgekeurd == 1 and permits.afgekeurd == 0
    with world.owner.connect() as c:
        reject = c.execute(
            text("SELECT reden FROM ingest_reject WHERE ingest_run_id = :r"), {"r": kvk.run_id}
        ).scalar_one()
        assert reject == "adres_niet_gevonden"
        stored = {r.bron_id: r for r in c.execute(text("SELECT * FROM vestiging")).all()}
    assert kvk.ingevoegd + permits.ingevoegd == len(stored)
    by_name = {r.naam: r for r in stored.values()}
    # SBI written three ways, a main activity followed by a side one, permits by their type.
    assert stored["000000000001"].sbi == "5610" and stored["000000000001"].risicobranche == "horeca"
    assert stored["000000000002"].sbi == "5610" and stored["000000000002"].risicobranche == "horeca"
    assert {r.risicobranche for r in stored.values() if r.sbi and r.sbi.startswith("9602")} >= {
        "nagelstudio",
        "kapper",
    }
    cafe = next(r for r in stored.values() if r.sbi == "5630,4711")
    assert cafe.risicobranche == "horeca"
    assert (
        stored["GB-2020-0001"].risicobranche == "coffeeshop" and stored["GB-2020-0001"].soort == "vergunning"
    )
    assert stored["EXP-2023-0042"].risicobranche == "seksbedrijf"
    assert stored["EV-2024-0100"].risicobranche is None
    assert stored["EXP-2018-0002"].geldig_tot == dt.date(2020, 12, 31)
    assert {r.geldig_van for r in stored.values()} >= {dt.date(1975, 3, 12)}  # before 1990 is fine
    assert all(r.verblijfsobject_id is not None for r in stored.values() if r.soort == "vergunning")
    stray = by_name["Losse Vestiging"]
    assert stray.verblijfsobject_id is None and stray.bedrijventerreincode == world.park
    assert {r.dataklasse for r in stored.values() if r.bron == "kvk"} == {"openbaar"}
    assert {r.dataklasse for r in stored.values() if r.bron == "vth"} == {"intern"}


def test_rerunning_the_same_files_changes_nothing(world: World) -> None:
    def state() -> tuple[Any, ...]:
        with world.owner.connect() as c:
            return (
                c.execute(
                    text("SELECT md5(string_agg(v::text, '|' ORDER BY id)) FROM vestiging v")
                ).scalar_one(),
                c.execute(
                    text("SELECT md5(string_agg(v::text, '|' ORDER BY zicht_id, id)) FROM vestiging_zicht v")
                ).scalar_one(),
            )

    before = state()
    for path, bron in ((world.kvk, "kvk"), (world.vergunningen, "vth")):
        report = ingest(world.owner, "vestigingen", path, bron=bron)
        assert report.status is RunStatus.GESLAAGD, report.melding
        assert (report.ingevoegd, report.bijgewerkt, report.verwijderd) == (0, 0, 0)
        assert report.ongewijzigd == report.gelezen - report.afgekeurd
    assert state() == before


def test_a_register_without_activity_columns_is_one_clear_line(world: World, tmp_path: Path) -> None:
    from ingest.errors import IngestError

    path = tmp_path / "lijst.csv"
    path.write_text("Vestigingsnummer;Handelsnaam;Postcode;Huisnummer\n000000000099;X;9711AA;1\n")
    with pytest.raises(IngestError, match="SBI-code"):
        ingest(world.owner, "vestigingen", path, bron="kvk")


# -- figures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("soort", ["bedrijventerrein", "buurt"])
def test_figures_equal_a_recount_from_the_rows(world: World, soort: str) -> None:
    layer = {"bedrijventerrein": "risicobranches_bedrijventerreinen", "buurt": "risicobranches_buurten"}[
        soort
    ]
    expected = recount(world.owner, soort)
    rows = items(world, layer, world.keys["beheerder"])
    branches = {"alle", *risicobranches.load().codes}
    assert {r["risicobranche"] for r in rows} == branches
    seen = 0
    for row in rows:
        count = expected[(row["code"], row["risicobranche"])]
        total = expected[(row["code"], "#totaal")]
        assert row["vestigingen"] == count, row
        assert row["totaal"] == total, row
        assert row["aandeel_pct"] == share(count, total)
        assert row["per_hectare"] == pytest.approx(count / row["hectare"], rel=1e-3, abs=1.5e-3)
        seen += count
    assert seen == sum(v for (_, b), v in expected.items() if b != "#totaal")
    if soort == "bedrijventerrein":
        park = {r["risicobranche"]: r for r in rows if r["code"] == world.park}
        # 12 horeca (one becoming kapper), 3 nail, 2 barber, 3 car, the stray car trader, one
        # exploitation permit; the closed café, the expired and the future permit do not count.
        assert park["alle"]["vestigingen"] == 22
        assert park["kapper"]["vestigingen"] == 3 and park["horeca"]["vestigingen"] == 12


def test_a_principal_counts_only_the_entries_it_may_see(world: World) -> None:
    """An analyst cleared for ``openbaar`` only: the KvK list counts, the permits do not."""
    expected = recount(world.owner, "bedrijventerrein", ("openbaar",))
    rows = items(world, "risicobranches_bedrijventerreinen", world.keys["analist_openbaar"])
    for row in rows:
        assert row["vestigingen"] == expected[(row["code"], row["risicobranche"])]
    assert any(r["vestigingen"] for r in rows)
    assert not any(r["risicobranche"] == "coffeeshop" and r["vestigingen"] for r in rows)


def test_a_planner_sees_the_published_figures(world: World) -> None:
    expected = recount(world.owner, "bedrijventerrein")
    rows = items(world, "risicobranches_bedrijventerreinen", world.keys["planner"])
    published = 0
    for row in rows:
        exact = expected[(row["code"], row["risicobranche"])]
        if row["vestigingen"] is None:
            assert row["onderdrukt"] and row["per_hectare"] is None and row["aandeel_pct"] is None
            continue
        assert exact == 0 or exact >= K, row
        assert row["vestigingen"] == round5(exact)
        if row["totaal"] is not None:
            assert row["aandeel_pct"] == share(row["vestigingen"], row["totaal"])
        published += exact > 0
    assert published >= 1  # the main park's count (22) is published, rounded
    main = next(r for r in rows if r["code"] == world.park and r["risicobranche"] == "alle")
    assert main["vestigingen"] == 20


def pdf_text(body: bytes, tmp: Path) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: run scripts/system-deps.sh as root (apt-get install poppler-utils)"
    (tmp / "overzicht.pdf").write_bytes(body)
    return subprocess.run(
        [tool, str(tmp / "overzicht.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_overview_shows_the_risk_branches(world: World, tmp_path: Path) -> None:
    key = world.keys["beheerder"]
    body = world.client.get(f"/gebieden/{world.park}", params={"f": "json"}, headers=auth(key)).json()
    rows = {r["risicobranche"]: r for r in body["risicobranches"]}
    expected = recount(world.owner, "bedrijventerrein")
    assert rows["alle"]["vestigingen"] == expected[(world.park, "alle")] == 22
    assert rows["horeca"]["titel"] == "Horeca"
    html = world.client.get(f"/gebieden/{world.park}", params={"f": "html"}, headers=auth(key))
    assert html.status_code == 200, html.text
    assert "<h2>Risicobranches</h2>" in html.text
    assert '<td>Alle risicobranches</td><td class="getal">22</td>' in html.text
    pdf = world.client.get(f"/gebieden/{world.park}", params={"f": "pdf"}, headers=auth(key))
    assert pdf.status_code == 200, pdf.text
    printed = " ".join(pdf_text(pdf.content, tmp_path).split())
    assert "Risicobranches (registers die vandaag gelden)" in printed
    assert "Alle risicobranches 22" in printed
    planner = world.client.get(
        f"/gebieden/{world.park}", params={"f": "json"}, headers=auth(world.keys["planner"])
    )
    prow = {r["risicobranche"]: r for r in planner.json()["risicobranches"]}
    assert prow["alle"]["vestigingen"] == 20 and prow["kapper"]["vestigingen"] is None


def test_the_map_offers_the_risk_branches_and_its_tiles_hold_the_figures(world: World) -> None:
    key = world.keys["beheerder"]
    page = world.client.get(
        "/kaart", params={"soort": "bedrijventerrein", "indicator": "risicobranches"}, headers=auth(key)
    )
    assert page.status_code == 200, page.text
    assert "/collections/risicobranches_bedrijventerreinen/tiles/WebMercatorQuad/" in page.text
    assert "Risicobranches: adressen met een vestiging" in page.text
    wijk = world.client.get(
        "/kaart", params={"soort": "wijk", "indicator": "risicobranches"}, headers=auth(key)
    )
    assert wijk.status_code == 400
    with world.owner.connect() as c:
        lon, lat = c.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p"
                " FROM actueel_gebied WHERE soort = 'bedrijventerrein' AND code = :c) x"
            ),
            {"c": world.park},
        ).one()
    tile = TMS.tile(lon, lat, 12)
    expected = recount(world.owner, "bedrijventerrein")
    for who, value in (("beheerder", expected[(world.park, "alle")]), ("planner", 20)):
        response = world.client.get(
            f"/collections/risicobranches_bedrijventerreinen/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}",
            headers=auth(world.keys[who]),
        )
        assert response.status_code == 200, response.text
        features = mapbox_vector_tile.decode(response.content)["risicobranches_bedrijventerreinen"][
            "features"
        ]
        found = {f["properties"]["code"]: f["properties"] for f in features}
        assert found[world.park]["vestigingen"] == value
        assert {f["properties"]["risicobranche"] for f in features} == {"alle"}


def test_points_are_for_cleared_principals_only(world: World) -> None:
    assert (
        world.client.get("/collections/vestigingen/items", headers=auth(world.keys["planner"])).status_code
        == 404
    )
    rows = items(world, "vestigingen", world.keys["beheerder"], actueel="true", doel="beheer")
    with world.owner.connect() as c:
        valid = c.execute(
            text(
                "SELECT count(*) FROM vestiging WHERE (geldig_van IS NULL OR geldig_van <= current_date)"
                " AND (geldig_tot IS NULL OR geldig_tot >= current_date)"
            )
        ).scalar_one()
    assert len(rows) == valid
    assert defaultdict(int, Counter(r["risicobranche"] for r in rows))["coffeeshop"] == 1


def test_the_demo_registers_give_the_recounted_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    """The demo's synthetic KvK list and permit register, through the same layers."""
    assert scalar(demo_engine, "SELECT count(DISTINCT bron) FROM vestiging") == 2
    assert scalar(demo_engine, "SELECT count(*) FROM vestiging WHERE risicobranche = 'coffeeshop'") == 14
    for soort, layer in (
        ("bedrijventerrein", "risicobranches_bedrijventerreinen"),
        ("buurt", "risicobranches_buurten"),
    ):
        expected = recount(demo_engine, soort)
        response = client.get(
            f"/collections/{layer}/items", params={"limit": "1000"}, headers=auth(api_keys["beheerder"])
        )
        rows = [f["properties"] for f in response.json()["features"]]
        assert rows and all(r["vestigingen"] == expected[(r["code"], r["risicobranche"])] for r in rows)
        assert sum(r["vestigingen"] for r in rows if r["risicobranche"] == "alle") > 100
