"""Indicators per CBS grid square of 500 m; points are not assigned to these areas at ingest: their
figures come from a spatial join at refresh (migration 0010)."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "vierkanten500",
    "vierkant500",
    "Ondermijningsbeeld per vierkant van 500 m",
    "Signalen, adressen en leegstand per CBS-vierkant van 500 bij 500 meter. "
    "Demo: signalen en leegstand zijn synthetisch.",
    minzoom=10,
)
