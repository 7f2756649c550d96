"""The site's shared stylesheet and script (kept here so they ship with the package).

Neither references anything outside the site: no fonts, images or scripts from
the network. site.js reads the page it is on and nothing else.
"""

from __future__ import annotations

SITE_CSS = """\
:root {
  --fg: #1d2733; --muted: #5b6775; --bg: #ffffff; --bg-alt: #f4f6f9; --line: #d5dbe3;
  --accent: #0b5cad; --up: #14703a; --down: #b3261e;
  --xs: #1b7a3a; --tot: #5aa832; --kha: #d4a90f; --tb: #e36d12; --yeu: #c4262e; --none: #9aa0a6;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
}
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible {
  outline: 3px solid #f0b400; outline-offset: 2px;
}
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
header.site { background: #0b3d6e; color: #fff; padding: 12px 16px; }
header.site a { color: #fff; }
header.site .bar { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between; max-width: 1400px; margin: 0 auto; }
header.site h1 { font-size: 1.15rem; margin: 0; }
header.site p { margin: 2px 0 0; font-size: .85rem; opacity: .9; }
nav.main { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: .95rem; }
.lang-switch { display: flex; gap: 4px; }
.lang-switch button {
  font: inherit; font-size: .85rem; padding: 3px 9px; border-radius: 4px; cursor: pointer;
  border: 1px solid rgba(255,255,255,.7); background: transparent; color: #fff;
}
.lang-switch button[aria-pressed="true"] { background: #fff; color: #0b3d6e; font-weight: 600; }
main { max-width: 1400px; margin: 0 auto; padding: 8px 16px 32px; }
h2 { font-size: 1.3rem; margin: 28px 0 6px; }
h3 { font-size: 1.05rem; margin: 18px 0 6px; }
.meta, .note { color: var(--muted); font-size: .88rem; }
.badge {
  display: inline-block; font-size: .78rem; font-weight: 600; padding: 1px 8px; border-radius: 10px;
  background: #fff3cd; color: #6b4e00; border: 1px solid #e0c36a; vertical-align: middle;
}
.search { margin: 12px 0; display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-end; }
.search > div { flex: 1 1 260px; max-width: 420px; }
.search > div + div { flex: 0 1 200px; }
.search label { display: block; font-weight: 600; font-size: .9rem; }
.search input, .search select { font: inherit; width: 100%; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
caption { text-align: left; font-weight: 600; padding: 8px 10px; background: var(--bg-alt); }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.t { text-align: left; white-space: normal; }
thead th { background: var(--bg-alt); text-align: left; font-weight: 600; position: sticky; top: 0; z-index: 1; }
thead th small { display: block; font-weight: 400; color: var(--muted); }
thead th[data-sort] { cursor: pointer; }
thead th button { all: unset; cursor: pointer; display: block; }
thead th button::after { content: " ↕"; color: var(--muted); font-size: .8em; }
thead th[aria-sort="ascending"] button::after { content: " ▲"; color: var(--fg); }
thead th[aria-sort="descending"] button::after { content: " ▼"; color: var(--fg); }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody th { text-align: left; font-weight: 500; min-width: 11em; }
tbody tr.unranked { color: #3d4853; }
.code { color: var(--muted); font-size: .8em; font-weight: 400; margin-left: 4px; }
.band { white-space: nowrap; }
.band::before {
  content: ""; display: inline-block; width: .8em; height: .8em; margin-right: 5px; border-radius: 2px;
  vertical-align: -1px; background: var(--none); border: 1px solid rgba(0,0,0,.25);
}
.band-xs::before { background: var(--xs); }
.band-tot::before { background: var(--tot); }
.band-kha::before { background: var(--kha); }
.band-tb::before { background: var(--tb); }
.band-yeu::before { background: var(--yeu); }
.band-none { color: var(--muted); }
.chg { white-space: nowrap; font-weight: 600; }
.chg.up { color: var(--up); }
.chg.down { color: var(--down); }
.chg.same { color: var(--muted); }
.nr { color: var(--muted); font-size: .8em; }
.no-match { margin: 6px 0; color: var(--muted); }
.levels { display: grid; grid-template-columns: minmax(0, 1fr); gap: 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(300px, 100%), 1fr)); gap: 16px; align-items: start; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 0; margin: 0; }
.chart h3 { margin-top: 4px; }
.chart .vis { width: 100%; min-height: 120px; overflow-x: auto; }
.downloads { display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0; list-style: none; margin: 6px 0; }
.pager { display: flex; justify-content: space-between; gap: 8px; margin: 10px 0; flex-wrap: wrap; }
details.year { margin: 4px 0; }
details.year summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
details.ranking-block > summary { cursor: pointer; padding: 6px 0; color: #444; }
table.periods td, table.periods th { white-space: nowrap; }
tbody tr:target { outline: 3px solid #f0b400; outline-offset: -3px; background: #fff8dc; }
.note.warn { color: #6b4e00; background: #fff3cd; border: 1px solid #e0c36a; border-radius: 6px; padding: 6px 10px; }
.crumbs { font-size: .88rem; margin-top: 10px; color: var(--muted); }
h2 .code { font-size: .7em; }
h4 { font-size: .98rem; margin: 14px 0 4px; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px; margin: 10px 0; }
.facts > div { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; background: var(--bg-alt); }
.facts dt { font-size: .8rem; color: var(--muted); }
.facts dd { margin: 2px 0 0; font-size: 1.15rem; font-weight: 600; }
.facts dd .meta { display: block; font-size: .78rem; font-weight: 400; }
.what-if { margin: 4px 0 12px; padding-left: 1.2em; }
.what-if li { margin: 2px 0; }
table.data { margin-bottom: 4px; }
table.data + .no-match, .ranking-block + .note { margin-top: 6px; }
.table-wrap:has(> table.counts) { display: inline-block; max-width: 100%; }
table.counts { width: auto; min-width: 300px; }
meter { width: 80px; height: 12px; vertical-align: middle; }
.status { white-space: nowrap; font-weight: 600; }
.status.ok { color: var(--up); }
.status.fail { color: var(--down); }
ul.held li { margin: 4px 0; }
.chart.wide { grid-column: 1 / -1; }
.chart .vis.scroll { max-height: 75vh; overflow: auto; }
.images a { font-weight: 600; }
.report-head { display: flex; justify-content: space-between; gap: 16px; text-align: center; margin: 12px 0 4px; }
.report-head p { margin: 0; font-size: .9rem; }
.report-head .strong { font-weight: 700; }
.report-head .motto { font-weight: 600; text-decoration: underline; }
.report-title { text-align: center; font-size: 1.2rem; text-transform: none; margin: 18px 0 8px; }
.report-page h3 { margin-top: 20px; }
table.report { font-size: .82rem; }
table.report td, table.report th { padding: 3px 6px; }
@page { size: A4; margin: 15mm 12mm 15mm 15mm; }
footer { max-width: 1400px; margin: 0 auto; padding: 12px 16px 32px; color: var(--muted); font-size: .85rem; border-top: 1px solid var(--line); }
[hidden] { display: none !important; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: 4px 10px 24px; }
  th, td { padding: 5px 6px; }
  header.site h1 { font-size: 1rem; }
  .hide-narrow { display: none; }
}
@media print {
  header.site nav, .lang-switch, .search, .charts, .skip, .no-print { display: none; }
  .table-wrap { overflow: visible; border: 0; }
  thead th { position: static; }
  body { font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  body.report header.site, body.report footer { display: none; }
  body.report main { max-width: none; padding: 0; }
  table.report { font-size: 9pt; }
  table.report thead { display: table-header-group; }
  table.report tr { break-inside: avoid; }
  .band::before, .status, .chg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

SITE_JS = r"""/* PAR scoreboard: language switch, table sort, diacritic-blind search, peer-group filter, charts.
   Reads only this page; makes no network request. */
(function () {
  "use strict";
  var KEY = "par-scoreboard-lang";
  var views = [];

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

  function init() {
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
"""
