"""Request parameters as dependencies: parsed, checked and documented once.

A route names what it takes (``page: PageDep``, ``srid: CrsDep``, ``doel: PurposeDep``) and
gets it parsed; a bad value is a 400 (or a 404 for a tile that does not exist) with a Dutch
detail before the route runs, and the parameter is described in the OpenAPI document
wherever it is taken, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated, Any

import morecantile
from fastapi import Depends, Header, Path, Query, Request

from app.errors import BadRequestError, NotFoundError
from app.pages import negotiate
from app.periods import parse_datetime
from app.tms import GRIDS, Grid, GridTile
from core.domain import GEBIED_INDELINGEN

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
CRS_SRID = {CRS84: 4326, RD: 28992, "EPSG:4326": 4326, "EPSG:28992": 28992}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)


#: The ``{collection_id}`` of a layer's routes.
CollectionId = Annotated[str, Path(description="Kaartlaag: een id uit /collections")]


# -- paging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


async def page(
    limit: Annotated[
        int, Query(ge=1, description=f"Aantal objecten per pagina, hoogstens {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Aantal objecten over te slaan (bladeren)")] = 0,
) -> Page:
    if limit > MAX_LIMIT:
        raise BadRequestError(f"limit is hoogstens {MAX_LIMIT}; vraag de volgende pagina op met offset")
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(page)]


# -- coordinate reference systems and bbox -----------------------------------------------------


def crs_srid(crs: str | None, name: str = "crs") -> int:
    """The SRID of an OGC CRS URI (CRS84 when absent); 400 for an unsupported one."""
    srid = CRS_SRID.get(crs or CRS84)
    if srid is None:
        raise BadRequestError(f"{name} {crs!r} wordt niet ondersteund; gebruik {CRS84} of {RD}")
    return srid


async def output_crs(
    crs: Annotated[
        str | None, Query(description=f"Coördinatenstelsel van het antwoord: {CRS84} (standaard) of {RD}")
    ] = None,
) -> int:
    return crs_srid(crs)


#: The SRID the answer's coordinates are in (4326 or 28992).
CrsDep = Annotated[int, Depends(output_crs)]


@dataclass(frozen=True)
class BBox:
    """A bounding box (minx, miny, maxx, maxy) in ``srid``; ``box`` None when not asked for."""

    box: tuple[float, float, float, float] | None
    srid: int

    def km2(self) -> float:
        """The area the box covers, in km² (degrees scaled at the box's middle latitude)."""
        if self.box is None:
            return 0.0
        width, height = self.box[2] - self.box[0], self.box[3] - self.box[1]
        if self.srid == 28992:
            return width * height / 1e6
        middle = math.radians((self.box[1] + self.box[3]) / 2)
        return (width * 111.32 * max(math.cos(middle), 0.0)) * (height * 110.57)

    def label(self) -> str:
        """How the audit trail records it."""
        return f"{','.join(f'{v:g}' for v in self.box or ())} (EPSG:{self.srid})"


def parse_bbox(bbox: str | None, bbox_crs: str | None) -> BBox:
    srid = crs_srid(bbox_crs, "bbox-crs")
    if bbox is None:
        return BBox(None, srid)
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
    return BBox((values[0], values[1], values[2], values[3]), srid)


async def bbox(
    bbox: Annotated[
        str | None, Query(description="Alleen objecten in dit gebied: minx,miny,maxx,maxy (in bbox-crs)")
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(alias="bbox-crs", description=f"Coördinatenstelsel van bbox: {CRS84} (standaard) of {RD}"),
    ] = None,
) -> BBox:
    return parse_bbox(bbox, bbox_crs)


BBoxDep = Annotated[BBox, Depends(bbox)]


# -- time --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """The ``datetime`` parameter as given (``text``) and as first and last day."""

    text: str | None
    start: dt.date | None
    end: dt.date | None


async def interval(
    datetime: Annotated[
        str | None,
        Query(description="Datum (JJJJ-MM-DD) of periode (JJJJ-MM-DD/JJJJ-MM-DD, een open eind als ..)"),
    ] = None,
) -> Interval:
    start, end = parse_datetime(datetime)
    return Interval(datetime, start, end)


IntervalDep = Annotated[Interval, Depends(interval)]


# -- area division -----------------------------------------------------------------------------


async def division(
    indeling: Annotated[
        str | None,
        Query(
            description="Gebiedsindeling: " + ", ".join(GEBIED_INDELINGEN) + " (standaard: per soort de "
            "standaardindeling, CBS voor gemeente, wijk en buurt, IBIS voor bedrijventerreinen)"
        ),
    ] = None,
) -> str | None:
    """The division an area output shows; None (or empty, as the map's form sends it): each
    type's default (app/layer_sql.py)."""
    if not indeling:
        return None
    if indeling not in GEBIED_INDELINGEN:
        raise BadRequestError(f"onbekende indeling {indeling!r}; kies uit {', '.join(GEBIED_INDELINGEN)}")
    return indeling


IndelingDep = Annotated[str | None, Depends(division)]


# -- output format -----------------------------------------------------------------------------


def formats(*allowed: str) -> Any:
    """``fmt: Annotated[str, formats("json", "html")]``: the output format, from ``f`` or
    else the client's ``Accept`` (HTML for a browser where offered, JSON otherwise); one the
    route does not offer is a 406."""
    choices = f"{', '.join(allowed[:-1])} of {allowed[-1]}" if len(allowed) > 1 else allowed[0]
    default = "html voor een browser, anders json" if "html" in allowed else "json"
    described = Query(None, description=f"Formaat: {choices} (standaard: {default})")

    # The description is the default's, not the annotation's: annotations are strings here
    # (``from __future__ import annotations``) and could not see this function's locals.
    async def output_format(request: Request, f: str | None = described) -> str:
        return negotiate(request, f, allowed)

    return Depends(output_format)


# -- tiles -------------------------------------------------------------------------------------


TMS_PATH = Path(description=f"Tegelschema; beschikbaar: {', '.join(GRIDS)}")


def _known_tms(tms_id: str) -> Grid:
    grid = GRIDS.get(tms_id)
    if grid is None:
        raise NotFoundError(f"tegelschema {tms_id!r} bestaat niet; beschikbaar: {', '.join(GRIDS)}")
    return grid


async def tile_matrix_set(tms_id: Annotated[str, TMS_PATH]) -> Grid:
    return _known_tms(tms_id)


TileMatrixSetDep = Annotated[Grid, Depends(tile_matrix_set)]


async def tile(
    tms_id: Annotated[str, TMS_PATH],
    z: Annotated[int, Path(ge=0, le=24, description="Zoomniveau")],
    x: Annotated[int, Path(ge=0, description="Kolom")],
    y: Annotated[int, Path(ge=0, description="Rij")],
) -> GridTile:
    """A tile of the tile matrix set (its own check, not a dependency on
    :func:`tile_matrix_set`: one node fewer on the hottest route)."""
    grid = _known_tms(tms_id)
    if z > grid.max_zoom or x >= 2**z or y >= 2**z:
        raise NotFoundError(f"tegel {z}/{x}/{y} bestaat niet in {tms_id}")
    return GridTile(grid, morecantile.Tile(x, y, z))


TileDep = Annotated[GridTile, Depends(tile)]


# -- purpose (doelbinding) ---------------------------------------------------------------------

#: The longest purpose accepted: purposes are short words from a key's list; anything longer
#: is refused before it reaches a check, a message or the audit trail.
MAX_PURPOSE = 100
PURPOSE = (
    "Het doel van uw verzoek, een van de doelen van uw sleutel; verplicht voor gegevens op "
    "objectniveau (signalen, leegstand, adressen) en vastgelegd in het toegangslogboek."
)


#: The two ways to state it, declared once; :func:`stated_purpose` and the layer dependency
#: that reads rows (``app.deps.readable_layer``) both take them.
PurposeHeader = Annotated[str | None, Header(alias="X-Doel", description=PURPOSE)]
PurposeQuery = Annotated[str | None, Query(description=PURPOSE + " In plaats van de header X-Doel.")]


def purpose_of(x_doel: str | None, doel: str | None) -> str | None:
    """The purpose stated: header ``X-Doel``, else parameter ``doel``; None when absent or
    blank. Whether it is required and allowed is the layer's business."""
    value = x_doel or doel
    if value is not None and len(value) > MAX_PURPOSE:
        raise BadRequestError(
            f"het doel is langer dan {MAX_PURPOSE} tekens; kies een van de doelen van uw sleutel"
        )
    return value.strip() if value and value.strip() else None


async def stated_purpose(x_doel: PurposeHeader = None, doel: PurposeQuery = None) -> str | None:
    return purpose_of(x_doel, doel)


PurposeDep = Annotated[str | None, Depends(stated_purpose)]


async def map_purpose(
    doel: Annotated[
        str | None,
        Query(
            description="Doel waarvoor de kaart de puntlagen (signalen, leegstand) toont, een van de "
            "doelen van uw sleutel; zonder doel toont de kaart alleen gebieden. De kaart geeft het "
            "door aan de tegels die zij ophaalt."
        ),
    ] = None,
) -> str | None:
    """The purpose chosen on the map page (query only, unlike :func:`stated_purpose`).

    The page serves no objects itself: it writes the purpose into the tile addresses it
    hands the browser, which cannot add a header to those fetches. A client's standing
    ``X-Doel`` header must not switch the points on either: they appear when the user picks
    a purpose in the page's form.
    """
    return doel


MapPurposeDep = Annotated[str | None, Depends(map_purpose)]
