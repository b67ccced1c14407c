// MeshMark's charts, drawn with the vendored Chart.js (static/vendor/chartjs).
// Each <canvas data-chart="kind" data-source="id"> reads its numbers from the
// <script type="application/json" id="id"> block the server rendered into the same
// page, so a chart shows exactly what the page's tables (and the API) say. When a
// chart has drawn, its canvas gets data-chart-ready="true".
(function () {
  "use strict";

  var BLUE = "#0b6bcb";
  var GREY = "#6e7781";
  var PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"];

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  // Marks a canvas once Chart.js has rendered it (the browser test waits for this).
  var readyPlugin = {
    id: "meshmarkReady",
    afterRender: function (chart) { chart.canvas.setAttribute("data-chart-ready", "true"); }
  };

  // Draws the whisker caps, the median dot and its value on a horizontal floating-bar CI chart.
  var intervalPlugin = {
    id: "meshmarkIntervals",
    afterDatasetsDraw: function (chart, args, options) {
      var medians = options.medians;
      if (!medians) return;
      var ctx = chart.ctx;
      var x = chart.scales.x;
      var area = chart.chartArea;
      chart.getDatasetMeta(0).data.forEach(function (bar, i) {
        var props = bar.getProps(["x", "y", "base", "height"], true);
        var centre = x.getPixelForValue(medians[i]);
        // A row of one run has no interval: a hollow dot, no bar, no whiskers.
        var single = options.single && options.single[i];
        var left = single ? centre - 6 : Math.min(props.base, props.x);
        var right = single ? centre + 6 : Math.max(props.base, props.x);
        var cap = Math.max(8, props.height * 2);
        ctx.save();
        ctx.strokeStyle = options.color;
        ctx.lineWidth = 2;
        if (!single) {
          [left, right].forEach(function (end) {
            ctx.beginPath();
            ctx.moveTo(end, props.y - cap / 2);
            ctx.lineTo(end, props.y + cap / 2);
            ctx.stroke();
          });
        }
        ctx.fillStyle = single ? "#fff" : options.color;
        ctx.strokeStyle = single ? options.color : "#fff";
        ctx.beginPath();
        ctx.arc(centre, props.y, 6, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
        var text = fmt(medians[i], 2);
        ctx.font = "600 12px " + window.Chart.defaults.font.family;
        ctx.fillStyle = "#1b1f24";
        ctx.textBaseline = "middle";
        var width = ctx.measureText(text).width;
        if (right + 8 + width <= area.right) {
          ctx.textAlign = "left";
          ctx.fillText(text, right + 8, props.y);
        } else {
          ctx.textAlign = "right";
          ctx.fillText(text, left - 8, props.y);
        }
        ctx.restore();
      });
    }
  };

  // Splits a label into lines of about `width` characters (narrow screens).
  function wrap(text, width) {
    var lines = [], line = "";
    text.split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    if (line) lines.push(line);
    return lines;
  }

  function leaderboard(data, canvas) {
    var holder = canvas.parentNode;
    var narrow = holder.clientWidth < 560;
    holder.style.height = Math.max(160, data.labels.length * (narrow ? 52 : 40) + 70) + "px";
    var labels = data.labels.map(function (label, i) {
      var text = data.ranks[i] + "  " + label + "  (n=" + data.n[i] + ")";
      return narrow ? wrap(text, 16) : text;
    });
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          label: "95% confidence interval",
          data: data.low.map(function (l, i) { return l === null ? null : [l, data.high[i]]; }),
          backgroundColor: alpha(BLUE, 0.35),
          borderWidth: 0,
          barThickness: 6,
          minBarLength: 2
        }]
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        layout: { padding: { right: 8 } },
        scales: {
          x: {
            beginAtZero: false,
            grace: "10%",
            // Medians of one-run rows have no bar: keep them inside the axis too.
            suggestedMin: Math.min.apply(null, data.median),
            suggestedMax: Math.max.apply(null, data.median),
            // Zoomed to the data (the CIs are what matter), never beyond the 0-100 scale.
            afterDataLimits: function (scale) {
              scale.min = Math.max(0, scale.min);
              scale.max = Math.min(100, scale.max);
            },
            title: { display: true, text: "MeshMark (0–100): median and 95% CI" }
          },
          y: { grid: { display: false }, ticks: { autoSkip: false, font: { size: narrow ? 12 : 13 } } }
        },
        plugins: {
          legend: { display: false },
          meshmarkIntervals: { medians: data.median, color: BLUE,
                               single: data.low.map(function (l) { return l === null; }) },
          tooltip: {
            callbacks: {
              label: function (item) {
                var i = item.dataIndex;
                if (data.low[i] === null) {
                  return "median " + fmt(data.median[i], 2) + ", n=1: no interval (one run), not ranked";
                }
                return "median " + fmt(data.median[i], 2) + " [" + fmt(data.low[i], 2) + ", " +
                  fmt(data.high[i], 2) + "], n=" + data.n[i];
              }
            }
          }
        }
      }
    };
  }

  function latency(data) {
    return {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "baseline (no mesh)", data: data.baseline, borderColor: GREY,
            backgroundColor: GREY, borderDash: [6, 4], pointRadius: 4 },
          { label: "with the mesh", data: data.mesh, borderColor: BLUE, backgroundColor: BLUE,
            pointRadius: 4 }
        ]
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: "percentile" } },
          y: { beginAtZero: true, title: { display: true, text: "latency (ms)" } }
        },
        plugins: {
          tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + fmt(item.raw, 3) + " ms";
          } } }
        }
      }
    };
  }

  function histogram(data) {
    function series(label, points, color) {
      return { label: label, data: points, borderColor: color, backgroundColor: alpha(color, 0.15),
        fill: "origin", stepped: "after", pointRadius: 0, borderWidth: 1.5 };
    }
    return {
      type: "line",
      data: { datasets: [series("baseline (no mesh)", data.baseline, GREY),
                         series("with the mesh", data.mesh, BLUE)] },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: { type: "linear", beginAtZero: true, title: { display: true, text: "latency (ms)" } },
          y: { beginAtZero: true, title: { display: true, text: "% of requests per ms" } }
        },
        plugins: {
          tooltip: { callbacks: {
            title: function (items) { return items.length ? fmt(items[0].parsed.x, 3) + " ms" : ""; },
            label: function (item) { return item.dataset.label + ": " + fmt(item.parsed.y, 3) + " % per ms"; }
          } }
        }
      }
    };
  }

  function curves(data) {
    var datasets = [];
    data.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      datasets.push({ label: s.label + " (mesh)", data: s.mesh, borderColor: color,
        backgroundColor: color, pointRadius: 4 });
      datasets.push({ label: s.label + " (baselines)", data: s.baseline, borderColor: alpha(color, 0.6),
        backgroundColor: alpha(color, 0.6), borderDash: [6, 4], pointRadius: 3 });
    });
    return {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: "percentile" } },
          y: { beginAtZero: true, title: { display: true, text: "latency (ms)" } }
        },
        plugins: {
          // The dashed baseline lines share their configuration's colour; the caption says so.
          legend: { labels: { filter: function (item) { return !/\(baselines\)$/.test(item.text); } } },
          tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + fmt(item.raw, 3) + " ms";
          } } }
        }
      }
    };
  }

  var TREND_AXES = {
    median: { title: "MeshMark: median and 95% CI", digits: 2, unit: "" },
    added_p99_ms: { title: "added p99 (ms)", digits: 2, unit: " ms" },
    cpu_mcores_per_1k_rps: { title: "mesh CPU per 1k rps (mCores)", digits: 0, unit: " mCores" },
    mem_mb_per_proxy: { title: "memory per proxy (MiB)", digits: 1, unit: " MiB" }
  };

  // One mesh's figure release by release: a line per series (mTLS on, off, ...); for the
  // MeshMark, the 95% interval of each point as a bar behind it (none for one run).
  function trend(data, canvas) {
    var metric = canvas.getAttribute("data-metric") || "median";
    var axis = TREND_AXES[metric];
    var datasets = [];
    data.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      if (metric === "median") {
        datasets.push({
          type: "bar", label: s.label + " (95% CI)",
          data: s.low.map(function (low, j) { return low === null ? null : [low, s.high[j]]; }),
          backgroundColor: alpha(color, 0.25), borderWidth: 0, barPercentage: 0.25,
          categoryPercentage: 0.9, grouped: true
        });
      }
      datasets.push({
        type: "line", label: s.label, data: s[metric], borderColor: color, backgroundColor: color,
        pointRadius: 4, spanGaps: true
      });
    });
    return {
      type: "bar",
      data: { labels: data.versions, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: "release" } },
          y: { beginAtZero: metric !== "median", grace: "5%", title: { display: true, text: axis.title } }
        },
        plugins: {
          legend: { labels: { filter: function (item) { return !/\(95% CI\)$/.test(item.text); } } },
          tooltip: { callbacks: { label: function (item) {
            if (Array.isArray(item.raw)) {
              return item.dataset.label + ": [" + fmt(item.raw[0], 2) + ", " + fmt(item.raw[1], 2) + "]";
            }
            return item.dataset.label + ": " + fmt(item.raw, axis.digits) + axis.unit;
          } } }
        }
      }
    };
  }

  // A capacity search: every trial as a point (requested rate, p99), baseline and mesh,
  // passing trials filled and failing ones hollow, and the objective as a dashed line.
  function capacity(data) {
    function series(label, trials, color) {
      return {
        label: label, borderColor: color, backgroundColor: color, showLine: false,
        data: trials.map(function (t) { return { x: t.requested_qps, y: t.p99_ms, passed: t.passed }; }),
        pointRadius: 6,
        pointStyle: "circle",
        pointBackgroundColor: trials.map(function (t) { return t.passed ? color : "#fff"; })
      };
    }
    var rates = data.baseline.concat(data.mesh).map(function (t) { return t.requested_qps; });
    var top = Math.max.apply(null, rates.concat([1]));
    return {
      type: "scatter",
      data: { datasets: [
        series("baseline (no mesh)", data.baseline, GREY),
        series("with the mesh", data.mesh, BLUE),
        { label: "objective: p99 ≤ " + fmt(data.objective_p99_ms, 0) + " ms", type: "line",
          data: [{ x: 0, y: data.objective_p99_ms }, { x: top * 1.05, y: data.objective_p99_ms }],
          borderColor: "#d55e00", borderDash: [6, 4], pointRadius: 0, borderWidth: 2 }
      ] },
      options: {
        maintainAspectRatio: false,
        scales: {
          x: { type: "linear", beginAtZero: true, title: { display: true, text: "requested rate (requests/s)" } },
          y: { type: "logarithmic", title: { display: true, text: "p99 latency (ms, log scale)" } }
        },
        plugins: {
          tooltip: { callbacks: { label: function (item) {
            var p = item.raw;
            if (p.passed === undefined) return item.dataset.label;
            return item.dataset.label + ": " + fmt(p.x, 0) + " rps, p99 " + fmt(p.y, 2) + " ms, " +
              (p.passed ? "passed" : "failed");
          } } }
        }
      }
    };
  }

  var KINDS = { leaderboard: leaderboard, latency: latency, histogram: histogram, curves: curves,
                trend: trend, capacity: capacity };

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    var kind = KINDS[canvas.getAttribute("data-chart")];
    if (!source || !kind) return;
    try {
      var config = kind(JSON.parse(source.textContent), canvas);
      config.plugins = [readyPlugin];
      new window.Chart(canvas, config);
    } catch (error) {
      canvas.setAttribute("data-chart-error", String(error));
      throw error;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Chart) return;
    var Chart = window.Chart;
    Chart.register(intervalPlugin);
    Chart.defaults.animation = false;  // draw at once: nothing to wait for, nothing moving
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#1b1f24";
    Chart.defaults.plugins.legend.labels.usePointStyle = true;
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
