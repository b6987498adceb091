"""Ingest: every format and layout, idempotency, quarantine, crash safety."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from core.domain import RunStatus
from ingest.errors import IngestError
from tests import files
from tests.conftest import scalar
from tests.files import ingest, load_areas, load_bronnen


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    yield eng
    eng.dispose()


def checksum(engine: Engine, table: str) -> str:
    with engine.connect() as c:
        return str(
            c.execute(
                text(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t")
            ).scalar_one()
        )


# -- formats and layouts --------------------------------------------------------------------


def test_cbs_2022_geopackage_with_three_layers(engine: Engine, tmp_path: Path) -> None:
    report = ingest(engine, "gebieden", files.cbs_2022_gpkg(tmp_path / "wijkbuurtkaart_2024.gpkg"))
    assert report.status is RunStatus.GESLAAGD
    with engine.connect() as c:
        soorten = dict(
            c.execute(text("SELECT soort, count(*) FROM gebied WHERE jaar = 2024 GROUP BY soort")).all()
        )
        kenmerk = c.execute(text("SELECT kenmerken FROM gebied WHERE code = 'BU00140000'")).scalar_one()
    assert soorten["gemeente"] == 1
    assert soorten["buurt"] == 151
    assert soorten["wijk"] == len(files.buurten()["wijkcode"].unique())
    assert kenmerk["omgevingsadressendichtheid"] == 7001
    # No buitengebied polygon delivered: one is derived from the low-density buurten.
    assert soorten["buitengebied"] == 1


def test_cbs_before_2022_zipped_shapefile(engine: Engine, tmp_path: Path) -> None:
    report = ingest(engine, "gebieden", files.cbs_pre2022_zip(tmp_path / "buurt_2021.zip", n=12))
    assert (report.status, report.ingevoegd, report.afgekeurd) == (RunStatus.GESLAAGD, 12, 0)
    # No density known (no key figures, no addresses yet): no buitengebied is guessed.
    assert scalar(engine, "SELECT count(*) FROM gebied WHERE soort = 'buitengebied'") == 0
    with engine.connect() as c:
        row = c.execute(
            text(
                "SELECT soort, jaar, wijkcode, gemeentecode FROM gebied WHERE soort = 'buurt' ORDER BY code LIMIT 1"
            )
        ).one()
    assert row == ("buurt", 2021, "WK001400", "GM0014")


@pytest.mark.parametrize("variant", ["geojson", "shapefile"])
def test_ibis_business_parks(engine: Engine, tmp_path: Path, variant: str) -> None:
    ingest(engine, "gebieden", files.cbs_2022_gpkg(tmp_path / "wijkbuurtkaart_2024.gpkg"))
    path = (
        files.ibis_geojson(tmp_path / "ibis.geojson")
        if variant == "geojson"
        else files.ibis_variant_zip(tmp_path / "ibis.zip")
    )
    report = ingest(engine, "gebieden", path, jaar=2024)
    assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 16)
    with engine.connect() as c:
        names = c.execute(text("SELECT naam FROM gebied WHERE soort = 'bedrijventerrein'")).scalars().all()
        gemeenten = set(
            c.execute(text("SELECT gemeentecode FROM gebied WHERE soort = 'bedrijventerrein'")).scalars()
        )
        rural_km2 = c.execute(
            text("SELECT ST_Area(geom) / 1e6 FROM gebied WHERE soort = 'buitengebied'")
        ).scalar_one()
        overlap = c.execute(
            text(
                "SELECT coalesce(sum(ST_Area(ST_Intersection(b.geom, t.geom))), 0) FROM gebied b, gebied t"
                " WHERE b.soort = 'buitengebied' AND t.soort = 'bedrijventerrein'"
            )
        ).scalar_one()
    assert "Zernike" in " ".join(names)
    assert gemeenten == {"GM0014"}  # taken from the gemeente polygon the park lies in
    assert 50 < rural_km2 < 190
    assert overlap < 1.0  # business parks are cut out of the derived buitengebied


def test_semicolon_csv_in_cp1252(engine: Engine, tmp_path: Path) -> None:
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=200)
    report = ingest(engine, "adressen", path)
    assert (report.status, report.gelezen, report.ingevoegd, report.afgekeurd) == (
        RunStatus.GESLAAGD,
        200,
        200,
        0,
    )
    source = files.addresses(200)
    with engine.connect() as c:
        first = c.execute(
            text(
                "SELECT openbare_ruimte, postcode, huisnummer FROM verblijfsobject WHERE openbare_ruimte LIKE 'Ru%s Plein'"
            )
        ).one()
        with_letter = source[(source["letter"] != "") & (source["suffix"] == "")].iloc[0]
        letter = c.execute(
            text(
                "SELECT huisletter FROM verblijfsobject WHERE postcode = :p AND huisnummer = :n AND huisletter IS NOT NULL"
            ),
            {"p": with_letter["postal_code"], "n": int(with_letter["number"])},
        ).scalar()
    assert first.openbare_ruimte == "Rués Plein"
    assert first.postcode == source.loc[0, "postal_code"]  # '9712 kb' -> '9712KB'
    assert letter == with_letter["letter"].upper()


def test_geopackage_of_the_pdok_bag_layout(engine: Engine, tmp_path: Path) -> None:
    import geopandas as gpd

    rows = files.addresses(50)
    frame = gpd.GeoDataFrame(
        {
            "identificatie": [f"00140100{i:08d}" for i in range(50)],
            "openbare_ruimte_naam": rows["street"],
            "huisnummer": rows["number"].astype(int),
            "huisletter": rows["letter"].replace("", None),
            "toevoeging": rows["suffix"].replace("", None),
            "postcode": rows["postal_code"],
            "woonplaats_naam": rows["city"],
            "gebruiksdoel": ["woonfunctie"] * 49 + ["winkelfunctie,woonfunctie"],
            "oppervlakte": 80,
            "bouwjaar": 1930,
            "status": "Verblijfsobject in gebruik",
        },
        geometry=gpd.points_from_xy(rows["lon"].astype(float), rows["lat"].astype(float)),
        crs=4326,
    ).to_crs(28992)
    path = tmp_path / "bag-light.gpkg"
    frame.to_file(path, layer="verblijfsobject", driver="GPKG")
    frame.head(1).to_file(path, layer="pand", driver="GPKG")  # a second layer, not ours
    report = ingest(engine, "adressen", path, layer="verblijfsobject")
    assert (report.ingevoegd, report.afgekeurd) == (50, 0)
    with engine.connect() as c:
        uses = c.execute(
            text("SELECT gebruiksdoel FROM verblijfsobject WHERE identificatie = '0014010000000049'")
        ).scalar_one()
        x, y = c.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM verblijfsobject WHERE identificatie = '0014010000000000'"
            )
        ).one()
    assert uses == ["winkelfunctie", "woonfunctie"]
    assert abs(x - frame.geometry.iloc[0].x) < 0.01 and abs(y - frame.geometry.iloc[0].y) < 0.01


def test_xlsx_signals_with_excel_dates(engine: Engine, tmp_path: Path) -> None:
    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=50))
    load_bronnen(engine, tmp_path)
    source = files.addresses(50)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"RIEC-{i}",
            "Thema": "Criminogene branche" if i % 2 else "drugs",
            "Soort": "Bestuurlijke controle" if i % 2 else "melding",
            "Datum melding": dt.datetime(2025, 1, 1 + i),
            "Postcode": source.loc[i, "postal_code"],
            "Huisnummer": int(source.loc[i, "number"]),
            "Huisletter": source.loc[i, "letter"] or None,
            "Toevoeging": source.loc[i, "suffix"] or None,
        }
        for i in range(20)
    ]
    report = ingest(engine, "signalen", files.signals_xlsx(tmp_path / "riec.xlsx", rows))
    assert (report.status, report.ingevoegd, report.afgekeurd) == (RunStatus.GESLAAGD, 20, 0)
    with engine.connect() as c:
        stored = c.execute(
            text(
                "SELECT datum, thema, soort, bewaren_tot, dataklasse, convenant, verblijfsobject_id, buurtcode, wijkcode"
                " FROM signaal WHERE bron_id = 'RIEC-1'"
            )
        ).one()
    assert stored.datum == dt.date(2025, 1, 2)
    assert (stored.thema, stored.soort) == ("criminogene_branche", "bestuurlijke_controle")
    assert stored.bewaren_tot == dt.date(2030, 1, 2)  # 60 months, the bron's rule
    assert (stored.dataklasse, stored.convenant) == ("vertrouwelijk", "riec")
    assert stored.verblijfsobject_id is not None and stored.buurtcode and stored.wijkcode


def test_a_kind_starts_every_run_with_fresh_state(engine: Engine, tmp_path: Path) -> None:
    """A kind's state (here the delivering partner) belongs to one run: the same kind object,
    run for two partners over one file, stores each delivery under its own partner."""
    from ingest.base import Options
    from ingest.pipeline import Pipeline
    from ingest.sources import KINDS

    load_areas(engine, tmp_path)
    ingest(engine, "adressen", files.address_csv_cp1252(tmp_path / "adressen.csv", n=10))
    load_bronnen(engine, tmp_path)
    source = files.addresses(10)
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"Z-{i}",
            "Thema": "drugs",
            "Soort": "melding",
            "Datum melding": dt.datetime(2025, 2, 1 + i),
            "Postcode": source.loc[i, "postal_code"],
            "Huisnummer": int(source.loc[i, "number"]),
            "Huisletter": source.loc[i, "letter"] or None,
            "Toevoeging": source.loc[i, "suffix"] or None,
        }
        for i in range(5)
    ]
    path = files.signals_xlsx(tmp_path / "levering.xlsx", rows)
    pipeline = Pipeline(engine, KINDS["signalen"]())
    for bron in ("politie", "riec"):
        report = pipeline.run(Options(path=path, bron=bron))
        assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, 5), report.melding
    with engine.connect() as c:
        per_bron = dict(c.execute(text("SELECT bron, count(*) FROM signaal GROUP BY bron")).all())
    assert per_bron == {"politie": 5, "riec": 5}


def test_every_materialised_view_is_refreshed_after_a_load(engine: Engine) -> None:
    """A view missing from the refresh list would go stale after every ingest and retention run."""
    from core.zicht import MATERIALISED_VIEWS

    with engine.connect() as c:
        views = set(
            c.execute(text("SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'")).scalars()
        )
    assert views == set(MATERIALISED_VIEWS)


def test_missing_required_column_lists_what_was_found(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "adressen.csv"
    path.write_text("straat,nummer,plaats\nGrote Markt,1,Groningen\n")
    with pytest.raises(IngestError) as err:
        ingest(engine, "adressen", path)
    message = str(err.value)
    assert "huisnummer" in message and "postcode" in message
    assert "gevonden kolommen: straat, nummer, plaats" in message
    # With --map the same file gets further (and only then fails on the missing postcode).
    with pytest.raises(IngestError, match="postcode"):
        ingest(engine, "adressen", path, mapping={"nummer": "huisnummer"})
    assert scalar(engine, "SELECT count(*) FROM ingest_run WHERE status = :s", s=RunStatus.MISLUKT) == 2


# -- behaviour -------------------------------------------------------------------------------


def test_same_file_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    load_areas(engine, tmp_path)
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=300)
    first = ingest(engine, "adressen", path)
    assert first.ingevoegd == 300
    tables = ("gebied", "verblijfsobject")
    before = {t: checksum(engine, t) for t in tables}
    second = ingest(engine, "adressen", path)
    assert (second.ingevoegd, second.bijgewerkt, second.ongewijzigd) == (0, 0, 300)
    again = ingest(engine, "gebieden", tmp_path / "wijkbuurtkaart_2024.gpkg")
    assert (again.ingevoegd, again.bijgewerkt) == (0, 0)
    assert {t: checksum(engine, t) for t in tables} == before


def test_snapshot_removes_what_is_no_longer_delivered(engine: Engine, tmp_path: Path) -> None:
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=100)
    ingest(engine, "adressen", path)
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(lines[:-11]) + b"\r\n")  # the last ten addresses are gone
    report = ingest(engine, "adressen", path, snapshot=True)
    assert (report.verwijderd, report.ongewijzigd) == (10, 90)
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject") == 90


def test_dry_run_counts_but_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=100)
    report = ingest(engine, "adressen", path, dry_run=True)
    assert (report.status, report.ingevoegd) == (RunStatus.PROEF, 100)
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject") == 0


def planted_signals(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A GeoJSON (WGS84) of signals with one planted mistake of each kind."""
    source = files.addresses(40, skip=100)
    features: list[dict[str, Any]] = []
    for i, r in source.iterrows():
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kenmerk": f"P-{i}",
                    "thema": "drugs",
                    "soort": "melding",
                    "datum": "2025-03-01",
                    "postcode": r["postal_code"],
                    "huisnummer": r["number"] + r["letter"] + (f"-{r['suffix']}" if r["suffix"] else ""),
                },
                "geometry": {"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
            }
        )
    expected: dict[str, str] = {}
    features[3]["geometry"] = {"type": "LineString", "coordinates": [[6.5, 53.2], [6.6, 53.3]]}
    expected["P-3"] = "geometrie_soort"
    features[5]["geometry"]["coordinates"] = [233456.0, 582345.0]  # RD in a WGS84 file
    expected["P-5"] = "crs_verkeerd"
    features[8]["properties"]["postcode"] = None  # a house number without postcode,
    features[8]["geometry"] = None  # and no point of its own to keep (ingest/fallback.py)
    expected["P-8"] = "postcode_ontbreekt"
    features[13]["properties"]["datum"] = "31-13-2024"
    expected["P-13"] = "datum_ongeldig"
    features[21]["properties"]["kenmerk"] = "P-20"  # the partner's id twice
    expected["P-20#2"] = "dubbele_sleutel"
    features[30]["geometry"]["coordinates"] = features[30]["geometry"]["coordinates"][::-1]  # lat/lon swapped
    path = tmp_path / "politie.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path, expected


