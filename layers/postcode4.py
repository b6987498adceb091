"""Indicators per four-digit postcode area (PC4); points are not assigned to these areas at ingest: their
figures come from a spatial join at refresh (migration 0010)."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "postcode4",
    "pc4",
    "Ondermijningsbeeld per postcodegebied (PC4)",
    "Signalen, adressen en leegstand per viercijferig postcodegebied (CBS). "
    "Demo: signalen en leegstand zijn synthetisch.",
    minzoom=10,
)
