"""Vacant objects (leegstand) as points: for analysts."""

from layers.base import Layer, Property, Style

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
        Property(name="gemeentecode", type="string", title="Gemeente", filterable=True),
        Property(name="buurtcode", type="string", title="Buurt", filterable=True),
        Property(name="wijkcode", type="string", title="Wijk", filterable=True),
        Property(name="bedrijventerreincode", type="string", title="Bedrijventerrein", filterable=True),
        Property(name="buitengebied", type="boolean", title="In het buitengebied", filterable=True),
    ),
    datetime_column="sinds",
    tables=("leegstand", "gebied"),
    minzoom=12,
    style=Style(colour="#7570b3"),
    clearance="adressen",
)
