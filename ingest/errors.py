"""Errors of an ingest run that stop it as a whole (a bad row is not an error: it is
quarantined).

The user reads one line: the file, the problem, the fix. The fix is kept apart from the
problem (``fix``) so the command line can always end the line with what to do, and so a
test can check that there is one.
"""

from __future__ import annotations


class IngestError(Exception):
    """The file as a whole cannot be ingested; the message says why, in Dutch, for the user."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.problem = message
        self.fix = fix
        #: The failed run's ``ingest_run`` id, once it is recorded.
        self.run_id: int | None = None

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}" if self.fix else self.problem


class CrsError(IngestError):
    """The coordinates do not fit the coordinate system the file declares (or lacks)."""
