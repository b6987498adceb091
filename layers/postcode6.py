"""Indicators per six-digit postcode (PC6); points are not assigned to these areas at ingest: their
figures come from a spatial join at refresh (migration 0010)."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "postcode6",
    "pc6",
    "Ondermijningsbeeld per postcode (PC6)",
    "Signalen, adressen en leegstand per zescijferige postcode (CBS). "
    "Demo: signalen en leegstand zijn synthetisch.",
    minzoom=12,
)
