/* Leaflet.VectorGrid 1.3.0 draws a tile at options.tileSize but asks the server for the map's
 * own zoom level, ignoring options.zoomOffset. The map pages ask for 512-pixel tiles one zoom
 * level down (a quarter of the requests for the same detail), so the request's z is shifted
 * here. Loaded right after the locally served VectorGrid (app/maps.py). */
(function () {
  "use strict";
  var original = L.VectorGrid.Protobuf.prototype._getVectorTilePromise;
  L.VectorGrid.Protobuf.include({
    _getVectorTilePromise: function (coords, tileBounds) {
      var offset = this.options.zoomOffset || 0;
      if (!offset) return original.call(this, coords, tileBounds);
      var shifted = L.point(coords.x, coords.y);
      shifted.z = coords.z + offset;
      return original.call(this, shifted, tileBounds);
    },
  });
})();
