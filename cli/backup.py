"""``okaart backup`` and ``okaart restore``: the database with its roles, never a password.

The work is in :mod:`core.backup`; here the target is chosen as everywhere else (DATABASE_URL,
else the embedded cluster, started when needed) and the outcome is said in a few lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from core import backup as backups
from core import db
from core.pgcluster import find_bindir
from core.settings import Settings, get_settings


def register(cli: typer.Typer) -> None:
    """Add the two commands to the ``okaart`` command line."""
    cli.command("backup")(backup)
    cli.command("restore")(restore)


def _owner_url(settings: Settings) -> str:
    if not settings.database_url:
        db.embedded_cluster(settings).start()
    return db.owner_url(settings)


def backup(
    doel: Annotated[Path, typer.Argument(help="New directory, or a file ending in .tar.")],
) -> None:
    """Back up the database with its roles (no passwords) to a directory or .tar.

    A custom-format dump, the roles and memberships, and a manifest with checksums. The audit
    key is not in it: keep that apart.
    """
    settings = get_settings()
    manifest = backups.backup(_owner_url(settings), doel, find_bindir(settings.pg_bindir))
    size = backups.dump_size(doel) / 1e6
    typer.echo(
        f"backup: {doel} ({size:.1f} MB), database {manifest.database}, revisie {manifest.revisie},"
        f" {manifest.audit_rijen} auditrijen"
    )


def restore(
    bron: Annotated[Path, typer.Argument(help="A backup made by `okaart backup` (directory or .tar).")],
    auditsleutel: Annotated[
        Path | None,
        typer.Option(
            "--auditsleutel",
            help="The source's audit key file, installed as the embedded cluster's own "
            "(elsewhere: set OKAART_AUDIT_KEY_FILE).",
        ),
    ] = None,
) -> None:
    """Restore a backup into an empty database; the target's own passwords stay.

    The roles it needs are created or aligned first. Check the trail afterwards with
    `okaart audit verify`.
    """
    settings = get_settings()
    if auditsleutel is not None and settings.database_url:
        typer.echo(
            "okaart: --auditsleutel is voor de ingebouwde database; zet anders OKAART_AUDIT_KEY_FILE",
            err=True,
        )
        raise typer.Exit(2)
    if auditsleutel is not None and not auditsleutel.is_file():
        typer.echo(f"okaart: auditsleutel {auditsleutel} bestaat niet", err=True)
        raise typer.Exit(2)
    report = backups.restore(_owner_url(settings), bron, find_bindir(settings.pg_bindir))
    if auditsleutel is not None:
        _install_key(db.embedded_cluster(settings).audit_key_file, auditsleutel)
    m = report.manifest
    typer.echo(
        f"teruggezet: database {m.database} van {m.gemaakt}, revisie {m.revisie}, {report.audit_rijen}"
        f" auditrijen, in {report.seconden:.1f} s"
    )
    if report.rollen_aangemaakt:
        typer.echo("rollen aangemaakt: " + ", ".join(report.rollen_aangemaakt))
    for rol in report.zonder_wachtwoord:
        typer.echo(
            f"let op: rol {rol} heeft nog geen wachtwoord en kan pas inloggen na ALTER ROLE ... PASSWORD"
        )
    typer.echo("controleer nu de auditketen: okaart audit verify")


def _install_key(target: Path, source: Path) -> None:
    """Replace the fresh cluster's generated key by the source's (mode 0600, atomically)."""
    tmp = target.with_suffix(".nieuw")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(source.read_text().strip() + "\n")
    tmp.replace(target)
