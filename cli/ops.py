"""``okaart retention run`` and ``okaart audit anchor|verify``: the operator's recurring duties."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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


def _audit_key() -> bytes:
    """The anchors' secret, or one line and exit 1."""
    from core.audit_anchors import AuditKeyError, load_key

    settings = get_settings()
    try:
        return load_key(settings, None if settings.database_url else db.embedded_cluster(settings))
    except AuditKeyError as exc:
        typer.echo(f"okaart: {exc}", err=True)
        raise typer.Exit(1) from None


@audit_cli.command("anchor")
def audit_anchor(
    bestand: Annotated[
        Path | None, typer.Option("--bestand", help="Also append each new anchor to this file.")
    ] = None,
    elke: Annotated[
        float | None,
        typer.Option("--elke", help="Scheduled mode: anchor again every this many minutes, until stopped."),
    ] = None,
) -> None:
    """Key the head of every audit chain with the secret; print the anchors for safekeeping
    (one line per chain, the same line again while a head has not moved)."""
    from core.audit_anchors import anchor

    key = _audit_key()
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        while True:
            with engine.begin() as conn:
                made = anchor(conn, key)
            if not made:
                console.print("audit_log is leeg: niets te verankeren")
            for head, new in made:
                typer.echo(head.line())
                if new and bestand is not None:
                    with bestand.open("a", encoding="utf-8") as out:
                        out.write(head.line() + "\n")
            if elke is None:
                return
            time.sleep(elke * 60)
    finally:
        engine.dispose()


@audit_cli.command("verify")
def audit_verify(
    ankers: Annotated[
        Path | None,
        typer.Option("--ankers", help="Anchors kept outside the database (lines printed by `audit anchor`)."),
    ] = None,
) -> None:
    """Check the hash chain and every anchor; exit 1 and list the findings when tampered with."""
    from core.audit_anchors import Anchor, read_anchor_file, verify

    key = _audit_key()
    kept: list[Anchor] = []
    unreadable: list[tuple[int | None, str]] = []
    if ankers is not None:
        try:
            kept, unreadable = read_anchor_file(ankers)
        except OSError as exc:
            typer.echo(f"okaart: {ankers}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        with engine.connect() as conn:
            verdict = verify(conn, key, kept)
    finally:
        engine.dispose()
    problems = unreadable + verdict.problems
    if problems:
        for row_id, probleem in problems:
            typer.echo(f"audit_log rij {row_id}: {probleem}" if row_id is not None else probleem)
        typer.echo(
            f"okaart: audit trail tampered with: {len(problems)} problem(s) in {verdict.rows} rows", err=True
        )
        raise typer.Exit(1)
    console.print(
        f"audit_log: {verdict.rows} rijen, keten intact, {verdict.anchors} ankers kloppen"
        f" ({verdict.chains} {'keten' if verdict.chains == 1 else 'ketens'})"
    )
    if verdict.unanchored:
        console.print(
            f"let op: {verdict.unanchored} rijen na het laatste anker van hun keten zijn alleen door de"
            " ongesleutelde keten beschermd; veranker geregeld met `okaart audit anchor`"
        )
