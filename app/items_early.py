"""Plain JSON items pages started on the event loop, before FastAPI's dependency chain runs.

An items page of a small box cost the service about as much CPU in Python as in PostgreSQL,
and a third of the Python part was FastAPI solving the route's dependencies (the gate and
nine more) for every request (issue 16: items at 0.68x MapServer). :class:`ItemsRoute` is
the items route's class: before the ordinary handler runs, :func:`answer_plain` checks the
request with the functions the gate and the dependencies use, in the same order, and then
reads and answers the page with the route's own code (``app.items_page.json_page``), in the
thread pool as the route would:

* the access gate (``app.access.gate``): an audit entry opened first, the caller resolved
  from the principal cache (no I/O), the per-key rate limit (a token this worker holds, else
  one from the shared bucket, in a worker thread as the gate does);
* the layer as this principal may see it (``app.deps._visible``: clearance, second factor);
* the purpose, required below aggregate level and one of the principal's own;
* the format (``app.pages.negotiate``), the page (``limit``, ``offset``, ``cursor``), the
  output CRS, the bbox, ``datetime``, the property filters and the Part 3 parameters
  (``app.params``, ``app.filtering``, ``app.deps.feature_selection``).

It never refuses anything itself: whenever a check fails, or would need I/O (a caller the
cache does not know), or the request is not one it reads exactly as FastAPI would (another
format than JSON, a repeated parameter, a number FastAPI would parse otherwise), the request
goes to the ordinary route, which gives the answer or the refusal, with its audit row,
exactly as before. Only the read and the answer are shared, so what either path sends for a
request it takes is the same.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app import items_page
from app.deps import feature_selection
from app.early import EarlyRoute, gate, rate_token
from app.filtering import feature_query, narrowed
from app.layer_sql import Selection
from app.pages import negotiate
from app.params import (
    DEFAULT_LIMIT,
    MAX_CURSOR,
    Crs,
    Page,
    interval,
    page,
    parse_bbox,
    parse_crs,
)
from app.services import Services, services_of
from core.security import Principal
from layers.base import Layer

Checked = tuple[Principal, Layer, Page, Crs, Selection]


def _count(text: str | None, default: int, least: int) -> int | None:
    """A ``limit`` or ``offset`` as the route reads it, or None to leave it to FastAPI (not
    plain digits, or below ``least``: FastAPI's own parsing and refusal apply)."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value >= least else None


async def _page(limit: str | None, offset: str | None, cursor: str | None) -> Page | None:
    """``app.params.page`` for values FastAPI would take as they are; None otherwise."""
    size, skip = _count(limit, DEFAULT_LIMIT, 1), _count(offset, 0, 0)
    if size is None or skip is None or (cursor is not None and len(cursor) > MAX_CURSOR):
        return None
    return await page(size, skip, cursor)


async def _checked(request: Request, services: Services) -> Checked | None:
    """The gate's and the dependencies' checks, without I/O; None: leave it to the route.
    Raises whatever those checks raise (the caller then leaves it to the route too)."""
    query = request.query_params
    pairs = query.multi_items()
    if len({name for name, _ in pairs}) != len(pairs):
        return None  # a repeated parameter: FastAPI's reading of it decides
    if negotiate(request, query.get("f"), items_page.FORMATS) != "json":
        return None  # HTML, CSV and the downloads: the route
    checked = gate(request)
    if checked is None:
        return None  # unknown to the cache: the gate decides (and counts) that
    _, principal, layer = checked
    asked_page = await _page(query.get("limit"), query.get("offset"), query.get("cursor"))
    if asked_page is None:
        return None
    crs = parse_crs(query.get("crs"))
    box = parse_bbox(query.get("bbox"), query.get("bbox-crs"))
    period = await interval(query.get("datetime"))
    asked = await feature_query(
        query.get("filter"),
        query.get("filter-lang"),
        query.get("filter-crs"),
        query.get("sortby"),
        query.get("properties"),
        query.get("ids"),
    )
    selection = narrowed(feature_selection(request, layer, box, period, services.settings), layer, asked)
    if selection.sortby and asked_page.after is not None:
        return None  # the route's 400
    return principal, layer, asked_page, crs, selection


async def answer_plain(request: Request) -> Response | None:
    """A JSON items page, read with its audit row; None: the route answers."""
    services = services_of(request.app)
    try:
        found = await _checked(request, services)
    except Exception:  # a refusal: the route gives it, with its row
        return None
    if found is None:
        return None
    principal, layer, asked_page, crs, selection = found
    if not await rate_token(services, principal):
        return None  # over the limit: the gate refuses it (429), with its row
    reads = services.reads_now()
    if reads is not None:  # on the event loop: no thread hop (app/async_reads.py)
        return await items_page.json_page_async(
            request, services, reads, layer, principal, asked_page, crs, selection
        )
    return await run_in_threadpool(
        items_page.json_page, request, services, layer, principal, asked_page, crs, selection
    )


class ItemsRoute(EarlyRoute):
    """The items route: :func:`answer_plain` first, the ordinary handler when it declines."""

    @staticmethod
    async def early(request: Request) -> Response | None:
        return await answer_plain(request)  # looked up when called: tests make it decline
