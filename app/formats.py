"""Numbers as Dutch readers write them, the same in HTML, PDF and tests.

A withheld figure (``None`` for a planner) reads "onderdrukt" rather than empty, so a reader
can tell "withheld" from "zero".
"""

from __future__ import annotations

ONDERDRUKT = "onderdrukt"


def getal(value: object, decimals: int | None = None) -> str:
    """``1234`` -> ``1.234``; ``12.5`` -> ``12,5``; ``None`` -> ``onderdrukt``; booleans ja/nee."""
    if value is None:
        return ONDERDRUKT
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    try:
        number = float(str(value))
    except ValueError:
        return str(value)
    places = (
        decimals if decimals is not None else (0 if number.is_integer() else (1 if abs(number) >= 10 else 2))
    )
    text = f"{number:,.{places}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def procent(value: object) -> str:
    """A percentage with one decimal: ``3,4 %``; withheld stays ``onderdrukt``."""
    return ONDERDRUKT if value is None else f"{getal(value, 1)} %"
