"""Bulk downloads (``f=fgb``, ``f=jsonseq``): the same features as items, readable by
pyogrio and line by line, under the same access, purpose and audit (one row per download
with its count)."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pyogrio
import pytest
from sqlalchemy import Engine, text

from core.security import create_principal_key
from tests.conftest import PRINCIPALS, auth

RD_URI = "http://www.opengis.net/def/crs/EPSG/0/28992"


def _all_items(client: Any, headers: dict[str, str], **params: Any) -> dict[str, dict[str, Any]]:
    """Every feature, paged through items as a client would."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = client.get(
            "/collections/signalen/items", params={**params, "limit": 1000, "offset": offset}, headers=headers
        ).json()
        found.update({f["id"]: f for f in page["features"]})
        offset += 1000
        if offset >= page["numberMatched"]:
            return found


@pytest.fixture(scope="module")
def items(client: Any, api_keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    return _all_items(client, auth(api_keys["partner_riec"]))


def test_flatgeobuf_reads_with_pyogrio_and_holds_the_items(
    client: Any, api_keys: dict[str, str], items: dict[str, dict[str, Any]]
) -> None:
    response = client.get(
        "/collections/signalen/items", params={"f": "fgb"}, headers=auth(api_keys["partner_riec"])
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/flatgeobuf"
    assert response.headers["content-disposition"] == 'attachment; filename="signalen.fgb"'
    assert int(response.headers["x-aantal-objecten"]) == len(items) > 1000
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert frame.crs.to_epsg() == 4326
    assert sorted(frame["id"]) == sorted(items)
    for row in frame.head(200).itertuples():
        feature = items[row.id]
        lon, lat = feature["geometry"]["coordinates"]
        assert row.geometry.x == pytest.approx(lon, abs=1e-7) and row.geometry.y == pytest.approx(
            lat, abs=1e-7
        )
        for name in ("bron", "thema", "soort", "convenant", "buurtcode"):
            assert getattr(row, name) == feature["properties"][name]
        assert str(row.datum)[:10] == feature["properties"]["datum"]
    # Only the partner's covenant, as on items.
    assert set(frame["convenant"]) == {"riec"}


def test_flatgeobuf_in_rd_new_with_a_filter(client: Any, api_keys: dict[str, str]) -> None:
    headers = auth(api_keys["analist"])
    response = client.get(
        "/collections/signalen/items", params={"f": "fgb", "crs": RD_URI, "thema": "drugs"}, headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{RD_URI}>"
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert frame.crs.to_epsg() == 28992
    assert set(frame["thema"]) == {"drugs"}
    expected = _all_items(client, headers, thema="drugs", crs=RD_URI)
    assert sorted(frame["id"]) == sorted(expected)
    x0, y0, x1, y1 = frame.total_bounds
    assert 200_000 < x0 < x1 < 270_000 and 550_000 < y0 < y1 < 610_000  # Groningen in RD New


def test_jsonseq_lines_parse_and_hold_the_items(
    client: Any, api_keys: dict[str, str], items: dict[str, dict[str, Any]]
) -> None:
    response = client.get(
        "/collections/signalen/items", params={"f": "jsonseq"}, headers=auth(api_keys["partner_riec"])
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json-seq"
    records = response.content.split(b"\n")
    assert records[-1] == b""  # every record ends with LF
    parsed = []
    for record in records[:-1]:
        assert record.startswith(b"\x1e")  # RFC 8142: RS before every record
        parsed.append(json.loads(record[1:]))
    assert len(parsed) == len(items)
    for feature in parsed:
        assert feature == {k: items[feature["id"]][k] for k in ("type", "id", "geometry", "properties")}
    # GDAL reads it too, as a GeoJSON sequence.
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert len(frame) == len(items)


def _rows(engine: Engine, naam: str) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                text(
                    "SELECT route, laag, doel, status, aantal FROM audit_log WHERE principal = :p ORDER BY id"
                ),
                {"p": naam},
            )
        ]


def test_a_download_is_one_audit_row_with_its_count_and_keeps_the_access_rules(
    client: Any, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    naam = f"bulk-{uuid.uuid4().hex[:8]}"
    with demo_engine.begin() as c:
        key, _ = create_principal_key(c, naam=naam, **PRINCIPALS["partner_riec"])  # type: ignore[arg-type]
    h = {"Authorization": f"Bearer {key}"}
    fgb = client.get("/collections/signalen/items", params={"f": "fgb"}, headers={**h, "X-Doel": "opsporing"})
    seq = client.get(
        "/collections/signalen/items",
        params={"f": "jsonseq", "doel": "opsporing", "thema": "drugs"},
        headers=h,
    )
    assert fgb.status_code == seq.status_code == 200
    assert client.get("/collections/signalen/items", params={"f": "fgb"}, headers=h).status_code == 400
    planner = client.get(
        "/collections/signalen/items", params={"f": "fgb"}, headers=auth(api_keys["planner"])
    )
    assert planner.status_code == 404
    huge = client.get(
        "/collections/signalen/items",
        params={"f": "jsonseq", "bbox": "6.0,53.0,7.0,53.5"},
        headers={**h, "X-Doel": "opsporing"},
    )
    assert huge.status_code == 400  # the bbox cap of point layers holds for downloads too
    items = "/collections/{collection_id}/items"
    assert _rows(demo_engine, naam) == [
        (items, "signalen", "opsporing", 200, int(fgb.headers["x-aantal-objecten"])),
        (items, "signalen", "opsporing", 200, seq.content.count(b"\x1e")),
        (items, "signalen", None, 400, None),
        (items, "signalen", "opsporing", 400, None),
    ]


def test_a_download_above_the_maximum_is_refused_before_anything_is_recorded_as_served(
    client: Any, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import bulk

    naam = f"bulk-max-{uuid.uuid4().hex[:8]}"
    with demo_engine.begin() as c:
        key, _ = create_principal_key(c, naam=naam, **PRINCIPALS["partner_riec"])  # type: ignore[arg-type]
    monkeypatch.setattr(bulk, "MAX_FEATURES", 100)
    response = client.get(
        "/collections/signalen/items",
        params={"f": "fgb"},
        headers={"Authorization": f"Bearer {key}", "X-Doel": "opsporing"},
    )
    assert response.status_code == 400
    assert "meer dan 100 objecten" in response.json()["detail"]
    assert _rows(demo_engine, naam) == [
        ("/collections/{collection_id}/items", "signalen", "opsporing", 400, None)
    ]
