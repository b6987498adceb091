"""OGC API Features (Part 1 core, Part 2 CRS): landing page, conformance, collections, items.

GeoJSON is built in PostGIS and streamed out as bytes; HTML pages are usable in a browser;
CSV comes from COPY. Limits: default page 100, maximum 1,000 (more is a 400).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from app import audit, layer_sql
from app.access import rule
from app.deps import EngineDep, LayerDep, PrincipalDep
from app.errors import BadRequestError, NotFoundError
from app.layer_sql import CRS84, CRS_SRID, RD, Selection
from app.pages import negotiate, templates
from core.security import Principal
from layers import REGISTRY
from layers.base import Layer

router = APIRouter(tags=["OGC API Features"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
RESERVED = {"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "doel"}
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
]
GEOJSON = "application/geo+json"


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _html(request: Request, title: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "page.html", {"title": title, "root": _root(request), "synthetic": True, **context}
    )


@router.get("/", summary="Startpagina (OGC API landing page)", openapi_extra=rule("open"))
def landing(request: Request, f: str | None = None) -> Any:
    root = _root(request)
    links = [
        {"href": f"{root}/", "rel": "self", "type": "application/json", "title": "Deze pagina"},
        {
            "href": f"{root}/api",
            "rel": "service-desc",
            "type": "application/vnd.oai.openapi+json;version=3.0",
            "title": "API-definitie (OpenAPI)",
        },
        {"href": f"{root}/api.html", "rel": "service-doc", "type": "text/html", "title": "API-documentatie"},
        {
            "href": f"{root}/conformance",
            "rel": "conformance",
            "type": "application/json",
            "title": "Conformiteit",
        },
        {
            "href": f"{root}/collections",
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
    if negotiate(request, f, ("json", "html")) == "html":
        return _html(request, body["title"], description=body["description"], links=links)
    return body


@router.get("/conformance", summary="Conformiteitsklassen", openapi_extra=rule("open"))
def conformance(request: Request, f: str | None = None) -> Any:
    if negotiate(request, f, ("json", "html")) == "html":
        return _html(request, "Conformiteit", links=[{"href": c, "rel": "conformance"} for c in CONFORMANCE])
    return {"conformsTo": CONFORMANCE}


def collection_doc(root: str, layer: Layer, extent: list[float] | None) -> dict[str, Any]:
    base = f"{root}/collections/{layer.id}"
    doc: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84, RD],
        "storageCrs": RD,
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": layer.title},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON, "title": "Objecten (GeoJSON)"},
            {"href": f"{base}/items?f=html", "rel": "items", "type": "text/html", "title": "Objecten (HTML)"},
            {"href": f"{base}/items?f=csv", "rel": "items", "type": "text/csv", "title": "Objecten (CSV)"},
            {
                "href": f"{base}/tiles",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": "application/json",
                "title": "Vectortegels",
            },
        ],
        "properties": {p.name: {"type": p.type, "title": p.title} for p in layer.properties},
    }
    if extent:
        doc["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return doc


def extents(request: Request) -> dict[str, list[float]]:
    """Layer extents in CRS84 from the areas (cached per process; areas change rarely)."""
    cached: dict[str, list[float]] | None = getattr(request.app.state, "extents", None)
    if cached is not None:
        return cached
    with request.app.state.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT"
                " ST_Transform(ST_SetSRID(ST_Extent(geom), 28992), 4326) e FROM actueel_gebied) x"
            )
        ).one()
    extent = [round(float(v), 6) for v in row] if row[0] is not None else []
    request.app.state.extents = {lid: extent for lid in REGISTRY}
    return request.app.state.extents  # type: ignore[no-any-return]


@router.get("/collections", summary="Kaartlagen die u mag zien", openapi_extra=rule("aangemeld"))
def collections(request: Request, principal: PrincipalDep, engine: EngineDep, f: str | None = None) -> Any:
    root = _root(request)
    boxes = extents(request)
    visible = [layer for layer in REGISTRY.values() if principal.can_see(layer.clearance)]
    docs = [collection_doc(root, layer, boxes.get(layer.id)) for layer in visible]
    if negotiate(request, f, ("json", "html")) == "html":
        rows = [{"id": d["id"], "titel": d["title"], "beschrijving": d["description"]} for d in docs]
        links = [
            {"href": f"{root}/collections/{d['id']}/items?f=html", "rel": "items", "title": d["title"]}
            for d in docs
        ]
        return _html(request, "Collecties", links=links, rows=rows, columns=["id", "titel", "beschrijving"])
    return {
        "collections": docs,
        "links": [{"href": f"{root}/collections", "rel": "self", "type": "application/json"}],
    }


@router.get("/collections/{collection_id}", summary="Eén kaartlaag", openapi_extra=rule("aangemeld"))
def collection(request: Request, layer: LayerDep, engine: EngineDep, f: str | None = None) -> Any:
    doc = collection_doc(_root(request), layer, extents(request).get(layer.id))
    if negotiate(request, f, ("json", "html")) == "html":
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


def parse_bbox(
    bbox: str | None, bbox_crs: str | None
) -> tuple[tuple[float, float, float, float] | None, int]:
    srid = CRS_SRID.get(bbox_crs or CRS84)
    if srid is None:
        raise BadRequestError(f"bbox-crs {bbox_crs!r} wordt niet ondersteund; gebruik {CRS84} of {RD}")
    if bbox is None:
        return None, srid
    try:
        values = [float(v) for v in bbox.split(",")]
    except ValueError as exc:
        raise BadRequestError("bbox moet vier getallen zijn: minx,miny,maxx,maxy") from exc
    if len(values) != 4 or values[0] > values[2] or values[1] > values[3]:
        raise BadRequestError("bbox moet vier getallen zijn: minx,miny,maxx,maxy met min <= max")
    if not all(math.isfinite(v) for v in values):
        raise BadRequestError("bbox bevat een getal dat niet eindig is")
    if srid == 4326 and not (values[0] >= -180 and values[2] <= 180 and values[1] >= -90 and values[3] <= 90):
        raise BadRequestError("bbox in CRS84 ligt buiten -180..180 (lengte) en -90..90 (breedte)")
    return (values[0], values[1], values[2], values[3]), srid


def bbox_km2(box: tuple[float, float, float, float], srid: int) -> float:
    """The area a bbox covers, in km² (degrees scaled at the box's middle latitude)."""
    width, height = box[2] - box[0], box[3] - box[1]
    if srid == 28992:
        return width * height / 1e6
    middle = math.radians((box[1] + box[3]) / 2)
    return (width * 111.32 * max(math.cos(middle), 0.0)) * (height * 110.57)


def parse_datetime(value: str | None) -> tuple[dt.date | None, dt.date | None]:
    if value is None:
        return None, None

    def one(part: str) -> dt.date | None:
        if part in ("", ".."):
            return None
        try:
            return dt.date.fromisoformat(part[:10])
        except ValueError as exc:
            raise BadRequestError(f"datetime {part!r} is geen datum (JJJJ-MM-DD)") from exc

    if "/" in value:
        start, end = value.split("/", 1)
        return one(start), one(end)
    day = one(value)
    return day, day


def selection_from(
    request: Request, layer: Layer, bbox: str | None, bbox_crs: str | None, datetime: str | None
) -> Selection:
    filters = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    allowed = {p.name for p in layer.properties if p.filterable}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise BadRequestError(
            f"onbekende parameter(s) {', '.join(unknown)}; "
            f"filters op deze laag: {', '.join(sorted(allowed)) or '(geen)'}"
        )
    box, srid = parse_bbox(bbox, bbox_crs)
    if box is not None:
        audit.note(request, bbox=f"{','.join(f'{v:g}' for v in box)} (EPSG:{srid})")
        cap = request.app.state.settings.point_bbox_max_km2
        if layer.kind == "punten" and bbox_km2(box, srid) > cap:
            raise BadRequestError(
                f"bbox is te groot voor een puntenlaag: hoogstens {cap:g} km²; "
                "vraag een kleiner gebied op of laat bbox weg en blader met limit/offset"
            )
    start, end = parse_datetime(datetime)
    if (start or end) and not layer.datetime_column:
        raise BadRequestError(f"laag {layer.id!r} heeft geen tijd; datetime kan hier niet")
    return Selection(filters=filters, bbox=box, bbox_srid=srid, start=start, end=end)


def crs_srid(crs: str | None) -> int:
    """The SRID of an OGC ``crs`` parameter (CRS84 when absent); 400 for an unsupported one."""
    srid = CRS_SRID.get(crs or CRS84)
    if srid is None:
        raise BadRequestError(f"crs {crs!r} wordt niet ondersteund; gebruik {CRS84} of {RD}")
    return srid


def _page_links(
    request: Request, offset: int, limit: int, returned: int, matched: int
) -> list[dict[str, str]]:
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "Deze pagina"}]
    if offset + returned < matched:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON,
                "title": "Volgende pagina",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit)),
                "rel": "prev",
                "type": GEOJSON,
                "title": "Vorige pagina",
            }
        )
    return links


