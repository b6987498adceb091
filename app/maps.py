"""The interactive map page: folium builds it, every asset comes from ``/static``.

Polygons and points arrive as vector tiles from the app's own tile routes (so the page stays
a few kilobytes whatever the layer's size, and each tile passes the same access, suppression
and audit as the API); ``static/kaart.js`` styles them from the legend classes below, and
opens tooltips and popups. folium's defaults point at CDNs, which the Content-Security-Policy
forbids: the classes here replace them with copies fetched from their npm packages at install
time into ``static/vendor`` (``docs/web-assets.md``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import folium
from branca.element import Element, Figure, MacroElement
from folium.plugins import VectorGridProtobuf
from folium.template import Template

from app.periods import is_window, period_range
from core.security import Principal
from layers import INDICATOR_LAYERS, REGISTRY, RISICOBRANCHE_LAYERS
from layers.base import Layer, LegendClass
from layers.indicator import STYLE
from layers.risicobranche import STYLE as RISICO_STYLE

VENDOR = "/static/vendor"
TILES = "/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
SOORT_TITEL = {"buurt": "Buurten", "wijk": "Wijken", "bedrijventerrein": "Bedrijventerreinen",
               "buitengebied": "Buitengebied", "pc4": "Postcodegebieden (PC4)",
               "vierkant500": "Vierkanten van 500 m"}  # fmt: skip
#: The layer each area type is drawn from, in the order the map offers them.
#: Drawn for areas whose figure is withheld or missing.
GEEN_WAARDE = "#bdbdbd"


@dataclass(frozen=True)
class Indicator:
    """One choosable indicator: the property it colours by and its classed legend."""

    id: str
    title: str
    property: str
    classes: tuple[LegendClass, ...]
    #: How the figure is shown: count, rate (per 1,000), percent, z-score or yes/no.
    unit: str
    #: The layers it is drawn from: the signal indicators (``INDICATOR_LAYERS``) or the risk
    #: branches (``RISICOBRANCHE_LAYERS``, business parks and buurten only, no period).
    bron: str = "indicator"
    #: Breaks from the data (quantiles, app/klassen.py); False keeps the fixed breaks, for
    #: z-scores whose breaks carry a meaning. The fixed classes give the colour scheme.
    from_data: bool = True

    def layers(self) -> dict[str, Layer]:
        return RISICOBRANCHE_LAYERS if self.bron == "risicobranche" else INDICATOR_LAYERS


def _classes(*rows: tuple[float, str, str]) -> tuple[LegendClass, ...]:
    return tuple(LegendClass(min=m, colour=c, label=label) for m, c, label in rows)


#: Colour-blind-safe ColorBrewer schemes: sequential YlOrRd and PuBu, diverging PuOr.
COUNT_CLASSES = _classes(
    (0, "#ffffb2", "minder dan 10"),
    (10, "#fecc5c", "10 tot 25"),
    (25, "#fd8d3c", "25 tot 50"),
    (50, "#f03b20", "50 tot 100"),
    (100, "#bd0026", "100 of meer"),
)
VACANCY_CLASSES = _classes(
    (0, "#f1eef6", "minder dan 1 %"),
    (1, "#bdc9e1", "1 tot 2 %"),
    (2, "#74a9cf", "2 tot 4 %"),
    (4, "#2b8cbe", "4 tot 8 %"),
    (8, "#045a8d", "8 % of meer"),
)
DEVIATION_CLASSES = _classes(
    (-1e9, "#f7f7f7", "lager of gelijk (z < 1)"),
    (1, "#fee0b6", "iets hoger (z 1 tot 3)"),
    (3, "#f1a340", "duidelijk hoger (z 3 tot 5)"),
    (5, "#b35806", "sterk afwijkend (z 5 of meer)"),
)
TREND_CLASSES = _classes(
    (-1e9, "#542788", "sterke afname (z < -2)"),
    (-2, "#998ec3", "afname (z -2 tot -1)"),
    (-1, "#f7f7f7", "stabiel (z -1 tot 1)"),
    (1, "#f1a340", "toename (z 1 tot 2)"),
    (2, "#b35806", "sterke toename (z 2 of meer)"),
)
BRANCH_COUNT_CLASSES = _classes(
    (0, "#f1eef6", "minder dan 5"),
    (5, "#d7b5d8", "5 tot 10"),
    (10, "#df65b0", "10 tot 25"),
    (25, "#dd1c77", "25 tot 50"),
    (50, "#980043", "50 of meer"),
)
INDICATOREN: dict[str, Indicator] = {
    i.id: i
    for i in (
        Indicator(
            "per_1000_adressen", "Signalen per 1.000 adressen", "per_1000_adressen", STYLE.classes, "rate"
        ),
        Indicator(
            "per_1000_eb", "Signalen per 1.000 adressen, gladgestreken (Empirical Bayes)", "per_1000_eb",
            STYLE.classes, "rate",
        ),
        Indicator("signalen", "Aantal signalen", "signalen", COUNT_CLASSES, "count"),
        Indicator(
            "leegstand_pct", "Leegstand (% van de adressen)", "leegstand_pct", VACANCY_CLASSES, "percent"
        ),
        Indicator(
            "afwijkend", "Afwijking van de rest van de gemeente (z)", "z", DEVIATION_CLASSES, "z",
            from_data=False,
        ),
        # Only for a caller of several municipalities (REGIONAAL; app/routers/kaart.py).
        Indicator(
            "afwijkend_regio", "Afwijking van de rest van de regio (z)", "z_regio", DEVIATION_CLASSES, "z",
            from_data=False,
        ),
        Indicator("trend_z", "Trend t.o.v. vorig jaar (z)", "trend_z", TREND_CLASSES, "z", from_data=False),
        Indicator(
            "risicobranches_aandeel", "Risicobranches: aandeel van de vestigingen (%)", "aandeel_pct",
            RISICO_STYLE.classes, "percent", "risicobranche",
        ),
        Indicator(
            "risicobranches", "Risicobranches: adressen met een vestiging", "vestigingen",
            BRANCH_COUNT_CLASSES, "count", "risicobranche",
        ),
    )
}  # fmt: skip
#: Indicators that compare with the caller's region: offered only to a caller who sees more
#: than one municipality (for one municipality they are empty, migration 0024).
REGIONAAL = frozenset({"afwijkend_regio"})


class _LocalAssets:
    """Mixin data: the locally served Leaflet instead of folium's CDN list (no jQuery, no Bootstrap)."""

    default_js: ClassVar[list[tuple[str, str]]] = [
        ("leaflet", f"{VENDOR}/leaflet/leaflet.js"),
        ("okaart", "/static/kaart.js"),
        ("okaartLabels", "/static/kaart-labels.js"),
        ("okaart_tijd", "/static/kaart-tijd.js"),
    ]
    default_css: ClassVar[list[tuple[str, str]]] = [
        ("leaflet_css", f"{VENDOR}/leaflet/leaflet.css"),
        ("okaart_css", "/static/okaart.css"),
    ]


