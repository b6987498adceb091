"""Indicators per wijk."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "wijken",
    "wijk",
    "Ondermijningsbeeld per wijk",
    "Signalen van partners, leegstand en afwijking van de rest van de gemeente per wijk "
    "(Zicht op Ondermijning). Demo: signalen en leegstand zijn synthetisch.",
    minzoom=6,
)
