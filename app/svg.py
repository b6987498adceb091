"""Small SVG drawings for the area overview and the printed map: the trend per year, a map of
the area, a locator of the area within its municipality, and a scale bar.

Drawn on the server as plain SVG, so the HTML page needs no chart library and the PDF
embeds the very same drawing (fpdf2 renders SVG). Text names the font the PDF embeds
(:data:`FONT`) first, so fpdf2 draws it with that font and never with an unembedded core font.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from app.formats import getal

BAR = "#fd8d3c"
WITHHELD = "#d9d9d9"
#: The family app/pdf.py registers (DejaVu Sans), then what a browser has instead.
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
#: Chart geometry: the title's baseline and the room above the plot for the tallest bar's
#: value, so that value never touches the title (issue #15).
TITLE_Y = 16
PLOT_TOP = 48


@dataclass(frozen=True)
class Shape:
    """One area outline as an SVG path (from PostGIS ``ST_AsSVG``: y already negated)."""

    code: str
    path: str
    main: bool
    #: A class colour (the printed map); None: the overview's own style (area or neighbour).
    fill: str | None = None


def trend_chart(
    points: list[tuple[str, float | None]], title: str, width: int = 520, height: int = 220
) -> str:
    """Bars per period with their value above; a withheld value is a grey bar marked as such."""
    left, right, top, bottom = 40, 10, PLOT_TOP, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points if v is not None]
    peak = max([*values, 1.0])
    step = plot_w / max(len(points), 1)
    bar_w = min(60.0, step * 0.6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}">',
        f'<text x="{left}" y="{TITLE_Y}" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555" '
        'stroke-width="1"/>',
    ]
    for i, (label, value) in enumerate(points):
        x = left + i * step + (step - bar_w) / 2
        centre = x + bar_w / 2
        if value is None:
            h = plot_h * 0.25
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{WITHHELD}" stroke="#999" stroke-dasharray="3 2"/>'
            )
            caption, y_caption = "onderdrukt", top + plot_h - h - 4
        else:
            h = plot_h * float(value) / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{BAR}" stroke="#b35806" stroke-width="0.5"/>'
            )
            caption, y_caption = getal(value), top + plot_h - h - 4
        parts.append(_label(centre, y_caption, caption))
        parts.append(_label(centre, top + plot_h + 16, label))
    parts.append("</svg>")
    return "".join(parts)


def _label(x: float, y: float, text: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="middle">{escape(text)}</text>'


def area_map(
    shapes: list[Shape],
    box: tuple[float, float, float, float],
    width: int = 320,
    *,
    label: str = "Ligging van het gebied",
) -> str:
    """The area filled, its neighbours outlined (or each shape in its own ``fill``), with a
    scale bar; ``box`` is (minx, miny, maxx, maxy) in RD."""
    minx, miny, maxx, maxy = box
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    height = round(width * h / w)
    stroke = w / width
    # Shift RD metres to a viewBox from 0,0 (fpdf2 misplaces far-off viewBox origins).
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" font-family="{FONT}">',
        f'<rect x="0" y="0" width="{w:.0f}" height="{h:.0f}" fill="#f7f7f7"/>',
        f'<g transform="translate({-minx:.0f} {maxy:.0f})">',
    ]
    for shape in sorted(shapes, key=lambda s: s.main):
        if shape.fill is not None:
            style = f'fill="{shape.fill}" stroke="#636363" stroke-width="{0.6 * stroke:.1f}"'
        elif shape.main:
            style = f'fill="{BAR}" fill-opacity="0.8" stroke="#b35806" stroke-width="{2 * stroke:.1f}"'
        else:
            style = f'fill="#ffffff" stroke="#969696" stroke-width="{stroke:.1f}"'
        parts.append(f'<path d="{escape(shape.path)}" {style} fill-rule="evenodd"/>')
    parts.append("</g>")
    parts.append(scale_bar(w, h, width))
    parts.append("</svg>")
    return "".join(parts)


#: Lengths a scale bar may take, in metres: round numbers a reader can add up.
SCALE_STEPS = (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000)


def scale_length(map_width_m: float) -> int:
    """The longest round length that fits in a quarter of the map's width."""
    fitting = [s for s in SCALE_STEPS if s <= map_width_m / 4]
    return fitting[-1] if fitting else SCALE_STEPS[0]


def scale_text(metres: int) -> str:
    return f"{metres / 1000:g} km".replace(".", ",") if metres >= 1000 else f"{metres} m"


def scale_bar(w: float, h: float, width_px: int) -> str:
    """A scale bar in the lower left corner of a map whose viewBox is ``w`` by ``h`` metres
    (RD New is in metres, so the bar is exact wherever the map lies) drawn ``width_px`` wide."""
    px = w / width_px  # metres per drawn pixel
    length = scale_length(w)
    x, y = 8 * px, h - 8 * px
    bar_h = 4 * px
    half = f'y="{y - bar_h:.0f}" width="{length / 2:.0f}" height="{bar_h:.0f}"'
    return (
        f'<g class="schaal"><rect x="{x - 3 * px:.0f}" y="{y - 20 * px:.0f}" width="{length + 6 * px:.0f}" '
        f'height="{22 * px:.0f}" fill="#ffffff" fill-opacity="0.8"/>'
        f'<rect x="{x:.0f}" {half} fill="#252525"/>'
        f'<rect x="{x + length / 2:.0f}" {half} fill="#ffffff" stroke="#252525" stroke-width="{px:.1f}"/>'
        f'<text x="{x:.0f}" y="{y - bar_h - 3 * px:.0f}" font-size="{10 * px:.0f}">'
        f"{scale_text(length)}</text></g>"
    )
