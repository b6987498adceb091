"""``POST /selectie`` under the same rules as a read of points (docs/architecture.md §7):
exact counts over a drawn polygon need a permitted purpose, recorded; a polygon round a
handful of addresses answers the buurt figures only; a polygon has at most 10,000 vertices."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import Engine, text

from tests.conftest import scalar

PERIODE = {"periode": "2024"}


def _newest_audit(engine: Engine) -> Any:
    with engine.connect() as c:
        return c.execute(text("SELECT status, doel, route FROM audit_log ORDER BY id DESC LIMIT 1")).one()


def _buurt_polygon(engine: Engine) -> tuple[dict[str, Any], str]:
    """The outline of the demo buurt with the most signals, in CRS84, and its code."""
    with engine.connect() as c:
        code, shape = c.execute(
            text(
                "SELECT g.code, ST_AsGeoJSON(ST_Transform(g.geom, 4326), 7) FROM actueel_gebied g"
                " JOIN signaal s ON s.buurtcode = g.code WHERE g.soort = 'buurt'"
                " GROUP BY g.code, g.geom ORDER BY count(*) DESC, g.code LIMIT 1"
            )
        ).one()
    return json.loads(shape), code


def test_exact_counts_need_a_permitted_purpose(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    polygon, _ = _buurt_polygon(demo_engine)
    key = api_keys["analist"]
    bare = {"Authorization": f"Bearer {key}"}

    missing = client.post("/selectie", params=PERIODE, json=polygon, headers=bare)
    assert missing.status_code == 400, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "X-Doel" in missing.json()["detail"]
    row = _newest_audit(demo_engine)
    assert (row.status, row.doel, row.route) == (400, None, "/selectie")

    wrong = client.post(
        "/selectie", params=PERIODE, json=polygon, headers={**bare, "X-Doel": "nieuwsgierigheid"}
    )
    assert wrong.status_code == 403, wrong.text
    assert "nieuwsgierigheid" not in wrong.text
    row = _newest_audit(demo_engine)
    assert (row.status, row.doel) == (403, None)

    allowed = client.post("/selectie", params=PERIODE, json=polygon, headers={**bare, "X-Doel": "analyse"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["signalen"] > 0
    row = _newest_audit(demo_engine)
    assert (row.status, row.doel) == (200, "analyse")


def test_planners_need_no_purpose_for_published_figures(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    polygon, _ = _buurt_polygon(demo_engine)
    response = client.post(
        "/selectie", params=PERIODE, json=polygon, headers={"Authorization": f"Bearer {api_keys['planner']}"}
    )
    assert response.status_code == 200, response.text


def test_a_polygon_round_one_address_gives_no_exact_count(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    """A 7 x 11 m rectangle on the address with the most signals: fewer than k addresses, so
    the answer is the buurt sum (no buurt's middle lies in it), never the exact count."""
    with demo_engine.connect() as c:
        x, y, signals = c.execute(
            text(
                "SELECT ST_X(v.geom), ST_Y(v.geom), count(*) FROM signaal s"
                " JOIN verblijfsobject v ON v.id = s.verblijfsobject_id"
                " WHERE s.thema <> 'mensenhandel' AND s.datum >= '2024-01-01' AND s.datum < '2025-01-01'"
                " GROUP BY v.id ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    assert signals >= 2  # the attack this guards against: several signals on one address
    with demo_engine.connect() as c:
        ring = json.loads(
            c.execute(
                text(
                    "SELECT ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(:x - 3.5, :y - 5.5, :x + 3.5, :y + 5.5,"
                    " 28992), 4326), 9)"
                ),
                {"x": x, "y": y},
            ).scalar_one()
        )
    response = client.post("/selectie", params=PERIODE, json=ring, headers=_auth(api_keys["analist"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signalen"] != signals
    assert body["signalen"] is None
    assert body["buurten"] == []
    assert "minder dan" in body["toelichting"]


def test_vertex_cap(client: Any, api_keys: dict[str, str], demo_engine: Engine) -> None:
    """10,000 vertices are accepted; 10,001 are a clear 400 that names the cap."""
    centre = (6.567, 53.219)

    def circle(vertices: int) -> dict[str, Any]:
        # A closed ring repeats its first point: ``vertices`` coordinates in all.
        ring = [
            [centre[0] + 0.004 * math.cos(2 * math.pi * i / (vertices - 1)),
             centre[1] + 0.0025 * math.sin(2 * math.pi * i / (vertices - 1))]
            for i in range(vertices - 1)
        ]  # fmt: skip
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    headers = _auth(api_keys["analist"])
    assert client.post("/selectie", params=PERIODE, json=circle(10_000), headers=headers).status_code == 200
    refused = client.post("/selectie", params=PERIODE, json=circle(10_001), headers=headers)
    assert refused.status_code == 400, refused.text
    assert "10000" in refused.json()["detail"]
    assert scalar(demo_engine, "SELECT status FROM audit_log ORDER BY id DESC LIMIT 1") == 400


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Doel": "analyse"}
