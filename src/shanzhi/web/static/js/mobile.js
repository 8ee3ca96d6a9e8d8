// Phone pages: photo preview, GPS position, category suggestions, one-tap submit, the grid map.
// Each part wakes up only where its markup is on the page; the forms also work without it
// (then the region select is the position).
(function () {
  "use strict";
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // -- photo: show what was taken, let it be removed ----------------------------------------
  $$("[data-photo]").forEach((box) => {
    const input = box.querySelector("input[type=file]");
    const label = box.querySelector("[data-photo-label]");
    const figure = box.querySelector(".m-photo-preview");
    const original = label.textContent;
    let url = null;
    function show() {
      if (url) URL.revokeObjectURL(url);
      const file = input.files && input.files[0];
      url = file ? URL.createObjectURL(file) : null;
      figure.hidden = !file;
      if (file) figure.querySelector("img").src = url;
      label.textContent = file ? "重新拍照 / 选择" : original;
    }
    input.addEventListener("change", show);
    box.querySelector("[data-photo-clear]").addEventListener("click", () => { input.value = ""; show(); });
  });

  // -- position: the phone's GPS, else the region select is required --------------------------
  $$("[data-geo]").forEach((box) => {
    const form = box.closest("form");
    const status = box.querySelector("[data-geo-status]");
    const clear = box.querySelector("[data-geo-clear]");
    const lon = form.querySelector("[name=lon]");
    const lat = form.querySelector("[name=lat]");
    const crs = form.querySelector("[name=crs]");
    const region = form.querySelector("[data-region]");
    const locateUrl = box.dataset.geoLocateUrl;

    function say(text, kind) {
      status.textContent = text;
      status.classList.toggle("ok", kind === "ok");
      status.classList.toggle("fail", kind === "fail");
    }
    function sync() {
      // A point makes the region optional; without one the region must be chosen.
      const has = lon.value.trim() !== "" && lat.value.trim() !== "";
      region.required = !has;
      clear.hidden = !has;
      return has;
    }
    async function describe(x, y, accuracy) {
      const around = accuracy ? "（精度约 " + Math.round(accuracy) + " 米）" : "";
      say("已定位" + around, "ok");
      if (!locateUrl) return;
      try {
        const res = await fetch(locateUrl + "?lon=" + x + "&lat=" + y + "&crs=" + encodeURIComponent(crs.value),
          { headers: { Accept: "application/json" } });
        const body = await res.json();
        if (res.ok) {
          say("已定位：" + body.chain.slice(1).map((r) => r.name).join(" › ") + around, "ok");
        } else {
          say((body.error && body.error.message_zh) || "该位置不在辖区内", "fail");
        }
      } catch (e) { /* the position stands even if naming it failed */ }
    }
    function locate() {
      if (!navigator.geolocation) {
        say("此设备不支持定位，请选择所在区域。", "fail");
        sync();
        return;
      }
      say("正在获取定位……");
      navigator.geolocation.getCurrentPosition((pos) => {
        lon.value = pos.coords.longitude.toFixed(6);
        lat.value = pos.coords.latitude.toFixed(6);
        crs.value = "wgs84"; // what browsers report
        again.textContent = "重新定位";
        sync();
        describe(lon.value, lat.value, pos.coords.accuracy);
      }, (err) => {
        sync();
        say(err.code === 1 ? "未获得定位权限，请选择所在区域。" : "暂时无法定位，请选择所在区域或重试。", "fail");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    }
    const again = box.querySelector("[data-geo-locate]");
    again.addEventListener("click", locate);
    clear.addEventListener("click", () => {
      lon.value = lat.value = "";
      sync();
      say("不使用定位，请选择所在区域。");
    });
    [lon, lat].forEach((el) => el.addEventListener("input", () => {
      if (sync()) say("使用手动填写的坐标。", "ok");
    }));
    if (sync()) say("已填写坐标。", "ok");
    else if ("geoAuto" in box.dataset) locate();
  });

  // -- category suggestions while typing ------------------------------------------------------
  $$("form[data-classify]").forEach((form) => {
    const text = form.querySelector("textarea[name=text]");
    const select = form.querySelector("select[name=category]");
    const panel = form.querySelector("[data-suggest]");
    const chips = form.querySelector("[data-suggest-chips]");
    const csrf = form.querySelector("[name=csrf_token]").value;
    let timer = null;
    let asked = 0;

    function mark() {
      $$(".m-chip", chips).forEach((c) => c.classList.toggle("chosen", c.dataset.code === select.value));
    }
    function render(items) {
      chips.replaceChildren(...items.map((s) => {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "m-chip" + (s.uncertain ? " unsure" : "");
        chip.dataset.code = s.code;
        chip.append(s.name);
        const pct = document.createElement("small");
        pct.textContent = Math.round(s.probability * 100) + "%";
        chip.append(pct);
        chip.addEventListener("click", () => { select.value = s.code; mark(); });
        return chip;
      }));
      panel.hidden = items.length === 0;
      mark();
    }
    async function ask() {
      const value = text.value.trim();
      if (value.length < 5 || !/[\u4e00-\u9fff]/.test(value)) { render([]); return; }
      const mine = ++asked;
      try {
        const res = await fetch(form.dataset.classify, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ text: value }),
        });
        if (mine !== asked) return; // a newer question is on its way
        render(res.ok ? (await res.json()).items.filter((s) => s.probability >= 0.05) : []);
      } catch (e) {
        render([]);
      }
    }
    text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 450); });
    select.addEventListener("change", mark);
    if (text.value.trim()) ask();
  });

  // -- one tap: no second submission while the first is on its way ---------------------------
  $$("form[data-submitting]").forEach((form) => {
    const button = form.querySelector("button[type=submit]");
    const label = button.textContent;
    form.addEventListener("submit", () => {
      button.disabled = true;
      button.textContent = form.dataset.submitting;
    });
    // Coming back with the browser's back button must not leave the button dead.
    window.addEventListener("pageshow", () => { button.disabled = false; button.textContent = label; });
  });

  // -- copy the tracking code and secret -----------------------------------------------------
  $$("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "已复制，请妥善保存";
      } catch (e) {
        button.textContent = "无法自动复制，请截图或抄写";
      }
    });
  });

  // -- my grid on a map: polygons from the region API, events as dots ------------------------
  const mapBox = document.getElementById("grid-map");
  if (mapBox && window.L) {
    const config = JSON.parse(document.getElementById("grid-config").textContent);
    const COLORS = { normal: "#2e7d32", yellow: "#f0a500", red: "#d32f2f", none: "#607d8b" };
    const map = L.map(mapBox, { zoomSnap: 0.25, attributionControl: !!config.tileUrl });
    if (config.tileUrl) L.tileLayer(config.tileUrl).addTo(map);
    const [x0, y0, x1, y1] = config.bbox;
    map.fitBounds([[y0, x0], [y1, x1]], { padding: [20, 20], animate: false });
    const tolerance = Math.max(0, (x1 - x0) / 1500).toFixed(6);
    const geojson = (children) => fetch("/api/v1/regions/" + encodeURIComponent(config.region) + "/geojson?tolerance=" +
      tolerance + (children ? "&children=true" : ""), { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { features: [] }));

    Promise.all([geojson(false), geojson(true)]).then(([self, parts]) => {
      const labels = parts.features.length <= 30;
      parts.features.forEach((f) => {
        const mine = f.properties.code === config.highlight;
        const layer = L.geoJSON(f, { style: {
          color: mine ? "#b71c1c" : "#ffffff", weight: mine ? 3 : 1.2,
          fillColor: mine ? "#ef9a9a" : "#90caf9", fillOpacity: mine ? 0.45 : 0.3,
        } }).addTo(map);
        // "藕缆桥村第一网格3号微网格" inside 藕缆桥村第一网格 reads as "3号微网格".
        const name = f.properties.name.startsWith(config.name) && f.properties.name !== config.name
          ? f.properties.name.slice(config.name.length) : f.properties.name;
        if (labels) layer.bindTooltip(name, { permanent: true, direction: "center", className: "m-region-label" });
        if (mine) layer.bringToFront();
      });
      L.geoJSON(self, { style: { color: "#34495e", weight: 2.5, dashArray: "6 4", fill: !parts.features.length,
        fillColor: "#90caf9", fillOpacity: 0.25 }, interactive: false }).addTo(map);
      config.events.forEach((e) => {
        L.circleMarker([e.lat, e.lon], { radius: 7, color: "#fff", weight: 2, fillColor: COLORS[e.state] || COLORS.none,
          fillOpacity: 0.95 }).bindTooltip(e.label).addTo(map).on("click", () => {
          const item = document.querySelector(".m-list-item[data-code='" + e.code + "']");
          if (item) item.scrollIntoView({ behavior: "smooth", block: "center" });
        });
      });
      document.body.dataset.mapReady = "1";
    });
  }
})();
