"""A page of a layer's items as GeoJSON: the one read and the answer built from it.

Both ways to an items page use it: the route (app/routers/ogc.py, which also makes HTML of
the same read) and the early path of a plain JSON request (app/items_early.py), so the two
cannot drift apart in what they read, audit or send.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Row

from app import audit, layer_sql
from app.async_reads import AsyncReads
from app.layer_sql import Selection
from app.params import Crs, Page, encode_cursor
from app.services import Services
from core.security import Principal
from layers.base import Layer

GEOJSON = "application/geo+json"
#: The formats of an items request (``f``); the early path answers ``json`` only.
FORMATS = ("json", "html", "csv", "fgb", "jsonseq")


def page_links(
    request: Request, page: Page, last: str | None, more: bool, *, keyset: bool = True
) -> list[dict[str, str]]:
    """Self, next and, for an offset page, prev. Next goes by keyset (``cursor`` after this
    page's last id, whatever brought the client here) while pages are in id order; a page in
    another order (``keyset=False``) links on by offset."""
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "Deze pagina"}]
    if more and last is not None:
        if keyset:
            url = request.url.remove_query_params("offset").include_query_params(
                cursor=encode_cursor(last), limit=page.limit
            )
        else:
            url = request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        links.append({"href": str(url), "rel": "next", "type": GEOJSON, "title": "Volgende pagina"})
    if page.after is None and page.offset > 0:
        url = request.url.include_query_params(offset=max(0, page.offset - page.limit), limit=page.limit)
        links.append({"href": str(url), "rel": "prev", "type": GEOJSON, "title": "Vorige pagina"})
    return links


def statement(
    services: Services,
    layer: Layer,
    principal: Principal,
    page: Page,
    crs: Crs,
    selection: Selection,
    *,
    planned_once: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The page's one read: features, counts and what the links need (``planned_once``:
    written for a generic plan, ``layer_sql.conditions``)."""
    return layer_sql.geojson_features(
        layer,
        principal,
        selection,
        srid=crs.srid,
        latlon=crs.latlon,
        limit=page.limit,
        offset=page.offset,
        after=page.after,
        k=services.settings.suppression_k,
        count=True,
        planned_once=planned_once,
    )


def generic_plan(layer: Layer, page: Page, selection: Selection) -> bool:
    """Whether the page's statement may run on a generic plan (app/async_reads.py): a point
    layer's page that counts its whole box in its own scan. Every plan of it is then the
    scan of the box's rows through the layer's spatial index; the area layers (the
    indicator view's joins) keep a plan per run."""
    return layer.kind == "punten" and layer_sql.counted_in_scan(selection, page.offset, page.after)


def read_page(
    request: Request,
    services: Services,
    layer: Layer,
    principal: Principal,
    page: Page,
    crs: Crs,
    selection: Selection,
) -> tuple[Row[Any], list[dict[str, str]]]:
    """The page's features, counts and links, read with its audit row in one statement
    (``app.audit.audited_one``)."""
    sql, params = statement(services, layer, principal, page, crs, selection)
    row = audit.audited_one(request, services.engine, sql, params)
    return row, links_of(request, page, row, selection)


def links_of(request: Request, page: Page, row: Any, selection: Selection) -> list[dict[str, str]]:
    # Sorted by other keys: paged by offset (layer_sql._page); in id order, by cursor.
    return page_links(request, page, row.laatste, row.meer, keyset=not selection.sortby)


def json_page(
    request: Request,
    services: Services,
    layer: Layer,
    principal: Principal,
    page: Page,
    crs: Crs,
    selection: Selection,
) -> Response:
    """The page as a GeoJSON FeatureCollection, read in a worker thread through the engine."""
    row, links = read_page(request, services, layer, principal, page, crs, selection)
    return _collection(row, links, crs)


async def json_page_async(
    request: Request,
    services: Services,
    reads: AsyncReads,
    layer: Layer,
    principal: Principal,
    page: Page,
    crs: Crs,
    selection: Selection,
) -> Response:
    """:func:`json_page` read on the event loop (app/async_reads.py), on a generic plan
    where :func:`generic_plan` allows it."""
    generic = generic_plan(layer, page, selection)
    sql, params = statement(services, layer, principal, page, crs, selection, planned_once=generic)
    row = await audit.audited_one_async(request, reads, sql, params, generic=generic)
    return _collection(row, links_of(request, page, row, selection), crs)


def _collection(row: Any, links: list[dict[str, str]], crs: Crs) -> Response:
    """The head from Python, the features as the text PostgreSQL built, never parsed here."""
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": row.matched,
            "numberReturned": row.aantal,
            "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "links": links,
        }
    )
    body = head[:-1] + b',"features":[' + row.features.encode() + b"]}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": crs.header})
