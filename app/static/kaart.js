/* Ondermijningskaart: styles, tooltips, popups and the legend for the map page.
 * The page (app/maps.py) creates the Leaflet map and the vector tile layers with folium and
 * then calls okaart.start(map, config, layers). window.okaart also records what was drawn
 * (distinct feature ids per layer, the colour of each area) and when each layer finished
 * loading, for the browser tests and the benchmark. */
(function () {
  "use strict";

  var config = null;
  var okaart = {
    getekend: {},
    kleuren: {}, // the colour each area of the choropleth got, by feature id
    geladen: {},
    klaar: false,
    kaart: null,
  };
  window.okaart = okaart;

  var nf = function (decimals) {
    return new Intl.NumberFormat("nl-NL", { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
  };

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function waarde(v, unit) {
    if (v === null || v === undefined || v === "") return "onderdrukt";
    if (typeof v === "boolean") return v ? "ja" : "nee";
    var n = Number(v);
    if (unit === "percent") return nf(1).format(n) + " %";
    if (unit === "count") return nf(0).format(n);
    return nf(n >= 10 || n <= -10 ? 1 : 2).format(n);
  }

  function kleur(v) {
    if (v === null || v === undefined) return config.geenWaarde;
    var classes = config.indicator.classes;
    var colour = config.geenWaarde;
    for (var i = 0; i < classes.length; i++) {
      if (Number(v) >= classes[i].min) colour = classes[i].colour;
    }
    return colour;
  }

  function noteer(layerId, props) {
    var seen = okaart.getekend[layerId] || (okaart.getekend[layerId] = new Set());
    seen.add(props.id);
  }

  function puntStijl(layerId) {
    return (config.punten || []).filter(function (p) { return p.id === layerId; })[0];
  }

  /* The style function VectorGrid calls for every feature of a tile it draws. VectorGrid 1.3
   * passes (properties, zoom) only, so a point layer is known by its id, not by the geometry. */
  okaart.stijl = function (layerId) {
    return function (props) {
      var punt = puntStijl(layerId);
      // A cluster of points (kaart-clusters.js) is counted there, not as a drawn feature.
      if (punt && okaartClusters.isCluster(props)) return okaartClusters.stijl(punt, props);
      noteer(layerId, props);
      if (punt) {
        return {
          radius: punt.straal, weight: punt.dikte, color: punt.rand, opacity: 1,
          fill: true, fillColor: punt.kleur, fillOpacity: punt.dekking,
        };
      }
      if (layerId === config.omtrek) {
        return { weight: 2.5, color: "#252525", dashArray: "4 3", fill: true, fillOpacity: 0 };
      }
      var fill = kleur(props[config.indicator.property]);
      if (layerId === config.gebied) okaart.kleuren[props.id] = fill;
      return { weight: 0.8, color: "#525252", opacity: 0.9, fill: true, fillColor: fill, fillOpacity: 0.7 };
    };
  };

  /* An area with fewer addresses than the minimum has no rate and no z (migration 0015). */
  function klein(props) {
    return props.te_weinig_adressen ? "te weinig adressen" : "";
  }

  /* The deviation in words, from z (app/overview.py says the same); ``regio``: against the
   * rest of the region (z_regio, afwijkend_regio) instead of the municipality. */
  function oordeel(props, regio) {
    var z = regio ? props.z_regio : props.z;
    if (z === null || z === undefined || z === "") return config.onderdrukt && props.signalen === null ? "onderdrukt" : "onbekend";
    var n = Number(z);
    var afwijkend = regio ? props.afwijkend_regio : props.afwijkend;
    var tekst = n >= 3 ? (afwijkend ? "duidelijk hoger" : "hoger, maar minder dan 10 signalen")
      : n <= -3 ? "duidelijk lager" : "wijkt niet duidelijk af";
    return tekst + " (z " + waarde(z, "z") + ")";
  }

  function gebiedPopup(props) {
    var ind = config.indicator;
    var rows = config.risico ? [
      ["Adressen met een vestiging in een risicobranche", waarde(props.vestigingen, "count")],
      ["Adressen met een vestiging (alle branches)", waarde(props.totaal, "count")],
      ["Risicobranche-adressen per hectare", waarde(props.per_hectare, "rate")],
      ["Aandeel risicobranches", waarde(props.aandeel_pct, "percent")],
    ] : [
      ["Signalen", waarde(props.signalen, "count")],
      ["Adressen", waarde(props.adressen, "count")],
      ["Signalen per 1.000 adressen", klein(props) || waarde(props.per_1000_adressen, "rate")],
      ["Idem, gladgestreken naar de gemeente", klein(props) || waarde(props.per_1000_eb, "rate")],
      ["Leegstand", waarde(props.leegstand, "count") + " (" + (klein(props) || waarde(props.leegstand_pct, "percent")) + ")"],
      ["Ten opzichte van de rest van de gemeente", klein(props) || oordeel(props, false)],
    ].concat(config.regio ? [
      ["Ten opzichte van de rest van de regio", klein(props) || oordeel(props, true)],
    ] : []).concat([
      ["Trend t.o.v. de vorige periode (z)", klein(props) || (props.eerste_periode ? "geen vorige periode" : waarde(props.trend_z, "z"))],
    ]);
    var html = '<div class="popup gebied"><h3>' + escape(props.naam) + ' <span class="code">' + escape(props.code) + "</span></h3>";
    html += '<p class="hoofdcijfer">' + escape(ind.title) + ': <strong class="waarde" data-waarde="' +
      escape(props[ind.property] === null || props[ind.property] === undefined ? "" : props[ind.property]) + '">' +
      escape(waarde(props[ind.property], ind.unit)) + "</strong></p><table>";
    rows.forEach(function (r) { html += "<tr><th>" + escape(r[0]) + "</th><td>" + escape(r[1]) + "</td></tr>"; });
    html += "</table>";
    if (props.onderdrukt) html += '<p class="noot">Kleine aantallen (onder ' + config.k + ') zijn onderdrukt, de rest is afgerond op 5.</p>';
    html += '<p><a class="overzicht" href="/gebieden/' + encodeURIComponent(props.code) + "?periode=" +
      encodeURIComponent(config.periode) + '">Gebiedsoverzicht</a> · ' + (config.risico
        ? "Registers die vandaag gelden"
        : "Periode " + escape(config.periode) + (config.thema !== "alle" ? ", thema " + escape(config.thema) : "")) +
      "</p></div>";
    return html;
  }

  function woord(v) {
    return v === null || v === undefined ? "" : String(v).replace(/_/g, " ");
  }

  function datum(v) {
    if (!v) return "";
    var d = new Date(String(v).slice(0, 10) + "T12:00:00Z");
    return isNaN(d) ? String(v) : d.toLocaleDateString("nl-NL", { day: "numeric", month: "long", year: "numeric" });
  }

  function puntPopup(layerId, props) {
    var rows = layerId === "signalen"
      ? [["Soort signaal", woord(props.soort)], ["Datum", datum(props.datum)], ["Thema", woord(props.thema)],
         ["Bron", props.bron], ["Buurt", props.buurtcode]]
      : layerId === "vestigingen"
        ? [["Naam", props.naam], ["Soort", woord(props.soort)], ["Risicobranche", woord(props.risicobranche)],
           ["SBI", props.sbi], ["Vergunning", woord(props.vergunning)], ["Geldig tot", datum(props.geldig_tot)],
           ["Bron", props.bron], ["Buurt", props.buurtcode]]
        : [["Soort object", woord(props.soort)], ["Leeg sinds", datum(props.sinds)], ["Bron", props.bron],
           ["Buurt", props.buurtcode]];
    // The address only reaches those cleared for addresses (layers/signalen.py: ``adres``).
    if (props.adres && layerId !== "vestigingen") rows.push(["Adres", props.adres]);
    var kop = { signalen: "Signaal", vestigingen: "Vestiging" }[layerId] || "Leegstand";
    var html = '<div class="popup punt" data-laag="' + escape(layerId) + '"><h3>' + kop + "</h3><table>";
    rows.forEach(function (r) {
      html += "<tr><th>" + escape(r[0]) + "</th><td>" + escape(r[1] === null || r[1] === undefined ? "" : r[1]) + "</td></tr>";
    });
    return html + "</table></div>";
  }

  function legenda(map) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "legenda");
      var ind = config.indicator;
      var html = "<h4>" + escape(ind.title) + "</h4><ul>";
      var aantal = function (n) {
        return n === null || n === undefined ? "" : ' <span class="aantal">(' + nf(0).format(n) + ")</span>";
      };
      ind.classes.slice().reverse().forEach(function (c) {
        html += '<li data-min="' + c.min + '"><span class="vlak" style="background:' + c.colour + '"></span>' +
          escape(c.label) + aantal(c.count) + "</li>";
      });
      html += '<li class="geen"><span class="vlak" style="background:' + config.geenWaarde + '"></span>' +
        (config.onderdrukt ? "onderdrukt (minder dan " + config.k + ") of te weinig adressen" : "geen waarde of te weinig adressen") +
        aantal(config.zonderWaarde) + "</li>";
      if (config.omtrek) html += '<li><span class="vlak omtrek"></span>bedrijventerrein</li>';
      (config.punten || []).forEach(function (p) {
        html += '<li><span class="punt" style="background:' + p.kleur + ";border:" + p.dikte + "px solid " + p.rand +
          ";width:" + 2 * p.straal + "px;height:" + 2 * p.straal + 'px"></span>' + escape(p.titel) + "</li>";
      });
      html += okaartClusters.legenda(config.punten, escape);
      div.innerHTML = html + "</ul>";
      return div;
    };
    control.addTo(map);
  }

  /* The view in the URL: the choices in the query (soort, indeling, indicator, thema, periode,
   * and doel when given), zoom and centre in the fragment (#zoom/lat/lon). A shared link reopens
   * the same view, and back from an overview returns to it. */
  function leesPlek() {
    var m = /^#(\d{1,2})\/(-?\d{1,2}(?:\.\d+)?)\/(-?\d{1,3}(?:\.\d+)?)$/.exec(window.location.hash);
    return m ? { zoom: Number(m[1]), lat: Number(m[2]), lon: Number(m[3]) } : null;
  }

  function schrijfPlek(map) {
    var params = new URLSearchParams(window.location.search);
    params.set("soort", config.soort);
    if (config.indeling) params.set("indeling", config.indeling);
    params.set("indicator", config.indicator.id);
    params.set("thema", config.thema);
    if (config.periode) params.set("periode", config.periode);
    var c = map.getCenter();
    var hash = "#" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5);
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString() + hash);
    afdrukLink(map, params);
  }

  /* The "Afdrukken" link prints this very view: the choices and the visible box (CRS84). */
  function afdrukLink(map, params) {
    var link = document.getElementById("afdrukken");
    if (!link) return;
    var q = new URLSearchParams(params);
    q.delete("doel");
    var b = map.getBounds();
    q.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","));
    link.href = "/kaart/afdruk?" + q.toString();
  }

  okaart.start = function (map, cfg, layers) {
    config = cfg;
    okaart.kaart = map;
    okaart.lagen = layers;
    var tooltip = L.tooltip({ sticky: true, direction: "top", offset: [0, -6] });
    var wachten = Object.keys(layers).filter(function (id) { return map.hasLayer(layers[id]) && !(cfg.punten || []).some(function (p) { return p.id === id; }); });
    Object.keys(layers).forEach(function (id) {
      var layer = layers[id];
      var punt = (cfg.punten || []).some(function (p) { return p.id === id; });
      layer.on("load", function () {
        okaart.geladen[id] = performance.now();
        okaart.klaar = wachten.every(function (w) { return okaart.geladen[w] !== undefined; });
      });
      layer.on("click", function (e) {
        L.DomEvent.stop(e);
        if (punt && okaartClusters.klik(map, e)) return;
        var props = e.layer.properties;
        // On a phone the panel is above the map, not on it: the popup may use the map's width.
        var smal = map.getSize().x < 500;
        L.popup({
          maxWidth: smal ? map.getSize().x - 80 : 340,
          autoPanPaddingTopLeft: smal ? L.point(8, 8) : L.point(60, 190),
        }).setLatLng(e.latlng)
          .setContent(punt ? puntPopup(id, props) : gebiedPopup(props)).openOn(map);
      });
      if (!punt) {
        layer.on("mouseover", function (e) {
          var p = e.layer.properties;
          var ind = cfg.indicator;
          tooltip.setLatLng(e.latlng).setContent(escape(p.naam) + ": " + escape(waarde(p[ind.property], ind.unit)));
          map.openTooltip(tooltip);
        });
        layer.on("mouseout", function () { map.closeTooltip(tooltip); });
      }
    });
    legenda(map);
    // Names on the areas at a readable zoom (kaart-labels.js): wijken from 13, the rest from 15.
    okaartLabels.start(map, [{ laag: layers[cfg.gebied], vanaf: cfg.soort === "wijk" ? 13 : 15 },
                             { laag: cfg.omtrek && layers[cfg.omtrek], vanaf: 14 }]);
    if (window.okaartTijd) window.okaartTijd.start(map, cfg); // kaart-tijd.js: slider, comparison, hotspots
    var plek = leesPlek();
    if (plek) map.setView([plek.lat, plek.lon], plek.zoom, { animate: false });
    else if (cfg.grenzen) map.fitBounds(cfg.grenzen, { animate: false });
    // Written once the reader moves the map: a page opened from a link keeps that link.
    map.on("moveend", function () { schrijfPlek(map); });
    if (okaart.zoeken) okaart.zoeken.start(map, cfg); // the search (kaart-zoeken.js)
    afdrukLink(map, new URLSearchParams(document.getElementById("afdrukken") ? document.getElementById("afdrukken").search : ""));
    var form = document.getElementById("keuze");
    if (form) {
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) {
        s.addEventListener("change", function () {
          // Another choice keeps the place: the fragment of the action survives a GET submit.
          form.action = "/kaart" + window.location.hash;
          form.submit();
        });
      });
    }
  };
})();
