// 活地图: drill down the region tree (district → town → village → grid → micro-grid).
// Everything comes from the JSON API of this server; no tiles are needed.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                   "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6"];
  const $ = (id) => document.getElementById(id);

  const map = L.map("map", { zoomSnap: 0.25, attributionControl: !!config.tileUrl });
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
  start();
})();
