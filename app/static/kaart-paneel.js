/* Ondermijningskaart: the map page's panel on phones, and the map as a named landmark.
 * Runs right after the panel, before folium's script creates the map: the panel moves in front
 * of the map in the document, so Tab reaches the search and the choices first and then the
 * map and its controls. On a narrow screen (okaart.css: max-width 60rem) the panel sits above
 * the map instead of on it, so it never covers the layer control; on a phone (40rem) its
 * choices start folded behind the "Keuzes" button. The map takes the rest of the height and
 * is told when that changes. Without JavaScript everything stays open. */
(function () {
  "use strict";

  var SMAL = window.matchMedia("(max-width: 40rem)");
  var paneel = document.getElementById("paneel");
  var knop = document.getElementById("paneelknop");
  var inhoud = document.getElementById("paneelinhoud");
  var map = document.querySelector(".folium-map");

  function zet(open) {
    knop.setAttribute("aria-expanded", open ? "true" : "false");
    inhoud.hidden = !open;
    var kaart = window.okaart && window.okaart.kaart;
    if (kaart) kaart.invalidateSize({ animate: false });
  }

  if (map && paneel) {
    map.parentNode.insertBefore(paneel, map);
    map.setAttribute("role", "region");
    map.setAttribute("aria-label", "Kaart; de pijltjestoetsen verschuiven hem, + en - zoomen");
  }
  /* On a phone the layer control folds to Leaflet's layers button (a tap or Enter opens it, a
   * tap on the map folds it again), so it never covers the zoom buttons or the map. */
  function vouwLagen() {
    var lagen = document.querySelector(".leaflet-control-layers");
    var kaart = window.okaart && window.okaart.kaart;
    if (!lagen) return;
    var toggle = lagen.querySelector(".leaflet-control-layers-toggle");
    if (toggle) {
      toggle.title = "Kaartlagen";
      toggle.setAttribute("aria-label", "Kaartlagen kiezen");
    }
    if (!SMAL.matches || !kaart) return;
    lagen.classList.remove("leaflet-control-layers-expanded");
    kaart.on("click", function () { lagen.classList.remove("leaflet-control-layers-expanded"); });
  }

  /* On a phone the legend shows its title and folds its classes behind a button. */
  function vouwLegenda() {
    var legenda = document.querySelector(".legenda");
    var lijst = legenda && legenda.querySelector("ul");
    if (!SMAL.matches || !lijst) return;
    lijst.id = lijst.id || "legendalijst";
    var open = document.createElement("button");
    open.type = "button";
    open.className = "legendaknop";
    open.setAttribute("aria-controls", lijst.id);
    function zetLegenda(uit) {
      open.setAttribute("aria-expanded", uit ? "true" : "false");
      open.textContent = uit ? "Legenda verbergen" : "Legenda tonen";
      lijst.hidden = !uit;
    }
    open.addEventListener("click", function (e) {
      L.DomEvent.stopPropagation(e);
      zetLegenda(open.getAttribute("aria-expanded") !== "true");
    });
    legenda.insertBefore(open, lijst);
    zetLegenda(false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    vouwLagen();
    vouwLegenda();
  });

  if (knop && inhoud) {
    knop.addEventListener("click", function () { zet(knop.getAttribute("aria-expanded") !== "true"); });
    if (SMAL.matches) zet(false);
    SMAL.addEventListener("change", function (e) { zet(!e.matches); });
  }
})();
