// The campaign page's chart: calls dialled in the trailing minute against the campaign's calls_per_minute,
// drawn with uPlot (vendor/uPlot.iife.min.js) and fed by the page's live updates.
(function () {
  "use strict";
  var el = document.getElementById("rate-chart");
  if (!el || !window.uPlot) { return; }
  var cap = Number(el.getAttribute("data-cap"));
  var xs = JSON.parse(el.getAttribute("data-t"));
  var ys = JSON.parse(el.getAttribute("data-y"));

  function series(t, y) { return [t, y, t.map(function () { return cap; })]; }

  var opts = {
    width: Math.max(320, el.clientWidth || 560), height: 220,
    scales: {y: {range: function (u, lo, hi) { return [0, Math.max(hi, cap) * 1.15 || 1]; }}},
    series: [
      {},
      {label: "achieved / min", stroke: "#1f6feb", width: 2, fill: "rgba(31,111,235,0.10)"},
      {label: "calls_per_minute", stroke: "#d1242f", width: 1.5, dash: [6, 4]}
    ],
    legend: {live: false},
    axes: [{}, {label: "calls / min", size: 50}]
  };
  var chart = new uPlot(opts, series(xs, ys), el);
  el.setAttribute("data-ready", "1");

  document.addEventListener("dashboard:update", function (ev) {
    var rate = ev.detail && ev.detail.rate;
    if (!rate) { return; }
    if (ev.detail.calls_per_minute) { cap = Number(ev.detail.calls_per_minute); }
    chart.setData(series(rate.t, rate.achieved));
    el.setAttribute("data-now", String(rate.now));
  });
  window.addEventListener("resize", function () {
    chart.setSize({width: Math.max(320, el.clientWidth || 560), height: 220});
  });
})();
