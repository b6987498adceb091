"""The ``okaart`` command line: database, service, demo (ingest and keys add their own groups).

Operator errors (no PostGIS, no database yet) are printed as one line and exit 1; a
traceback is for bugs only.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from core import db
from core.pgcluster import ClusterError
from core.settings import Settings, get_settings
from ingest.errors import IngestError

cli = typer.Typer(
    help="Ondermijningskaart: kaartlagen en OGC API op PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold passwords and keys
)
db_cli = typer.Typer(help="The database: embedded PostGIS cluster or DATABASE_URL.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _add_subcommands() -> None:
    from cli.ingest import bronnen_cli, ingest_cli
    from cli.keys import keys_cli
    from cli.ops import audit_cli, retention_cli

    cli.add_typer(keys_cli, name="keys")
    cli.add_typer(retention_cli, name="retention")
    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(ingest_cli, name="ingest")
    cli.add_typer(bronnen_cli, name="bronnen")


_add_subcommands()


def _fail(message: str) -> None:
    typer.echo(f"okaart: {message}", err=True)
    raise typer.Exit(1)


def _embedded(settings: Settings) -> bool:
    return not settings.database_url


def start_database(settings: Settings) -> str:
    """Start the embedded cluster when no DATABASE_URL is set; return the owner URL."""
    if _embedded(settings):
        db.embedded_cluster(settings).start()
    return db.owner_url(settings)


@db_cli.command("start")
def db_start() -> None:
    """Start the embedded cluster (initialising it the first time) and create PostGIS."""
    settings = get_settings()
    if not _embedded(settings):
        typer.echo("DATABASE_URL is set: nothing to start")
        return
    start_database(settings)
    cluster = db.embedded_cluster(settings)
    typer.echo(f"database running on 127.0.0.1:{cluster.state()['port']} ({cluster.root})")


@db_cli.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    settings = get_settings()
    if not _embedded(settings):
        typer.echo("DATABASE_URL is set: nothing to stop")
        return
    db.embedded_cluster(settings).stop()
    typer.echo("database stopped")


@db_cli.command("status")
def db_status() -> None:
    """Say whether the database runs and which migration it is at."""
    settings = get_settings()
    if _embedded(settings):
        status = db.embedded_cluster(settings).status()
        for key, value in status.items():
            typer.echo(f"{key}: {value}")
        if not status["running"]:
            raise typer.Exit(3)
    engine = db.make_engine(db.owner_url(settings))
    try:
        typer.echo(f"revision: {db.current_revision(engine)} (code: {db.head_revision()})")
    finally:
        engine.dispose()


@db_cli.command("url")
def db_url() -> None:
    """Print the owner connection URL (it holds the embedded cluster's password)."""
    typer.echo(db.owner_url(get_settings()))


@db_cli.command("migrate")
def db_migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision.")] = False,
) -> None:
    """Bring the schema to a revision (default: the newest)."""
    url = start_database(get_settings())
    if down:
        db.downgrade(url, revision)
    else:
        db.migrate(url, revision)
    typer.echo(f"schema at {revision}")


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the API and the maps with uvicorn."""
    import uvicorn

    settings = get_settings()
    start_database(settings)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        loop="uvloop",
        http="httptools",
    )


@cli.command("demo")
def demo(
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare only.")] = False,
) -> None:
    """Start the database, migrate, load the demo data, and serve the map."""
    from cli import demo as demo_module

    settings = get_settings()
    url = start_database(settings)
    db.migrate(url)
    demo_module.load(url, settings)
    base = f"http://{settings.host}:{port or settings.port}"
    from cli.keys import signin_url

    for naam, rol in (("demo-analist", "analist"), ("demo-planner", "planner")):
        key, token = demo_module.demo_access(url, naam, rol, settings.signin_link_minutes)
        typer.echo(f"API-sleutel {naam}: {key}")
        typer.echo(
            f"  kaart in de browser (eenmalige aanmeldlink): {signin_url(base, token or '', '/kaart')}"
        )
    typer.echo(f"  bijvoorbeeld: curl -H 'Authorization: Bearer <sleutel>' {base}/collections")
    typer.echo(f"Ondermijningskaart draait op {base}/  (gezondheid: {base}/readyz)")
    if not no_serve:
        serve(host=None, port=port, workers=1)


def main() -> None:
    """Entry point of the console script."""
    try:
        cli()
    except (ClusterError, IngestError) as exc:
        typer.echo(f"okaart: {exc}", err=True)
        sys.exit(1)
