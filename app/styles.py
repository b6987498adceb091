"""MapLibre style documents built from a layer's ``Style`` declaration (layers/base.py).

One style per layer, ``standaard``, for either grid: WebMercatorQuad (the default) or
NetherlandsRDNewQuad. Its one source points at the layer's TileJSON of that grid, whose tile
addresses carry the purpose the style was asked with, so a point layer draws without a 400 on every tile; the
caller's key never goes into a URL: a browser sends its session cookie with every fetch, and
a script adds its ``Authorization`` header itself (MapLibre's ``transformRequest``).
Points are circles in the layer's colour; areas are filled by their legend classes (values
of ``style.property`` at or above a class's ``min`` take its colour; a withheld figure is
grey) with a thin outline.

MapLibre GL has no RD projection. The RD style shows the RD tile pyramid as a plane: RD's
level-0 square (PDOK's 880,803.84 m from the top-left origin) is laid on the Web Mercator
square, so MapLibre addresses tile z/x/y of its own pyramid and gets RD tile z/x/y, which has
the same place in its square. The style's source repeats the full square as ``bounds`` (the
TileJSON's bounds are true degrees, which in the plane lie elsewhere) and its metadata says
how to place an RD point (:func:`rd_to_plane`): a client centres its map with that. Limits:
the "longitudes and latitudes" the map reports are plane coordinates, not WGS84; a basemap
must be in the same RD grid (PDOK's RD tiles are), never a Web Mercator one; and distances and
scale bars measured by MapLibre are those of the plane, not metres on the ground.
"""

from __future__ import annotations

import math
from typing import Any

from app.tms import GRIDS, RD_ORIGIN, RD_SQUARE, WEB_MERCATOR, Grid
from layers.base import Layer

#: The whole Web Mercator square in degrees: where the RD plane lies for MapLibre.
PLANE_BOUNDS = [-180.0, -85.0511287798066, 180.0, 85.0511287798066]


def rd_to_plane(x: float, y: float) -> tuple[float, float]:
    """Where an RD New point lies on the plane MapLibre draws the RD tiles on, as the
    (longitude, latitude) it would have if the plane were the Web Mercator square."""
    u = (x - RD_ORIGIN[0]) / RD_SQUARE
    v = (RD_ORIGIN[1] - y) / RD_SQUARE
    return 360.0 * u - 180.0, math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * v))))


DEFAULT_STYLE = "standaard"
#: The fill of an area whose figure is withheld or missing.
NO_VALUE = "#bdbdbd"


def paint_of(layer: Layer, grid: Grid | None = None) -> list[dict[str, Any]]:
    """The style layers that draw ``layer`` from its vector tiles (source-layer = layer id),
    in the zoom levels of ``grid`` (WebMercatorQuad by default)."""
    style = layer.style
    minzoom, maxzoom = (grid or GRIDS[WEB_MERCATOR]).zooms(layer.minzoom, layer.maxzoom)
    base = {
        "source": layer.id,
        "source-layer": layer.id,
        "minzoom": minzoom,
        "maxzoom": maxzoom + 1,
    }
    if layer.geometry_type == "Point":
        return [
            {
                "id": f"{layer.id}-punten",
                "type": "circle",
                **base,
                # The layer's own form, as on the Leaflet map: vacancy is a white dot with a
                # black rim, which a white rim would hide on a light basemap.
                "paint": {
                    "circle-color": style.colour,
                    "circle-radius": style.radius,
                    "circle-stroke-color": style.outline,
                    "circle-stroke-width": style.weight,
                    "circle-opacity": style.fill_opacity,
                    "circle-stroke-opacity": 1,
                },
            }
        ]
    fill: Any = style.colour
    if style.property and style.classes:
        classes = sorted(style.classes, key=lambda c: c.min)
        step: list[Any] = ["step", ["to-number", ["get", style.property]], NO_VALUE]
        for legend_class in classes:
            step += [legend_class.min, legend_class.colour]
        fill = ["case", ["==", ["get", style.property], None], NO_VALUE, step]
    return [
        {
            "id": f"{layer.id}-vlak",
            "type": "fill",
            **base,
            "paint": {"fill-color": fill, "fill-opacity": 0.6},
        },
        {
            "id": f"{layer.id}-rand",
            "type": "line",
            **base,
            "paint": {"line-color": "#525252", "line-width": 0.6},
        },
    ]


def style_document(layer: Layer, tilejson_url: str, grid: Grid | None = None) -> dict[str, Any]:
    """A MapLibre / Mapbox GL style (version 8) that draws the layer over no basemap, from
    the tiles of ``grid`` (WebMercatorQuad by default; RD as a plane, see above)."""
    grid = grid or GRIDS[WEB_MERCATOR]
    source: dict[str, Any] = {"type": "vector", "url": tilejson_url}
    metadata: dict[str, Any] = {
        "okaart:laag": layer.id,
        "okaart:legenda": legend(layer),
        "okaart:tegelschema": grid.id,
    }
    if grid.id != WEB_MERCATOR:
        source["bounds"] = PLANE_BOUNDS  # explicit source options win over the TileJSON's
        metadata["okaart:vlak"] = {
            "crs": grid.crs_uri,
            "oorsprong": list(RD_ORIGIN),
            "zijde": RD_SQUARE,
            "uitleg": "RD-tegels als vlak op het Web Mercator-vierkant: lengte = 360·(x − x0)/zijde − 180, "
            "breedte = atan(sinh(π·(1 − 2·(y0 − y)/zijde))) in graden. Geen achtergrondkaart in "
            "een ander tegelschema; afstanden gelden in het vlak, niet in meters.",
        }
    return {
        "version": 8,
        "name": f"{layer.title} ({DEFAULT_STYLE}, {grid.id})",
        "metadata": metadata,
        "sources": {layer.id: source},
        "layers": paint_of(layer, grid),
    }


def legend(layer: Layer) -> list[dict[str, Any]]:
    """The legend as a client shows it: a label and a colour per class (or the one colour)."""
    style = layer.style
    if style.property and style.classes:
        return [
            {"label": c.label, "kleur": c.colour, "vanaf": c.min}
            for c in sorted(style.classes, key=lambda c: c.min)
        ]
    return [{"label": layer.title, "kleur": style.colour}]