@pytest.mark.parametrize("small_batches", [False, True])
def test_planted_bad_rows_are_quarantined_with_their_reason(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_batches: bool
) -> None:
    """Also with batches of 7 rows and the rejects written every 2: the staging COPY is then
    closed and opened again between batches, and nothing may be lost or counted twice."""
    from ingest.staging import StagingWriter

    load_areas(engine, tmp_path)
    load_bronnen(engine, tmp_path)
    path, expected = planted_signals(tmp_path)
    if small_batches:
        monkeypatch.setattr(StagingWriter, "FLUSH_REJECTS", 2)
    report = ingest(engine, "signalen", path, reject_share=0.5, batch_size=7 if small_batches else 50_000)
    stored = scalar(engine, "SELECT count(*) FROM signaal")
    assert report.gelezen == 40
    assert report.gelezen == stored + report.afgekeurd
    assert report.afgekeurd == len(expected)
    with engine.connect() as c:
        rejects = c.execute(
            text(
                "SELECT rij, reden, detail, gegevens FROM ingest_reject WHERE ingest_run_id = :r ORDER BY rij"
            ),
            {"r": report.run_id},
        ).all()
    by_kenmerk = {}
    for r in rejects:
        key = r.gegevens["kenmerk"]
        by_kenmerk[key + ("#2" if key in by_kenmerk or r.reden == "dubbele_sleutel" else "")] = r.reden
        assert r.detail  # a human explanation besides the code
        assert r.gegevens["thema"] == "drugs"  # the row is kept whole
    assert by_kenmerk == expected
    assert "omgedraaide coördinaten hersteld: 1" in (report.melding or "")


