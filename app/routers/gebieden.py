"""Area overviews (``/gebieden/{code}``), area exports (``/gebieden?soort=``) and ``/locate``.

All read the indicator layers through the map's own SQL (:mod:`app.overview`), so an
overview or export never shows what the map withholds; every answer is audited in the same
transaction as its read. ``/gebieden/{code}`` answers JSON, HTML (the gebiedsoverzicht),
an A4 PDF or CSV; ``/gebieden?soort=`` answers JSON, CSV or a GeoPackage.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import text

from app import audit, exports, layer_sql, pdf
from app.access import rule
from app.deps import PrincipalDep
from app.errors import BadRequestError, choose
from app.overview import SOORTEN, branch_rows, build, find_area, indicator_rows, titles
from app.pages import render
from app.params import IndelingDep, formats
from app.services import EngineDep, SettingsDep
from app.svg import area_map, trend_chart
from core.domain import STANDAARD_INDELING, THEMAS

router = APIRouter(tags=["Gebieden"])


def _plain(value: Any) -> Any:
    """A value as JSON gives it everywhere else (items, tiles): a ``numeric`` figure as a
    number, not the string that serialising a ``Decimal`` makes of it (``"106.26"``); a
    date as ``JJJJ-MM-DD``."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _json_rows(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if rows is None:
        return None
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/gebieden",
    summary="Gebieden van een soort met hun kerncijfers (JSON, CSV, Excel of GeoPackage)",
    responses={
        200: {
            "content": {
                "application/json": {},
                exports.CSV_TYPE: {},
                exports.XLSX_TYPE: {},
                exports.GPKG_TYPE: {},
            }
        }
    },
    openapi_extra=rule("gegevens"),
)
def gebieden(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    soort: Annotated[
        str,
        Query(
            description="buurt, wijk, bedrijventerrein, buitengebied, pc4, pc6, vierkant100 of vierkant500"
        ),
    ],
    fmt: Annotated[str, formats("json", "csv", "xlsx", "gpkg")],
    indeling: IndelingDep,
    periode: str | None = None,
    thema: str = "alle",
) -> Any:
    choose(soort, SOORTEN, "soort")
    division = {"indeling": indeling} if indeling else {}
    filters = {"thema": thema, "periode_soort": "jaar", **division}
    if periode:
        filters = {"thema": thema, "periode": periode, **division}
    k = settings.suppression_k
    with audit.audited_read(request, engine) as conn:
        rows = indicator_rows(conn, principal, soort, filters, k, wkb=fmt == "gpkg")
        audit.note(request, aantal=len(rows), gebied=soort)
    name = f"{soort}-{indeling or 'standaard'}-{periode or 'alle-jaren'}-{thema}"
    if fmt == "csv":
        return _download(exports.csv_bytes(rows, principal.suppressed), exports.CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        body = exports.xlsx_bytes(rows, principal.suppressed, titles(soort))
        return _download(body, exports.XLSX_TYPE, f"{name}.xlsx")
    if fmt == "gpkg":
        body = exports.gpkg_bytes(rows, principal.suppressed, soort)
        return _download(body, exports.GPKG_TYPE, f"{name}.gpkg")
    return {
        "soort": soort,
        "indeling": indeling or STANDAARD_INDELING[soort],
        "thema": thema,
        "gebieden": _json_rows(rows),
    }


@router.get(
    "/gebieden/{code}",
    summary="Gebiedsoverzicht: kerncijfers, afwijking en trend van één gebied"
    " (JSON, HTML, PDF, CSV of Excel)",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/html": {},
                "application/pdf": {},
                exports.CSV_TYPE: {},
                exports.XLSX_TYPE: {},
            }
        }
    },
    openapi_extra=rule("gegevens"),
)
def gebied(
    request: Request,
    code: str,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    fmt: Annotated[str, formats("json", "html", "pdf", "csv", "xlsx")],
    indeling: IndelingDep,
    thema: str = "alle",
    periode: Annotated[
        str | None, Query(description="Jaar van de kerncijfers (standaard het laatste)")
    ] = None,
) -> Any:
    k = settings.suppression_k
    if fmt == "json":
        with audit.audited_read(request, engine) as conn:
            area = find_area(conn, principal, code, indeling)
            filters = {"code": code, "thema": thema, "periode_soort": "jaar", "indeling": area["indeling"]}
            rows = indicator_rows(conn, principal, area["soort"], filters, k)
            branches = branch_rows(conn, principal, area["soort"], code, k)
            audit.note(request, aantal=len(rows) + len(branches or []), gebied=code)
        return {
            **{k: _plain(v) for k, v in area.items()},
            "thema": thema,
            "perioden": _json_rows(rows),
            "risicobranches": _json_rows(branches),
        }
    with audit.audited_read(request, engine) as conn:
        overview = build(
            conn, principal, code, periode, k, indeling, thema, with_hotspot=fmt not in ("csv", "xlsx", "pdf")
        )
        audit.note(request, aantal=overview.aantal(), gebied=code)
    filename = f"gebiedsoverzicht-{code}-{overview.periode or 'geen'}-{thema}"
    if fmt == "csv":
        rows = overview.jaren + (overview.themas or [])
        return _download(exports.csv_bytes(rows, principal.suppressed), exports.CSV_TYPE, f"{filename}.csv")
    if fmt == "xlsx":
        rows = overview.jaren + (overview.themas or [])
        body = exports.xlsx_bytes(rows, principal.suppressed, overview.titels)
        return _download(body, exports.XLSX_TYPE, f"{filename}.xlsx")
    if fmt == "pdf":
        body = pdf.render(overview, pdf.made_for(principal.naam, principal.rol))
        return _download(body, "application/pdf", f"{filename}.pdf")
    ligging = overview.ligging_box
    return render(
        request,
        "gebied.html",
        title=f"Gebiedsoverzicht {overview.gebied['naam']}",
        principal=principal,
        o=overview,
        kaart=area_map(overview.shapes, overview.box),
        ligging=area_map(overview.ligging, ligging, width=160, label=pdf.LIGGING) if ligging else "",
        grafiek=trend_chart(overview.trend(), overview.grafiek_titel()),
        themas=["alle", *THEMAS],
        query=urlencode(
            {
                "periode": overview.periode or "",
                "thema": thema,
                **({"indeling": indeling} if indeling else {}),
            }
        ),
    )


