// The offline page: the last figures the consumer page kept on this phone, and how old they are.
(function () {
  "use strict";
  var saved = null;
  try { saved = JSON.parse(window.localStorage.getItem("bijli-consumer-last") || "null"); } catch (e) { saved = null; }
  var lang = (saved && saved.lang) || "hi";
  document.documentElement.lang = lang;
  Array.prototype.forEach.call(document.querySelectorAll("[data-lang]"), function (el) {
    el.hidden = el.getAttribute("data-lang") !== lang;
  });
  function put(id, value) {
    var el = document.querySelector("[data-testid=" + id + "]");
    if (el) { el.textContent = value || ""; }
  }
  if (!saved) {
    put("offline-age", lang === "hi" ? "इस फ़ोन पर अभी कोई आँकड़े नहीं।" : "No figures kept on this phone yet.");
    return;
  }
  put("offline-name", saved.name + " · " + saved.meter);
  put("offline-balance", saved.balance);
  put("offline-as-of", saved.asOf);
  put("offline-days-left", saved.daysLeft);
  var minutes = Math.max(0, Math.round((Date.now() - Date.parse(saved.savedAt)) / 60000));
  var age = minutes < 120 ? minutes + (lang === "hi" ? " मिनट" : " min")
    : minutes < 2880 ? Math.floor(minutes / 60) + (lang === "hi" ? " घंटे" : " h")
    : Math.floor(minutes / 1440) + (lang === "hi" ? " दिन" : " days");
  put("offline-age", lang === "hi" ? "इस फ़ोन ने ये आँकड़े " + age + " पहले देखे।" : "This phone saw these figures " + age + " ago.");
  var retry = document.querySelector("[data-testid=offline-retry]");
  if (retry && saved.page) { retry.setAttribute("href", saved.page); }
})();
