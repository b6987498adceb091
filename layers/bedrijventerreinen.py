"""Indicators per business park: the ondermijningskaart per bedrijventerrein."""

from layers.indicator import indicator_layer

LAYER = indicator_layer(
    "bedrijventerreinen",
    "bedrijventerrein",
    "Ondermijningskaart per bedrijventerrein",
    "Signalen van alle partners samen, controles, Bibob en leegstand per bedrijventerrein. "
    "Demo: signalen en leegstand zijn synthetisch.",
)
