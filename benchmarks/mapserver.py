"""MapServer as a peer in the tile and items benchmark (issue 16).

MapServer is the plain map server that government GIS departments already run, and C all the
way down: the fairest answer to "what would a tile cost without Python". Debian's
``cgi-mapserver`` (8.x, with MVT and OGC API Features built in) runs as FastCGI processes
behind ``lighttpd``; both come from Debian's packages and are installed here when missing
(as root), never vendored.

It serves the same layers as okaart and tipg do in ``benchmarks/tiles.py``: the signal points
(the view okaart reads, ``laag_signaal``, with its address column) and the beheerder's own
figures per buurt (``laag_indicator_zicht`` for one view class, 2024, all themes), read from
the stored EPSG:3857 copies (GIST-indexed), with the same columns and the same tile buffer
(64 of 4096 units: okaart's ``ST_AsMVTGeom(..., 4096, 64)``). Tiles go through MapServer's
tile mode (``mode=tile&tilemode=gmap``), items through its OGC API Features
(``/ogcapi/collections/{id}/items``). Like tipg, it checks no key and writes no audit row.

MapServer's tile mode answers a failed query with an HTML error page *and status 200*, in
about 2 ms, which wrk counts as a success: the first version of this peer asked ``signaal``
for the ``adres`` column the signal layer had just gained (only its view ``laag_signaal`` has
it), so every signal tile was an error page and every signal items request a 404. So the
benchmark's sanity check wants MapServer's first answers in the right media type with the
features okaart and the floor have, before anything is timed, and every table shows the
bytes per answer (an error page is 647 bytes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from benchmarks.common import console
from core.pgcluster import free_port

#: Two FastCGI processes: the two uvicorn workers of okaart and tipg.
PROCESSES = 2
#: okaart's tile buffer, 64 of 4096 units, in MapServer's tile pixels (256 per tile).
EDGE_BUFFER = 4
#: The layers' extent, given so that MapServer never asks the database for it per request.
NETHERLANDS_3857 = "300000 6450000 800000 7100000"
#: EPSG:3857 spelled out: ``init=epsg:3857`` made MapServer look it up in PROJ's database on
#: every request, which cost more than the tile itself.
MERCATOR = " ".join(
    f'"{p}"'
    for p in (
        "proj=merc", "a=6378137", "b=6378137", "lat_ts=0", "lon_0=0", "x_0=0", "y_0=0", "k=1", "units=m",
        "nadgrids=@null", "no_defs",
    )
)  # fmt: skip
#: The mapfile's name in MapServer's config, the first step of its OGC API paths.
MAP_KEY = "peer"


def ensure_mapserver() -> tuple[str, str]:
    """The ``mapserv`` and ``lighttpd`` binaries; installed from Debian when missing (root)."""
    mapserv, lighttpd = shutil.which("mapserv"), shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if mapserv and Path(lighttpd).exists():
        return mapserv, lighttpd
    if os.geteuid() != 0:
        raise RuntimeError("MapServer is missing: run `apt-get install -y cgi-mapserver lighttpd` as root")
    console.print("installing cgi-mapserver and lighttpd from Debian")
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "cgi-mapserver", "lighttpd"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("mapserv") or "/usr/bin/mapserv", "/usr/sbin/lighttpd"


def _layer(name: str, kind: str, connection: str, sql: str, items: list[str]) -> str:
    """One PostGIS layer from a subquery on the stored 3857 geometry, every listed column
    in MVT and GeoJSON, published in OGC API Features. ``CLOSE_CONNECTION=DEFER`` keeps
    each FastCGI process's database connection open between requests, as okaart's and
    tipg's pools do."""
    return f"""
  LAYER
    NAME "{name}"
    TYPE {kind}
    STATUS ON
    CONNECTIONTYPE POSTGIS
    CONNECTION "{connection}"
    DATA "geom_3857 from ({sql}) as sub using unique id using srid=3857"
    PROJECTION {MERCATOR} END
    PROCESSING "CLOSE_CONNECTION=DEFER"
    EXTENT {NETHERLANDS_3857}
    TEMPLATE "ttt"
    METADATA
      "ows_title" "{name}"
      "ows_include_items" "{",".join(items)}"
      "gml_include_items" "{",".join(items)}"
      "gml_featureid" "id"
      "oga_enable_request" "*"
    END
    CLASS STYLE SIZE 4 COLOR 200 0 0 END END
  END"""


