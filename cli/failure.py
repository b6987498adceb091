"""How a command fails: one line on stderr, never a traceback (unless asked for).

An operator's problem (a file that cannot be read, no database yet) is an ``IngestError`` or
``ClusterError`` whose message already says what to do. Anything else is a bug: the user
gets one line naming the error's type, the run it happened in (when there is one) and the
file the traceback was written to; ``OKAART_DEBUG=1`` lets it through as a traceback
instead, with the warnings libraries raise on odd input.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

import typer

#: Set to 1 to see tracebacks and library warnings instead of one line.
DEBUG_ENV = "OKAART_DEBUG"
#: Exit status of an unexpected error (``EX_SOFTWARE``), apart from 1 (operator errors)
#: and 2 (a run that stored nothing).
EXIT_BUG = 70


def debugging() -> bool:
    """Whether the operator asked for tracebacks."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "nee")


def say(message: str) -> None:
    """One line on stderr, prefixed with the program's name; newlines folded away."""
    typer.echo("okaart: " + " ".join(message.split()), err=True)


def _traceback_file(exc: BaseException) -> Path | None:
    """Write the traceback where the operator can find it: the project's data directory,
    else the system's temporary directory. Readable by the owner only (it may show paths
    and values of the data)."""
    from core.settings import get_settings

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    text = "".join(traceback.format_exception(exc))
    candidates: list[Path] = []
    try:
        candidates.append(get_settings().data_dir / "fouten")
    except Exception:  # settings themselves may be what is broken
        candidates.append(Path(tempfile.gettempdir()))
    candidates.append(Path(tempfile.gettempdir()))
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"okaart-fout-{stamp}-{os.getpid()}.txt"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return None


def crash_line(exc: BaseException, run_id: int | None = None) -> str:
    """The one line for an unexpected error (and the traceback saved for the log)."""
    where = _traceback_file(exc)
    parts = [f"onverwachte fout ({type(exc).__name__})"]
    if run_id:
        parts.append(f"vastgelegd als run {run_id} (`okaart ingest runs`)")
    parts.append(f"details in {where}" if where else "details niet op te slaan")
    parts.append(f"herhaal met {DEBUG_ENV}=1 voor de traceback")
    return "; ".join(parts)
