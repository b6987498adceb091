"""Indicators per buurt: signals, vacancy and deviation from the rest of the municipality."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "buurten",
    "buurt",
    "Ondermijningsbeeld per buurt",
    "Signalen van partners, leegstand en afwijking van de rest van de gemeente per buurt, "
    "per jaar of kwartaal en per thema. Demo: signalen en leegstand zijn synthetisch.",
)
