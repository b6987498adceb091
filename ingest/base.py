"""What one ingest source kind declares; the shared pipeline does the rest.

A source kind is one small file in ``ingest/sources/``: the target table and key, the
columns it stages, the names under which the common layouts deliver its fields, and a
vectorised ``normalise``. Validation of geometry, quarantine, staging, upsert, area
assignment and the report are the pipeline's job, the same for every kind.

What a kind learns while reading and needs again later (the area type a layer turned out
to be, the partner's rules) lives in its own small typed state, one per run: ``Context`` is
generic in it, so a kind reads ``ctx.state.soort`` and mypy knows what that is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from ingest.errors import IngestError
from ingest.normalise import CrsDecision, Reasons
from ingest.read import SourceFile, choose_layers

#: The role a run's data transaction works as; steps that need the table owner (index DDL)
#: reset the role and return to this one.
INGEST_ROLE = "okaart_ingest"

#: A kind's own state for one run (``None`` for kinds that carry nothing between batches).
State = TypeVar("State")


@dataclass(frozen=True)
class Column:
    """A staged column and its SQL type; the target column has the same name."""

    name: str
    sqltype: str
    stored: bool = True  # False: staged for matching only, not a target column


@dataclass
class Options:
    """What the operator asked for on the command line."""

    path: Path
    layer: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # source column -> field
    bron: str | None = None
    jaar: int | None = None
    soort: str | None = None
    #: Whose division the areas are (gebieden); None: the type's default.
    indeling: str | None = None
    #: Let a delivery move boundaries already stored in the same division and edition.
    vervang: bool = False
    snapshot: bool = False
    dry_run: bool = False
    #: Constants for fields (``--zet veld=waarde``): they fill a field the file lacks, and
    #: the empty cells of one it has (the file's own values win).
    constants: dict[str, str] = field(default_factory=dict)
    #: Columns whose values make the key of a row (``--sleutel``) when a file has no id.
    key_columns: tuple[str, ...] = ()
    #: The most rows of each reason class a run may reject and still store the rest
    #: (``ingest.reasons.CLASSES``): data errors, addresses not found, past retention.
    reject_share: float = 0.05
    not_found_share: float = 0.9
    expired_share: float = 1.0
    batch_size: int = 50_000
    #: Refresh the indicator view after the run (a batch of loads refreshes once at the end).
    refresh: bool = True
    #: The coordinate system (EPSG code) the operator says the file is in (``--crs``).
    crs: int | None = None


@dataclass
class Repairs:
    """Geometries the pipeline mended while reading; counted for the run's notes."""

    omgedraaid: int = 0  # points whose x and y were swapped, turned round
    hersteld: int = 0  # invalid polygons made valid

    def notes(self) -> list[str]:
        """The report's lines for what was mended (none when nothing was)."""
        return [
            f"{label}: {count}"
            for label, count in (
                ("omgedraaide coördinaten hersteld", self.omgedraaid),
                ("geometrieën hersteld", self.hersteld),
            )
            if count
        ]


@dataclass
class Context(Generic[State]):
    """State of one run, shared by the pipeline and the kind; ``state`` is the kind's own."""

    options: Options
    source: SourceFile
    run_id: int
    conn: Connection
    state: State
    crs: CrsDecision = field(default_factory=lambda: CrsDecision(None))
    layer: str = ""
    notes: list[str] = field(default_factory=list)
    repairs: Repairs = field(default_factory=Repairs)


@dataclass
class Normalised:
    """The staged values of a batch (index = row numbers) and a reason per row."""

    frame: pd.DataFrame
    reasons: Reasons


def _key(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch.isalnum())


def resolve_columns(
    found: list[str],
    aliases: dict[str, tuple[str, ...]],
    user_map: dict[str, str],
    required: tuple[str, ...],
) -> dict[str, str]:
    """Map fields to source columns: ``--map`` first, then the known layouts' names.

    Matching ignores case, spaces, underscores and dashes (``BU_CODE`` = ``bucode``).
    """
    by_key = {_key(c): c for c in found}
    result: dict[str, str] = {}
    for column, target in user_map.items():
        if column not in found and _key(column) not in by_key:
            raise IngestError(
                f"--map noemt kolom {column!r}, maar die staat niet in het bestand; "
                f"gevonden kolommen: {', '.join(found)}"
            )
        result[target] = column if column in found else by_key[_key(column)]
    for target, names in aliases.items():
        if target in result:
            continue
        for name in (target, *names):
            if _key(name) in by_key:
                result[target] = by_key[_key(name)]
                break
    missing = [f for f in required if f not in result]
    if missing:
        raise IngestError(
            f"verplichte kolom(men) ontbreken: {', '.join(missing)}; "
            f"gevonden kolommen: {', '.join(found) or '(geen)'}; "
            "geef de koppeling met --map kolom=veld"
        )
    return result


