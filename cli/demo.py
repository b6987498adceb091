"""The demo: build the (partly synthetic) Groningen dataset and ingest it, once.

The files are built deterministically by ``data/build_demo.py`` into the data directory
and loaded through the same ingest pipeline an operator uses. A file whose exact content
(sha256) was already ingested successfully is skipped, so a second ``okaart demo`` starts
in seconds and changes nothing.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, text

from core import db
from core.domain import RunStatus
from core.settings import Settings
from ingest import bronnen
from ingest.base import Options
from ingest.pipeline import Pipeline
from ingest.refresh import refresh_indicators
from ingest.report import IngestReport, file_sha256
from ingest.sources import KINDS

log = logging.getLogger("okaart.demo")
REPO = Path(__file__).resolve().parent.parent
BUILDER = REPO / "data" / "build_demo.py"


def build_files(out: Path) -> dict[str, Path]:
    """Build the demo files into ``out`` (skipped when its manifest exists)."""
    if (out / "MANIFEST.json").exists():
        return files_in(out)
    spec = importlib.util.spec_from_file_location("okaart_build_demo", BUILDER)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"demo builder not found at {BUILDER}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the builder loads
    spec.loader.exec_module(module)
    module.build(out)
    return files_in(out)


def files_in(out: Path) -> dict[str, Path]:
    """The demo files in load order: areas, addresses, vacancy, signals per partner, registers."""
    plan = {
        "gebieden": out / "gebieden_cbs_2024.gpkg",
        "bedrijventerreinen": out / "bedrijventerreinen_ibis.geojson",
        "gebieden:pc4": out / "postcodegebieden_pc4_2024.gpkg",
        "gebieden:vierkant500": out / "cbs_vierkanten_500m_2024.gpkg",
        "adressen": out / "adressen_bag.gpkg",
        "leegstand": out / "leegstand.csv",
    }
    for path in sorted((out / "signalen").iterdir()):
        if path.suffix in (".csv", ".xlsx") and path.stem != "bronnen":
            plan[f"signalen:{path.stem}"] = path
    for path in sorted((out / "vestigingen").glob("*.csv")):
        plan[f"vestigingen:{path.stem}"] = path  # registers, named after their partner
    return plan


def _already_loaded(engine: Engine, soort: str, path: Path) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM ingest_run WHERE soort = :soort AND sha256 = :sha"
                    " AND status = :status)"
                ),
                {"soort": soort, "sha": file_sha256(path), "status": RunStatus.GESLAAGD},
            ).scalar_one()
        )


def load_into(engine: Engine, out: Path, console: Console | None = None) -> list[IngestReport]:
    """Ingest every demo file that is not loaded yet; returns the reports of the runs made."""
    console = console or Console(stderr=True)
    files = build_files(out)
    with engine.begin() as conn:
        bronnen.load(conn, out / "signalen" / "bronnen.csv")
    reports = []
    for name, path in files.items():
        kind = name.split(":")[0]
        options: dict[str, Any] = {
            "path": path,
            "jaar": 2024 if kind in ("gebieden", "bedrijventerreinen") else None,
        }
        if kind == "bedrijventerreinen":
            kind = "gebieden"
        if kind in ("signalen", "vestigingen"):
            options["bron"] = path.stem
        if kind == "leegstand":
            options["bron"] = "gemeente"
        if _already_loaded(engine, kind, path):
            continue
        report = Pipeline(engine, KINDS[kind](), console).run(Options(**options))
        console.print(
            f"demo: {path.name}: {report.status}, {report.ingevoegd:,} nieuw, "
            f"{report.afgekeurd:,} afgekeurd ({report.duur_ms / 1000:.1f} s)"
        )
        reports.append(report)
    if reports:
        with engine.connect() as conn:
            refresh_indicators(conn)
    return reports


def demo_access(url: str, naam: str, rol: str, link_minutes: float | None = None) -> tuple[str, str | None]:
    """A fresh API key for a demo principal and, with ``link_minutes``, a one-time sign-in
    link token for it that opens the map (so the demo needs no key pasted into a browser)."""
    from core.security import create_principal_key
    from core.sessions import create_link

    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            key, key_id = create_principal_key(
                conn,
                naam=naam,
                rol=rol,
                organisatie="Gemeente Groningen (demo)",
                convenanten=["gemeente", "riec", "bibob", "buitengebied", "zorg"],
                gemeenten=["GM0014"],
                doelen=["demo"],
            )
            token = create_link(conn, key_id, "/kaart", link_minutes) if link_minutes else None
    finally:
        engine.dispose()
    return key, token


def load(url: str, settings: Settings) -> None:
    """Build and load the demo dataset into the database at ``url``."""
    engine = db.make_engine(url)
    try:
        load_into(engine, settings.data_dir / "demo")
    finally:
        engine.dispose()
