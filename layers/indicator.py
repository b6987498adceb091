"""The shared shape of the indicator layers (one per area type).

Not a layer itself: ``buurten.py``, ``wijken.py``, ``bedrijventerreinen.py``,
``buitengebied.py``, the postcode and grid square layers each build one with their own titles.
A layer holds the areas of every division of its type: each output shows the type's default
division unless the request names one (``?indeling=gemeente``, app/layer_sql.py).
"""

from __future__ import annotations

from core.domain import STANDAARD_INDELING
from core.zicht import MIN_ADRESSEN
from layers.base import Layer, LegendClass, Property, Style

PROPERTIES = (
    Property(name="code", type="string", title="Gebiedscode", filterable=True),
    Property(name="naam", type="string", title="Naam"),
    Property(name="gemeentecode", type="string", title="Gemeente", filterable=True),
    Property(name="indeling", type="string", title="Gebiedsindeling (wiens indeling)", filterable=True),
    Property(name="gebied_jaar", type="integer", title="Gebiedsindeling (jaar)"),
    Property(
        name="periode",
        type="string",
        title="Periode (jaar, kwartaal, laatste28d of laatste365d: tot de nieuwste dag met signalen)",
        filterable=True,
    ),
    Property(name="periode_soort", type="string", title="Jaar, kwartaal of venster", filterable=True),
    Property(name="thema", type="string", title="Thema ('alle' voor alle thema's)", filterable=True),
    Property(name="signalen", type="integer", title="Aantal signalen", suppress="count"),
    Property(name="adressen", type="integer", title="Aantal adressen (BAG)", suppress="count"),
    Property(
        name="per_1000_adressen",
        basis="signalen",
        published="CASE WHEN NOT t.te_weinig_adressen"
        " THEN round(1000.0 * {signalen} / NULLIF({adressen}, 0), 2) END",
        type="number",
        title="Signalen per 1.000 adressen",
        suppress="derived",
    ),
    Property(name="leegstand", type="integer", title="Leegstaande objecten", suppress="count"),
    Property(
        name="leegstand_pct",
        basis="leegstand",
        published="CASE WHEN NOT t.te_weinig_adressen"
        " THEN round(100.0 * {leegstand} / NULLIF({adressen}, 0), 2) END",
        type="number",
        title="Leegstand (% van de adressen)",
        suppress="derived",
    ),
    Property(name="pandsluitingen", type="integer", title="Pandsluitingen", suppress="count"),
    Property(name="bibob", type="integer", title="Bibob-onderzoeken", suppress="count"),
    Property(name="controles", type="integer", title="Bestuurlijke controles", suppress="count"),
    Property(name="meldingen", type="integer", title="Meldingen", suppress="count"),
    Property(
        name="verwacht",
        basis="signalen",
        published="round(t.verwacht / 5.0) * 5",
        type="number",
        title="Verwacht aantal (rest van de gemeente)",
        suppress="derived",
    ),
    Property(
        name="z",
        basis="signalen",
        published="round(({signalen} - {verwacht}) / sqrt(NULLIF({verwacht}, 0)), 2)",
        type="number",
        title="Afwijking (z-score, Poisson)",
        suppress="derived",
    ),
    Property(
        name="afwijkend",
        basis="signalen",
        # Unknown (NULL) where z is: "not deviating" would be a claim nobody computed.
        published="CASE WHEN ({signalen} - {verwacht}) / sqrt(NULLIF({verwacht}, 0)) IS NOT NULL"
        " THEN ({signalen} - {verwacht}) / sqrt(NULLIF({verwacht}, 0)) >= 3 AND {signalen} >= 10 END",
        type="boolean",
        title="Wijkt af van de rest van de gemeente",
        filterable=True,
        suppress="derived",
    ),
    # Against the rest of the region: the municipalities the caller sees, when more than one
    # (migration 0024; NULL for a caller of one). Planners get them from the published counts
    # of the area and of the region's municipalities (laag_indicator_zicht), never from exact ones.
    Property(
        name="verwacht_regio",
        basis="signalen",
        # greatest() skips a NULL: the region's total is tested for being known first.
        published="CASE WHEN NOT t.te_weinig_adressen AND t.regio_signalen_gepubliceerd IS NOT NULL"
        " AND t.regio_adressen_gepubliceerd > {adressen}"
        " THEN round(greatest(t.regio_signalen_gepubliceerd - {signalen}, 0) * {adressen}"
        " / (t.regio_adressen_gepubliceerd - {adressen}), 2) END",
        type="number",
        title="Verwacht aantal (rest van de regio)",
        suppress="derived",
    ),
    Property(
        name="z_regio",
        basis="signalen",
        published="round(({signalen} - {verwacht_regio}) / sqrt(NULLIF({verwacht_regio}, 0)), 2)",
        type="number",
        title="Afwijking t.o.v. de regio (z-score, Poisson)",
        suppress="derived",
    ),
    Property(
        name="afwijkend_regio",
        basis="signalen",
        published="CASE WHEN ({signalen} - {verwacht_regio}) / sqrt(NULLIF({verwacht_regio}, 0)) IS NOT NULL"
        " THEN ({signalen} - {verwacht_regio}) / sqrt(NULLIF({verwacht_regio}, 0)) >= 3"
        " AND {signalen} >= 10 END",
        type="boolean",
        title="Wijkt af van de rest van de regio",
        filterable=True,
        suppress="derived",
    ),
    Property(
        name="trend_z",
        basis="signalen",
        type="number",
        title="Trend t.o.v. vorige periode (z)",
        suppress="derived",
    ),
    Property(
        name="per_1000_eb",
        basis="signalen",
        type="number",
        title="Signalen per 1.000 adressen, gladgestreken naar de gemeente (Empirical Bayes)",
        suppress="derived",
    ),
    Property(
        name="te_weinig_adressen",
        type="boolean",
        title=f"Te weinig adressen (minder dan {MIN_ADRESSEN}): geen cijfer per adres, geen z",
        filterable=True,
    ),
    Property(name="eerste_periode", type="boolean", title="Eerste periode: er is geen vorige periode"),
)

#: Colour-blind-safe sequential classes (ColorBrewer YlOrRd) for signals per 1,000 addresses.
STYLE = Style(
    colour="#bd0026",
    property="per_1000_adressen",
    classes=(
        LegendClass(min=0, colour="#ffffb2", label="minder dan 5"),
        LegendClass(min=5, colour="#fecc5c", label="5 tot 15"),
        LegendClass(min=15, colour="#fd8d3c", label="15 tot 40"),
        LegendClass(min=40, colour="#f03b20", label="40 tot 100"),
        LegendClass(min=100, colour="#bd0026", label="100 of meer"),
    ),
)


def indicator_layer(layer_id: str, soort: str, title: str, description: str, minzoom: int = 8) -> Layer:
    """An indicator layer for one area type."""
    division = (
        f" Gebiedsindeling: {STANDAARD_INDELING[soort]}; een andere indeling met ?indeling= "
        "(bijvoorbeeld gemeente). Elk object noemt zijn indeling en het jaar ervan."
    )
    return Layer(
        id=layer_id,
        title=title,
        description=description + division,
        kind="gebied",
        source="laag_indicator_zicht",
        by_zicht=True,
        where={"gebied_soort": soort},
        geometry_type="MultiPolygon",
        properties=PROPERTIES,
        tables=("gebied", "verblijfsobject", "leegstand", "signaal"),
        minzoom=minzoom,
        maxzoom=18,
        style=STYLE,
        clearance="aggregaat",
        defaults={"periode_soort": "jaar", "thema": "alle"},
    )
