"""Register entries (vestigingen and vergunningen) as points: for analysts.

Establishments with their risk branch are no suspects, but a list of them next to signals
is sensitive enough to need the address clearance; entries are scoped by their partner's
data class like signals.
"""

from layers.base import AREA_PROPERTIES, Layer, Property, Style

LAYER = Layer(
    id="vestigingen",
    title="Vestigingen en vergunningen",
    description="Vestigingen (KvK-achtige registers, met SBI-codes) en vergunningen (drank en "
    "horeca, exploitatie, gedoogbeschikkingen) met hun risicobranche en geldigheid.",
    kind="punten",
    source="laag_vestiging",
    geometry_type="Point",
    properties=(
        Property(name="bron", type="string", title="Bron", filterable=True),
        Property(name="soort", type="string", title="Vestiging of vergunning", filterable=True),
        Property(name="naam", type="string", title="Naam (handelsnaam)"),
        Property(name="sbi", type="string", title="SBI-codes (hoofdactiviteit eerst)"),
        Property(name="vergunning", type="string", title="Soort vergunning"),
        Property(name="risicobranche", type="string", title="Risicobranche", filterable=True),
        Property(name="geldig_van", type="date", title="Geldig vanaf"),
        Property(name="geldig_tot", type="date", title="Geldig tot en met"),
        Property(name="actueel", type="boolean", title="Geldt vandaag", filterable=True),
        Property(name="dataklasse", type="string", title="Dataklasse", filterable=True),
        *AREA_PROPERTIES,
    ),
    tables=("vestiging", "gebied"),
    minzoom=12,
    # Okabe-Ito bluish green, small, with a black rim.
    style=Style(colour="#009e73", outline="#000000", radius=3.5, weight=1),
    clearance="adressen",
    by_convenant=True,
    by_dataklasse=True,
)
