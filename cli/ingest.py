"""``okaart ingest <kind> FILE``, ``okaart ingest runs`` and ``okaart ingest rejects RUN``.

Exit status of an ingest: 0 stored (or a dry run), 1 failed (one line says why), 2 refused
(a reason class over its threshold: nothing stored), 3 read but nothing to store (every row
rejected within the thresholds, e.g. a historic file wholly past its retention period).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from cli.failure import EXIT_BUG, crash_line, debugging, say
from core import db
from core.domain import RunStatus
from core.settings import get_settings
from ingest.base import Options
from ingest.errors import IngestError
from ingest.pipeline import Pipeline
from ingest.reasons import summary
from ingest.report import IngestReport
from ingest.session import connect_args
from ingest.sources import KINDS

ingest_cli = typer.Typer(
    help="Load areas, addresses, vacancy, signals and registers (vestigingen) into PostGIS.",
    no_args_is_help=True,
)
console = Console()


#: Exit statuses of ``okaart ingest <kind>`` (see the module's docstring).
EXIT_FAILED, EXIT_REFUSED, EXIT_NOTHING_STORED = 1, 2, 3


def _mapping_lines(mapping_file: Path | None) -> list[str]:
    if not mapping_file:
        return []
    try:
        content = mapping_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(
            f"{mapping_file.name}: koppelbestand niet leesbaar ({type(exc).__name__})",
            fix="geef een tekstbestand (UTF-8) met regels kolom=veld",
        ) from exc
    return [
        line.strip() for line in content.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _pair(line: str, flag: str, form: str) -> tuple[str, str]:
    if "=" not in line:
        raise IngestError(f"{flag} verwacht {form}, niet {line!r}")
    left, right = (part.strip() for part in line.split("=", 1))
    return left, right


def parse_mapping(pairs: list[str], mapping_file: Path | None) -> dict[str, str]:
    """``kolom=veld`` pairs, from the command line and/or a file with one pair per line
    (the file's ``zet`` and ``sleutel`` lines are :func:`parse_supplied`'s)."""
    lines = list(pairs) + [
        line for line in _mapping_lines(mapping_file) if line.split(maxsplit=1)[0] not in ("zet", "sleutel")
    ]
    return dict(_pair(line, "--map", "kolom=veld") for line in lines)


def parse_supplied(
    zet: list[str], sleutel: str | None, mapping_file: Path | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Constants (``veld=waarde``) and key columns, from the command line and the mapping
    file's ``zet veld=waarde`` and ``sleutel kolom,kolom`` lines; the command line wins."""
    constants: dict[str, str] = {}
    key: tuple[str, ...] = ()
    for line in _mapping_lines(mapping_file):
        word, _, rest = line.partition(" ")
        if word == "zet":
            field, value = _pair(rest, "zet in het koppelbestand", "zet veld=waarde")
            constants[field] = value
        elif word == "sleutel":
            key = tuple(c.strip() for c in rest.split(",") if c.strip())
    for pair in zet:
        field, value = _pair(pair, "--zet", "veld=waarde")
        constants[field] = value
    if sleutel is not None:
        key = tuple(c.strip() for c in sleutel.split(",") if c.strip())
    if any(not value for value in constants.values()):
        raise IngestError("--zet verwacht veld=waarde met een waarde")
    return constants, key


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
    if report.melding:  # says the rejects per reason, when there are any
        console.print(f"  {report.melding}")
    if report.fasen:
        console.print("  fasen: " + ", ".join(f"{k} {v:.2f} s" for k, v in report.fasen.items()), style="dim")


def run_ingest(kind_name: str, options: Options) -> IngestReport:
    """Run one ingest against the configured database (used by the CLI and the demo).

    The connections carry TCP keepalives (``ingest/session.py``), so the server notices a
    client whose machine vanished, not only one whose process died.
    """
    settings = get_settings()
    if not settings.database_url:
        db.embedded_cluster(settings).start()
    engine = db.make_engine(db.owner_url(settings), connect_args=connect_args())
    pipeline = Pipeline(engine, KINDS[kind_name]())
    try:
        return pipeline.run(options)
    except IngestError as exc:
        exc.run_id = exc.run_id or pipeline.last_run_id
        raise
    except Exception as exc:
        raise RunCrashedError(pipeline.last_run_id) from exc
    finally:
        engine.dispose()


class RunCrashedError(Exception):
    """A run ended by a bug; the original error is its cause, the failed run is recorded."""

    def __init__(self, run_id: int | None) -> None:
        super().__init__(f"run {run_id} ended by an unexpected error")
        self.run_id = run_id


