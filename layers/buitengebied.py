"""Indicators for the rural area: the information picture of the buitengebied."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "buitengebied",
    "buitengebied",
    "Informatiebeeld buitengebied",
    "Signalen, erfbezoeken en leegstand in het buitengebied. Demo: signalen en leegstand zijn synthetisch.",
    minzoom=6,
)
