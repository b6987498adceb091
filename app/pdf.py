"""The gebiedsoverzicht as a printable A4 PDF (fpdf2, pure Python).

It renders an :class:`app.overview.Overview`, the same object the HTML page shows, and
embeds the same SVG chart and map. The PDF core fonts (Helvetica) cover Windows-1252, which
holds every character of Dutch; anything else is replaced rather than failing the download.
"""

from __future__ import annotations

import datetime as dt
import io

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.formats import getal, procent
from app.overview import Overview
from app.svg import area_map, trend_chart

ENCODING = "windows-1252"


def _t(value: str) -> str:
    return value.encode(ENCODING, errors="replace").decode(ENCODING)


class _Document(FPDF):
    """A4 portrait with a footer that says what this is and when it was made."""

    made_for = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, _t(f"{self.made_for} · pagina {self.page_no()}/{{nb}}"), align="C")


def render(overview: Overview, made_for: str) -> bytes:
    area = overview.gebied
    pdf = _Document(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.made_for = made_for
    pdf.set_title(_t(f"Gebiedsoverzicht {area['naam']}"))
    pdf.set_author("Ondermijningskaart")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(16, 14, 16)
    pdf.add_page()

    def heading(text: str, size: float = 12.5) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", size)
        pdf.cell(0, 7, _t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "", 10)

    def paragraph(text: str, size: float = 10) -> None:
        pdf.set_font("Helvetica", "", size)
        pdf.multi_cell(0, 5, _t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, _t(f"Gebiedsoverzicht {area['naam']}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    paragraph(
        f"{area['soort'].capitalize()} {area['code']} · gemeente {area['gemeentecode']} · "
        f"periode {overview.periode or '-'} · gebiedsindeling {area['jaar']}",
        9.5,
    )
    if overview.suppressed:
        paragraph(
            f"Geaggregeerde cijfers: aantallen onder {overview.k} zijn onderdrukt, de rest is afgerond op 5.",
            9,
        )

    top = pdf.get_y() + 2
    heading(f"Kerncijfers {overview.periode or ''}")
    pdf.set_font("Helvetica", "", 10)
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
            row.cell(_t(title))
            row.cell(_t(value))
    below_table = pdf.get_y()
    svg = area_map(overview.shapes, overview.box, width=320)
    pdf.image(io.BytesIO(svg.encode()), x=112, y=top + 2, w=82)
    pdf.set_y(max(below_table, top + 2 + 82 * _aspect(overview.box)) + 2)

    heading("Afwijking van de rest van de gemeente")
    paragraph(overview.afwijking())

    heading("Signalen per jaar")
    chart = trend_chart(overview.trend(), "Signalen per jaar (alle thema's)")
    if pdf.get_y() + 75 > pdf.h - 16:
        pdf.add_page()
    y = pdf.get_y()
    pdf.image(io.BytesIO(chart.encode()), x=16, y=y, w=150)
    pdf.set_y(y + 150 * 220 / 520 + 2)

    if overview.themas is not None:
        heading(f"Signalen per thema ({overview.periode})")
        with pdf.table(
            col_widths=(60, 30, 40),
            width=130,
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT"),
            line_height=5.5,
        ) as table:
            header = table.row()
            for text in ("Thema", "Signalen", "Per 1.000 adressen"):
                header.cell(text)
            for r in overview.themas:
                row = table.row()
                row.cell(_t(str(r["thema"]).replace("_", " ")))
                row.cell(getal(r["signalen"]))
                row.cell(_t(overview.figuur("per_1000_adressen", r["per_1000_adressen"], r)))

    if overview.risicobranches is not None:
        if pdf.get_y() + 30 > pdf.h - 16:  # the heading, the header row and a first row together
            pdf.add_page()
        heading("Risicobranches (registers die vandaag gelden)")
        with pdf.table(
            col_widths=(70, 30, 30, 30),
            width=160,
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            line_height=5.5,
        ) as table:
            header = table.row()
            for text in ("Risicobranche", "Adressen", "Per hectare", "Aandeel"):
                header.cell(text)
            for r in overview.risicobranches:
                row = table.row()
                row.cell(_t(str(r["titel"])))
                row.cell(getal(r["vestigingen"]))
                row.cell(getal(r["per_hectare"]))
                row.cell(procent(r["aandeel_pct"]))

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
