"""The gebiedsoverzicht: everything one area's overview shows, read once for HTML, PDF and CSV.

Every figure comes through :func:`app.layer_sql.visible_rows`, the same SQL as the map's
tiles and the features API: municipality scope, suppression for planners (counts below k
withheld, the rest rounded to 5, rates of withheld counts withheld). The three formats only
render what this module returns, so they cannot disclose more than the map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from app import bronstand, gemeente, hotspots, layer_sql
from app.errors import BadRequestError, NotFoundError
from app.formats import getal, procent
from app.layer_sql import Selection
from app.svg import Shape
from app.vergelijking import Regel, compare
from core import risicobranches
from core.domain import THEMAS
from core.security import Principal
from core.zicht import MIN_ADRESSEN
from layers import INDICATOR_LAYERS, REGISTRY, RISICOBRANCHE_LAYERS
from layers.base import Layer
from layers.indicator import PROPERTIES as INDICATOR_PROPERTIES

#: z from which an area is said to lie clearly higher or lower (docs/architecture.md §4).
AFWIJKEND_Z = 3
SOORTEN = ("buurt", "wijk", "bedrijventerrein", "buitengebied", "pc4", "pc6", "vierkant100", "vierkant500")
#: Key figures in the order the overview shows them.
KERNCIJFERS = (
    "signalen", "adressen", "per_1000_adressen", "per_1000_eb", "leegstand", "leegstand_pct",
    "pandsluitingen", "bibob", "controles", "meldingen",
)  # fmt: skip
#: Columns of the exports: the indicator layers' properties (plus ``onderdrukt`` for
#: suppressed callers).
KOLOMMEN = tuple(p.name for p in INDICATOR_PROPERTIES)
BRON_TITELS = {
    "gebieden": "Gebiedsindeling (CBS Wijk- en Buurtkaart; bedrijventerreinen uit IBIS)",
    "adressen": "Adressen (BAG-verblijfsobjecten)",
    "leegstand": "Leegstand",
    "signalen": "Signalen van partners",
    "vestigingen": "Registers van vestigingen en vergunningen (risicobranches)",
}


def oordeel(row: dict[str, Any]) -> str:
    """The deviation in words, high and low alike (``kaart.js`` says the same on the map):
    z = -6 is clearly lower, not "not clearly different"."""
    z = row.get("z")
    if z is None:
        return "onbekend"
    if float(z) >= AFWIJKEND_Z:
        if row.get("afwijkend"):
            return "het gebied ligt duidelijk hoger"
        return "hoger, maar met minder dan 10 signalen te weinig om van een afwijking te spreken"
    if float(z) <= -AFWIJKEND_Z:
        return "het gebied ligt duidelijk lager"
    return "het gebied wijkt niet duidelijk af"


def trend_zin(row: dict[str, Any], suppressed: bool) -> str:
    """The trend in one sentence; the first period says there is no previous one."""
    if row.get("eerste_periode"):
        return "Trend: er is geen vorige periode om mee te vergelijken."
    if row.get("trend_z") is None:
        return "Trend: onderdrukt." if suppressed else "Trend: onbekend."
    return f"Trend ten opzichte van de vorige periode: z = {getal(row.get('trend_z'))}."


def indicator_layer(soort: str) -> Layer:
    """The indicator layer of an area type (``buurt`` -> ``buurten``)."""
    return INDICATOR_LAYERS[soort]


def indicator_rows(
    conn: Connection, principal: Principal, soort: str, filters: dict[str, str], k: int, *, wkb: bool = False
) -> list[dict[str, Any]]:
    """Indicator rows of one area type as this principal may see them, by area and period;
    with ``wkb`` also each area's polygon (RD New, WKB), for the GeoPackage."""
    sql, params = layer_sql.area_figures(indicator_layer(soort), principal, filters, k=k, wkb=wkb)
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


#: Figures an area below the minimum of addresses has none of (migration 0015).
PER_ADRES = frozenset(
    {"per_1000_adressen", "per_1000_eb", "leegstand_pct", "verwacht", "z", "afwijkend", "trend_z",
     "verwacht_regio", "z_regio", "afwijkend_regio"}
)  # fmt: skip
TE_WEINIG = "te weinig adressen"


