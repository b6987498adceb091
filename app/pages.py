"""HTML pages for people (sign-in, area overviews): one Jinja environment, compiled at import.

The templates are compiled here, at import in the main thread: CPython 3.11 before 3.11.8
can fail when two threads compile at once, and the routes render from the thread pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.errors import NotAcceptableError
from app.formats import getal, procent

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
templates.env.filters["getal"] = getal
templates.env.filters["procent"] = procent
for _name in (
    "page.html",
    "basis.html",
    "aanmelden.html",
    "gebied.html",
    "kaart_paneel.html",
    "melding.html",
    "doorsturen.html",
):
    templates.get_template(_name)


def wants_html(request: Request) -> bool:
    """A browser navigating (its Accept names HTML first-class), not a script or tile fetch."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def negotiate(request: Request, f: str | None, allowed: tuple[str, ...]) -> str:
    """The output format: ``f`` when given, else HTML for a browser (where offered), else JSON;
    one the route does not offer is a 406."""
    chosen = f or ("html" if "html" in allowed and wants_html(request) else "json")
    if chosen not in allowed:
        raise NotAcceptableError(
            f"formaat {chosen!r} wordt hier niet geleverd; kies uit {', '.join(allowed)}"
        )
    return chosen


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)
