/* Point clusters on the map page. Below a point layer's readable zoom its vector tiles carry one
 * feature per grid cell with the number of points in it (``aantal``, app/layer_sql.py
 * mvt_clusters); a single point carries aantal 1 and its attributes. A cluster is drawn as a
 * circle in the layer's colours, sized by its count, with the count written in it: one SVG
 * path and one text per cluster instead of a path per point. A click on a cluster zooms in
 * towards its points. Loaded after Leaflet.VectorGrid and vectorgrid-punten.js (app/maps.py);
 * kaart.js asks okaartClusters for a cluster's style and click. */
(function () {
  "use strict";

  var getal = new Intl.NumberFormat("nl-NL", { maximumFractionDigits: 0 });

  function aantal(props) {
    var n = props && Number(props.aantal);
    return n > 1 ? n : 0;
  }

  window.okaartClusters = {
    /* Whether the feature stands for more than one point. */
    isCluster: function (props) {
      return aantal(props) > 0;
    },

    /* The cluster's circle: the layer's own fill and outline (so signals and vacancy stay apart
     * by colour and form), the radius growing with the logarithm of the count, at most 24 pixels
     * within its cell of some 85 (app/layer_sql.py CLUSTER_CELLS). */
    stijl: function (punt, props) {
      var n = aantal(props);
      return {
        radius: Math.min(24, 9 + 5 * Math.log10(n)), weight: Math.max(1.5, punt.dikte), color: punt.rand,
        opacity: 1, fill: true, fillColor: punt.kleur, fillOpacity: 0.85, className: "okaart-cluster",
      };
    },

    /* The legend's lines for clusters (kaart.js adds them when the map has point layers): one
     * per point layer that groups its points, in that layer's colours and with the zoom from
     * which its points stand alone (app/maps.py _point_style), so the legend cannot drift from
     * the layers' declarations. */
    legenda: function (punten, escape) {
      return (punten || []).filter(function (p) { return p.enkelVanaf; }).map(function (p) {
        return '<li class="cluster" data-laag="' + escape(p.id) + '"><span class="punt" style="background:' +
          p.kleur + ";border:" + Math.max(1.5, p.dikte) + "px solid " + p.rand + ';width:1rem;height:1rem"></span>' +
          "groep " + escape(p.titel.toLowerCase()) + " met hun aantal (onder zoomniveau " + p.enkelVanaf +
          "); klik om in te zoomen</li>";
      }).join("");
    },

    /* A click on a cluster zooms in two levels around it, towards the zoom of single points. */
    klik: function (map, e) {
      if (!aantal(e.layer && e.layer.properties)) return false;
      map.setView(e.latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
      return true;
    },
  };

  /* The count in the circle: an SVG text drawn just after its circle, in the outline's colour
   * (white on the blue signals, black on the white vacancy rings). Text takes no clicks: the
   * circle under it does. */
  function schrijf(renderer, layer) {
    var n = layer._okaartAantal;
    var tekst = L.SVG.create("text");
    tekst.setAttribute("x", layer._point.x);
    tekst.setAttribute("y", layer._point.y);
    tekst.setAttribute("text-anchor", "middle");
    tekst.setAttribute("dominant-baseline", "central");
    tekst.setAttribute("class", "okaart-cluster-aantal");
    // SVG presentation attributes: the number needs no stylesheet of its own.
    tekst.setAttribute("font-size", n >= 1000 ? "10" : "11");
    tekst.setAttribute("font-weight", "700");
    tekst.setAttribute("font-family", "system-ui, sans-serif");
    tekst.setAttribute("pointer-events", "none");
    tekst.setAttribute("fill", layer.options.color);
    tekst.setAttribute("data-aantal", String(n));
    tekst.textContent = getal.format(n);
    renderer._rootGroup.appendChild(tekst);
  }

  var createLayer = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.include({
    _createLayer: function (feature, pxPerExtent, layerStyle) {
      var symbolizer = createLayer.call(this, feature, pxPerExtent, layerStyle);
      if (feature.type === 1 && symbolizer && aantal(feature.properties)) {
        symbolizer._okaartAantal = aantal(feature.properties);
      }
      return symbolizer;
    },
  });

  var addPath = L.SVG.Tile.prototype._addPath;
  L.SVG.Tile.include({
    _addPath: function (layer) {
      addPath.call(this, layer);
      if (layer._okaartAantal && layer._point) schrijf(this, layer);
    },
  });
})();
