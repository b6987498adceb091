"""The areas themselves: gemeente, wijken, buurten, business parks, buitengebied, postcode
areas and grid squares; each type in its default division unless ``?indeling=`` names one."""

from layers.base import Layer, Property, Style

LAYER = Layer(
    id="gebieden",
    title="Gebieden",
    description="Gemeente, wijken en buurten (CBS), bedrijventerreinen (IBIS), het buitengebied, "
    "postcodegebieden en CBS-vierkanten; per soort de nieuwste editie van de standaardindeling, "
    "een andere indeling met ?indeling= (bijvoorbeeld gemeente).",
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
        Property(name="indeling", type="string", title="Gebiedsindeling (wiens indeling)", filterable=True),
    ),
    tables=("gebied",),
    minzoom=6,
    style=Style(colour="#636363"),
    clearance="aggregaat",
)
