"""Periods as the map names them (a year ``2024``, a quarter ``2024-K2``, a rolling window
``laatste28d``) and as OGC's ``datetime`` parameter does (``2024-01-01/2024-12-31``), and
the way between the two.

A rolling window ends on the newest day of the signals the caller's view class may see
(migration 0020, docs/decisions.md "Rolling windows"): its dates differ per class, so it has
no fixed ``datetime`` range here."""

from __future__ import annotations

import datetime as dt

from app.errors import BadRequestError
from core.domain import VENSTERS

__all__ = ["VENSTERS", "is_window", "parse_datetime", "period_range"]


def is_window(periode: str) -> bool:
    """A rolling window rather than a calendar year or quarter."""
    return periode in VENSTERS


def period_range(periode: str) -> str:
    """An OGC ``datetime`` interval for a year (``2024``) or a quarter (``2024-K2``)."""
    year, _, quarter = periode.partition("-K")
    if not quarter:
        return f"{year}-01-01/{year}-12-31"
    start = 3 * (int(quarter) - 1) + 1
    end_day = {3: 31, 6: 30, 9: 30, 12: 31}[start + 2]
    return f"{year}-{start:02d}-01/{year}-{start + 2:02d}-{end_day}"


def parse_datetime(value: str | None) -> tuple[dt.date | None, dt.date | None]:
    """First and last day of an OGC ``datetime``: one day, or an interval with open (``..``)
    or empty ends; a 400 for anything that is not a date."""
    if value is None:
        return None, None

    def one(part: str) -> dt.date | None:
        if part in ("", ".."):
            return None
        try:
            return dt.date.fromisoformat(part[:10])
        except ValueError as exc:
            raise BadRequestError(f"datetime {part!r} is geen datum (JJJJ-MM-DD)") from exc

    if "/" in value:
        start, end = value.split("/", 1)
        return one(start), one(end)
    day = one(value)
    return day, day
