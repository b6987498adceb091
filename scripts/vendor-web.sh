#!/usr/bin/env bash
# Fetch (or with --check, verify) app/static/vendor from the npm packages listed in
# docs/web-assets.md: `npm pack`, compare the package integrity with the pinned one, copy the
# files the map pages load. Run by `make install` and the Docker build, so the files are
# never part of the repo. Needs npm; the app itself never does.
set -euo pipefail
cd "$(dirname "$0")/.."
out=app/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # name version sha512
    local name=$1 version=$2 want=$3 got
    got=$(cd "$work" && npm pack --silent --json "$name@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["integrity"])')
    if [ "$got" != "sha512-$want" ]; then
        echo "vendor-web: $name@$version integrity differs: $got" >&2
        exit 1
    fi
    mkdir -p "$work/$name"
    tar -xzf "$work/$name-$version.tgz" -C "$work/$name"
}

fetch leaflet 1.9.4 'nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=='
fetch leaflet.vectorgrid 1.3.0 'kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw=='
fetch swagger-ui-dist 5.35.0 'U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=='
fetch maplibre-gl 6.20.0 '7manvqXeNoN0mKRzenYDopkb3VW9j7iag45RvopkOVFZ7c+La7CBWtK8eBS5bKrI6NyxqAIxPxIG1PMcotcY1w=='
fetch axe-core 4.14.1 'FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=='

pairs=(
    "leaflet/package/dist/leaflet.js leaflet/leaflet.js"
    "leaflet/package/dist/leaflet.css leaflet/leaflet.css"
    "leaflet/package/LICENSE leaflet/LICENSE"
    "leaflet.vectorgrid/package/dist/Leaflet.VectorGrid.bundled.min.js leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"
    # The package has no LICENSE file; its README carries the Beerware notice and the
    # licences of what the bundle includes.
    "leaflet.vectorgrid/package/README.md leaflet.vectorgrid/README.md"
    # /api.html (app/routers/apidocs.py)
    "swagger-ui-dist/package/swagger-ui-bundle.js swagger-ui/swagger-ui-bundle.js"
    "swagger-ui-dist/package/swagger-ui.css swagger-ui/swagger-ui.css"
    "swagger-ui-dist/package/LICENSE swagger-ui/LICENSE"
    "swagger-ui-dist/package/NOTICE swagger-ui/NOTICE"
    # MapLibre GL for clients of the styles and TileJSON (an ES module; its worker is
    # loaded from beside it, so the CSP's 'self' covers both)
    "maplibre-gl/package/dist/maplibre-gl.mjs maplibre-gl/maplibre-gl.mjs"
    "maplibre-gl/package/dist/maplibre-gl-worker.mjs maplibre-gl/maplibre-gl-worker.mjs"
    "maplibre-gl/package/dist/maplibre-gl.css maplibre-gl/maplibre-gl.css"
    "maplibre-gl/package/LICENSE.txt maplibre-gl/LICENSE.txt"
    # The accessibility checker the browser tests inject (tests/test_toegankelijkheid.py);
    # no page of the app loads it.
    "axe-core/package/axe.min.js axe-core/axe.min.js"
    "axe-core/package/LICENSE axe-core/LICENSE"
)
for image in "$work"/leaflet/package/dist/images/*; do
    pairs+=("leaflet/package/dist/images/$(basename "$image") leaflet/images/$(basename "$image")")
done
status=0
for pair in "${pairs[@]}"; do
    read -r from to <<<"$pair"
    if [ "${1:-}" = "--check" ]; then
        cmp -s "$work/$from" "$out/$to" || { echo "vendor-web: $out/$to differs from the package" >&2; status=1; }
    else
        mkdir -p "$(dirname "$out/$to")"
        cp "$work/$from" "$out/$to"
    fi
done
exit $status
