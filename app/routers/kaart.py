"""``/kaart``: the interactive map for analysts, planners and partners.

The page itself holds no figures: it names the tile layers the caller may see, and the
figures arrive through the tile routes (audited, suppressed for planners, scoped to the
caller's municipalities and covenants). So the map shows exactly what the API would.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, text

from app import audit, klassen, layer_sql, maps, zoeken
from app.access import rule
from app.deps import PrincipalDep
from app.errors import BadRequestError, choose
from app.layer_sql import Selection
from app.pages import render, templates
from app.params import IndelingDep, MapPurposeDep
from app.services import EngineDep, SettingsDep
from core.domain import GEBIED_INDELINGEN, THEMAS
from core.security import Principal
from layers import INDICATOR_LAYERS, REGISTRY, RISICOBRANCHE_LAYERS

router = APIRouter(tags=["Kaart"])
THEMA_TITELS = {"alle": "alle thema's", **{t: t.replace("_", " ") for t in THEMAS}}


def perioden_en_grenzen(
    engine: Engine,
    principal: Principal,
    soort: str,
    periode: str | None,
    k: int,
    risico: bool = False,
    indeling: str | None = None,
) -> tuple[list[str], str | None, list[list[float]] | None]:
    """The periods with figures for this caller, the chosen one (default: the latest year),
    and the bounds of the caller's areas of this type in ``indeling`` (None: the default
    division), to open the map on them. Risk branches have no period (they are of today):
    their map opens without one if need be."""
    layer = INDICATOR_LAYERS[soort]
    with engine.connect() as conn:
        sql, params = layer_sql.periods(layer, principal, k=k)
        found = conn.execute(text(sql), params).all()
        perioden = [r.periode for r in found]
        jaren = [r.periode for r in found if r.periode_soort == "jaar"]
        chosen = periode if periode is not None else (jaren[-1] if jaren else None)
        if risico:
            layer, selection = RISICOBRANCHE_LAYERS[soort], Selection(filters={"risicobranche": "alle"})
        elif chosen is None:
            return perioden, None, None
        else:
            division = {"indeling": indeling} if indeling else {}
            selection = Selection(filters={"thema": "alle", "periode": chosen, **division})
        sql, params = layer_sql.bounds(layer, principal, selection, k=k)
        box = conn.execute(text(sql), params).one()
    bounds = [[float(box[0]), float(box[1])], [float(box[2]), float(box[3])]] if box[0] is not None else None
    return perioden, chosen, bounds


def gemeenten_en_grenzen(engine: Engine, principal: Principal) -> list[dict[str, object]]:
    """The municipalities the caller may see, each with its bounds (CRS84), for the map's
    municipality selector (``kaart-gemeente.js``); the regional view is all of them."""
    sql = (
        "SELECT code, naam, ST_XMin(b) AS x0, ST_YMin(b) AS y0, ST_XMax(b) AS x1, ST_YMax(b) AS y1"
        " FROM (SELECT code, naam, ST_Transform(geom, 4326) AS b FROM actueel_gebied"
        "  WHERE soort = 'gemeente' AND indeling = standaard_indeling('gemeente')"
        "  AND (code = ANY(:gm) OR :alle)) g ORDER BY naam, code"
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"gm": list(principal.gemeenten), "alle": principal.all_gemeenten})
        return [
            {"code": r.code, "naam": r.naam, "grenzen": [[r.y0, r.x0], [r.y1, r.x1]]}
            for r in rows
            if r.x0 is not None
        ]


@router.get(
    "/kaart",
    summary="Interactieve kaart (HTML)",
    response_class=HTMLResponse,
    openapi_extra=rule("aangemeld"),
)
async def kaart(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    doel: MapPurposeDep,
    indeling: IndelingDep,
    soort: str = "buurt",
    indicator: str = "per_1000_adressen",
    thema: str = "alle",
    periode: str | None = None,
) -> HTMLResponse:
    choose(soort, maps.SOORT_TITEL, "soort")
    choose(indicator, maps.INDICATOREN, "indicator")
    risico = maps.INDICATOREN[indicator].bron == "risicobranche"
    if risico:
        choose(soort, RISICOBRANCHE_LAYERS, "soort (risicobranches)")
    choose(thema, THEMA_TITELS, "thema")
    cleared = [
        i for i in ("signalen", "leegstand", "vestigingen") if principal.can_see(REGISTRY[i].clearance)
    ]
    if doel == "" or not cleared:
        doel = None
    if doel is not None:
        choose(doel, principal.doelen, "doel")
    perioden, chosen, bounds = await run_in_threadpool(
        perioden_en_grenzen, engine, principal, soort, periode, settings.suppression_k, risico, indeling
    )
    if chosen is None and not risico:
        # Nothing in this principal's municipalities yet: say so on a page, not as an error.
        return render(
            request,
            "melding.html",
            title="Kaart",
            principal=principal,
            melding="Er zijn (nog) geen cijfers voor de gebieden die u mag zien. Zodra er gegevens "
            "zijn ingelezen, verschijnt hier de kaart.",
        )
    if chosen is not None:
        choose(chosen, perioden, "periode")
    filters = (
        {"periode": chosen or "", "thema": thema, **({"indeling": indeling} if indeling else {})}
        if not risico
        else {"risicobranche": "alle"}
    )
    classes, zonder_waarde = await run_in_threadpool(
        klassen.legend,
        engine,
        principal,
        maps.INDICATOREN[indicator],
        soort,
        filters,
        k=settings.suppression_k,
    )
    gemeenten = await run_in_threadpool(gemeenten_en_grenzen, engine, principal)
    # Several municipalities: a region to compare with (migration 0024) and to view at once.
    regio = len(gemeenten) > 1
    req = maps.MapRequest(
        soort=soort, indicator=indicator, thema=thema, periode=chosen or "", k=settings.suppression_k,
        doel=doel, perioden=perioden, bounds=bounds, indeling=indeling, classes=classes,
        zonder_waarde=zonder_waarde, regio=regio,
    )  # fmt: skip
    panel = templates.get_template("kaart_paneel.html").render(
        keuze=req,
        gemeenten=gemeenten,
        principal=principal,
        soorten=[(s, maps.SOORT_TITEL[s]) for s in maps.SOORT_TITEL],
        indelingen=GEBIED_INDELINGEN,
        indicatoren=[
            (i.id, i.title) for i in maps.INDICATOREN.values() if regio or i.id not in maps.REGIONAAL
        ],
        themas=list(THEMA_TITELS.items()),
        doelen=list(principal.doelen) if cleared else [],
        soort_titel=maps.SOORT_TITEL[soort],
        export_query=urlencode(
            {
                "soort": soort,
                "periode": chosen or "",
                "thema": thema,
                **({"indeling": indeling} if indeling else {}),
            }
        ),
    )
    html = await run_in_threadpool(
        maps.build_page, principal, req, settings.basemap_url, settings.basemap_attribution, panel
    )
    return HTMLResponse(html)


@router.get(
    "/zoeken",
    summary="Zoek een adres of straat (voor de kaart)",
    description='Een postcode met of zonder huisnummer ("9711 AA 12"), een straat met huisnummer '
    '("Oosterstraat 12") of het begin van een straatnaam ("ooster"): kandidaten met hun buurt en '
    "wijk en een punt om de kaart op te centreren, binnen de gemeenten die u mag zien. Zonder "
    "toegang tot adressen is dat punt de buurt, niet het adres. De cijfers van het gebied geeft "
    "`/locate`.",
    openapi_extra=rule("gegevens"),
)
def zoek(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    q: Annotated[str, Query(min_length=2, max_length=100, description="Postcode, straat, huisnummer")],
    limit: Annotated[int, Query(ge=1, le=zoeken.MAX_KANDIDATEN, description="Hoeveel kandidaten")] = 10,
) -> dict[str, Any]:
    vraag = zoeken.begrijp(q)
    if vraag is None:
        raise BadRequestError("geef een postcode, een straatnaam of een straat met huisnummer")
    sql, params = zoeken.statement(vraag, principal, limit)
    with audit.audited_read(request, engine) as conn:
        rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
        buurten = sorted({str(r["buurtcode"]) for r in rows if r["buurtcode"]})
        audit.note(request, aantal=len(rows), gebied=",".join(buurten) or None)
    fields = (
        "soort", "straat", "huisnummer", "huisletter", "toevoeging", "postcode", "postcodes", "woonplaats",
        "adressen", "buurtcode", "buurtnaam", "wijkcode", "wijknaam", "punt",
    )  # fmt: skip
    return {
        "vraag": vraag.vraag,
        "kandidaten": [
            {
                "label": zoeken.label(r),
                **{f: r[f] for f in fields},
                "lon": round(float(r["lon"]), 6),
                "lat": round(float(r["lat"]), 6),
            }
            for r in rows
        ],
    }