@router.get(
    "/collections/{collection_id}/items",
    summary="Objecten van een kaartlaag",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}, "text/html": {}, "text/csv": {}}}},
    openapi_extra=rule("gegevens"),
)
def items(
    request: Request,
    layer: LayerDep,
    principal: PrincipalDep,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, description=f"Maximaal {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
    bbox: str | None = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: str | None = None,
    datetime: str | None = None,
    f: str | None = None,
) -> Response:
    if limit > MAX_LIMIT:
        raise BadRequestError(f"limit is hoogstens {MAX_LIMIT}; vraag de volgende pagina op met offset")
    fmt = negotiate(request, f, ("json", "html", "csv"))
    srid = crs_srid(crs)
    selection = selection_from(request, layer, bbox, bbox_crs, datetime)
    k = request.app.state.settings.suppression_k
    if fmt == "csv":
        return _csv(request, engine, layer, principal, selection, srid, limit, offset, k)
    sql, params = layer_sql.geojson_features(
        layer, principal, selection, srid=srid, limit=limit, offset=offset, k=k, count=True
    )
    row = audit.audited_one(request, engine, sql, params)
    features, returned, matched = row.features, row.aantal, row.matched
    links = _page_links(request, offset, limit, returned, matched)
    if fmt == "html":
        parsed = json.loads("[" + features + "]")
        rows = [{"id": feat["id"], **feat["properties"]} for feat in parsed]
        columns = ["id", *(p.name for p in layer.properties)]
        return _html(
            request,
            layer.title,
            description=layer.description,
            links=links[1:],
            rows=rows,
            columns=columns,
            meta={"gevonden": matched, "getoond": returned},
        )
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": returned,
            "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "links": links,
        }
    )
    body = head[:-1] + b',"features":[' + features.encode() + b"]}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{CRS84 if srid == 4326 else RD}>"})


