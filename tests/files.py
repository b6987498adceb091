"""Small fixture files in the layouts partners and registers deliver, written per test.

Built from the real Groningen data in ../shared (or data/source) so the rows are real
areas and addresses; written with geopandas/pyogrio/openpyxl in the exact formats the
ingest must read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from core.domain import RunStatus
from ingest.base import Options
from ingest.pipeline import Pipeline
from ingest.report import IngestReport
from ingest.sources import KINDS

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "data" / "source"


def buurten(n: int | None = None) -> gpd.GeoDataFrame:
    frame = gpd.read_file(SOURCE / "cbs_buurten_2024_groningen_approx.geojson")
    frame = frame.sort_values("code").reset_index(drop=True)
    return frame.head(n) if n else frame


def addresses(n: int, skip: int = 0) -> pd.DataFrame:
    frame = pd.read_csv(SOURCE / "bag_adressen_groningen_sample25k.csv", dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates(["postal_code", "number", "letter", "suffix"]).reset_index(drop=True)
    return frame.iloc[skip : skip + n].reset_index(drop=True)


def cbs_2022_gpkg(path: Path) -> Path:
    """The CBS Wijk- en Buurtkaart from 2022 on: one GeoPackage, three layers."""
    b = buurten().to_crs(28992)
    wijken = b.dissolve(by="wijkcode", as_index=False)
    gm = b.dissolve().assign(gemeentecode="GM0014", gemeentenaam="Groningen")
    gm[["gemeentecode", "gemeentenaam", "geometry"]].to_file(path, layer="gemeenten", driver="GPKG")
    wijken.assign(wijknaam=wijken["wijkcode"].str.replace("WK", "Wijk "), gemeentecode="GM0014")[
        ["wijkcode", "wijknaam", "gemeentecode", "geometry"]
    ].to_file(path, layer="wijken", driver="GPKG")
    b.rename(columns={"code": "buurtcode", "naam": "buurtnaam", "inwoners": "aantal_inwoners"}).assign(
        gemeentecode="GM0014", omgevingsadressendichtheid=b["adressendichtheid"]
    )[
        [
            "buurtcode",
            "buurtnaam",
            "wijkcode",
            "gemeentecode",
            "aantal_inwoners",
            "omgevingsadressendichtheid",
            "geometry",
        ]
    ].to_file(path, layer="buurten", driver="GPKG")
    return path


def zipped_shapefile(frame: gpd.GeoDataFrame, path: Path, stem: str) -> Path:
    folder = path.parent / f"{stem}_shp"
    folder.mkdir(exist_ok=True)
    frame.to_file(folder / f"{stem}.shp")
    with zipfile.ZipFile(path, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, file.name)
    return path


def cbs_pre2022_zip(path: Path, n: int = 12) -> Path:
    """Before 2022: BU_CODE, BU_NAAM, WK_CODE, GM_CODE, in a zipped Shapefile (RD New)."""
    b = buurten(n).to_crs(28992)
    frame = gpd.GeoDataFrame(
        {
            "BU_CODE": b["code"],
            "BU_NAAM": b["naam"],
            "WK_CODE": b["wijkcode"],
            "GM_CODE": "GM0014",
            "AANT_INW": b["inwoners"].fillna(0).astype(int),
        },
        geometry=b.geometry,
        crs=28992,
    )
    return zipped_shapefile(frame, path, "buurt_2021")


def ibis_geojson(path: Path) -> Path:
    """IBIS business parks, RIN_NUMMER/PLAN_NAAM layout, GeoJSON in WGS84."""
    parks = gpd.read_file(SOURCE / "bedrijventerreinen_proxy_cbs2017_groningen.geojson")
    frame = gpd.GeoDataFrame(
        {"RIN_NUMMER": "BT" + parks["BU_CODE"].str[2:], "PLAN_NAAM": parks["terrein_naam"]},
        geometry=parks.geometry,
        crs=4326,
    )
    frame.to_file(path, driver="GeoJSON")
    return path


def ibis_variant_zip(path: Path) -> Path:
    """IBIS in a Shapefile, where field names are cut to ten characters: RINNUMMER/BEDRIJVENT."""
    parks = gpd.read_file(SOURCE / "bedrijventerreinen_proxy_cbs2017_groningen.geojson").to_crs(28992)
    frame = gpd.GeoDataFrame(
        {"RINNUMMER": "BT" + parks["BU_CODE"].str[2:], "BEDRIJVENT": parks["terrein_naam"]},
        geometry=parks.geometry,
        crs=28992,
    )
    return zipped_shapefile(frame, path, "ibis")


def address_csv_cp1252(path: Path, n: int = 200) -> Path:
    """A municipal export: semicolons, cp1252, '9712 kb' postcodes, '12a-2' house numbers."""
    rows = addresses(n)
    lines = ["straat;huisnummer;postcode;woonplaats;x;y"]
    import pyproj

    to_rd = pyproj.Transformer.from_crs(4326, 28992, always_xy=True)
    for i, r in rows.iterrows():
        x, y = to_rd.transform(float(r["lon"]), float(r["lat"]))
        number = r["number"] + (r["letter"] or "") + (f"-{r['suffix']}" if r["suffix"] else "")
        street = "Rués Plein" if i == 0 else r["street"]
        pc = r["postal_code"][:4] + " " + r["postal_code"][4:].lower()
        lines.append(f"{street};{number};{pc};{r['city']};{x:.2f};{y:.2f}".replace(".", ",", 0))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def signals_xlsx(path: Path, rows: list[dict[str, object]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "signalen"
    header = list(rows[0])
    ws.append(header)
    for row in rows:
        ws.append([row.get(h) for h in header])
    wb.save(path)
    return path


# -- loading them -----------------------------------------------------------------------------

BRONNEN = "code,naam,organisatie,dataklasse,convenant,bewaartermijn_maanden\npolitie,Politie,Politie Noord-Nederland,vertrouwelijk,riec,60\nriec,RIEC,RIEC Noord-Nederland,vertrouwelijk,riec,60\n"


def ingest(engine: Engine, kind: str, path: Path, **options: Any) -> IngestReport:
    options.setdefault("reject_share", 0.05)
    return Pipeline(engine, KINDS[kind]()).run(Options(path=path, **options))


def load_areas(engine: Engine, tmp_path: Path) -> None:
    report = ingest(engine, "gebieden", cbs_2022_gpkg(tmp_path / "wijkbuurtkaart_2024.gpkg"))
    assert report.status is RunStatus.GESLAAGD, report.melding
    report = ingest(engine, "gebieden", ibis_geojson(tmp_path / "ibis.geojson"), jaar=2024)
    assert report.status is RunStatus.GESLAAGD, report.melding


def load_bronnen(engine: Engine, tmp_path: Path) -> None:
    from ingest import bronnen

    path = tmp_path / "bronnen.csv"
    path.write_text(BRONNEN)
    with engine.begin() as c:
        bronnen.load(c, path)
