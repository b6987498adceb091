"""The demo dataset loads completely and every point lands in its areas (acceptance of the ingest)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from cli.demo import files_in, load_into
from core.domain import SIGNAAL_SOORTEN, THEMAS
from tests.conftest import scalar


def test_demo_loads_with_every_point_assigned(demo_engine: Engine) -> None:
    assert scalar(demo_engine, "SELECT count(*) FROM verblijfsobject") > 30_000
    for table in ("verblijfsobject", "signaal", "leegstand"):
        assert (
            scalar(demo_engine, f"SELECT count(*) FROM {table} WHERE buurtcode IS NULL OR wijkcode IS NULL")
            == 0
        ), table
        # The wijk is the buurt's own wijk: the hierarchy is consistent.
        assert (
            scalar(
                demo_engine,
                f"SELECT count(*) FROM {table} WHERE substr(buurtcode, 3, 6) <> substr(wijkcode, 3, 6)",
            )
            == 0
        )
    # Business parks and the derived buitengebied are assigned where they apply.
    in_parks = scalar(
        demo_engine, "SELECT count(*) FROM verblijfsobject WHERE bedrijventerreincode IS NOT NULL"
    )
    assert in_parks >= 2_000
    mismatched = scalar(
        demo_engine,
        "SELECT count(*) FROM verblijfsobject v WHERE (v.bedrijventerreincode IS NOT NULL) <>"
        " EXISTS (SELECT 1 FROM gebied g WHERE g.soort = 'bedrijventerrein' AND ST_Intersects(g.geom, v.geom))",
    )
    assert mismatched == 0
    rural = scalar(demo_engine, "SELECT count(*) FROM verblijfsobject WHERE buitengebied")
    assert rural >= 300  # the farms, at least
    assert (
        scalar(
            demo_engine,
            "SELECT count(*) FROM verblijfsobject WHERE buitengebied AND bedrijventerreincode IS NOT NULL",
        )
        == 0
    )
    assert (
        scalar(demo_engine, "SELECT count(*) FROM signaal WHERE buitengebied AND thema = 'buitengebied'")
        > 100
    )


def test_demo_signals_cover_every_theme_and_kind(demo_engine: Engine) -> None:
    assert scalar(demo_engine, "SELECT count(*) FROM signaal") >= 20_000
    with demo_engine.connect() as c:
        themas = set(c.execute(text("SELECT DISTINCT thema FROM signaal")).scalars())
        soorten = set(c.execute(text("SELECT DISTINCT soort FROM signaal")).scalars())
        years = set(c.execute(text("SELECT DISTINCT extract(year FROM datum)::int FROM signaal")).scalars())
        mensenhandel = set(
            c.execute(text("SELECT DISTINCT dataklasse FROM signaal WHERE thema = 'mensenhandel'")).scalars()
        )
    assert themas == set(THEMAS)
    assert soorten == set(SIGNAAL_SOORTEN) - {"overig"} or soorten == set(SIGNAAL_SOORTEN)
    assert years == {2023, 2024, 2025}
    assert mensenhandel == {"zeer_vertrouwelijk"}


def test_second_demo_load_changes_nothing(demo_engine: Engine, demo_dir: Path) -> None:
    assert load_into(demo_engine, demo_dir) == []  # every file recognised by its hash
    assert len(files_in(demo_dir)) >= 16
