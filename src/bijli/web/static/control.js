// The case queue, live: follows the cases' stream (server-sent events), puts a new case at the
// top of the table and moves a case's status and assignee as its steps arrive. Text only:
// nothing from the stream becomes markup.
(function () {
  "use strict";
  var section = document.querySelector("section[data-live]");
  if (!section || !window.EventSource) { return; }
  var body = section.querySelector("table.cases tbody");
  var state = document.querySelector('[data-testid="live-state"]');
  var words = JSON.parse(section.getAttribute("data-words") || "{}");
  var lang = section.getAttribute("data-lang") || "en";
  var status = section.getAttribute("data-status") || "open";
  var area = section.getAttribute("data-area") || "";
  var empty = section.querySelector(".empty-note");
  var months = lang === "hi"
    ? ["जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर", "अक्टूबर", "नवंबर", "दिसंबर"]
    : ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var openStatuses = { "new": true, "assigned": true, "inspected": true };

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function ist(text) {
    var d = new Date(new Date(text).getTime() + 330 * 60000);
    return two(d.getUTCDate()) + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }
  var labels = Array.prototype.map.call(section.querySelectorAll("table.cases thead th"), function (th) {
    return th.textContent;
  });
  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function labelled(tr) {
    Array.prototype.forEach.call(tr.children, function (td, i) {
      if (labels[i]) { td.setAttribute("data-label", labels[i]); }
    });
    return tr;
  }
  function link(href, text) {
    var td = document.createElement("td");
    var a = document.createElement("a");
    a.className = "mono";
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
    return td;
  }
  function wanted(c) {
    if (area && c.area !== area) { return false; }
    if (status === "all") { return true; }
    if (status === "open") { return !!openStatuses[c.status]; }
    return c.status === status;
  }
  function row(c) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-case", c.case_id);
    tr.className = "is-new";
    var when = cell("", "nowrap");
    var time = document.createElement("time");
    time.setAttribute("datetime", c.opened_at);
    time.textContent = ist(c.opened_at);
    when.appendChild(time);
    tr.appendChild(when);
    tr.appendChild(link("/operations/cases/" + encodeURIComponent(c.case_id), c.case_id));
    tr.appendChild(cell(c.kind));
    var sev = cell("");
    var badge = document.createElement("span");
    badge.className = "badge severity-" + c.severity;
    badge.textContent = words[c.severity] || c.severity;
    sev.appendChild(badge);
    tr.appendChild(sev);
    tr.appendChild(c.subject_level === "meter"
      ? link("/operations/meters/" + encodeURIComponent(c.subject_id), c.subject_id)
      : link("/operations/meters?transformer=" + encodeURIComponent(c.subject_id), c.subject_id));
    tr.appendChild(cell(c.area));
    var st = cell(words[c.status] || c.status);
    st.setAttribute("data-field", "status");
    tr.appendChild(st);
    var who = cell(assignee(c));
    who.setAttribute("data-field", "assignee");
    tr.appendChild(who);
    tr.appendChild(cell(lang === "hi" ? c.reason_hi : c.reason_en, "small wide-cell"));
    return labelled(tr);
  }
  function assignee(c) {
    // Nobody to work it: the area had no field staff on record when it opened.
    return c.assignee || (c.field_staff_told === 0 ? words.no_staff : "—");
  }
  function show(c) {
    var found = body.querySelector('tr[data-case="' + c.case_id + '"]');
    if (!wanted(c)) {
      if (found) { found.parentNode.removeChild(found); }
      return;
    }
    if (found) {
      found.querySelector('[data-field="status"]').textContent = words[c.status] || c.status;
      found.querySelector('[data-field="assignee"]').textContent = assignee(c);
      found.className = "is-new";
      return;
    }
    body.insertBefore(row(c), body.firstChild);
    if (empty) { empty.hidden = true; }
  }

  var url = section.getAttribute("data-live") + "?after=" + encodeURIComponent(section.getAttribute("data-after") || "0") +
    (area ? "&area=" + encodeURIComponent(area) : "");
  var feed = new EventSource(url);
  feed.addEventListener("open", function () {
    if (state) { state.textContent = words.live || ""; }
    section.setAttribute("data-connected", "1");
  });
  feed.addEventListener("error", function () {
    if (state && feed.readyState !== 1) { state.textContent = words.lost || ""; }
  });
  feed.addEventListener("case", function (event) {
    try { show(JSON.parse(event.data).case); } catch (e) { /* a torn event: the reconnect resends it */ }
  });
})();