class LocalMap(_LocalAssets, folium.Map):
    """folium's Map with every script and stylesheet served by the app."""


class LocalVectorGrid(VectorGridProtobuf):
    """folium's VectorGridProtobuf with the locally served Leaflet.VectorGrid."""

    default_js = [  # noqa: RUF012
        ("vectorGrid", f"{VENDOR}/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
        ("vectorGridZoomOffset", "/static/vectorgrid-zoomoffset.js"),
        ("vectorGridPoints", "/static/vectorgrid-punten.js"),
        ("okaartClusters", "/static/kaart-clusters.js"),
    ]
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


class Page(Figure):
    """The HTML document around the map, in Dutch."""

    _template = Template(
        '<!DOCTYPE html>\n<html lang="nl">\n<head>\n<title>{{ this.title }}</title>\n'
        '{{ this.header.render(**kwargs) }}\n</head>\n<body class="kaartpagina">\n'
        "{{ this.html.render(**kwargs) }}\n</body>\n"
        "<script>\n{{ this.script.render(**kwargs) }}\n</script>\n</html>\n"
    )


class Hookup(MacroElement):
    """Hands the map and its tile layers to ``kaart.js`` once folium has created them."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "okaart.start({{ this._parent.get_name() }}, {{ this.config }}, { "
        "{% for name, layer in this.layers.items() %}"
        "{{ name|tojson }}: {{ layer.get_name() }},"
        "{% endfor %}});\n"
        "{% endmacro %}"
    )

    def __init__(self, config: dict[str, Any], layers: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Hookup"
        # Escape "</" so no value can close the inline <script> element.
        self.config = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
        self.layers = layers


@dataclass
class MapRequest:
    """What the page shows: area type, indicator, theme, period and (for points) purpose."""

    soort: str
    indicator: str
    thema: str
    periode: str
    k: int  # suppression threshold, for the wording of the legend and popups
    doel: str | None
    perioden: list[str]
    bounds: list[list[float]] | None
    #: The division of the areas (None: the type's default, CBS for buurten and wijken).
    indeling: str | None = None
    #: The legend classes with their counts (app/klassen.py); None: the indicator's fixed ones.
    classes: tuple[LegendClass, ...] | None = None
    #: How many areas have no figure (withheld, too few addresses).
    zonder_waarde: int | None = None
    #: The caller sees more than one municipality: the popups add the deviation against the
    #: region, the panel offers the switch between municipality and region.
    regio: bool = False


def _style_options(layer: Layer) -> str:
    """VectorGrid options as JavaScript: styles come from kaart.js by layer id.

    Tiles are drawn at 512 pixels, one zoom level below the map's: a quarter of the requests
    (each one audited) for the same detail, as an MVT tile holds 4096 units. So the layer's
    tile zoom range is the map's zoom range shifted by one.
    """
    return (
        "{"
        f'"vectorTileLayerStyles": {{{json.dumps(layer.id)}: okaart.stijl({json.dumps(layer.id)})}}, '
        '"interactive": true, "tileSize": 512, "zoomOffset": -1, '
        f'"minZoom": {layer.minzoom + 1}, "maxNativeZoom": {layer.maxzoom + 1}, '
        '"getFeatureId": function (f) { return f.properties.id; }, '
        '"fetchOptions": {"credentials": "same-origin"}'
        "}"
    )


def _point_style(layer: Layer) -> dict[str, Any]:
    """How ``kaart.js`` draws a point layer and its legend entry (docs/decisions.md: point styles)."""
    style = layer.style
    return {
        "id": layer.id,
        "titel": layer.title,
        "kleur": style.colour,
        "rand": style.outline,
        "straal": style.radius,
        "dikte": style.weight,
        "dekking": style.fill_opacity,
        # The map zoom (tile zoom + 1: 512-pixel tiles) from which points stand alone; below
        # it the tiles carry clusters (app/layer_sql.py mvt_clusters). None: never clustered.
        "enkelVanaf": None if layer.single_from is None else layer.single_from + 1,
    }


def _tiles(layer: Layer, query: dict[str, str]) -> str:
    return TILES.format(layer=layer.id) + ("?" + urlencode(query) if query else "")


def build_page(
    principal: Principal, req: MapRequest, basemap_url: str | None, basemap_attribution: str, panel: str
) -> str:
    """The whole HTML page for one request."""
    indicator = INDICATOREN[req.indicator]
    area = indicator.layers()[req.soort]
    page = Page(title=f"Kaart: {SOORT_TITEL[req.soort].lower()} · Ondermijningskaart")
    m = LocalMap(location=[53.22, 6.57], zoom_start=11, tiles=None, control_scale=True, max_zoom=19)
    page.add_child(m)
    if basemap_url:
        folium.TileLayer(
            tiles=basemap_url, attr=basemap_attribution, name="Achtergrondkaart (BRT)", max_zoom=19,
            max_native_zoom=19, overlay=False, control=True,
        ).add_to(m)  # fmt: skip
    # Risk branches are of today, for every branch together (the layer's default).
    filters = {"periode": req.periode, "thema": req.thema} if indicator.bron == "indicator" else {}
    division = {"indeling": req.indeling} if req.indeling and indicator.bron == "indicator" else {}
    layers: dict[str, Any] = {}
    layers[area.id] = LocalVectorGrid(
        _tiles(area, {**filters, **division}), f"{SOORT_TITEL[req.soort]}: {indicator.title.lower()}",
        _style_options(area),
    ).add_to(m)  # fmt: skip
    if req.soort != "bedrijventerrein":
        parks = REGISTRY["bedrijventerreinen"]
        outline = {"periode": req.periode, "thema": req.thema} if req.periode else {}
        layers[parks.id] = LocalVectorGrid(
            _tiles(parks, outline), "Bedrijventerreinen (omtrek)",
            _style_options(parks),
        ).add_to(m)  # fmt: skip
    points = []
    shown = "signalen" if indicator.bron == "indicator" else "vestigingen"  # points drawn at first
    for layer_id in ("leegstand", "signalen", "vestigingen"):
        layer = REGISTRY[layer_id]
        if not principal.can_see(layer.clearance) or req.doel is None:
            continue
        if layer_id == "signalen" and (not req.periode or is_window(req.periode)):
            continue  # a window's dates are its view class's own: no fixed range for the points
        query = {"doel": req.doel}
        if layer_id == "vestigingen":
            query["actueel"] = "true"
        if layer_id == "signalen":
            query["datetime"] = period_range(req.periode)
            if req.thema != "alle":
                query["thema"] = req.thema
        layers[layer.id] = LocalVectorGrid(
            _tiles(layer, query), f"{layer.title} (punten, vanaf zoomniveau {layer.minzoom + 1})",
            _style_options(layer), show=layer_id == shown,
        ).add_to(m)  # fmt: skip
        points.append(_point_style(layer))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    config = {
        "gebied": area.id,
        "soort": req.soort,
        "indeling": req.indeling,
        "periode": req.periode,
        "thema": req.thema,
        "indicator": {
            **asdict(indicator),
            "classes": [
                c.model_dump() for c in (req.classes if req.classes is not None else indicator.classes)
            ],
        },
        "zonderWaarde": req.zonder_waarde,
        # kaart.js fits the map to these unless the URL names a place (#zoom/lat/lon).
        "grenzen": req.bounds,
        "geenWaarde": GEEN_WAARDE,
        "omtrek": "bedrijventerreinen" if req.soort != "bedrijventerrein" else None,
        "punten": points,
        "onderdrukt": principal.suppressed,
        "k": req.k,
        "risico": indicator.bron == "risicobranche",
        "regio": req.regio,
    }
    Hookup(config, layers).add_to(m)
    page.header.add_child(
        Element('<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'), name="icon"
    )
    page.html.add_child(Element(panel), name="paneel")
    rendered: str = page.render()
    return rendered
