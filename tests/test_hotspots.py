"""Hotspots (issue #15): Getis-Ord Gi* equals the textbook formula computed by hand on a 4x4
grid, the false-discovery-rate correction decides, and the service computes Gi* only from the
figures the caller's own map shows (a planner's published ones)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.hotspots import ALPHA, HEET, KOUD, NIET_SIGNIFICANT, benjamini_hochberg, gi_star
from tests.conftest import auth

#: A 4x4 grid of squares, numbered row by row: a high block top left, low bottom right.
GRID = np.array([9, 8, 3, 1, 8, 7, 2, 1, 3, 2, 1, 0, 1, 1, 0, 2], dtype=float)


def queen_pairs(side: int) -> list[tuple[int, int]]:
    """Each pair of squares that touch (also at a corner), once."""
    pairs = []
    for r in range(side):
        for c in range(side):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                if 0 <= r + dr < side and 0 <= c + dc < side:
                    pairs.append((r * side + c, (r + dr) * side + c + dc))
    return pairs


def hand_gi_star(y: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Getis and Ord (1992, 1995), Gi* with binary weights, the area itself included:
    z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n sum_j w_ij^2 - W_i^2) / (n - 1))),
    with S the population standard deviation of all n values."""
    n = len(y)
    w = np.eye(n)
    for a, b in pairs:
        w[a, b] = w[b, a] = 1
    xbar = y.mean()
    s = math.sqrt((y**2).mean() - xbar**2)
    wi = w.sum(axis=1)
    s1 = (w**2).sum(axis=1)
    return (w @ y - xbar * wi) / (s * np.sqrt((n * s1 - wi**2) / (n - 1)))


def test_gi_star_equals_the_hand_computation_on_a_4x4_grid() -> None:
    pairs = queen_pairs(4)
    result = gi_star(GRID, pairs)
    expected = hand_gi_star(GRID, pairs)
    np.testing.assert_allclose(result.z, expected, rtol=1e-12, atol=1e-12)
    # The corner of the high block: itself and its three neighbours, 32 of 49 in four of 16 squares.
    assert result.z[0] == pytest.approx(3.69, abs=0.01)
    # Two-sided normal p-values.
    p = np.array([math.erfc(abs(z) / math.sqrt(2)) for z in expected])
    np.testing.assert_allclose(result.p, p, rtol=1e-12)


