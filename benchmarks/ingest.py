"""Ingest speed: okaart vs ogr2ogr (bare, and like for like) vs a bare COPY, in one run.

Two files: the 25,000 real Groningen addresses (CSV, lon/lat) and a generated
1,000,000-row GeoPackage in the PDOK BAG layout (RD New). okaart does more than the
others (validation, quarantine, upsert with change detection, two GIST indexes, area
assignment), so the comparison is honest about what "loading" means for each tool; the
bare COPY into a plain table is the floor no loader can beat.

Run: ``make bench`` or ``.venv/bin/python -m benchmarks ingest [--rows N]``.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import shapely

from benchmarks.common import (
    CACHE,
    ROOT,
    Timing,
    cluster,
    console,
    fresh_database,
    report,
    save_results,
    timed,
)
from core import db
from core.pgcluster import Cluster

SOURCE = ROOT / "data" / "source"
REAL = SOURCE / "bag_adressen_groningen_sample25k.csv"
FLOOR_COLUMNS = (
    "identificatie text, openbare_ruimte text, huisnummer integer, huisletter text, toevoeging text,"
    " postcode text, woonplaats text, gebruiksdoel text, oppervlakte integer, bouwjaar integer,"
    " status text, geom geometry(Point, 28992)"
)


def points_in_groningen(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Uniform points inside the real buurten, as addresses lie inside some buurt."""
    area = gpd.read_file(SOURCE / "cbs_buurten_2024_groningen_approx.geojson").to_crs(28992).union_all()
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < rows:
        x = rng.uniform(minx, maxx, rows)
        y = rng.uniform(miny, maxy, rows)
        inside = shapely.contains_xy(area, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return shapely.points(np.concatenate(xs)[:rows], np.concatenate(ys)[:rows])


def generated_gpkg(rows: int) -> Path:
    """A deterministic address file of ``rows`` rows in the PDOK layout (cached)."""
    path = CACHE / f"adressen_{rows}_v2.gpkg"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    i = np.arange(rows)
    streets = np.array([f"Teststraat {n}" for n in range(2_000)], dtype=object)
    letters = np.array([chr(65 + a) + chr(65 + b) for a in range(26) for b in range(26)], dtype=object)
    frame = gpd.GeoDataFrame(
        {
            "identificatie": np.char.add("0014010", np.char.zfill(i.astype(str), 9)),
            "openbare_ruimte_naam": streets[i % len(streets)],
            "huisnummer": (i % 400) + 1,
            "huisletter": None,
            "toevoeging": None,
            "postcode": np.char.add(
                (9700 + (i // 400) % 300).astype(str), letters[(i // 120_000) % len(letters)].astype(str)
            ),
            "woonplaats_naam": "Groningen",
            "gebruiksdoel": np.where(i % 10 == 0, "winkelfunctie,woonfunctie", "woonfunctie"),
            "oppervlakte": rng.integers(20, 400, rows),
            "bouwjaar": rng.integers(1850, 2024, rows),
            "status": "Verblijfsobject in gebruik",
            "pand_identificatie": np.char.add("0014100", np.char.zfill((i // 4).astype(str), 9)),
        },
        geometry=points_in_groningen(rng, rows),
        crs=28992,
    )
    tmp = path.with_suffix(".tmp.gpkg")
    pyogrio.write_dataframe(frame, tmp, layer="verblijfsobject", driver="GPKG")
    tmp.replace(path)
    return path


def floor_csv(source: Path, workdir: Path) -> tuple[Path, int]:
    """The same rows, already in the table's shape, for the bare COPY (not timed)."""
    if source.suffix == ".csv":
        raw = pd.read_csv(source, dtype=str, keep_default_na=False)
        geom = gpd.GeoSeries.from_xy(raw["lon"].astype(float), raw["lat"].astype(float), crs=4326).to_crs(
            28992
        )
        frame = pd.DataFrame(
            {
                "identificatie": None,
                "openbare_ruimte": raw["street"],
                "huisnummer": raw["number"],
                "huisletter": raw["letter"],
                "toevoeging": raw["suffix"],
                "postcode": raw["postal_code"],
                "woonplaats": raw["city"],
                "gebruiksdoel": None,
                "oppervlakte": None,
                "bouwjaar": None,
                "status": None,
            },
        )
    else:
        gdf = pyogrio.read_dataframe(source, layer="verblijfsobject")
        geom = gdf.geometry
        frame = pd.DataFrame(
            {
                "identificatie": gdf["identificatie"],
                "openbare_ruimte": gdf["openbare_ruimte_naam"],
                "huisnummer": gdf["huisnummer"],
                "huisletter": gdf["huisletter"],
                "toevoeging": gdf["toevoeging"],
                "postcode": gdf["postcode"],
                "woonplaats": gdf["woonplaats_naam"],
                "gebruiksdoel": gdf["gebruiksdoel"],
                "oppervlakte": gdf["oppervlakte"],
                "bouwjaar": gdf["bouwjaar"],
                "status": gdf["status"],
            },
        )
    frame["geom"] = shapely.to_wkb(
        shapely.set_srid(np.asarray(geom.values), 28992), hex=True, include_srid=True
    )
    path = workdir / f"{source.stem}.floor.csv"
    frame.to_csv(path, index=False, header=False)
    return path, len(frame)


def prepare_okaart(c: Cluster, name: str) -> str:
    """A migrated database with the real areas loaded, as in production (not timed)."""
    url = fresh_database(c, name)
    db.migrate(url)
    from sqlalchemy import create_engine

    from ingest.base import Options
    from ingest.pipeline import Pipeline
    from ingest.sources import KINDS

    engine = create_engine(url)
    for file, soort in (
        ("cbs_gemeente_2022_groningen.geojson", "gemeente"),
        ("cbs_wijken_2022_groningen.geojson", "wijk"),
        ("cbs_buurten_2024_groningen_approx.geojson", "buurt"),
    ):
        Pipeline(engine, KINDS["gebieden"]()).run(Options(path=SOURCE / file, soort=soort, jaar=2024))
    engine.dispose()
    return url


def measure(c: Cluster, label: str, source: Path, rows_hint: int, workdir: Path) -> list[Timing]:
    timings: list[Timing] = []
    floor_file, rows = floor_csv(source, workdir)
    # okaart, into a migrated database with areas: the full pipeline.
    url = prepare_okaart(c, f"okaart_{label}")
    okaart = [sys.executable, "-m", "cli", "ingest", "adressen", str(source)]
    env = {"DATABASE_URL": url, "OKAART_REJECT_SHARE": "1.0"}
    timings.append(timed("okaart", rows, okaart, env))
    timings.append(timed("okaart (again, unchanged)", rows, okaart, env))
    # ogr2ogr with COPY, the peer.
    fresh_database(c, f"ogr_{label}")
    ogr = [
        "ogr2ogr", "-f", "PostgreSQL", "PG:" + c.dsn(f"ogr_{label}"), str(source), "-nln", "vbo",
        "-lco", "GEOMETRY_NAME=geom", "-overwrite", "--config", "PG_USE_COPY", "YES", "-gt", "65536",
    ]  # fmt: skip
    if source.suffix == ".csv":
        ogr += [
            "-oo",
            "X_POSSIBLE_NAMES=lon",
            "-oo",
            "Y_POSSIBLE_NAMES=lat",
            "-s_srs",
            "EPSG:4326",
            "-t_srs",
            "EPSG:28992",
        ]
    else:
        ogr += ["verblijfsobject"]
    timings.append(timed("ogr2ogr", rows, ogr))
    # The floor: the same rows COPYed into a plain table.
    fresh_database(c, f"floor_{label}")
    with psycopg.connect(c.dsn(f"floor_{label}"), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE vbo ({FLOOR_COLUMNS})")
    dsn = c.dsn(f"floor_{label}")
    psql = shutil.which("psql") or "psql"
    timings.append(
        timed("bare COPY", rows, [psql, dsn, "-c", f"\\copy vbo FROM '{floor_file}' (FORMAT csv)"])
    )
    return timings


#: The GeoPackage's columns in the shape of ``verblijfsobject`` (SQLite SQL, as ogr2ogr reads
#: a GeoPackage). A text[] column takes GDAL's string-list notation ``(n:a,b)``. Every column
#: with a default gets a value: GDAL falls back from COPY to one INSERT per row otherwise.
LIKE_SQL = """SELECT coalesce(identificatie, 'A:' || postcode || ':' || huisnummer) AS sleutel,
    identificatie, openbare_ruimte_naam AS openbare_ruimte, huisnummer, huisletter,
    toevoeging AS huisnummertoevoeging, postcode, woonplaats_naam AS woonplaats,
    {gebruiksdoel} AS gebruiksdoel, oppervlakte, bouwjaar, status,
    {panden} AS pand_identificaties, 0 AS buitengebied,
    strftime('%Y-%m-%dT%H:%M:%SZ', 'now') AS bijgewerkt_op, geom
FROM verblijfsobject"""


def _string_list(column: str) -> str:
    count = f"(length({column}) - length(replace({column}, ',', '')) + 1)"
    listed = f"'(' || {count} || ':' || {column} || ')'"
    return f"CASE WHEN {column} IS NULL OR {column} = '' THEN '(0:)' ELSE {listed} END"


#: After ogr2ogr: the 3857 copy and the areas, by okaart's own assignment SQL (ingest/areas.py).
LIKE_ASSIGN = """
import sys
from sqlalchemy import create_engine, text
from ingest import areas
engine = create_engine(sys.argv[1])
with engine.begin() as conn:
    areas.assign(conn, "vbo_ogr", "id")
    cols = ", ".join(areas.AREA_COLUMNS)
    conn.execute(text(
        f"UPDATE vbo_ogr p SET geom_3857 = ST_Transform(p.geom, 3857), ({cols}) = "
        f"({', '.join('t.' + c for c in areas.AREA_COLUMNS)}) FROM {areas.RESULT} t WHERE t.key = p.id"
    ))
"""


#: The like-for-like peer's label: the ratio every GeoPackage row is reported against.
LIKE = "ogr2ogr + SQL, same table"


def like_for_like(c: Cluster, label: str, source: Path, rows: int, workdir: Path) -> Timing:
    """ogr2ogr into a table of verblijfsobject's shape (its constraints and indexes, in a
    database with the areas), then the same area assignment in SQL: the work okaart does on
    a first load, done with the standard tools. One difference, forced by GDAL 3.6: its COPY
    names every column, and PostgreSQL refuses a generated one, so ``geom_3857`` is a plain
    column filled in the same UPDATE that assigns the areas."""
    url = prepare_okaart(c, f"like_{label}")
    with psycopg.connect(c.dsn(f"like_{label}"), autocommit=True) as conn:
        conn.execute("CREATE TABLE vbo_ogr (LIKE verblijfsobject INCLUDING ALL EXCLUDING GENERATED)")
    sql = LIKE_SQL.format(
        gebruiksdoel=_string_list("gebruiksdoel"), panden=_string_list("pand_identificatie")
    )
    script = workdir / "like_for_like.sh"
    ogr = [
        "ogr2ogr", "-append", "-f", "PostgreSQL", "PG:" + c.dsn(f"like_{label}"), str(source),
        "-nln", "vbo_ogr", "-sql", sql, "-unsetFid", "--config", "PG_USE_COPY", "YES", "-gt", "65536",
    ]  # fmt: skip
    assign = [sys.executable, "-c", LIKE_ASSIGN, url]
    script.write_text(f"set -e\n{shlex.join(ogr)}\ncd {shlex.quote(str(ROOT))}\n{shlex.join(assign)}\n")
    timing = timed(LIKE, rows, ["bash", str(script)])
    with psycopg.connect(c.dsn(f"like_{label}")) as conn:
        loaded, assigned = conn.execute("SELECT count(*), count(buurtcode) FROM vbo_ogr").fetchone() or (0, 0)
    if loaded != rows:
        raise RuntimeError(f"like-for-like load: {loaded:,} of {rows:,} rows")
    console.print(f"  like for like: {loaded:,} rows, {assigned:,} with a buurt")
    return timing


def run(rows: int = 1_000_000) -> None:
    """Both files, all tools, one cluster, one run."""
    console.print(f"[bold]ingest benchmark[/]: generating/reading files ({rows:,} generated rows)")
    big = generated_gpkg(rows)
    workdir = Path(tempfile.mkdtemp(prefix="okaart-bench-files-"))
    doc: dict[str, list[dict[str, float | str | int]]] = {}
    try:
        with cluster() as c:
            for label, source in (("real25k", REAL), (f"generated{rows}", big)):
                timings = measure(c, label, source, rows, workdir)
                peer = "ogr2ogr"
                if source.suffix == ".gpkg":
                    timings.append(like_for_like(c, label, source, timings[0].rows, workdir))
                    peer = timings[-1].label
                report(f"Ingest of {source.name}", timings, peer=peer, floor="bare COPY")
                doc[source.name] = [{**asdict(t), "rows_per_s": t.rate} for t in timings]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    save_results("ingest", doc)
