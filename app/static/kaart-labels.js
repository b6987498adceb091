/* Names on the areas at a readable zoom: buurten, business parks and the like from map zoom 15,
 * wijken from 13. No extra request: the names come from the vector tiles already drawn
 * (``naam``), one label per area, placed inside its largest drawn part (the middle of its box
 * when that lies inside, else the middle of the widest stretch of the part on the line through
 * it). The labels are permanent Leaflet tooltips that take no clicks: the area under them still
 * opens its popup. kaart.js starts this once the map and its layers exist. */
(function () {
  "use strict";

  /* Whether (x, y) lies inside the ring (even-odd rule). */
  function binnen(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var a = ring[i], b = ring[j];
      if ((a.y > y) !== (b.y > y) && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
    }
    return inside;
  }

  /* A point inside the ring, in tile pixels, and the ring's box; null for a degenerate ring. */
  function plek(ring) {
    var box = L.bounds(ring);
    var c = box.getCenter();
    if (binnen(ring, c.x, c.y)) return { punt: c, box: box };
    var xs = [];
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var a = ring[i], b = ring[j];
      if ((a.y > c.y) !== (b.y > c.y)) xs.push(((b.x - a.x) * (c.y - a.y)) / (b.y - a.y) + a.x);
    }
    xs.sort(function (p, q) { return p - q; });
    var best = null;
    for (var k = 0; k + 1 < xs.length; k += 2) {
      if (!best || xs[k + 1] - xs[k] > best[1] - best[0]) best = [xs[k], xs[k + 1]];
    }
    return best ? { punt: L.point((best[0] + best[1]) / 2, c.y), box: box } : null;
  }

  function tekst(naam, id) {
    var span = document.createElement("span");
    span.textContent = naam;
    span.setAttribute("data-id", id);
    return span;
  }

  /* Redraws the labels of one layer from the tiles of the current zoom. */
  function teken(map, layer, groep, vanaf) {
    groep.clearLayers();
    if (map.getZoom() < vanaf || !map.hasLayer(layer)) return;
    var grootste = {};
    Object.keys(layer._vectorTiles || {}).forEach(function (key) {
      var renderer = layer._vectorTiles[key];
      var tile = renderer.getCoord();
      if (tile.z !== layer._tileZoom) return; // a tile of the zoom left behind, about to go
      var origin = L.point(tile.x, tile.y).scaleBy(renderer._size);
      Object.keys(renderer._features || {}).forEach(function (id) {
        var symbolizer = renderer._features[id].feature;
        var naam = symbolizer.properties && symbolizer.properties.naam;
        if (!naam || !symbolizer._parts) return;
        symbolizer._parts.forEach(function (ring) {
          if (ring.length < 3) return;
          var p = plek(ring);
          if (!p) return;
          var size = p.box.getSize();
          var area = size.x * size.y;
          if (grootste[id] && grootste[id].area >= area) return;
          grootste[id] = { area: area, breed: size.x, naam: naam, latlng: map.unproject(origin.add(p.punt), tile.z) };
        });
      });
    });
    Object.keys(grootste).forEach(function (id) {
      var g = grootste[id];
      if (g.breed < 40) return; // too narrow on screen to hold a name
      groep.addLayer(L.tooltip({
        permanent: true, direction: "center", className: "gebiedsnaam", interactive: false, opacity: 1,
      }).setLatLng(g.latlng).setContent(tekst(g.naam, id)));
    });
  }

  window.okaartLabels = {
    /* ``lagen``: [{laag, vanaf}]: the tile layers whose areas get names, from map zoom ``vanaf``. */
    start: function (map, lagen) {
      lagen.forEach(function (l) {
        if (!l.laag) return;
        var groep = L.layerGroup().addTo(map);
        var update = function () { teken(map, l.laag, groep, l.vanaf); };
        l.laag.on("load", update);
        l.laag.on("remove", function () { groep.clearLayers(); });
        map.on("zoomend", update);
      });
    },
  };
})();
