"""HTML pages for people (sign-in, area overviews): one Jinja environment, compiled at import.

The templates are compiled here, in the main thread, for the reason noted in
:mod:`app.routers.ogc` (CPython 3.11 before 3.11.8 can fail when two threads compile at once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.formats import getal, procent

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
templates.env.filters["getal"] = getal
templates.env.filters["procent"] = procent
for _name in ("basis.html", "aanmelden.html", "gebied.html", "kaart_paneel.html", "melding.html"):
    templates.get_template(_name)


def wants_html(request: Request) -> bool:
    """A browser navigating (its Accept names HTML first-class), not a script or tile fetch."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)
