"""``okaart keys create|list|revoke``: API keys for principals (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from app import db
from app.security import ROLE_CLEARANCE, create_principal_key
from app.settings import get_settings

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
    doel: Annotated[list[str] | None, typer.Option("--doel", help="Allowed purpose; repeatable.")] = None,
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    if rol not in ROLE_CLEARANCE:
        typer.echo(f"okaart: unknown role {rol!r}; choose from {', '.join(ROLE_CLEARANCE)}", err=True)
        raise typer.Exit(1)
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        with engine.begin() as conn:
            key, key_id = create_principal_key(
                conn, naam=naam, rol=rol, organisatie=organisatie, convenanten=convenant or [],
                gemeenten=gemeente or [], doelen=doel or [],
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
