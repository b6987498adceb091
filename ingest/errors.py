"""Errors of an ingest run that stop it as a whole (a bad row is not an error: it is
quarantined)."""

from __future__ import annotations


class IngestError(Exception):
    """The file as a whole cannot be ingested; the message says why, in Dutch, for the user."""
