/* PAR scoreboard: language switch, table sort, diacritic-blind search, peer-group filter, charts.
   Reads only this page; makes no network request. */
(function () {
  "use strict";
  var KEY = "par-scoreboard-lang";
  var views = [];
  // where this script was loaded from: assets/xlsx.js sits beside it
  var ASSETS = (document.currentScript && document.currentScript.src || "").replace(/site\.js([?#].*)?$/, "");

  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function store(lang) {
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* file:// without storage */ }
  }

  // "Phú Xuyên" -> "phu xuyen": no combining marks, đ -> d, lower case, single spaces.
  function fold(s) {
    return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/\u0111/g, "d").replace(/\u0110/g, "D").toLowerCase()
      .replace(/\s+/g, " ").trim();
  }

  function applyLang(lang) {
    if (lang !== "en") { lang = "vi"; }
    document.documentElement.lang = lang;
    var els = document.querySelectorAll("[data-en]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.dataset.vi === undefined) { el.dataset.vi = el.textContent; }
      el.textContent = lang === "en" ? el.dataset.en : el.dataset.vi;
    }
    var attrs = ["title", "placeholder", "aria-label"];
    for (var a = 0; a < attrs.length; a++) {
      var name = attrs[a];
      var tagged = document.querySelectorAll("[data-en-" + name + "]");
      for (var j = 0; j < tagged.length; j++) {
        var t = tagged[j];
        var viKey = "data-vi-" + name;
        if (!t.hasAttribute(viKey)) { t.setAttribute(viKey, t.getAttribute(name) || ""); }
        t.setAttribute(name, lang === "en" ? t.getAttribute("data-en-" + name) : t.getAttribute(viKey));
      }
    }
    var buttons = document.querySelectorAll(".lang-switch button[data-lang]");
    for (var k = 0; k < buttons.length; k++) {
      buttons[k].setAttribute("aria-pressed", buttons[k].getAttribute("data-lang") === lang ? "true" : "false");
    }
    renderCharts(lang);
  }

  function setupLang() {
    var buttons = document.querySelectorAll(".lang-switch button[data-lang]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (ev) {
        var lang = ev.currentTarget.getAttribute("data-lang");
        store(lang);
        applyLang(lang);
      });
    }
    applyLang(stored() || "vi");
  }

  // Sort key of a cell: its data-v if any, else its text read back as a number
  // ("1.234,5" -> 1234.5, "89,2 %" -> 89.2, "▲2" -> 2, "▼1" -> -1, "=" -> 0, "—" -> none).
  function cellKey(cell, kind) {
    if (!cell) { return null; }
    var v = cell.getAttribute("data-v");
    var s = v !== null ? v : cell.textContent.trim();
    if (kind !== "num") { return s === "" ? null : s; }
    if (v === null) {
      if (s === "=") { return 0; }
      s = s.replace(/\u25b2/, "").replace(/\u25bc/, "-").replace(/[.\s%\u00a0]/g, "").replace(",", ".");
    }
    if (s === "" || s === "-") { return null; }
    var n = parseFloat(s);
    return isNaN(n) ? null : n;
  }

  function sortTable(table, th) {
    var kind = th.getAttribute("data-sort");
    var index = th.cellIndex;
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: cellKey(row.cells[index], kind), i: i };
    });
    rows.sort(function (a, b) {
      if (a.key === null && b.key === null) { return a.i - b.i; }
      if (a.key === null) { return 1; }   // nulls last in both directions
      if (b.key === null) { return -1; }
      var c = kind === "num" ? a.key - b.key : a.key.localeCompare(b.key, "vi");
      return c !== 0 ? sign * c : a.i - b.i;
    });
    for (var r = 0; r < rows.length; r++) { body.appendChild(rows[r].row); }
  }

  function setupSort() {
    var heads = document.querySelectorAll("table.sortable thead th[data-sort]");
    for (var i = 0; i < heads.length; i++) {
      (function (th) {
        var button = document.createElement("button");
        button.type = "button";
        while (th.firstChild) { button.appendChild(th.firstChild); }
        th.appendChild(button);
        // the whole header cell sorts (a click on the button bubbles here, as does Enter or Space on it)
        th.addEventListener("click", function () {
          var table = th.closest("table");
          sortTable(table, th);
        });
      })(heads[i]);
    }
  }

  function setupSearch() {
    var input = document.getElementById("unit-search");
    var peer = document.getElementById("peer-filter");
    if (!input) { return; }
    var rows = document.querySelectorAll("table.ranking tbody tr");
    for (var i = 0; i < rows.length; i++) {
      var unit = rows[i].querySelector(".unit");
      rows[i].setAttribute("data-q", fold(unit ? unit.textContent : rows[i].textContent));
    }
    function run() {
      var q = fold(input.value);
      var group = peer ? peer.value : "";
      var tables = document.querySelectorAll("table.ranking");
      for (var t = 0; t < tables.length; t++) {
        var shown = 0;
        var body = tables[t].tBodies[0];
        for (var r = 0; r < body.rows.length; r++) {
          var row = body.rows[r];
          var hit = (q === "" || row.getAttribute("data-q").indexOf(q) !== -1) &&
            (group === "" || row.getAttribute("data-peer") === group);
          row.hidden = !hit;
          if (hit) { shown++; }
        }
        var wrap = tables[t].closest(".ranking-block");
        var none = wrap ? wrap.querySelector(".no-match") : null;
        if (none) { none.hidden = shown !== 0; }
      }
    }
    input.addEventListener("input", run);
    if (peer) { peer.addEventListener("change", run); }
    run();
  }

  var EXPORT_LABELS = {
    vi: { SVG_ACTION: "Tải ảnh SVG", PNG_ACTION: "Tải ảnh PNG", CLICK_TO_VIEW_ACTIONS: "Tải biểu đồ",
          COMPILED_ACTION: "", EDITOR_ACTION: "", SOURCE_ACTION: "" },
    en: { SVG_ACTION: "Save as SVG", PNG_ACTION: "Save as PNG", CLICK_TO_VIEW_ACTIONS: "Download the chart",
          COMPILED_ACTION: "", EDITOR_ACTION: "", SOURCE_ACTION: "" }
  };

  function renderCharts(lang) {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof window.vegaEmbed !== "function") { return; }
    var data;
    try { data = JSON.parse(holder.textContent); } catch (e) { return; }
    while (views.length) { try { views.pop().finalize(); } catch (e) { /* already gone */ } }
    data.charts.forEach(function (chart) {
      var el = document.getElementById(chart.id);
      if (!el) { return; }
      // a unit page names a spec its pages share (assets/charts.js); other pages carry theirs
      var pair = chart.spec ? (window.PAR_CHART_SPECS || {})[chart.spec] : chart;
      if (!pair) { return; }
      el.textContent = "";  // the no-JavaScript note, or the chart in the other language
      var spec = Object.assign({}, pair[lang] || pair.vi, { datasets: data.datasets });
      window.vegaEmbed(el, spec, {
        mode: "vega-lite",
        // every chart can be saved as PNG and SVG, made in the browser (no network)
        actions: { export: { svg: true, png: true }, source: false, compiled: false, editor: false },
        i18n: EXPORT_LABELS[lang] || EXPORT_LABELS.vi,
        downloadFileName: chart.id.replace(/^chart-/, "") + "-" +
          (window.location.pathname.split("/").pop() || "index").replace(/\.html$/, ""),
        renderer: "svg",
        formatLocale: data.formatLocale
      }).then(function (result) { views.push(result); }).catch(function (err) {
        el.textContent = String(err && err.message ? err.message : err);
      });
    });
  }

  function setupPrint() {
    var buttons = document.querySelectorAll("button[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function () { window.print(); });
    }
  }

  // The workbooks of the tables that explain a ranking (weak points, bottlenecks, what-if)
  // are made here when asked for, from data/<table>-<key>.js (the CSV and the workbook's
  // parts: assets/xlsx.js). A page opened from disk cannot read the CSV itself (browsers
  // refuse file:// requests), so both come as scripts. Without this, the link gives the CSV.
  var recipe = null;
  var queue = Promise.resolve();
  window.parWorkbook = function (r) { recipe = r; };

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.charset = "utf-8";
      s.onload = function () { s.remove(); resolve(); };
      s.onerror = function () { s.remove(); reject(new Error(src)); };
      document.head.appendChild(s);
    });
  }

  function saveAs(href, name) {
    var link = document.createElement("a");
    link.href = href;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function setupWorkbooks() {
    if (typeof DecompressionStream === "undefined" || typeof Blob === "undefined") { return; }
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest ? ev.target.closest("a[data-xlsx]") : null;
      if (!a) { return; }
      ev.preventDefault();
      queue = queue.then(function () {
        return (window.parXlsx ? Promise.resolve() : loadScript(ASSETS + "xlsx.js"))
          .then(function () { recipe = null; return loadScript(a.getAttribute("data-xlsx")); })
          .then(function () { return window.parXlsx(recipe); })
          .then(function (blob) {
            var url = URL.createObjectURL(blob);
            saveAs(url, a.getAttribute("data-name"));
            setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
          });
      }).catch(function () { saveAs(a.getAttribute("href"), ""); });  // the CSV after all
    });
  }

  function init() {
    setupWorkbooks();
    setupPrint();
    setupSort();
    setupSearch();
    setupLang();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
