"""Risk branches per business park: the plan's "risicobranches per bedrijventerrein"."""

from layers.risicobranche import risicobranche_layer

LAYER = risicobranche_layer(
    "risicobranches_bedrijventerreinen",
    "bedrijventerrein",
    "Risicobranches per bedrijventerrein",
    "Adressen met een vestiging of vergunning in een risicobranche (horeca, coffeeshops, "
    "autohandel, nagelstudio's, kappers, opslagboxen, ...) per bedrijventerrein: aantal, per "
    "hectare en aandeel van alle adressen met een vestiging. Uit de registers die vandaag gelden.",
)
