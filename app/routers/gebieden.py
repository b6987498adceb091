"""Area overviews as JSON (``/gebieden``) and point lookup (``/locate``).

Both read the same indicator layers as the map, through the same access and suppression
rules, so an overview never shows what the map withholds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import text

from app import layer_sql
from app.deps import EngineDep, PrincipalDep
from app.errors import BadRequestError, NotFoundError
from app.layer_sql import Selection
from app.security import Principal
from layers import REGISTRY
from layers.base import Layer

router = APIRouter(tags=["Gebieden"])
SOORTEN = ("buurt", "wijk", "bedrijventerrein", "buitengebied")


def indicator_layer(soort: str) -> Layer:
    return next(layer for layer in REGISTRY.values() if layer.where.get("gebied_soort") == soort)


def _indicators(
    engine: Any, principal: Principal, soort: str, filters: dict[str, str], k: int
) -> list[dict[str, Any]]:
    layer = indicator_layer(soort)
    rows, params = layer_sql.visible_rows(layer, principal, Selection(filters=filters), geometry=None, k=k)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(rows + " ORDER BY t.id"), params).mappings()]


@router.get("/gebieden", summary="Gebieden van een soort met hun kerncijfers")
def gebieden(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    soort: Annotated[str, Query(description="buurt, wijk, bedrijventerrein of buitengebied")],
    periode: str | None = None,
    thema: str = "alle",
) -> dict[str, Any]:
    if soort not in SOORTEN:
        raise BadRequestError(f"soort {soort!r} bestaat niet; kies uit {', '.join(SOORTEN)}")
    filters = {"thema": thema, "periode_soort": "jaar"}
    if periode:
        filters["periode"] = periode
    rows = _indicators(engine, principal, soort, filters, request.app.state.settings.suppression_k)
    return {"soort": soort, "thema": thema, "gebieden": rows}


@router.get("/gebieden/{code}", summary="Kerncijfers van één gebied per jaar")
def gebied(
    request: Request, code: str, principal: PrincipalDep, engine: EngineDep, thema: str = "alle"
) -> dict[str, Any]:
    with engine.connect() as conn:
        area = (
            conn.execute(
                text(
                    "SELECT soort, code, naam, gemeentecode FROM actueel_gebied"
                    " WHERE code = :c AND soort = ANY(:s)"
                ),
                {"c": code, "s": list(SOORTEN)},
            )
            .mappings()
            .first()
        )
    if area is None or not principal.sees_gemeente(area["gemeentecode"]):
        raise NotFoundError(f"gebied {code!r} bestaat niet")
    rows = _indicators(
        engine,
        principal,
        area["soort"],
        {"code": code, "thema": thema, "periode_soort": "jaar"},
        request.app.state.settings.suppression_k,
    )
    return {**dict(area), "thema": thema, "perioden": rows}


@router.get("/locate", summary="De gebieden waarin een punt ligt")
def locate(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    lon: float | None = None,
    lat: float | None = None,
    x: float | None = None,
    y: float | None = None,
) -> dict[str, Any]:
    if lon is not None and lat is not None:
        point, params = "ST_Transform(ST_SetSRID(ST_MakePoint(:a, :b), 4326), 28992)", {"a": lon, "b": lat}
    elif x is not None and y is not None:
        point, params = "ST_SetSRID(ST_MakePoint(:a, :b), 28992)", {"a": x, "b": y}
    else:
        raise BadRequestError("geef lon en lat (WGS84) of x en y (RD New)")
    with engine.connect() as conn:
        areas = (
            conn.execute(
                text(
                    "SELECT soort, code, naam, gemeentecode FROM actueel_gebied"
                    f" WHERE ST_Intersects(geom, {point}) AND (gemeentecode = ANY(:gm) OR :alle)"
                    " ORDER BY array_position(ARRAY['gemeente', 'wijk', 'buurt', 'bedrijventerrein',"
                    " 'buitengebied'], soort)"
                ),
                {
                    **params,
                    "gm": list(principal.gemeenten),
                    "alle": principal.all_gemeenten,
                },
            )
            .mappings()
            .all()
        )
    k = request.app.state.settings.suppression_k
    result = []
    for area in areas:
        entry: dict[str, Any] = dict(area)
        if area["soort"] in SOORTEN:
            latest = _indicators(
                engine,
                principal,
                area["soort"],
                {"code": area["code"], "thema": "alle", "periode_soort": "jaar"},
                k,
            )
            entry["indicatoren"] = latest[-1] if latest else None
        result.append(entry)
    return {"gebieden": result}
