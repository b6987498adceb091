"""OGC API Tiles: Mapbox Vector Tiles from ``ST_AsMVT``, TileJSON, tile matrix sets.

Tiles are built in PostGIS on the stored EPSG:3857 copy (half the cost of reprojecting per
row, DESIGN §10) and handed out as bytes. ``ETag`` comes from the layer's data version and
the caller's view of it; ``If-None-Match`` answers 304 without touching the data. Tiles
outside the layer's zoom range or the data's extent are answered empty without a query.
"""

from __future__ import annotations

from typing import Annotated, Any

import morecantile
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app import audit, layer_sql
from app.access import rule
from app.deps import EngineDep, LayerDep, PrincipalDep
from app.errors import NotFoundError
from app.routers.ogc import _root, extents, selection_from
from app.tilecache import CachedTile, TileCache
from core.security import Principal

router = APIRouter(tags=["OGC API Tiles"])
MVT = "application/vnd.mapbox-vector-tile"
TMS = morecantile.tms.get("WebMercatorQuad")
TMS_ID = "WebMercatorQuad"


def _view(principal: Principal) -> str:
    """What shapes this caller's tiles: role, municipalities, covenants."""
    return (
        f"{principal.rol}|{','.join(principal.gemeenten)}|{','.join(principal.convenanten)}"
        f"|{principal.dataklasse}"
    )


@router.get("/tileMatrixSets", summary="Ondersteunde tegelschema's", openapi_extra=rule("open"))
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    root = _root(request)
    return {
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": "Google Maps Compatible (EPSG:3857)",
                "links": [
                    {"href": f"{root}/tileMatrixSets/{TMS_ID}", "rel": "self", "type": "application/json"}
                ],
            }
        ]
    }


@router.get("/tileMatrixSets/{tms_id}", summary="Definitie van een tegelschema", openapi_extra=rule("open"))
def tile_matrix_set(tms_id: str) -> Any:
    if tms_id != TMS_ID:
        raise NotFoundError(f"tegelschema {tms_id!r} bestaat niet; beschikbaar: {TMS_ID}")
    return TMS.model_dump(exclude_none=True, mode="json")


@router.get(
    "/collections/{collection_id}/tiles",
    summary="Tegelsets van een kaartlaag",
    openapi_extra=rule("aangemeld"),
)
def tilesets(request: Request, layer: LayerDep) -> dict[str, Any]:
    root = _root(request)
    base = f"{root}/collections/{layer.id}/tiles/{TMS_ID}"
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
def tilejson(request: Request, tms_id: str, layer: LayerDep) -> dict[str, Any]:
    if tms_id != TMS_ID:
        raise NotFoundError(f"tegelschema {tms_id!r} bestaat niet; beschikbaar: {TMS_ID}")
    root = _root(request)
    query = request.url.query
    template = f"{root}/collections/{layer.id}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}" + (
        f"?{query}" if query else ""
    )
    extent = extents(request).get(layer.id) or [-180, -85, 180, 85]
    return {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "tiles": [template],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": extent,
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
    tms_id: str,
    layer: LayerDep,
    principal: PrincipalDep,
    engine: EngineDep,
    z: Annotated[int, Path(ge=0, le=24)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    audit.note(request, bbox=f"tegel {z}/{x}/{y}")
    if tms_id != TMS_ID:
        raise NotFoundError(f"tegelschema {tms_id!r} bestaat niet; beschikbaar: {TMS_ID}")
    if x >= 2**z or y >= 2**z:
        raise NotFoundError(f"tegel {z}/{x}/{y} bestaat niet in {TMS_ID}")
    selection = selection_from(request, layer, None, None, request.query_params.get("datetime"))
    selection.filters = {**layer.defaults_for(selection.filters), **selection.filters}
    etag = (
        '"'
        + request.app.state.versions.of(
            layer,
            _view(principal),
            f"{z}/{x}/{y}",
            str(sorted(selection.filters.items())),
            request.query_params.get("datetime", ""),
        )
        + '"'
    )
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Authorization"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if z < layer.minzoom or z > layer.maxzoom or not _touches_extent(request, layer.id, z, x, y):
        return Response(b"", media_type=MVT, headers=headers)
    cache: TileCache = request.app.state.tile_cache
    cached = cache.get(etag)
    if cached is None:
        sql, sql_params = layer_sql.mvt(
            layer, principal, selection, k=request.app.state.settings.suppression_k
        )
        row = audit.audited_one(request, engine, sql, {**sql_params, "z": z, "x": x, "y": y})
        cached = CachedTile(bytes(row.tile or b""), int(row.aantal), tuple(row.ids) if row.ids else None)
        cache.put(etag, cached)
    else:
        # Served from memory, recorded all the same.
        audit.record_now(request, engine, aantal=cached.count, ids=cached.ids)
    return Response(cached.data, media_type=MVT, headers=headers)


def _touches_extent(request: Request, layer_id: str, z: int, x: int, y: int) -> bool:
    extent = extents(request).get(layer_id)
    if not extent:
        return True
    bounds = TMS.bounds(morecantile.Tile(x, y, z))
    return not (
        bounds.left > extent[2]
        or bounds.right < extent[0]
        or bounds.bottom > extent[3]
        or bounds.top < extent[1]
    )
