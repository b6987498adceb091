"""Layer extents in CRS84, for collection documents, TileJSON and skipping empty tiles.

Every layer lies within the newest areas, so one extent (theirs) serves all; it is read on
first use and kept for the life of the process (areas change once a year).
"""

from __future__ import annotations

import threading

import morecantile
from sqlalchemy import Engine, text

from app import layer_sql


class Extents:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._extent: list[float] | None = None

    def of(self, layer_id: str) -> list[float]:
        """``[xmin, ymin, xmax, ymax]`` in CRS84; empty while there are no areas."""
        if self._extent is None:
            with self._lock:
                if self._extent is None:
                    self._extent = self._read()
        return self._extent

    def _read(self) -> list[float]:
        sql, params = layer_sql.area_extent()
        with self.engine.connect() as conn:
            row = conn.execute(text(sql), params).one()
        return [round(float(v), 6) for v in row] if row[0] is not None else []

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
