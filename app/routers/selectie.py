"""Figures for a custom area (``POST /selectie``): a plan area, a street block, a polygon
drawn on the map.

A custom area is the classic way round disclosure control: ask for a published buurt, then
for the same buurt minus three addresses, and subtract. So aggregate-only principals never
get a fresh count over the polygon: they get the sum of the *published* figures of the
buurten whose interior point lies inside it, with withheld buurten left out and said so.
Whatever polygon they draw, the answer is a function of what the buurt layer already shows
them. Cleared principals (analysts, partners) get exact counts over the polygon, within
their own municipality, covenants and data class, for a purpose from their key's list like any
read of signal points, and audited like one; a polygon holding fewer than k addresses gets the
buurt answer instead, so a polygon drawn round one address singles nothing out. A polygon has
at most 10,000 vertices.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Annotated, Any

import shapely.errors
import shapely.geometry
from fastapi import APIRouter, Body, Query, Request
from sqlalchemy import Connection, text

from app import audit, layer_sql
from app.access import rule
from app.deps import PrincipalDep, record_purpose, require_purpose
from app.errors import BadRequestError
from app.layer_sql import Selection
from app.params import CrsDep, PurposeDep
from app.periods import parse_datetime, period_range
from app.services import EngineDep, SettingsDep
from core.security import Principal
from layers import REGISTRY

router = APIRouter(tags=["Gebieden"])
MAX_KM2 = 500.0
#: Vertices of a drawn polygon: a street block needs tens, a buurt outline a few thousand.
MAX_VERTICES = 10_000
PERIODE = re.compile(r"^(?P<jaar>\d{4})(-K(?P<kwartaal>[1-4]))?$")
FIGURES = ("signalen", "adressen", "leegstand")


def _period(periode: str) -> tuple[dt.date, dt.date]:
    """First and last day of a year or quarter, as the map's period choice means them."""
    if not PERIODE.match(periode):
        raise BadRequestError(f"periode {periode!r} is geen jaar (2024) of kwartaal (2024-K1)")
    start, end = parse_datetime(period_range(periode))
    assert start is not None and end is not None  # a period range has both ends
    return start, end


def _geometry(body: dict[str, Any], srid: int) -> str:
    geometry = body.get("geometry") if body.get("type") == "Feature" else body
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise BadRequestError("stuur een GeoJSON Polygon of MultiPolygon (of een Feature daarmee)")
    try:
        parsed = shapely.geometry.shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise BadRequestError(f"de geometrie is geen geldige GeoJSON {geometry['type']}: {exc}") from exc
    vertices = shapely.get_num_coordinates(parsed)
    if vertices > MAX_VERTICES:
        raise BadRequestError(
            f"de geometrie heeft {vertices} hoekpunten; hoogstens {MAX_VERTICES}: vereenvoudig het gebied"
        )
    if parsed.is_empty or not all(math.isfinite(v) for v in parsed.bounds):
        raise BadRequestError("de geometrie heeft geen (eindige) coördinaten")
    minx, miny, maxx, maxy = parsed.bounds
    if srid == 4326 and not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise BadRequestError("coördinaten in CRS84 liggen buiten -180..180 (lengte) en -90..90 (breedte)")
    if srid == 28992 and not (minx >= -1e6 and maxx <= 2e6 and miny >= -1e6 and maxy <= 2e6):
        raise BadRequestError("coördinaten in RD New liggen ver buiten Nederland")
    return json.dumps(shapely.geometry.mapping(parsed))


