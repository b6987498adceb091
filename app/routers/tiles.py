"""OGC API Tiles: Mapbox Vector Tiles from ``ST_AsMVT``, TileJSON, tile matrix sets, styles.

Two grids (app/tms.py): WebMercatorQuad, built on the stored EPSG:3857 copy (half the cost
of reprojecting per row, docs/architecture.md §10), and NetherlandsRDNewQuad, the RD grid of
PDOK, built in RD New on the stored geometry itself. Tiles are handed out as bytes. ``ETag``
comes from the layer's data version and the caller's view of it; ``If-None-Match`` answers
304 without touching the data. Tiles outside the layer's zoom range or the data's extent are
answered empty without a query.

A TileJSON's (and a style's) tile addresses repeat what shapes the tiles (the layer's
filters, ``datetime``) and the purpose given as ``doel``, when the caller may use it: a map
client cannot add a header to each tile fetch, and without the purpose every point tile is a
400. Nothing else of the request is copied, so no key or token ends up in a URL; a browser
authenticates the tile fetches with its session cookie, a script with its own header.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app import audit, metrics
from app.access import rule
from app.deps import LayerDep, PrincipalDep, ReadableLayerDep, tile_selection
from app.errors import BadRequestError, NotFoundError
from app.filtering import TileQueryDep, narrowed
from app.links import root
from app.params import IntervalDep, TileDep, TileMatrixSetDep, purpose_of
from app.services import ExtentsDep, ServicesDep
from app.styles import DEFAULT_STYLE, legend, style_document
from app.tile_build import MVT, build, empty, outside, tile_headers
from app.tile_hits import TileRoute, tile_etag, tile_label
from app.tms import GRIDS, WEB_MERCATOR
from core.security import Principal
from layers.base import Layer

router = APIRouter(tags=["OGC API Tiles"])
#: The tile route alone: its class answers cache hits and 304s before the dependencies run
#: (app/tile_hits.py); included first of all routes (app/main.py).
tile_router = APIRouter(tags=["OGC API Tiles"], route_class=TileRoute)


@router.get("/tileMatrixSets", summary="Ondersteunde tegelschema's", openapi_extra=rule("open"))
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    base = root(request)
    return {
        "tileMatrixSets": [
            {
                "id": grid.id,
                "title": grid.title,
                "uri": grid.uri,
                "crs": grid.crs_uri,
                "links": [
                    {"href": f"{base}/tileMatrixSets/{grid.id}", "rel": "self", "type": "application/json"}
                ],
            }
            for grid in GRIDS.values()
        ]
    }


@router.get("/tileMatrixSets/{tms_id}", summary="Definitie van een tegelschema", openapi_extra=rule("open"))
def tile_matrix_set(grid: TileMatrixSetDep) -> Any:
    return grid.tms.model_dump(exclude_none=True, mode="json")


@router.get(
    "/collections/{collection_id}/tiles",
    summary="Tegelsets van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def tilesets(request: Request, layer: LayerDep) -> dict[str, Any]:
    sets = []
    for grid in GRIDS.values():
        base = f"{root(request)}/collections/{layer.id}/tiles/{grid.id}"
        sets.append(
            {
                "title": f"{layer.title} ({grid.id})",
                "dataType": "vector",
                "crs": grid.crs_uri,
                "tileMatrixSetURI": grid.uri,
                "links": [
                    {"href": base, "rel": "self", "type": "application/json", "title": "TileJSON"},
                    {
                        "href": f"{root(request)}/tileMatrixSets/{grid.id}",
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "type": "application/json",
                    },
                    {"href": base + "/{z}/{x}/{y}", "rel": "item", "type": MVT, "templated": True},
                ],
            }
        )
    styles = f"{root(request)}/collections/{layer.id}/styles"
    return {
        "tilesets": sets,
        "links": [
            {
                "href": styles,
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/styles",
                "type": "application/json",
                "title": "Kaartstijlen (MapLibre)",
            }
        ],
    }


async def address_purpose(
    doel: Annotated[
        str | None,
        Query(
            description="Doel dat in de tegeladressen komt te staan, een van de doelen van uw sleutel: een "
            "kaartprogramma (MapLibre) kan bij het ophalen van tegels geen header meesturen. Nodig voor "
            "puntlagen (signalen, leegstand, adressen); een doel dat u niet mag gebruiken wordt weggelaten."
        ),
    ] = None,
) -> str | None:
    """The purpose to write into the tile addresses (query only, as the map page's: this
    route serves no objects itself, and a client's standing ``X-Doel`` header is meant for
    its own requests, not for addresses handed on)."""
    return purpose_of(None, doel)


AddressPurposeDep = Annotated[str | None, Depends(address_purpose)]


def tile_query(request: Request, layer: Layer, principal: Principal, stated: str | None) -> str:
    """The query the tile addresses carry: the layer's filters and ``datetime`` as asked,
    and the purpose when it is one of the caller's (an unknown one is never echoed)."""
    filterable = {p.name for p in layer.properties if p.filterable} | {"datetime"}
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k in filterable]
    if stated is not None and principal.allows_doel(stated):
        pairs.append(("doel", stated))
    return urlencode(pairs)


