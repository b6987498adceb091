"""``okaart keys create|list|revoke|link``: API keys for principals (shown once, stored hashed), and
one-time sign-in links for the browser."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from core import db, sessions
from core import regio as regios
from core.domain import DATAKLASSEN
from core.security import ACTIVE_KEY, ROLE_CLEARANCE, create_principal_key
from core.settings import get_settings

keys_cli = typer.Typer(help="API keys for principals.", no_args_is_help=True)
console = Console()


@keys_cli.command("create")
def create(
    naam: Annotated[str, typer.Option("--naam", help="Unique name of the principal (person or system).")],
    rol: Annotated[str, typer.Option("--rol", help="analist, partner, planner or beheerder.")],
    organisatie: Annotated[
        str, typer.Option("--organisatie", help="Organisation, e.g. 'Politie Noord-Nederland'.")
    ],
    convenant: Annotated[list[str] | None, typer.Option("--convenant", help="Covenant; repeatable.")] = None,
    gemeente: Annotated[
        list[str] | None, typer.Option("--gemeente", help="Municipality code (GM0014); repeatable.")
    ] = None,
    regio: Annotated[
        list[str] | None,
        typer.Option("--regio", help="Named region (core/regio.toml): all its municipalities; repeatable."),
    ] = None,
    doel: Annotated[list[str] | None, typer.Option("--doel", help="Allowed purpose; repeatable.")] = None,
    dataklasse: Annotated[
        str | None,
        typer.Option("--dataklasse", help="Most sensitive signal class it may see (default: by role)."),
    ] = None,
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    if rol not in ROLE_CLEARANCE:
        typer.echo(f"okaart: unknown role {rol!r}; choose from {', '.join(ROLE_CLEARANCE)}", err=True)
        raise typer.Exit(1)
    if dataklasse is not None and dataklasse not in DATAKLASSEN:
        typer.echo(
            f"okaart: unknown data class {dataklasse!r}; choose from {', '.join(DATAKLASSEN)}", err=True
        )
        raise typer.Exit(1)
    try:
        scope = regios.gemeenten(regio or [], gemeente or [])
    except regios.RegioError as exc:
        typer.echo(f"okaart: {exc}", err=True)
        raise typer.Exit(1) from exc
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        with engine.begin() as conn:
            key, key_id = create_principal_key(
                conn, naam=naam, rol=rol, organisatie=organisatie, convenanten=convenant or [],
                gemeenten=scope, doelen=doel or [], dataklasse=dataklasse,
            )  # fmt: skip
    finally:
        engine.dispose()
    console.print(f"key {key_id} for {naam} ({rol}); store it now, it is not shown again:")
    typer.echo(key)


@keys_cli.command("list")
def list_keys() -> None:
    """List keys (never the keys themselves)."""
    engine = db.make_engine(db.owner_url(get_settings()))
    table = Table("id", "naam", "rol", "organisatie", "gemeenten", "convenanten", "aangemaakt", "ingetrokken")
    with engine.connect() as conn:
        for r in conn.execute(
            text(
                "SELECT k.id, p.naam, p.rol, p.organisatie, p.gemeenten, p.convenanten, k.aangemaakt_op,"
                " k.ingetrokken_op FROM api_key k JOIN principal p ON p.id = k.principal_id ORDER BY k.id"
            )
        ):
            table.add_row(
                str(r.id), r.naam, r.rol, r.organisatie, ",".join(r.gemeenten), ",".join(r.convenanten),
                f"{r.aangemaakt_op:%Y-%m-%d}",
                f"{r.ingetrokken_op:%Y-%m-%d %H:%M}" if r.ingetrokken_op else "",
            )  # fmt: skip
    engine.dispose()
    console.print(table)


@keys_cli.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="Key id (see `okaart keys list`).")]) -> None:
    """Revoke a key at once (the service trusts a cached key for at most 10 s)."""
    engine = db.make_engine(db.owner_url(get_settings()))
    with engine.begin() as conn:
        done = conn.execute(
            text("UPDATE api_key SET ingetrokken_op = now() WHERE id = :i AND ingetrokken_op IS NULL"),
            {"i": key_id},
        ).rowcount
    engine.dispose()
    if not done:
        typer.echo(f"okaart: no active key {key_id}", err=True)
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


def signin_url(base: str, token: str, volgende: str) -> str:
    """The one-time sign-in link as a user opens it."""
    return f"{base.rstrip('/')}/aanmelden?{urlencode({'token': token, 'next': volgende}, safe='/')}"


def base_url() -> str:
    """Where users reach the service: ``OKAART_PUBLIC_URL``, else this machine's host and port."""
    settings = get_settings()
    return settings.public_url or f"http://{settings.host}:{settings.port}"


@keys_cli.command("link")
def link(
    key_id: Annotated[int, typer.Argument(help="Key id (see `okaart keys list`).")],
    next_path: Annotated[str, typer.Option("--next", help="Page to open after signing in.")] = "/kaart",
) -> None:
    """Print a one-time sign-in link for a key (usable once, for a limited time)."""
    if sessions.link_target(next_path) is None:
        typer.echo(f"okaart: --next must be a path on this site such as /kaart, not {next_path!r}", err=True)
        raise typer.Exit(1)
    settings = get_settings()
    engine = db.make_engine(db.owner_url(settings))
    try:
        with engine.begin() as conn:
            active = conn.execute(
                text(
                    "SELECT k.id FROM api_key k JOIN principal p ON p.id = k.principal_id"
                    f" WHERE k.id = :i AND {ACTIVE_KEY}"
                ),
                {"i": key_id},
            ).first()
            if active is None:
                typer.echo(f"okaart: no active key {key_id}", err=True)
                raise typer.Exit(1)
            token = sessions.create_link(conn, key_id, next_path, settings.signin_link_minutes)
    finally:
        engine.dispose()
    console.print(f"one-time sign-in link for key {key_id}, valid {settings.signin_link_minutes:g} minutes:")
    typer.echo(signin_url(base_url(), token, next_path))