def format_figure(name: str, value: Any, row: dict[str, Any] | None = None) -> str:
    """A figure as the overview prints it; a rate of an area with too few addresses says so
    instead of "onderdrukt", and the first period's trend says there is no previous one."""
    if row is not None and value is None:
        if row.get("te_weinig_adressen") and name in PER_ADRES:
            return TE_WEINIG
        if name == "trend_z" and row.get("eerste_periode"):
            return "geen vorige periode"
        if name == "afwijkend" and row.get("z") is None and row.get("signalen") is not None:
            return "onbekend"
    return procent(value) if name == "leegstand_pct" else getal(value)


def titles(soort: str) -> dict[str, str]:
    return {p.name: p.title for p in indicator_layer(soort).properties}


@dataclass
class Overview:
    """One area's overview as the caller may see it."""

    gebied: dict[str, Any]
    periode: str | None
    jaren: list[dict[str, Any]]
    huidig: dict[str, Any] | None
    themas: list[dict[str, Any]] | None
    shapes: list[Shape]
    box: tuple[float, float, float, float]
    bronnen: list[dict[str, Any]]
    signaalbronnen: list[str] | None
    suppressed: bool
    k: int
    titels: dict[str, str] = field(default_factory=dict)
    #: Risk-branch rows of the area (``alle`` first, then the mapping's order); None for
    #: area types without a risk-branch layer.
    risicobranches: list[dict[str, Any]] | None = None

    #: For the overview's note (HTML and PDF).
    min_adressen: int = MIN_ADRESSEN
    #: The theme of every figure (``alle``: all themes together).
    thema: str = "alle"
    #: The municipality's name from its own area row ("Groningen", not "GM0014").
    gemeente_naam: str = ""
    #: The locator: the municipality's outline with the area in it, and its box (RD).
    ligging: list[Shape] = field(default_factory=list)
    ligging_box: tuple[float, float, float, float] | None = None
    #: The area beside its municipality and similar areas (app/vergelijking.py), and its note.
    vergelijking: list[Regel] = field(default_factory=list)
    vergelijking_noot: str = ""
    #: Whether the area is a hotspot of its type in the period ("ja", "nee", "geen cijfer");
    #: None for types without hotspots (app/hotspots.py).
    hotspot: str | None = None

    def grafiek_titel(self) -> str:
        return f"Signalen per jaar ({self.thema_titel()})"

    def thema_titel(self) -> str:
        """The theme as a title reads it."""
        return "alle thema's" if self.thema == "alle" else f"thema {self.thema.replace('_', ' ')}"

    def figuur(self, name: str, value: Any, row: dict[str, Any]) -> str:
        """A figure of one row of a table of the overview (see :func:`format_figure`)."""
        return format_figure(name, value, row)

    def kerncijfers(self) -> list[tuple[str, str]]:
        row = self.huidig or {}
        return [(self.titels[n], format_figure(n, row.get(n), row)) for n in KERNCIJFERS]

    def afwijking(self) -> str:
        """The deviation from the rest of the municipality, in one sentence, and the trend."""
        row = self.huidig
        if row is None:
            return "Voor deze periode zijn er geen cijfers."
        if row.get("te_weinig_adressen"):
            return (
                f"Te weinig adressen (minder dan {MIN_ADRESSEN}) voor een cijfer per adres: geen "
                "vergelijking met de rest van de gemeente en geen trend."
            )
        return f"{self._vergelijking(row)}{self._regio(row)} {trend_zin(row, self.suppressed)}"

    @staticmethod
    def _regio(row: dict[str, Any]) -> str:
        """Against the rest of the region, for a caller of several municipalities only (its
        regional figures are NULL otherwise, migration 0024)."""
        if row.get("z_regio") is None:
            return ""
        regional = {"z": row["z_regio"], "afwijkend": row.get("afwijkend_regio")}
        return (
            f" Ten opzichte van de rest van de regio was {getal(row.get('verwacht_regio'))} te verwachten"
            f" (z = {getal(row['z_regio'])}): {oordeel(regional)}."
        )

    def _vergelijking(self, row: dict[str, Any]) -> str:
        if row.get("z") is None:
            if self.suppressed and row.get("signalen") is None:
                return (
                    f"Onderdrukt: minder dan {self.k} signalen, "
                    "dus geen vergelijking met de rest van de gemeente."
                )
            return "Geen vergelijking mogelijk (geen signalen in de rest van de gemeente)."
        return (
            f"{getal(row.get('signalen'))} signalen, waar {getal(row.get('verwacht'))} "
            "te verwachten was bij het "
            f"niveau van de rest van de gemeente (z = {getal(row.get('z'))}): {oordeel(row)}."
        )

    def trend(self) -> list[tuple[str, float | None]]:
        return [(r["periode"], None if r["signalen"] is None else float(r["signalen"])) for r in self.jaren]

    def aantal(self) -> int:
        return len(self.jaren) + len(self.themas or []) + len(self.risicobranches or [])

    def risico_totaal(self) -> dict[str, Any] | None:
        """The ``alle`` row: every risk branch together."""
        return next((r for r in self.risicobranches or [] if r["risicobranche"] == risicobranches.ALLE), None)


