"""A JSON items page started before the dependencies run (app/items_early.py) answers exactly
as the route does, and the features PostgreSQL writes as text are the GeoJSON they were.

Every request below is sent twice, once as it comes (the early path answers what it may) and
once with the early path switched off (the ordinary route and its dependencies): the status,
the body (but for its time stamp), ``Content-Crs`` and the audit row written must be the same.
"""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from app import items_early, layer_sql
from tests.conftest import PRINCIPALS, auth

ITEMS = "/collections/signalen/items"
#: A small box in the city centre (a few hundred signals in the demo data).
BOX = "6.555,53.212,6.575,53.225"


@pytest.fixture(scope="module")
def keys(demo_engine: Engine) -> dict[str, tuple[str, int]]:
    """Keys of this module's own (the requests count against no other module's rate limit),
    with their principal ids."""
    from core.security import create_principal_key

    found = {}
    with demo_engine.begin() as conn:
        for name in ("beheerder", "planner", "partner_riec"):
            spec: dict[str, Any] = {**PRINCIPALS[name]}
            key, pid = create_principal_key(conn, naam=f"test-early-{name}-{time.monotonic_ns()}", **spec)
            found[name] = (key, pid)
    return found


def _last_row(engine: Engine, principal_id: int) -> dict[str, Any] | None:
    with engine.connect() as c:
        row = (
            c.execute(
                text(
                    "SELECT methode, route, laag, doel, bbox, aantal, object_ids, status, principal_id"
                    " FROM audit_log WHERE principal_id = :p ORDER BY id DESC LIMIT 1"
                ),
                {"p": principal_id},
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def _answer(client: Any, engine: Engine, url: str, headers: dict[str, str], pid: int) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    body: Any = response.content
    if response.headers.get("content-type", "").startswith(("application/geo+json", "application/problem")):
        body = response.json()
        if isinstance(body, dict):
            body.pop("timeStamp", None)
    return {
        "status": response.status_code,
        "type": response.headers.get("content-type"),
        "crs": response.headers.get("content-crs"),
        "body": body,
        "row": _last_row(engine, pid),
    }


def _both(
    client: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch, url: str, headers: dict[str, str], pid: int
) -> tuple[dict[str, Any], dict[str, Any], list[bool]]:
    """The answer with the early path, the answer without, and whether the early path answered."""
    answered: list[bool] = []
    plain = items_early.answer_plain

    async def watched(request: Any) -> Any:
        result = await plain(request)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(items_early, "answer_plain", watched)
    early = _answer(client, engine, url, headers, pid)

    async def declined(_request: Any) -> None:
        return None

    monkeypatch.setattr(items_early, "answer_plain", declined)
    ordinary = _answer(client, engine, url, headers, pid)
    monkeypatch.setattr(items_early, "answer_plain", plain)
    return early, ordinary, answered


#: (who, url, headers beyond the key: None for the key's own purpose)
CASES: list[tuple[str, str, dict[str, str] | None]] = [
    ("beheerder", f"{ITEMS}?limit=100&bbox={BOX}", None),
    ("beheerder", f"{ITEMS}?limit=7&bbox={BOX}&crs=EPSG:4326", None),
    (
        "beheerder",
        f"{ITEMS}?limit=7&bbox=233000,581000,235000,583000&bbox-crs=EPSG:28992&crs=EPSG:28992",
        None,
    ),
    ("beheerder", f"{ITEMS}?limit=5&offset=3&bbox={BOX}", None),
    ("beheerder", f"{ITEMS}?limit=5&offset=100000&bbox={BOX}", None),
    ("beheerder", f"{ITEMS}?limit=5&cursor=MTAwMA&bbox={BOX}", None),
    ("beheerder", f"{ITEMS}?limit=5", None),
    ("beheerder", f"{ITEMS}?limit=5000&bbox={BOX}", None),
    ("beheerder", f"{ITEMS}?limit=0", None),
    ("beheerder", f"{ITEMS}?limit=-3", None),
    ("beheerder", f"{ITEMS}?limit=abc", None),
    ("beheerder", f"{ITEMS}?limit=%2B5", None),
    ("beheerder", f"{ITEMS}?limit=", None),
    ("beheerder", f"{ITEMS}?limit=5&limit=6", None),
    ("beheerder", f"{ITEMS}?offset=-1", None),
    ("beheerder", f"{ITEMS}?cursor=%21%21", None),
    ("beheerder", f"{ITEMS}?cursor={'A' * 401}", None),
    ("beheerder", f"{ITEMS}?crs=EPSG:3857", None),
    ("beheerder", f"{ITEMS}?bbox=1,2,3", None),
    ("beheerder", f"{ITEMS}?bbox=3,50,7,54", None),
    ("beheerder", f"{ITEMS}?limit=5&bbox={BOX}&datetime=2024-01-01/..", None),
    ("beheerder", f"{ITEMS}?limit=5&datetime=gisteren", None),
    ("beheerder", f"{ITEMS}?limit=5&bbox={BOX}&thema=drugs,vastgoed", None),
    ("beheerder", f"{ITEMS}?limit=5&kleur=rood", None),
    ("beheerder", f"{ITEMS}?limit=5&bbox={BOX}&filter=thema%3D%27drugs%27", None),
    ("beheerder", f"{ITEMS}?limit=5&filter=thema%3D%3D", None),
    ("beheerder", f"{ITEMS}?limit=5&filter-lang=cql3", None),
    ("beheerder", f"{ITEMS}?limit=5&bbox={BOX}&sortby=-datum,thema", None),
    ("beheerder", f"{ITEMS}?limit=5&sortby=-datum&cursor=MTAwMA", None),
    ("beheerder", f"{ITEMS}?limit=5&sortby=kleur", None),
    ("beheerder", f"{ITEMS}?limit=5&bbox={BOX}&properties=thema,datum", None),
    ("beheerder", f"{ITEMS}?limit=5&properties=kleur", None),
    ("beheerder", f"{ITEMS}?ids=1,2,3,bestaat-niet", None),
    ("beheerder", f"{ITEMS}?limit=5&f=json", None),
    ("beheerder", f"{ITEMS}?limit=5&f=html", None),
    ("beheerder", f"{ITEMS}?limit=5&f=xml", None),
    ("beheerder", f"{ITEMS}?limit=5&f=csv", None),
    ("beheerder", f"{ITEMS}?limit=5", {"Accept": "text/html"}),
    ("beheerder", f"{ITEMS}?limit=5", {"X-Doel": ""}),
    ("beheerder", f"{ITEMS}?limit=5", {"X-Doel": "opsporing"}),
    ("beheerder", f"{ITEMS}?limit=5&doel=beheer", {"X-Doel": ""}),
    ("beheerder", f"{ITEMS}?limit=5", {"X-Doel": "x" * 101}),
    ("beheerder", "/collections/buurten/items?limit=5&periode=2024&thema=alle&bbox=6.5,53.2,6.6,53.25", None),
    ("beheerder", "/collections/bestaat-niet/items?limit=5", None),
    ("planner", f"{ITEMS}?limit=5", None),
    ("planner", "/collections/buurten/items?limit=5&periode=2024&thema=alle", None),
    ("partner_riec", f"{ITEMS}?limit=5&bbox={BOX}", None),
]


@pytest.mark.parametrize(("who", "url", "extra"), CASES)
def test_the_early_path_answers_and_audits_like_the_route(
    client: Any,
    demo_engine: Engine,
    keys: dict[str, tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    url: str,
    extra: dict[str, str] | None,
) -> None:
    key, pid = keys[who]
    headers = {**auth(key, PRINCIPALS[who]["doelen"][0]), **(extra or {})}
    if headers.get("X-Doel") == "":
        del headers["X-Doel"]
    early, ordinary, answered = _both(client, demo_engine, monkeypatch, url, headers, pid)
    assert answered, "the items route did not go through its early path"
    assert early == ordinary


def test_a_plain_json_page_is_answered_early_and_the_rest_by_the_route(
    client: Any, demo_engine: Engine, keys: dict[str, tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, pid = keys["beheerder"]
    headers = auth(key, "beheer")
    early, _, answered = _both(client, demo_engine, monkeypatch, f"{ITEMS}?limit=10&bbox={BOX}", headers, pid)
    assert answered == [True] and early["status"] == 200 and early["row"]["aantal"] == 10
    for url in (f"{ITEMS}?limit=10&f=html", f"{ITEMS}?limit=0", f"{ITEMS}?limit=5&limit=6"):
        _, _, answered = _both(client, demo_engine, monkeypatch, url, headers, pid)
        assert answered == [False], url
    # A key the principal cache does not know yet: the gate looks it up (and then knows it).
    _, _, answered = _both(
        client, demo_engine, monkeypatch, f"{ITEMS}?limit=1", auth("okk_onbekend", "beheer"), 0
    )
    assert answered == [False]


def test_unknown_and_missing_keys_are_refused_by_the_route(client: Any) -> None:
    for headers in ({}, auth("okk_niet-bestaand-" + str(time.monotonic_ns()), "beheer")):
        response = client.get(f"{ITEMS}?limit=5", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


def test_number_matched_is_the_whole_selection_on_every_page(
    client: Any, keys: dict[str, tuple[str, int]]
) -> None:
    headers = auth(keys["beheerder"][0], "beheer")
    ids: list[str] = []
    url: str | None = f"{ITEMS}?limit=40&bbox={BOX}"
    matched = set()
    while url:
        page = client.get(url, headers=headers).json()
        matched.add(page["numberMatched"])
        ids += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(ids) > 40 and matched == {len(ids)}
    offset = client.get(f"{ITEMS}?limit=40&offset=40&bbox={BOX}", headers=headers).json()
    assert offset["numberMatched"] == len(ids)
    empty = client.get(f"{ITEMS}?limit=40&bbox=6.0,52.0,6.0001,52.0001", headers=headers).json()
    assert (empty["numberMatched"], empty["numberReturned"], empty["features"]) == (0, 0, [])


# -- the feature text -----------------------------------------------------------------------------

#: Rows of every property type: text with quotes, backslashes, control characters and
#: characters outside ASCII; NULLs; dates; booleans; numbers; points, polygons with a hole,
#: multi-polygons and a NULL geometry.
ROWS = r"""
    VALUES
    ('1', ST_SetSRID(ST_MakePoint(233012.5, 582011.25), 28992),
     'zei "hallo" \ en ''dag''', NULL::text, DATE '2024-02-29', true, 12.50::numeric, 7::bigint),
    ('2', ST_GeomFromText('POLYGON((233000 582000, 233100 582000, 233100 582100, 233000 582000),
                           (233010 582005, 233050 582005, 233050 582040, 233010 582005))', 28992),
     E'tab\there\nnieuwe regel \u0001 IJsselmeer ĳ ü € 🙂', 'x', NULL::date, false, -0.001::numeric, NULL::bigint),
    ('3', ST_GeomFromText('MULTIPOLYGON(((233000 582000, 233100 582000, 233100 582100, 233000 582000)),
                           ((234000 583000, 234100 583000, 234100 583100, 234000 583000)))', 28992),
     '', '</script>', DATE '1999-12-31', NULL::boolean, NULL::numeric, -9007199254740993::bigint),
    ('4"\', NULL::geometry, NULL, NULL, NULL::date, true, 1e20::numeric, 0::bigint)
"""
NAMES = ("tekst", "ander", "datum", "waar", "getal", "geheel")


@pytest.mark.parametrize(("srid", "decimals"), [(4326, 7), (28992, 9)])
def test_feature_text_is_the_geojson_object_it_replaces(
    demo_engine: Engine, srid: int, decimals: int
) -> None:
    props = ", ".join(f"'{n}', r.{n}" for n in NAMES)
    built = (
        "json_build_object('type', 'Feature', 'id', r.id,"
        f" 'geometry', ST_AsGeoJSON(r.geom, {decimals})::json,"
        f" 'properties', json_build_object({props}))::text"
    )
    moved = "geom" if srid == 28992 else f"ST_Transform(geom, {srid})"
    sql = (
        f"SELECT {layer_sql.feature_text('r', NAMES, decimals)} AS tekst, {built} AS object"
        f" FROM (SELECT id, {moved} AS geom, {', '.join(NAMES)}"
        f" FROM ({ROWS}) v(id, geom, {', '.join(NAMES)})) r ORDER BY r.id"
    )
    with demo_engine.connect() as c:
        rows = c.execute(text(sql)).all()
    assert len(rows) == 4
    for written, before in rows:
        assert written is not None
        strict = json.loads(written)  # the standard library's parser: strict JSON
        assert strict == json.loads(before)
        assert orjson.loads(written.encode()) == strict  # valid UTF-8 as sent
        assert list(strict) == ["type", "id", "geometry", "properties"]
    assert json.loads(rows[3][0])["geometry"] is None
    assert json.loads(rows[0][0])["properties"]["getal"] == 12.5
