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
        # Only for those cleared for addresses (an analyst); a partner gets no address.
        Property(name="adres", type="string", title="Adres", clearance="adressen"),
        *AREA_PROPERTIES,
    ),
    datetime_column="sinds",
    tables=("leegstand", "gebied"),
    minzoom=12,
    # Tile zoom 15 is map zoom 16 on the map page (512-pixel tiles): from there dots are
    # apart enough to click; below it the tiles carry clusters with their counts.
    single_from=15,
    # A black ring with a white centre: told apart from signals by form, not only by colour.
    style=Style(colour="#ffffff", outline="#000000", radius=4, weight=2.5, fill_opacity=1),
    clearance="adressen",
)
