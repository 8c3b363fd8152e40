// The consumer app's service worker (scope /consumer/): pages come from the network; when
// there is none, the offline page shows the last figures the phone saw, with their age.
"use strict";
var SHELL = "bijli-consumer-shell-v1";
var FILES = [
  "/static/consumer-offline.html",
  "/static/consumer-offline.js",
  "/static/bijli.css",
  "/static/consumer.css",
  "/static/favicon.svg",
  "/static/fonts/noto-sans-devanagari.woff2"
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(FILES); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== SHELL; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  if (request.mode === "navigate") {
    // Personal pages are never cached: the network, or the offline page.
    event.respondWith(fetch(request).catch(function () { return caches.match("/static/consumer-offline.html"); }));
    return;
  }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  }
});
