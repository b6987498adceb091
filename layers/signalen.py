"""Partner signals as points: for partners (their covenants) and analysts only."""

from layers.base import AREA_PROPERTIES, Layer, Property, Style

LAYER = Layer(
    id="signalen",
    title="Signalen",
    description="Signalen van partners als punten. Vertrouwelijk: alleen voor wie daartoe is "
    "gemachtigd, met doelbinding. Demo: synthetisch.",
    kind="punten",
    source="laag_signaal",
    geometry_type="Point",
    properties=(
        Property(name="bron", type="string", title="Bron", filterable=True),
        Property(name="thema", type="string", title="Thema", filterable=True),
        Property(name="soort", type="string", title="Soort signaal", filterable=True),
        Property(name="datum", type="date", title="Datum"),
        Property(name="einddatum", type="date", title="Einddatum"),
        Property(name="dataklasse", type="string", title="Dataklasse", filterable=True),
        Property(name="convenant", type="string", title="Convenant", filterable=True),
        # Only for those cleared for addresses (an analyst); a partner gets no address.
        Property(name="adres", type="string", title="Adres", clearance="adressen"),
        *AREA_PROPERTIES,
    ),
    datetime_column="datum",
    tables=("signaal", "gebied"),
    minzoom=12,
    # Tile zoom 15 is map zoom 16 on the map page (512-pixel tiles): from there dots are
    # apart enough to click; below it the tiles carry clusters with their counts.
    single_from=15,
    # Okabe-Ito blue, a filled dot with a white rim: it stands out on the yellow-to-red choropleth.
    style=Style(colour="#0072b2", outline="#ffffff", radius=5, weight=1.5),
    clearance="signalen",
    by_convenant=True,
    by_dataklasse=True,
)
