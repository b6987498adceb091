/* Ondermijningskaart: the map's search by postcode, street and house number.
 * /zoeken (app/routers/kaart.py) answers candidates: single addresses, or a street per buurt it
 * runs through. One candidate is shown at once; several are listed to choose from. Showing one
 * centres the map, names its buurt (with a link to the overview) and its figures from /locate,
 * which are computed from what the caller may see, as on the map itself. Loaded by the panel
 * (templates/kaart_paneel.html) before kaart.js's okaart.start, which calls okaart.zoeken.start. */
(function () {
  "use strict";

  var okaart = window.okaart;
  var config = null;
  var kaart = null;

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function getal(v, decimals) {
    return new Intl.NumberFormat("nl-NL", { maximumFractionDigits: decimals }).format(Number(v));
  }

  /* The buurt's headline figures of its latest year, as /locate gives them. */
  function cijfers(ind) {
    if (!ind) return "Voor deze buurt zijn geen cijfers die u mag zien.";
    if (ind.te_weinig_adressen) return "Te weinig adressen voor een cijfer per adres (" + escape(ind.periode) + ").";
    var per = ind.per_1000_adressen === null || ind.per_1000_adressen === undefined
      ? "onderdrukt" : getal(ind.per_1000_adressen, 1);
    var aantal = ind.signalen === null || ind.signalen === undefined ? "onderdrukt" : getal(ind.signalen, 0);
    return "Laatste jaar (" + escape(ind.periode) + "): " + aantal + " signalen, " + per + " per 1.000 adressen.";
  }

  function toon(kandidaat) {
    var uit = document.getElementById("zoekuitkomst");
    var lijst = document.getElementById("zoeklijst");
    lijst.innerHTML = "";
    var zoom = kandidaat.punt === "adres" ? 16 : 15;
    kaart.setView([kandidaat.lat, kandidaat.lon], Math.max(kaart.getZoom(), zoom), { animate: false });
    if (okaart.gezocht) kaart.removeLayer(okaart.gezocht);
    if (kandidaat.punt !== "buurt") {
      okaart.gezocht = L.circleMarker([kandidaat.lat, kandidaat.lon], {
        radius: 9, weight: 3, color: "#000000", fill: false, interactive: false,
      }).addTo(kaart);
    }
    var locate = new URLSearchParams({ lon: String(kandidaat.lon), lat: String(kandidaat.lat) });
    uit.textContent = "Buurt zoeken...";
    return fetch("/locate?" + locate, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { gebieden: [] }; })
      .then(function (found) {
        var buurt = (found.gebieden || []).filter(function (g) { return g.soort === "buurt"; })[0];
        var wat = escape(kandidaat.label.replace(/ \(buurt .*\)$/, ""));
        uit.innerHTML = buurt
          ? wat + ' ligt in buurt <a class="gevonden" data-code="' + escape(buurt.code) + '" href="/gebieden/' +
            encodeURIComponent(buurt.code) + "?periode=" + encodeURIComponent(config.periode) + '">' +
            escape(buurt.naam) + "</a> (" + escape(buurt.code) + '). <span class="cijfers">' +
            cijfers(buurt.indicatoren) + "</span>"
          : wat + " ligt in geen buurt die u mag zien.";
      });
  }

  function kies(kandidaten) {
    var uit = document.getElementById("zoekuitkomst");
    var lijst = document.getElementById("zoeklijst");
    uit.textContent = kandidaten.length + " gevonden; kies er een:";
    lijst.innerHTML = "";
    kandidaten.forEach(function (k) {
      var li = document.createElement("li");
      var knop = document.createElement("button");
      knop.type = "button";
      knop.className = "kandidaat";
      knop.textContent = k.label + (k.soort === "straat" ? ", " + getal(k.adressen, 0) + " adressen" : "");
      knop.addEventListener("click", function () {
        toon(k).catch(fout);
        document.getElementById("zoekterm").focus();
      });
      li.appendChild(knop);
      lijst.appendChild(li);
    });
    var eerste = lijst.querySelector("button");
    if (eerste) eerste.focus();
  }

  function fout() {
    document.getElementById("zoekuitkomst").textContent = "Zoeken lukte niet; probeer het opnieuw.";
  }

  function zoek(form) {
    var uit = document.getElementById("zoekuitkomst");
    var q = form.elements.adres.value.trim();
    document.getElementById("zoeklijst").innerHTML = "";
    if (q.length < 2) { uit.textContent = "Geef een postcode met huisnummer (9711 AA 12) of een straat (Oosterstraat 12)."; return; }
    uit.textContent = "Zoeken...";
    fetch("/zoeken?" + new URLSearchParams({ q: q }), { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 400) return { kandidaten: [], onbegrepen: true };
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (body) {
        var kandidaten = body.kandidaten || [];
        if (body.onbegrepen) {
          uit.textContent = "Geef een postcode met huisnummer (9711 AA 12) of een straat (Oosterstraat 12).";
        } else if (!kandidaten.length) {
          uit.textContent = "Adres of straat \u201c" + q + "\u201d niet gevonden.";
        } else if (kandidaten.length === 1) {
          return toon(kandidaten[0]);
        } else {
          kies(kandidaten);
        }
        return null;
      })
      .catch(fout);
  }

  okaart.zoeken = {
    start: function (map, cfg) {
      kaart = map;
      config = cfg;
      var form = document.getElementById("zoek");
      if (form) form.addEventListener("submit", function (e) { e.preventDefault(); zoek(form); });
    },
    toon: toon,
  };
})();
