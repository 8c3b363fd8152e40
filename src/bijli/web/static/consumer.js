// The consumer app: refreshes the balance and usage without a reload, keeps the last figures
// on the phone for the offline page, and installs the service worker. The page works without it.
(function () {
  "use strict";
  var app = document.querySelector(".consumer-app");
  var live = document.getElementById("live");
  if (!app || !live) { return; }
  var EVERY_MS = 60000;
  var KEY = "bijli-consumer-last";

  function text(selector) {
    var found = live.querySelector(selector);
    return found ? found.textContent.trim() : "";
  }

  function remember() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify({
        meter: app.getAttribute("data-meter"),
        lang: app.getAttribute("data-lang"),
        name: (document.getElementById("consumer-name") || {}).textContent || "",
        balance: text("[data-testid=balance]"),
        asOf: text("[data-testid=as-of]"),
        daysLeft: text("[data-testid=days-left]"),
        dayTotal: text("[data-testid=day-total]") || text("[data-testid=month-total]"),
        savedAt: new Date().toISOString(),
        page: window.location.pathname + window.location.search
      }));
    } catch (e) { /* private browsing: nothing kept */ }
  }

  function swap(url, push) {
    var parts = live.querySelector(".live-parts");
    var from = url || (parts && parts.getAttribute("data-live"));
    if (!from) { return; }
    window.fetch(from, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) {
        live.innerHTML = html;
        var note = live.querySelector(".live-note");
        if (note) { note.hidden = false; }
        remember();
        if (push) { window.history.pushState(null, "", push); }
      })
      .catch(function () { /* offline or signed out: the figures shown stay, with their time */ });
  }

  // The day/month and kWh/₹ switches and the day links fetch only the part that changes.
  live.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".toggle a, .day-picker a") : null;
    if (!link || event.metaKey || event.ctrlKey) { return; }
    var to = new URL(link.getAttribute("href"), window.location.href);
    event.preventDefault();
    swap(to.pathname + "/live" + to.search, to.pathname + to.search);
  });
  window.addEventListener("popstate", function () {
    swap(window.location.pathname + "/live" + window.location.search, null);
  });

  remember();
  var note = live.querySelector(".live-note");
  if (note) { note.hidden = false; }
  window.setInterval(function () { if (!document.hidden) { swap(null, null); } }, EVERY_MS);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/consumer-sw.js", { scope: "/consumer/" }).catch(function () {});
  }
})();
