"""The shared shape of the risk-branch layers (one per area type).

Not a layer itself: ``risicobranches_bedrijventerreinen.py`` and ``risicobranches_buurten.py``
each build one. The figures are per view class (core.vestiging_cijfers): a principal reads
those computed from the register entries it could see, suppressed for planners like the
signal figures (``vestigingen`` and ``totaal`` are counts; per hectare and share derived from
the published counts).
"""

from __future__ import annotations

from layers.base import Layer, LegendClass, Property, Style

PROPERTIES = (
    Property(name="code", type="string", title="Gebiedscode", filterable=True),
    Property(name="naam", type="string", title="Naam"),
    Property(name="gemeentecode", type="string", title="Gemeente", filterable=True),
    Property(
        name="risicobranche",
        type="string",
        title="Risicobranche ('alle' voor alle risicobranches samen)",
        filterable=True,
    ),
    Property(
        name="vestigingen",
        type="integer",
        title="Adressen met een vestiging in de risicobranche",
        suppress="count",
    ),
    Property(
        name="totaal", type="integer", title="Adressen met een vestiging (alle branches)", suppress="count"
    ),
    Property(name="hectare", type="number", title="Oppervlakte (ha)"),
    Property(
        name="per_hectare",
        basis="vestigingen",
        published="round({vestigingen} / NULLIF(t.hectare, 0), 3)",
        type="number",
        title="Risicobranche-adressen per hectare",
        suppress="derived",
    ),
    Property(
        name="aandeel_pct",
        basis="vestigingen",
        published="round(100.0 * {vestigingen} / NULLIF({totaal}, 0), 1)",
        type="number",
        title="Aandeel van alle adressen met een vestiging (%)",
        suppress="derived",
    ),
)

#: Colour-blind-safe sequential classes (ColorBrewer PuRd) for the share of risk branches.
STYLE = Style(
    colour="#980043",
    property="aandeel_pct",
    classes=(
        LegendClass(min=0, colour="#f1eef6", label="minder dan 5 %"),
        LegendClass(min=5, colour="#d7b5d8", label="5 tot 15 %"),
        LegendClass(min=15, colour="#df65b0", label="15 tot 30 %"),
        LegendClass(min=30, colour="#dd1c77", label="30 tot 50 %"),
        LegendClass(min=50, colour="#980043", label="50 % of meer"),
    ),
)


def risicobranche_layer(layer_id: str, soort: str, title: str, description: str) -> Layer:
    """A risk-branch layer for one area type."""
    return Layer(
        id=layer_id,
        title=title,
        description=description,
        kind="gebied",
        source="laag_vestiging_zicht",
        by_zicht=True,
        where={"gebied_soort": soort},
        geometry_type="MultiPolygon",
        properties=PROPERTIES,
        tables=("gebied", "verblijfsobject", "vestiging"),
        minzoom=8,
        maxzoom=18,
        style=STYLE,
        clearance="aggregaat",
        defaults={"risicobranche": "alle"},
    )
