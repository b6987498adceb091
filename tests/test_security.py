"""Access control, purpose binding and the audit trail (docs/architecture.md §7, issue #5).

The authorization matrix is built from the published OpenAPI document and the layer
registry, so a route or layer added later is covered (or fails the coverage check) without
anyone remembering to add it here. The expected outcome of every cell comes from the
table below, written out by hand from docs/architecture.md §7, not from the code under test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from core.security import create_principal_key
from layers import REGISTRY
from tests.conftest import PRINCIPALS, auth, scalar

TMS = morecantile.tms.get("WebMercatorQuad")
AGGREGATE = {
    "buurten", "wijken", "bedrijventerreinen", "buitengebied", "gebieden", "postcode4", "vierkanten500",
    "risicobranches_bedrijventerreinen", "risicobranches_buurten",
}  # fmt: skip
#: Which layers each kind of principal may read (docs/architecture.md §7), written out by hand.
MAY_READ = {
    "anoniem": set(),
    "ingetrokken": set(),
    "planner": AGGREGATE,
    "partner_riec": AGGREGATE | {"signalen"},
    "partner_zorg": AGGREGATE | {"signalen"},
    "analist": set(REGISTRY),
    "analist_elders": set(REGISTRY),
    "beheerder": set(REGISTRY),
}
#: Principals whose municipality holds no data: every readable layer is empty for them.
ELSEWHERE = {"analist_elders"}
#: The sample signal belongs to covenant A (riec): covenant B's partner must not find it.
OBJECT_HIDDEN = {("partner_zorg", "signalen")}
#: Routes anyone may call.
OPEN_ROUTES = {"/", "/conformance", "/healthz", "/readyz", "/tileMatrixSets", "/tileMatrixSets/{tms_id}"}
#: OpenID Connect sign-in on a service without providers: no such provider, and a return
#: without a sign-in begun in this browser (tests/test_oidc.py covers them with a provider).
SIGN_IN_WITHOUT_PROVIDER = {"/aanmelden/oidc/{aanbieder}": 404, "/aanmelden/oidc/terug": 400}


@pytest.fixture(scope="module")
def keys(api_keys: dict[str, str], demo_engine: Engine) -> dict[str, str | None]:
    """Every principal of the matrix: the session's keys, a revoked key, and nobody."""
    with demo_engine.begin() as c:
        revoked, key_id = create_principal_key(
            c,
            naam=f"ingetrokken-{uuid.uuid4().hex[:6]}",
            **PRINCIPALS["analist"],  # type: ignore[arg-type]
        )
        c.execute(text("UPDATE api_key SET ingetrokken_op = now() WHERE id = :i"), {"i": key_id})
    return {"anoniem": None, "ingetrokken": revoked, **api_keys}


def headers_for(key: str | None) -> dict[str, str]:
    """A well-behaved client: its key and its allowed purpose (a revoked key states one too)."""
    if key is None:
        return {}
    return {"X-Doel": "analyse", **auth(key)}


def sample_ids(engine: Engine) -> dict[str, str]:
    """One existing feature id per layer (of Groningen; a signal of covenant riec)."""
    ids = {}
    for layer in REGISTRY.values():
        where = " AND ".join(f"{k} = '{v}'" for k, v in layer.where.items()) or "true"
        if layer.id == "signalen":
            where = "convenant = 'riec' AND dataklasse = 'vertrouwelijk'"
        ids[layer.id] = scalar(
            engine, f"SELECT min(id) FROM {layer.source} WHERE {where} AND gemeentecode = 'GM0014'"
        )
    return ids


