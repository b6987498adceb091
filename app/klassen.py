"""Legend classes from the data: quantile breaks per indicator, period and theme, with counts.

Fixed breaks put 106 of 151 buurten in the top class of the default map (issue #15): a map
of one colour. Breaks are therefore taken from the figures the caller's map shows (the same
visible rows as its tiles, so a planner's breaks come from published figures), as quantiles
through mapclassify: with five classes each holds about a fifth of the areas, whatever the
spread. z-scores keep their fixed breaks, which carry a meaning (z 3 is the deviation rule).
Every class carries its count, so the legend says how many areas each colour stands for.
``docs/decisions.md`` (legend classes) says why quantiles and not Fisher-Jenks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import mapclassify
import numpy as np
from sqlalchemy import Engine, text

from app import layer_sql
from app.maps import Indicator
from core.security import Principal
from layers.base import Layer, LegendClass


def _rounded(value: float) -> float:
    """A break as the legend prints it: whole numbers from 10 up, else one or two decimals."""
    decimals = 0 if abs(value) >= 10 else 1 if abs(value) >= 1 else 2
    return round(value, decimals)


def _number(value: float) -> str:
    """Dutch notation: decimal comma, thousands with a dot."""
    decimals = 0 if float(value).is_integer() else 1 if abs(value) >= 1 else 2
    text_ = f"{value:,.{decimals}f}"
    return text_.replace(",", "_").replace(".", ",").replace("_", ".")


def _spread(colours: Sequence[str], n: int) -> list[str]:
    """``n`` colours of a sequential scheme, from its lightest to its darkest."""
    if n >= len(colours):
        return list(colours)
    if n == 1:
        return [colours[-1]]
    return [colours[round(i * (len(colours) - 1) / (n - 1))] for i in range(n)]


def counted(classes: Sequence[LegendClass], values: Sequence[float]) -> tuple[LegendClass, ...]:
    """The classes with the number of values in each, by the rule the map colours with
    (``kaart.js``: a value gets the last class whose ``min`` it reaches)."""
    counts = [0] * len(classes)
    for v in values:
        index = max((i for i, c in enumerate(classes) if v >= c.min), default=None)
        if index is not None:
            counts[index] += 1
    return tuple(c.model_copy(update={"count": n}) for c, n in zip(classes, counts, strict=True))


def quantile_classes(
    values: Sequence[float], colours: Sequence[str], unit: str = ""
) -> tuple[LegendClass, ...]:
    """Up to ``len(colours)`` classes with about as many values each (quantiles, mapclassify).

    Breaks are rounded to what the legend prints and ties merge classes, so there can be
    fewer classes than colours; the counts are those of the rounded breaks."""
    if not values:
        return ()
    y = np.asarray(values, dtype=float)
    k = min(len(colours), len(set(values)))
    with warnings.catch_warnings():  # "not enough unique values": ties merge classes, as said
        warnings.simplefilter("ignore", UserWarning)
        bins = mapclassify.Quantiles(y, k=k).bins if k > 1 else np.array([y.max()])
    # mapclassify's bins are upper bounds (y <= bin); the map's classes start at their ``min``.
    breaks = sorted({_rounded(float(b)) for b in bins[:-1]} - {_rounded(float(y.min()))})
    breaks = [b for b in breaks if b > y.min()]
    suffix = " %" if unit == "percent" else ""
    lows = [min(0.0, math.floor(float(y.min()))), *breaks]
    chosen = _spread(colours, len(lows))
    classes = []
    for i, low in enumerate(lows):
        if len(lows) == 1:
            label = "alle gebieden"
        elif i == 0:
            label = f"minder dan {_number(lows[1])}{suffix}"
        elif i == len(lows) - 1:
            label = f"{_number(low)}{suffix} of meer"
        else:
            label = f"{_number(low)} tot {_number(lows[i + 1])}{suffix}"
        classes.append(LegendClass(min=low, colour=chosen[i], label=label))
    return counted(classes, values)


def map_values(
    engine: Engine, layer: Layer, principal: Principal, filters: dict[str, str], prop: str, *, k: int
) -> tuple[list[float], int]:
    """The figures the caller's map colours by (its visible rows, as its tiles read them), and
    the number of areas without one (withheld, too few addresses, or none). ``prop`` comes
    from the allow-list ``app.maps.INDICATOREN``, never from the request."""
    sql, params = layer_sql.area_figures(layer, principal, filters, k=k)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {prop} AS v FROM ({sql}) f"), params).all()
    values = [float(r.v) for r in rows if r.v is not None]
    return values, len(rows) - len(values)


def legend(
    engine: Engine, principal: Principal, indicator: Indicator, soort: str, filters: dict[str, str], *, k: int
) -> tuple[tuple[LegendClass, ...], int]:
    """The legend classes of one map (breaks from the data where the indicator takes them,
    else its fixed ones), each with its count, and the count of areas without a figure."""
    layer = indicator.layers()[soort]
    values, missing = map_values(engine, layer, principal, filters, indicator.property, k=k)
    if indicator.from_data and values:
        return quantile_classes(values, [c.colour for c in indicator.classes], indicator.unit), missing
    return counted(indicator.classes, values), missing


#: Diverging ColorBrewer PuOr (colour-blind safe): lower in purple, higher in orange, white
#: around no change. For the comparison of two periods (app/tijdvergelijking.py).
DIVERGING = ("#5e3c99", "#b2abd2", "#f7f7f7", "#fdb863", "#e66101")
#: A ratio's breaks carry a meaning (half again as many, a tenth more), as z's do: fixed.
RATIO_BREAKS = (1 / 1.5, 1 / 1.1, 1.1, 1.5)


def diverging_classes(values: Sequence[float], maat: str, unit: str = "") -> tuple[LegendClass, ...]:
    """Five classes around no change (0 for a difference, 1 for a ratio), with counts.

    A difference takes its two breaks from the data, the same on both sides (the thirds of
    the absolute differences), so that the white middle is "about the same" at the map's own
    scale and growth and decline of equal size get colours of equal strength. A ratio has
    the fixed breaks of :data:`RATIO_BREAKS`."""
    suffix = " %-punt" if unit == "percent" else ""
    if maat == "verhouding":
        b = [_rounded(v) for v in RATIO_BREAKS]
        mins = [-1e9, *b]
        labels = [
            f"minder dan {_number(b[0])} (veel lager)",
            f"{_number(b[0])} tot {_number(b[1])} (lager)",
            f"{_number(b[1])} tot {_number(b[2])} (ongeveer gelijk)",
            f"{_number(b[2])} tot {_number(b[3])} (hoger)",
            f"{_number(b[3])} of meer (veel hoger)",
        ]
    else:
        spread = np.abs(np.asarray([v for v in values if v != 0], dtype=float))
        small, large = (
            (_rounded(float(np.quantile(spread, 1 / 3))), _rounded(float(np.quantile(spread, 2 / 3))))
            if len(spread)
            else (1.0, 2.0)
        )
        small = small if small > 0 else _rounded(float(spread.max()) / 3) if len(spread) else 1.0
        small = small if small > 0 else 0.01
        large = large if large > small else _rounded(2 * small)
        mins = [-1e9, -large, -small, small, large]
        labels = [
            f"meer dan {_number(large)}{suffix} lager",
            f"{_number(small)} tot {_number(large)}{suffix} lager",
            f"ongeveer gelijk (minder dan {_number(small)}{suffix} verschil)",
            f"{_number(small)} tot {_number(large)}{suffix} hoger",
            f"{_number(large)}{suffix} of meer hoger",
        ]
    classes = [LegendClass(min=m, colour=c, label=t) for m, c, t in zip(mins, DIVERGING, labels, strict=True)]
    return counted(classes, values)
