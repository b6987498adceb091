"""OGC API Features (Part 1 core, Part 2 CRS): landing page, conformance, collections, items.

GeoJSON is built in PostGIS and streamed out as bytes; HTML pages are usable in a browser;
CSV comes from COPY. Limits: default page 100, maximum 1,000 (a larger limit gets 1,000, as
Part 1 requires). Next links page by keyset (``cursor``), as fast on page 500 as on page 1.
Coordinates in CRS84, EPSG:4326 (latitude first) or RD New, named in ``Content-Crs``.
"""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, text

from app import audit, bulk, cql, items_page, layer_sql
from app.access import rule
from app.deps import LayerDep, PrincipalDep, ReadableLayerDep, feature_selection
from app.errors import BadRequestError, NotFoundError
from app.extents import CollectionExtent
from app.filtering import FeatureQueryDep, narrowed
from app.items_early import ItemsRoute
from app.items_page import GEOJSON
from app.layer_sql import Selection
from app.links import root
from app.pages import templates
from app.params import (
    CRSES,
    RD,
    BBoxDep,
    Crs,
    IntervalDep,
    OutputCrsDep,
    Page,
    PageDep,
    formats,
)
from app.services import ExtentsDep, ServicesDep
from core.security import Principal
from layers import REGISTRY
from layers.base import Layer

router = APIRouter(tags=["OGC API Features"])

JsonOrHtml = Annotated[str, formats("json", "html")]
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    # Part 3, Filtering: queryables, CQL2 text and JSON with the operators app.cql translates.
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
]
SCHEMA_JSON = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def _html(request: Request, title: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "page.html", {"title": title, "root": root(request), "synthetic": True, **context}
    )


@router.get("/", summary="Startpagina (OGC API landing page)", openapi_extra=rule("open"))
def landing(request: Request, fmt: JsonOrHtml) -> Any:
    base = root(request)
    links = [
        {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "Deze pagina"},
        {
            "href": f"{base}/api",
            "rel": "service-desc",
            "type": "application/vnd.oai.openapi+json;version=3.0",
            "title": "API-definitie (OpenAPI)",
        },
        {"href": f"{base}/api.html", "rel": "service-doc", "type": "text/html", "title": "API-documentatie"},
        {
            "href": f"{base}/conformance",
            "rel": "conformance",
            "type": "application/json",
            "title": "Conformiteit",
        },
        {
            "href": f"{base}/collections",
            "rel": "data",
            "type": "application/json",
            "title": "Collecties (kaartlagen)",
        },
    ]
    body: dict[str, Any] = {
        "title": "Ondermijningskaart",
        "description": "Kaartlagen over ondermijning per bedrijventerrein, buitengebied en buurt/wijk "
        "(gemeente Groningen en partners). Aanmelden met een API-sleutel.",
        "links": links,
    }
    if fmt == "html":
        return _html(request, body["title"], description=body["description"], links=links)
    return body


@router.get("/conformance", summary="Conformiteitsklassen", openapi_extra=rule("open"))
def conformance(request: Request, fmt: JsonOrHtml) -> Any:
    if fmt == "html":
        return _html(request, "Conformiteit", links=[{"href": c, "rel": "conformance"} for c in CONFORMANCE])
    return {"conformsTo": CONFORMANCE}


def collection_doc(base_url: str, layer: Layer, extent: CollectionExtent | None) -> dict[str, Any]:
    base = f"{base_url}/collections/{layer.id}"
    doc: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [c.uri for c in CRSES],
        "storageCrs": RD,
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": layer.title},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON, "title": "Objecten (GeoJSON)"},
            {"href": f"{base}/items?f=html", "rel": "items", "type": "text/html", "title": "Objecten (HTML)"},
            {"href": f"{base}/items?f=csv", "rel": "items", "type": "text/csv", "title": "Objecten (CSV)"},
            {"href": f"{base}/queryables", "rel": QUERYABLES_REL, "type": SCHEMA_JSON, "title": "Queryables"},
            {
                "href": f"{base}/tiles",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": "application/json",
                "title": "Vectortegels",
            },
        ],
        "properties": {p.name: {"type": p.type, "title": p.title} for p in layer.properties},
    }
    described = extent.doc() if extent is not None else None
    if described:
        doc["extent"] = described
    return doc


