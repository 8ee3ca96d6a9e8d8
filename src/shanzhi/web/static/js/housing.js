// Housing pages: "near me" (the phone's GPS → /m/housing?near=lon,lat), the inspection form
// showing only the checklist items that apply to the chosen place (a building or one room), the
// inspection photos previewed before they are sent, and a just-revealed tenant brought into view.
// The pages work without it: the address search, the server's filtering and its photo limit stay.
(function () {
  "use strict";
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  $$("[data-near]").forEach((button) => {
    const status = document.querySelector("[data-near-status]");
    function say(text, kind) {
      status.hidden = false;
      status.textContent = text;
      status.classList.toggle("fail", kind === "fail");
    }
    button.addEventListener("click", () => {
      if (!navigator.geolocation) { say("此设备不支持定位，请按地址查找。", "fail"); return; }
      say("正在获取定位……");
      button.disabled = true;
      navigator.geolocation.getCurrentPosition((pos) => {
        // Browsers report WGS84, as the registry stores.
        const near = pos.coords.longitude.toFixed(6) + "," + pos.coords.latitude.toFixed(6);
        window.location.href = "/m/housing?near=" + encodeURIComponent(near);
      }, (err) => {
        button.disabled = false;
        say(err.code === 1 ? "未获得定位权限，请按地址查找。" : "暂时无法定位，请重试或按地址查找。", "fail");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  });

  $$("form.h-inspect").forEach((form) => {
    const place = form.querySelector("[data-place]");
    function sync() {
      const kind = place.value ? "unit" : "building";
      $$(".h-item", form).forEach((item) => {
        const applies = item.dataset.places.split(" ").includes(kind);
        item.hidden = !applies;
        $$("input", item).forEach((input) => { input.disabled = !applies; });
      });
    }
    place.addEventListener("change", sync);
    sync();
    // A failed item asks for its note.
    $$(".h-item", form).forEach((item) => {
      const note = item.querySelector(".h-note");
      function mark() {
        const failed = item.querySelector("input[value=fail]").checked;
        item.classList.toggle("failed", failed);
        note.hidden = !failed;
      }
      $$("input[type=radio]", item).forEach((r) => r.addEventListener("change", mark));
      mark();
    });
  });

  // Inspection photos: thumbnails of what was chosen; more than the limit blocks the submit.
  $$("[data-photos]").forEach((box) => {
    const input = box.querySelector("input[type=file]");
    const label = box.querySelector("[data-photos-label]");
    const list = box.querySelector("[data-photos-preview]");
    const clear = box.querySelector("[data-photos-clear]");
    const max = Number(box.dataset.max);
    const original = label.textContent;
    let urls = [];
    function show() {
      urls.forEach((u) => URL.revokeObjectURL(u));
      const files = Array.from(input.files || []);
      urls = files.map((file) => URL.createObjectURL(file));
      list.replaceChildren(...urls.map((url, n) => {
        const li = document.createElement("li");
        const img = document.createElement("img");
        img.src = url;
        img.alt = "所选照片 " + (n + 1);
        li.append(img);
        return li;
      }));
      list.hidden = clear.hidden = files.length === 0;
      const over = files.length > max;
      input.setCustomValidity(over ? "每次检查最多 " + max + " 张照片，请重新选择" : "");
      label.textContent = !files.length ? original
        : over ? "已选 " + files.length + " 张，超过 " + max + " 张，请重新选择"
          : "已选 " + files.length + " 张，点此重新选择";
    }
    input.addEventListener("change", show);
    clear.addEventListener("click", () => { input.value = ""; show(); });
  });

  // A tenant's full details, just revealed, may sit far down the page.
  const revealed = document.querySelector("[data-revealed]");
  if (revealed) revealed.scrollIntoView({ block: "center" });
})();
