"""The tile matrix sets the service tiles in: WebMercatorQuad and NetherlandsRDNewQuad.

WebMercatorQuad is morecantile's own. NetherlandsRDNewQuad is not shipped by morecantile, so
it is declared here as PDOK publishes it (OGC TMS 2.0): RD New (EPSG:28992), origin top left
at (-285401.92, 903401.92), 256-pixel tiles, 3440.64 m per pixel at level 0 (scale
1 : 12,288,000), halving per level, 2^z × 2^z tiles per level, levels 0 to 16. The grid
covers the Netherlands and its sea with a square of 880,803.84 m.
"""

from __future__ import annotations

from dataclasses import dataclass

import morecantile

WEB_MERCATOR = "WebMercatorQuad"
RD_NEW = "NetherlandsRDNewQuad"

RD_ORIGIN = (-285401.92, 903401.92)
RD_CELL_SIZE_0 = 3440.64
#: The side of the RD grid's level-0 tile (256 cells), in metres.
RD_SQUARE = 256 * RD_CELL_SIZE_0
RD_LEVELS = 17
#: WebMercatorQuad level minus this: the RD level with tiles no larger (see Grid.zooms).
RD_ZOOM_OFFSET = 4
#: Scale denominators assume the standard 0.28 mm pixel (OGC TMS).
_PIXEL_M = 0.00028


def _rd_new() -> morecantile.TileMatrixSet:
    size = RD_SQUARE
    return morecantile.TileMatrixSet.model_validate(
        {
            "id": RD_NEW,
            "title": "Amersfoort / RD New scheme for the Netherlands",
            "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/NetherlandsRDNewQuad",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
            "orderedAxes": ["X", "Y"],
            "wellKnownScaleSet": "https://www.opengis.net/def/wkss/OGC/1.0/NLDEPSG28992Scale",
            "boundingBox": {
                "lowerLeft": [RD_ORIGIN[0], RD_ORIGIN[1] - size],
                "upperRight": [RD_ORIGIN[0] + size, RD_ORIGIN[1]],
                "crs": "http://www.opengis.net/def/crs/EPSG/0/28992",
            },
            "tileMatrices": [
                {
                    "id": str(z),
                    "scaleDenominator": RD_CELL_SIZE_0 / 2**z / _PIXEL_M,
                    "cellSize": RD_CELL_SIZE_0 / 2**z,
                    "cornerOfOrigin": "topLeft",
                    "pointOfOrigin": list(RD_ORIGIN),
                    "tileWidth": 256,
                    "tileHeight": 256,
                    "matrixWidth": 2**z,
                    "matrixHeight": 2**z,
                }
                for z in range(RD_LEVELS)
            ],
        }
    )


@dataclass(frozen=True)
class Grid:
    """One tile matrix set as the routes use it."""

    id: str
    title: str
    #: The EPSG code tiles are built in.
    srid: int
    tms: morecantile.TileMatrixSet

    @property
    def crs_uri(self) -> str:
        return f"http://www.opengis.net/def/crs/EPSG/0/{self.srid}"

    @property
    def uri(self) -> str:
        return f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{self.id}"

    @property
    def max_zoom(self) -> int:
        return len(self.tms.tileMatrices) - 1

    def zooms(self, minzoom: int, maxzoom: int) -> tuple[int, int]:
        """A layer's zoom range (declared in WebMercatorQuad levels) in this grid's levels.

        At Dutch latitudes an RD level z has about the resolution of WebMercator level
        z + 4.8; z + 4 keeps an RD tile no larger than the WebMercator tile the layer's
        ``minzoom`` allows (point layers are capped by zoom because of a tile's size).
        """
        if self.srid == 3857:
            return minzoom, maxzoom
        return max(0, minzoom - RD_ZOOM_OFFSET), max(0, min(self.max_zoom, maxzoom - RD_ZOOM_OFFSET))

    def xy_bounds(self, tile: morecantile.Tile) -> tuple[float, float, float, float]:
        """The tile's bounds in the grid's own CRS: minx, miny, maxx, maxy."""
        b = self.tms.xy_bounds(tile)
        return (b.left, b.bottom, b.right, b.top)


@dataclass(frozen=True)
class GridTile:
    """A tile address checked against its grid."""

    grid: Grid
    tile: morecantile.Tile

    @property
    def z(self) -> int:
        return self.tile.z

    @property
    def x(self) -> int:
        return self.tile.x

    @property
    def y(self) -> int:
        return self.tile.y


GRIDS: dict[str, Grid] = {
    WEB_MERCATOR: Grid(
        WEB_MERCATOR, "Google Maps Compatible (EPSG:3857)", 3857, morecantile.tms.get(WEB_MERCATOR)
    ),
    RD_NEW: Grid(RD_NEW, "Amersfoort / RD New (EPSG:28992), zoals PDOK", 28992, _rd_new()),
}
