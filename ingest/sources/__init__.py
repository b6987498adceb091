"""The source kinds, one file each; ``KINDS`` is what ``okaart ingest <kind>`` accepts."""

from __future__ import annotations

from typing import Any

from ingest.base import SourceKind
from ingest.sources.adressen import Adressen
from ingest.sources.gebieden import Gebieden
from ingest.sources.leegstand import Leegstand
from ingest.sources.signalen import Signalen
from ingest.sources.vestigingen import Vestigingen

KINDS: dict[str, type[SourceKind[Any]]] = {
    kind.name: kind for kind in (Gebieden, Adressen, Leegstand, Signalen, Vestigingen)
}