@router.get("/collections", summary="Kaartlagen die u mag zien", openapi_extra=rule("aangemeld"))
def collections(request: Request, principal: PrincipalDep, extents: ExtentsDep, fmt: JsonOrHtml) -> Any:
    base = root(request)
    visible = [layer for layer in REGISTRY.values() if principal.can_see(layer.clearance)]
    docs = [collection_doc(base, layer, extents.collection(layer, principal)) for layer in visible]
    if fmt == "html":
        rows = [{"id": d["id"], "titel": d["title"], "beschrijving": d["description"]} for d in docs]
        links = [
            {"href": f"{base}/collections/{d['id']}/items?f=html", "rel": "items", "title": d["title"]}
            for d in docs
        ]
        return _html(request, "Collecties", links=links, rows=rows, columns=["id", "titel", "beschrijving"])
    return {
        "collections": docs,
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
    }


@router.get("/collections/{collection_id}", summary="Eén kaartlaag", openapi_extra=rule("aangemeld"))
def collection(
    request: Request, layer: LayerDep, principal: PrincipalDep, extents: ExtentsDep, fmt: JsonOrHtml
) -> Any:
    doc = collection_doc(root(request), layer, extents.collection(layer, principal))
    if fmt == "html":
        rows = [
            {"eigenschap": k, "type": v["type"], "omschrijving": v["title"]}
            for k, v in doc["properties"].items()
        ]
        return _html(
            request,
            layer.title,
            description=layer.description,
            links=doc["links"],
            rows=rows,
            columns=["eigenschap", "type", "omschrijving"],
        )
    return doc


#: JSON Schema types of the layer's property types (``date`` is a string with a format).
_SCHEMA_TYPES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Eigenschappen om op te filteren (queryables)",
    response_class=Response,
    responses={200: {"content": {SCHEMA_JSON: {}}}},
    openapi_extra=rule("aangemeld"),
)
def queryables(request: Request, layer: LayerDep) -> Response:
    """The names a ``filter`` may use, as JSON Schema (OGC API Features Part 3): the layer's
    properties and its geometry, from the layer's declaration."""
    url = f"{root(request)}/collections/{layer.id}/queryables"
    props: dict[str, Any] = {}
    for q in cql.queryables(layer).values():
        if q.type == "geometry":
            props[q.name] = {
                "title": q.title,
                "format": f"geometry-{layer.geometry_type.lower()}",
                "x-ogc-role": "primary-geometry",
            }
        else:
            props[q.name] = {"title": q.title, **_SCHEMA_TYPES[q.type]}
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": layer.title,
        "description": f"Eigenschappen van {layer.title} om op te filteren (CQL2) en te sorteren",
        "properties": props,
        "additionalProperties": False,
    }
    return Response(orjson.dumps(doc), media_type=SCHEMA_JSON)


