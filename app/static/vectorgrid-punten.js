/* Leaflet.VectorGrid 1.3.0 draws a point of a vector tile as a circle marker that knows its
 * position only in the tile's pixels. Leaflet takes any layer with getLatLng() and a radius of
 * at most 10 px for a marker and asks it for its position on every click; the symbolizer
 * answers undefined and the click throws ("Cannot read properties of undefined (reading
 * 'lat')"), so no popup ever opened. Here a point's position is computed from its tile (the
 * tile's own zoom and size, which the zoom offset does not change). Loaded after VectorGrid
 * (app/maps.py). */
(function () {
  "use strict";
  var original = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.include({
    _createLayer: function (feature, pxPerExtent, layerStyle) {
      var symbolizer = original.call(this, feature, pxPerExtent, layerStyle);
      if (feature.type === 1 && symbolizer) {
        symbolizer.getLatLng = function () {
          var renderer = this._renderer;
          if (!this._latlng && renderer && renderer._map && this._point) {
            var tile = renderer.getCoord();
            var origin = L.point(tile.x, tile.y).scaleBy(renderer._size);
            this._latlng = renderer._map.unproject(origin.add(this._point), tile.z);
          }
          return this._latlng;
        };
      }
      return symbolizer;
    },
  });
})();
