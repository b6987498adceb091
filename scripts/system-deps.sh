#!/usr/bin/env bash
# Make sure the machine has what okaart needs beside Python packages: PostgreSQL server
# binaries with PostGIS, python3-venv, GDAL's command-line tools (a real OGC API client
# for the tests, ogr2ogr for the ingest benchmark), Chromium and pdftotext (browser and PDF
# tests), npm (map assets are fetched from their packages at install time). As root it installs what is missing with apt; otherwise it prints the one command
# to run and fails.
set -euo pipefail

pg_major() {
    local major=""
    if command -v pg_config >/dev/null 2>&1; then
        major=$(pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    fi
    if [ -z "$major" ] || [ ! -x "/usr/lib/postgresql/$major/bin/initdb" ]; then
        major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
    fi
    [ -n "$major" ] && [ -x "/usr/lib/postgresql/$major/bin/initdb" ] && echo "$major"
    return 0
}

missing() {
    local major
    major=$(pg_major)
    if [ -z "$major" ]; then
        echo postgresql
    elif [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
        echo "postgresql-$major-postgis-3"
    fi
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || echo python3-venv
    command -v ogr2ogr >/dev/null 2>&1 || echo gdal-bin
    # Browser tests and the map benchmark (headless, driven by Playwright's Python package).
    command -v chromium >/dev/null 2>&1 || echo chromium
    # The PDF test reads the area overview back with pdftotext.
    command -v pdftotext >/dev/null 2>&1 || echo poppler-utils
    # The PDFs (overview, printed map) embed DejaVu Sans: app/pdf.py.
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || echo fonts-dejavu-core
    # Fetches Leaflet and Leaflet.VectorGrid from their packages at install time.
    command -v npm >/dev/null 2>&1 || echo npm
}

need=$(missing | tr '\n' ' ')
[ -z "${need// /}" ] && exit 0

if [ "$(id -u)" != "0" ]; then
    echo "okaart: missing system packages; run as root: apt-get install -y ${need}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${need}"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
# A fresh PostgreSQL brings its default major; PostGIS for it comes second.
need=$(missing | tr '\n' ' ')
if [ -n "${need// /}" ]; then
    echo "installing system packages: ${need}"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
