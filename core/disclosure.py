"""Which cells of a published table aggregate-only principals must not see (DESIGN §7).

A stand-in with primary suppression only: every count below k is withheld. The full rule
adds secondary suppression across the published hierarchies, so that no withheld cell can be
recovered as a parent total minus its published children; it keeps this signature, which is
all the refresh (:mod:`core.zicht`) relies on.

``cells`` has one row per published cell of one measure: ``soort`` and ``code`` of the area,
``ouder`` (a buurt's wijk code, a wijk's gemeente code, else None; gemeente rows are the tops
of the area hierarchy), ``periode``, ``periode_soort`` ('jaar' or 'kwartaal'), ``jaar``
('YYYY', the year a quarter lies in), ``thema`` (a theme or 'alle') and ``waarde`` (the exact
count).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

#: buurt ⊂ wijk ⊂ gemeente, through ``ouder``.
GEBIED = "gebied"
#: quarter ⊂ year, through ``jaar``.
PERIODE = "periode"
#: each theme ⊂ 'alle'.
THEMA = "thema"
HIERARCHIES = (GEBIED, PERIODE, THEMA)


def withhold(cells: pd.DataFrame, k: int, hierarchies: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """True for every cell that must be withheld, in the order of ``cells``."""
    unknown = sorted(set(hierarchies) - set(HIERARCHIES))
    if unknown:
        raise ValueError(f"unknown hierarchies {unknown}; known: {HIERARCHIES}")
    return np.asarray(cells["waarde"].to_numpy() < k, dtype=np.bool_)
