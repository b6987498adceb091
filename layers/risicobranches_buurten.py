"""Risk branches per buurt."""

from layers.risicobranche import risicobranche_layer

LAYER = risicobranche_layer(
    "risicobranches_buurten",
    "buurt",
    "Risicobranches per buurt",
    "Adressen met een vestiging of vergunning in een risicobranche per buurt (CBS): aantal, per "
    "hectare en aandeel van alle adressen met een vestiging. Uit de registers die vandaag gelden.",
)