// The outages, live: the first page follows the outages' stream (server-sent events): a new
// outage appears at the top, one that ends says so, one that goes is taken off, in the
// stream's order. Where the stream cannot be had, the page asks the outages' list every 5 s
// instead. Text only, as above.
(function () {
  "use strict";
  var section = document.querySelector("section[data-outages]");
  if (!section || !window.fetch || section.getAttribute("data-page") !== "1") { return; }
  var body = section.querySelector("table.outages tbody");
  var words = JSON.parse(section.getAttribute("data-words") || "{}");
  var lang = section.getAttribute("data-lang") || "en";
  var note = document.querySelector('[data-testid="outages-state"]');
  var labels = Array.prototype.map.call(section.querySelectorAll("table.outages thead th"), function (th) {
    return th.textContent;
  });
  var months = lang === "hi"
    ? ["जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर", "अक्टूबर", "नवंबर", "दिसंबर"]
    : ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var empty = section.querySelector(".empty-note");
  var params = [];
  var level = section.getAttribute("data-level");
  var area = section.getAttribute("data-area");
  var state = section.getAttribute("data-state");
  if (level) { params.push("level=" + encodeURIComponent(level)); }
  if (area) { params.push("area=" + encodeURIComponent(area)); }
  if (state === "ongoing") { params.push("ongoing=true"); }
  if (state === "ended") { params.push("ongoing=false"); }
  var query = params.join("&");

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function ist(text) {
    var d = new Date(new Date(text).getTime() + 330 * 60000);
    return two(d.getUTCDate()) + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }
  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function badge(o) {
    var span = document.createElement("span");
    span.className = "badge " + (o.ongoing ? "offline" : "online");
    span.textContent = o.ongoing ? words.ongoing : words.ended;
    return span;
  }
  function row(o) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-outage", String(o.outage_id));
    tr.className = "is-new";
    tr.appendChild(cell(ist(o.started_at), "nowrap"));
    tr.appendChild(cell(words[o.level] || o.level));
    var subject = cell(o.level === "operator" ? o.subject : "", "mono small");
    if (o.level !== "operator") {
      var a = document.createElement("a");
      a.href = "/operations/meters?" + o.level + "=" + encodeURIComponent(o.subject);
      a.textContent = o.subject;
      subject.appendChild(a);
    }
    tr.appendChild(subject);
    tr.appendChild(cell(o.area));
    tr.appendChild(cell(String(o.meters), "num"));
    var st = cell("");
    st.setAttribute("data-field", "state");
    st.appendChild(badge(o));
    tr.appendChild(st);
    var ended = cell(o.ended_at ? ist(o.ended_at) : "—", "nowrap");
    ended.setAttribute("data-field", "ended");
    tr.appendChild(ended);
    Array.prototype.forEach.call(tr.children, function (td, i) {
      if (labels[i]) { td.setAttribute("data-label", labels[i]); }
    });
    return tr;
  }
  function find(id) { return body.querySelector('tr[data-outage="' + id + '"]'); }
  function show(o) {
    var found = find(o.outage_id);
    if (!found) {
      body.insertBefore(row(o), body.firstChild);
      if (empty) { empty.hidden = true; }
      return;
    }
    var st = found.querySelector('[data-field="state"]');
    var was = st.textContent;
    st.textContent = "";
    st.appendChild(badge(o));
    found.querySelector('[data-field="ended"]').textContent = o.ended_at ? ist(o.ended_at) : "—";
    found.querySelector("td.num").textContent = String(o.meters);
    if (was !== st.textContent) { found.className = "is-new"; }
  }
  function arrange(ids) {
    // The stream's order, and nothing else: an outage that left the list (swallowed by a
    // bigger one, or pushed past the first page) leaves the table.
    var keep = {};
    ids.forEach(function (id) {
      var tr = find(id);
      if (tr) { body.appendChild(tr); keep[String(id)] = true; }
    });
    Array.prototype.forEach.call(body.querySelectorAll("tr[data-outage]"), function (tr) {
      if (!keep[tr.getAttribute("data-outage")]) { tr.parentNode.removeChild(tr); }
    });
    if (empty) { empty.hidden = ids.length > 0; }
  }

  var polling = false;
  function poll() {
    polling = true;
    section.setAttribute("data-following", "poll");
    fetch(section.getAttribute("data-outages") + "?limit=50" + (query ? "&" + query : ""),
      { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (page) {
        if (page) {
          page.items.slice().reverse().forEach(show);
          arrange(page.items.map(function (o) { return o.outage_id; }));
        }
        section.setAttribute("data-polled", String(Date.now()));
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 5000); });
  }
  var live = section.getAttribute("data-outages-live");
  if (!window.EventSource || !live) { poll(); return; }
  var feed = new EventSource(live + (query ? "?" + query : ""));
  feed.addEventListener("open", function () {
    if (note) { note.textContent = words.live || ""; }
    section.setAttribute("data-following", "live");
  });
  feed.addEventListener("error", function () {
    if (feed.readyState === 2 && !polling) {  // refused for good (not a reconnect): ask the list instead
      if (note) { note.textContent = words.poll || ""; }
      poll();
    } else if (note && feed.readyState !== 1) {
      note.textContent = words.lost || "";
    }
  });
  feed.addEventListener("outages", function (event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }  // a torn event: the reconnect resends all
    data.items.slice().reverse().forEach(show);
    arrange(data.ids);
    section.setAttribute("data-updated", String(Date.now()));
  });
})();
