"""One row per real address: VBO x pand repeats, addresses with and without BAG id, in any
order of delivery; the indicators count each address once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from core import db
from core.domain import RunStatus
from tests import files
from tests.conftest import scalar
from tests.files import ingest, load_areas, load_bronnen

TO_RD = pyproj.Transformer.from_crs(4326, 28992, always_xy=True)
ADDRESS = "postcode, huisnummer, huisletter, huisnummertoevoeging"


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    yield eng
    eng.dispose()


def vbo_id(i: int) -> str:
    return f"00140100{i:08d}"


def pand_id(i: int) -> str:
    return f"00141000{i:08d}"


def bag_rows(n: int, skip: int = 0) -> pd.DataFrame:
    """``n`` real addresses as BAG verblijfsobjecten in the PDOK layout, with RD points."""
    src = files.addresses(n, skip)
    x, y = TO_RD.transform(src["lon"].astype(float).to_numpy(), src["lat"].astype(float).to_numpy())
    return pd.DataFrame(
        {
            "identificatie": [vbo_id(skip + i) for i in range(n)],
            "openbare_ruimte_naam": src["street"],
            "huisnummer": src["number"].astype(int),
            "huisletter": src["letter"].replace("", None),
            "toevoeging": src["suffix"].replace("", None),
            "postcode": src["postal_code"],
            "woonplaats_naam": src["city"],
            "gebruiksdoel": "woonfunctie",
            "oppervlakte": 80,
            "bouwjaar": 1930,
            "status": "Verblijfsobject in gebruik",
            "pand_identificatie": [pand_id(skip + i) for i in range(n)],
            "x": x,
            "y": y,
        }
    )


def write_gpkg(frame: pd.DataFrame, path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=28992
    )
    gdf.to_file(path, layer="verblijfsobject", driver="GPKG")
    return path


def write_address_csv(frame: pd.DataFrame, path: Path, *, with_ids: bool = False) -> Path:
    """A municipal address list: semicolons, no BAG id unless asked (then blank for some)."""
    cols = {
        "straat": frame["openbare_ruimte_naam"],
        "huisnummer": frame["huisnummer"],
        "huisletter": frame["huisletter"].fillna("").str.lower(),  # letters come lower case
        "toevoeging": frame["toevoeging"].fillna("").map(lambda t: f" {t} " if t else ""),
        "postcode": frame["postcode"],
        "woonplaats": frame["woonplaats_naam"],
        "x": frame["x"].round(3),
        "y": frame["y"].round(3),
    }
    if with_ids:
        cols = {"identificatie": frame["identificatie"].fillna(""), **cols}
    pd.DataFrame(cols).to_csv(path, sep=";", index=False)
    return path


def address_signals(frame: pd.DataFrame, path: Path) -> Path:
    """Partner signals that name an address by postcode and number only."""
    rows: list[dict[str, object]] = [
        {
            "Kenmerk": f"RIEC-{i}",
            "Thema": "drugs",
            "Soort": "melding",
            "Datum melding": dt.datetime(2025, 3, 1 + i),
            "Postcode": r["postcode"],
            "Huisnummer": int(r["huisnummer"]),
            "Huisletter": r["huisletter"],
            "Toevoeging": r["toevoeging"],
        }
        for i, (_, r) in enumerate(frame.iterrows())
    ]
    return files.signals_xlsx(path, rows)


def duplicate_addresses(engine: Engine) -> int:
    return int(
        scalar(
            engine,
            f"SELECT count(*) - count(DISTINCT ({ADDRESS})) FROM verblijfsobject",
        )
    )


# -- the same object in several rows ----------------------------------------------------------


def test_bag_export_joined_with_panden_loads_one_row_per_vbo(engine: Engine, tmp_path: Path) -> None:
    base = bag_rows(60)
    # Every third VBO lies in two panden, every fifth in three: the join repeats it, with the
    # pand's own bouwjaar. Repeats come at the end of the file, in later batches than their first row.
    repeats = []
    for i in range(60):
        for extra in range(1 + (i % 5 == 0)) if i % 3 == 0 or i % 5 == 0 else ():
            row = base.iloc[i].copy()
            row["pand_identificatie"] = pand_id(1000 + 10 * i + extra)
            row["bouwjaar"] = 1900 + extra
            repeats.append(row)
    base.loc[7, "gebruiksdoel"] = "woonfunctie,bijeenkomstfuncti"  # cut off at the field width
    frame = pd.concat([base, pd.DataFrame(repeats)], ignore_index=True)
    assert len(repeats) / len(frame) > 0.05  # rejected, they alone would refuse the file
    path = write_gpkg(frame, tmp_path / "bag_met_panden.gpkg")

    report = ingest(engine, "adressen", path, batch_size=25)
    assert (report.status, report.gelezen, report.afgekeurd) == (RunStatus.GESLAAGD, len(frame), 0)
    assert report.ingevoegd == 60
    assert "afgekapte gebruiksdoelen aangevuld: 1" in (report.melding or "")
    assert f"samengevoegd: {len(repeats)}" in (report.melding or "")
    with engine.connect() as c:
        stored = {
            r.identificatie: r
            for r in c.execute(
                text("SELECT identificatie, pand_identificaties, bouwjaar, gebruiksdoel FROM verblijfsobject")
            )
        }
    assert len(stored) == 60
    assert stored[vbo_id(1)].pand_identificaties == [pand_id(1)]
    assert stored[vbo_id(3)].pand_identificaties == [pand_id(3), pand_id(1030)]
    assert stored[vbo_id(0)].pand_identificaties == [pand_id(0), pand_id(1000), pand_id(1001)]
    assert (stored[vbo_id(0)].bouwjaar, stored[vbo_id(1)].bouwjaar) == (1900, 1930)  # the oldest pand
    assert stored[vbo_id(7)].gebruiksdoel == ["bijeenkomstfunctie", "woonfunctie"]

    again = ingest(engine, "adressen", path, batch_size=25)
    assert (again.ingevoegd, again.bijgewerkt, again.ongewijzigd, again.afgekeurd) == (0, 0, 60, 0)


def test_a_cut_off_purpose_must_name_one_function(engine: Engine, tmp_path: Path) -> None:
    frame = bag_rows(40)
    frame.loc[3, "gebruiksdoel"] = "woonfunctie,o"  # onderwijsfunctie or overige gebruiksfunctie
    frame.loc[4, "gebruiksdoel"] = "woonfunctie,kantoorpand"  # no BAG function at all
    frame.loc[5, "gebruiksdoel"] = "winkelfunc,woonfunctie"  # only the last item can be cut off
    report = ingest(engine, "adressen", write_gpkg(frame, tmp_path / "bag.gpkg"), reject_share=0.1)
    assert (report.ingevoegd, report.afgekeurd) == (37, 3)
    reasons = scalar(engine, "SELECT array_agg(DISTINCT reden) FROM ingest_reject")
    assert reasons == ["gebruiksdoel_onbekend"]


def test_a_genuine_conflict_goes_to_quarantine(engine: Engine, tmp_path: Path) -> None:
    frame = bag_rows(40)
    other_address = frame.iloc[[2]].assign(huisnummer=frame.loc[2, "huisnummer"] + 1000)
    far_away = frame.iloc[[5]].assign(x=frame.loc[5, "x"] + 100, pand_identificatie=pand_id(999))
    same_object = frame.iloc[[6]].assign(pand_identificatie=pand_id(998))
    path = write_gpkg(pd.concat([frame, other_address, far_away, same_object]), tmp_path / "bag.gpkg")
    report = ingest(engine, "adressen", path, batch_size=10)
    assert (report.status, report.ingevoegd, report.afgekeurd) == (RunStatus.GESLAAGD, 40, 2)
    with engine.connect() as c:
        rejects = c.execute(text("SELECT rij, reden, detail, gegevens FROM ingest_reject ORDER BY rij")).all()
        kept = c.execute(
            text("SELECT huisnummer, pand_identificaties FROM verblijfsobject WHERE identificatie = :i"),
            {"i": vbo_id(2)},
        ).one()
        panden_5 = c.execute(
            text("SELECT pand_identificaties FROM verblijfsobject WHERE identificatie = :i"), {"i": vbo_id(5)}
        ).scalar_one()
        panden_6 = c.execute(
            text("SELECT pand_identificaties FROM verblijfsobject WHERE identificatie = :i"), {"i": vbo_id(6)}
        ).scalar_one()
    assert [(r.rij, r.reden) for r in rejects] == [(41, "sleutel_strijdig"), (42, "sleutel_strijdig")]
    assert "ander adres" in rejects[0].detail
    delivered = rejects[0].gegevens  # the row as the file delivered it, whole
    assert delivered["identificatie"] == vbo_id(2)
    assert int(delivered["huisnummer"]) == int(frame.loc[2, "huisnummer"]) + 1000
    assert "geometrie" in delivered
    assert kept.huisnummer == int(frame.loc[2, "huisnummer"])  # the first row wins
    assert panden_5 == [pand_id(5)]  # the far-away row's pand is not merged in
    assert panden_6 == [pand_id(6), pand_id(998)]


# -- one address with and without BAG id --------------------------------------------------------


def test_address_only_then_bag_adopts_the_row_and_signals_stay_linked(engine: Engine, tmp_path: Path) -> None:
    load_bronnen(engine, tmp_path)
    frame = bag_rows(30)
    first = ingest(engine, "adressen", write_address_csv(frame, tmp_path / "adressen.csv"))
    assert (first.ingevoegd, first.afgekeurd) == (30, 0)
    signals = ingest(engine, "signalen", address_signals(frame.head(5), tmp_path / "riec.xlsx"))
    assert (signals.ingevoegd, signals.afgekeurd) == (5, 0)
    with engine.connect() as c:
        linked_before = dict(
            c.execute(
                text("SELECT bron_id, verblijfsobject_id FROM signaal WHERE verblijfsobject_id IS NOT NULL")
            ).all()
        )
        ids_before = dict(c.execute(text(f"SELECT ({ADDRESS})::text, id FROM verblijfsobject")).all())
    assert len(linked_before) == 5

    bag = ingest(engine, "adressen", write_gpkg(frame, tmp_path / "bag.gpkg"))
    assert (bag.status, bag.ingevoegd, bag.bijgewerkt, bag.afgekeurd) == (RunStatus.GESLAAGD, 0, 30, 0)
    assert "kregen hun BAG-identificatie: 30" in (bag.melding or "")
    with engine.connect() as c:
        ids_after = dict(c.execute(text(f"SELECT ({ADDRESS})::text, id FROM verblijfsobject")).all())
        keys = c.execute(
            text("SELECT count(*) FROM verblijfsobject WHERE sleutel = identificatie")
        ).scalar_one()
        linked_after = dict(
            c.execute(
                text(
                    "SELECT s.bron_id, s.verblijfsobject_id FROM signaal s"
                    " JOIN verblijfsobject v ON v.id = s.verblijfsobject_id WHERE v.identificatie IS NOT NULL"
                )
            ).all()
        )
        panden = c.execute(
            text("SELECT pand_identificaties FROM verblijfsobject WHERE identificatie = :i"), {"i": vbo_id(0)}
        ).scalar_one()
    assert ids_after == ids_before  # the same rows, now under their BAG id
    assert keys == 30
    assert linked_after == linked_before
    assert panden == [pand_id(0)]

    again = ingest(engine, "adressen", tmp_path / "adressen.csv")  # the old list once more
    assert (again.ingevoegd, again.bijgewerkt, again.ongewijzigd) == (0, 0, 30)
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject") == 30


def test_bag_then_address_only_adds_nothing_and_keeps_the_register(engine: Engine, tmp_path: Path) -> None:
    frame = bag_rows(30)
    ingest(engine, "adressen", write_gpkg(frame, tmp_path / "bag.gpkg"))
    with engine.connect() as c:
        before = c.execute(text("SELECT * FROM verblijfsobject ORDER BY id")).all()
    # The list also moves the points a little: the register's points stay.
    moved = frame.assign(x=frame["x"] + 1.5)
    path = write_address_csv(moved, tmp_path / "adressen.csv")
    report = ingest(engine, "adressen", path, snapshot=True)
    assert (report.ingevoegd, report.bijgewerkt, report.verwijderd, report.ongewijzigd) == (0, 0, 0, 30)
    assert "gekoppeld aan hun opgeslagen BAG-verblijfsobject: 30" in (report.melding or "")
    with engine.connect() as c:
        after = c.execute(text("SELECT * FROM verblijfsobject ORDER BY id")).all()
    assert after == before


@pytest.mark.parametrize("bag_first", [True, False])
def test_mixed_in_one_file_one_row_per_address(engine: Engine, tmp_path: Path, bag_first: bool) -> None:
    frame = bag_rows(40)
    address_only = frame.head(25).assign(identificatie=None)
    parts = [frame, address_only] if bag_first else [address_only, frame]
    path = write_address_csv(pd.concat(parts, ignore_index=True), tmp_path / "gemengd.csv", with_ids=True)
    report = ingest(engine, "adressen", path, batch_size=10)
    assert (report.status, report.gelezen, report.ingevoegd, report.afgekeurd) == (
        RunStatus.GESLAAGD,
        65,
        40,
        0,
    )
    assert "samengevoegd met hetzelfde adres met BAG-id: 25" in (report.melding or "")
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject WHERE identificatie IS NULL") == 0
    assert duplicate_addresses(engine) == 0
    again = ingest(engine, "adressen", path, batch_size=10)
    assert (again.ingevoegd, again.bijgewerkt, again.ongewijzigd) == (0, 0, 40)


def test_a_bag_object_stored_elsewhere_absorbs_the_address_row(engine: Engine, tmp_path: Path) -> None:
    """X is stored at an old address, the new address without BAG id; then the BAG says X
    lies at the new address: one row, the signals of the address row move to X."""
    load_bronnen(engine, tmp_path)
    frame = bag_rows(10)
    old = frame.head(1).assign(huisnummer=frame.loc[0, "huisnummer"] + 500)
    ingest(engine, "adressen", write_gpkg(pd.concat([old, frame.iloc[1:]]), tmp_path / "oud.gpkg"))
    ingest(engine, "adressen", write_address_csv(frame.head(1), tmp_path / "adres.csv"))
    ingest(engine, "signalen", address_signals(frame.head(1), tmp_path / "riec.xlsx"))
    x_id = scalar(engine, "SELECT id FROM verblijfsobject WHERE identificatie = :i", i=vbo_id(0))
    assert scalar(engine, "SELECT verblijfsobject_id FROM signaal") != x_id

    report = ingest(engine, "adressen", write_gpkg(frame, tmp_path / "nieuw.gpkg"))
    assert "samengevoegd met hun BAG-object: 1" in (report.melding or "")
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject") == 10
    assert duplicate_addresses(engine) == 0
    assert scalar(engine, "SELECT verblijfsobject_id FROM signaal") == x_id


def test_a_dry_run_adopts_nothing(engine: Engine, tmp_path: Path) -> None:
    frame = bag_rows(10)
    ingest(engine, "adressen", write_address_csv(frame, tmp_path / "adressen.csv"))
    report = ingest(engine, "adressen", write_gpkg(frame, tmp_path / "bag.gpkg"), dry_run=True)
    assert report.status is RunStatus.PROEF
    assert scalar(engine, "SELECT count(*) FROM verblijfsobject WHERE identificatie IS NULL") == 10


# -- what the figures count -------------------------------------------------------------------


def test_buurt_address_counts_equal_distinct_addresses(engine: Engine, tmp_path: Path) -> None:
    from core.security import create_principal_key

    load_areas(engine, tmp_path)
    load_bronnen(engine, tmp_path)
    with engine.begin() as c:
        create_principal_key(
            c, naam="analist", rol="analist", organisatie="Gemeente Groningen",
            convenanten=["riec"], gemeenten=["GM0014"], doelen=["analyse"],
        )  # fmt: skip
    frame = bag_rows(400)
    # Half the addresses first from a plain list, then the BAG export of all, then the list again.
    ingest(engine, "adressen", write_address_csv(frame.head(200), tmp_path / "lijst.csv"))
    ingest(engine, "signalen", address_signals(frame.iloc[::40], tmp_path / "riec.xlsx"))
    ingest(engine, "adressen", write_gpkg(frame, tmp_path / "bag.gpkg"))
    report = ingest(engine, "adressen", write_address_csv(frame.iloc[100:300], tmp_path / "lijst2.csv"))
    assert report.status is RunStatus.GESLAAGD
    with engine.connect() as c:
        distinct = dict(
            c.execute(
                text(f"SELECT buurtcode, count(DISTINCT ({ADDRESS})) FROM verblijfsobject GROUP BY buurtcode")
            ).all()
        )
        shown = c.execute(
            text("SELECT DISTINCT code, adressen FROM indicator_zicht WHERE gebied_soort = 'buurt'")
        ).all()
    assert sum(distinct.values()) == 400
    per_buurt = {code: n for code, n in shown if n}
    assert len(per_buurt) >= 10 and len({code for code, _ in shown}) == len(shown)  # one count per buurt
    assert per_buurt == {code: n for code, n in distinct.items() if code is not None}


# -- the schema -------------------------------------------------------------------------------


def test_upgrade_merges_addresses_stored_twice(fresh_db: str) -> None:
    db.downgrade(fresh_db, "0007")
    engine = create_engine(fresh_db)
    point = "ST_SetSRID(ST_MakePoint(233500, 582500), 28992)"
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO verblijfsobject (sleutel, identificatie, openbare_ruimte, huisnummer, huisletter,"
                " postcode, woonplaats, pand_identificatie, geom) VALUES"
                f" ('0014010000000001', '0014010000000001', 'Grote Markt', 1, 'A', '9712KB', 'Groningen',"
                f"  '0014100000000001', {point}),"
                f" ('A:9712KB:1:A:', NULL, 'Grote Markt', 1, 'A', '9712KB', 'Groningen', NULL, {point}),"
                f" ('A:9712KB:2::', NULL, 'Grote Markt', 2, NULL, '9712KB', 'Groningen', NULL, {point})"
            )
        )
        c.execute(
            text(
                "INSERT INTO bron (code, naam, organisatie, dataklasse, convenant, bewaartermijn_maanden)"
                " VALUES ('politie', 'Politie', 'Politie', 'vertrouwelijk', 'riec', 60)"
            )
        )
        c.execute(
            text(
                "INSERT INTO signaal (bron, bron_id, thema, soort, datum, dataklasse, convenant, bewaren_tot,"
                " verblijfsobject_id, geom) SELECT 'politie', 'P1', 'drugs', 'melding', DATE '2025-01-01',"
                " 'vertrouwelijk', 'riec', DATE '2030-01-01', id, geom FROM verblijfsobject"
                " WHERE sleutel = 'A:9712KB:1:A:'"
            )
        )
    db.migrate(fresh_db)
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT sleutel, pand_identificaties FROM verblijfsobject ORDER BY sleutel")
        ).all()
        linked = c.execute(
            text("SELECT v.sleutel FROM signaal s JOIN verblijfsobject v ON v.id = s.verblijfsobject_id")
        ).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("0014010000000001", ["0014100000000001"]),
        ("A:9712KB:2::", None),
    ]
    assert linked == "0014010000000001"


def test_pand_id_lists_are_checked(conn: Connection) -> None:
    insert = text(
        "INSERT INTO verblijfsobject (sleutel, openbare_ruimte, huisnummer, postcode, woonplaats,"
        " pand_identificaties, geom) VALUES (:s, 'Grote Markt', 1, '9712KB', 'Groningen', :p,"
        " ST_SetSRID(ST_MakePoint(233500, 582500), 28992))"
    )
    good = [None, ["0014100000000001"], ["0014100000000001", "0014100000000002"]]
    for i, panden in enumerate(good):
        conn.execute(insert, {"s": f"A:9712KB:{i + 1}::", "p": panden})
    for panden in ([], ["123"], ["0014100000000001", "12"], ["0014100000000001", None], [None]):
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert, {"s": "A:9712KB:99::", "p": panden})