def test_too_many_rejects_store_nothing_but_the_report(engine: Engine, tmp_path: Path) -> None:
    load_bronnen(engine, tmp_path)
    path, _ = planted_signals(tmp_path)
    report = ingest(engine, "signalen", path)  # no addresses loaded: nothing matches
    assert report.status is RunStatus.AFGEWEZEN
    assert scalar(engine, "SELECT count(*) FROM signaal") == 0
    assert (
        scalar(engine, "SELECT count(*) FROM ingest_reject WHERE ingest_run_id = :r", r=report.run_id)
        == report.afgekeurd
    )
    assert report.afgekeurd > 0.05 * report.gelezen


def test_invalid_polygon_is_repaired_only_when_safe(engine: Engine, tmp_path: Path) -> None:
    ring = [[6.55, 53.20], [6.56, 53.20], [6.56, 53.21], [6.55, 53.21], [6.55, 53.20]]
    bowtie = [[6.55, 53.20], [6.56, 53.21], [6.56, 53.20], [6.55, 53.21], [6.55, 53.20]]
    spike = [
        [6.55, 53.20],
        [6.56, 53.20],
        [6.56, 53.21],
        [6.555, 53.21],
        [6.555, 53.215],
        [6.555, 53.21],
        [6.55, 53.21],
        [6.55, 53.20],
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"RIN_NUMMER": code, "PLAN_NAAM": code},
            "geometry": {"type": "Polygon", "coordinates": [coords]},
        }
        for code, coords in (("GOED", ring), ("VLINDER", bowtie), ("PIEK", spike))
    ]
    ingest(engine, "gebieden", files.cbs_2022_gpkg(tmp_path / "wijkbuurtkaart_2024.gpkg"))
    path = tmp_path / "ibis.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = ingest(engine, "gebieden", path, jaar=2024, reject_share=1.0)
    with engine.connect() as c:
        stored = set(c.execute(text("SELECT code FROM gebied WHERE soort = 'bedrijventerrein'")).scalars())
        reasons = (
            c.execute(text("SELECT reden FROM ingest_reject WHERE ingest_run_id = :r"), {"r": report.run_id})
            .scalars()
            .all()
        )
    assert stored == {"GOED", "PIEK"}  # the spike is cut off without changing the area
    assert reasons == ["geometrie_ongeldig"]  # a bowtie has no safe repair
    assert "geometrieën hersteld: 1" in (report.melding or "")


