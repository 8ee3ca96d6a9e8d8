// 指挥中心: the scope's map (region outlines by zoom, open events clustered by the server),
// the side panels (ECharts), the live feed (Server-Sent Events) and the alerts.
// Everything comes from this server's JSON API; nothing loads from elsewhere.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("command-config").textContent);
  const $ = (id) => document.getElementById(id);
  const STATUS_COLORS = {
    reported: "#ef6c00", accepted: "#00838f", dispatched: "#1e88e5",
    in_progress: "#5e35b1", resolved: "#43a047", verified: "#7cb342",
    closed: "#78909c", rejected: "#b0bec5", merged: "#b0bec5",
  };
  const DEADLINE = { red: { color: "#e53935", label: "超期" }, yellow: { color: "#f9a825", label: "临期" } };
  const PALETTE = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#e53935", "#3949ab",
                   "#c0ca33", "#6d4c41", "#546e7a", "#d81b60", "#00acc1", "#fdd835"];
  const REGION_FILLS = ["#e3f2fd", "#e8f5e9", "#fff3e0", "#f3e5f5", "#e0f2f1", "#fce4ec", "#ede7f6", "#f9fbe7"];
  const fmt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN"));
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
  const timeOf = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "Asia/Shanghai" });
  const dayOf = (iso) => new Date(iso).toLocaleDateString("zh-CN", { month: "numeric", day: "numeric", timeZone: "Asia/Shanghai" });

  // Requests the page's head started early are taken over once (see command.html).
  const prefetched = window.ccPrefetch || {};
  async function api(path) {
    const early = prefetched[path];
    delete prefetched[path];
    const res = await (early || fetch(path, { headers: { Accept: "application/json" } }));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((body.error && body.error.message_zh) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "onclick") node.addEventListener("click", v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    children.flat(Infinity).forEach((c) => {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    });
    return node;
  }

  // -- first render: time from navigation start until the charts and the map are drawn ----------
  const pending = new Set(["charts", "regions", "events"]);
  function done(part) {
    if (pending.has(part)) performance.mark("cc:" + part);
    pending.delete(part);
    if (pending.size === 0 && !document.body.dataset.ready) {
      requestAnimationFrame(() => { document.body.dataset.ready = String(Math.round(performance.now())); });
    }
  }

  // -- the map ------------------------------------------------------------------------------------
  const map = L.map("cc-map", { zoomSnap: 0.25, attributionControl: !!config.tileUrl });
  if (config.tileUrl) L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "" }).addTo(map);
  // Panes keep the drawing order whatever arrives first: region fills, the scope's outline, events.
  map.createPane("regions").style.zIndex = 380;
  map.createPane("outline").style.zIndex = 390;
  map.createPane("events").style.zIndex = 450;
  const regionLayer = L.layerGroup().addTo(map);
  const outlineLayer = L.layerGroup().addTo(map);
  const eventLayer = L.layerGroup().addTo(map);
  const liveLayer = L.layerGroup().addTo(map);
  const scope = config.scope;
  if (scope) {
    const [x0, y0, x1, y1] = scope.bbox;
    map.fitBounds([[y0, x0], [y1, x1]], { padding: [24, 24], animate: false });
  } else {
    map.setView([29.85, 121.45], 11);
  }

  function bboxParam(pad) {
    const b = map.getBounds().pad(pad || 0);
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(",");
  }

  let regionRequest = 0;
  async function drawRegions() {
    if (!scope) { done("regions"); return; }
    const ticket = ++regionRequest;
    const zoom = map.getZoom();
    try {
      const fc = await api("/api/v1/regions/" + scope.code + "/layer?zoom=" + zoom + "&bbox=" + bboxParam(0.2));
      if (ticket !== regionRequest) return;
      regionLayer.clearLayers();
      // Names stay on the map for towns and villages; grids and micro-grids name themselves on hover.
      const labels = fc.features.length <= 40 && (fc.level === "town" || fc.level === "village");
      fc.features.forEach((f, i) => {
        const layer = L.geoJSON(f, {
          pane: "regions",
          style: { color: "#90a4ae", weight: 1, fillColor: REGION_FILLS[i % REGION_FILLS.length], fillOpacity: 0.55 },
        });
        layer.bindTooltip(f.properties.name, labels
          ? { permanent: true, direction: "center", className: "cc-region-label" }
          : { sticky: true });
        layer.on("dblclick", (e) => { L.DomEvent.stop(e); map.fitBounds(layer.getBounds()); });
        layer.addTo(regionLayer);
      });
      $("map-level").textContent = "当前显示：" + fc.level_zh + "边界（" + fmt(fc.features.length) + " 个）· 放大可逐级查看";
      document.body.dataset.regionLevel = fc.level;
    } catch (err) {
      $("map-level").textContent = "区域边界加载失败：" + err.message;
    }
    done("regions");
  }

  async function drawOutline() {
    if (!scope) return;
    const fc = await api("/api/v1/regions/" + scope.code + "/layer?level=" + scope.level + "&zoom=" + map.getZoom());
    L.geoJSON(fc, { pane: "outline", interactive: false,
                    style: { color: "#b71c1c", weight: 2.5, dashArray: "8 5", fill: false } }).addTo(outlineLayer);
  }

  function eventPopup(e) {
    const deadline = DEADLINE[e.deadline_state];
    return el("div", { class: "cc-popup" },
      // A lone event drawn from a map cell carries no category: the detail page has it.
      el("strong", {}, e.category === undefined ? "在办事件" : e.category || "未分类", e.urgency === "urgent" ? "（紧急）" : ""),
      el("div", { class: "mono" }, e.code),
      el("div", {}, el("span", { class: "status st-" + e.status }, e.status_label),
        deadline ? el("span", { class: "dl dl-" + e.deadline_state }, deadline.label) : null),
      e.text ? el("p", {}, e.text) : null,
      el("a", { href: "/events/" + encodeURIComponent(e.code) }, "查看详情 ›"));
  }

  function pointMarker(e) {
    const deadline = DEADLINE[e.deadline_state];
    return L.circleMarker([e.lat, e.lon], {
      pane: "events", radius: 7, fillColor: STATUS_COLORS[e.status] || "#546e7a", fillOpacity: 0.95,
      color: deadline ? deadline.color : "#ffffff", weight: deadline ? 3 : 1.5,
    }).bindPopup(() => eventPopup(e));
  }

  function clusterMarker(c, labels) {
    const size = Math.round(26 + 8 * Math.log10(c.count));
    const worst = c.red ? "red" : c.yellow ? "yellow" : "normal";
    const icon = L.divIcon({
      className: "", iconSize: [size, size],
      html: '<div class="cl cl-' + worst + '" style="width:' + size + "px;height:" + size + 'px">' + c.count + "</div>",
    });
    const lines = Object.entries(c.statuses).map(([s, n]) => (labels[s] || s) + " " + n);
    if (c.red) lines.push("超期 " + c.red);
    if (c.yellow) lines.push("临期 " + c.yellow);
    return L.marker([c.lat, c.lon], { icon, riseOnHover: true })
      .bindTooltip(fmt(c.count) + " 件在办事件<br>" + lines.join("，") + "<br>点击放大", { direction: "top" })
      .on("click", () => map.setView([c.lat, c.lon], Math.min(map.getZoom() + 2, config.pointZoom)));
  }

  let eventRequest = 0;
  async function drawEvents() {
    const ticket = ++eventRequest;
    try {
      const data = await api("/api/v1/events/clusters?zoom=" + map.getZoom() + "&bbox=" + bboxParam(0.1));
      if (ticket !== eventRequest) return;
      eventLayer.clearLayers();
      data.items.forEach((item) => {
        if (data.mode === "points") {
          pointMarker(item).addTo(eventLayer);
        } else if (item.code) {
          // A cell holding one event is drawn as that event.
          const status = Object.keys(item.statuses)[0];
          pointMarker({ ...item, status, status_label: data.status_labels[status], deadline_state: item.worst })
            .addTo(eventLayer);
        } else {
          clusterMarker(item, data.status_labels).addTo(eventLayer);
        }
      });
      const parts = [data.total ? "视野内在办 " + fmt(data.total) + " 件" : "视野内暂无在办事件"];
      if (data.red) parts.push("超期 " + fmt(data.red));
      if (data.yellow) parts.push("临期 " + fmt(data.yellow));
      if (data.truncated) parts.push("显示最急的 " + fmt(data.items.length) + " 件");
      if (data.total) parts.push(data.mode === "points" ? "逐件显示" : "已按位置聚合");
      $("map-stat").textContent = parts.join(" · ");
      document.body.dataset.mapMode = data.mode;
    } catch (err) {
      $("map-stat").textContent = "事件加载失败：" + err.message;
    }
    done("events");
  }

  let moveTimer = null;
  map.on("moveend", () => {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(() => { drawRegions(); drawEvents(); }, 120);
  });
  let refreshTimer = null;
  function refreshEventsSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(drawEvents, 1500);
  }

  // -- the panels ---------------------------------------------------------------------------------
  // echarts.min.js is deferred after this script: it has run by DOMContentLoaded.
  const chartsLoaded = new Promise((resolve) => {
    if (window.echarts) resolve();
    else document.addEventListener("DOMContentLoaded", resolve, { once: true });
  });
  const charts = {};
  function chart(id) {
    // No animation: the figures are read at a glance and redrawn every minute.
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }
  window.addEventListener("resize", () => { Object.values(charts).forEach((c) => c.resize()); map.invalidateSize(); });
  const AXIS = { color: "#52606d", fontSize: 12 };
  const GRID_LINE = { lineStyle: { color: "#eef1f4" } };

  function drawPanels(d) {
    $("kpi-date").textContent = dayOf(d.now) + " · 截至 " + timeOf(d.now);
    $("kpi-today").textContent = fmt(d.today.reported);
    $("kpi-month").textContent = fmt(d.month.reported);
    $("kpi-closed").textContent = fmt(d.month.closed);
    $("kpi-open").textContent = fmt(d.open.total);
    $("kpi-red").textContent = fmt(d.open.red);
    $("kpi-yellow").textContent = fmt(d.open.yellow);
    $("score").textContent = d.month.score === null ? "" : d.labels.score + " " + d.month.score.toFixed(1);

    const rateKeys = ["handling_rate", "close_rate", "handled_on_time_rate", "closed_on_time_rate", "satisfaction_rate"]
      .filter((k) => k in d.labels);
    // A rate without a denominator (nothing to close yet) is shown as "—", not as 0%.
    const rates = rateKeys.map((k) => ({ name: d.labels[k], raw: d.month[k] === null ? null : +(d.month[k] * 100).toFixed(1) }));
    chart("chart-rates").setOption({
      animation: false,
      grid: { left: 76, right: 52, top: 4, bottom: 4 },
      xAxis: { type: "value", max: 100, show: false },
      // Values in a column of their own at the right, so a 0% or "—" reads like the others.
      yAxis: [
        { type: "category", inverse: true, data: rates.map((r) => r.name), axisTick: { show: false },
          axisLine: { show: false }, axisLabel: AXIS },
        { type: "category", inverse: true, position: "right", axisTick: { show: false }, axisLine: { show: false },
          axisLabel: { ...AXIS, color: "#1f2d3d", fontWeight: 600 },
          data: rates.map((r) => (r.raw === null ? "—" : r.raw.toFixed(1) + "%")) },
      ],
      series: [{
        type: "bar", barWidth: 14, showBackground: true, backgroundStyle: { color: "#f1f4f7", borderRadius: 7 },
        itemStyle: { borderRadius: 7 },
        data: rates.map((r) => ({ value: r.raw || 0, raw: r.raw,
                                  itemStyle: { color: r.raw >= 95 ? "#43a047" : r.raw >= 85 ? "#1e88e5" : "#fb8c00" } })),
      }],
    });

    const tiers = ["village_containment", "town_containment"].filter((k) => k in d.labels);
    chart("chart-tiers").setOption({
      animation: false,
      series: tiers.map((k, i) => ({
        type: "gauge", startAngle: 90, endAngle: -270, radius: "86%", center: [(25 + 50 * i) + "%", "50%"],
        pointer: { show: false }, axisLine: { lineStyle: { width: 10, color: [[1, "#eef1f4"]] } },
        progress: { show: d.month[k] !== null, width: 10, roundCap: true, itemStyle: { color: i ? "#1e88e5" : "#43a047" } },
        splitLine: { show: false }, axisTick: { show: false }, axisLabel: { show: false },
        title: { offsetCenter: [0, "30%"], fontSize: 11, color: "#52606d" },
        detail: { offsetCenter: [0, "-8%"], fontSize: 17, fontWeight: 700, color: "#1f2d3d",
                  formatter: (v) => (d.month[k] === null ? "—" : v.toFixed(1) + "%") },
        data: [{ value: d.month[k] === null ? 0 : +(d.month[k] * 100).toFixed(1), name: d.labels[k] }],
      })),
    });

    const cats = d.by_category.slice(0, 13);
    chart("chart-category").setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: (p) => p.name + "：" + fmt(p.value) + " 件" },
      grid: { left: 92, right: 44, top: 4, bottom: 4 },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", inverse: true, data: cats.map((c) => c.name), axisTick: { show: false },
               axisLine: { show: false }, axisLabel: { ...AXIS, width: 84, overflow: "truncate" } },
      series: [{ type: "bar", barWidth: 11, itemStyle: { borderRadius: [0, 4, 4, 0] },
                 label: { show: true, position: "right", color: "#52606d", formatter: (p) => fmt(p.value) },
                 data: cats.map((c, i) => ({ value: c.count, itemStyle: { color: PALETTE[i % PALETTE.length] } })) }],
    });

    chart("chart-status").setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: (p) => p.name + "：" + fmt(p.value) + " 件（" + p.percent + "%）" },
      legend: { orient: "vertical", right: 4, top: "middle", itemWidth: 10, itemHeight: 10, itemGap: 5, textStyle: AXIS,
                formatter: (name) => name + " " + fmt((d.by_status.find((s) => s.label === name) || {}).count) },
      series: [{ type: "pie", radius: ["48%", "78%"], center: ["32%", "50%"], label: { show: false },
                 itemStyle: { borderColor: "#fff", borderWidth: 2 },
                 data: d.by_status.map((s) => ({ name: s.label, value: s.count, itemStyle: { color: STATUS_COLORS[s.status] } })) }],
    });

    const levelNames = { town: "镇街", village: "村社", grid: "网格", microgrid: "微网格" };
    // "藕缆桥村第一网格" reads "第一网格" under 藕缆桥村.
    const short = (name) => (d.scope && name.startsWith(d.scope.name) && name !== d.scope.name ? name.slice(d.scope.name.length) : name);
    const ranked = d.ranking.items.slice(0, 12);
    $("ranking-title").textContent = d.ranking.level ? levelNames[d.ranking.level] + "综合评分排名" : "综合评分排名";
    chart("chart-ranking").setOption({
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const r = ranked[p.dataIndex];
          return "<b>" + r.name + "</b><br>" + d.labels.score + "：" + (r.score === null ? "—" : r.score.toFixed(1)) +
            "<br>上报 " + fmt(r.reported) + " 件，结案 " + fmt(r.closed) + " 件<br>" +
            ["close_rate", "closed_on_time_rate", "satisfaction_rate"].filter((k) => k in d.labels)
              .map((k) => d.labels[k] + " " + pct(r[k])).join("<br>");
        },
      },
      grid: { left: 112, right: 44, top: 4, bottom: 4 },
      // Scores sit close together: the axis starts just below the lowest so differences show.
      xAxis: { type: "value", show: false, max: 100,
               min: Math.max(0, Math.floor(Math.min(...ranked.filter((r) => r.score !== null).map((r) => r.score), 100) - 3)) },
      yAxis: [
        { type: "category", inverse: true, data: ranked.map((r, i) => (i + 1) + ". " + short(r.name)),
          axisTick: { show: false }, axisLine: { show: false }, axisLabel: { ...AXIS, width: 104, overflow: "truncate" } },
        { type: "category", inverse: true, position: "right", axisTick: { show: false }, axisLine: { show: false },
          axisLabel: { ...AXIS, color: "#1f2d3d", fontWeight: 600 },
          data: ranked.map((r) => (r.score === null ? "—" : r.score.toFixed(1))) },
      ],
      series: [{ type: "bar", barWidth: 10, itemStyle: { borderRadius: [0, 4, 4, 0] },
                 data: ranked.map((r, i) => ({ value: r.score === null ? null : r.score,
                                               itemStyle: { color: i < 3 ? "#b71c1c" : "#ef9a9a" } })) }],
    });

    chart("chart-trend").setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, right: 0, itemWidth: 14, itemHeight: 8, textStyle: AXIS },
      grid: { left: 40, right: 10, top: 26, bottom: 22 },
      xAxis: { type: "category", data: d.trend.map((t) => t.day.slice(5)), axisLabel: { ...AXIS, fontSize: 11 },
               axisTick: { show: false }, axisLine: { lineStyle: { color: "#c5ced6" } } },
      yAxis: { type: "value", axisLabel: { ...AXIS, fontSize: 11 }, splitLine: GRID_LINE, minInterval: 1 },
      series: [
        { name: "上报", type: "line", smooth: true, symbol: "none", data: d.trend.map((t) => t.reported),
          lineStyle: { color: "#1e88e5", width: 2 }, itemStyle: { color: "#1e88e5" }, areaStyle: { color: "rgba(30,136,229,.12)" } },
        { name: "结案", type: "line", smooth: true, symbol: "none", data: d.trend.map((t) => t.closed),
          lineStyle: { color: "#43a047", width: 2 }, itemStyle: { color: "#43a047" } },
      ],
    });
  }

  let lastPanels = null;
  async function loadPanels() {
    try {
      lastPanels = await api("/api/v1/command/dashboard");
      await chartsLoaded;
      performance.mark("cc:panels-start");
      drawPanels(lastPanels);
    } catch (err) {
      $("kpi-date").textContent = "统计加载失败：" + err.message;
    }
    done("charts");
  }

  // -- alerts -------------------------------------------------------------------------------------
  const ALERT_KINDS = { hotspot: "热点", trend: "趋势", dispute_risk: "纠纷风险" };
  async function focusRegion(code) {
    try {
      const r = await api("/api/v1/regions/" + encodeURIComponent(code));
      const [x0, y0, x1, y1] = r.bbox;
      map.fitBounds([[y0, x0], [y1, x1]], { padding: [40, 40] });
    } catch (err) { /* a region outside the tree: nothing to show */ }
  }

  async function loadAlerts() {
    const list = $("alerts");
    let items = [];
    try {
      items = (await api("/api/v1/detect/alerts?limit=20")).items || [];
    } catch (err) {
      items = [];  // 404 while detection is not deployed, or any error: show the empty state
    }
    list.replaceChildren(...(items.length ? items.map((a) => el("li", { class: "alert-item kind-" + a.kind },
      el("div", { class: "alert-top" },
        el("span", { class: "kind" }, ALERT_KINDS[a.kind] || a.kind),
        el("strong", {}, a.title),
        a.created_at ? el("time", {}, timeOf(a.created_at)) : null),
      a.reason ? el("p", {}, a.reason) : null,
      el("div", { class: "alert-links" },
        a.region_code ? el("a", { href: "#", onclick: (e) => { e.preventDefault(); focusRegion(a.region_code); } }, "在地图上查看") : null,
        a.event_code ? el("a", { href: "/events/" + encodeURIComponent(a.event_code) }, "事件 " + a.event_code) : null)))
      : [el("li", { class: "empty" }, "暂无预警")]));
    $("alerts-time").textContent = "更新于 " + timeOf(new Date().toISOString());
  }

  // -- the live feed ------------------------------------------------------------------------------
  const FEED_MAX = 60;
  const PANELS_AFTER_ACTIVITY_MS = 3000;
  function feedItem(item, fresh) {
    const deadline = DEADLINE[item.deadline_state];
    const node = el("li", { class: "feed-item" + (fresh ? " fresh" : ""), "data-code": item.code, "data-step": item.id },
      el("div", { class: "feed-top" },
        el("span", { class: "act act-" + item.action }, item.label),
        el("span", { class: "place" }, item.place || item.region_code),
        el("time", {}, timeOf(item.at))),
      el("div", { class: "feed-text" }, el("b", {}, item.category || "未分类"), " ", item.text),
      el("div", { class: "feed-meta" },
        el("span", { class: "status st-" + item.status }, item.status_label),
        deadline ? el("span", { class: "dl dl-" + item.deadline_state }, deadline.label) : null,
        el("a", { class: "mono", href: "/events/" + encodeURIComponent(item.code) }, item.code)));
    node.addEventListener("click", (e) => {
      if (e.target.tagName === "A" || item.lat === null) return;
      map.setView([item.lat, item.lon], Math.max(map.getZoom(), config.pointZoom));
    });
    return node;
  }

  function liveMarker(item) {
    if (item.lat === null || item.lon === null) return;
    const icon = L.divIcon({ className: "", iconSize: [22, 22], html: '<div class="live-dot st-' + item.status + '"></div>' });
    L.marker([item.lat, item.lon], { icon, zIndexOffset: 1000, title: item.code })
      .bindPopup(() => eventPopup(item)).addTo(liveLayer);
    const markers = liveLayer.getLayers();
    if (markers.length > 30) liveLayer.removeLayer(markers[0]);
  }

  // Any step changes some chart (categories, statuses, rates): fetch the server's figures a few
  // seconds after activity, once per burst, instead of waiting for the minute's refresh.
  let panelsTimer = null;
  function refreshPanelsSoon() {
    if (panelsTimer) return;
    panelsTimer = setTimeout(() => { panelsTimer = null; loadPanels(); }, PANELS_AFTER_ACTIVITY_MS);
  }

  function receive(item) {
    const feed = $("feed");
    const empty = feed.querySelector(".empty");
    if (empty) empty.remove();
    feed.prepend(feedItem(item, true));
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    liveMarker(item);
    refreshEventsSoon();
    refreshPanelsSoon();
    if (item.action === "report" && lastPanels) {
      // Counted locally until the next refresh of the panels brings the server's figures.
      lastPanels.today.reported += 1;
      lastPanels.month.reported += 1;
      lastPanels.open.total += 1;
      $("kpi-today").textContent = fmt(lastPanels.today.reported);
      $("kpi-month").textContent = fmt(lastPanels.month.reported);
      $("kpi-open").textContent = fmt(lastPanels.open.total);
    }
  }

  async function startFeed() {
    let cursor = null;
    try {
      const first = await api("/api/v1/stream/recent?limit=20");
      cursor = first.cursor;
      const feed = $("feed");
      feed.replaceChildren(...first.items.slice().reverse().map((i) => feedItem(i, false)));
      if (!first.items.length) feed.append(el("li", { class: "empty" }, "暂无动态"));
    } catch (err) {
      $("feed").replaceChildren(el("li", { class: "empty" }, "动态加载失败：" + err.message));
    }
    const source = new EventSource("/api/v1/stream/events" + (cursor !== null ? "?after=" + cursor : ""));
    const live = $("live");
    source.onopen = () => { live.textContent = "实时"; live.className = "live on"; };
    source.onerror = () => { live.textContent = "重连中"; live.className = "live off"; };
    source.addEventListener("step", (e) => receive(JSON.parse(e.data)));
    window.addEventListener("pagehide", () => source.close());
  }

  // -- start --------------------------------------------------------------------------------------
  drawRegions();
  drawEvents();
  drawOutline().catch(() => {});
  loadPanels();
  loadAlerts();
  startFeed();
  setInterval(loadAlerts, 60000);
  setInterval(loadPanels, 60000);
})();
