"""MapLibre style documents built from a layer's ``Style`` declaration (layers/base.py).

One style per layer, ``standaard``, for the WebMercatorQuad tiles (MapLibre GL draws only
that grid). Its one source points at the layer's TileJSON, whose tile addresses carry the
purpose the style was asked with, so a point layer draws without a 400 on every tile; the
caller's key never goes into a URL: a browser sends its session cookie with every fetch, and
a script adds its ``Authorization`` header itself (MapLibre's ``transformRequest``).
Points are circles in the layer's colour; areas are filled by their legend classes (values
of ``style.property`` at or above a class's ``min`` take its colour; a withheld figure is
grey) with a thin outline.
"""

from __future__ import annotations

from typing import Any

from layers.base import Layer

DEFAULT_STYLE = "standaard"
#: The fill of an area whose figure is withheld or missing.
NO_VALUE = "#bdbdbd"


def paint_of(layer: Layer) -> list[dict[str, Any]]:
    """The style layers that draw ``layer`` from its vector tiles (source-layer = layer id)."""
    style = layer.style
    base = {
        "source": layer.id,
        "source-layer": layer.id,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom + 1,
    }
    if layer.geometry_type == "Point":
        return [
            {
                "id": f"{layer.id}-punten",
                "type": "circle",
                **base,
                "paint": {
                    "circle-color": style.colour,
                    "circle-radius": 5,
                    "circle-stroke-color": "#ffffff",
                    "circle-stroke-width": 1,
                    "circle-opacity": 0.9,
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


def style_document(layer: Layer, tilejson_url: str) -> dict[str, Any]:
    """A MapLibre / Mapbox GL style (version 8) that draws the layer over no basemap."""
    doc: dict[str, Any] = {
        "version": 8,
        "name": f"{layer.title} ({DEFAULT_STYLE})",
        "metadata": {"okaart:laag": layer.id, "okaart:legenda": legend(layer)},
        "sources": {layer.id: {"type": "vector", "url": tilejson_url}},
        "layers": paint_of(layer),
    }
    return doc


def legend(layer: Layer) -> list[dict[str, Any]]:
    """The legend as a client shows it: a label and a colour per class (or the one colour)."""
    style = layer.style
    if style.property and style.classes:
        return [
            {"label": c.label, "kleur": c.colour, "vanaf": c.min}
            for c in sorted(style.classes, key=lambda c: c.min)
        ]
    return [{"label": layer.title, "kleur": style.colour}]
