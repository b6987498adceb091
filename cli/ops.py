"""``okaart retention run`` and ``okaart audit verify``: the operator's recurring duties."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import text

from core import db
from core.settings import get_settings

retention_cli = typer.Typer(help="Retention periods of signals.", no_args_is_help=True)
audit_cli = typer.Typer(help="The audit trail.", no_args_is_help=True)
console = Console()


@retention_cli.command("run")
def retention_run(
    peildatum: Annotated[
        str | None, typer.Option("--peildatum", help="Remove what expired before this date (default: today).")
    ] = None,
    elke: Annotated[
        float | None,
        typer.Option("--elke", help="Scheduled mode: run again every this many hours, until stopped."),
    ] = None,
) -> None:
    """Remove signals past their retention date everywhere; idempotent."""
    from ingest.retention import run_retention

    try:
        peil = dt.date.fromisoformat(peildatum) if peildatum else None
    except ValueError:
        typer.echo(f"okaart: --peildatum {peildatum!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        while True:
            report = run_retention(engine, peil)
            detail = ", ".join(f"{k}: {v}" for k, v in report.per_bron_thema.items()) or "niets"
            console.print(
                f"retentie {report.peildatum}: {report.verwijderd} signalen verwijderd ({detail})"
                + (f", run {report.run_id}" if report.run_id else "")
            )
            if elke is None:
                return
            time.sleep(elke * 3600)
    finally:
        engine.dispose()


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 and list the rows when it was tampered with."""
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
            problems = [tuple(r) for r in conn.execute(text("SELECT id, probleem FROM audit_log_verify()"))]
            # A removed last row breaks no link; the id sequence still remembers it.
            newest = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
            issued, called = conn.execute(text("SELECT last_value, is_called FROM audit_log_id_seq")).one()
            if called and issued > newest:
                problems.append((issued, "laatste rij(en) ontbreken: verwijderd na uitgifte van het id"))
    finally:
        engine.dispose()
    if problems:
        for row_id, probleem in problems:
            console.print(f"audit_log rij {row_id}: {probleem}")
        typer.echo(f"okaart: audit trail tampered with: {len(problems)} problem(s) in {total} rows", err=True)
        raise typer.Exit(1)
    console.print(f"audit_log: {total} rijen, keten intact")
