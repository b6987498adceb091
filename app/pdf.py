"""The gebiedsoverzicht as a printable A4 PDF (fpdf2, pure Python).

It renders an :class:`app.overview.Overview`, the same object the HTML page shows, and
embeds the same SVG chart and maps. Every font is embedded (a council memo is printed and
archived elsewhere, where Helvetica may be another font): DejaVu Sans from the system
(Debian ``fonts-dejavu-core``, scripts/system-deps.sh), registered under the family name the
SVG drawings ask for, so their text is drawn with it too.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.formats import getal, procent
from app.overview import Overview
from app.svg import area_map, trend_chart

#: The family every PDF writes in; app/svg.py names it first in its ``font-family``.
FAMILY = "DejaVu Sans"
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


def font_file(style: str) -> Path:
    """The TTF of one style, or one line that says how to get it."""
    name = FONT_FILES[style]
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise RuntimeError(f"lettertype {name} ontbreekt: installeer fonts-dejavu-core (scripts/system-deps.sh)")


class Document(FPDF):
    """A4 with embedded fonts and a footer that says what this is and when it was made."""

    made_for = ""

    def __init__(self, orientation: str = "portrait") -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        for style in FONT_FILES:
            self.add_font(FAMILY, style, str(font_file(style)))
        self.set_author("Ondermijningskaart")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.made_for} · pagina {self.page_no()}/{{nb}}", align="C")


def render(overview: Overview, made_for: str) -> bytes:
    area = overview.gebied
    pdf = Document("portrait")
    pdf.made_for = made_for
    pdf.set_title(f"Gebiedsoverzicht {area['naam']}")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(16, 14, 16)
    pdf.add_page()

    def heading(text: str, size: float = 12.5) -> None:
        pdf.ln(2)
        pdf.set_font(FAMILY, "B", size)
        pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 10)

    def paragraph(text: str, size: float = 10) -> None:
        pdf.set_font(FAMILY, "", size)
        pdf.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def figures(columns: Sequence[tuple[str, float]], rows: Iterable[Sequence[str]]) -> None:
        """A table with a heading row: the first column left, the figures right-aligned."""
        widths = tuple(width for _, width in columns)
        aligns = ("LEFT", *("RIGHT",) * (len(columns) - 1))
        with pdf.table(
            col_widths=widths, width=sum(widths), align="LEFT", text_align=aligns, line_height=5.5
        ) as t:
            header = t.row()
            for title, _ in columns:
                header.cell(title)
            for cells in rows:
                row = t.row()
                for cell in cells:
                    row.cell(cell)

    pdf.set_font(FAMILY, "B", 18)
    pdf.multi_cell(0, 9, f"Gebiedsoverzicht {area['naam']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    paragraph(
        f"{area['soort'].capitalize()} {area['code']} · gemeente {overview.gemeente_naam} · "
        f"periode {overview.periode or '-'} · {overview.thema_titel()} · gebiedsindeling {area['jaar']}",
        9.5,
    )
    if overview.suppressed:
        paragraph(
            f"Geaggregeerde cijfers: aantallen onder {overview.k} zijn onderdrukt, de rest is afgerond op 5.",
            9,
        )

    top = pdf.get_y() + 2
    heading(f"Kerncijfers {overview.periode or ''}")
    pdf.set_font(FAMILY, "", 9)  # DejaVu runs wider than Helvetica: 9 pt keeps titles on a line
    with pdf.table(
        col_widths=(56, 38),  # room for "te weinig adressen" on one line
        width=94,
        align="LEFT",
        text_align=("LEFT", "RIGHT"),
        first_row_as_headings=False,
        line_height=5.5,
    ) as table:
        for title, value in overview.kerncijfers():
            row = table.row()
            row.cell(title)
            row.cell(value)
    below_table = pdf.get_y()
    svg = area_map(overview.shapes, overview.box, width=320)
    pdf.image(io.BytesIO(svg.encode()), x=112, y=top + 2, w=82)
    bottom = top + 2 + 82 * _aspect(overview.box)
    if overview.ligging_box is not None:
        # The locator under the map: where the area lies within its municipality.
        locator = area_map(overview.ligging, overview.ligging_box, width=160, label=LIGGING)
        pdf.image(io.BytesIO(locator.encode()), x=112, y=bottom + 2, w=40)
        pdf.set_xy(154, bottom + 2)
        pdf.set_font(FAMILY, "", 8)
        pdf.multi_cell(40, 4, f"{LIGGING} {overview.gemeente_naam}.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        bottom += 2 + 40 * _aspect(overview.ligging_box)
    pdf.set_y(max(below_table, bottom) + 2)

    heading("Afwijking van de rest van de gemeente")
    paragraph(overview.afwijking())

    if overview.vergelijking:
        heading(f"Vergelijking ({overview.periode}, {overview.thema_titel()})")
        pdf.set_font(FAMILY, "", 9)
        figures(
            (("", 98), ("Signalen", 22), ("Adressen", 22), ("Per 1.000 adressen", 34)),
            (
                (
                    regel.naam + (f" ({regel.noot})" if regel.noot else ""),
                    getal(regel.signalen),
                    getal(regel.adressen),
                    getal(regel.per_1000_adressen),
                )
                for regel in overview.vergelijking
            ),
        )
        paragraph(overview.vergelijking_noot, 8.5)

    if pdf.get_y() + 85 > pdf.h - 16:  # the heading and the chart together
        pdf.add_page()
    heading("Signalen per jaar")
    chart = trend_chart(overview.trend(), overview.grafiek_titel())
    y = pdf.get_y()
    pdf.image(io.BytesIO(chart.encode()), x=16, y=y, w=150)
    pdf.set_y(y + 150 * 220 / 520 + 2)

    if overview.themas is not None:
        heading(f"Signalen per thema ({overview.periode})")
        figures(
            (("Thema", 60), ("Signalen", 28), ("Per 1.000 adressen", 44)),
            (
                (
                    str(r["thema"]).replace("_", " "),
                    getal(r["signalen"]),
                    overview.figuur("per_1000_adressen", r["per_1000_adressen"], r),
                )
                for r in overview.themas
            ),
        )

    if overview.risicobranches is not None:
        if pdf.get_y() + 30 > pdf.h - 16:  # the heading, the header row and a first row together
            pdf.add_page()
        heading("Risicobranches (registers die vandaag gelden)")
        figures(
            (("Risicobranche", 70), ("Adressen", 30), ("Per hectare", 30), ("Aandeel", 30)),
            (
                (str(r["titel"]), getal(r["vestigingen"]), getal(r["per_hectare"]), procent(r["aandeel_pct"]))
                for r in overview.risicobranches
            ),
        )

    heading("Waar de cijfers op berusten")
    for bron in overview.bronnen:
        paragraph(f"- {bron['titel']}: stand {bron['stand']}", 9.5)
    if overview.signaalbronnen:
        paragraph("Partners met signalen: " + ", ".join(overview.signaalbronnen), 9.5)
    paragraph(
        "Verwacht aantal: het aantal signalen bij hetzelfde niveau per adres als in de rest van de gemeente; "
        "z is de afwijking daarvan (Poisson): vanaf 3 duidelijk hoger, vanaf -3 duidelijk lager. "
        "Gladgestreken: het cijfer per adres, naar het niveau van de gemeente getrokken naarmate het "
        f"gebied kleiner is (Empirical Bayes). Gebieden met minder dan {overview.min_adressen} adressen "
        "krijgen geen cijfer per adres en geen z. Demo-omgeving: signalen en leegstand zijn synthetisch.",
        8.5,
    )
    pdf.alias_nb_pages()
    return bytes(pdf.output())


def _aspect(box: tuple[float, float, float, float]) -> float:
    return max(box[3] - box[1], 1.0) / max(box[2] - box[0], 1.0)


def made_for(naam: str, rol: str) -> str:
    return f"Ondermijningskaart · gemaakt {dt.datetime.now():%d-%m-%Y %H:%M} voor {naam} ({rol})"


LIGGING = "Ligging van het gebied in de gemeente"