def test_benjamini_hochberg_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.20]
    # Sorted 0.01, 0.03, 0.04, 0.20 -> p * 4 / rank = 0.04, 0.06, 0.0533, 0.20 -> running minimum
    # from the top: 0.04, 0.0533, 0.0533, 0.20; back in the original order:
    np.testing.assert_allclose(benjamini_hochberg(p), [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert benjamini_hochberg([0.9, 0.8]).max() <= 1.0
    assert len(benjamini_hochberg([])) == 0


def test_the_fdr_correction_decides_not_the_raw_p() -> None:
    result = gi_star(GRID, queen_pairs(4))
    np.testing.assert_allclose(result.q, benjamini_hochberg(result.p))
    raw_only = [i for i in range(16) if result.p[i] < ALPHA <= result.q[i]]
    assert raw_only, "the grid should hold squares significant only before the correction"
    assert all(result.klasse[i] == NIET_SIGNIFICANT for i in raw_only)
    hot = [i for i in range(16) if result.klasse[i] == HEET]
    assert hot == [0, 1, 4, 5]  # the high block, and only it
    assert all(result.q[i] < ALPHA and result.z[i] > 0 for i in hot)
    # A cold block mirrored: the same squares turn cold.
    mirrored = gi_star(GRID.max() - GRID, queen_pairs(4))
    assert [i for i in range(16) if mirrored.klasse[i] == KOUD] == hot


def test_too_few_or_equal_values_give_no_statistic() -> None:
    assert gi_star([1.0, 2.0], [(0, 1)]).klasse == [NIET_SIGNIFICANT] * 2
    flat = gi_star([3.0] * 5, [(0, 1), (1, 2)])
    assert flat.klasse == [NIET_SIGNIFICANT] * 5 and np.isnan(flat.z).all()


# -- the service ---------------------------------------------------------------------------------


def _hotspots(client: Any, key: str, **params: str) -> dict[str, Any]:
    r = client.get("/kaart/hotspots", params={"periode": "2024", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def _published(client: Any, key: str, soort_layer: str = "buurten") -> dict[str, Any]:
    r = client.get(
        f"/collections/{soort_layer}/items",
        params={"periode": "2024", "thema": "alle", "limit": "1000"},
        headers=auth(key),
    )
    assert r.status_code == 200
    return {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}


@pytest.mark.parametrize("who", ["analist", "planner"])
def test_hotspots_come_from_the_callers_own_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine, who: str
) -> None:
    body = _hotspots(client, api_keys[who])
    shown = _published(client, api_keys[who])
    features = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(features) == set(shown)
    for code, props in features.items():
        # The value is the one the caller's map shows (published for the planner) ...
        expected = shown[code]["per_1000_adressen"]
        assert props["waarde"] == (None if expected is None else pytest.approx(float(expected))), code
        # ... and an area without one takes no part.
        assert (props["klasse"] == "geen cijfer") == (expected is None or shown[code]["te_weinig_adressen"])
    # Gi* recomputed by hand from those values and the areas that touch.
    taking = sorted(c for c, p in features.items() if p["klasse"] != "geen cijfer")
    with demo_engine.connect() as conn:
        pairs = conn.execute(
            text(
                "SELECT a.code, b.code FROM actueel_gebied a JOIN actueel_gebied b ON a.soort = b.soort"
                " AND a.indeling = b.indeling AND a.code < b.code AND ST_DWithin(a.geom, b.geom, 1)"
                " WHERE a.soort = 'buurt' AND a.indeling = 'cbs'"
            )
        ).all()
    index = {c: i for i, c in enumerate(taking)}
    links = [(index[a], index[b]) for a, b in pairs if a in index and b in index]
    z = hand_gi_star(np.array([features[c]["waarde"] for c in taking]), links)
    assert [features[c]["gi_z"] for c in taking] == pytest.approx(list(np.round(z, 2)), abs=0.011)
    q = benjamini_hochberg([math.erfc(abs(v) / math.sqrt(2)) for v in z])
    for c, qi, zi in zip(taking, q, z, strict=True):
        expected_class = NIET_SIGNIFICANT if qi >= ALPHA else HEET if zi > 0 else KOUD
        assert features[c]["klasse"] == expected_class, c
    legend = {c["klasse"]: c["aantal"] for c in body["legenda"]}
    assert sum(legend.values()) == len(features)
    assert "queen" in body["gewichten"] and "Benjamini-Hochberg" in body["gewichten"]
    if who == "analist":
        assert legend[HEET] > 0, "the demo's synthetic signals cluster in the centre"


def test_hotspots_on_grid_squares_and_nothing_for_another_municipality(
    client: Any, api_keys: dict[str, str]
) -> None:
    body = _hotspots(client, api_keys["analist"], soort="vierkant500")
    assert body["features"] and "middelpunten binnen 750 m" in body["gewichten"]
    assert {c["klasse"] for c in body["legenda"]} == {HEET, KOUD, NIET_SIGNIFICANT, "geen cijfer"}
    elders = client.get("/kaart/hotspots", headers=auth(api_keys["analist_elders"]))
    assert elders.status_code == 200 and elders.json()["features"] == []
    bad = client.get("/kaart/hotspots", params={"soort": "wijk"}, headers=auth(api_keys["analist"]))
    assert bad.status_code == 400 and "soort" in bad.json()["detail"]
    assert client.get("/kaart/hotspots").status_code == 401


def test_the_overview_says_whether_a_buurt_is_a_hotspot(client: Any, api_keys: dict[str, str]) -> None:
    body = _hotspots(client, api_keys["analist"])
    hot = next(f["properties"]["code"] for f in body["features"] if f["properties"]["klasse"] == HEET)
    cold = next(
        f["properties"]["code"] for f in body["features"] if f["properties"]["klasse"] == NIET_SIGNIFICANT
    )
    for code, answer in ((hot, "ja"), (cold, "nee")):
        page = client.get(
            f"/gebieden/{code}", params={"periode": "2024", "f": "html"}, headers=auth(api_keys["analist"])
        )
        assert page.status_code == 200
        assert f"Hotspot (Getis-Ord Gi*, met de buren, FDR 5 %): {answer}" in page.text