def canonical(
    frame: pd.DataFrame, mapping: dict[str, str], fields: list[str], *, others: bool = False
) -> pd.DataFrame:
    """A frame with exactly the kind's fields (None where the file has no such column)."""
    out: dict[str, Any] = {f: frame[mapping[f]] if f in mapping else None for f in fields}
    if others:
        used = set(mapping.values())
        out.update({f"+{c}": frame[c] for c in frame.columns if c not in used})
    return pd.DataFrame(out, index=frame.index)


class SourceKind(ABC, Generic[State]):
    """One kind of delivered data (gebieden, adressen, leegstand, signalen)."""

    name: ClassVar[str]
    table: ClassVar[str]
    conflict: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[Column, ...]]
    aliases: ClassVar[dict[str, tuple[str, ...]]]
    required: ClassVar[tuple[str, ...]] = ()
    geometry: ClassVar[Literal["point", "optional_point", "polygon"]] = "point"
    assigns_areas: ClassVar[bool] = True
    keeps_raw: ClassVar[bool] = False
    #: Pass the file's unmapped columns on to ``normalise`` as ``+name`` (key figures).
    keeps_other_columns: ClassVar[bool] = False
    #: Rows whose key came earlier in the file are staged too (with the row as delivered in
    #: ``_raw``) for the kind to merge in ``after_stage``, instead of being rejected: a
    #: register joined with another repeats one object per partner row (a VBO per pand).
    merge_same_key: ClassVar[bool] = False
    #: The field a key made with ``--sleutel`` fills (None: the kind takes no such key).
    id_field: ClassVar[str | None] = None

    @abstractmethod
    def new_state(self) -> State:
        """A fresh state for one run: a kind instance may run more than once, its state may not."""

    def layers(self, source: SourceFile, layer: str | None) -> list[str]:
        """Which layers of the file to read (a multi-layer GeoPackage: all unless told)."""
        return choose_layers(source, layer)

    def resolve(self, ctx: Context[State], found: list[str]) -> dict[str, str]:
        """The column mapping for this layer; fields supplied by ``--zet`` or ``--sleutel``
        need no column."""
        supplied = set(ctx.options.constants)
        if ctx.options.key_columns and self.id_field:
            supplied.add(self.id_field)
        required = tuple(f for f in self.required if f not in supplied)
        return resolve_columns(found, self.aliases, ctx.options.mapping, required)

    def before_read(self, ctx: Context[State]) -> None:  # optional hook
        """Database lookups the kind needs while reading: ``normalise`` may not query the
        database, as the staging COPY holds the connection while batches are read."""

    @abstractmethod
    def normalise(self, frame: pd.DataFrame, ctx: Context[State]) -> Normalised:
        """Turn a batch (canonical fields) into staged columns plus reasons (no database)."""

    def key_values(self, staged: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The key of each staged row, for duplicate detection within the file."""
        if len(self.conflict) == 1:
            return staged[self.conflict[0]].to_numpy(dtype=object)
        keys = np.empty(len(staged), dtype=object)
        keys[:] = list(zip(*(staged[c] for c in self.conflict), strict=True))
        return keys

    def after_stage(self, ctx: Context[State]) -> None:  # optional hook
        """SQL on the staging table before the upsert (address matching, lookups)."""

    def before_upsert(self, ctx: Context[State]) -> None:  # optional hook
        """SQL on the target before the upsert; inside a dry run's savepoint, so it is undone."""

    def snapshot_scope(self, ctx: Context[State]) -> tuple[str, dict[str, Any]]:
        """Which target rows a ``--snapshot`` run may remove: a SQL condition on ``t``."""
        return "true", {}

    def after_upsert(self, ctx: Context[State]) -> None:  # optional hook
        """SQL after the upsert (derived areas, re-assignment)."""
