"""The outcome of one ingest run (a row of ``ingest_run``) and the hash that names its file.

The sha256 of the delivered file is what makes a re-delivery recognisable: the demo skips a
file whose exact content already loaded, and the run list shows which delivery a run read.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.domain import RunStatus


@dataclass
class IngestReport:
    """The outcome of one run, as stored in ``ingest_run``."""

    run_id: int
    soort: str
    bestand: str
    sha256: str
    status: RunStatus
    gelezen: int = 0
    ingevoegd: int = 0
    bijgewerkt: int = 0
    ongewijzigd: int = 0
    afgekeurd: int = 0
    verwijderd: int = 0
    duur_ms: int = 0
    melding: str | None = None
    fasen: dict[str, float] = field(default_factory=dict)  # seconds per phase
    #: Rejected rows per reason (``ingest.reasons``); stored in ``opties -> 'redenen'``.
    redenen: dict[str, int] = field(default_factory=dict)

    @property
    def opgeslagen(self) -> int:
        """Rows of the file that are in the table after the run (new, updated or the same)."""
        return self.ingevoegd + self.bijgewerkt + self.ongewijzigd

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def phase(self, name: str, since: float) -> float:
        """Record the seconds since ``since`` under ``name``; returns now."""
        now = time.perf_counter()
        self.fasen[name] = round(self.fasen.get(name, 0.0) + now - since, 3)
        return now


def file_sha256(path: Path) -> str:
    """Hash of the delivered file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