@router.post(
    "/selectie",
    summary="Kerncijfers voor een zelfgekozen gebied",
    openapi_extra=rule("gegevens"),
)
def selectie(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    srid: CrsDep,
    doel: PurposeDep,
    geometrie: Annotated[
        dict[str, Any],
        Body(
            description="GeoJSON Polygon/MultiPolygon (of Feature), in CRS84 tenzij 'crs' anders zegt",
            examples=[
                {
                    "type": "Polygon",
                    "coordinates": [[[6.55, 53.21], [6.58, 53.21], [6.58, 53.23], [6.55, 53.21]]],
                }
            ],
        ),
    ],
    periode: Annotated[str, Query(description="Jaar (2024) of kwartaal (2024-K1)")] = "2024",
    thema: Annotated[str, Query(description="Thema, of 'alle'")] = "alle",
) -> dict[str, Any]:
    record_purpose(request, doel)
    exact = principal.can_see("signalen")  # without a second factor: the buurt sums only
    if exact:
        # Exact counts over any polygon come down to the signals at an address: the same
        # purpose binding as a read of the points themselves.
        require_purpose(principal, doel, "een zelfgekozen gebied geeft exacte aantallen")
    start, end = _period(periode)
    shape = _geometry(geometrie, srid)
    audit.note(request, gebied="selectie")
    k = settings.suppression_k
    with audit.audited_read(request, engine) as conn:
        area_km2, buurten = _area(conn, principal, shape, srid)
        if not exact:
            figures = _published(conn, principal, buurten, periode, thema, k)
            if principal.role_can_see("signalen"):
                figures["toelichting"] = (
                    "U bent aangemeld zonder tweede factor (MFA): alleen de som van de buurtcijfers. "
                    "Meld u aan met een tweede factor voor exacte aantallen."
                )
        else:
            figures = _exact(conn, principal, shape, srid, start, end, thema)
            if figures["adressen"] < k:
                # A polygon round a handful of addresses would single out an address:
                # below k addresses the answer is the buurt figures the caller sees anyway.
                figures = {
                    **_published(conn, principal, buurten, periode, thema, k),
                    "toelichting": f"Het gebied bevat minder dan {k} adressen: alleen de som van de "
                    "buurtcijfers van de buurten waarvan het middelpunt in het gebied ligt.",
                }
        audit.note(request, aantal=figures.get("signalen"))
    return {
        "periode": periode,
        "thema": thema,
        "oppervlakte_km2": round(area_km2, 3),
        "buurten": buurten,
        **figures,
    }


def _area(conn: Connection, principal: Principal, shape: str, srid: int) -> tuple[float, list[str]]:
    """Validate the polygon and find the buurten whose interior point lies in it, in one
    statement (the GeoJSON is parsed and transformed once)."""
    sql, params = layer_sql.drawn_area(shape, srid, principal)
    row = conn.execute(text(sql), params).one()
    km2 = float(row.km2 or 0)
    if not row.valid:
        raise BadRequestError(f"de geometrie is ongeldig: {row.reason}")
    if not (row.x0 > -7000 and row.x1 < 300000 and row.y0 > 289000 and row.y1 < 629000):
        raise BadRequestError("de geometrie ligt niet in Nederland (controleer de volgorde lon,lat en 'crs')")
    if km2 > MAX_KM2:
        raise BadRequestError(f"het gebied is {km2:.0f} km²; hoogstens {MAX_KM2:.0f} km²")
    return km2, list(row.buurten)


def _published(
    conn: Connection, principal: Principal, buurten: list[str], periode: str, thema: str, k: int
) -> dict[str, Any]:
    """Sums of the buurt layer's published figures; withheld buurten are left out."""
    layer = REGISTRY["buurten"]
    ids = [f"buurt:{code}:{periode}:{thema}" for code in buurten]
    sql, params = layer_sql.visible_rows(layer, principal, Selection(ids=ids), geometry=None, k=k)
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    sums: dict[str, Any] = {}
    for name in FIGURES:
        shown = [r[name] for r in rows if r[name] is not None]
        sums[name] = sum(shown) if shown else None
    withheld = sorted({r["code"] for r in rows if r.get("onderdrukt")})  # cleared rows have no flag
    signalen, adressen = sums["signalen"], sums["adressen"]
    return {
        **sums,
        "per_1000_adressen": round(1000 * signalen / adressen, 2) if signalen and adressen else None,
        "onderdrukt": bool(withheld),
        "onderdrukte_buurten": len(withheld),
        "toelichting": "Som van de gepubliceerde buurtcijfers van de buurten waarvan het middelpunt in het "
        "gebied ligt; buurten met minder dan de drempel zijn weggelaten.",
    }


def _exact(
    conn: Connection,
    principal: Principal,
    shape: str,
    srid: int,
    start: dt.date,
    end: dt.date,
    thema: str,
) -> dict[str, Any]:
    """Exact counts inside the polygon, within what the principal may see."""
    filters = {} if thema == "alle" else {"thema": thema}
    selection = Selection(filters=filters, start=start, end=end)
    sql, params = layer_sql.drawn_counts(REGISTRY["signalen"], principal, selection, shape, srid)
    row = conn.execute(text(sql), params).one()
    signalen, adressen, leegstand = (int(v) for v in row)
    return {
        "signalen": signalen,
        "adressen": adressen,
        "leegstand": leegstand,
        "per_1000_adressen": round(1000 * signalen / adressen, 2) if adressen else None,
        "onderdrukt": False,
    }
