"""Vacant objects (leegstand) as points: for analysts."""

from layers.base import AREA_PROPERTIES, Layer, Property, Style

LAYER = Layer(
    id="leegstand",
    title="Leegstand",
    description="Leegstaande panden en verblijfsobjecten. Demo: synthetisch.",
    kind="punten",
    source="laag_leegstand",
    geometry_type="Point",
    properties=(
        Property(name="soort", type="string", title="Soort object", filterable=True),
        Property(name="sinds", type="date", title="Leeg sinds"),
        Property(name="tot", type="date", title="Leeg tot"),
        Property(name="bron", type="string", title="Bron", filterable=True),
        *AREA_PROPERTIES,
    ),
    datetime_column="sinds",
    tables=("leegstand", "gebied"),
    minzoom=12,
    style=Style(colour="#7570b3"),
    clearance="adressen",
)
