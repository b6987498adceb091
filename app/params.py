"""Request parameters as dependencies: parsed, checked and documented once.

A route names what it takes (``page: PageDep``, ``srid: CrsDep``, ``doel: PurposeDep``) and
gets it parsed; a bad value is a 400 (or a 404 for a tile that does not exist) with a Dutch
detail before the route runs, and the parameter is described in the OpenAPI document
wherever it is taken, and nowhere else.
"""

from __future__ import annotations

import base64
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
#: EPSG:4326 proper: latitude first, as the EPSG register (and OGC API Features Part 2) says.
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)


#: The ``{collection_id}`` of a layer's routes.
CollectionId = Annotated[str, Path(description="Kaartlaag: een id uit /collections")]


# -- paging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page: its size, and where it starts (``after`` an id in the page order, or else
    ``offset`` rows in)."""

    limit: int
    offset: int
    after: str | None = None


def encode_cursor(last_id: str) -> str:
    """The ``cursor`` of the page after the one that ended with ``last_id``: opaque to
    clients (they follow next links), so its form may change without breaking them."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a ``cursor`` holds; a 400 for one this service did not write (PostgreSQL text
    cannot hold a NUL, so such a value never reaches the database)."""
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("cursor is onbekend; volg de next-link van de vorige pagina") from exc
    if not after or "\x00" in after:
        raise BadRequestError("cursor is onbekend; volg de next-link van de vorige pagina")
    return after


#: The longest ``cursor`` taken (an encoded id; anything longer is refused).
MAX_CURSOR = 400


async def page(
    limit: Annotated[
        int,
        Query(
            ge=1,
            # Documented, not enforced: OGC API Features (Part 1, /req/core/fc-limit-response-1)
            # answers a larger limit with the maximum. GDAL pages by this maximum.
            json_schema_extra={"maximum": MAX_LIMIT},
            description=f"Aantal objecten per pagina, hoogstens {MAX_LIMIT} (meer geeft er {MAX_LIMIT})",
        ),
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, description="Aantal objecten over te slaan (bladeren; cursor is sneller)")
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            description="Waar de pagina begint: uit de next-link van de vorige pagina (even snel op "
            "elke diepte, anders dan offset)",
        ),
    ] = None,
) -> Page:
    """A limit above the maximum is the maximum. Deep pages go by ``cursor`` (keyset: the
    last id of the previous page), which costs the same at any depth; ``offset`` still works
    for clients that build their own links, and reads every row it skips."""
    after = decode_cursor(cursor) if cursor is not None else None
    return Page(min(limit, MAX_LIMIT), offset if after is None else 0, after)


PageDep = Annotated[Page, Depends(page)]


# -- coordinate reference systems and bbox -----------------------------------------------------


@dataclass(frozen=True)
class Crs:
    """A coordinate reference system a client may name: its URI, SRID, and whether its
    first axis is latitude (EPSG:4326 proper, unlike CRS84)."""

    uri: str
    srid: int
    latlon: bool = False

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value."""
        return f"<{self.uri}>"


WGS84_LONLAT = Crs(CRS84, 4326)
WGS84_LATLON = Crs(EPSG4326, 4326, latlon=True)
RD_NEW = Crs(RD, 28992)
#: The CRSs of every collection, its storage CRS last (OGC API Features Part 2 ``crs``).
CRSES = (WGS84_LONLAT, WGS84_LATLON, RD_NEW)
#: Every spelling accepted: the URIs, and the short forms mapped to what they mean.
#: ``EPSG:4326`` is EPSG's CRS, latitude first; CRS84 is its longitude-first twin.
_NAMES = {
    **{c.uri: c for c in CRSES},
    "CRS84": WGS84_LONLAT,
    "OGC:CRS84": WGS84_LONLAT,
    "[OGC:CRS84]": WGS84_LONLAT,
    "EPSG:4326": WGS84_LATLON,
    "[EPSG:4326]": WGS84_LATLON,
    "EPSG:28992": RD_NEW,
    "[EPSG:28992]": RD_NEW,
}
_CHOICES = f"{CRS84}, {EPSG4326} (breedte eerst) of {RD}"


def parse_crs(crs: str | None, name: str = "crs") -> Crs:
    """The CRS a parameter names (CRS84 when absent); 400 for an unsupported one."""
    if crs is None:
        return WGS84_LONLAT
    found = _NAMES.get(crs.strip())
    if found is None:
        raise BadRequestError(f"{name} {crs[:100]!r} wordt niet ondersteund; gebruik {_CHOICES}")
    return found


def crs_srid(crs: str | None, name: str = "crs") -> int:
    """The SRID of a CRS for input in longitude/latitude or RD order; a latitude-first CRS
    is refused (400) rather than read with its axes swapped."""
    found = parse_crs(crs, name)
    if found.latlon:
        raise BadRequestError(f"{name} {found.uri} kan hier niet; gebruik {CRS84} of {RD}")
    return found.srid


async def output_crs(
    crs: Annotated[
        str | None, Query(description=f"Coördinatenstelsel van het antwoord: {_CHOICES}; standaard CRS84")
    ] = None,
) -> Crs:
    return parse_crs(crs)


#: The CRS the features' coordinates are in, with its axis order.
OutputCrsDep = Annotated[Crs, Depends(output_crs)]


async def input_crs(
    crs: Annotated[
        str | None, Query(description=f"Coördinatenstelsel van de invoer: {CRS84} (standaard) of {RD}")
    ] = None,
) -> int:
    return crs_srid(crs)


#: The SRID of coordinates a client sends (4326 longitude first, or 28992).
CrsDep = Annotated[int, Depends(input_crs)]


@dataclass(frozen=True)
class BBox:
    """A bounding box (minx, miny, maxx, maxy) in ``srid``, longitude first whatever the axis
    order it was given in; ``box`` None when not asked for."""

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
    """``minx,miny,maxx,maxy`` in the axis order of ``bbox-crs``: for EPSG:4326 that is
    ``minlat,minlon,maxlat,maxlon`` (Part 2, /req/crs/fc-bbox-crs-action)."""
    crs = parse_crs(bbox_crs, "bbox-crs")
    if bbox is None:
        return BBox(None, crs.srid)
    try:
        values = [float(v) for v in bbox.split(",")]
    except ValueError as exc:
        raise BadRequestError("bbox moet vier getallen zijn: minx,miny,maxx,maxy") from exc
    if len(values) != 4 or values[0] > values[2] or values[1] > values[3]:
        raise BadRequestError("bbox moet vier getallen zijn: minx,miny,maxx,maxy met min <= max")
    if not all(math.isfinite(v) for v in values):
        raise BadRequestError("bbox bevat een getal dat niet eindig is")
    if crs.latlon:
        values = [values[1], values[0], values[3], values[2]]
    if crs.srid == 4326 and not (
        values[0] >= -180 and values[2] <= 180 and values[1] >= -90 and values[3] <= 90
    ):
        raise BadRequestError("bbox ligt buiten -180..180 (lengte) en -90..90 (breedte)")
    return BBox((values[0], values[1], values[2], values[3]), crs.srid)


async def bbox(
    bbox: Annotated[
        str | None,
        Query(
            description="Alleen objecten in dit gebied: minx,miny,maxx,maxy in bbox-crs, in de "
            "asvolgorde daarvan (EPSG:4326: minbreedte,minlengte,maxbreedte,maxlengte)"
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(alias="bbox-crs", description=f"Coördinatenstelsel van bbox: {_CHOICES}; standaard CRS84"),
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
