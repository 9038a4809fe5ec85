/* Time-series charts on the channel page: uPlot (vendored, see uplot/README.md) fed from the JSON history
   API, refreshed every few seconds. A chart container declares what it shows:
     <div class="chart" data-history-url="/api/pipelines/1/history" data-keys="delay_s"
          data-labels="delay (s)" data-title="Delay"></div>
   Each history sample is an object with a time field (`ts`, seconds or ISO text) and the numeric keys.
   After each draw the container's data-points attribute holds the number of samples, data-last the
   newest values and data-max the largest of each series, so a person (or a browser test) can see the chart move. */
(function () {
  "use strict";
  var COLORS = ["#1f6feb", "#d29922", "#1a7f37", "#cf222e", "#8250df", "#0a7ea4"];

  function toSeconds(ts) {
    if (typeof ts === "number") return ts;
    var ms = Date.parse(ts);
    return isNaN(ms) ? null : ms / 1000;
  }

  function columns(samples, keys, timeField) {
    var xs = [], ys = keys.map(function () { return []; });
    samples.forEach(function (sample) {
      var t = toSeconds(sample[timeField]);
      if (t === null) return;
      xs.push(t);
      keys.forEach(function (key, i) {
        var v = sample[key];
        ys[i].push(v === null || v === undefined ? null : Number(v));
      });
    });
    return [xs].concat(ys);
  }

  function makePlot(el, keys, labels) {
    var width = Math.max(280, el.clientWidth - 16);
    var series = [{}].concat(keys.map(function (key, i) {
      return { label: labels[i] || key, stroke: COLORS[i % COLORS.length], width: 2,
               points: { show: false } };
    }));
    var css = getComputedStyle(document.documentElement);  /* axis colours follow the light/dark theme */
    var text = css.getPropertyValue("--muted").trim() || "#5f6b7a";
    var line = css.getPropertyValue("--line").trim() || "#dde2e8";
    var axis = { stroke: text, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    var opts = { width: width, height: 220, series: series, scales: { x: { time: true } },
                 axes: [axis, Object.assign({ size: 60 }, axis)], legend: { live: true } };
    var data = [[]].concat(keys.map(function () { return []; }));
    return new uPlot(opts, data, el);
  }

  function HistoryChart(el) {
    this.el = el;
    this.url = el.getAttribute("data-history-url");
    this.keys = el.getAttribute("data-keys").split(",");
    this.labels = (el.getAttribute("data-labels") || "").split(",");
    this.timeField = el.getAttribute("data-time-field") || "ts";
    this.plot = makePlot(el, this.keys, this.labels);
  }

  HistoryChart.prototype.refresh = function () {
    var self = this;
    return fetch(self.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("history: HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        var samples = Array.isArray(body) ? body : (body.samples || body.items || []);
        var data = columns(samples, self.keys, self.timeField);
        self.plot.setData(data);
        self.el.setAttribute("data-points", String(data[0].length));
        var last = samples.length ? samples[samples.length - 1] : {};
        self.el.setAttribute("data-last", JSON.stringify(self.keys.map(function (k) { return last[k]; })));
        self.el.setAttribute("data-max", JSON.stringify(data.slice(1).map(function (ys) {
          return ys.reduce(function (m, v) { return v !== null && (m === null || v > m) ? v : m; }, null);
        })));
        self.el.removeAttribute("data-error");
      })
      .catch(function (err) { self.el.setAttribute("data-error", String(err)); });
  };

  function start() {
    var charts = Array.prototype.map.call(document.querySelectorAll(".chart[data-history-url]"),
                                          function (el) { return new HistoryChart(el); });
    if (!charts.length) return;
    var period = Number(document.body.getAttribute("data-refresh-ms") || 2000);
    function tick() { charts.forEach(function (c) { c.refresh(); }); }
    tick();
    setInterval(tick, period);
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.plot.setSize({ width: Math.max(280, c.el.clientWidth - 16), height: 220 }); });
    });
  }

  /* Parts of a page marked data-refresh-url are replaced by the same part of a fresh copy of the page
     (server-rendered tables of status, counts and positions), so no second renderer lives in JS. The
     header tells the server that nobody reads this copy's messages: they stay for the next page. */
  function refreshFragments() {
    var parts = document.querySelectorAll("[data-refresh-id]");
    if (!parts.length) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Otter-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (part) {
          var fresh = doc.querySelector('[data-refresh-id="' + part.getAttribute("data-refresh-id") + '"]');
          if (fresh) part.innerHTML = fresh.innerHTML;
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    start();
    if (document.querySelector("[data-refresh-id]")) {
      setInterval(refreshFragments, Number(document.body.getAttribute("data-refresh-ms") || 2000));
    }
  });
})();
