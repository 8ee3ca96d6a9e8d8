// 活地图: drill down the region tree (district → town → village → grid → micro-grid).
// Everything comes from the JSON API of this server; no tiles are needed.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                   "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6"];
  const $ = (id) => document.getElementById(id);

  // Without tiles Leaflet would zoom without end; 19 is street level, as on tile maps.
  const map = L.map("map", { zoomSnap: 0.25, maxZoom: 19, attributionControl: !!config.tileUrl });
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "" }).addTo(map);
  }
  map.setView([29.85, 121.45], 11);
  const outline = L.layerGroup().addTo(map);
  const shapes = L.layerGroup().addTo(map);
  let clickMarker = null;
  let current = null;

  async function api(path) {
    const res = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await res.json();
    if (!res.ok) {
      const err = new Error((body.error && body.error.message_zh) || res.statusText);
      err.status = res.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, v);
    });
    children.flat(Infinity).forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  const fmt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN"));

  function tolerance(region) {
    const [x0, , x1] = region.bbox;
    return Math.max(0, (x1 - x0) / 1500).toFixed(6);
  }

  function renderCrumbs(detail) {
    const crumbs = $("crumbs");
    crumbs.replaceChildren();
    detail.chain.forEach((r, i) => {
      if (i > 0) crumbs.append(el("span", { class: "sep" }, "›"));
      const last = i === detail.chain.length - 1;
      crumbs.append(last
        ? el("strong", { "data-code": r.code }, r.name)
        : el("a", { href: "#" + r.code, "data-code": r.code, onclick: (e) => { e.preventDefault(); select(r.code); } }, r.name));
    });
  }

  function renderInfo(detail) {
    const rows = [
      ["层级", detail.level_zh],
      ["编码", detail.code],
      ["面积", detail.area_km2.toFixed(2) + " km²"],
    ];
    if (detail.village_type_zh) rows.push(["村庄类型", detail.village_type_zh]);
    if (detail.population !== null) rows.push(["户籍人口", fmt(detail.population)]);
    if (detail.floating_population !== null) rows.push(["流动人口", fmt(detail.floating_population)]);
    if (detail.households !== null) rows.push(["户数", fmt(detail.households)]);
    Object.entries(detail.descendants).forEach(([level, n]) => {
      if (n > 0) rows.push(["下辖" + config.levels[level], fmt(n) + " 个"]);
    });
    $("info").replaceChildren(
      el("h2", { id: "region-name" }, detail.name),
      el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    );
  }

  function renderChildren(detail, features, highlight) {
    const list = $("children");
    list.replaceChildren();
    $("children-title").textContent = detail.children_count ? "下级区域（" + features.length + "）" : "同级区域";
    features.forEach((f, i) => {
      const p = f.properties;
      list.append(el("li", { class: p.code === highlight ? "current" : "" },
        el("span", { class: "swatch", style: "background:" + PALETTE[i % PALETTE.length] }),
        el("a", { href: "#" + p.code, "data-code": p.code, onclick: (e) => { e.preventDefault(); select(p.code); } }, p.name),
        el("span", { class: "mono muted" }, p.code)));
    });
  }

  function drawFeatures(features, highlight) {
    shapes.clearLayers();
    const labels = features.length <= 40;
    let chosenLayer = null;
    features.forEach((f, i) => {
      const color = PALETTE[i % PALETTE.length];
      const chosen = f.properties.code === highlight;
      const layer = L.geoJSON(f, {
        style: {
          color: chosen ? "#c0392b" : "#ffffff", weight: chosen ? 3 : 1.2,
          fillColor: color, fillOpacity: chosen ? 0.55 : 0.35,
        },
      });
      layer.on("mouseover", () => layer.setStyle({ fillOpacity: 0.6 }));
      layer.on("mouseout", () => layer.setStyle({ fillOpacity: chosen ? 0.55 : 0.35 }));
      layer.on("click", () => select(f.properties.code));
      if (labels) {
        layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "region-label" });
      } else {
        layer.bindTooltip(f.properties.name + " " + f.properties.code, { sticky: true });
      }
      layer.addTo(shapes);
      if (chosen) chosenLayer = layer;
    });
    if (chosenLayer) chosenLayer.bringToFront();  // its red outline must not hide under a neighbour
  }

  async function select(code) {
    try {
      const detail = await api("/api/v1/regions/" + encodeURIComponent(code));
      current = detail;
      // A leaf shows its siblings with itself highlighted, so the map never goes blank.
      const showChildren = detail.children_count > 0 || !detail.parent_code;
      const base = showChildren ? detail : await api("/api/v1/regions/" + detail.parent_code);
      const fc = await api("/api/v1/regions/" + encodeURIComponent(base.code) + "/geojson?tolerance=" +
                           tolerance(base) + (detail.children_count > 0 || !showChildren ? "&children=true" : ""));
      outline.clearLayers();
      L.geoJSON(await api("/api/v1/regions/" + encodeURIComponent(base.code) + "/geojson?tolerance=" + tolerance(base)),
        { style: { color: "#34495e", weight: 2.5, dashArray: "6 4", fill: false }, interactive: false }).addTo(outline);
      drawFeatures(fc.features, showChildren ? null : detail.code);
      renderCrumbs(detail);
      renderInfo(detail);
      renderChildren(detail, fc.features, showChildren ? null : detail.code);
      const [x0, y0, x1, y1] = (showChildren ? detail : base).bbox;
      map.fitBounds([[y0, x0], [y1, x1]], { padding: [20, 20], animate: false });
      if (location.hash !== "#" + code) history.replaceState(null, "", "#" + code);
      document.body.dataset.selected = code;
    } catch (err) {
      $("info").replaceChildren(el("p", { class: "error" }, "加载失败：" + err.message));
    }
  }

  map.on("click", async (e) => {
    const { lat, lng } = e.latlng;
    $("clicked").hidden = false;
    $("clicked-point").textContent = "经度 " + lng.toFixed(6) + "，纬度 " + lat.toFixed(6) + "（WGS84）";
    const list = $("clicked-chain");
    if (clickMarker) clickMarker.remove();
    clickMarker = L.circleMarker([lat, lng], { radius: 5, color: "#c0392b", fillOpacity: 1 }).addTo(map);
    try {
      const found = await api("/api/v1/locate?lon=" + lng + "&lat=" + lat);
      list.replaceChildren(...found.chain.map((r) =>
        el("li", {}, el("span", { class: "tag" }, r.level_zh), " ", r.name, " ", el("span", { class: "mono muted" }, r.code))));
    } catch (err) {
      list.replaceChildren(el("li", { class: "error" }, err.message));
    }
  });

  async function start() {
    try {
      const roots = await api("/api/v1/regions?level=district&size=1");
      if (!roots.items.length) {
        $("info").replaceChildren(el("p", {}, "尚无区域数据。请先运行 "), el("code", {}, "shanzhi demo"),
          el("span", {}, " 或 "), el("code", {}, "shanzhi regions import 文件.geojson"));
        return;
      }
      const wanted = location.hash.slice(1);
      await select(/^\d{6,18}$/.test(wanted) ? wanted : config.start || roots.items[0].code);
    } catch (err) {
      $("info").replaceChildren(el("p", { class: "error" }, "加载失败：" + err.message));
    }
  }
  // Links to "#<code>" (and the back button) select that region without reloading.
  window.addEventListener("hashchange", () => {
    const code = location.hash.slice(1);
    if (/^\d{6,18}$/.test(code) && (!current || current.code !== code)) select(code);
  });

  // -- layers ----------------------------------------------------------------------------------
  // Generic over GET /api/v1/map/layers: a new layer of a standard kind (points, regions,
  // choropleth, heat) needs no change here. Feature properties the server may set are described
  // in src/shanzhi/web/layers.py.
  const LAYER_PANES = { choropleth: 405, regions: 410, points: 450 };  // heat: Leaflet.heat's overlay pane
  Object.entries(LAYER_PANES).forEach(([kind, z]) => { map.createPane("layers-" + kind).style.zIndex = z; });
  const STORE = "shanzhi.map.layers";
  const layerStates = [];

  function remembered() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
  }

  function remember() {
    const choice = Object.fromEntries(layerStates.map((s) => [s.def.key, s.on]));
    try { localStorage.setItem(STORE, JSON.stringify(choice)); } catch (e) { /* private mode: not kept */ }
  }

  // Layers are fetched for the view plus a margin, so small pans (a popup making room for
  // itself) need no reload — and so do not close that popup.
  function currentView() {
    const b = map.getBounds().pad(0.25);
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const box = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
                 clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)];
    return { zoom: map.getZoom(), bounds: L.latLngBounds([box[1], box[0]], [box[3], box[2]]),
             query: "bbox=" + box.map((v) => v.toFixed(6)).join(",") + "&zoom=" + map.getZoom() };
  }

  function covers(view) {
    return view && view.zoom === map.getZoom() && view.bounds.contains(map.getBounds());
  }

  function popupContent(p) {
    return el("div", { class: "layer-popup" },
      p.title ? el("strong", {}, p.title) : [],
      p.popup ? el("dl", { class: "facts" }, p.popup.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])) : [],
      p.href ? el("a", { href: p.href }, "查看详情 ›") : []);
  }

  const hasPopup = (p) => !!(p.title || p.popup || p.href);

  function popupOptions() {
    // Pan the popup clear of the layer switcher in the top-right corner.
    const switcher = document.getElementById("layer-switcher");
    const right = (switcher ? switcher.offsetWidth : 0) + 24;
    return { maxWidth: 300, autoPanPaddingTopLeft: [16, 16], autoPanPaddingBottomRight: [right, 16] };
  }

  // A popup belongs to the map, not to its shape: a layer redraws when the view moves far enough
  // (a popup panning itself into view may move it that far), and a bound popup would go with it.
  let popupFrom = null;  // the layer key of the open popup: unticking that layer closes it

  function openPopup(key, p, latlng) {
    const popup = L.popup(popupOptions()).setLatLng(latlng).setContent(popupContent(p)).openOn(map);
    popupFrom = { key, popup };
  }

  function describe(key, feature, layer) {
    const p = feature.properties || {};
    if (p.tooltip) layer.bindTooltip(p.tooltip, { direction: "top", sticky: !(layer instanceof L.Marker) });
    if (hasPopup(p)) {
      layer.on("click", (e) => {
        L.DomEvent.stop(e);  // the map's own click would close it again
        layer.closeTooltip();  // the popup says it all, and more
        openPopup(key, p, layer.getLatLng ? layer.getLatLng() : e.latlng);
      });
    }
  }

  function clusterMarker(state, feature, latlng) {
    const p = feature.properties;
    const size = Math.round(28 + Math.min(24, 8 * Math.log10(p.count)));
    const badge = el("span", { style: "background:" + (p.color || "#1e88e5") }, fmt(p.count));
    const marker = L.marker(latlng, {
      pane: "layers-points", keyboard: false,
      icon: L.divIcon({ className: "layer-cluster layer-" + state.def.key, html: badge, iconSize: [size, size] }),
    });
    marker.on("click", () => map.setView(latlng, map.getZoom() + 2));
    return marker;
  }

  const DRAW = {
    points: (state, body) => L.geoJSON(body, {
      pointToLayer: (f, latlng) => (f.properties.count > 1 ? clusterMarker(state, f, latlng) : L.circleMarker(latlng, {
        pane: "layers-points", radius: 6, color: f.properties.stroke || "#ffffff",
        weight: f.properties.stroke ? 2.5 : 1.5, fillOpacity: 0.95,
        fillColor: f.properties.color || "#1e88e5", className: "layer-" + state.def.key, bubblingMouseEvents: false,
      })),
      onEachFeature: (f, layer) => describe(state.def.key, f, layer),
    }),
    regions: (state, body) => L.geoJSON(body, {
      pane: "layers-regions", interactive: false, className: "layer-" + state.def.key,
      style: (f) => ({ color: f.properties.color || "#37474f", weight: 1.2, opacity: 0.85, fill: false }),
    }),
    choropleth: (state, body) => L.geoJSON(body, {
      pane: "layers-choropleth", className: "layer-" + state.def.key,
      // Nearly opaque: the drill-down's own fills below must not tint what the colours say.
      style: (f) => ({ color: "#ffffff", weight: 0.8, fillColor: f.properties.color || "#90a4ae", fillOpacity: 0.85 }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        if (p.code) {
          if (p.tooltip) layer.bindTooltip(p.tooltip, { sticky: true });
          layer.on("click", async (e) => {
            await select(p.code);  // as the drill-down's own shapes do; then its popup, if any
            if (hasPopup(p)) openPopup(state.def.key, p, e.latlng);
          });
        } else {
          describe(state.def.key, f, layer);
        }
      },
    }),
    // Leaflet.heat divides weights by 2^(maxZoom - zoom) to fade zoomed-out views; the server's
    // cells are already sized for the zoom, so maxZoom 0 keeps their counts as they are.
    heat: (state, body) => L.heatLayer(body.points, { ...state.def.options, max: body.max || 1, maxZoom: 0 }),
  };

  async function loadLayer(state) {
    const seq = ++state.seq;
    const view = currentView();
    state.view = null;
    state.row.dataset.state = "loading";
    try {
      const body = await api("/api/v1/map/layers/" + encodeURIComponent(state.def.key) + "?" + view.query);
      if (seq !== state.seq) return;  // the view moved or the box was unticked meanwhile
      state.view = view;
      if (state.layer) state.layer.remove();
      state.layer = DRAW[state.def.kind](state, body).addTo(map);
      if (body.legend) {  // what this view shows (e.g. the alliances in it), until the next load
        const legend = legendFor({ ...state.def, legend: body.legend });
        legend.hidden = state.legend.hidden;
        state.legend.replaceWith(legend);
        state.legend = legend;
      }
      state.note.textContent = (body.summary || "") + (body.truncated ? "（仅显示部分，请放大查看）" : "");
      state.note.classList.remove("error");
      state.row.dataset.state = "ready";
    } catch (err) {
      if (seq !== state.seq) return;
      state.note.textContent = "加载失败：" + err.message;
      state.note.classList.add("error");
      state.row.dataset.state = "error";
    }
  }

  function toggle(state, on) {
    state.on = on;
    state.legend.hidden = !on;
    if (on) {
      loadLayer(state);
    } else {
      state.seq++;  // drop any answer still on its way
      if (state.layer) state.layer.remove();
      state.layer = null;
      if (popupFrom && popupFrom.key === state.def.key) map.closePopup(popupFrom.popup);
      state.note.textContent = "";
      state.row.dataset.state = "off";
    }
    remember();
  }

  function legendFor(def) {
    if (def.kind === "heat") {
      const colors = def.legend.map((i) => i.color).join(", ");
      const first = def.legend[0], last = def.legend[def.legend.length - 1];
      return el("div", { class: "legend" },
        el("div", { class: "legend-ramp", style: "background: linear-gradient(to right, " + colors + ")" }),
        el("div", { class: "legend-ramp-labels" }, el("span", {}, first ? first.label : ""), el("span", {}, last ? last.label : "")));
    }
    return el("ul", { class: "legend" }, def.legend.map((item) =>
      el("li", {}, el("span", { class: "key key-" + def.kind, style: "--key:" + item.color }), item.label)));
  }

  function layerRow(def, on) {
    const box = el("input", { type: "checkbox", "data-layer": def.key });
    box.checked = on;
    const state = { def, on, seq: 0, layer: null, view: null, note: el("span", { class: "layer-note" }), legend: legendFor(def) };
    state.legend.hidden = !on;
    state.row = el("div", { class: "layer-row", "data-layer": def.key, "data-state": "off", title: def.description || "" },
      el("label", {}, box, el("span", { class: "layer-label" }, def.label)), state.note, state.legend);
    box.addEventListener("change", () => toggle(state, box.checked));
    return state;
  }

  const LayerSwitcher = L.Control.extend({
    options: { position: "topright" },
    onAdd() {
      const list = el("div", { class: "layer-list", id: "layer-list" });
      const head = el("button", { type: "button", class: "layer-head", "aria-expanded": "true", "aria-controls": "layer-list" }, "图层");
      const box = el("section", { class: "layer-switcher", id: "layer-switcher", "aria-label": "图层" }, head, list);
      head.addEventListener("click", () => {
        const open = box.classList.toggle("collapsed") === false;
        head.setAttribute("aria-expanded", String(open));
      });
      if (window.matchMedia("(max-width: 720px)").matches) {
        box.classList.add("collapsed");
        head.setAttribute("aria-expanded", "false");
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });

  async function startLayers() {
    let defs;
    try {
      defs = (await api("/api/v1/map/layers")).items.filter((d) => DRAW[d.kind]);
    } catch (err) {
      return;  // the map works without layers; the drill-down reports its own errors
    }
    if (!defs.length) return;
    const switcher = new LayerSwitcher().addTo(map);
    const chosen = remembered();
    defs.forEach((def) => {
      const state = layerRow(def, def.key in chosen ? !!chosen[def.key] : def.default_on);
      layerStates.push(state);
      switcher.getContainer().querySelector(".layer-list").append(state.row);
      if (state.on) loadLayer(state);
    });
  }

  // One reload per settled view, not one per animation frame of a pan or zoom.
  let reloadTimer = null;
  map.on("moveend zoomend", () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => layerStates.forEach((s) => s.on && !covers(s.view) && loadLayer(s)), 250);
  });

  start();
  startLayers();
})();
