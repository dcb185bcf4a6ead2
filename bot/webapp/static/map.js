// Open cases on a map at the place reported from the site. Leaflet (installed by `make`
// from the npm registry) and OpenStreetMap's tiles where they can be reached; without
// them, or for cases with no place yet, a list beside the map.

import { get } from "./api.js";
import { cardOf } from "./board.js";
import { clear, fill, h } from "./dom.js";
import { t } from "./i18n.js";

let leaflet = null;

function loadLeaflet() {
  if (window.L) return Promise.resolve(window.L);
  if (leaflet) return leaflet;
  leaflet = new Promise((resolve) => {
    const css = h("link", { rel: "stylesheet", href: "/app/vendor/leaflet/leaflet.css" });
    const js = h("script", { src: "/app/vendor/leaflet/leaflet.js" });
    js.addEventListener("load", () => resolve(window.L || null));
    js.addEventListener("error", () => resolve(null));
    document.head.append(css, js);
  });
  return leaflet;
}

export async function showMap(me) {
  const view = document.getElementById("view-map");
  const data = await get("/app/api/map");
  const L = me.map ? await loadLeaflet() : null;
  const holder = h("div", { id: "map", class: L ? "map" : "map offline" });
  const located = h(
    "section",
    { class: "located" },
    data.located.map((c) => h("div", { class: "placed", dataset: { ref: c.ref } }, `📍 ${c.lat.toFixed(4)}, ${c.lon.toFixed(4)}`, cardOf(c))),
  );
  fill(clear(view), 
    L ? null : h("p", { class: "notice", id: "map-offline" }, t("app.map_offline")),
    holder,
    L ? null : located,
    h("h3", {}, `${t("app.no_place")} (${data.unlocated.length})`),
    h("section", { class: "unlocated" }, data.unlocated.map(cardOf)),
  );
  if (!L) return;
  const map = L.map(holder, { zoomControl: true, attributionControl: true });
  L.tileLayer(data.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  const points = data.located.map((c) => [c.lat, c.lon]);
  for (const c of data.located) {
    L.circleMarker([c.lat, c.lon], { radius: 9, color: c.late ? "#c62828" : "#1565c0", weight: 3 })
      .addTo(map)
      .bindPopup(`${c.ref} · ${c.kind_label}`);
  }
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 15 });
  else map.setView([20.54, 105.91], 11);
  holder.dataset.markers = String(points.length);
}
