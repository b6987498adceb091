"""Bulk downloads of a layer: FlatGeobuf (``f=fgb``) and GeoJSON text sequences
(``f=jsonseq``, RFC 8142), for a whole layer or any selection of it.

They are items requests in another format, under the same access, purpose, filters, bbox
cap, rate limit and audit; only paging differs: a download is the whole selection (``limit``
and ``offset`` do not apply), up to :data:`MAX_FEATURES`, beyond which it is refused with the
ways to narrow it.

The audit row comes first: the selection is counted and its row (count, and ids up to the
trail's bound) written in one statement, so no byte leaves without it. The download is then
read in its own short statement, capped at that count, so it never holds more than the row
says (an ingest committing in between can only make it smaller). The audit chain's lock is
never held while bytes flow to the client. GeoJSON sequences stream row by row from a
server-side cursor (the features built in SQL). A FlatGeobuf file is written whole by GDAL
(pyogrio, from an Arrow table of the rows; not PostGIS's ``ST_AsFlatGeobuf``, whose files
GDAL cannot always read, see :func:`app.layer_sql.bulk_rows`) without a spatial index, so
a reader can take it front to back, and sent in chunks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa
import pyogrio
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine, text

from app import audit, layer_sql
from app.errors import BadRequestError
from app.formats import getal
from app.layer_sql import Selection
from app.params import CRS84, RD
from core.security import Principal
from layers.base import Layer

#: The most features one download holds.
MAX_FEATURES = 250_000
#: Rows fetched per round trip from the server-side cursor.
BATCH = 2_000
CHUNK = 64 * 1024
RS = b"\x1e"
MEDIA = {"fgb": "application/flatgeobuf", "jsonseq": "application/geo+json-seq"}
SUFFIX = {"fgb": "fgb", "jsonseq": "geojsonl"}


def download(
    request: Request,
    engine: Engine,
    layer: Layer,
    principal: Principal,
    selection: Selection,
    *,
    fmt: str,
    srid: int,
    k: int,
) -> Response:
    """The selection as a download in ``fmt`` ("fgb" or "jsonseq")."""
    # Refused before the audit row of a download is written: that row says what was served.
    sql, params = layer_sql.bulk_exceeds(layer, principal, selection, most=MAX_FEATURES, k=k)
    with engine.connect() as conn:
        if conn.execute(text(sql), params).scalar_one():
            raise BadRequestError(
                f"de selectie telt meer dan {getal(MAX_FEATURES)} objecten, het maximum per download; "
                "beperk haar met bbox, datetime of een filter"
            )
    sql, params = layer_sql.bulk_count(layer, principal, selection, k=k)
    count = int(audit.audited_one(request, engine, sql, params).aantal)
    headers = {
        "Content-Crs": f"<{CRS84 if srid == 4326 else RD}>",
        "Content-Disposition": f'attachment; filename="{layer.id}.{SUFFIX[fmt]}"',
        "X-Aantal-Objecten": str(count),
    }
    if fmt == "fgb":
        data = flatgeobuf(engine, layer, principal, selection, srid=srid, limit=count, k=k)
        return StreamingResponse(_chunks(data), media_type=MEDIA[fmt], headers=headers)
    sql, params = layer_sql.geojson_rows(layer, principal, selection, srid=srid, limit=count, k=k)
    return StreamingResponse(_sequence(engine, sql, params), media_type=MEDIA[fmt], headers=headers)


ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


def flatgeobuf(
    engine: Engine, layer: Layer, principal: Principal, selection: Selection, *, srid: int, limit: int, k: int
) -> bytes:
    """The selection as one FlatGeobuf file, typed by the layer's declaration."""
    sql, params = layer_sql.bulk_rows(layer, principal, selection, srid=srid, limit=limit, k=k)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    names = layer_sql.bulk_names(layer, principal)
    kinds = {p.name: p.type for p in layer.properties}
    columns = {"id": pa.array([r[0] for r in rows], pa.string())}
    for i, name in enumerate(names, start=1):
        columns[name] = pa.array([r[i] for r in rows], ARROW_TYPES[kinds.get(name, "boolean")])
    columns["geometry"] = pa.array([bytes(r[-1]) for r in rows], pa.binary())
    out = io.BytesIO()
    pyogrio.write_arrow(
        pa.table(columns),
        out,
        layer=layer.id,
        driver="FlatGeobuf",
        geometry_name="geometry",
        geometry_type=layer.geometry_type,
        crs=f"EPSG:{srid}",
        layer_options={"SPATIAL_INDEX": "NO"},
    )
    return out.getvalue()


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _sequence(engine: Engine, sql: str, params: dict[str, object]) -> Iterator[bytes]:
    """RS, the feature, LF per row (RFC 8142), read in batches from a server-side cursor."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(text(sql), params)
        for partition in result.partitions():
            yield b"".join(RS + row.feature.encode() + b"\n" for row in partition)
