"""``okaart ingest <kind> FILE``, ``okaart ingest runs`` and ``okaart ingest rejects RUN``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from core import db
from core.domain import RunStatus
from core.settings import get_settings
from ingest.base import Options
from ingest.errors import IngestError
from ingest.pipeline import Pipeline
from ingest.report import IngestReport
from ingest.sources import KINDS

ingest_cli = typer.Typer(
    help="Load areas, addresses, vacancy and signals into PostGIS.", no_args_is_help=True
)
console = Console()


def parse_mapping(pairs: list[str], mapping_file: Path | None) -> dict[str, str]:
    """``kolom=veld`` pairs, from the command line and/or a file with one pair per line."""
    lines = list(pairs)
    if mapping_file:
        lines += [
            line.strip()
            for line in mapping_file.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    mapping: dict[str, str] = {}
    for line in lines:
        if "=" not in line:
            raise IngestError(f"--map verwacht kolom=veld, niet {line!r}")
        column, field = (part.strip() for part in line.split("=", 1))
        mapping[column] = field
    return mapping


def print_report(report: IngestReport) -> None:
    colour = {RunStatus.GESLAAGD: "green", RunStatus.PROEF: "cyan", RunStatus.AFGEWEZEN: "yellow"}.get(
        report.status, "red"
    )
    console.print(
        f"[bold {colour}]{report.status}[/] run {report.run_id} · {report.soort} · {report.bestand}: "
        f"{report.gelezen:,} gelezen, {report.ingevoegd:,} nieuw, {report.bijgewerkt:,} bijgewerkt, "
        f"{report.ongewijzigd:,} ongewijzigd, {report.afgekeurd:,} afgekeurd, "
        f"{report.verwijderd:,} verwijderd in {report.duur_ms / 1000:.1f} s"
    )
    if report.melding:
        console.print(f"  {report.melding}")
    if report.fasen:
        console.print("  fasen: " + ", ".join(f"{k} {v:.2f} s" for k, v in report.fasen.items()), style="dim")


def run_ingest(kind_name: str, options: Options) -> IngestReport:
    """Run one ingest against the configured database (used by the CLI and the demo)."""
    settings = get_settings()
    if not settings.database_url:
        db.embedded_cluster(settings).start()
    engine = db.make_engine(db.owner_url(settings))
    try:
        return Pipeline(engine, KINDS[kind_name]()).run(options)
    finally:
        engine.dispose()


def _register(kind_name: str) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help="GeoPackage, GeoJSON, Shapefile (.zip), CSV or XLSX.")],
        layer: Annotated[str | None, typer.Option("--layer", help="Layer or sheet (default: all).")] = None,
        map_: Annotated[list[str] | None, typer.Option("--map", help="kolom=veld; repeatable.")] = None,
        mapping_file: Annotated[
            Path | None, typer.Option("--mapping", help="File of kolom=veld lines.")
        ] = None,
        bron: Annotated[
            str | None, typer.Option("--bron", help="Partner code (signalen, leegstand).")
        ] = None,
        jaar: Annotated[int | None, typer.Option("--jaar", help="Boundary edition (gebieden).")] = None,
        soort: Annotated[str | None, typer.Option("--soort", help="Area type when not recognised.")] = None,
        indeling: Annotated[
            str | None,
            typer.Option(
                "--indeling", help="Division of the areas: cbs, gemeente, ibis, postcode, cbs_vierkant."
            ),
        ] = None,
        vervang: Annotated[
            bool, typer.Option("--vervang", help="Replace boundaries stored in the same division and year.")
        ] = False,
        snapshot: Annotated[
            bool, typer.Option("--snapshot", help="Remove keys no longer delivered.")
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Validate and count; store nothing.")
        ] = False,
    ) -> None:
        try:
            options = Options(
                path=file,
                layer=layer,
                mapping=parse_mapping(map_ or [], mapping_file),
                bron=bron,
                jaar=jaar,
                soort=soort,
                indeling=indeling,
                vervang=vervang,
                snapshot=snapshot,
                dry_run=dry_run,
                reject_share=get_settings().reject_share,
            )
            report = run_ingest(kind_name, options)
        except IngestError as exc:
            console.print(f"[bold red]{RunStatus.MISLUKT}[/] {exc}")
            raise typer.Exit(1) from exc
        print_report(report)
        if report.status in (RunStatus.AFGEWEZEN, RunStatus.MISLUKT):
            raise typer.Exit(2)

    command.__doc__ = f"Ingest {kind_name} from FILE."
    ingest_cli.command(kind_name)(command)


for _name in KINDS:
    _register(_name)


@ingest_cli.command("runs")
def runs(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """List earlier runs."""
    engine = db.make_engine(db.owner_url(get_settings()))
    table = Table(
        "run",
        "soort",
        "bestand",
        "status",
        "gelezen",
        "nieuw",
        "bijgewerkt",
        "ongewijzigd",
        "afgekeurd",
        "verwijderd",
        "s",
        "gestart",
    )
    with engine.connect() as conn:
        for r in conn.execute(
            text("SELECT * FROM ingest_run ORDER BY id DESC LIMIT :n"), {"n": limit}
        ).mappings():
            table.add_row(
                str(r["id"]),
                r["soort"],
                r["bestand"],
                r["status"],
                *(
                    f"{r[k]:,}"
                    for k in (
                        "gelezen",
                        "ingevoegd",
                        "bijgewerkt",
                        "ongewijzigd",
                        "afgekeurd",
                        "verwijderd",
                    )
                ),
                f"{r['duur_ms'] / 1000:.1f}",
                f"{r['gestart']:%Y-%m-%d %H:%M}",
            )
    engine.dispose()
    console.print(table)


@ingest_cli.command("rejects")
def rejects(
    run: Annotated[int, typer.Argument(help="Run id (see `okaart ingest runs`).")],
    limit: Annotated[int, typer.Option(help="How many rows.")] = 50,
) -> None:
    """Show the quarantined rows of a run with their reasons."""
    engine = db.make_engine(db.owner_url(get_settings()))
    table = Table("rij", "reden", "toelichting", "gegevens")
    with engine.connect() as conn:
        for r in conn.execute(
            text(
                "SELECT rij, reden, detail, gegevens::text AS g FROM ingest_reject"
                " WHERE ingest_run_id = :r ORDER BY rij LIMIT :n"
            ),
            {"r": run, "n": limit},
        ):
            table.add_row(str(r.rij), r.reden, r.detail or "", r.g[:120])
    engine.dispose()
    console.print(table)


bronnen_cli = typer.Typer(help="Partners (bronnen) and their rules.", no_args_is_help=True)


@bronnen_cli.command("laad")
def bronnen_laad(
    file: Annotated[
        Path,
        typer.Argument(help="CSV: code,naam,organisatie,dataklasse,convenant,bewaartermijn_maanden"),
    ],
) -> None:
    """Add or update partners from a CSV file."""
    from ingest import bronnen

    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        with engine.begin() as conn:
            changed = bronnen.load(conn, file)
    finally:
        engine.dispose()
    console.print(f"{changed} bronnen toegevoegd of gewijzigd")


@bronnen_cli.command("lijst")
def bronnen_lijst() -> None:
    """List the partners and their rules."""
    engine = db.make_engine(db.owner_url(get_settings()))
    table = Table("code", "naam", "dataklasse", "convenant", "bewaartermijn (mnd)")
    with engine.connect() as conn:
        for r in conn.execute(text("SELECT * FROM bron ORDER BY code")):
            table.add_row(r.code, r.naam, r.dataklasse, r.convenant, str(r.bewaartermijn_maanden))
    engine.dispose()
    console.print(table)