def branch_rows(
    conn: Connection, principal: Principal, soort: str, code: str, k: int
) -> list[dict[str, Any]] | None:
    """The risk-branch rows of one area as this principal may see them, ``alle`` first and the
    branches in the mapping's order, each with its title; None when the type has no such layer."""
    layer = RISICOBRANCHE_LAYERS.get(soort)
    if layer is None:
        return None
    sql, params = layer_sql.branch_figures(layer, principal, {"code": code}, k=k)
    indeling = risicobranches.load()
    order = {c: i for i, c in enumerate((risicobranches.ALLE, *indeling.codes))}
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    rows.sort(key=lambda r: order.get(r["risicobranche"], len(order)))
    return [{**r, "titel": indeling.titel(r["risicobranche"])} for r in rows]


def find_area(
    conn: Connection, principal: Principal, code: str, indeling: str | None = None
) -> dict[str, Any]:
    """The newest edition of an area with figures, in ``indeling`` (None: its type's default
    division), if the caller may see it."""
    sql, params = layer_sql.area_by_code(code, SOORTEN, indeling)
    row = conn.execute(text(sql), params).mappings().first()
    if row is None or not principal.sees_gemeente(row["gemeentecode"]):
        raise NotFoundError(f"gebied {code!r} bestaat niet")
    return dict(row)


def _shapes(
    conn: Connection, principal: Principal, area: dict[str, Any], k: int
) -> tuple[list[Shape], tuple[float, float, float, float]]:
    """The area and, around it, the areas of the same type (buurten around business parks and
    the rural area), simplified to what a 320-pixel map can show."""
    sql, params = layer_sql.area_envelope(area["soort"], area["code"], area["indeling"])
    x0, y0, x1, y1 = (float(v) for v in conn.execute(text(sql), params).one())
    pad = max(0.2 * max(x1 - x0, y1 - y0), 300.0)
    box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    tolerance = round(max(box[2] - box[0], box[3] - box[1]) / 600, 1)
    layer = REGISTRY["gebieden"]
    context = "buurt" if area["soort"] in ("bedrijventerrein", "buitengebied") else area["soort"]
    # The neighbours of the same type (for a buurt or wijk this includes the area itself),
    # plus a business park or buitengebied drawn over its buurten.
    division = {"indeling": area["indeling"]}
    own = Selection(filters={"soort": area["soort"], "code": area["code"], **division})
    selections = [(context, Selection(filters={"soort": context}, bbox=box, bbox_srid=28992))]
    if context == area["soort"]:
        selections = [(context, Selection(filters={"soort": context, **division}, bbox=box, bbox_srid=28992))]
    else:
        selections.append((area["soort"], own))
    shapes: list[Shape] = []
    for soort, selection in selections:
        sql, params = layer_sql.area_shapes(layer, principal, selection, box=box, tolerance=tolerance, k=k)
        for code, path in conn.execute(text(sql), params):
            shapes.append(Shape(code=code, path=path, main=soort == area["soort"] and code == area["code"]))
    return shapes, box


