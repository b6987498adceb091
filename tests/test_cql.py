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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
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
        " AND datum >= '2025-01-01' AND NOT buitengebied AND dataklasse <> 'zeer_vertrouwelijk'",
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
    # Days that occur in the data (where < and <= differ), and any day around them.
    days = st.one_of(st.sampled_from(values["datum"]), st.dates(dt.date(2022, 12, 1), dt.date(2026, 1, 31)))

    def comparison(draw: Any) -> Cond:
        # Dates most often: their ordering operators are where an off-by-one would hide.
        name = draw(st.sampled_from([*STRINGS, *DATES, *DATES, "datum", "datum", "buitengebied"]))
        if name in DATES:
            op = draw(st.sampled_from(["=", "<>", "<", ">", "<=", ">="]))
            value = draw(days)
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
        low, high = sorted(draw(st.lists(days, min_size=2, max_size=2)))

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
    values["datum"] = sorted({_value(f, "datum") for f in analyst_signals})
    key = api_keys["analist"]

    @given(cond=conditions(values), lang=st.sampled_from(["cql2-text", "cql2-json"]))
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
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


# -- bad filters -----------------------------------------------------------------------------

DEEP_TEXT = "(" * 5000 + "thema = 'drugs'" + ")" * 5000
DEEP_NOT = "NOT " * 1900 + "thema = 'drugs'"
DEEP_JSON = '{"op":"not","args":[' * 2000 + '{"op":"=","args":[{"property":"thema"},"drugs"]}' + "]}" * 2000


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"filter": "onbekend = 'x'"}, "bestaat niet in laag 'signalen'"),
        ({"filter": "zicht_id = 1"}, "bestaat niet"),
        ({"filter": "thema = 3"}, "thema is tekst"),
        ({"filter": "datum = '2024-01-01'"}, "DATE('2024-01-31')"),
        ({"filter": "buitengebied > true"}, "alleen = en <>"),
        ({"filter": "buitengebied = 'ja'"}, "waar of onwaar"),
        ({"filter": "thema LIKE 3"}, "LIKE kan alleen op tekst"),
        ({"filter": "thema LIKE 'drugs\\'"}, "backslash"),
        ({"filter": "datum = DATE('2024-02-30')"}, "geen datum"),
        ({"filter": "S_INTERSECTS(thema, POINT(6.5 53.2))"}, "vergelijkt de geometrie"),
        ({"filter": "geometry = 'x'"}, "S_INTERSECTS"),
        ({"filter": "T_INTERSECTS(thema, DATE('2024-01-01'))"}, "alleen op een datum"),
        ({"filter": "CASEI(thema) = 'drugs'"}, "niet ondersteund"),
        ({"filter": "datum + 1 > DATE('2024-01-01')"}, "niet ondersteund"),
        ({"filter": "'drugs' = 'drugs'"}, "ten minste één eigenschap"),
        ({"filter": "thema IN ()"}, "geen geldige CQL2-tekst"),
        # Injection attempts: refused by the parser, never part of the SQL text.
        ({"filter": "thema = 'x'; DROP TABLE signaal; --"}, "geen geldige CQL2-tekst"),
        ({"filter": "thema = 'x' OR 1=1 --"}, "geen geldige CQL2-tekst"),
        ({"filter": "thema = x) OR (1 = 1"}, "geen geldige CQL2-tekst"),
        ({"filter": "pg_sleep(10) = 1"}, "niet ondersteund"),
        ({"filter": '"thema; DELETE FROM audit_log" = 1'}, "bestaat niet"),
        ({"filter": "S_INTERSECTS(geometry, POLYGON((6 53, 7 54, 6 54, 7 53, 6 53)))"}, "ongeldig"),
        ({"filter": "S_INTERSECTS(geometry, BBOX(7, 53, 6, 54))"}, "ongeldig"),
        ({"filter": DEEP_TEXT}, "te lang"),
        ({"filter": "(" * 30 + "thema = 'drugs'" + ")" * 30}, "te diep genest"),
        ({"filter": DEEP_NOT}, "te diep genest"),
        ({"filter": DEEP_JSON[:7000] + "x", "filter-lang": "cql2-json"}, "geen geldige JSON"),
        (
            {"filter": '{"op":"not","args":[' * 100 + "true" + "]}" * 100, "filter-lang": "cql2-json"},
            "te diep",
        ),
        (
            {"filter": '{"op":"=","args":[{"property":"thema"},"a\\u0000b"]}', "filter-lang": "cql2-json"},
            "NUL",
        ),
        ({"filter": '{"op":"not","args":[]}', "filter-lang": "cql2-json"}, "argumenten"),
        (
            {"filter": '{"op":"in","args":[{"property":"thema"},"drugs"]}', "filter-lang": "cql2-json"},
            "lijst",
        ),
        ({"filter": "[1, 2]", "filter-lang": "cql2-json"}, "voorwaarde"),
        ({"filter": "thema = 'drugs'", "filter-lang": "ecql"}, "filter-lang"),
        ({"filter": "thema = 'drugs'", "filter-crs": "EPSG:3857"}, "filter-crs"),
        ({"filter": " "}, "leeg"),
        ({"sortby": "-onbekend"}, "sortby"),
        ({"sortby": "a,b,c,d,e,f"}, "te veel"),
        ({"properties": "thema,geheim"}, "geheim"),
        ({"ids": ","}, "ids is leeg"),
    ],
)
def test_bad_filters_are_problems_not_errors(
    client: Any, api_keys: dict[str, str], demo_engine: Engine, params: dict[str, str], detail: str
) -> None:
    before = scalar(demo_engine, "SELECT count(*) FROM signaal")
    r = items(client, api_keys["analist"], **params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert detail in r.json()["detail"]
    assert scalar(demo_engine, "SELECT count(*) FROM signaal") == before


def test_an_injection_inside_a_string_is_only_a_value(client: Any, api_keys: dict[str, str]) -> None:
    for value in ("x' OR '1'='1", "drugs'; DROP TABLE signaal; --", "%' OR thema LIKE '%"):
        quoted = "'" + value.replace("'", "''") + "'"
        for condition in (f"thema = {quoted}", f"thema LIKE {quoted}", f"thema IN ({quoted}, 'y')"):
            r = items(client, api_keys["analist"], filter=condition)
            assert r.status_code == 200, r.text
            assert r.json()["numberMatched"] == 0, condition


def test_the_parser_never_meets_deep_nesting(client: Any, api_keys: dict[str, str]) -> None:
    # The parser recurses; at a few thousand levels it would overflow its stack and take the
    # process down. Within the length cap, the nesting cap refuses it first, also on tiles.
    deep = "(" * 3900 + "thema = 'drugs'" + ")" * 3900
    assert items(client, api_keys["analist"], filter=deep).status_code == 400
    tile = client.get(
        "/collections/signalen/tiles/WebMercatorQuad/14/8470/5385",
        params={"filter": deep},
        headers=auth(api_keys["analist"]),
    )
    assert tile.status_code == 400 and tile.headers["content-type"] == PROBLEM
    assert items(client, api_keys["analist"], filter="thema = 'drugs'").status_code == 200


# -- spatial and temporal --------------------------------------------------------------------


def test_s_intersects_equals_the_same_test_in_sql(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    boxes = [(6.55, 53.20, 6.57, 53.225), (6.50, 53.15, 6.62, 53.26), (6.0, 52.0, 6.1, 52.1)]
    for x0, y0, x1, y1 in boxes:
        expected = scalar(
            demo_engine,
            "SELECT count(*) FROM laag_signaal WHERE gemeentecode = 'GM0014' AND ST_Intersects(geom,"
            " ST_Transform(ST_Segmentize(ST_MakeEnvelope(:a, :b, :c, :d, 4326)::geography, 500)::geometry, 28992))",
            a=x0, b=y0, c=x1, d=y1,
        )  # fmt: skip
        text_filter = f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))"
        polygon = f"S_INTERSECTS(geometry, POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0})))"
        for condition in (text_filter, polygon):
            body = items(client, api_keys["beheerder"], filter=condition, limit=1).json()
            assert body["numberMatched"] == expected, condition
    # The same box in RD New, with filter-crs.
    rd = (233_000, 581_000, 235_000, 583_000)
    expected = scalar(
        demo_engine,
        "SELECT count(*) FROM laag_signaal WHERE gemeentecode = 'GM0014'"
        " AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 28992))",
        a=rd[0], b=rd[1], c=rd[2], d=rd[3],
    )  # fmt: skip
    body = items(
        client,
        api_keys["beheerder"],
        filter=json.dumps({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(rd)}]}),
        **{"filter-lang": "cql2-json", "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/28992"},
        limit=1,
    ).json()
    assert body["numberMatched"] == expected > 0
    # A box around the world is clipped to the data's domain, not an error.
    world = items(
        client, api_keys["beheerder"], filter="S_INTERSECTS(geometry, BBOX(-180, -90, 180, 90))", limit=1
    )
    assert (
        world.json()["numberMatched"] == items(client, api_keys["beheerder"], limit=1).json()["numberMatched"]
    )


