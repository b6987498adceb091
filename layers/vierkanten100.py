"""Indicators per CBS grid square of 100 m; points are not assigned to these areas at ingest: their
figures come from a spatial join at refresh (migration 0010)."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "vierkanten100",
    "vierkant100",
    "Ondermijningsbeeld per vierkant van 100 m",
    "Signalen, adressen en leegstand per CBS-vierkant van 100 bij 100 meter. "
    "Demo: signalen en leegstand zijn synthetisch.",
    minzoom=12,
)
