// 哨兵 console behaviour: charts (ECharts served from /static/vendor), confirmations,
// auto-submitting pickers, live polling of running scans. No inline script anywhere (CSP).
"use strict";
(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A table stands in for a chart when ECharts is not installed (or scripts are off).
  function fallbackTable(holder, option) {
    var series = option.series || [];
    var table = document.createElement("table");
    table.className = "chart-fallback data";
    var body = document.createElement("tbody");
    series.forEach(function (s) {
      (s.data || []).forEach(function (point, i) {
        var row = document.createElement("tr");
        var name = document.createElement("td");
        var value = document.createElement("td");
        var label = point && typeof point === "object" ? point.name : (option.xAxis && option.xAxis.data ? option.xAxis.data[i] : i);
        name.textContent = (s.name ? s.name + " · " : "") + label;
        value.textContent = point && typeof point === "object" ? point.value : point;
        value.className = "n";
        row.appendChild(name); row.appendChild(value); body.appendChild(row);
      });
    });
    table.appendChild(body);
    holder.style.height = "auto";
    holder.appendChild(table);
  }

  function isEmpty(option) {
    var total = 0;
    (option.series || []).forEach(function (s) {
      (s.data || []).forEach(function (point) {
        var value = point && typeof point === "object" ? point.value : point;
        if (Array.isArray(value)) value = value[value.length - 1];
        total += Math.abs(Number(value) || 0);
      });
    });
    return total === 0;
  }

  function drawCharts() {
    document.querySelectorAll("script[data-chart]").forEach(function (node) {
      var holder = document.getElementById(node.getAttribute("data-chart"));
      if (!holder) return;
      var option = JSON.parse(node.textContent);
      if (isEmpty(option)) {
        // All zeros would draw equal slices: say there is nothing instead.
        var note = document.createElement("p");
        note.className = "muted chart-empty";
        note.textContent = "暂无数据";
        holder.style.height = "auto";
        holder.appendChild(note);
        holder.setAttribute("data-drawn", "empty");
        return;
      }
      if (window.echarts) {
        var chart = window.echarts.init(holder, null, { renderer: "svg" });
        chart.setOption(option);
        window.addEventListener("resize", function () { chart.resize(); });
        holder.setAttribute("data-drawn", "echarts");
      } else {
        fallbackTable(holder, option);
        holder.setAttribute("data-drawn", "table");
      }
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll("[data-back]").forEach(function (link) {
      link.addEventListener("click", function (event) { event.preventDefault(); history.back(); });
    });
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        document.querySelectorAll('input[name="' + box.getAttribute("data-select-all") + '"]').forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
  }

  // Elements with data-poll="/api/v1/scans/7" refresh their [data-field] children every 2 s
  // until the object's status is final.
  function polling() {
    document.querySelectorAll("[data-poll]").forEach(function (box) {
      var url = box.getAttribute("data-poll");
      var final = (box.getAttribute("data-final") || "completed,cancelled,failed,paused").split(",");
      function tick() {
        fetch(url, { headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
          .then(function (data) {
            box.querySelectorAll("[data-field]").forEach(function (el) {
              var path = el.getAttribute("data-field").split(".");
              var value = data;
              path.forEach(function (key) { value = value == null ? value : value[key]; });
              if (el.tagName === "SPAN" && el.parentNode.classList.contains("progress")) {
                el.style.width = Math.max(0, Math.min(100, Number(value) || 0)) + "%";
              } else {
                el.textContent = value == null ? "—" : value;
              }
            });
            if (final.indexOf(data.status) === -1) { setTimeout(tick, 2000); }
            else if (box.hasAttribute("data-reload-when-done")) { window.location.reload(); }
          })
          .catch(function () { setTimeout(tick, 5000); });
      }
      setTimeout(tick, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(); confirmations(); polling();
  });
})();
