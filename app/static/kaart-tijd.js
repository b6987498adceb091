/* Ondermijningskaart: time on the map. A period slider over the periods the caller has
 * figures for; a comparison of two periods (difference or ratio, /kaart/vergelijking) and
 * the Gi* hotspots (/kaart/hotspots) as GeoJSON overlays, each with its own legend. The
 * choices live in the panel's form (vergelijk, maat, hotspots), so they are in the URL like
 * every other choice. kaart.js calls okaartTijd.start(map, config) once the map is up;
 * window.okaartTijd records what was drawn, for the browser tests. */
(function () {
  "use strict";

  var tijd = { getekend: {}, legenda: {}, klaar: {} };
  window.okaartTijd = tijd;

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var nf = new Intl.NumberFormat("nl-NL", { maximumFractionDigits: 2 });
  function getal(v) { return v === null || v === undefined ? "geen" : nf.format(Number(v)); }

  function legenda(map, naam, titel, regels) {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "legenda tijdlegenda " + naam);
      var html = "<h4>" + escape(titel) + "</h4><ul>";
      regels.forEach(function (r) {
        html += '<li><span class="vlak" style="background:' + r.kleur + '"></span>' + escape(r.label) +
          ' <span class="aantal">(' + nf.format(r.aantal) + ")</span></li>";
      });
      div.innerHTML = html + "</ul>";
      return div;
    };
    control.addTo(map);
    tijd.legenda[naam] = regels;
  }

  /* Opaque: the colours on the map are the legend's, not mixed with the choropleth under them. */
  function overlay(map, naam, body, kleur, popup) {
    var layer = L.geoJSON(body, {
      style: function (f) {
        return { color: "#555555", weight: 0.6, fillColor: kleur(f.properties), fillOpacity: 1 };
      },
      onEachFeature: function (f, l) { l.bindPopup(popup(f.properties)); },
    }).addTo(map);
    tijd.getekend[naam] = body.features.length;
    tijd.klaar[naam] = true;
    return layer;
  }

  function klasseKleur(classes, geen) {
    return function (p) {
      var v = p.verandering;
      if (v === null || v === undefined) return geen;
      var colour = geen;
      classes.forEach(function (c) { if (Number(v) >= c.min) colour = c.colour; });
      return colour;
    };
  }

  function vergelijking(map, config, params) {
    var query = new URLSearchParams({
      soort: config.soort, indicator: config.indicator.id, thema: config.thema, periode: config.periode,
      vergelijk: params.get("vergelijk"), maat: params.get("maat") || "verschil",
    });
    if (config.indeling) query.set("indeling", config.indeling);
    return fetch("/kaart/vergelijking?" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { tijd.klaar.vergelijking = "fout"; return; }
        var geen = config.geenWaarde;
        overlay(map, "vergelijking", body, klasseKleur(body.legenda, geen), function (p) {
          return "<strong>" + escape(p.naam) + "</strong><br>" + escape(body.periode) + ": " + getal(p.waarde) +
            "<br>" + escape(body.vergelijk) + ": " + getal(p.vergelijk_waarde) + "<br>" + escape(body.maat) + ": " +
            (p.te_weinig_adressen ? "te weinig adressen" : getal(p.verandering));
        });
        var regels = body.legenda.slice().reverse().map(function (c) {
          return { kleur: c.colour, label: c.label, aantal: c.count || 0 };
        });
        regels.push({ kleur: geen, label: "geen waarde (onderdrukt of te weinig adressen)", aantal: body.zonder_waarde });
        legenda(map, "vergelijking", body.titel, regels);
      });
  }

  function hotspots(map, config) {
    var soort = config.soort === "vierkant500" ? "vierkant500" : "buurt";
    var query = new URLSearchParams({ soort: soort, thema: config.thema, periode: config.periode });
    if (config.indeling && soort === "buurt") query.set("indeling", config.indeling);
    return fetch("/kaart/hotspots?" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { tijd.klaar.hotspots = "fout"; return; }
        var kleuren = {};
        body.legenda.forEach(function (c) { kleuren[c.klasse] = c.kleur; });
        overlay(map, "hotspots", body, function (p) { return kleuren[p.klasse]; }, function (p) {
          return "<strong>" + escape(p.naam) + "</strong><br>" + escape(p.klasse) + "<br>Gi* z = " + getal(p.gi_z) +
            ", q = " + getal(p.q);
        });
        legenda(map, "hotspots", "Hotspots " + body.periode + " (Gi*, FDR 5 %)", body.legenda);
      });
  }

  /* The slider moves the period select of the panel and submits it, as choosing there does. */
  function schuif(config) {
    var select = document.querySelector("#keuze select[name=periode]");
    var range = document.getElementById("periodeschuif");
    var label = document.getElementById("periodeschuif-waarde");
    if (!select || !range) return;
    var waarden = Array.prototype.map.call(select.options, function (o) { return o.value; });
    range.min = "0";
    range.max = String(Math.max(waarden.length - 1, 0));
    range.value = String(Math.max(waarden.indexOf(config.periode), 0));
    var toon = function () {
      var v = waarden[Number(range.value)] || "";
      range.setAttribute("aria-valuetext", v);
      if (label) label.textContent = v;
    };
    toon();
    range.addEventListener("input", toon);
    range.addEventListener("change", function () {
      select.value = waarden[Number(range.value)];
      select.dispatchEvent(new Event("change"));
    });
  }

  tijd.start = function (map, config) {
    var params = new URLSearchParams(window.location.search);
    ["vergelijk", "maat", "hotspots"].forEach(function (name) {
      var s = document.querySelector("#keuze select[name=" + name + "]");
      if (s && params.get(name) !== null) s.value = params.get(name);
    });
    schuif(config);
    if (config.risico || !config.periode) return;
    if (params.get("vergelijk")) vergelijking(map, config, params);
    if (params.get("hotspots") === "ja") hotspots(map, config);
  };
})();