def test_killed_ingest_leaves_the_previous_state(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    small = files.address_csv_cp1252(tmp_path / "klein.csv", n=500)
    ingest(engine, "adressen", small)
    before = {t: checksum(engine, t) for t in ("verblijfsobject", "ingest_run", "ingest_reject")}
    big = tmp_path / "groot.csv"
    lines = ["straat;huisnummer;postcode;woonplaats;x;y"]
    lines += [
        f"Teststraat;{i % 9000 + 1};{9700 + i // 9000}AB;Groningen;{230000 + i % 997};{580000 + i % 991}"
        for i in range(400_000)
    ]
    big.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "DATABASE_URL": fresh_db}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", "adressen", str(big)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=files.REPO,
    )
    try:
        # Wait until the run is really halfway: its rows are being copied into staging.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if scalar(engine, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY staging%'"):
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        else:
            pytest.fail("the ingest never started copying")
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert {t: checksum(engine, t) for t in before} == before
    report = ingest(engine, "adressen", small)  # no manual cleanup needed
    assert (report.status, report.ingevoegd, report.bijgewerkt) == (RunStatus.GESLAAGD, 0, 0)


def test_bulk_load_rebuilds_indexes_and_constraints(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import indexes

    def definitions() -> set[str]:
        with engine.connect() as c:
            indexes = c.execute(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = 'verblijfsobject'")
            ).scalars()
            # Its own constraints and the foreign keys of the tables that point to it.
            constraints = c.execute(
                text(
                    "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)"
                    " FROM pg_constraint WHERE 'verblijfsobject'::regclass IN (conrelid, confrelid)"
                )
            ).scalars()
            return {*indexes, *constraints}

    before = definitions()
    assert any(" FOREIGN KEY " in d and d.startswith("signaal ") for d in before)
    assert any(" PRIMARY KEY " in d for d in before)
    monkeypatch.setattr(indexes, "BULK_MIN_ROWS", 10)
    monkeypatch.setattr(indexes, "BULK_MIN_ROWS_EMPTY", 10)
    path = files.address_csv_cp1252(tmp_path / "adressen.csv", n=300)
    first = ingest(engine, "adressen", path)  # empty table: plain insert, indexes rebuilt
    assert (first.ingevoegd, first.bijgewerkt) == (300, 0)
    assert definitions() == before
    second = ingest(engine, "adressen", path)
    assert (second.ingevoegd, second.bijgewerkt, second.ongewijzigd) == (0, 0, 300)
    with engine.connect() as c:
        plan = "\n".join(
            c.execute(text("EXPLAIN SELECT * FROM verblijfsobject WHERE sleutel = 'x'")).scalars()
        )
    assert "verblijfsobject_sleutel_key" in plan


def test_the_point_fast_path_reads_what_shapely_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Points read straight from the WKB buffer equal shapely's parse, whatever the mix:
    empty points, a slice of a larger array, and a column that is not all 2D points. For
    columns of points shapely parses only the empty point: the fast path was taken."""
    import numpy as np
    import pyarrow as pa
    import shapely

    from ingest.read import geometry_from_wkb

    rng = np.random.default_rng(7)
    points = list(shapely.points(rng.uniform(0, 3e5, 200), rng.uniform(3e5, 6e5, 200)))
    points[17] = shapely.Point()
    wkb = pa.array(list(shapely.to_wkb(np.array(points, dtype=object))), type=pa.binary())
    mixed = pa.array([*wkb.to_pylist()[:5], shapely.to_wkb(shapely.box(0, 0, 1, 1)), None], type=pa.binary())
    parse = shapely.from_wkb
    parsed: list[int] = []

    def counting(values: Any, **kwargs: Any) -> Any:
        parsed.append(len(values))
        return parse(values, **kwargs)

    cases = [
        (wkb, 1),
        (wkb.slice(10, 50), 1),
        (pa.chunked_array([wkb.slice(0, 30), wkb.slice(30)]), 1),
        (mixed, 7),
    ]
    for column, shapely_parses in cases:
        expected = parse(column.to_numpy(zero_copy_only=False))
        parsed.clear()
        with monkeypatch.context() as patch:
            patch.setattr(shapely, "from_wkb", counting)
            got = geometry_from_wkb(column)
        assert sum(parsed) == shapely_parses
        assert len(got) == len(expected)
        assert all(
            (a is None and b is None) or bool(shapely.equals_exact(a, b, 0) or (a.is_empty and b.is_empty))
            for a, b in zip(got, expected, strict=True)
        )
