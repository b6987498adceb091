"""The areas themselves: gemeente, wijken, buurten, business parks, buitengebied."""

from layers.base import Layer, Property, Style

LAYER = Layer(
    id="gebieden",
    title="Gebieden",
    description="Gemeente, wijken en buurten (CBS), bedrijventerreinen en het buitengebied; "
    "de nieuwste gebiedsindeling.",
    kind="gebied",
    source="laag_gebied",
    geometry_type="MultiPolygon",
    properties=(
        Property(name="soort", type="string", title="Soort gebied", filterable=True),
        Property(name="code", type="string", title="Code", filterable=True),
        Property(name="naam", type="string", title="Naam"),
        Property(name="gemeentecode", type="string", title="Gemeente", filterable=True),
        Property(name="wijkcode", type="string", title="Wijk", filterable=True),
        Property(name="jaar", type="integer", title="Gebiedsindeling (jaar)"),
    ),
    tables=("gebied",),
    minzoom=6,
    style=Style(colour="#636363"),
    clearance="aggregaat",
)
