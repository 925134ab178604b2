// Live updates for the Vaani dashboard: one EventSource per page (the body's data-stream URL).
// Each "update" event carries {html: {elementId: innerHTML}, data: {...}}: the server renders the parts
// with the same templates as the page, so this file only swaps them in and passes `data` on to the chart.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-stream");
  var indicator = document.getElementById("live-indicator");
  var pressed = false;  // a click in progress: a part replaced under it would swallow the click
  var last = {};        // the HTML last put into each part

  function setLive(on) {
    if (indicator) { indicator.className = on ? "live on" : "live"; }
    document.body.setAttribute("data-live", on ? "1" : "0");
  }

  // Calls show how long they have been on: the server sends when they started (data-since, Unix seconds).
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Number(el.getAttribute("data-since"));
      if (!since) { el.textContent = ""; return; }
      var s = Math.max(0, Math.floor(now - since));
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    });
  }
  tick();
  setInterval(tick, 1000);

  function typingIn(el) {
    var a = document.activeElement;
    return !!a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName) && el.contains(a);
  }

  document.addEventListener("pointerdown", function () { pressed = true; }, true);
  document.addEventListener("pointerup", function () { setTimeout(function () { pressed = false; }, 0); }, true);
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
      // Unchanged parts are left alone; a part someone types or clicks in waits for the next update.
      if (!el || last[id] === msg.html[id] || pressed || typingIn(el)) { return; }
      el.innerHTML = msg.html[id];
      last[id] = msg.html[id];
    });
    tick();
    updates += 1;
    document.body.setAttribute("data-updates", String(updates));
    document.dispatchEvent(new CustomEvent("dashboard:update", {detail: msg.data || {}}));
    setLive(true);
  });
})();
