// 事件详情: the event's place on a small map (no tiles: its region polygon, the village outline
// and the reported point), the department patterns panel, and confirmations for merges.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("event-config").textContent);
  const $ = (id) => document.getElementById(id);

  async function api(path) {
    const res = await fetch(path, { headers: { Accept: "application/json" } });
    if (!res.ok) {
      const err = new Error(res.statusText);
      err.status = res.status;
      throw err;
    }
    return res.json();
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  async function drawMap() {
    const box = $("event-map");
    if (!box) return;
    const map = L.map(box, { zoomSnap: 0.25, attributionControl: false, scrollWheelZoom: false });
    map.setView(config.point ? [config.point[1], config.point[0]] : [29.85, 121.45], 15);
    const geo = (code, query) => api("/api/v1/regions/" + encodeURIComponent(code) + "/geojson" + (query || ""));
    try {
      if (config.siblings) {
        L.geoJSON(await geo(config.siblings, "?children=true&tolerance=0.00002"), {
          style: { color: "#ffffff", weight: 1, fillColor: "#b0bec5", fillOpacity: 0.35 }, interactive: false,
        }).addTo(map);
      }
      if (config.outline) {
        L.geoJSON(await geo(config.outline), {
          style: { color: "#52606d", weight: 1.5, dashArray: "5 4", fill: false }, interactive: false,
        }).addTo(map);
      }
      const region = L.geoJSON(await geo(config.region), {
        style: { color: "#b71c1c", weight: 2, fillColor: "#ef9a9a", fillOpacity: 0.3 }, interactive: false,
      }).addTo(map);
      map.fitBounds(region.getBounds(), { padding: [24, 24], animate: false });
    } catch (err) {
      box.append(el("p", { class: "map-error" }, "区域边界加载失败"));
    }
    if (config.point) {
      L.circleMarker([config.point[1], config.point[0]], {
        radius: 8, color: "#fff", weight: 2, fillColor: "#1565c0", fillOpacity: 1,
      }).bindTooltip("上报位置").addTo(map);
    }
    document.body.dataset.mapReady = "1";
  }

  // Which units closed this kind of event here before, and how fast. The endpoint may not
  // exist on every server: the panel stays hidden unless it answers.
  async function unitPatterns() {
    const panel = $("unit-patterns");
    if (!panel || !config.units) return;
    let body;
    try {
      body = await api("/api/v1/detect/units?region=" + encodeURIComponent(config.units.region) +
                       "&category=" + encodeURIComponent(config.units.category));
    } catch (err) {
      return;
    }
    const items = (body && body.items) || [];
    if (!items.length) return;
    const unitSelect = document.querySelector("select[name=unit]");
    const hoursLabel = "median_hours" in items[0] ? "中位用时" : "平均用时";
    const rows = items.map((u) => {
      const name = el("td", { "data-label": "单位" }, u.unit_name);
      if (unitSelect && [...unitSelect.options].some((o) => o.value === u.unit_code)) {
        const pick = el("button", { type: "button", class: "link-button" }, "选用");
        pick.addEventListener("click", () => {
          unitSelect.value = u.unit_code;
          const step = unitSelect.closest("details");
          if (step) step.open = true;
          unitSelect.focus();
        });
        name.append(" ", pick);
      }
      const h = u.median_hours ?? u.mean_hours;
      const hours = h === null || h === undefined ? "—"
        : (h >= 48 ? (h / 24).toFixed(1) + " 天" : h.toFixed(1) + " 小时");
      return el("tr", {}, name, el("td", { "data-label": "办结" }, u.closed),
                el("td", { "data-label": hoursLabel }, hours),
                el("td", { "data-label": "退回率" }, (u.return_rate * 100).toFixed(1) + "%"));
    });
    $("unit-hours-head").textContent = hoursLabel;
    $("unit-patterns-rows").replaceChildren(...rows);
    panel.hidden = false;
  }

  // A suggestion's button puts its category into the acceptance form, ready to submit.
  document.querySelectorAll("#suggestions .use-category").forEach((button) => {
    button.addEventListener("click", () => {
      const select = document.querySelector("select[name=category]");
      if (!select) return;
      select.value = button.closest("li").dataset.category;
      const step = select.closest("details");
      if (step) step.open = true;
      select.focus();
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });

  drawMap();
  unitPatterns();
})();