def test_t_intersects_takes_days_and_intervals(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    def count(where: str) -> int:
        return int(
            scalar(
                demo_engine, f"SELECT count(*) FROM laag_signaal WHERE gemeentecode = 'GM0014' AND {where}"
            )
        )

    cases = {
        "T_INTERSECTS(datum, DATE('2024-03-01'))": "datum = '2024-03-01'",
        "T_INTERSECTS(datum, INTERVAL('2024-01-01', '2024-03-31'))": "datum BETWEEN '2024-01-01' AND '2024-03-31'",
        "T_INTERSECTS(datum, INTERVAL('2025-06-01', '..'))": "datum >= '2025-06-01'",
        "T_INTERSECTS(datum, TIMESTAMP('2024-03-01T23:30:00Z'))": "datum = '2024-03-01'",
        "datum BETWEEN DATE('2024-01-01') AND DATE('2024-01-31')": "datum BETWEEN '2024-01-01' AND '2024-01-31'",
    }
    for condition, where in cases.items():
        body = items(client, api_keys["beheerder"], filter=condition, limit=1).json()
        assert body["numberMatched"] == count(where) > 0, condition


# -- the visibility rule on top ----------------------------------------------------------------


def test_a_filter_only_narrows_what_a_partner_may_see(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["partner_riec"]
    everything = items(client, key, limit=1).json()["numberMatched"]
    assert items(client, key, filter="true", limit=1).json()["numberMatched"] == everything
    assert items(client, key, filter="convenant = 'zorg' OR convenant <> 'zorg' OR convenant IS NULL",
                 limit=1).json()["numberMatched"] == everything  # fmt: skip
    assert items(client, key, filter="convenant = 'zorg'", limit=1).json()["numberMatched"] == 0
    assert (
        items(client, key, filter="dataklasse = 'zeer_vertrouwelijk'", limit=1).json()["numberMatched"] == 0
    )
    analyst = items(client, api_keys["analist"], filter="convenant = 'zorg'", limit=1).json()["numberMatched"]
    assert analyst > 0


def test_a_filter_on_a_withheld_figure_is_no_oracle(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    planner = api_keys["planner"]
    base = {"periode": "2024", "thema": "alle"}
    shown = all_features(client, planner, "buurten", **base)
    # Rows whose exact count is small (withheld for the planner) exist, and the analyst finds
    # them by their exact count.
    with demo_engine.connect() as c:
        small = c.execute(
            text(
                "SELECT code, signalen FROM indicator_zicht WHERE zicht_id = :z AND gebied_soort = 'buurt'"
                " AND periode = '2024' AND thema = 'alle' AND signalen BETWEEN 1 AND 9 ORDER BY code LIMIT 5"
            ),
            {"z": zicht_id(demo_engine, planner)},
        ).all()
    assert small
    for code, exact in small:
        # The planner's own row, computed from the signals it could see: there, shown withheld.
        row = items(client, planner, "buurten", filter=f"code = '{code}'", **base).json()["features"]
        assert [f["properties"]["signalen"] for f in row] == [None]
        condition = f"code = '{code}' AND signalen = {exact}"
        assert items(client, planner, "buurten", filter=condition, **base).json()["numberMatched"] == 0
        within = f"code = '{code}' AND signalen BETWEEN 1 AND 9"
        assert items(client, planner, "buurten", filter=within, **base).json()["numberMatched"] == 0

    # Every filter and sort a planner gives works on the figures as published.
    def ids(**params: Any) -> list[str]:
        return [f["id"] for f in all_features(client, planner, "buurten", **base, **params)]

    def value(f: dict[str, Any], name: str) -> Any:
        return f["properties"][name]

    checks: dict[str, Callable[[dict[str, Any]], bool]] = {
        "signalen < 10": lambda f: value(f, "signalen") is not None and value(f, "signalen") < 10,
        "signalen IS NULL": lambda f: value(f, "signalen") is None,
        "signalen >= 15 AND per_1000_adressen > 5": lambda f: (
            (value(f, "signalen") or 0) >= 15 and (value(f, "per_1000_adressen") or 0) > 5
        ),
        "z > 2 OR afwijkend = true": lambda f: (value(f, "z") or 0) > 2 or value(f, "afwijkend") is True,
        "trend_z IS NOT NULL": lambda f: value(f, "trend_z") is not None,
    }
    for condition, test in checks.items():
        assert sorted(ids(filter=condition)) == sorted(f["id"] for f in shown if test(f)), condition
    ordered = all_features(client, planner, "buurten", **base, sortby="-signalen")
    counts = [value(f, "signalen") for f in ordered]
    published = [c for c in counts if c is not None]
    assert published == sorted(published, reverse=True) and all(c % 5 == 0 for c in published)
    assert counts[len(published) :] == [None] * (len(counts) - len(published))  # withheld last


# -- sortby, properties, ids, several values ---------------------------------------------------


def test_sortby_properties_and_ids(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    page = items(client, key, sortby="thema,-datum", limit=1000, properties="thema,datum").json()
    rows = [(f["properties"]["thema"], f["properties"]["datum"]) for f in page["features"]]
    assert all(set(f["properties"]) == {"thema", "datum"} for f in page["features"])
    assert rows == sorted(rows, key=lambda r: (r[0], [-ord(ch) for ch in r[1]]))
    # '+' arrives as a space in a query string: still ascending.
    up = items(client, key, sortby="+datum", limit=5).json()["features"]
    assert [f["properties"]["datum"] for f in up] == sorted(f["properties"]["datum"] for f in up)
    assert up[0]["properties"]["datum"] == "2023-01-01"

    chosen = [f["id"] for f in page["features"][:3]]
    found = items(client, key, ids=",".join(chosen)).json()
    assert sorted(f["id"] for f in found["features"]) == sorted(chosen) and found["numberMatched"] == 3
    # ids cannot reach what the key may not see: a zorg partner asks for riec signals.
    assert items(client, api_keys["partner_zorg"], ids=",".join(chosen)).json()["numberMatched"] == 0

    csv = client.get("/collections/signalen/items", params={"f": "csv", "properties": "thema", "limit": 2},
                     headers=auth(key))  # fmt: skip
    assert csv.text.splitlines()[0] == "id,thema,geometrie"
    assert set(items(client, key, properties="", limit=1).json()["features"][0]["properties"]) == set()


def test_a_sorted_walk_by_next_links_returns_every_item_once_in_order(
    client: Any, api_keys: dict[str, str]
) -> None:
    """Next links of an id-ordered page carry a cursor; a page sorted by ``sortby`` cannot
    (a cursor holds an id), so its next link goes on by offset, and a cursor with a sort is
    refused rather than silently restarting."""
    key = api_keys["analist"]
    first = items(client, key, sortby="-datum", limit=500, thema="drugs").json()
    walked, page, pages = list(first["features"]), first, 1
    while True:
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        assert "cursor=" not in nxt[0] and "offset=" in nxt[0]
        page = client.get(nxt[0], headers=auth(key)).json()
        walked += page["features"]
        pages += 1
    ids = [f["id"] for f in walked]
    assert pages > 1 and len(ids) == len(set(ids)) == first["numberMatched"]
    days = [f["properties"]["datum"] for f in walked]
    assert days == sorted(days, reverse=True)
    plain = items(client, key, limit=500, thema="drugs").json()
    cursor_link = next(link["href"] for link in plain["links"] if link["rel"] == "next")
    assert "cursor=" in cursor_link
    refused = client.get(cursor_link + "&sortby=-datum", headers=auth(key))
    assert refused.status_code == 400 and "sortby" in refused.json()["detail"]


def test_several_values_of_a_property_filter_mean_any_of_them(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]

    def matched(**params: Any) -> int:
        return int(items(client, key, limit=1, **params).json()["numberMatched"])

    both = matched(thema="drugs,vastgoed")
    assert both == matched(thema="drugs") + matched(thema="vastgoed") > 0
    assert both == matched(filter="thema IN ('drugs', 'vastgoed')")


# -- tiles -------------------------------------------------------------------------------------


def test_tiles_take_the_same_filter(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["analist"]
    some = items(client, key, filter="thema = 'drugs'", limit=1).json()["features"][0]
    lon, lat = some["geometry"]["coordinates"]
    t = TMS.tile(lon, lat, 15)  # single points from zoom 15; below it the tile holds clusters
    url = f"/collections/signalen/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"

    def tile(**params: Any) -> Any:
        r = client.get(url, params=params, headers=auth(key))
        assert r.status_code == 200, r.text
        return r

    whole, drugs = tile(), tile(filter="thema = 'drugs'")
    assert whole.headers["etag"] != drugs.headers["etag"]
    json_drugs = tile(filter=json.dumps({"op": "=", "args": [{"property": "thema"}, "drugs"]}),
                      **{"filter-lang": "cql2-json"})  # fmt: skip
    assert json_drugs.content == drugs.content

    def themes(r: Any) -> list[str]:
        decoded = mapbox_vector_tile.decode(r.content)
        return [f["properties"]["thema"] for f in decoded.get("signalen", {}).get("features", [])]

    assert set(themes(drugs)) == {"drugs"}
    assert len(themes(whole)) > len(themes(drugs)) > 0
    assert themes(tile(filter="thema = 'geen'")) == []
    assert client.get(url, params={"filter": "geheim = 1"}, headers=auth(key)).status_code == 400


# -- fuzz ----------------------------------------------------------------------------------------

SEEDS = (
    "thema = 'drugs' AND datum >= DATE('2024-01-01')",
    "soort IN ('melding', 'schouw') OR NOT (einddatum IS NULL)",
    "bron LIKE 'pol%' AND S_INTERSECTS(geometry, BBOX(6.5, 53.2, 6.6, 53.25))",
    "T_INTERSECTS(datum, INTERVAL('2024-01-01', '..')) AND buitengebied = true",
)


@st.composite
def mangled(draw: Any) -> str:
    """A valid filter with a few characters inserted, replaced or removed."""
    text_ = list(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text_)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        char = draw(
            st.sampled_from(
                [*list("()',%_\\\"-+*/.: 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZé"), "\u2028", "\x01"]
            )
        )
        if action == "insert":
            text_.insert(at, char)
        elif text_ and at < len(text_):
            if action == "replace":
                text_[at] = char
            else:
                del text_[at]
    return "".join(text_)


def test_mangled_filters_are_answered_never_with_a_server_error(
    client: Any, api_keys: dict[str, str]
) -> None:
    # Through the service and the database: a translation the parser lets through must not
    # make PostgreSQL fail either (a LIKE pattern, a geometry, a date out of range).
    key = api_keys["analist"]

    @given(filter_=st.one_of(mangled(), st.text(max_size=200)))
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(filter_: str) -> None:
        r = items(client, key, filter=filter_, limit=1)
        assert r.status_code in (200, 400), (filter_, r.status_code, r.text)
        if r.status_code == 400:
            assert r.headers["content-type"] == PROBLEM

    check()


def test_csv_and_html_take_the_filter(client: Any, api_keys: dict[str, str]) -> None:
    # CSV goes through COPY, which binds its parameters otherwise: every kind of value once.
    condition = (
        "datum >= DATE('2024-01-01') AND thema IN ('drugs', 'vastgoed') AND buitengebied = false"
        " AND S_INTERSECTS(geometry, BBOX(6.5, 53.2, 6.6, 53.25)) AND bron LIKE 'pol%'"
    )
    key = api_keys["analist"]
    expected = items(client, key, filter=condition, limit=1).json()["numberMatched"]
    assert expected > 0
    csv = client.get(
        "/collections/signalen/items",
        params={"f": "csv", "filter": condition, "limit": 1000, "sortby": "-datum"},
        headers=auth(key),
    )
    assert csv.status_code == 200, csv.text
    lines = csv.text.splitlines()
    assert len(lines) - 1 == min(expected, 1000)
    planner = client.get(
        "/collections/buurten/items",
        params={"f": "csv", "filter": "signalen > 20.5 AND per_1000_adressen >= 0", "periode": "2024"},
        headers=auth(api_keys["planner"]),
    )
    assert planner.status_code == 200, planner.text
    html = client.get(
        "/collections/signalen/items",
        params={"f": "html", "filter": condition, "properties": "thema", "limit": 5},
        headers=auth(key),
    )
    assert html.status_code == 200
    assert "vastgoed" in html.text or "drugs" in html.text


def test_a_translated_filter_is_remembered_per_layer_and_a_faulty_one_never() -> None:
    """app.cql.parse keeps translations (a paging client repeats its filter): the same text on
    the same layer is the same translation; on another layer, or in another CRS, its own; a
    filter that fails fails every time, with the same Dutch detail."""
    from app import cql
    from app.errors import BadRequestError

    signalen, leegstand = REGISTRY["signalen"], REGISTRY["leegstand"]
    first = cql.parse("soort = 'melding'", "cql2-text", signalen, 4326)
    assert cql.parse("soort = 'melding'", "cql2-text", signalen, 4326) is first
    assert first == cql.translate("soort = 'melding'", "cql2-text", signalen, 4326)
    other = cql.parse("soort = 'melding'", "cql2-text", leegstand, 4326)
    assert other is not first
    assert cql.parse("soort = 'melding'", "cql2-text", signalen, 28992) is not first
    details = []
    for _ in range(2):
        with pytest.raises(BadRequestError) as raised:
            cql.parse("onbekend = 1", "cql2-text", signalen, 4326)
        details.append(str(raised.value))
    assert details[0] == details[1]
    assert not any(key[0] == "onbekend = 1" for key in cql._cache)
