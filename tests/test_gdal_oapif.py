"""GDAL's OGC API Features driver, with its default options, copies a partner's signal layer
in one request per 1,000 features and reads the collection's extent without fetching one.

Debian 12's ``ogr2ogr`` (GDAL 3.6) pages by 10 whatever the service says; the GDAL that
pyogrio bundles (3.12) takes its page size from the ``maximum`` of ``limit`` in the OpenAPI
document, which is what a partner's current QGIS or GDAL does. The partner authenticates as
it would with any GDAL: its key and purpose as HTTP headers (``GDAL_HTTP_HEADERS``), never
in the URL. Requests are counted on the server side, by a thin ASGI wrapper around the app.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import Engine, create_engine, text

from benchmarks.gdal import seed
from core import db
from tests.browser_support import serving
from tests.conftest import TEMPLATE, TestServer

#: Signals the partner may see (its covenant), and signals of another covenant it may not.
VISIBLE = 7_400
HIDDEN = 600


@dataclass
class Counting:
    """An ASGI wrapper that counts the HTTP requests per path (query strings kept apart)."""

    app: Any
    paths: Counter[str] = field(default_factory=Counter)
    queries: list[str] = field(default_factory=list)
    status: set[int] = field(default_factory=set)

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http":
            self.paths[scope["path"]] += 1
            self.queries.append(f"{scope['path']}?{scope['query_string'].decode()}")

            async def sending(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    self.status.add(int(message["status"]))
                await send(message)

            await self.app(scope, receive, sending)
        else:
            await self.app(scope, receive, send)

    def reset(self) -> None:
        self.paths.clear()
        self.queries.clear()
        self.status.clear()


@dataclass
class Served:
    url: str
    counting: Counting
    key: str
    engine: Engine


@pytest.fixture(scope="module")
def served(pg_server: TestServer, template_url: str, api_login: Callable[[str], str]) -> Iterator[Served]:
    """A database with the generated signals and a partner key, served over HTTP."""
    from app.main import create_app
    from core.settings import Settings

    name = f"okaart_gdal_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=TEMPLATE)
    key = seed(pg_server.dsn(name), url, visible=VISIBLE, hidden=HIDDEN)
    owner = create_engine(url)
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    counting = Counting(create_app(Settings(database_url=url, environment="test"), engine=api))
    try:
        with serving(counting) as base:
            yield Served(base, counting, key, owner)
    finally:
        api.dispose()
        owner.dispose()
        pg_server.drop_database(name)


#: What the child process does with GDAL: copy the layer into a GeoPackage as ``ogr2ogr``
#: does (read every feature, write them), or read the layer's metadata as ``ogrinfo -so``.
GDAL_CHILD = """
import json, sys
import pyogrio, pyogrio.raw
source, action, out = sys.argv[1:4]
if action == "copy":
    meta, _, geometry, fields = pyogrio.raw.read(source, layer="signalen")
    pyogrio.raw.write(out, geometry, fields, layer="signalen", driver="GPKG", **meta)
    convenanten = sorted(set(pyogrio.read_dataframe(out, columns=["convenant"])["convenant"]))
    print(json.dumps({"features": pyogrio.read_info(out)["features"], "convenanten": convenanten}))
else:
    info = pyogrio.read_info(source, layer="signalen", force_total_bounds=False)
    print(json.dumps({"bounds": list(info["total_bounds"]), "crs": info["crs"]}))
"""


def gdal(source: str, action: str, env: dict[str, str], out: Path | None = None) -> dict[str, Any]:
    """Run GDAL (pyogrio's) in a child process, as ``ogr2ogr``/``ogrinfo`` would run: a
    process of its own, here also because pyogrio holds the interpreter lock while GDAL
    fetches pages from the server thread of this one."""
    done = subprocess.run(
        [sys.executable, "-c", GDAL_CHILD, source, action, str(out or "")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def header_file(served: Served, tmp_path: Path) -> dict[str, str]:
    """The partner's key and purpose on every request GDAL sends. GDAL 3.12's OAPIF driver
    sets its own ``Accept`` header, which replaces ``GDAL_HTTP_HEADERS`` (the way that works
    with GDAL 3.6); a header file (``GDAL_HTTP_HEADER_FILE``) is added to it."""
    headers = tmp_path / "headers.txt"
    headers.write_text(f"Authorization: Bearer {served.key}\nX-Doel: opsporing\n")
    served.counting.reset()
    return {"GDAL_HTTP_HEADER_FILE": str(headers)}


ITEMS = "/collections/signalen/items"


def items_limits(counting: Counting) -> list[int]:
    """The ``limit`` of every items request the server saw, in order."""
    limits = []
    for query in counting.queries:
        path, _, params = query.partition("?")
        if path == ITEMS:
            limits.append(int(parse_qs(params)["limit"][0]))
    return limits


def test_gdal_copies_the_layer_in_one_request_per_thousand(
    served: Served, header_file: dict[str, str], tmp_path: Path
) -> None:
    """ogr2ogr's work (read all, write a GeoPackage) with default options: pages of 1,000 (the
    ``maximum`` of ``limit`` in the OpenAPI document), and GDAL's fixed schema probe of 20
    features before them (it always reads a first small page to learn the layer's fields)."""
    copied = gdal(f"OAPIF:{served.url}/", "copy", header_file, tmp_path / "signalen.gpkg")
    assert copied["features"] == VISIBLE
    assert copied["convenanten"] == ["riec"]  # nothing of the covenant the partner is not in
    limits = items_limits(served.counting)
    assert limits[0] == 20 and limits[1:] == [1000] * math.ceil(VISIBLE / 1000), limits
    assert served.counting.status == {200}


def test_the_key_as_bearer_and_the_purpose_in_the_url(served: Served, tmp_path: Path) -> None:
    """The other way GDAL 3.12 takes: its bearer option for the key, the purpose as ``doel``
    in the connection URL (GDAL repeats the URL's query on every request it sends)."""
    served.counting.reset()
    env = {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": served.key}
    copied = gdal(f"OAPIF:{served.url}/?doel=opsporing", "copy", env, tmp_path / "signalen.gpkg")
    assert copied["features"] == VISIBLE
    assert all("doel=opsporing" in q for q in served.counting.queries if q.startswith(ITEMS))
    assert served.key not in "".join(served.counting.queries)
    assert served.counting.status == {200}


def test_gdal_reads_the_extent_without_scanning(served: Served, header_file: dict[str, str]) -> None:
    """``ogrinfo -so``: the layer's extent comes from the collection's ``extent`` (the rows
    this partner may see); no page beyond GDAL's schema probe of 20 is fetched."""
    info = gdal(f"OAPIF:{served.url}/", "info", header_file)
    assert info["crs"] == "EPSG:28992"  # the collection's storageCrs
    with served.engine.connect() as conn:
        minx, miny, maxx, maxy = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) e FROM signaal WHERE convenant = 'riec') s"
            )
        ).one()
    left, bottom, right, top = info["bounds"]
    # The extent is published in degrees (CRS84): GDAL's RD box around it holds the points,
    # within a few hundred metres.
    assert left <= minx and bottom <= miny and right >= maxx and top >= maxy
    assert max(minx - left, miny - bottom, right - maxx, top - maxy) < 500
    assert items_limits(served.counting) == [20]
