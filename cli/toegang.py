"""``okaart toegang laad|uitleg``: the mapping from an identity provider's claims to profiles
(core/claims.py, docs/oidc.md).

``laad`` checks the mapping file and makes each profile a principal with its figures (the
service itself may not create principals); ``uitleg`` shows, rule by rule, what the mapping
decides for a person: from the claims of their latest sign-in, or from a JSON file of claims.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from core import claims, db, sessions
from core.settings import get_settings

toegang_cli = typer.Typer(help="Sign-in with OpenID Connect: claims to profiles.", no_args_is_help=True)


def _mapping() -> claims.Toegang:
    try:
        return claims.current(get_settings().toegang)
    except claims.ToegangError as exc:
        typer.echo(f"okaart: {exc}", err=True)
        raise typer.Exit(1) from exc


def load(engine: Engine, mapping: Path | None) -> list[str]:
    """Load the mapping's profiles into the database (also run by ``okaart serve``)."""
    with engine.begin() as conn:
        return claims.load_profiles(conn, claims.current(mapping))


@toegang_cli.command("laad")
def laad() -> None:
    """Check the mapping file and load its profiles as principals (with their figures)."""
    _mapping()
    engine = db.make_engine(db.owner_url(get_settings()))
    try:
        names = load(engine, get_settings().toegang)
    finally:
        engine.dispose()
    typer.echo(f"{len(names)} profielen geladen: {', '.join(names) or '(geen)'}")


@toegang_cli.command("uitleg")
def uitleg(
    subject: Annotated[str, typer.Argument(help="Subject (sub) or name of a person who signed in.")] = "",
    claims_file: Annotated[
        Path | None, typer.Option("--claims", help="JSON file with claims, instead of a past sign-in.")
    ] = None,
) -> None:
    """Explain, rule by rule, which profile the mapping gives a person, and why."""
    mapping = _mapping()
    found: dict[str, Any]
    if claims_file is not None:
        found = json.loads(claims_file.read_text(encoding="utf-8"))
    else:
        if not subject:
            typer.echo("okaart: name a subject or give --claims FILE", err=True)
            raise typer.Exit(1)
        engine = db.make_engine(db.owner_url(get_settings()))
        try:
            with engine.connect() as conn:
                row = sessions.last_oidc_claims(conn, subject)
        finally:
            engine.dispose()
        if row is None:
            typer.echo(f"okaart: no sign-in of {subject!r} found; use --claims FILE", err=True)
            raise typer.Exit(1)
        stored = row["oidc_claims"]
        typer.echo(
            f"laatste aanmelding van {row['persoon']} bij {row['oidc_provider']} (sub {row['oidc_sub']})"
        )
        # The session keeps the claims as the mapping read them; read them back the same way.
        names = mapping.claims
        found = {
            names.groepen[0]: stored.get("groepen", []),
            names.organisatie: stored.get("organisatie"),
            names.gemeenten: stored.get("gemeenten", []),
            names.naam[0]: stored.get("naam"),
            "amr": stored.get("amr"),
            "acr": stored.get("acr"),
        }
    besluit = mapping.decide(found)
    for line in besluit.uitleg:
        typer.echo(f"- {line}")
    typer.echo(f"- {claims.tweede_factor(found, ())[1]}")
    if besluit.profiel is None:
        raise typer.Exit(2)
