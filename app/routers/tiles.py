"""OGC API Tiles: Mapbox Vector Tiles from ``ST_AsMVT``, TileJSON, tile matrix sets.

Tiles are built in PostGIS on the stored EPSG:3857 copy (half the cost of reprojecting per
row, docs/architecture.md §10) and handed out as bytes. ``ETag`` comes from the layer's data version and
the caller's view of it; ``If-None-Match`` answers 304 without touching the data. Tiles
outside the layer's zoom range or the data's extent are answered empty without a query.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit, layer_sql
from app.access import rule
from app.deps import LayerDep, PrincipalDep, ReadableLayerDep, tile_selection
from app.filtering import TileQueryDep, narrowed
from app.links import root
from app.params import TMS, TMS_ID, IntervalDep, TileDep, TileMatrixSetDep
from app.services import ExtentsDep, ServicesDep
from app.tilecache import CachedTile
from core.security import Principal

router = APIRouter(tags=["OGC API Tiles"])
MVT = "application/vnd.mapbox-vector-tile"


def _view(principal: Principal) -> str:
    """What shapes this caller's tiles: role, municipalities, covenants."""
    return (
        f"{principal.rol}|{','.join(principal.gemeenten)}|{','.join(principal.convenanten)}"
        f"|{principal.dataklasse}"
    )


@router.get("/tileMatrixSets", summary="Ondersteunde tegelschema's", openapi_extra=rule("open"))
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    base = root(request)
    return {
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": "Google Maps Compatible (EPSG:3857)",
                "links": [
                    {"href": f"{base}/tileMatrixSets/{TMS_ID}", "rel": "self", "type": "application/json"}
                ],
            }
        ]
    }


@router.get("/tileMatrixSets/{tms_id}", summary="Definitie van een tegelschema", openapi_extra=rule("open"))
def tile_matrix_set(tms_id: TileMatrixSetDep) -> Any:
    return TMS.model_dump(exclude_none=True, mode="json")


@router.get(
    "/collections/{collection_id}/tiles",
    summary="Tegelsets van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def tilesets(request: Request, layer: LayerDep) -> dict[str, Any]:
    base = f"{root(request)}/collections/{layer.id}/tiles/{TMS_ID}"
    return {
        "tilesets": [
            {
                "title": layer.title,
                "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
                "links": [
                    {"href": base, "rel": "self", "type": "application/json"},
                    {"href": base + "/{z}/{x}/{y}", "rel": "item", "type": MVT, "templated": True},
                ],
            }
        ]
    }


@router.get(
    "/collections/{collection_id}/tiles/{tms_id}",
    summary="TileJSON van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def tilejson(
    request: Request, layer: LayerDep, tms_id: TileMatrixSetDep, extents: ExtentsDep
) -> dict[str, Any]:
    # The tile addresses carry this request's query (filters, and the purpose a map passes on).
    query = request.url.query
    template = f"{root(request)}/collections/{layer.id}/tiles/{tms_id}/{{z}}/{{x}}/{{y}}" + (
        f"?{query}" if query else ""
    )
    return {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "tiles": [template],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": extents.of(layer.id) or [-180, -85, 180, 85],
        "vector_layers": [
            {
                "id": layer.id,
                "fields": {p.name: p.type for p in layer.properties},
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
            }
        ],
    }


@router.get(
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
    # The hottest route takes the services whole: one dependency instead of five.
    z, x, y = xyz.z, xyz.x, xyz.y
    # Every tile's audit row names it, also an empty one answered without a query.
    audit.note(request, bbox=f"tegel {z}/{x}/{y}")
    selection = narrowed(tile_selection(request, layer, period), layer, query)
    etag = (
        '"'
        + services.versions.of(
            layer,
            _view(principal),
            f"{z}/{x}/{y}",
            str(sorted(selection.filters.items())),
            period.text or "",
            # A filtered tile is another tile: its filter and ids are part of its tag.
            selection.cql.key if selection.cql else "",
            ",".join(selection.ids or ()),
        )
        + '"'
    )
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Authorization"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if z < layer.minzoom or z > layer.maxzoom or not services.extents.touches(layer.id, TMS.bounds(xyz)):
        return Response(b"", media_type=MVT, headers=headers)
    cached = services.tile_cache.get(etag)
    if cached is None:
        sql, params = layer_sql.mvt(layer, principal, selection, xyz, k=services.settings.suppression_k)
        row = audit.audited_one(request, services.engine, sql, params)
        cached = CachedTile(bytes(row.tile or b""), int(row.aantal), tuple(row.ids) if row.ids else None)
        services.tile_cache.put(etag, cached)
    else:
        # Served from memory, recorded all the same.
        audit.record_now(request, services.engine, aantal=cached.count, ids=cached.ids)
    return Response(cached.data, media_type=MVT, headers=headers)
