"""Values the operator supplies for a file: constants for fields and a key made from columns.

A partner export often lacks what every row of it shares: a police export has no theme or
kind column, because all of it is "overig, melding". ``--zet thema=overig`` supplies that.
The file's own values win: a constant fills a field the file has no column for, and the
empty cells of a column it has (the run's notes say so).

Some exports have no id at all. ``--sleutel datum,adres`` makes one from the named columns:
a hash of their values (trimmed, spaces collapsed, case folded), so the same row delivered
again gets the same key and updates instead of being added twice. Two rows with the same
values are then the same key: the second is quarantined as ``dubbele_sleutel``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.base import Options, SourceKind, _key
from ingest.errors import IngestError
from ingest.normalise import TEXT, WHITESPACE

#: Marks a key made by ``--sleutel`` (a partner's own ids never start like this).
KEY_PREFIX = "sleutel:"


def check(kind: SourceKind[Any], options: Options) -> None:
    """Refuse constants for fields the kind does not have, and keys it cannot take."""
    unknown = [f for f in options.constants if f not in kind.aliases]
    if unknown:
        raise IngestError(
            f"--zet noemt onbekend veld {', '.join(map(repr, unknown))}; "
            f"velden van {kind.name}: {', '.join(kind.aliases)}"
        )
    if options.key_columns and kind.id_field is None:
        raise IngestError(f"--sleutel geldt voor signalen en leegstand, niet voor {kind.name}")


def key_sources(found: list[str], mapping: dict[str, str], names: tuple[str, ...]) -> list[str]:
    """The file's columns behind ``--sleutel``: a column name (case and spaces ignored) or a
    field name the file's columns were mapped to."""
    by_key = {_key(c): c for c in found}
    columns = []
    for name in names:
        if _key(name) in by_key:
            columns.append(by_key[_key(name)])
        elif name in mapping:
            columns.append(mapping[name])
        else:
            raise IngestError(
                f"--sleutel noemt kolom {name!r}, maar die staat niet in het bestand; "
                f"gevonden kolommen: {', '.join(found)}"
            )
    return columns


def made_key(source: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A stable key per row from the values of ``columns`` (None where all are empty)."""
    parts = [
        pc.cast(
            pa.array(source[c].astype(TEXT).str.replace(WHITESPACE, " ", regex=True).str.strip().str.lower()),
            pa.string(),
        )
        for c in columns
    ]
    joined = pc.binary_join_element_wise(*[pc.fill_null(p, "") for p in parts], "\x1f")
    empty = pc.equal(pc.utf8_length(joined), len(columns) - 1).to_numpy(zero_copy_only=False)
    keys = [
        None if blank else KEY_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:20]
        for value, blank in zip(joined.to_pylist(), empty, strict=True)
    ]
    return pd.Series(keys, index=source.index, dtype=object)


def supply(
    frame: pd.DataFrame,
    source: pd.DataFrame,
    mapping: dict[str, str],
    kind: SourceKind[Any],
    options: Options,
) -> tuple[pd.DataFrame, list[str]]:
    """The canonical frame with constants and the made key filled in, and notes for the run."""
    notes: list[str] = []
    for name, value in options.constants.items():
        given = frame[name].astype(TEXT).str.strip()
        empty = given.isna() | (given == "")
        if name in mapping:
            notes.append(
                f"--zet {name}: het bestand heeft kolom {mapping[name]!r}; de waarden daaruit gaan voor, "
                f"lege cellen krijgen {value!r}"
            )
        frame[name] = frame[name].astype(object).where(~empty.to_numpy(), value)
    if options.key_columns and kind.id_field:
        columns = key_sources(list(source.columns), mapping, options.key_columns)
        if kind.id_field in mapping:
            own = mapping[kind.id_field]
            notes.append(f"--sleutel: de sleutel komt uit {', '.join(columns)}, niet uit kolom {own!r}")
        frame[kind.id_field] = made_key(source, columns)
    return frame, notes
