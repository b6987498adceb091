"""The map as the caller sees it, printed: an A4 landscape PDF of one view (issue #15).

A view is what the map keeps in its URL: area type, indicator, theme, period, division, and
the visible box (``bbox``, CRS84, which the map's "Afdrukken" link adds). The areas are drawn
as vectors (:func:`app.svg.area_map`), each in the colour of its class in the map's own legend
(:func:`app.klassen.legend`, breaks from the caller's figures), and the areas in view are
listed with their figure. Every figure comes through :func:`app.layer_sql.visible_rows`, the
SQL of the map's tiles: the caller's municipalities and view class, and for planners the
published (suppressed, rounded) figures only. So the print never shows what the map withholds.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from fpdf.enums import XPos, YPos
from sqlalchemy import Connection, Engine, text

from app import gemeente, klassen, layer_sql
from app.errors import BadRequestError, choose
from app.formats import getal, procent
from app.layer_sql import Selection
from app.maps import GEEN_WAARDE, INDICATOREN, SOORT_TITEL, Indicator
from app.pdf import FAMILY, Document
from app.svg import Shape, area_map
from core.domain import THEMAS
from core.security import Principal
from layers.base import LegendClass

THEMA_TITELS = {"alle": "alle thema's", **{t: f"thema {t.replace('_', ' ')}" for t in THEMAS}}
#: The drawn map on the page, in millimetres (A4 landscape minus margins and the legend).
MAP_W, MAP_H = 200.0, 158.0
#: A box wider than this (degrees) is not a map view of one municipality.
MAX_GRADEN = 3.0


@dataclass(frozen=True)
class View:
    """One view of the map, checked against the allow-lists."""

    soort: str
    indicator: str
    thema: str
    periode: str | None
    indeling: str | None
    bbox: tuple[float, float, float, float] | None


@dataclass
class Print:
    """What the printed view holds: its areas with their figures, legend and names."""

    view: View
    periode: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    classes: tuple[LegendClass, ...] = ()
    zonder_waarde: int = 0
    gemeenten: list[str] = field(default_factory=list)


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in CRS84, as the map's link writes it."""
    if value is None or value == "":
        return None
    parts = value.split(",")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 4 or any(n != n for n in numbers):
        raise BadRequestError("bbox: geef vier getallen, minlon,minlat,maxlon,maxlat (WGS84)")
    x0, y0, x1, y1 = numbers
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise BadRequestError("bbox: de hoeken liggen buiten de wereld of in de verkeerde volgorde")
    if x1 - x0 > MAX_GRADEN or y1 - y0 > MAX_GRADEN:
        raise BadRequestError(f"bbox: een afdruk beslaat hoogstens {MAX_GRADEN:g} graden")
    return (x0, y0, x1, y1)


def check(
    soort: str, indicator: str, thema: str, periode: str | None, indeling: str | None, bbox: str | None
) -> View:
    """The view, every choice from an allow-list (the same ones as ``/kaart``)."""
    choose(soort, SOORT_TITEL, "soort")
    choose(indicator, INDICATOREN, "indicator")
    if soort not in INDICATOREN[indicator].layers():
        raise BadRequestError(f"indicator {indicator!r} bestaat niet voor {SOORT_TITEL[soort].lower()}")
    choose(thema, THEMA_TITELS, "thema")
    return View(soort, indicator, thema, periode or None, indeling or None, parse_bbox(bbox))


def _filters(view: View, indicator: Indicator, periode: str | None) -> dict[str, str]:
    if indicator.bron == "risicobranche":
        return {"risicobranche": "alle"}
    division = {"indeling": view.indeling} if view.indeling else {}
    return {"periode": periode or "", "thema": view.thema, **division}