def dense_tile(engine: Engine, layer_id: str) -> tuple[int, int, int]:
    layer = REGISTRY[layer_id]
    where = " AND ".join(f"{k} = '{v}'" for k, v in layer.where.items()) or "true"
    lon, lat = (
        float(v)
        for v in (
            scalar(
                engine,
                f"SELECT ST_X(ST_Transform(ST_PointOnSurface(geom), 4326)) FROM {layer.source} t"
                f" WHERE {where} AND t.id = (SELECT min(id) FROM {layer.source} WHERE {where}) LIMIT 1",
            ),
            scalar(
                engine,
                f"SELECT ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326)) FROM {layer.source} t"
                f" WHERE {where} AND t.id = (SELECT min(id) FROM {layer.source} WHERE {where}) LIMIT 1",
            ),
        )
    )
    z = max(layer.minzoom, 14)
    tile = TMS.tile(lon, lat, z)
    return z, tile.x, tile.y


def concrete(path: str, layer_id: str | None, ids: dict[str, str], tiles: dict[str, Any], buurt: str) -> str:
    values = {"tms_id": "WebMercatorQuad", "code": buurt, "aanbieder": "gemeente", "style_id": "standaard"}
    if layer_id:
        values["collection_id"] = layer_id
        values["feature_id"] = str(ids[layer_id])
        z, x, y = tiles[layer_id]
        values.update(z=str(z), x=str(x), y=str(y))
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def query_for(path: str) -> dict[str, str]:
    if path == "/gebieden":
        return {"soort": "buurt"}
    if path == "/locate":
        return {"lon": "6.5665", "lat": "53.2194"}
    if path == "/zoeken":
        return {"q": "Eiken"}  # the streets of Groningen that start so (demo data)
    return {}


def cells(openapi: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    for path, operations in sorted(openapi["paths"].items()):
        if "get" not in operations:
            continue
        if "{collection_id}" in path:
            for layer_id in sorted(REGISTRY):
                yield path, layer_id
        else:
            yield path, None


def test_every_route_declares_its_access_rule(demo_app: Any) -> None:
    """Fail closed starts with: no route without a rule in the published API document."""
    openapi = demo_app.openapi()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert operation.get("x-toegang") in ("open", "aangemeld", "gegevens"), (method, path)
    open_paths = {p for p, ops in openapi["paths"].items() if ops.get("get", {}).get("x-toegang") == "open"}
    sign_in = {"/aanmelden", "/afmelden", "/aanmelden/oidc/terug", "/aanmelden/oidc/{aanbieder}"}
    assert open_paths <= OPEN_ROUTES | sign_in, open_paths - OPEN_ROUTES


def test_a_route_without_a_rule_is_denied(
    demo_engine: Engine, api_keys: dict[str, str], api_login: Any
) -> None:
    from app.main import create_app
    from core import db
    from core.settings import Settings

    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url))
    app = create_app(Settings(database_url=url, environment="test"), engine=api)

    @app.get("/vergeten")
    def forgotten() -> dict[str, str]:
        return {"geheim": "ja"}

    with TestClient(app) as client:
        response = client.get("/vergeten", headers=auth(api_keys["beheerder"]))
        missing = client.get("/bestaat-niet", headers=auth(api_keys["beheerder"]))
    api.dispose()
    assert response.status_code == 404 and "geheim" not in response.text
    assert response.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"


