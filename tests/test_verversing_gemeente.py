"""Refresh per municipality touched (issue 16): a delivery for one municipality recomputes
that municipality's cube cells and figures, leaves the others' rows alone, and gives the same
figures as a full refresh, withheld flags included.

The world is test_regio's: Groningen (GM0014) and a second municipality 40 km south (GM0106),
each with its buurten, addresses and RIEC signals, and analysts and planners of one or both,
plus a national beheerder (its class sees every municipality). The delta is a RIEC delivery
for GM0106 only: some signals corrected (another theme), some new.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from core.domain import RunStatus
from core.security import create_principal_key
from ingest.refresh import refresh_indicators
from tests import files
from tests.conftest import TEMPLATE, TestServer
from tests.files import ingest, load_bronnen
from tests.test_regio import ELDERS, GM, N_SIGNALEN, _address_rows, addresses_csv, areas_gpkg, signals_file

#: Who has figures: a class per municipality and per pair, suppressed and not, and one of all.
PRINCIPALS = {
    "analist-gm": ("analist", [GM]),
    "analist-elders": ("analist", [ELDERS]),
    "analist-beide": ("analist", [GM, ELDERS]),
    "planner-gm": ("planner", [GM]),
    "planner-beide": ("planner", [GM, ELDERS]),
    "beheerder": ("beheerder", []),
}


@dataclass
class World:
    owner: Engine
    tmp: Path


@pytest.fixture
def world(
    pg_server: TestServer, template_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    # No region holds both municipalities (the example region holds them both: see the
    # region test below).
    regions = tmp_path / "regio.toml"
    regions.write_text('[regio.elders]\nnaam = "Elders"\ngemeenten = ["GM0080"]\n')
    monkeypatch.setenv("OKAART_REGIO", str(regions))
    name = f"okaart_verversing_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    owner = create_engine(url)
    assert (
        ingest(owner, "gebieden", areas_gpkg(tmp_path / "wijkbuurtkaart_2024.gpkg")).status
        is RunStatus.GESLAAGD
    )
    for gemeente in (GM, ELDERS):
        report = ingest(owner, "adressen", addresses_csv(tmp_path / f"adressen_{gemeente}.csv", gemeente))
        assert report.status is RunStatus.GESLAAGD, report.melding
    load_bronnen(owner, tmp_path)
    with owner.begin() as c:
        for naam, (rol, gemeenten) in PRINCIPALS.items():
            create_principal_key(
                c, naam=naam, rol=rol, organisatie="Test", convenanten=["riec"], gemeenten=gemeenten,
                doelen=["planvorming" if rol == "planner" else "analyse"],
            )  # fmt: skip
    for gemeente in (GM, ELDERS):
        report = ingest(
            owner, "signalen", signals_file(tmp_path / f"riec_{gemeente}.xlsx", gemeente), bron="riec"
        )
        assert (report.status, report.ingevoegd) == (RunStatus.GESLAAGD, N_SIGNALEN), report.melding
    yield World(owner, tmp_path)
    owner.dispose()
    pg_server.drop_database(name)


def delta_file(path: Path, newest: dt.datetime | None = None) -> Path:
    """A RIEC delivery for GM0106: ten signals with another theme, five new ones (dated
    within the delivered year, or ``newest``: a day after every signal so far)."""
    source = _address_rows(ELDERS)
    rows: list[dict[str, object]] = []
    for i in [*range(10), *range(N_SIGNALEN, N_SIGNALEN + 5)]:
        at = source.loc[(i * 5) % len(source)]
        rows.append(
            {
                "Kenmerk": f"{ELDERS}-{i}",
                "Thema": "mensenhandel" if i < N_SIGNALEN else "cyber",
                "Soort": "melding",
                "Datum melding": newest or dt.datetime(2024, 1 + i % 12, 1 + i % 27),
                "Postcode": at["postal_code"],
                "Huisnummer": int(str(at["number"])),
                "Huisletter": at["letter"] or None,
                "Toevoeging": at["suffix"] or None,
            }
        )
    return files.signals_xlsx(path, rows)


def rows(engine: Engine, table: str, where: str = "true") -> dict[str, str]:
    """Every row of a table (as text) by its row version (xmin, ctid): what a rewrite changes."""
    with engine.connect() as c:
        found = c.execute(
            text(f"SELECT xmin::text || '/' || ctid::text, ROW(t.*)::text FROM {table} t WHERE {where}")
        )
        return {str(version): str(row) for version, row in found}


def contents(engine: Engine, table: str) -> list[str]:
    with engine.connect() as c:
        return sorted(str(r) for r in c.execute(text(f"SELECT ROW(t.*)::text FROM {table} t")).scalars())


def computed_at(engine: Engine) -> dict[str, object]:
    """Each principal's class and when its figures were computed."""
    with engine.connect() as c:
        found = c.execute(
            text(
                "SELECT p.naam, z.berekend_op FROM principal p JOIN zicht z ON z.gemeenten IS NOT DISTINCT FROM"
                " (CASE WHEN p.rol = 'beheerder' AND cardinality(p.gemeenten) = 0 THEN NULL ELSE p.gemeenten END)"
                " AND z.onderdrukt = (p.rol = 'planner') AND (z.convenanten IS NULL) = (p.rol <> 'partner')"
            )
        )
        return {str(naam): when for naam, when in found}