def _csv(
    request: Request,
    engine: Any,
    layer: Layer,
    principal: Principal,
    selection: Selection,
    srid: int,
    limit: int,
    offset: int,
    k: int,
) -> Response:
    rows, params = layer_sql.visible_rows(
        layer, principal, selection, geometry=layer_sql.geometry_in(layer, srid), k=k
    )
    names = ", ".join(["r.id", *(f"r.{p.name}" for p in layer.properties)])
    query = (
        f"SELECT {names}, ST_AsText(r.geom, 9) AS geometrie"
        f" FROM ({rows} ORDER BY t.id LIMIT :limit OFFSET :offset) r ORDER BY r.id"
    )
    bound = text(query).bindparams(**params, limit=limit, offset=offset)
    with audit.audited_read(request, engine) as conn:
        compiled = bound.compile(conn, compile_kwargs={"literal_binds": False})
        raw = conn.connection.driver_connection
        assert raw is not None  # a checked-out connection always has its driver connection
        buffer = io.BytesIO()
        statement = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with raw.cursor() as cur:
            with cur.copy(statement, compiled.params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            audit.note(request, aantal=max(cur.rowcount, 0))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{layer.id}.csv"'},
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
    layer: LayerDep,
    principal: PrincipalDep,
    engine: EngineDep,
    crs: str | None = None,
    f: str | None = None,
) -> Response:
    fmt = negotiate(request, f, ("json", "html"))
    srid = crs_srid(crs)
    selection = Selection(ids=[feature_id])
    sql, params = layer_sql.geojson_features(
        layer, principal, selection, srid=srid, limit=1, offset=0, k=request.app.state.settings.suppression_k
    )
    row = audit.audited_one(request, engine, sql, params, empty_status=404)
    feature, returned = row.features, row.aantal
    if not returned:
        raise NotFoundError(f"object {feature_id!r} bestaat niet in {layer.id!r}")
    if fmt == "html":
        parsed = json.loads(feature)
        rows = [{"eigenschap": k, "waarde": v} for k, v in parsed["properties"].items()]
        return _html(request, f"{layer.title}: {feature_id}", rows=rows, columns=["eigenschap", "waarde"])
    root = _root(request)
    doc = orjson.loads(feature)
    doc["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{root}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    return Response(
        orjson.dumps(doc), media_type=GEOJSON, headers={"Content-Crs": f"<{CRS84 if srid == 4326 else RD}>"}
    )