def test_authorization_matrix(
    client: Any, demo_app: Any, demo_engine: Engine, keys: dict[str, str | None]
) -> None:
    """Every GET route x every layer x every kind of principal: the expected status, and no
    data from outside what the principal may see; 0 unexpected 2xx."""
    openapi = demo_app.openapi()
    ids = sample_ids(demo_engine)
    tiles = {layer_id: dense_tile(demo_engine, layer_id) for layer_id in REGISTRY}
    buurt = scalar(demo_engine, "SELECT min(code) FROM gebied WHERE soort = 'buurt'")
    unexpected: list[str] = []
    checked = 0
    for path, layer_id in cells(openapi):
        rule = openapi["paths"][path]["get"]["x-toegang"]
        url = concrete(path, layer_id, ids, tiles, buurt)
        for who, key in keys.items():
            response = client.get(url, params=query_for(path), headers=headers_for(key))
            checked += 1
            if rule == "open":
                expected = SIGN_IN_WITHOUT_PROVIDER.get(path, 200)
            elif key is None or who == "ingetrokken":
                expected = 401
            elif layer_id is not None and layer_id not in MAY_READ[who]:
                expected = 404
            elif who in ELSEWHERE and (path.endswith("{feature_id}") or path == "/gebieden/{code}"):
                expected = 404  # an object of another municipality looks missing
            elif (who, layer_id) in OBJECT_HIDDEN and path.endswith("{feature_id}"):
                expected = 404  # another covenant's signal looks missing
            else:
                expected = 200
            if response.status_code != expected:
                unexpected.append(f"{who} GET {url}: {response.status_code}, expected {expected}")
                continue
            if expected == 404:
                assert response.json()["title"] == "Niet gevonden"
            if expected == 200 and who in ELSEWHERE:
                assert_nothing_of_groningen(response, url)
    assert not unexpected, "\n".join(unexpected)
    assert checked > 8 * 40


def assert_nothing_of_groningen(response: Any, url: str) -> None:
    body = response.content
    if url.startswith("/collections/") and "/items" in url:
        assert response.json()["numberMatched"] == 0, url
    elif "/tiles/WebMercatorQuad/" in url and url.count("/") >= 6:
        assert body == b"", url
    elif url.startswith(("/gebieden", "/locate", "/zoeken", "/kaart/vergelijking", "/kaart/hotspots")):
        assert b"GM0014" not in body and b"BU0014" not in body, url
    elif url == "/kaart/afdruk":  # the printed map: its text, not its compressed bytes
        from tests.test_gebiedsoverzicht import _pdftotext

        printed = _pdftotext(body, "matrix-afdruk-elders.pdf")
        assert "BU0014" not in printed and "Groningen" not in printed, url


def test_the_printed_map_is_in_the_matrix(demo_app: Any) -> None:
    """``/kaart/afdruk`` serves figures: it is a ``gegevens`` route, so every principal of the
    matrix above is tried on it (and ``analist_elders`` gets nothing of Groningen)."""
    operation = demo_app.openapi()["paths"]["/kaart/afdruk"]["get"]
    assert operation["x-toegang"] == "gegevens"
    assert "bbox" in {p["name"] for p in operation["parameters"]}


# -- purpose binding ---------------------------------------------------------------------------


def test_signal_level_data_needs_an_allowed_purpose(client: Any, api_keys: dict[str, str]) -> None:
    key = api_keys["partner_riec"]
    bare = {"Authorization": f"Bearer {key}"}
    missing = client.get("/collections/signalen/items", headers=bare)
    assert missing.status_code == 400
    assert "X-Doel" in missing.json()["detail"] and "opsporing" in missing.json()["detail"]
    wrong = client.get("/collections/signalen/items", headers={**bare, "X-Doel": "nieuwsgierigheid"})
    assert wrong.status_code == 403
    as_param = client.get(
        "/collections/signalen/items", params={"doel": "opsporing", "limit": 1}, headers=bare
    )
    assert as_param.status_code == 200
    # Aggregates need no purpose.
    assert client.get("/collections/buurten/items", params={"limit": 1}, headers=bare).status_code == 200


# -- audit trail -------------------------------------------------------------------------------


