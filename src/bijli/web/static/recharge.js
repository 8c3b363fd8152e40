// The recharge page's tracker: follows the payment from the gateway to the power
// (GET /api/v1/payments/{id}) until the power is back or nothing more is to come.
(function () {
  "use strict";
  var list = document.querySelector("ol.tracker[data-track]");
  if (!list || !window.fetch) { return; }
  var url = list.getAttribute("data-track");
  var deadline = Date.now() + 10 * 60 * 1000;
  var ist = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
  });

  function finished(steps) {
    return steps.every(function (s) { return s.state !== "pending"; });
  }

  function show(track) {
    track.steps.forEach(function (s) {
      var item = list.querySelector('[data-step="' + s.step + '"]');
      if (!item) { return; }
      item.className = s.state;
      item.querySelector(".state").textContent = list.getAttribute("data-" + s.state) || s.state;
      item.querySelector("time").textContent = s.at ? ist.format(new Date(s.at)) : "";
    });
    var back = document.querySelector("[data-testid=power-back]");
    if (back && track.power_back_s !== null && track.power_back_s !== undefined) {
      back.textContent = list.getAttribute("data-power-back").replace("{s}", String(track.power_back_s));
    }
    return finished(track.steps);
  }

  function poll() {
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (track) {
        if (track && show(track)) { return; }
        if (Date.now() < deadline) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { if (Date.now() < deadline) { window.setTimeout(poll, 5000); } });
  }
  poll();
})();
