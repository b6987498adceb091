"""Broken files through the real command line: one line and a non-zero exit, never a traceback.

Some 250 files are generated from valid deliveries of every format (GeoPackage, GeoJSON,
zipped Shapefile, XLSX, CSV): cut off, emptied, bytes flipped, random bytes under every
suffix, binary files named ``.csv``, wrong encodings, coordinates in the wrong system, a
huge line, a header without rows. Each goes through ``okaart ingest <kind>`` for every
kind, in-process through ``cli.main.main`` (what a user runs), against one database. What a
user sees is checked: stderr is one line naming the file, the exit is non-zero, no
``Traceback`` and no "onverwachte fout" (that would be a bug, saved to a file). A file that
still loads (a CSV cut after its last full row) must then say so with exit 0 and a stored run.
"""

from __future__ import annotations

import json
import random
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from core.domain import RunStatus
from core.settings import get_settings
from tests import files
from tests.conftest import TestServer

KINDS = {
    "gebieden": ["--jaar", "2024"],
    "adressen": [],
    "leegstand": ["--bron", "politie"],
    "signalen": ["--bron", "politie"],
}
#: A point of Groningen in Web Mercator metres (EPSG:3857).
WM_GRONINGEN = (731_000.0, 7_010_000.0)


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def fuzz_db(pg_server: TestServer, template_url: str) -> Iterator[tuple[str, Engine]]:
    """One database for every case, with the partners loaded; the CLI points at it."""
    name = "okaart_fuzz"
    pg_server.drop_database(name)
    url = pg_server.create_database(name, template="okaart_test_template")
    engine = create_engine(url)
    files.load_bronnen(engine, Path(tempfile.mkdtemp()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)
        mp.delenv("OKAART_DEBUG", raising=False)
        get_settings.cache_clear()
        yield url, engine
    get_settings.cache_clear()
    engine.dispose()
    pg_server.drop_database(name)


def okaart(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """Run the command line as a user does; what it printed and how it exited."""
    from cli.main import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


# -- the valid deliveries the broken files are made from ------------------------------------


def _valid(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    buurten = files.buurten(6).to_crs(28992)
    areas = gpd.GeoDataFrame(
        {"buurtcode": buurten["code"], "buurtnaam": buurten["naam"], "wijkcode": buurten["wijkcode"]},
        geometry=buurten.geometry,
        crs=28992,
    )
    areas.to_file(folder / "buurten.gpkg", layer="buurten", driver="GPKG")
    areas.to_crs(4326).to_file(folder / "buurten.geojson", driver="GeoJSON")
    files.zipped_shapefile(areas, folder / "buurten.zip", "buurten")
    files.address_csv_cp1252(folder / "adressen.csv", n=40)
    rows = files.addresses(20)
    signals = [
        {
            "Kenmerk": f"F-{i}",
            "Thema": "drugs",
            "Soort": "melding",
            "Datum melding": f"2025-03-{i + 1:02d}",
            "Postcode": rows.loc[i, "postal_code"],
            "Huisnummer": int(rows.loc[i, "number"]),
        }
        for i in range(20)
    ]
    files.signals_xlsx(folder / "signalen.xlsx", signals)
    points = gpd.GeoDataFrame(
        signals,
        geometry=gpd.points_from_xy(rows["lon"].astype(float), rows["lat"].astype(float)),
        crs=4326,
    )
    points.to_file(folder / "signalen.geojson", driver="GeoJSON")
    lines = ["kenmerk;thema;soort;datum;x;y"] + [
        f"C-{i};drugs;melding;0{1 + i % 9}-02-2025;{233000 + i * 10};{582000 + i * 10}" for i in range(40)
    ]
    (folder / "signalen.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {p.name: p for p in folder.iterdir() if p.is_file()}


def broken_files(folder: Path) -> list[Path]:
    """The broken deliveries, deterministic (one seed)."""
    rng = random.Random(13)
    valid = _valid(folder / "geldig")
    out: list[Path] = []
    made = folder / "kapot"
    made.mkdir()

    def write(name: str, data: bytes) -> None:
        path = made / f"{len(out):03d}_{name}"
        path.write_bytes(data)
        out.append(path)

    suffixes = [".csv", ".txt", ".xlsx", ".gpkg", ".geojson", ".json", ".zip", ".shp", ".fgb", ".gml"]
    for suffix in suffixes:  # 0 bytes
        write(f"leeg{suffix}", b"")
    for i, data in enumerate([b"\n", b"\r\n\r\n", b"   \n  ", b"\xef\xbb\xbf", b";;;\n", b",,,\n,,,\n"]):
        write(f"bijna_leeg_{i}.csv", data)
    headers = [
        "buurtcode,buurtnaam,wijkcode",
        "straat;huisnummer;postcode;woonplaats;x;y",
        "adres,postcode,huisnummer,sinds",
        "kenmerk,thema,soort,datum,x,y",
    ]
    for i, header in enumerate(headers):  # a header and no rows
        write(f"alleen_kop_{i}.csv", header.encode())
        write(f"alleen_kop_nl_{i}.csv", (header + "\r\n").encode())
    magic = [b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x7fELF"]
    for i, head in enumerate(magic):  # binary files named .csv
        write(f"binair_{i}.csv", head + rng.randbytes(2000))
    write("xlsx_als.csv", valid["signalen.xlsx"].read_bytes())
    write("gpkg_als.csv", valid["buurten.gpkg"].read_bytes())
    write("zip_als.csv", valid["buurten.zip"].read_bytes())
    for i in range(20):  # random bytes as CSV, some without a NUL in the head
        data = rng.randbytes(rng.choice([10, 300, 5000, 70_000]))
        write(f"ruis_{i}.csv", data if i % 2 else data.replace(b"\x00", b"\x01"))
    for suffix in suffixes[2:]:  # random bytes under every other suffix
        for i in range(4):
            write(f"ruis_{i}{suffix}", rng.randbytes(rng.choice([50, 4000, 100_000])))
    for name, path in valid.items():  # cut off
        data = path.read_bytes()
        for fraction in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            write(f"afgebroken_{int(fraction * 100)}_{name}", data[: max(1, int(len(data) * fraction))])
    for name, path in valid.items():  # bytes flipped
        data = bytearray(path.read_bytes())
        for seed in range(8):
            copy = bytearray(data)
            for _ in range(30):
                copy[rng.randrange(len(copy))] = rng.randrange(256)
            write(f"beschadigd_{seed}_{name}", bytes(copy))
    text_ = valid["adressen.csv"].read_bytes().decode("cp1252")
    for encoding in ("utf-16-le", "utf-32", "cp500", "shift_jis"):  # wrong encodings
        write(f"codering_{encoding}.csv", text_.encode(encoding, errors="replace"))
    write("codering_ongeldig.csv", text_.encode("cp1252") + b"\x81\x8d\x8f\x90\x9d\n")
    write("codering_gemengd.csv", "straat;huisnummer\n".encode("utf-16") + text_.encode("utf-8"))
    # Coordinates in the wrong system.
    wm = gpd.GeoDataFrame(
        {"kenmerk": ["W-1", "W-2"], "thema": "drugs", "soort": "melding", "datum": "2025-01-01"},
        geometry=[shapely.Point(*WM_GRONINGEN), shapely.Point(WM_GRONINGEN[0] + 50, WM_GRONINGEN[1])],
    )
    write("wm_zonder_crs.geojson", wm.to_json(drop_id=True).encode())
    wm.set_crs(28992).to_file(made / "wm_als_rd.gpkg", driver="GPKG")
    out.append(made / "wm_als_rd.gpkg")
    write(
        "wm.csv",
        (
            "kenmerk,thema,soort,datum,straat,huisnummer,postcode,woonplaats,x,y\n"
            + "".join(
                f"W-{i},drugs,melding,2025-01-01,Markt,{i + 1},9712AB,Groningen,{WM_GRONINGEN[0] + i},"
                f"{WM_GRONINGEN[1] + i}\n"
                for i in range(10)
            )
        ).encode(),
    )
    write(
        "nergens.csv",
        (
            "kenmerk,thema,soort,datum,straat,huisnummer,postcode,woonplaats,x,y\n"
            + "".join(
                f"N-{i},drugs,melding,2025-01-01,Markt,{i + 1},9712AB,Groningen,1e9,-1e9\n" for i in range(10)
            )
        ).encode(),
    )
    polygons = gpd.read_file(valid["buurten.gpkg"]).to_crs(3857)
    write("wm_gebieden_zonder_crs.geojson", polygons.to_json(drop_id=True).encode())
    # A huge line, a huge field, a very wide header.
    write("lange_regel.csv", b"kenmerk,thema\n" + b"x" * 3_000_000)
    write("groot_veld.csv", b'kenmerk,thema\n"' + b"y" * 3_000_000 + b'",drugs\n')
    write("breed.csv", (",".join(f"k{i}" for i in range(50_000)) + "\n").encode())
    write("aanhaling.csv", b'kenmerk,thema,soort,datum\n"A-1,drugs,melding,2025-01-01\nB-2,"dr"ugs",x,y\n')
    write("nul_achteraan.csv", valid["signalen.csv"].read_bytes() + b"\x00" * 100_000 + b"\n")
    geojson = json.loads(valid["signalen.geojson"].read_text())
    write("geojson_geen_features.geojson", json.dumps({"type": "FeatureCollection", "features": []}).encode())
    geojson["features"][0]["geometry"] = {"type": "Point", "coordinates": ["a", "b"]}
    write("geojson_rare_coordinaten.geojson", json.dumps(geojson).encode())
    write("geojson_lijst.geojson", b"[1, 2, 3]")
    from openpyxl import Workbook

    empty = Workbook()
    empty.save(made / "leeg_blad.xlsx")
    out.append(made / "leeg_blad.xlsx")
    with zipfile.ZipFile(made / "zip_zonder_shp.zip", "w") as zf:
        zf.writestr("leesmij.txt", "geen shapefile hier")
    out.append(made / "zip_zonder_shp.zip")
    (made / "map.csv").mkdir()
    out.append(made / "map.csv")
    out.append(made / "bestaat_niet.csv")
    return out


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return broken_files(tmp_path_factory.mktemp("fuzz"))


def latest_status(engine: Engine) -> str | None:
    with engine.connect() as c:
        return c.execute(text("SELECT status FROM ingest_run ORDER BY id DESC LIMIT 1")).scalar()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_broken_file_is_one_line_and_a_non_zero_exit(
    kind: str,
    broken: list[Path],
    fuzz_db: tuple[str, Engine],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, engine = fuzz_db
    assert len(broken) >= 200
    problems: list[str] = []
    refused = 0
    for path in broken:
        result = okaart(capsys, "ingest", kind, str(path), *KINDS[kind])
        shown = result.out + result.err
        lines = result.err.strip().splitlines()
        if "Traceback" in shown or "onverwachte fout" in shown:
            problems.append(f"{path.name}: bug: {result.err.strip()[:300]}")
        elif result.code == 0:
            if latest_status(engine) != RunStatus.GESLAAGD:
                problems.append(f"{path.name}: exit 0 without a stored run")
        elif len(lines) != 1 or not lines[0].startswith("okaart: ") or path.name not in lines[0]:
            problems.append(f"{path.name}: exit {result.code}, not one line naming the file: {lines}")
        else:
            refused += 1
    assert not problems, "\n".join(problems)
    # Nearly all are refused; the few that load are CSVs cut after a whole row.
    assert refused >= 200, refused


def test_web_mercator_without_a_crs_is_named_as_such(
    fuzz_db: tuple[str, Engine], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A Shapefile without .prj in Web Mercator: the message names the CRS problem and the fix,
    and with that fix the same file loads, at the right place."""
    _, engine = fuzz_db
    rows = files.addresses(5)
    from pyproj import Transformer

    to_wm = Transformer.from_crs(4326, 3857, always_xy=True)
    xs, ys = to_wm.transform(rows["lon"].astype(float).to_numpy(), rows["lat"].astype(float).to_numpy())
    frame = gpd.GeoDataFrame(
        {
            "kenmerk": [f"M-{i}" for i in range(5)],
            "thema": "drugs",
            "soort": "melding",
            "datum": "2025-04-01",
        },
        geometry=gpd.points_from_xy(xs, ys),
    )
    path = files.zipped_shapefile(frame, tmp_path / "mercator.zip", "mercator")
    with zipfile.ZipFile(path) as zf:
        assert not any(n.endswith(".prj") for n in zf.namelist())

    refused = okaart(capsys, "ingest", "signalen", str(path), "--bron", "politie")
    assert refused.code == 1
    assert "Web Mercator (EPSG:3857" in refused.err and "geen coördinatenstelsel" in refused.err
    assert "--crs 3857" in refused.err and "buiten" not in refused.err
    assert len(refused.err.strip().splitlines()) == 1

    loaded = okaart(capsys, "ingest", "signalen", str(path), "--bron", "politie", "--crs", "3857")
    assert loaded.code == 0, loaded.err
    with engine.connect() as c:
        stored = c.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM signaal WHERE bron_id = 'M-0' AND bron = 'politie'")
        ).one()
    expected = Transformer.from_crs(4326, 28992, always_xy=True).transform(
        float(rows.loc[0, "lon"]), float(rows.loc[0, "lat"])
    )
    assert abs(stored[0] - expected[0]) < 0.5 and abs(stored[1] - expected[1]) < 0.5


BRONNEN_KOP = "code,naam,organisatie,dataklasse,convenant,bewaartermijn_maanden\n"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "termijn_te_lang",
            BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,intern,zorg,241\n",
            "bewaartermijn_maanden",
        ),
        ("termijn_enorm", BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,intern,zorg,99999999999\n", "240"),
        ("termijn_nul", BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,intern,zorg,0\n", "bewaartermijn_maanden"),
        ("termijn_tekst", BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,intern,zorg,tien\n", "'tien'"),
        ("termijn_leeg", BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,intern,zorg,\n", "bewaartermijn_maanden"),
        ("dataklasse", BRONNEN_KOP + "wijk,WIJ,WIJ Groningen,geheim,zorg,12\n", "dataklasse"),
        ("code", BRONNEN_KOP + "WIJK!,WIJ,WIJ Groningen,intern,zorg,12\n", "code"),
        (
            "gemeente",
            BRONNEN_KOP.strip() + ",gemeentecode\nwijk,WIJ,WIJ,intern,zorg,12,Groningen\n",
            "gemeentecode",
        ),
        ("kolommen", "code,naam\nwijk,WIJ\n", "mist kolommen"),
        ("alleen_kop", BRONNEN_KOP, "geen bronnen"),
        ("leeg", "", "leeg"),
        ("binair", "\x00\x01\x02PK", "geen tekstbestand"),
    ],
)
def test_bronnen_laad_refuses_a_bad_file_in_one_line(
    name: str,
    content: str,
    expected: str,
    fuzz_db: tuple[str, Engine],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _, engine = fuzz_db
    path = tmp_path / f"bronnen_{name}.csv"
    path.write_text(content, encoding="utf-8")
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM bron")).scalar_one()
    result = okaart(capsys, "bronnen", "laad", str(path))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0] and expected in lines[0], lines
    assert "Traceback" not in result.out + result.err
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM bron")).scalar_one() == before


def test_an_unexpected_error_is_one_line_with_the_run_and_the_saved_traceback(
    fuzz_db: tuple[str, Engine],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A bug (here: a reader that breaks in a way nobody foresaw) is one line naming the run
    and where its traceback went; OKAART_DEBUG=1 shows the traceback itself."""
    import ingest.sources.adressen as adressen

    def broken_normalise(*_: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(adressen.Adressen, "normalise", broken_normalise)
    monkeypatch.setenv("OKAART_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=5)
    result = okaart(capsys, "ingest", "adressen", str(path))
    assert result.code == 70
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "onverwachte fout (ZeroDivisionError)" in lines[0], lines
    assert "Traceback" not in result.err
    run_id = int(lines[0].split("vastgelegd als run ")[1].split()[0])
    saved = next((tmp_path / "data" / "fouten").iterdir())
    assert str(saved) in lines[0] and "ZeroDivisionError: planted" in saved.read_text()
    with fuzz_db[1].connect() as c:
        melding = c.execute(text("SELECT melding FROM ingest_run WHERE id = :i"), {"i": run_id}).scalar_one()
    assert melding == "onverwachte fout: ZeroDivisionError"

    monkeypatch.setenv("OKAART_DEBUG", "1")
    from cli.main import main

    with pytest.raises(Exception) as raised:
        main(["ingest", "adressen", str(path)])
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    get_settings.cache_clear()
