// The consumer page's live alerts: follows the account's feed (server-sent events) and puts
// each new alert at the top of the list. Text only: nothing from the feed becomes markup.
(function () {
  "use strict";
  var section = document.querySelector("section.alerts[data-feed]");
  if (!section || !window.EventSource) { return; }
  var list = section.querySelector(".alert-list");
  var empty = section.querySelector(".empty-note");
  var names = { sms: "SMS", email: "E-mail", web: "Web" };
  var ist = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Kolkata", day: "2-digit", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false
  });
  var url = section.getAttribute("data-feed") + "?after=" + encodeURIComponent(section.getAttribute("data-after") || "0");

  function line(cls, text) {
    var p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    return p;
  }

  function show(alert) {
    if (list.querySelector('[data-alert-id="' + alert.alert_id + '"]')) { return; }
    var item = document.createElement("li");
    item.className = "alert-item is-new";
    item.setAttribute("data-alert-id", String(alert.alert_id));
    item.setAttribute("lang", alert.language);
    var subject = line("alert-subject", "");
    var strong = document.createElement("strong");
    strong.textContent = alert.subject;
    subject.appendChild(strong);
    var when = document.createElement("time");
    when.className = "muted small";
    when.setAttribute("datetime", alert.raised_at);
    when.textContent = " " + ist.format(new Date(alert.raised_at));
    subject.appendChild(document.createTextNode(" "));
    subject.appendChild(when);
    item.appendChild(subject);
    item.appendChild(line("alert-text", alert.text));
    var channels = line("alert-channels small", "");
    alert.deliveries.forEach(function (d) {
      var span = document.createElement("span");
      span.className = "channel " + d.state;
      span.textContent = (names[d.channel] || d.channel) + ": " + d.state + " ";
      channels.appendChild(span);
    });
    item.appendChild(channels);
    list.insertBefore(item, list.firstChild);
    if (empty) { empty.hidden = true; }
  }

  var feed = new EventSource(url);
  feed.addEventListener("alert", function (event) {
    try { show(JSON.parse(event.data)); } catch (e) { /* a torn event: the next reconnect resends it */ }
  });
})();