def audit_rows(engine: Engine, principal: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [
            dict(r)
            for r in c.execute(
                text(
                    "SELECT methode, route, laag, doel, status, aantal, object_ids, rol, organisatie, client"
                    " FROM audit_log WHERE principal = :p ORDER BY id"
                ),
                {"p": principal},
            ).mappings()
        ]


def test_a_scripted_session_yields_exactly_the_expected_audit_rows(client: Any, demo_engine: Engine) -> None:
    naam = f"audit-{uuid.uuid4().hex[:8]}"
    with demo_engine.begin() as c:
        key, _ = create_principal_key(c, naam=naam, **PRINCIPALS["partner_riec"])  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {key}"}
    doel = {**h, "X-Doel": "opsporing"}
    z, x, y = dense_tile(demo_engine, "buurten")
    tile_url = f"/collections/buurten/tiles/WebMercatorQuad/{z}/{x}/{y}"

    page = client.get("/collections/signalen/items", params={"limit": 3}, headers=doel).json()
    served = [f["id"] for f in page["features"]]
    assert client.get("/collections/signalen/items", headers=h).status_code == 400
    assert client.get("/collections/signalen/items", headers={**h, "X-Doel": "x"}).status_code == 403
    assert client.get("/collections", headers=h).status_code == 200  # metadata: not recorded
    assert client.get("/", headers=h).status_code == 200  # open: not recorded
    assert client.get("/collections/verblijfsobjecten/items", headers=doel).status_code == 404
    first = client.get(tile_url, params={"periode": "2024"}, headers=h)
    again = client.get(
        tile_url, params={"periode": "2024"}, headers={**h, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304  # nothing disclosed: not recorded
    one = client.get(f"/collections/signalen/items/{served[0]}", headers=doel)
    assert one.status_code == 200
    exported = client.get("/collections/buurten/items", params={"f": "csv", "limit": 7}, headers=h)
    assert exported.status_code == 200

    rows = audit_rows(demo_engine, naam)
    got = [(r["route"], r["laag"], r["doel"], r["status"], r["aantal"]) for r in rows]
    items, item = "/collections/{collection_id}/items", "/collections/{collection_id}/items/{feature_id}"
    tile = "/collections/{collection_id}/tiles/{tms_id}/{z}/{x}/{y}"
    assert got == [
        (items, "signalen", "opsporing", 200, 3),
        (items, "signalen", None, 400, None),
        (items, "signalen", None, 403, None),  # a purpose not allowed is not stored
        (items, None, None, 404, None),
        (tile, "buurten", None, 200, len(mapbox_vector_tile.decode(first.content)["buurten"]["features"])),
        (item, "signalen", "opsporing", 200, 1),
        (items, "buurten", None, 200, 7),
    ]
    assert rows[0]["object_ids"] == served
    assert rows[5]["object_ids"] == [served[0]]
    assert rows[4]["aantal"] > 0
    assert all(r["rol"] == "partner" and r["organisatie"] == "Politie Noord-Nederland" for r in rows)
    assert all(r["methode"] == "GET" and r["client"] for r in rows)


def test_anonymous_denials_are_recorded(client: Any, demo_engine: Engine) -> None:
    route = "/collections/{collection_id}/items"
    sql = "SELECT count(*) FROM audit_log WHERE principal_id IS NULL AND status = 401 AND route = :r"
    before = scalar(demo_engine, sql, r=route)
    assert client.get("/collections/signalen/items").status_code == 401
    assert scalar(demo_engine, sql, r=route) == before + 1


def test_no_audit_row_means_no_data(fresh_db: str, tmp_path: Any, api_login: Any) -> None:
    """When the audit row cannot be written, the read fails with 503 and serves nothing."""
    from sqlalchemy import create_engine

    from app.main import create_app
    from core import db
    from core.settings import Settings

    owner = create_engine(fresh_db)
    with owner.begin() as c:
        key, _ = create_principal_key(c, naam="a", **PRINCIPALS["analist"])  # type: ignore[arg-type]
        c.execute(text("REVOKE INSERT ON audit_log FROM okaart_api"))
    api = db.make_engine(api_login(fresh_db))
    app = create_app(Settings(database_url=fresh_db, environment="test"), engine=api)
    with TestClient(app) as client:
        data = client.get("/collections/gebieden/items", headers=auth(key))
        denied = client.get("/collections/gebieden/items")
    api.dispose()
    owner.dispose()
    assert data.status_code == 503 and data.headers["content-type"] == "application/problem+json"
    assert "toegangslogboek" in data.json()["detail"] and "features" not in data.text
    assert denied.status_code == 503
