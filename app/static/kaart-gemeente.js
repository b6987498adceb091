/* Ondermijningskaart: the municipality selector and the regional view of the map page (issue 16).
 * Shown only to a principal of several municipalities; it lists only those (app/routers/kaart.py).
 * Choosing one fits the map to it; "Hele regio" fits it to all of them (the regional view). It
 * only moves the map: what the tiles show is scoped by the server, whatever is chosen here.
 * "Afwijking ten opzichte van" switches the deviation the areas are coloured by between the
 * rest of the municipality (z) and the rest of the region (z_regio): it chooses that indicator
 * in the panel's form, which reloads the page in place as every other choice does. */
(function () {
  "use strict";

  function grenzen(option) {
    var boxes = JSON.parse(option.getAttribute("data-grenzen"));
    if (typeof boxes[0][0] === "number") return boxes; // one municipality: [[s, w], [n, e]]
    var s = 90, w = 180, n = -90, e = -180;
    boxes.forEach(function (b) {
      s = Math.min(s, b[0][0]); w = Math.min(w, b[0][1]);
      n = Math.max(n, b[1][0]); e = Math.max(e, b[1][1]);
    });
    return [[s, w], [n, e]];
  }

  function afwijking(select) {
    var form = document.getElementById("keuze");
    var indicator = form && form.querySelector('select[name="indicator"]');
    if (!indicator || !select.value) return;
    indicator.value = select.value;
    form.action = "/kaart" + window.location.hash; // keep the place, as kaart.js does
    form.submit();
  }

  function start() {
    var select = document.getElementById("gemeente");
    if (select) {
      select.addEventListener("change", function () {
        var map = window.okaart && window.okaart.kaart;
        if (map) map.fitBounds(grenzen(select.options[select.selectedIndex]), { animate: false });
      });
    }
    var wissel = document.getElementById("afwijking");
    if (wissel) wissel.addEventListener("change", function () { afwijking(wissel); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
