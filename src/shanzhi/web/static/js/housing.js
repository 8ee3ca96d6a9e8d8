// Housing pages: "near me" (the phone's GPS → /m/housing?near=lon,lat), and the inspection form
// showing only the checklist items that apply to the chosen place (a building or one room).
// Both pages work without it: the address search and the server's own filtering stay.
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
})();