TABLES = ("indicator_zicht", "zicht_regio", "signaal_kubus", "signaal_dag", "signaal_bereik")


def full_refresh_changes_nothing(world: World) -> None:
    """A full refresh afterwards finds every table as the partial one left it."""
    partial = {table: contents(world.owner, table) for table in TABLES}
    with world.owner.connect() as c:
        refresh_indicators(c)
    for table in TABLES:
        assert contents(world.owner, table) == partial[table], table
    with world.owner.connect() as c:
        flagged = c.execute(
            text(
                "SELECT count(*) FROM indicator_zicht i JOIN zicht z ON z.id = i.zicht_id WHERE z.onderdrukt AND i.signalen_onderdrukt"
            )
        ).scalar_one()
    assert flagged > 0  # the planners' flags were compared, not only empty ones


#: Classes of one municipality: no regional figures, so another municipality's delta is none
#: of their business. A class of several has a region, whose deviation moves everywhere.
ONE = "zicht_id IN (SELECT id FROM zicht WHERE cardinality(gemeenten) = 1)"
SEVERAL = f"NOT ({ONE})"
REGIONAL = ("verwacht_regio", "z_regio", "afwijkend_regio")


def local_figures(engine: Engine, where: str) -> list[str]:
    """The indicator rows without their regional columns."""
    with engine.connect() as c:
        columns = [
            name
            for name in c.execute(
                text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'indicator_zicht'::regclass"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                )
            ).scalars()
            if name not in REGIONAL
        ]
        found = c.execute(text(f"SELECT ROW({', '.join(columns)})::text FROM indicator_zicht WHERE {where}"))
        return sorted(str(r) for r in found.scalars())


def regional_figures(engine: Engine, where: str) -> list[str]:
    """The regional columns as the layers read them (computed from ``zicht_regio``)."""
    with engine.connect() as c:
        found = c.execute(
            text(f"SELECT ROW(id, {', '.join(REGIONAL)})::text FROM laag_indicator_zicht WHERE {where}")
        )
        return sorted(str(r) for r in found.scalars())