def _ligging(
    conn: Connection, principal: Principal, area: dict[str, Any], k: int
) -> tuple[list[Shape], tuple[float, float, float, float] | None]:
    """The locator: the municipality's outline, the area filled in it (simplified for a
    160-pixel drawing); empty without a ``gemeente`` row."""
    box = gemeente.envelope(conn, area["gemeentecode"])
    if box is None:
        return [], None
    pad = 0.04 * max(box[2] - box[0], box[3] - box[1])
    box = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
    tolerance = round(max(box[2] - box[0], box[3] - box[1]) / 300, 1)
    layer = REGISTRY["gebieden"]
    shapes: list[Shape] = []
    for soort, code, indeling, main in (
        ("gemeente", area["gemeentecode"], None, False),
        (area["soort"], area["code"], area["indeling"], True),
    ):
        filters = {"soort": soort, "code": code, **({"indeling": indeling} if indeling else {})}
        sql, params = layer_sql.area_shapes(
            layer, principal, Selection(filters=filters), box=box, tolerance=tolerance, k=k
        )
        shapes.extend(Shape(code=c, path=path, main=main) for c, path in conn.execute(text(sql), params))
    return shapes, box


def _bronnen(
    conn: Connection, principal: Principal, cleared: bool
) -> tuple[list[dict[str, Any]], list[str] | None]:
    sql, params = layer_sql.source_dates()
    runs = conn.execute(text(sql), params).all()
    bronnen = [
        {
            "soort": r.soort,
            "titel": BRON_TITELS.get(r.soort, r.soort),
            "stand": bronstand.stand(conn, principal, r.soort, r.tot),
        }
        for r in runs
    ]
    if not cleared:
        return bronnen, None
    sql, params = layer_sql.signal_sources()
    partners = conn.execute(text(sql), params).scalars()
    return bronnen, list(partners)


def build(
    conn: Connection,
    principal: Principal,
    code: str,
    periode: str | None,
    k: int,
    indeling: str | None = None,
    thema: str = "alle",
    *,
    with_hotspot: bool = True,
) -> Overview:
    """Read one area's overview; ``periode`` picks the year of the key figures (default:
    latest), ``indeling`` the division (default: the area type's own), ``thema`` the theme of
    every figure (the per-theme table only shows with ``alle``). ``with_hotspot``: whether to
    classify the area (Gi* over every area of its type): only the HTML page shows it."""
    if thema != "alle" and thema not in THEMAS:
        raise BadRequestError(f"onbekend thema {thema!r}: kies alle of een van {', '.join(THEMAS)}")
    area = find_area(conn, principal, code, indeling)
    soort = area["soort"]
    division = {"indeling": area["indeling"]}
    yearly = {"code": code, "thema": thema, "periode_soort": "jaar", **division}
    jaren = indicator_rows(conn, principal, soort, yearly, k)
    chosen = periode or (jaren[-1]["periode"] if jaren else None)
    huidig = next((r for r in jaren if r["periode"] == chosen), None)
    if periode is not None and huidig is None:
        # A quarter, or a year without figures: read it directly so any period of the map works.
        found = indicator_rows(
            conn, principal, soort, {"code": code, "thema": thema, "periode": periode, **division}, k
        )
        if not found:
            raise NotFoundError(f"geen cijfers voor periode {periode!r} in gebied {code!r}")
        huidig = found[0]
    cleared = principal.can_see("signalen")
    themas = None
    if cleared and chosen is not None and thema == "alle":
        rows = indicator_rows(conn, principal, soort, {"code": code, "periode": chosen, **division}, k)
        themas = [r for r in rows if r["thema"] != "alle"]
    shapes, box = _shapes(conn, principal, area, k)
    ligging, ligging_box = _ligging(conn, principal, area, k)
    bronnen, partners = _bronnen(conn, principal, cleared)
    naam = gemeente.naam(conn, area["gemeentecode"])
    regels, noot = compare(conn, principal, area, huidig, chosen, thema, naam, k) if chosen else ([], "")
    return Overview(
        gebied=area, periode=chosen, jaren=jaren, huidig=huidig, themas=themas, shapes=shapes, box=box,
        bronnen=bronnen, signaalbronnen=partners, suppressed=principal.suppressed, k=k, titels=titles(soort),
        risicobranches=branch_rows(conn, principal, soort, code, k), thema=thema, gemeente_naam=naam,
        ligging=ligging, ligging_box=ligging_box, vergelijking=regels, vergelijking_noot=noot,
        hotspot=hotspots.area_class(conn, principal, area, chosen, k=k) if with_hotspot else None,
    )  # fmt: skip
