// Live updates for the Vaani dashboard: one EventSource per page (the body's data-stream URL).
// Each "update" event carries {html: {elementId: innerHTML}, data: {...}}: the server renders the parts
// with the same templates as the page, so this file only swaps them in and passes `data` on to the chart.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-stream");
  var indicator = document.getElementById("live-indicator");

  function setLive(on) {
    if (indicator) { indicator.className = on ? "live on" : "live"; }
    document.body.setAttribute("data-live", on ? "1" : "0");
  }

  // Ask before destructive actions (forms with data-confirm, e.g. Stop campaign).
  document.addEventListener("submit", function (ev) {
    var text = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { ev.preventDefault(); }
  }, true);

  if (!url || !window.EventSource) { return; }
  var updates = 0;
  var source = new EventSource(url);
  source.onopen = function () { setLive(true); };
  source.onerror = function () { setLive(false); };  // EventSource reconnects by itself
  source.addEventListener("gone", function () { source.close(); setLive(false); });
  source.addEventListener("update", function (ev) {
    var msg = JSON.parse(ev.data);
    Object.keys(msg.html || {}).forEach(function (id) {
      var el = document.getElementById(id);
      // Never rewrite a part while someone types in it (a transfer target): the next update will.
      if (!el || el.contains(document.activeElement)) { return; }
      el.innerHTML = msg.html[id];
    });
    updates += 1;
    document.body.setAttribute("data-updates", String(updates));
    document.dispatchEvent(new CustomEvent("dashboard:update", {detail: msg.data || {}}));
    setLive(true);
  });
})();
