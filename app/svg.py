"""Small SVG drawings for the area overview: the trend per year and a map of the area.

Drawn on the server as plain SVG, so the HTML page needs no chart library and the PDF
embeds the very same drawing (fpdf2 renders SVG).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from app.formats import getal

BAR = "#fd8d3c"
WITHHELD = "#d9d9d9"


@dataclass(frozen=True)
class Shape:
    """One area outline as an SVG path (from PostGIS ``ST_AsSVG``: y already negated)."""

    code: str
    path: str
    main: bool


def trend_chart(
    points: list[tuple[str, float | None]], title: str, width: int = 520, height: int = 220
) -> str:
    """Bars per period with their value above; a withheld value is a grey bar marked as such."""
    left, right, top, bottom = 40, 10, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points if v is not None]
    peak = max([*values, 1.0])
    step = plot_w / max(len(points), 1)
    bar_w = min(60.0, step * 0.6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
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


def area_map(shapes: list[Shape], box: tuple[float, float, float, float], width: int = 320) -> str:
    """The area filled, its neighbours outlined; ``box`` is (minx, miny, maxx, maxy) in RD."""
    minx, miny, maxx, maxy = box
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    height = round(width * h / w)
    stroke = w / width
    # Shift RD metres to a viewBox from 0,0 (fpdf2 misplaces far-off viewBox origins).
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" '
        f'width="{width}" height="{height}" role="img" aria-label="Ligging van het gebied">',
        f'<rect x="0" y="0" width="{w:.0f}" height="{h:.0f}" fill="#f7f7f7"/>',
        f'<g transform="translate({-minx:.0f} {maxy:.0f})">',
    ]
    for shape in sorted(shapes, key=lambda s: s.main):
        if shape.main:
            style = f'fill="{BAR}" fill-opacity="0.8" stroke="#b35806" stroke-width="{2 * stroke:.1f}"'
        else:
            style = f'fill="#ffffff" stroke="#969696" stroke-width="{stroke:.1f}"'
        parts.append(f'<path d="{escape(shape.path)}" {style} fill-rule="evenodd"/>')
    parts.append("</g></svg>")
    return "".join(parts)
