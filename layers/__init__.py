"""The layer registry: every module in this package that defines ``LAYER`` is published.

A new map layer is one new file here; features, tiles, maps and exports pick it up.
"""

from __future__ import annotations

import importlib
import pkgutil

from layers.base import Layer


def _collect() -> dict[str, Layer]:
    found: dict[str, Layer] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        layer = getattr(module, "LAYER", None)
        if isinstance(layer, Layer):
            if layer.id in found:
                raise ValueError(f"two layers with id {layer.id!r}")
            found[layer.id] = layer
    return found


REGISTRY: dict[str, Layer] = _collect()
#: The indicator layer of each area type (``buurt`` -> ``buurten``), derived from the registry.
INDICATOR_LAYERS: dict[str, Layer] = {
    layer.where["gebied_soort"]: layer
    for layer in REGISTRY.values()
    if layer.source == "laag_indicator_zicht" and "gebied_soort" in layer.where
}
#: The risk-branch layer of each area type that has one (``bedrijventerrein``, ``buurt``).
RISICOBRANCHE_LAYERS: dict[str, Layer] = {
    layer.where["gebied_soort"]: layer
    for layer in REGISTRY.values()
    if layer.source == "laag_vestiging_zicht" and "gebied_soort" in layer.where
}
