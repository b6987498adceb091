"""The ``okaart`` command line: database, service, demo (ingest and keys add their own groups).

Operator errors (no PostGIS, no database yet, a file that cannot be read) are printed as
one line and exit 1; a bug is one line too, with where its traceback was saved
(``cli/failure.py``), unless ``OKAART_DEBUG=1`` asks for the traceback itself.
"""

from __future__ import annotations

import os
import sys
import warnings
from functools import cache
from typing import Annotated, Any

import typer
import typer.main

from cli.failure import EXIT_BUG, crash_line, debugging, say
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
    from cli import backup
    from cli.ingest import bronnen_cli, ingest_cli
    from cli.keys import keys_cli
    from cli.ops import audit_cli, retention_cli
    from cli.toegang import toegang_cli

    cli.add_typer(keys_cli, name="keys")
    cli.add_typer(retention_cli, name="retention")
    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(ingest_cli, name="ingest")
    cli.add_typer(bronnen_cli, name="bronnen")
    cli.add_typer(toegang_cli, name="toegang")
    backup.register(cli)


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

    # The workers share the database's cores: each takes its part of the admission slots
    # (core.settings.admission_slots_for). They read it from the environment they inherit.
    os.environ["OKAART_WORKERS"] = str(workers)
    get_settings.cache_clear()
    settings = get_settings()
    url = start_database(settings)
    _heal(url)
    if settings.oidc_providers:
        # People sign in with the profiles as the mapping file has them now.
        from cli.toegang import load

        engine = db.make_engine(url)
        try:
            load(engine, settings.toegang)
        finally:
            engine.dispose()
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
    _heal(url)
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


def _heal(url: str) -> None:
    """Bring the figures up to date with the data before serving them: a run killed before
    its refresh left them behind (``ingest/refresh.py``). A database that cannot answer yet
    is the service's readiness check's business, not a reason not to start."""
    from sqlalchemy.exc import DBAPIError

    from ingest.refresh import heal

    engine = db.make_engine(url)
    try:
        if heal(engine):
            typer.echo("cijfers bijgewerkt: de gegevens waren nieuwer dan de cijfers", err=True)
    except DBAPIError as exc:
        say(f"cijfers niet gecontroleerd ({type(exc.orig or exc).__name__}): `okaart ingest refresh` later")
    finally:
        engine.dispose()


@cache
def _command() -> Any:  # typer's own (vendored) click Command
    """The click command tree, built once per process: Typer rebuilds it from the function
    signatures on every call, a tenth of a second each time a caller runs several commands."""
    return typer.main.get_command(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script (``argv``: the arguments, for in-process callers).

    Every failure ends here as one line on stderr and a non-zero exit; library warnings
    about odd input are silenced too (the run's report says what matters). ``OKAART_DEBUG=1``
    shows both.
    """
    if not debugging():
        warnings.simplefilter("ignore")
    try:
        _command().main(args=argv, prog_name="okaart")
    except (ClusterError, IngestError) as exc:
        say(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        say("afgebroken")
        sys.exit(130)
    except Exception as exc:
        if debugging():
            raise
        say(crash_line(exc))
        sys.exit(EXIT_BUG)
