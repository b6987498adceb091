"""Downloads of area figures: CSV and GeoPackage, built from the same rows the map shows.

Rows come from :func:`app.layer_sql.visible_rows` (see :mod:`app.overview`), so a planner's
export carries the same withheld and rounded figures, with the ``onderdrukt`` flag, as the
planner's map; indicator rows hold no points, addresses or signal ids for anyone.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from app.overview import KOLOMMEN
from layers.indicator import PROPERTIES as INDICATOR_PROPERTIES

CSV_TYPE = "text/csv; charset=utf-8"
GPKG_TYPE = "application/geopackage+sqlite3"
#: GeoPackage column types by property type; ``onderdrukt`` is the suppression flag.
DTYPES = {"number": "float64", "boolean": "boolean", "integer": "Int64"}
COLUMN_DTYPES = {p.name: DTYPES[p.type] for p in INDICATOR_PROPERTIES if p.type in DTYPES} | {
    "onderdrukt": "boolean"
}


def columns(suppressed: bool) -> list[str]:
    return [*KOLOMMEN, *(["onderdrukt"] if suppressed else [])]


def csv_bytes(rows: list[dict[str, Any]], suppressed: bool) -> bytes:
    """CSV with a header; a withheld figure is an empty cell with ``onderdrukt`` true;
    booleans ``true``/``false``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(suppressed), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    """A CSV cell: empty for NULL, and a boolean as ``true``/``false``, as in JSON and in
    the features CSV (Python would write ``True``, PostgreSQL's COPY ``t``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def gpkg_bytes(rows: list[dict[str, Any]], suppressed: bool, layer_name: str) -> bytes:
    """A GeoPackage with one layer of polygons in EPSG:28992 (RD New)."""
    names = columns(suppressed)
    data = {name: [row.get(name) for row in rows] for name in names}
    geometry = shapely.from_wkb([bytes(row["wkb"]) for row in rows]) if rows else []
    frame = gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:28992")
    for name in names:
        if name in COLUMN_DTYPES:
            frame[name] = frame[name].astype(COLUMN_DTYPES[name])
    with tempfile.TemporaryDirectory(prefix="okaart-gpkg-") as tmp:
        path = Path(tmp) / f"{layer_name}.gpkg"
        frame.to_file(path, layer=layer_name, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Excel number formats by property type; Excel shows them with the reader's own decimal sign.
XLSX_FORMATS = {"number": "0.00", "integer": "0"}


def xlsx_bytes(rows: list[dict[str, Any]], suppressed: bool, titles: dict[str, str]) -> bytes:
    """The CSV's table as an Excel workbook, for people: typed cells (numbers stay numbers, so
    a Dutch Excel shows decimal commas and sums them, where a comma CSV opens as one column),
    a frozen header, and a second sheet that explains every column in Dutch.
    ``f=csv`` stays the machine format (docs/decisions.md, "Exports for Excel")."""
    from openpyxl import Workbook  # only this download needs it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    names = columns(suppressed)
    types = {p.name: p.type for p in INDICATOR_PROPERTIES}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Cijfers")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for name in names:
            value = row.get(name)
            if value is not None and types.get(name) == "number":
                value = float(value)
            cell = WriteOnlyCell(sheet, value=value)
            if types.get(name) in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[types[name]]
            cells.append(cell)
        sheet.append(cells)
    notes = book.create_sheet("Toelichting")
    notes.append(["Kolom", "Betekenis"])
    for name in names:
        notes.append([name, titles.get(name, "Onderdrukt: een of meer aantallen zijn niet gepubliceerd")])
    notes.append([])
    notes.append(["Lege cel", "Onderdrukt (aantal onder de drempel), te weinig adressen, of geen waarde"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
