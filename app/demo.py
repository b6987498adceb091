"""The demo: load the sample dataset in data/ into the database, once."""

from __future__ import annotations

import logging

from app.settings import Settings

log = logging.getLogger("okaart.demo")


def load(url: str, settings: Settings) -> None:
    """Load the demo dataset (filled in by the ingest work)."""
    log.info("demo data: nothing to load yet")
