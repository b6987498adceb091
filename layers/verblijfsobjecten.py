"""BAG addresses (verblijfsobjecten): for analysts."""

from layers.base import AREA_PROPERTIES, Layer, Property, Style

LAYER = Layer(
    id="verblijfsobjecten",
    title="Verblijfsobjecten (BAG)",
    description="Adressen uit de BAG met gebruiksdoel, oppervlakte en bouwjaar. "
    "Demo: BAG-kenmerken zijn synthetisch.",
    kind="punten",
    source="laag_verblijfsobject",
    geometry_type="Point",
    properties=(
        Property(name="identificatie", type="string", title="BAG-identificatie", filterable=True),
        Property(name="openbare_ruimte", type="string", title="Straat"),
        Property(name="huisnummer", type="integer", title="Huisnummer", filterable=True),
        Property(name="huisletter", type="string", title="Huisletter"),
        Property(name="huisnummertoevoeging", type="string", title="Toevoeging"),
        Property(name="postcode", type="string", title="Postcode", filterable=True),
        Property(name="woonplaats", type="string", title="Woonplaats", filterable=True),
        Property(name="gebruiksdoel", type="string", title="Gebruiksdoel"),
        Property(name="oppervlakte", type="integer", title="Oppervlakte (m²)"),
        Property(name="bouwjaar", type="integer", title="Bouwjaar"),
        Property(name="status", type="string", title="Status"),
        *AREA_PROPERTIES,
    ),
    tables=("verblijfsobject", "gebied"),
    minzoom=14,
    style=Style(colour="#1b9e77"),
    clearance="adressen",
)
