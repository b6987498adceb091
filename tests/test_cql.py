"""OGC API Features Part 3 (Filtering) and its companions (issue #14): queryables, CQL2 text
and JSON filters, ``sortby``, ``properties``, ``ids``, multi-value property filters, filtered
tiles, and the visibility rule on top of all of them.

The property test compares the service with an evaluator written here in Python, over the
features the same key sees unfiltered: the service's SQL translation and this file share no
code, so a mistake in either shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from layers import REGISTRY
from tests.conftest import auth, scalar, zicht_id

TMS = morecantile.tms.get("WebMercatorQuad")
SIGNALEN = REGISTRY["signalen"]
PROBLEM = "application/problem+json"


def items(client: Any, key: str, layer: str = "signalen", **params: Any) -> Any:
    return client.get(f"/collections/{layer}/items", params=params, headers=auth(key))


def all_features(client: Any, key: str, layer: str = "signalen", **params: Any) -> list[dict[str, Any]]:
    """Every feature the key sees with these parameters, page by page."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = items(client, key, layer, limit=1000, offset=offset, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        found.extend(body["features"])
        offset += 1000
        if offset >= body["numberMatched"]:
            return found


# -- queryables ------------------------------------------------------------------------------


def test_queryables_are_a_json_schema_from_the_layer_declaration(
    client: Any, api_keys: dict[str, str]
) -> None:
    r = client.get("/collections/signalen/queryables", headers=auth(api_keys["analist"]))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    doc = r.json()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].endswith("/collections/signalen/queryables")
    assert doc["type"] == "object"
    props = doc["properties"]
    assert set(props) == {p.name for p in SIGNALEN.properties} | {"geometry"}
    assert props["datum"] == {"title": "Datum", "type": "string", "format": "date"}
    assert props["buitengebied"]["type"] == "boolean"
    assert props["geometry"]["format"] == "geometry-point"
    buurten = client.get("/collections/buurten/queryables", headers=auth(api_keys["planner"])).json()
    assert buurten["properties"]["signalen"]["type"] == "integer"
    assert buurten["properties"]["geometry"]["format"] == "geometry-multipolygon"

    # Listed in the collection, declared in the conformance classes, hidden like the layer.
    collection = client.get("/collections/signalen", headers=auth(api_keys["analist"])).json()
    rels = {link["rel"]: link for link in collection["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/queryables"]["href"].endswith("/signalen/queryables")
    conforms = client.get("/conformance").json()["conformsTo"]
    for cls in ("ogcapi-features-3/1.0/conf/queryables", "ogcapi-features-3/1.0/conf/features-filter",
                "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json", "cql2/1.0/conf/basic-cql2"):  # fmt: skip
        assert f"http://www.opengis.net/spec/{cls}" in conforms
    assert (
        client.get("/collections/signalen/queryables", headers=auth(api_keys["planner"])).status_code == 404
    )
    assert client.get("/collections/signalen/queryables").status_code == 401


@pytest.fixture(scope="module")
def live_url(demo_app: Any) -> Iterator[str]:
    """The demo app over real HTTP on a free loopback port (as tests/test_clients.py)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(demo_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_owslib_lists_queryables_and_fetches_a_filtered_page(
    live_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    from owslib.ogcapi.features import Features

    api = Features(live_url, headers={"Authorization": f"Bearer {api_keys['analist']}", "X-Doel": "analyse"})
    queryables = api.collection_queryables("signalen")
    assert {"thema", "datum", "geometry"} <= set(queryables["properties"])
    page = api.collection_items(
        "signalen",
        filter="thema = 'drugs' AND datum >= DATE('2025-01-01') AND buitengebied = false",
        limit=50,
        sortby=("datum", "desc"),
    )
    expected = scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE gemeentecode = 'GM0014' AND thema = 'drugs'"
        " AND datum >= '2025-01-01' AND NOT buitengebied",
    )
    assert page["numberMatched"] == expected > 50
    assert len(page["features"]) == 50
    dates = [f["properties"]["datum"] for f in page["features"]]
    assert dates == sorted(dates, reverse=True)
    assert all(f["properties"]["thema"] == "drugs" for f in page["features"])


# -- the property test -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cond:
    """A generated filter: rendered as CQL2 text and JSON, evaluated in Python (SQL's
    three-valued logic: None is unknown)."""

    text: str
    json: Any
    test: Callable[[dict[str, Any]], bool | None]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _lit_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return f"DATE('{value.isoformat()}')"
    return _quote(value)


def _lit_json(value: Any) -> Any:
    return {"date": value.isoformat()} if isinstance(value, dt.date) else value


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None:
        return None
    return {
        "=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b,
    }[op]  # fmt: skip


def _like(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(out, re.DOTALL)


def _and(parts: list[bool | None]) -> bool | None:
    if any(p is False for p in parts):
        return False
    return None if any(p is None for p in parts) else True


def _or(parts: list[bool | None]) -> bool | None:
    if any(p is True for p in parts):
        return True
    return None if any(p is None for p in parts) else False


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


STRINGS = (
    "bron",
    "thema",
    "soort",
    "dataklasse",
    "convenant",
    "buurtcode",
    "wijkcode",
    "bedrijventerreincode",
)
DATES = ("datum", "einddatum")


def _value(feature: dict[str, Any], name: str) -> Any:
    value = feature["properties"][name]
    return dt.date.fromisoformat(value) if name in DATES and value is not None else value


def conditions(values: dict[str, list[Any]]) -> st.SearchStrategy[Cond]:
    """Leaves over the signal layer's queryables (values seen in the data and a few not),
    combined with AND, OR and NOT."""

    def comparison(draw: Any) -> Cond:
        # Dates most often: their ordering operators are where an off-by-one would hide.
        name = draw(st.sampled_from([*STRINGS, *DATES, *DATES, "datum", "datum", "buitengebied"]))
        if name in DATES:
            op = draw(st.sampled_from(["=", "<>", "<", ">", "<=", ">="]))
            value = draw(st.dates(dt.date(2022, 12, 1), dt.date(2026, 1, 31)))
        elif name == "buitengebied":
            op, value = draw(st.sampled_from(["=", "<>"])), draw(st.booleans())
        else:
            op = draw(st.sampled_from(["=", "<>"]))
            value = draw(st.sampled_from([*values[name], "onbekend", "it's"]))
        return Cond(
            f"{name} {op} {_lit_text(value)}",
            {"op": op, "args": [{"property": name}, _lit_json(value)]},
            lambda f: _compare(op, _value(f, name), value),
        )

    def within(draw: Any) -> Cond:
        name = draw(st.sampled_from(STRINGS))
        chosen = draw(st.lists(st.sampled_from([*values[name], "onbekend"]), min_size=1, max_size=4))
        negate = draw(st.booleans())

        def test(f: dict[str, Any]) -> bool | None:
            v = _value(f, name)
            inside = None if v is None else v in chosen
            return _not(inside) if negate else inside

        listed = ", ".join(_quote(v) for v in chosen)
        json_in = {"op": "in", "args": [{"property": name}, chosen]}
        return Cond(
            f"{name} {'NOT ' if negate else ''}IN ({listed})",
            {"op": "not", "args": [json_in]} if negate else json_in,
            test,
        )

    def between(draw: Any) -> Cond:
        name = draw(st.sampled_from(DATES))
        low, high = sorted(
            draw(st.lists(st.dates(dt.date(2022, 12, 1), dt.date(2026, 1, 31)), min_size=2, max_size=2))
        )

        def test(f: dict[str, Any]) -> bool | None:
            v = _value(f, name)
            return None if v is None else low <= v <= high

        return Cond(
            f"{name} BETWEEN {_lit_text(low)} AND {_lit_text(high)}",
            {"op": "between", "args": [{"property": name}, _lit_json(low), _lit_json(high)]},
            test,
        )

    def like(draw: Any) -> Cond:
        name = draw(st.sampled_from(STRINGS))
        seen = draw(st.sampled_from(values[name]))
        cut = draw(st.integers(0, len(seen)))
        pattern = draw(
            st.sampled_from([seen[:cut] + "%", "%" + seen[cut:], seen[:cut] + "_" + seen[cut + 1 :]])
        )
        matcher = _like(pattern)

        def test(f: dict[str, Any]) -> bool | None:
            v = _value(f, name)
            return None if v is None else bool(matcher.fullmatch(v))

        return Cond(
            f"{name} LIKE {_quote(pattern)}", {"op": "like", "args": [{"property": name}, pattern]}, test
        )

    def is_null(draw: Any) -> Cond:
        name = draw(st.sampled_from([*STRINGS, *DATES]))
        negate = draw(st.booleans())
        test = (lambda f: _value(f, name) is not None) if negate else (lambda f: _value(f, name) is None)
        json_null = {"op": "isNull", "args": [{"property": name}]}
        return Cond(
            f"{name} IS {'NOT ' if negate else ''}NULL",
            {"op": "not", "args": [json_null]} if negate else json_null,
            test,
        )

    leaves = st.one_of(*(st.composite(make)() for make in (comparison, within, between, like, is_null)))

    def combine(children: st.SearchStrategy[Cond]) -> st.SearchStrategy[Cond]:
        def junction(op: str) -> st.SearchStrategy[Cond]:
            def build(parts: list[Cond]) -> Cond:
                join = _and if op == "and" else _or
                return Cond(
                    "(" + f" {op.upper()} ".join(p.text for p in parts) + ")",
                    {"op": op, "args": [p.json for p in parts]},
                    lambda f: join([p.test(f) for p in parts]),
                )

            return st.lists(children, min_size=2, max_size=3).map(build)

        negation = children.map(
            lambda c: Cond(f"NOT ({c.text})", {"op": "not", "args": [c.json]}, lambda f: _not(c.test(f)))
        )
        return st.one_of(junction("and"), junction("or"), negation)

    return st.recursive(leaves, combine, max_leaves=6)


@pytest.fixture(scope="module")
def analyst_signals(client: Any, api_keys: dict[str, str]) -> list[dict[str, Any]]:
    """Every signal the analyst sees, unfiltered: the data the evaluator filters."""
    return all_features(client, api_keys["analist"])


def test_generated_filters_equal_the_same_filter_in_python(
    client: Any, api_keys: dict[str, str], analyst_signals: list[dict[str, Any]]
) -> None:
    values = {
        name: sorted({f["properties"][name] for f in analyst_signals if f["properties"][name] is not None})
        for name in STRINGS
    }
    key = api_keys["analist"]

    @given(cond=conditions(values), lang=st.sampled_from(["cql2-text", "cql2-json"]))
    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(cond: Cond, lang: str) -> None:
        expected = {f["id"] for f in analyst_signals if cond.test(f) is True}
        given_filter = cond.text if lang == "cql2-text" else json.dumps(cond.json)
        r = items(client, key, filter=given_filter, **{"filter-lang": lang}, limit=1000, properties="")
        assert r.status_code == 200, (given_filter, r.text)
        body = r.json()
        assert body["numberMatched"] == len(expected), given_filter
        returned = {f["id"] for f in body["features"]}
        assert len(returned) == min(1000, len(expected))
        assert returned <= expected, given_filter

    check()