@router.get("/locate", summary="De gebieden waarin een punt ligt", openapi_extra=rule("gegevens"))
def locate(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    indeling: IndelingDep,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Lengte (WGS84)")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Breedte (WGS84)")] = None,
    x: Annotated[float | None, Query(ge=-1e6, le=2e6, description="x (RD New)")] = None,
    y: Annotated[float | None, Query(ge=-1e6, le=2e6, description="y (RD New)")] = None,
) -> dict[str, Any]:
    if lon is not None and lat is not None:
        sql, params = layer_sql.areas_at(principal, lon, lat, srid=4326, indeling=indeling)
    elif x is not None and y is not None:
        sql, params = layer_sql.areas_at(principal, x, y, srid=28992, indeling=indeling)
    else:
        raise BadRequestError("geef lon en lat (WGS84) of x en y (RD New)")
    k = settings.suppression_k
    result = []
    with audit.audited_read(request, engine) as conn:
        areas = conn.execute(text(sql), params).mappings().all()
        for area in areas:
            entry: dict[str, Any] = {key: _plain(v) for key, v in area.items()}
            if area["soort"] in SOORTEN:
                filters = {
                    "code": area["code"],
                    "thema": "alle",
                    "periode_soort": "jaar",
                    "indeling": area["indeling"],
                }
                latest = _json_rows(indicator_rows(conn, principal, area["soort"], filters, k)) or []
                entry["indicatoren"] = latest[-1] if latest else None
            result.append(entry)
        audit.note(request, aantal=len(result), gebied=",".join(a["code"] for a in areas) or None)
    return {"gebieden": result}