def items(
    request: Request,
    layer: ReadableLayerDep,
    principal: PrincipalDep,
    page: PageDep,
    fmt: Annotated[str, formats(*items_page.FORMATS)],
    crs: OutputCrsDep,
    box: BBoxDep,
    period: IntervalDep,
    query: FeatureQueryDep,
    services: ServicesDep,
) -> Response:
    selection = narrowed(feature_selection(request, layer, box, period, services.settings), layer, query)
    if selection.sortby and page.after is not None:
        raise BadRequestError("cursor gaat niet samen met sortby: een gesorteerde pagina volgt met offset")
    engine, k = services.engine, services.settings.suppression_k
    if fmt in bulk.MEDIA:  # a download of the whole selection: app/bulk.py
        return bulk.download(request, engine, layer, principal, selection, fmt=fmt, srid=crs.srid, k=k)
    if fmt == "csv":
        return _csv(request, engine, layer, principal, selection, crs, page, k)
    if fmt != "html":
        return items_page.json_page(request, services, layer, principal, page, crs, selection)
    row, links = items_page.read_page(request, services, layer, principal, page, crs, selection)
    parsed = json.loads("[" + row.features + "]")
    rows = [{"id": feat["id"], **feat["properties"]} for feat in parsed]
    columns = ["id", *layer_sql.output_properties(layer, selection)]
    page_html = _html(
        request,
        layer.title,
        description=layer.description,
        links=links[1:],
        rows=rows,
        columns=columns,
        meta={"gevonden": row.matched, "getoond": row.aantal},
    )
    page_html.headers["Content-Crs"] = crs.header
    return page_html


router.add_api_route(
    "/collections/{collection_id}/items",
    items,
    methods=["GET"],
    # JSON pages checked and started before the dependencies run: app/items_early.py.
    route_class_override=ItemsRoute,
    summary="Objecten van een kaartlaag",
    response_class=Response,
    responses={
        200: {
            "content": {
                GEOJSON: {},
                "text/html": {},
                "text/csv": {},
                bulk.MEDIA["fgb"]: {},
                bulk.MEDIA["jsonseq"]: {},
            }
        }
    },
    openapi_extra=rule("gegevens"),
)


def _csv(
    request: Request,
    engine: Engine,
    layer: Layer,
    principal: Principal,
    selection: Selection,
    crs: Crs,
    page: Page,
    k: int,
) -> Response:
    """The page as CSV, streamed by PostgreSQL's COPY (one round trip, no per-row Python)."""
    sql, params = layer_sql.csv_features(
        layer,
        principal,
        selection,
        srid=crs.srid,
        latlon=crs.latlon,
        limit=page.limit,
        offset=page.offset,
        after=page.after,
        k=k,
    )
    bound = text(sql).bindparams(**params)
    with audit.audited_read(request, engine) as conn:
        compiled = bound.compile(conn, compile_kwargs={"literal_binds": False})
        raw = conn.connection.driver_connection
        assert raw is not None  # a checked-out connection always has its driver connection
        buffer = io.BytesIO()
        statement = layer_sql.copy_csv(compiled.string)
        with raw.cursor() as cur:
            with cur.copy(statement, compiled.params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            audit.note(request, aantal=max(cur.rowcount, 0))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{layer.id}.csv"', "Content-Crs": crs.header},
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="Eén object",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
    openapi_extra=rule("gegevens"),
)
def item(
    request: Request,
    feature_id: str,
    layer: ReadableLayerDep,
    principal: PrincipalDep,
    fmt: JsonOrHtml,
    crs: OutputCrsDep,
    services: ServicesDep,
) -> Response:
    selection = Selection(ids=[feature_id])
    sql, params = layer_sql.geojson_features(
        layer,
        principal,
        selection,
        srid=crs.srid,
        latlon=crs.latlon,
        limit=1,
        offset=0,
        k=services.settings.suppression_k,
    )
    row = audit.audited_one(request, services.engine, sql, params, empty_status=404)
    feature, returned = row.features, row.aantal
    if not returned:
        raise NotFoundError(f"object {feature_id!r} bestaat niet in {layer.id!r}")
    if fmt == "html":
        parsed = json.loads(feature)
        rows = [{"eigenschap": k, "waarde": v} for k, v in parsed["properties"].items()]
        title = f"{layer.title}: {feature_id}"
        page_html = _html(request, title, rows=rows, columns=["eigenschap", "waarde"])
        page_html.headers["Content-Crs"] = crs.header
        return page_html
    doc = orjson.loads(feature)
    doc["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{root(request)}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    return Response(orjson.dumps(doc), media_type=GEOJSON, headers={"Content-Crs": crs.header})
