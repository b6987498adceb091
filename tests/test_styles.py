"""The MapLibre style documents draw each layer as its declaration says (layers/base.py Style).

A point layer's colour, rim, size and opacity come from its ``Style``: the Leaflet map and the
style a GIS client fetches must show the same form, or a kind of point that differs only by
its rim (vacancy: white with a black rim) disappears on a light basemap.
"""

from __future__ import annotations

import pytest

from app.styles import NO_VALUE, paint_of
from layers import REGISTRY

POINT_LAYERS = [layer for layer in REGISTRY.values() if layer.geometry_type == "Point"]
AREA_LAYERS = [layer for layer in REGISTRY.values() if layer.geometry_type != "Point"]


@pytest.mark.parametrize("layer", POINT_LAYERS, ids=lambda layer: layer.id)
def test_points_are_drawn_in_their_declared_form(layer) -> None:  # type: ignore[no-untyped-def]
    (circle,) = paint_of(layer)
    style = layer.style
    assert circle["type"] == "circle" and circle["source-layer"] == layer.id
    paint = circle["paint"]
    assert paint["circle-color"] == style.colour
    assert paint["circle-stroke-color"] == style.outline
    assert paint["circle-radius"] == style.radius
    assert paint["circle-stroke-width"] == style.weight
    assert paint["circle-opacity"] == style.fill_opacity


def test_kinds_of_points_differ_in_form_not_only_in_colour() -> None:
    forms = {
        layer.id: (
            c["paint"]["circle-stroke-color"],
            c["paint"]["circle-radius"],
            c["paint"]["circle-stroke-width"],
        )
        for layer in POINT_LAYERS
        for c in paint_of(layer)
    }
    assert len(set(forms.values())) == len(forms), forms
    leegstand = next(c for c in paint_of(REGISTRY["leegstand"]))
    assert leegstand["paint"]["circle-stroke-color"] != leegstand["paint"]["circle-color"]


@pytest.mark.parametrize("layer", AREA_LAYERS, ids=lambda layer: layer.id)
def test_areas_are_filled_by_their_legend_classes(layer) -> None:  # type: ignore[no-untyped-def]
    fill = paint_of(layer)[0]["paint"]["fill-color"]
    if not (layer.style.property and layer.style.classes):
        assert fill == layer.style.colour
        return
    case, _, withheld, step = fill
    assert case == "case" and withheld == NO_VALUE
    classes = sorted(layer.style.classes, key=lambda c: c.min)
    assert step[2] == NO_VALUE  # below the lowest class: no value
    assert step[3::2] == [c.min for c in classes]
    assert step[4::2] == [c.colour for c in classes]