@router.get(
    "/collections/{collection_id}/tiles/{tms_id}",
    summary="TileJSON van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def tilejson(
    request: Request,
    layer: LayerDep,
    principal: PrincipalDep,
    grid: TileMatrixSetDep,
    extents: ExtentsDep,
    doel: AddressPurposeDep,
) -> dict[str, Any]:
    query = tile_query(request, layer, principal, doel)
    template = f"{root(request)}/collections/{layer.id}/tiles/{grid.id}/{{z}}/{{x}}/{{y}}" + (
        f"?{query}" if query else ""
    )
    minzoom, maxzoom = grid.zooms(layer.minzoom, layer.maxzoom)
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "tiles": [template],
        "scheme": "xyz",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": extents.of(layer.id) or [-180, -85, 180, 85],
        "crs": grid.crs_uri,
        "tileMatrixSet": grid.id,
        "vector_layers": [
            {
                "id": layer.id,
                "fields": {p.name: p.type for p in layer.properties}
                | ({"aantal": "integer"} if layer.single_from is not None else {}),
                "minzoom": minzoom,
                "maxzoom": maxzoom,
            }
        ],
    }
    return doc


@router.get(
    "/collections/{collection_id}/styles",
    summary="Kaartstijlen van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def styles(request: Request, layer: LayerDep) -> dict[str, Any]:
    href = f"{root(request)}/collections/{layer.id}/styles/{DEFAULT_STYLE}"
    return {
        "styles": [
            {
                "id": DEFAULT_STYLE,
                "title": f"{layer.title}: standaardstijl",
                "links": [
                    {
                        "href": f"{href}?f=mapbox" + ("" if grid.id == WEB_MERCATOR else f"&tms={grid.id}"),
                        "rel": "stylesheet",
                        "type": "application/vnd.mapbox.style+json",
                        "title": f"MapLibre/Mapbox-stijl ({grid.id})",
                    }
                    for grid in GRIDS.values()
                ],
            }
        ],
        "legenda": legend(layer),
    }


@router.get(
    "/collections/{collection_id}/styles/{style_id}",
    summary="Kaartstijl (MapLibre/Mapbox GL, versie 8)",
    openapi_extra=rule("aangemeld"),
)
def style(
    request: Request,
    style_id: str,
    layer: LayerDep,
    principal: PrincipalDep,
    doel: AddressPurposeDep,
    tms: Annotated[
        str,
        Query(
            description="Tegelschema van de stijl: WebMercatorQuad, of NetherlandsRDNewQuad (de RD-tegels "
            "als vlak; zie metadata 'okaart:vlak' voor het plaatsen van RD-coördinaten)"
        ),
    ] = WEB_MERCATOR,
) -> Response:
    """The style's source is the TileJSON of the grid asked for (WebMercatorQuad unless
    ``tms`` says otherwise), with the purpose asked here."""
    if style_id != DEFAULT_STYLE:
        raise NotFoundError(f"stijl {style_id!r} bestaat niet; beschikbaar: {DEFAULT_STYLE}")
    grid = GRIDS.get(tms)
    if grid is None:
        raise BadRequestError(f"tms {tms[:100]!r} wordt niet ondersteund; gebruik {' of '.join(GRIDS)}")
    query = tile_query(request, layer, principal, doel)
    url = f"{root(request)}/collections/{layer.id}/tiles/{grid.id}" + (f"?{query}" if query else "")
    return Response(
        orjson.dumps(style_document(layer, url, grid)), media_type="application/vnd.mapbox.style+json"
    )


@tile_router.get(
    "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}",
    summary="Eén vectortegel (MVT)",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 304: {"description": "Niet gewijzigd"}},
    openapi_extra=rule("gegevens"),
)
def tile(
    request: Request,
    layer: ReadableLayerDep,
    principal: PrincipalDep,
    xyz: TileDep,
    period: IntervalDep,
    query: TileQueryDep,
    services: ServicesDep,
) -> Response:
    """A tile usually never gets here: app/tile_hits.py answers hits, 304s and misses
    first. It does when that path declined (a refusal, a caller or a data version to look
    up), and then answers the same way, with the same building code (app/tile_build.py)."""
    # The hottest route takes the services whole: one dependency instead of five.
    grid, z, x, y = xyz.grid, xyz.z, xyz.x, xyz.y
    # Every tile's audit row names it, also an empty one answered without a query.
    audit.note(request, bbox=tile_label(grid, z, x, y))
    selection = narrowed(tile_selection(request, layer, period), layer, query)
    runs = services.versions.runs()
    etag = tile_etag(runs, layer, principal, grid, z, x, y, selection, period)
    headers = tile_headers(etag)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    # A cached tile first: it was tested against the zoom range and the extent when it was
    # built, and its key holds the data version, so an entry is never older than either.
    cached = services.tile_cache.get(etag)
    if cached is not None:
        metrics.tile_cache(hit=True)
        # Served from memory, recorded all the same.
        audit.record_now(request, services.audit_batch, aantal=cached.count, ids=cached.ids)
        return Response(cached.data, media_type=MVT, headers=headers)
    if outside(services, layer, xyz):
        return empty(etag)
    return build(request, services, layer, principal, xyz, selection, etag, runs)
