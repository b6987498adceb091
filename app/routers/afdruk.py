"""``/kaart/afdruk``: the current map view as an A4 PDF (the map's "Afdrukken" button).

Audited like the overview: one audit row in the same transaction as the read, naming the
area type and the box. What it prints is decided in :mod:`app.afdruk`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app import afdruk, audit
from app.access import rule
from app.deps import PrincipalDep
from app.params import IndelingDep
from app.services import EngineDep, SettingsDep

router = APIRouter(tags=["Kaart"])


@router.get(
    "/kaart/afdruk",
    summary="De kaart zoals u die ziet, als A4-PDF (kaart, legenda, titel, datum, gebruiker)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    openapi_extra=rule("gegevens"),
)
def kaart_afdruk(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    indeling: IndelingDep,
    soort: str = "buurt",
    indicator: str = "per_1000_adressen",
    thema: str = "alle",
    periode: str | None = None,
    bbox: Annotated[
        str | None, Query(description="Het kaartbeeld: minlon,minlat,maxlon,maxlat (WGS84); standaard alles")
    ] = None,
) -> Response:
    view = afdruk.check(soort, indicator, thema, periode, indeling, bbox)
    k = settings.suppression_k
    with audit.audited_read(request, engine) as conn:
        printed = afdruk.read(conn, principal, view, k)
        box = ",".join(f"{v:.5f}" for v in view.bbox) if view.bbox else None
        audit.note(request, aantal=len(printed.rows), gebied=soort, bbox=box)
    body = afdruk.render(afdruk.with_legend(engine, principal, printed, k), principal, k)
    name = f"kaart-{soort}-{indicator}-{printed.periode or 'geen'}-{thema}.pdf"
    return Response(
        body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