def test_a_delta_in_one_municipality_leaves_the_others_rows_alone(world: World) -> None:
    figures_gm = rows(world.owner, "indicator_zicht", f"gemeentecode = '{GM}' AND {ONE}")
    regional_gm = local_figures(world.owner, f"gemeentecode = '{GM}' AND {SEVERAL}")
    deviation_gm = regional_figures(
        world.owner, f"gemeentecode = '{GM}' AND {SEVERAL} AND z_regio IS NOT NULL"
    )
    cube_gm = rows(world.owner, "signaal_kubus", f"gemeentecode = '{GM}'")
    days_gm = rows(world.owner, "signaal_dag", f"gemeentecode = '{GM}'")
    figures_elders = rows(world.owner, "indicator_zicht", f"gemeentecode = '{ELDERS}'")
    before = computed_at(world.owner)

    report = ingest(world.owner, "signalen", delta_file(world.tmp / "riec_delta.xlsx"), bron="riec")
    assert (report.status, report.ingevoegd, report.bijgewerkt) == (RunStatus.GESLAAGD, 5, 10), report.melding

    with world.owner.connect() as c:
        touched = c.execute(
            text("SELECT gemeenten FROM ingest_run WHERE id = :r"), {"r": report.run_id}
        ).scalar_one()
        pending = c.execute(
            text("SELECT count(*) FROM ingest_run WHERE ververst_op IS NULL AND ingevoegd > 0")
        ).scalar_one()
    assert touched == [ELDERS]
    assert pending == 0
    # GM0014's rows were not rewritten: the same row versions, cube and figures.
    assert rows(world.owner, "indicator_zicht", f"gemeentecode = '{GM}' AND {ONE}") == figures_gm
    # A class that sees both keeps GM0014's rows; only their deviation against the region
    # moves, with the region's totals (migration 0026).
    assert regional_gm and local_figures(world.owner, f"gemeentecode = '{GM}' AND {SEVERAL}") == regional_gm
    moved = regional_figures(world.owner, f"gemeentecode = '{GM}' AND {SEVERAL} AND z_regio IS NOT NULL")
    assert deviation_gm and moved != deviation_gm
    assert rows(world.owner, "signaal_kubus", f"gemeentecode = '{GM}'") == cube_gm
    assert rows(world.owner, "signaal_dag", f"gemeentecode = '{GM}'") == days_gm
    # GM0106's were, and the classes that see only GM0014 were not recomputed at all.
    assert rows(world.owner, "indicator_zicht", f"gemeentecode = '{ELDERS}'") != figures_elders
    after = computed_at(world.owner)
    assert after["analist-gm"] == before["analist-gm"] and after["planner-gm"] == before["planner-gm"]
    assert after["analist-elders"] != before["analist-elders"] and after["beheerder"] != before["beheerder"]
    full_refresh_changes_nothing(world)


def test_a_delta_that_moves_the_newest_day_recomputes_the_windows_of_every_municipality(world: World) -> None:
    """The rolling windows end on a class's newest visible day: a later day moves every
    area's windows, so the classes that see it are recomputed whole, still equal to a full
    refresh."""
    newest = dt.datetime(2025, 1, 5)
    report = ingest(world.owner, "signalen", delta_file(world.tmp / "riec_later.xlsx", newest), bron="riec")
    assert report.status is RunStatus.GESLAAGD, report.melding
    with world.owner.connect() as c:
        window_gm = c.execute(
            text(
                "SELECT DISTINCT i.periode FROM indicator_zicht i JOIN zicht z ON z.id = i.zicht_id"
                " WHERE z.gemeenten IS NULL AND i.gemeentecode = :g AND i.periode_soort = 'venster'"
            ),
            {"g": GM},
        ).scalars()
        assert set(window_gm) == {"laatste28d", "laatste365d"}
    full_refresh_changes_nothing(world)


def test_a_region_recomputes_its_other_municipalities_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A municipality's regional figures come from its region's totals: a delta in one member
    recomputes the cells of every member."""
    regions = world.tmp / "samen.toml"
    regions.write_text(f'[regio.samen]\nnaam = "Samen"\ngemeenten = ["{GM}", "{ELDERS}"]\n')
    monkeypatch.setenv("OKAART_REGIO", str(regions))
    cube_gm = rows(world.owner, "signaal_kubus", f"gemeentecode = '{GM}'")
    report = ingest(world.owner, "signalen", delta_file(world.tmp / "riec_delta.xlsx"), bron="riec")
    assert report.status is RunStatus.GESLAAGD, report.melding
    refilled = rows(world.owner, "signaal_kubus", f"gemeentecode = '{GM}'")
    assert sorted(refilled.values()) == sorted(cube_gm.values()) and refilled.keys() != cube_gm.keys()
    full_refresh_changes_nothing(world)


def test_a_run_over_areas_or_addresses_refreshes_everything(world: World) -> None:
    report = ingest(world.owner, "adressen", addresses_csv(world.tmp / "adressen_opnieuw.csv", GM))
    assert report.status is RunStatus.GESLAAGD
    with world.owner.connect() as c:
        touched = c.execute(
            text("SELECT gemeenten FROM ingest_run WHERE id = :r"), {"r": report.run_id}
        ).scalar_one()
    assert touched is None
