"""Real OGC API clients read every collection completely: GDAL's OAPIF driver and OWSLib."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import Engine, text

from layers import REGISTRY
from tests.conftest import zicht_id


def expected_count(engine: Engine, layer_id: str, key: str) -> int:
    layer = REGISTRY[layer_id]
    where = " AND ".join(f"{k} = '{v}'" for k, v in layer.where.items()) or "true"
    if layer.by_zicht:  # figures per view class: the key's
        where += f" AND zicht_id = {zicht_id(engine, key)}"
    with engine.connect() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {layer.source} WHERE {where}")).scalar_one())


@pytest.mark.parametrize("layer_id", sorted(REGISTRY))
def test_gdal_reads_every_collection_completely(
    live_url: str, api_keys: dict[str, str], demo_engine: Engine, tmp_path: Path, layer_id: str
) -> None:
    auth = [
        "--config",
        "GDAL_HTTP_HEADERS",
        f"Authorization: Bearer {api_keys['beheerder']}\r\nX-Doel: beheer",
    ]
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{live_url}/", layer_id, *auth],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    assert f"Layer name: {layer_id}" in info.stdout
    out = tmp_path / f"{layer_id}.gpkg"
    copy = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), "-oo", "PAGE_SIZE=1000", f"OAPIF:{live_url}/", layer_id, *auth],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert copy.returncode == 0, copy.stderr
    assert pyogrio.read_info(out)["features"] == expected_count(demo_engine, layer_id, api_keys["beheerder"])


def test_owslib_reads_every_collection_completely(
    live_url: str, api_keys: dict[str, str], demo_engine: Engine
) -> None:
    from owslib.ogcapi.features import Features

    api = Features(live_url, headers={"Authorization": f"Bearer {api_keys['beheerder']}", "X-Doel": "beheer"})
    ids = {c["id"] for c in api.collections()["collections"]}
    assert ids == set(REGISTRY)
    for layer_id in sorted(ids):
        seen = 0
        offset = 0
        while True:
            page = api.collection_items(layer_id, limit=1000, offset=offset)
            seen += len(page["features"])
            offset += 1000
            if not any(link["rel"] == "next" for link in page["links"]):
                break
        assert (
            seen == page["numberMatched"] == expected_count(demo_engine, layer_id, api_keys["beheerder"])
        ), layer_id
