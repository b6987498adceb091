"""Read any delivered file as a stream of batches: GeoPackage, GeoJSON, Shapefile (also
zipped), CSV and XLSX.

Every reader yields :class:`Batch` objects of bounded size, so memory stays flat however
large the file is. Attribute values come as strings (or None): what a partner wrote is
what we validate, nothing is coerced silently on the way in. Vector formats are read
through pyogrio's Arrow stream; CSV through pandas in chunks after sniffing encoding and
delimiter; XLSX through openpyxl's read-only mode.

Whatever a file holds, reading it either yields batches or raises :class:`IngestError`
with one line naming the file, what is wrong and what to do: an empty file, a binary file
named ``.csv``, a truncated GeoPackage or zip are the operator's problem to fix, not a
traceback. Only the file's own trouble is translated here; errors of the code that consumes
the batches pass through unchanged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import pyogrio.raw
import shapely

from ingest.errors import IngestError
from ingest.normalise import TEXT

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb", ".gml"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}

#: Column names that carry coordinates in tabular files, and the CRS they imply.
X_RD = ("x", "x_rd", "rd_x", "xcoord", "x_coord", "x-coordinaat", "xcoordinaat")
Y_RD = ("y", "y_rd", "rd_y", "ycoord", "y_coord", "y-coordinaat", "ycoordinaat")
LON = ("lon", "lng", "long", "longitude", "lengtegraad")
LAT = ("lat", "latitude", "breedtegraad")


@dataclass
class Batch:
    """A slice of rows: attributes, geometry (shapely, or None per row) and row numbers."""

    frame: pd.DataFrame
    geometry: np.ndarray[Any, np.dtype[np.object_]]
    rows: np.ndarray[Any, np.dtype[np.int64]]
    crs: int | None


@dataclass
class SourceFile:
    """What we learnt about a file before reading it."""

    path: Path
    fmt: str
    layers: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","


#: More columns than any register or partner export has (a GeoPackage table stops at 2,000):
#: a header this wide is a wrong delimiter or not a header, and pandas would take minutes.
MAX_COLUMNS = 2_000
#: How a file starts when it is not text: the format it really is, for the fix.
MAGIC = (
    (b"PK\x03\x04", "een zip-archief (XLSX of gezipte Shapefile?)"),
    (b"SQLite format 3\x00", "een GeoPackage/SQLite-bestand"),
    (b"%PDF", "een PDF"),
    (b"\xd0\xcf\x11\xe0", "een oud Excel-bestand (.xls)"),
)
#: What to do about a file we cannot read, said once.
FIX_FORMAT = "sla het op als CSV (UTF-8), XLSX, GeoPackage, GeoJSON of gezipte Shapefile en probeer opnieuw"
FIX_REDELIVER = "vraag de leverancier om een nieuwe, volledige export"


def unreadable(path: Path, problem: str, fix: str = FIX_REDELIVER) -> IngestError:
    """The one-line error for a file that cannot be read as a whole."""
    return IngestError(f"{path.name}: {problem}", fix=fix)


def _reason(exc: BaseException) -> str:
    """A short, single-line description of a library's complaint."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def sniff(path: Path) -> SourceFile:
    """Identify the format (and for CSV the encoding and delimiter)."""
    if not path.exists():
        raise IngestError(f"bestand niet gevonden: {path}", fix="controleer de naam en de map")
    if not path.is_file():
        raise unreadable(path, "is geen bestand maar een map", "geef het bestand zelf op")
    if path.stat().st_size == 0:
        raise unreadable(path, "is leeg (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        encoding = _csv_encoding(path)
        return SourceFile(path, "csv", ["csv"], encoding, _csv_delimiter(path, encoding))
    if suffix in XLSX_SUFFIXES:
        return SourceFile(path, "xlsx", _xlsx_sheets(path))
    if suffix in VECTOR_SUFFIXES:
        if suffix == ".zip" and not zipfile.is_zipfile(path):
            raise unreadable(path, "is geen geldig zip-archief (afgebroken of beschadigd)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        except Exception as exc:
            raise unreadable(path, f"is geen leesbaar GIS-bestand ({_reason(exc)})") from exc
        return SourceFile(path, "vector", layers)
    raise IngestError(
        f"{path.name}: onbekend bestandsformaat {suffix!r}",
        fix="gebruik GeoPackage, GeoJSON, Shapefile (.zip), CSV of XLSX",
    )


def _xlsx_sheets(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = load_workbook(path, read_only=True)
            try:
                return list(wb.sheetnames)
            finally:
                wb.close()
    except Exception as exc:
        raise unreadable(path, f"is geen leesbaar Excel-bestand ({_reason(exc)})", FIX_FORMAT) from exc


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, UTF-16/32 when it
    says so (Excel's "Unicode text"), else cp1252 when that decodes it. A NUL anywhere makes
    it binary: no text format partners use has one, and the database refuses it in text.
    """
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            if not _decodes(path, encoding):
                raise unreadable(path, f"begint als {encoding.upper()} maar is dat niet", FIX_FORMAT)
            return encoding
    if b"\x00" in head:
        raise _binary(path, head)
    utf8_bom = head.startswith(codecs.BOM_UTF8)
    for encoding in ("utf-8", "cp1252"):
        if _decodes(path, encoding):
            return "utf-8-sig" if utf8_bom and encoding == "utf-8" else encoding
    raise unreadable(path, "is geen tekst in UTF-8 of Windows-1252", "sla het bestand op als CSV (UTF-8)")


def _binary(path: Path, head: bytes) -> IngestError:
    kind = next((label for magic, label in MAGIC if head.startswith(magic)), "binaire gegevens")
    return unreadable(path, f"is geen tekstbestand maar {kind}", FIX_FORMAT)


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes in ``encoding``; a NUL character is an error."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if "\x00" in decoder.decode(chunk):
                    raise _binary(path, b"")
            if "\x00" in decoder.decode(b"", final=True):
                raise _binary(path, b"")
    except UnicodeDecodeError:
        return False
    return True


def _csv_delimiter(path: Path, encoding: str) -> str:
    """The delimiter that occurs most in the header line."""
    with path.open(encoding=encoding, newline="") as fh:
        header = fh.readline(1 << 20)
    if not header.strip():
        raise unreadable(path, "heeft geen kolomkoppen op de eerste regel", "zet de kolomnamen op regel 1")
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] >= MAX_COLUMNS:
        raise unreadable(
            path,
            f"heeft {counts[best] + 1:,} kolommen, meer dan de {MAX_COLUMNS:,} die een levering kan hebben",
            "controleer het scheidingsteken en of de eerste regel de kolomkoppen zijn",
        )
    return best if counts[best] else ","


def choose_layers(source: SourceFile, layer: str | None) -> list[str]:
    """The layers to read: the one asked for, or all of them."""
    if layer is None:
        return source.layers
    if layer not in source.layers:
        raise IngestError(
            f"laag {layer!r} bestaat niet in {source.path.name}; lagen: {', '.join(source.layers)}"
        )
    return [layer]


def read_batches(source: SourceFile, layer: str, batch_size: int = 50_000) -> Iterator[Batch]:
    """Stream one layer of the file in batches; a file that breaks off midway is an
    :class:`IngestError` (nothing of it is stored: the run is one transaction)."""
    if source.fmt == "vector":
        readers = _vector_batches(source.path, layer, batch_size)
        label, fix = "GIS-bestand", FIX_REDELIVER
    elif source.fmt == "csv":
        readers = _csv_batches(source, batch_size)
        label, fix = "CSV-bestand", "controleer scheidingsteken, aanhalingstekens en regeleinden"
    else:
        readers = _xlsx_batches(source.path, layer, batch_size)
        label, fix = "Excel-bestand", FIX_FORMAT
    try:
        yield from readers
    except IngestError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise unreadable(
            source.path, f"is te groot of te diep genest om te lezen ({type(exc).__name__})"
        ) from exc
    except Exception as exc:
        raise unreadable(source.path, f"{label} niet leesbaar ({_reason(exc)})", fix) from exc


def _epsg(crs: str | None) -> int | None:
    if not crs:
        return None
    match = re.search(r"(?:EPSG|epsg)[:/](\d+)", crs)
    if match:
        return int(match.group(1))
    if "CRS84" in crs or "OGC:CRS84" in crs:
        return 4326
    try:
        from pyproj import CRS

        code = CRS.from_user_input(crs).to_epsg(min_confidence=70)
    except Exception:
        return None
    return int(code) if code else None


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Attributes as text with missing values missing: validation sees what was delivered.

    Columns become Arrow-backed text (``normalise.TEXT``) without a detour through Python
    objects: Arrow casts numbers and passes strings through in C++, so a million-row file
    does not pay per cell in Python. Object columns (mixed types) keep their values.
    """
    out: dict[str, Any] = {}
    for col in frame.columns:
        series = frame[col]
        if series.dtype == object:
            out[str(col)] = series
            continue
        if pd.api.types.is_datetime64_any_dtype(series):
            out[str(col)] = series.dt.strftime("%Y-%m-%d").astype(TEXT)
        elif pd.api.types.is_float_dtype(series):
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            whole = np.isfinite(values) & (np.mod(values, 1) == 0)
            text = values.astype(str).astype(object)
            text[whole] = values[whole].astype("int64").astype(str)
            text[np.isnan(values)] = None
            out[str(col)] = pd.Series(text, index=frame.index, dtype=TEXT)
        else:
            arrow = pa.Array.from_pandas(series)
            out[str(col)] = pd.Series(pd.array(pc.cast(arrow, pa.string()), dtype=TEXT), index=frame.index)
    return pd.DataFrame(out, index=frame.index)


#: A little-endian 2D point in WKB: byte order 1, type 1, then x and y as doubles.
POINT_WKB_SIZE = 21
POINT_WKB_HEAD = np.array([1, 1, 0, 0, 0], dtype=np.uint8)


def geometry_from_wkb(column: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Shapely geometries from a WKB column; points take a fast path.

    An address file is a million points of 21 bytes each: reading x and y straight from
    the Arrow buffer and building the points in one call is several times faster than
    parsing each WKB. Anything else (nulls, other types, Z, big-endian) is parsed as usual.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(array)
    if n and array.null_count == 0 and pa.types.is_binary(array.type):
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=n + 1, offset=array.offset * 4)
        if offsets[-1] - offsets[0] == n * POINT_WKB_SIZE and bool(
            np.all(np.diff(offsets) == POINT_WKB_SIZE)
        ):
            data = np.frombuffer(
                array.buffers()[2], dtype=np.uint8, count=n * POINT_WKB_SIZE, offset=int(offsets[0])
            )
            rows = data.reshape(n, POINT_WKB_SIZE)
            if bool(np.all(rows[:, :5] == POINT_WKB_HEAD)):
                xy = np.ascontiguousarray(rows[:, 5:]).view("<f8")
                out = np.asarray(shapely.points(xy[:, 0], xy[:, 1]), dtype=object)
                empty = np.isnan(xy).any(axis=1)  # POINT EMPTY is written as NaN, NaN
                out[empty] = shapely.from_wkb(array.filter(pa.array(empty)).to_numpy(zero_copy_only=False))
                return out
    return np.asarray(
        shapely.from_wkb(array.to_numpy(zero_copy_only=False), on_invalid="ignore"), dtype=object
    )


def _vector_batches(path: Path, layer: str, batch_size: int) -> Iterator[Batch]:
    offset = 0
    with pyogrio.raw.open_arrow(path, layer=layer, batch_size=batch_size, use_pyarrow=True) as (
        meta,
        reader,
    ):
        crs = _epsg(meta.get("crs"))
        geom_col = meta.get("geometry_name") or "wkb_geometry"
        for record_batch in reader:
            table = record_batch
            names = table.schema.names
            attrs = table.drop_columns([geom_col]) if geom_col in names else table
            frame = _as_text(attrs.to_pandas())
            geometry = (
                geometry_from_wkb(table.column(geom_col))
                if geom_col in names
                else np.full(len(frame), None, dtype=object)
            )
            rows = np.arange(offset + 1, offset + len(frame) + 1, dtype=np.int64)
            offset += len(frame)
            frame.index = rows
            yield Batch(frame, np.asarray(geometry, dtype=object), rows, crs)


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def points_from_columns(frame: pd.DataFrame) -> tuple[np.ndarray[Any, Any], int | None]:
    """Point geometry from x/y (RD New) or lon/lat (WGS84) columns, where present."""
    cols = list(frame.columns)
    pairs = ((X_RD, Y_RD, 28992), (LON, LAT, 4326))
    for xs, ys, epsg in pairs:
        xcol, ycol = _find(cols, xs), _find(cols, ys)
        if xcol and ycol:
            x = pd.to_numeric(frame[xcol].str.replace(",", ".", regex=False), errors="coerce")
            y = pd.to_numeric(frame[ycol].str.replace(",", ".", regex=False), errors="coerce")
            ok = x.notna() & y.notna()
            geometry = np.full(len(frame), None, dtype=object)
            geometry[ok.to_numpy()] = shapely.points(x[ok].to_numpy(), y[ok].to_numpy())
            return geometry, epsg
    return np.full(len(frame), None, dtype=object), None


def _csv_batches(source: SourceFile, batch_size: int) -> Iterator[Batch]:
    offset = 0
    try:
        chunks = pd.read_csv(
            source.path,
            sep=source.delimiter,
            encoding=source.encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            chunksize=batch_size,
            skipinitialspace=True,
        )
        for chunk in chunks:
            frame = chunk.astype("object").where(chunk.notna(), None)
            frame.columns = [str(c).strip() for c in frame.columns]
            geometry, crs = points_from_columns(frame)
            rows = np.arange(offset + 1, offset + len(frame) + 1, dtype=np.int64)
            offset += len(frame)
            frame.index = rows
            yield Batch(frame, geometry, rows, crs)
    except pd.errors.EmptyDataError as exc:
        raise unreadable(
            source.path, "bevat geen kolommen of rijen", "lever een CSV met kolomkoppen en rijen"
        ) from exc
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError) as exc:
        raise unreadable(
            source.path,
            f"CSV niet leesbaar ({_reason(exc)})",
            "controleer scheidingsteken, aanhalingstekens en tekenset",
        ) from exc


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _xlsx_batches(path: Path, sheet: str, batch_size: int) -> Iterator[Batch]:
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles it does not know
        wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows_iter = wb[sheet].iter_rows(values_only=True)
        header: list[str] | None = None
        buffer: list[list[str | None]] = []
        numbers: list[int] = []
        for number, values in enumerate(rows_iter, start=1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                if any(cells):
                    header = [c or f"kolom_{i + 1}" for i, c in enumerate(cells)]
                continue
            if not any(cells):
                continue
            buffer.append(cells[: len(header)] + [None] * (len(header) - len(cells)))
            numbers.append(number)
            if len(buffer) >= batch_size:
                yield _xlsx_batch(header, buffer, numbers)
                buffer, numbers = [], []
        if header is not None and buffer:
            yield _xlsx_batch(header, buffer, numbers)
    finally:
        wb.close()


def _xlsx_batch(header: list[str], rows: list[list[str | None]], numbers: list[int]) -> Batch:
    index = np.asarray(numbers, dtype=np.int64)
    frame = pd.DataFrame(rows, columns=header, index=index, dtype=object)
    geometry, crs = points_from_columns(frame)
    return Batch(frame, geometry, index, crs)