def write_mapfile(
    workdir: Path, connection: str, zicht_id: int, signal_items: list[str], area_items: list[str], port: int
) -> Path:
    """The mapfile of the two benchmark layers; returns its path."""
    signal_sql = f"select id, {', '.join(i for i in signal_items if i != 'id')}, geom_3857 from laag_signaal"
    area_sql = (
        f"select id, {', '.join(i for i in area_items if i != 'id')}, geom_3857 from laag_indicator_zicht"
        f" where zicht_id = {int(zicht_id)} and gebied_soort = 'buurt' and periode = '2024'"
        " and thema = 'alle'"
    )
    text = f"""MAP
  NAME "okaart_peer"
  EXTENT -20037508.34 -20037508.34 20037508.34 20037508.34
  SIZE 256 256
  MAXSIZE 4096
  PROJECTION {MERCATOR} END
  OUTPUTFORMAT
    NAME "mvt"
    DRIVER MVT
    FORMATOPTION "EXTENT=4096"
    FORMATOPTION "EDGE_BUFFER={EDGE_BUFFER}"
  END
  OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json; subtype=geojson"
    FORMATOPTION "STORAGE=stream"
    FORMATOPTION "FORM=SIMPLE"
  END
  WEB
    METADATA
      "ows_title" "okaart peer"
      "ows_enable_request" "*"
      "oga_enable_request" "*"
      "oga_onlineresource" "http://127.0.0.1:{port}/mapserv/{MAP_KEY}/ogcapi"
      "ows_srs" "EPSG:3857 EPSG:4326"
    END
  END
{_layer("signalen", "POINT", connection, signal_sql, signal_items)}
{_layer("buurten", "POLYGON", connection, area_sql, area_items)}
END
"""
    path = workdir / "okaart-peer.map"
    path.write_text(text)
    return path


def write_config(workdir: Path, mapfile: Path) -> Path:
    """MapServer 8's own config file (it refuses to run without one): the one mapfile, the
    default for tile mode and named for OGC API (``/mapserv/{key}/ogcapi/...``)."""
    path = workdir / "mapserver.conf"
    path.write_text(
        f'CONFIG\n  ENV\n    MS_MAPFILE "{mapfile}"\n  END\n  MAPS\n    {MAP_KEY} "{mapfile}"\n  END\nEND\n'
    )
    return path


def write_lighttpd_conf(workdir: Path, mapserv: str, mapfile: Path, port: int) -> Path:
    """lighttpd on loopback with MapServer as FastCGI at ``/mapserv``; no access log."""
    config = write_config(workdir, mapfile)
    text = f"""server.modules = ("mod_fastcgi")
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{workdir}"
server.errorlog = "{workdir / "lighttpd-error.log"}"
server.max-connections = 256
fastcgi.server = ("/mapserv" => ((
    "bin-path" => "{mapserv}",
    "socket" => "{workdir / "mapserv.sock"}",
    "max-procs" => {PROCESSES},
    "bin-environment" => ("MAPSERVER_CONFIG_FILE" => "{config}", "MS_MAPFILE" => "{mapfile}"),
    "check-local" => "disable"
)))
"""
    path = workdir / "lighttpd.conf"
    path.write_text(text)
    return path


def tile_path(layer: str, z: int, x: int, y: int) -> str:
    """MapServer's tile mode for one WebMercatorQuad tile as MVT."""
    return f"/mapserv?mode=tile&tilemode=gmap&tile={x}+{y}+{z}&layers={layer}&map.imagetype=mvt"


def items_path(layer: str, bbox: str, limit: int) -> str:
    """MapServer's OGC API Features items in a CRS84 box."""
    return f"/mapserv/{MAP_KEY}/ogcapi/collections/{layer}/items?f=json&limit={limit}&bbox={bbox}"


def command(
    workdir: Path, *, connection: str, zicht_id: int, signal_items: list[str], area_items: list[str]
) -> tuple[list[str], str, str]:
    """The command, probe URL and base URL of a configured lighttpd + MapServer; the caller
    starts it with ``benchmarks.tiles.serving``."""
    mapserv, lighttpd = ensure_mapserver()
    port = free_port()
    mapfile = write_mapfile(workdir, connection, zicht_id, signal_items, area_items, port)
    conf = write_lighttpd_conf(workdir, mapserv, mapfile, port)
    base = f"http://127.0.0.1:{port}"
    return [lighttpd, "-D", "-f", str(conf)], base + tile_path("signalen", 0, 0, 0), base
