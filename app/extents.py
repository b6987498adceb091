"""Layer extents in CRS84: the areas' extent (TileJSON, skipping empty tiles) and each
collection's spatial and temporal extent (collection documents).

Every layer lies within the newest areas, so one extent (theirs) serves the tiles; it is read
on first use and kept for the life of the process (areas change once a year). It only lets
a tile far outside answer empty without a query, so when it cannot be read (a statement
timeout, the database away) every tile is taken to touch it and the read is tried again
:data:`RETRY_SECONDS` later: a tile then costs its query, never a 503 of its own. While one
request reads it the others do not wait for it.

A collection's extent is that of the rows the caller may see (an extent is a figure too, and
nothing above a principal's view enters one: docs/architecture.md §7), read once per layer,
view class and data version and then kept: a collection document costs no scan, and GDAL
takes its extent from there instead of reading every feature.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import morecantile
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app import layer_sql
from app.dataversion import DataVersions
from app.outage import ThrottledLog
from app.params import CRS84
from core import zicht
from core.security import Principal
from layers.base import Layer

#: Collection extents kept at most; the oldest goes first (one per layer, view class and
#: data version: a few dozen in practice).
MAX_KEPT = 256
#: Seconds before an extent that could not be read is tried again.
RETRY_SECONDS = 30.0

_UNREAD = ThrottledLog(
    logging.getLogger("okaart.extents"), logging.WARNING, "area extent unread (tiles are not skipped)"
)


@dataclass(frozen=True)
class CollectionExtent:
    """``bbox`` [xmin, ymin, xmax, ymax] in CRS84 (None without rows); ``start``/``end`` the
    first and last date (None for a layer without time or without rows)."""

    bbox: list[float] | None
    start: dt.date | None
    end: dt.date | None

    def doc(self) -> dict[str, Any] | None:
        """The ``extent`` member of a collection document (OGC API Common), or None."""
        if self.bbox is None:
            return None
        extent: dict[str, Any] = {"spatial": {"bbox": [self.bbox], "crs": CRS84}}
        if self.start is not None and self.end is not None:
            extent["temporal"] = {
                "interval": [[f"{self.start.isoformat()}T00:00:00Z", f"{self.end.isoformat()}T23:59:59Z"]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            }
        return extent


class Extents:
    def __init__(self, engine: Engine, versions: DataVersions | None = None) -> None:
        self.engine = engine
        self.versions = versions or DataVersions(engine)
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._extent: list[float] | None = None
        #: When (``time.monotonic``) an extent that could not be read is tried again.
        self._retry_at = 0.0
        self._collections: dict[tuple[str, zicht.Zicht, str], CollectionExtent] = {}

    def of(self, layer_id: str) -> list[float]:
        """``[xmin, ymin, xmax, ymax]`` in CRS84; empty while there are no areas, and while
        it is unread (being read by another request, or failed less than
        :data:`RETRY_SECONDS` ago): the callers then skip nothing."""
        extent = self._extent
        if extent is not None:
            return extent
        if time.monotonic() < self._retry_at or not self._reading.acquire(blocking=False):
            return []
        try:
            if self._extent is None:
                try:
                    self._extent = self._read()
                except SQLAlchemyError as exc:
                    self._retry_at = time.monotonic() + RETRY_SECONDS
                    _UNREAD.report(str(exc))
                    return []
            return self._extent
        finally:
            self._reading.release()

    def _read(self) -> list[float]:
        sql, params = layer_sql.area_extent()
        with self.engine.connect() as conn:
            row = conn.execute(text(sql), params).one()
        return [round(float(v), 6) for v in row] if row[0] is not None else []

    def collection(self, layer: Layer, principal: Principal) -> CollectionExtent:
        """The extent of what ``principal`` may see of ``layer`` now (cached per data version)."""
        key = (layer.id, zicht.Zicht.of(principal), self.versions.of(layer))
        found = self._collections.get(key)
        if found is not None:
            return found
        sql, params = layer_sql.collection_extent(layer, principal)
        with self.engine.connect() as conn:
            row = conn.execute(text(sql), params).one()
        bbox = None
        if row[0] is not None:
            # Rounded outwards to 6 decimals (10 cm), so the box still holds every row.
            bbox = [
                _round(row[0], down=True),
                _round(row[1], down=True),
                _round(row[2], down=False),
                _round(row[3], down=False),
            ]
        extent = CollectionExtent(bbox, row[4], row[5])
        with self._lock:
            if len(self._collections) >= MAX_KEPT:
                self._collections.pop(next(iter(self._collections)))
            self._collections[key] = extent
        return extent

    def touches(self, layer_id: str, bounds: morecantile.commons.BoundingBox) -> bool:
        """Whether a tile with these CRS84 ``bounds`` can hold any of the layer's rows."""
        extent = self.of(layer_id)
        if not extent:
            return True
        return not (
            bounds.left > extent[2]
            or bounds.right < extent[0]
            or bounds.bottom > extent[3]
            or bounds.top < extent[1]
        )


def _round(value: float, *, down: bool) -> float:
    scaled = float(value) * 1e6
    return (math.floor(scaled) if down else math.ceil(scaled)) / 1e6
