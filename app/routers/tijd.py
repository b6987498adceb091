"""``/kaart/vergelijking`` and ``/kaart/hotspots``: the map's time comparison and hotspot
overlays (GeoJSON with a legend), for every signed-in caller, from its own figures only.

Both serve figures, so both are ``gegevens`` routes: audited like an items read, in the
same transaction. The periods offered are the caller's own (those its map lists); an unknown
one is a 400 that names them, so nothing is computed for a period the caller has no figures of.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, text

from app import audit, hotspots, layer_sql, maps, tijdvergelijking
from app.access import rule
from app.deps import PrincipalDep
from app.errors import choose
from app.params import IndelingDep
from app.services import EngineDep, SettingsDep
from core.domain import THEMAS
from core.security import Principal
from layers import INDICATOR_LAYERS

router = APIRouter(tags=["Kaart"])
THEMA_KEUZE = ("alle", *THEMAS)


def _perioden(conn: Connection, principal: Principal, soort: str, k: int) -> tuple[list[str], list[str]]:
    """The caller's periods of this area type, and its years, in order."""
    sql, params = layer_sql.periods(hotspots.layer_for(soort), principal, k=k)
    found = conn.execute(text(sql), params).all()
    return [r.periode for r in found], [r.periode for r in found if r.periode_soort == "jaar"]


@router.get(
    "/kaart/vergelijking",
    summary="Twee perioden vergeleken: verschil of verhouding per gebied (GeoJSON met legenda)",
    openapi_extra=rule("gegevens"),
)
def vergelijk_perioden(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    indeling: IndelingDep,
    soort: Annotated[str, Query(description="Gebiedssoort: " + ", ".join(INDICATOR_LAYERS))] = "buurt",
    indicator: Annotated[str, Query(description="Indicator (als op de kaart)")] = "per_1000_adressen",
    thema: Annotated[str, Query(description="Thema, of 'alle'")] = "alle",
    periode: Annotated[str | None, Query(description="Periode (standaard het laatste jaar)")] = None,
    vergelijk: Annotated[
        str | None, Query(description="Vergelijkingsperiode (standaard het jaar ervoor)")
    ] = None,
    maat: Annotated[str, Query(description="verschil of verhouding")] = "verschil",
) -> dict[str, Any]:
    choose(soort, INDICATOR_LAYERS, "soort")
    choose(indicator, [i for i, v in maps.INDICATOREN.items() if v.bron == "indicator"], "indicator")
    choose(thema, THEMA_KEUZE, "thema")
    choose(maat, tijdvergelijking.MATEN, "maat")
    k = settings.suppression_k
    with audit.audited_read(request, engine) as conn:
        perioden, jaren = _perioden(conn, principal, soort, k)
        periode = periode or (jaren[-1] if jaren else None)
        vergelijk = vergelijk or (jaren[-2] if len(jaren) > 1 else periode)
        if periode is None or vergelijk is None:
            audit.note(request, aantal=0)
            return {"type": "FeatureCollection", "features": [], "legenda": [], "zonder_waarde": 0}
        choose(periode, perioden, "periode")
        choose(vergelijk, perioden, "vergelijk")
        filters = {"thema": thema, **({"indeling": indeling} if indeling else {})}
        body = tijdvergelijking.compare(
            conn, principal, maps.INDICATOREN[indicator], soort, filters, periode, vergelijk, maat, k=k
        )
        audit.note(request, aantal=len(body["features"]))
    return body


@router.get(
    "/kaart/hotspots",
    summary="Hotspots (Getis-Ord Gi* met FDR-correctie) per buurt of vierkant (GeoJSON met legenda)",
    openapi_extra=rule("gegevens"),
)
def hotspot_kaart(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    indeling: IndelingDep,
    soort: Annotated[str, Query(description="buurt, vierkant500 of vierkant100")] = "buurt",
    thema: Annotated[str, Query(description="Thema, of 'alle'")] = "alle",
    periode: Annotated[str | None, Query(description="Periode (standaard het laatste jaar)")] = None,
) -> dict[str, Any]:
    choose(soort, hotspots.BUREN, "soort")
    choose(thema, THEMA_KEUZE, "thema")
    k = settings.suppression_k
    with audit.audited_read(request, engine) as conn:
        perioden, jaren = _perioden(conn, principal, soort, k)
        periode = periode or (jaren[-1] if jaren else None)
        if periode is None:
            audit.note(request, aantal=0)
            return {
                "type": "FeatureCollection",
                "features": [],
                "legenda": [],
                "gewichten": hotspots.weging(soort),
            }
        choose(periode, perioden, "periode")
        filters = {"periode": periode, "thema": thema, **({"indeling": indeling} if indeling else {})}
        rows = hotspots.classify(conn, principal, soort, filters, k=k, shapes=True)
        audit.note(request, aantal=len(rows))
    return hotspots.feature_collection(rows, soort, periode, thema)