def _rd_box(conn: Connection, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A CRS84 box in RD New: the bounds of its outline sampled every 0.001 degree."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_Segmentize("
            "ST_MakeEnvelope(:a, :b, :c, :d, 4326), 0.001), 28992) AS e) x"
        ),
        dict(zip("abcd", bbox, strict=True)),
    ).one()
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def _fit(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The box widened in one direction to the printed map's proportions, around its centre."""
    x0, y0, x1, y1 = box
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    target = MAP_W / MAP_H
    if w / h < target:
        w = h * target
    else:
        h = w / target
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def read(conn: Connection, principal: Principal, view: View, k: int) -> Print:
    """The view's areas (clipped to its box, simplified to the print's resolution) with the
    caller's figure of the chosen indicator."""
    indicator = INDICATOREN[view.indicator]
    layer = indicator.layers()[view.soort]
    periode = view.periode
    if indicator.bron != "risicobranche":
        sql, params = layer_sql.periods(layer, principal, k=k)
        found = conn.execute(text(sql), params).all()
        if view.periode is not None and view.periode not in {r.periode for r in found}:
            raise BadRequestError(f"geen cijfers voor periode {view.periode!r}")
        jaren = [r.periode for r in found if r.periode_soort == "jaar"]
        periode = view.periode or (jaren[-1] if jaren else None)
        if periode is None:
            return Print(view=view, periode=None, gemeenten=_namen(conn, principal, []))
    filters = _filters(view, indicator, periode)
    if view.bbox is not None:
        box = _rd_box(conn, view.bbox)
    else:
        sql, params = layer_sql.bounds(layer, principal, Selection(filters=filters), k=k)
        south, west, north, east = conn.execute(text(sql), params).one()
        if south is None:
            return Print(view=view, periode=periode, gemeenten=_namen(conn, principal, []))
        box = _rd_box(conn, (float(west), float(south), float(east), float(north)))
    box = _fit(box)
    tolerance = round((box[2] - box[0]) / 1200, 1)
    envelope = f"ST_MakeEnvelope({box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, {box[3]:.1f}, 28992)"
    simplified = f"ST_SimplifyPreserveTopology(t.{layer.geometry_column}, {tolerance})"
    geometry = f"ST_CollectionExtract(ST_Intersection({simplified}, {envelope}), 3)"
    selection = Selection(filters=filters, bbox=box, bbox_srid=28992)
    rows_sql, params = layer_sql.visible_rows(layer, principal, selection, geometry=geometry, k=k)
    # ``indicator.property`` comes from the allow-list INDICATOREN, never from the request.
    sql = (
        f"SELECT r.code, r.naam, r.gemeentecode, r.{indicator.property} AS waarde,"
        f" ST_AsSVG(r.geom, 0, 0) AS pad FROM ({rows_sql}) r WHERE NOT ST_IsEmpty(r.geom)"
        " ORDER BY r.naam, r.code"
    )
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    codes = [str(r["gemeentecode"]) for r in rows]
    return Print(view=view, periode=periode, rows=rows, box=box, gemeenten=_namen(conn, principal, codes))


def with_legend(engine: Engine, principal: Principal, printed: Print, k: int) -> Print:
    """The map's own legend for the printed view (breaks from the caller's figures of the whole
    municipality, with counts), read after the audited read so that a request holds one
    connection at a time, as ``/kaart`` reads it."""
    if printed.box is None:
        return printed
    view = printed.view
    indicator = INDICATOREN[view.indicator]
    filters = _filters(view, indicator, printed.periode)
    printed.classes, printed.zonder_waarde = klassen.legend(
        engine, principal, indicator, view.soort, filters, k=k
    )
    return printed


def _namen(conn: Connection, principal: Principal, drawn: list[str]) -> list[str]:
    """The municipalities the print speaks for: the caller's, or (all of them) those drawn."""
    codes = drawn if principal.all_gemeenten else list(principal.gemeenten)
    return sorted(gemeente.namen(conn, codes).values())


def colour(value: Any, classes: tuple[LegendClass, ...]) -> str:
    """The class colour of a figure, by the rule the map colours with (``kaart.js``: the
    last class whose ``min`` it reaches); grey without a figure."""
    if value is None or not classes:
        return GEEN_WAARDE
    number = float(value)
    chosen = [c for c in classes if number >= c.min]
    return chosen[-1].colour if chosen else GEEN_WAARDE


def figure(value: Any, unit: str) -> str:
    if value is None:
        return "geen waarde"
    return procent(value) if unit == "percent" else getal(value)


def title(view: View) -> str:
    return f"{INDICATOREN[view.indicator].title}: {SOORT_TITEL[view.soort].lower()}"


def render(printed: Print, principal: Principal, suppression_k: int) -> bytes:
    """One A4 landscape page with the map, its legend and scale bar, the title, the date, the
    caller's name and role and the municipality; then the areas in view with their figure."""
    view = printed.view
    indicator = INDICATOREN[view.indicator]
    made = dt.datetime.now()
    gemeenten = ", ".join(printed.gemeenten) or "-"
    pdf = Document("landscape")
    pdf.made_for = (
        f"Ondermijningskaart · gemeente {gemeenten} · gemaakt {made:%d-%m-%Y %H:%M} "
        f"voor {principal.naam} ({principal.rol})"
    )
    pdf.set_title(title(view))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(12, 10, 12)
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 15)
    pdf.cell(0, 8, title(view), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 9.5)
    periode = "" if indicator.bron == "risicobranche" else f" · periode {printed.periode or '-'}"
    thema = "" if indicator.bron == "risicobranche" else f" · {THEMA_TITELS[view.thema]}"
    pdf.cell(
        0, 5,
        f"Gemeente {gemeenten}{periode}{thema} · gebiedsindeling {view.indeling or 'standaard'} · "
        f"{made:%d-%m-%Y} · {principal.naam} ({principal.rol})",
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    top = pdf.get_y() + 3
    if printed.box is None:
        pdf.set_y(top)
        pdf.multi_cell(0, 6, "Er zijn (nog) geen cijfers voor de gebieden die u mag zien.")
        pdf.alias_nb_pages()
        return bytes(pdf.output())
    shapes = [
        Shape(code=r["code"], path=r["pad"], main=False, fill=colour(r["waarde"], printed.classes))
        for r in printed.rows
    ]
    svg = area_map(shapes, printed.box, width=round(MAP_W * 4), label=title(view))
    pdf.image(io.BytesIO(svg.encode()), x=12, y=top, w=MAP_W, h=MAP_H)
    pdf.rect(12, top, MAP_W, MAP_H)
    _legend(
        pdf, printed, indicator, x=12 + MAP_W + 6, y=top, suppressed=principal.suppressed, k=suppression_k
    )
    _table(pdf, printed, indicator)
    pdf.alias_nb_pages()
    return bytes(pdf.output())


def _legend(
    pdf: Document, printed: Print, indicator: Indicator, *, x: float, y: float, suppressed: bool, k: int
) -> None:
    width = pdf.w - 12 - x
    pdf.set_xy(x, y)
    pdf.set_font(FAMILY, "B", 10)
    pdf.multi_cell(width, 5, "Legenda", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 8.5)
    pdf.multi_cell(width, 4, indicator.title, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(x, pdf.get_y() + 1)
    entries = [(c.colour, f"{c.label} ({c.count or 0})") for c in printed.classes]
    entries.append((GEEN_WAARDE, f"geen waarde ({printed.zonder_waarde})"))
    for fill, label in entries:
        row_y = pdf.get_y()
        red, green, blue = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
        pdf.set_fill_color(red, green, blue)
        pdf.rect(x, row_y + 0.5, 6, 4, style="DF")
        pdf.set_xy(x + 8, row_y)
        pdf.multi_cell(width - 8, 5, label, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(x)
    pdf.set_xy(x, pdf.get_y() + 2)
    notes = [
        "Tussen haakjes: het aantal gebieden in de klasse (hele gemeente). Grijs: geen waarde "
        "(onderdrukt, te weinig adressen of geen cijfer)."
    ]
    if suppressed:
        notes.append(f"Geaggregeerde cijfers: aantallen onder {k} zijn onderdrukt, de rest is afgerond op 5.")
    pdf.set_font(FAMILY, "", 7.5)
    for note in notes:
        pdf.multi_cell(width, 3.6, note, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_xy(x, pdf.get_y() + 1)


def _table(pdf: Document, printed: Print, indicator: Indicator) -> None:
    """The areas in view with their figure, in three columns per page, down each column."""
    columns, line = 3, 4.0
    width = (pdf.w - 24) / columns
    rows = printed.rows
    first = True
    while first or rows:
        first = False
        pdf.add_page()
        pdf.set_font(FAMILY, "B", 12)
        pdf.cell(0, 7, f"Gebieden in beeld: {indicator.title.lower()}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 8)
        top = pdf.get_y() + 1
        per_column = int((pdf.h - 18 - top) / line)
        page, rows = rows[: columns * per_column], rows[columns * per_column :]
        if not page:
            pdf.cell(0, line, "Geen gebieden in beeld.")
        for i, row in enumerate(page):
            column, index = divmod(i, per_column)
            pdf.set_xy(12 + column * width, top + index * line)
            pdf.cell(width * 0.68, line, f"{row['naam']} ({row['code']})"[:52])
            pdf.cell(width * 0.28, line, figure(row["waarde"], indicator.unit), align="R")
