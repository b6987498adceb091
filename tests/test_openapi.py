"""The published API document (``/api``) says where a purpose (doelbinding) is asked for.

A client learns from the document that it must state a purpose, and how: header ``X-Doel``
or parameter ``doel``. So every operation that can serve data below aggregate level lists
both, and no other operation lists either (the map page only chooses the purpose of the tiles
it writes, in its query). The document is checked against behaviour too: the operations that
refuse a request without a purpose are exactly the documented ones that read a layer.
"""

from __future__ import annotations

import re
from typing import Any

import morecantile
import pytest
from sqlalchemy import Engine

from layers import REGISTRY
from tests.conftest import auth, scalar

TMS = morecantile.tms.get("WebMercatorQuad")
#: Operations that can serve data below aggregate level (docs/architecture.md §7): a layer's objects and
#: tiles (a point layer's need a purpose) and exact counts over a drawn polygon.
TAKES_PURPOSE = {
    ("get", "/collections/{collection_id}/items"),
    ("get", "/collections/{collection_id}/items/{feature_id}"),
    ("get", "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}"),
    ("post", "/selectie"),
}
#: The map page, TileJSON and styles take the purpose for the point tiles they address, from
#: their query only.
CHOOSES_PURPOSE = {
    ("get", "/kaart"),
    ("get", "/collections/{collection_id}/tiles/{tms_id}"),
    ("get", "/collections/{collection_id}/styles/{style_id}"),
}
HEADER, QUERY = ("X-Doel", "header"), ("doel", "query")


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def _parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["name"], p["in"]): p for p in operation.get("parameters", [])}


@pytest.fixture(scope="module")
def document(client: Any) -> dict[str, Any]:
    response = client.get("/api")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_operations_that_serve_objects_document_the_purpose_both_ways(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert set(operations) >= TAKES_PURPOSE | CHOOSES_PURPOSE, "an operation was renamed"
    for key in TAKES_PURPOSE:
        parameters = _parameters(operations[key])
        for name in (HEADER, QUERY):
            assert name in parameters, (key, name)
            # Optional in the document: an aggregate layer needs none; the layer decides.
            assert not parameters[name].get("required"), (key, name)
            assert "doel" in parameters[name]["description"].lower(), (key, name)


def test_no_other_operation_lists_a_purpose(document: dict[str, Any]) -> None:
    for key, operation in _operations(document).items():
        if key in TAKES_PURPOSE:
            continue
        parameters = _parameters(operation)
        assert HEADER not in parameters, key
        assert "x-doel" not in {name.lower() for name, _ in parameters}, key
        if key in CHOOSES_PURPOSE:
            assert QUERY in parameters, key
        else:
            assert QUERY not in parameters, key


def _signal(engine: Engine) -> tuple[str, float, float]:
    """A signal the analyst may see, with its position in CRS84."""
    source = REGISTRY["signalen"].source
    where = "gemeentecode = 'GM0014' AND dataklasse = 'vertrouwelijk'"
    feature_id = scalar(engine, f"SELECT min(id) FROM {source} WHERE {where}")
    lon = scalar(engine, f"SELECT ST_X(ST_Transform(geom, 4326)) FROM {source} WHERE id = :i", i=feature_id)
    lat = scalar(engine, f"SELECT ST_Y(ST_Transform(geom, 4326)) FROM {source} WHERE id = :i", i=feature_id)
    return str(feature_id), float(lon), float(lat)


def _request_for(path: str, operation: dict[str, Any], values: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A concrete address for an operation on the signal layer, with its required parameters."""
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    required = {
        p["name"]: values.get(p["name"], "buurt")
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    return url, required


def test_the_operations_that_refuse_a_missing_purpose_are_the_documented_ones(
    client: Any, demo_engine: Engine, document: dict[str, Any], api_keys: dict[str, str]
) -> None:
    """Every GET operation, asked for the signal layer by an analyst without a purpose."""
    key = api_keys["analist"]
    bare = {"Authorization": f"Bearer {key}"}
    feature_id, lon, lat = _signal(demo_engine)
    t = TMS.tile(lon, lat, max(REGISTRY["signalen"].minzoom, 14))
    buurt = scalar(demo_engine, "SELECT min(code) FROM gebied WHERE soort = 'buurt'")
    values = {
        "collection_id": "signalen", "feature_id": feature_id, "tms_id": "WebMercatorQuad",
        "z": str(t.z), "x": str(t.x), "y": str(t.y), "code": buurt, "soort": "buurt",
        "style_id": "standaard",
    }  # fmt: skip
    refusing, documented = set(), set()
    for (method, path), operation in _operations(document).items():
        if method != "get" or operation.get("x-toegang") == "open":
            continue
        if HEADER in _parameters(operation):
            documented.add(path)
        url, params = _request_for(path, operation, values)
        response = client.get(url, params=params, headers=bare)
        if response.status_code == 400 and "X-Doel" in response.json()["detail"]:
            refusing.add(path)
            stated = client.get(url, params=params, headers=auth(key))
            assert stated.status_code == 200, (path, stated.text)
            as_parameter = client.get(url, params={**params, "doel": "analyse"}, headers=bare)
            assert as_parameter.status_code == 200, (path, as_parameter.text)
            wrong = client.get(url, params=params, headers={**bare, "X-Doel": "nieuwsgierigheid"})
            assert wrong.status_code == 403, path
    assert refusing, "no operation asked for a purpose"
    assert refusing == documented, (refusing, documented)
