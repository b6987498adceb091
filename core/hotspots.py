"""Hotspots: Getis-Ord Gi* per area with a false-discovery-rate correction.

Gi* asks whether an area *and its neighbours* together hold more (hot) or less (cold) than the
whole map would by chance; one high area among low neighbours is not a hotspot, a block of
high areas is. The statistic comes from PySAL's ``esda`` on ``libpysal`` weights; the weights
(docs/decisions.md "Hotspots"): binary, the area itself included (the star in Gi*), neighbours
by queen contiguity for buurten and by a distance band between centres for grid squares.
Binary because esda's analytical variance is the exact Getis-Ord moment only for binary rows.

Testing every area at p < 0.05 finds about one "hotspot" in twenty by chance alone, so the
two-sided p-values are adjusted by Benjamini-Hochberg (:func:`benjamini_hochberg`) and an area
is hot or cold when its adjusted value (q) is below :data:`ALPHA`.

Pure numpy/scipy/esda, no database: the service hands in the figures the caller sees (a
planner's published ones) and the neighbour pairs of the areas.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: The false discovery rate: of the areas called hot or cold, at most this share by chance.
ALPHA = 0.05
#: The classes of an area, as the map's legend and the overview name them.
HEET, KOUD, NIET_SIGNIFICANT = "hotspot", "coldspot", "niet significant"

_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GiStar:
    """Per area, in the order of the values: z of Gi*, two-sided p, BH-adjusted p (q), class."""

    z: _Floats
    p: _Floats
    q: _Floats
    klasse: list[str]


def benjamini_hochberg(p: Sequence[float] | _Floats) -> _Floats:
    """Benjamini-Hochberg adjusted p-values (q): ``min over j >= i of p_(j) * n / j`` for the
    i-th smallest p, capped at 1. An area is significant at false discovery rate a when q < a,
    which is the BH step-up rule."""
    values = np.asarray(p, dtype=np.float64)
    n = len(values)
    if n == 0:
        return values.copy()
    order = np.argsort(values)
    scaled = values[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(n, dtype=np.float64)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def gi_star(values: Sequence[float], pairs: Sequence[tuple[int, int]], alpha: float = ALPHA) -> GiStar:
    """Gi* of every value with binary weights: ``pairs`` are the neighbour pairs (by index,
    each once, either order); every area is its own neighbour too. Fewer than three areas, or
    values that are all equal, give no statistic: every area "niet significant", z and p NaN."""
    from esda.getisord import G_Local
    from libpysal.weights import W

    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n < 3 or np.all(y == y[0]):
        nan = np.full(n, np.nan)
        return GiStar(z=nan, p=nan.copy(), q=nan.copy(), klasse=[NIET_SIGNIFICANT] * n)
    neighbours: dict[int, set[int]] = {i: {i} for i in range(n)}
    for a, b in pairs:
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    w = W({i: sorted(js) for i, js in neighbours.items()}, silence_warnings=True)
    with warnings.catch_warnings():  # islands (only themselves) are warned about: they are allowed
        warnings.simplefilter("ignore")
        result = G_Local(y, w, transform="B", star=True, permutations=0)
    z = np.asarray(result.Zs, dtype=np.float64)
    # Two-sided normal p: 2 * P(Z > |z|) = erfc(|z| / sqrt 2).
    p = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in z], dtype=np.float64)
    q = benjamini_hochberg(p)
    klasse = [
        NIET_SIGNIFICANT if not (qi < alpha) else HEET if zi > 0 else KOUD
        for zi, qi in zip(z, q, strict=True)
    ]
    return GiStar(z=z, p=p, q=q, klasse=klasse)