def _failure_line(file: Path, exc: IngestError) -> str:
    """``mislukt: FILE: problem: fix (run N)``: the file named once, whatever the message."""
    message = str(exc)
    if file.name not in message:
        message = f"{file.name}: {message}"
    run = f" (run {exc.run_id})" if exc.run_id else ""
    return f"{RunStatus.MISLUKT}: {message}{run}"


def _register(kind_name: str) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help="GeoPackage, GeoJSON, Shapefile (.zip), CSV or XLSX.")],
        layer: Annotated[str | None, typer.Option("--layer", help="Layer or sheet (default: all).")] = None,
        map_: Annotated[list[str] | None, typer.Option("--map", help="kolom=veld; repeatable.")] = None,
        mapping_file: Annotated[
            Path | None, typer.Option("--mapping", help="File of kolom=veld lines.")
        ] = None,
        bron: Annotated[
            str | None, typer.Option("--bron", help="Partner code (signalen, leegstand, vestigingen).")
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
        zet: Annotated[
            list[str] | None,
            typer.Option(
                "--zet",
                help="veld=waarde: a constant for a field the file lacks (fills empty cells of one "
                "it has; the file's values win). Repeatable.",
            ),
        ] = None,
        sleutel: Annotated[
            str | None,
            typer.Option(
                "--sleutel", help="kolom,kolom: make the id from these columns when the file has none."
            ),
        ] = None,
        max_fouten: Annotated[
            float | None,
            typer.Option(
                "--max-fouten",
                min=0.0,
                max=1.0,
                help="Share of rows with data errors above which nothing is stored (default 0.05).",
            ),
        ] = None,
        max_niet_gevonden: Annotated[
            float,
            typer.Option(
                "--max-niet-gevonden",
                min=0.0,
                max=1.0,
                help="Share of rows whose address is not in the BAG above which nothing is stored.",
            ),
        ] = 0.9,
        max_verlopen: Annotated[
            float,
            typer.Option(
                "--max-verlopen",
                min=0.0,
                max=1.0,
                help="Share of rows past their retention period above which nothing is stored.",
            ),
        ] = 1.0,
        crs: Annotated[
            int | None,
            typer.Option(
                "--crs", help="EPSG code of the coordinates when the file gives none or a wrong one."
            ),
        ] = None,
    ) -> None:
        try:
            constants, key_columns = parse_supplied(zet or [], sleutel, mapping_file)
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
                constants=constants,
                key_columns=key_columns,
                reject_share=get_settings().reject_share if max_fouten is None else max_fouten,
                not_found_share=max_niet_gevonden,
                expired_share=max_verlopen,
                crs=crs,
            )
            report = run_ingest(kind_name, options)
        except IngestError as exc:
            say(_failure_line(file, exc))
            raise typer.Exit(EXIT_FAILED) from exc
        except RunCrashedError as exc:
            if debugging():
                raise
            say(crash_line(exc.__cause__ or exc, exc.run_id))
            raise typer.Exit(EXIT_BUG) from exc
        print_report(report)
        if report.status in (RunStatus.AFGEWEZEN, RunStatus.MISLUKT):
            say(
                f"{report.status}: {file.name}: {report.afgekeurd} van {report.gelezen} rijen afgekeurd,"
                f" niets opgeslagen: bekijk de redenen met `okaart ingest rejects {report.run_id}`"
            )
            raise typer.Exit(EXIT_REFUSED)
        if report.status is RunStatus.GESLAAGD and not report.opgeslagen:
            raise typer.Exit(EXIT_NOTHING_STORED)

    command.__doc__ = f"Ingest {kind_name} from FILE."
    ingest_cli.command(kind_name)(command)


for _name in KINDS:
    _register(_name)


@ingest_cli.command("refresh")
def refresh(
    force: Annotated[bool, typer.Option("--force", help="Also when the figures are up to date.")] = False,
) -> None:
    """Bring the indicators up to date with the data (after a run killed before its refresh)."""
    from ingest.refresh import heal, refresh_indicators

    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        if force:
            with engine.connect() as conn:
                refresh_indicators(conn)
            done = True
        else:
            done = heal(engine)
    finally:
        engine.dispose()
    console.print("cijfers bijgewerkt" if done else "cijfers waren al bij")


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
        "afgekeurd per reden",
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
                summary(r["opties"].get("redenen") or {}),
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
