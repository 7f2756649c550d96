"""Jinja2 templates of the site (autoescaped: every value is HTML-escaped).

Text is written in Vietnamese with its English in `data-en`, which site.js
swaps in when the reader picks English.
"""

from __future__ import annotations

MACROS = """\
{% macro t(lab) -%}
{%- if lab.en and lab.en != lab.vi %}<span data-en="{{ lab.en }}">{{ lab.vi }}</span>{% else %}{{ lab.vi }}{% endif -%}
{%- endmacro %}

{% macro tattr(name, lab) -%}
{{ name }}="{{ lab.vi }}"{% if lab.en != lab.vi %} data-en-{{ name }}="{{ lab.en }}"{% endif %}
{%- endmacro %}

{% macro table(tb, cls="ranking sortable") %}
{% if tb.get("collapsed") %}<details class="ranking-block">
<summary>{{ t(tb.caption) }} · {{ t(tb.note) }} — {{ t(UI.none_ranked) }}</summary>
{% else %}<div class="ranking-block">{% endif %}
<div class="table-wrap">
<table class="{{ cls }}">
<caption>{{ t(tb.caption) }}{% if tb.note %} <span class="meta">· {{ t(tb.note) }}</span>{% endif %}</caption>
<thead><tr>
{% for c in tb.columns %}<th scope="col" data-sort="{{ c.sort }}"{% if c.title %} {{ tattr("title", c.title) }}{% endif %}>{{ t(c.label) }}{% if c.sub %}<small>{{ t(c.sub) }}</small>{% endif %}</th>
{% endfor %}</tr></thead>
<tbody>
{{ rows_html(tb.rows, root) }}</tbody>
</table>
</div>
<p class="no-match" hidden>{{ t(UI.no_match) }}</p>
{% if tb.get("collapsed") %}</details>{% else %}</div>{% endif %}
{% endmacro %}

{% macro downloads(files) %}
<ul class="downloads">
{% for f in files %}<li><a href="{{ f.href }}" download>{{ t(f.label) }}</a></li>
{% endfor %}</ul>
{% endmacro %}

{% macro search(peers=none) %}
<div class="search" role="search">
<div>
<label for="unit-search">{{ t(UI.search) }}</label>
<input id="unit-search" type="search" autocomplete="off" spellcheck="false" {{ tattr("placeholder", UI.search_hint) }}>
</div>
{% if peers %}<div>
<label for="peer-filter">{{ t(UI.peer_filter) }}</label>
<select id="peer-filter">
<option value="" data-en="{{ UI.peer_all.en }}">{{ UI.peer_all.vi }}</option>
{% for p in peers %}<option value="{{ p.value }}"{% if p.label.en != p.label.vi %} data-en="{{ p.label.en }}"{% endif %}>{{ p.label.vi }}</option>
{% endfor %}</select>
</div>{% endif %}
</div>
{% endmacro %}

{% macro images(files) -%}
{% if files %}<p class="meta images">{{ t(UI.images) }}: {% for f in files %}<a href="{{ f.href }}" download>{{ f.label }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
{%- endmacro %}

{% macro chart_figure(c) %}
<figure class="chart{% if c.wide %} wide{% endif %}">
<h3>{{ t(c.title) }}</h3>
<div class="vis{% if c.scroll %} scroll{% endif %}" id="{{ c.id }}" role="img" {{ tattr("aria-label", c.title) }}><p class="note">{{ t(UI.chart_note) }}</p></div>
{{ images(c.images) }}
</figure>
{% endmacro %}

{% macro held_back(h) %}
{% if h %}<p class="note warn" role="note"><span aria-hidden="true">⚠</span> {{ t(h) }}</p>{% endif %}
{% endmacro %}

{% macro period_block(p, root) %}
<h3 id="{{ p.anchor }}">{{ t(p.label) }}{% if p.provisional %} <span class="badge">{{ t(COLUMNS.provisional) }}</span>{% endif %}</h3>
{% if p.provisional %}<p class="note">{{ t(UI.provisional_note) }}</p>{% endif %}
{{ held_back(p.held_back) }}
<p class="meta"><a href="{{ root }}periods/{{ p.key }}.html">{{ t(UI.full_ranking) }}</a> · {{ t(UI.downloads) }}:
{% for f in p.files %}<a href="{{ f.href }}" download>{{ t(f.label) }}</a>{% if not loop.last %} · {% endif %}{% endfor %}{% if p.report %} · <a href="{{ p.report }}">{{ t(UI.nav_report) }}</a>{% endif %}</p>
<div class="levels">
{% for tb in p.tables %}{{ table(tb) }}{% endfor %}
</div>
{% if not p.tables %}<p class="note">{{ t(UI.empty) }}</p>{% endif %}
{% endmacro %}
"""

BASE = """\
{% import "macros.html" as m with context %}
<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<title data-en="{{ title.en }} · {{ UI.site_title.en }}">{{ title.vi }} · {{ UI.site_title.vi }}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ root }}assets/site.css">
{% if chart_json %}<script defer src="{{ root }}assets/vega-bundle.js" charset="utf-8"></script>
{% endif %}{% if shared_specs %}<script defer src="{{ root }}assets/charts.js" charset="utf-8"></script>
{% endif %}<script defer src="{{ root }}assets/site.js" charset="utf-8"></script>
</head>
<body{% if body_class %} class="{{ body_class }}"{% endif %}>
<a class="skip" href="#main" data-en="Skip to content">Bỏ qua, đến nội dung</a>
<header class="site">
<div class="bar">
<div>
<h1><a href="{{ root }}index.html">{{ m.t(UI.site_title) }}</a></h1>
<p>{{ m.t(UI.site_subtitle) }}</p>
</div>
<nav class="main" {{ m.tattr("aria-label", UI.nav_overview) }}>
<a href="{{ root }}index.html">{{ m.t(UI.nav_overview) }}</a>
<a href="{{ root }}index.html#periods">{{ m.t(UI.nav_periods) }}</a>
{% if nav.city %}<a href="{{ root }}city.html">{{ m.t(UI.nav_city) }}</a>
{% endif %}{% if nav.report %}<a href="{{ root }}{{ nav.report }}">{{ m.t(UI.nav_report) }}</a>
{% endif %}{% if nav.quality %}<a href="{{ root }}quality.html">{{ m.t(UI.nav_quality) }}</a>
{% endif %}{% if has_ingestion %}<a href="{{ root }}ingestion.html">{{ m.t(UI.nav_ingestion) }}</a>
{% endif %}<a href="{{ root }}data/manifest.json">{{ m.t(UI.nav_data) }}</a>
</nav>
<div class="lang-switch" role="group" {{ m.tattr("aria-label", UI.lang_switch) }}>
<button type="button" data-lang="vi" lang="vi" aria-pressed="true">Tiếng Việt</button>
<button type="button" data-lang="en" lang="en" aria-pressed="false">English</button>
</div>
</div>
</header>
<main id="main">
{% block main %}{% endblock %}
</main>
<footer>
<p>{{ m.t(UI.site_subtitle) }}. {{ m.t(UI.not_ranked_note) }}</p>
<p>{{ m.t(UI.download_note) }} <a href="{{ root }}data/manifest.json">{{ m.t(UI.manifest) }}</a></p>
</footer>
</body>
</html>
"""

INDEX = """\
{% extends "base.html" %}
{% block main %}
<h2>{{ m.t(UI.nav_overview) }}</h2>
{{ m.search(peers) }}
{% if latest_month %}
<section aria-labelledby="{{ latest_month.anchor }}">
<p class="meta">{{ m.t(UI.latest_month) }}</p>
{{ m.period_block(latest_month, root) }}
</section>
{% endif %}
{% if latest_week %}
<section aria-labelledby="{{ latest_week.anchor }}">
<p class="meta">{{ m.t(UI.latest_week) }}</p>
{{ m.period_block(latest_week, root) }}
</section>
{% endif %}
{% if charts %}
<section class="charts-section">
<h2>{{ m.t(UI.nav_overview) }}: {{ m.t(COLUMNS.band) }}, {{ m.t(COLUMNS.score) }}</h2>
<div class="charts">
{% for c in charts %}{{ m.chart_figure(c) }}{% endfor %}</div>
<script type="application/json" id="chart-data">{{ chart_json }}</script>
</section>
{% endif %}
<section id="periods">
<h2>{{ m.t(UI.nav_periods) }} · {{ m.t(UI.nav_data) }}</h2>
<p class="note">{{ m.t(UI.download_note) }}</p>
{% for group in period_groups %}
<h3>{{ m.t(group.label) }}</h3>
{% for year in group.years %}
<details class="year"{% if loop.first %} open{% endif %}>
<summary>{{ year.year }}</summary>
<div class="table-wrap">
<table class="periods">
<thead><tr><th scope="col">{{ m.t(COLUMNS.period_key) }}</th><th scope="col">{{ m.t(COLUMNS.period_start) }}</th><th scope="col">{{ m.t(UI.downloads) }}</th></tr></thead>
<tbody>
{% for p in year.periods %}<tr><th scope="row" class="t"><a href="{{ root }}periods/{{ p.key }}.html">{{ m.t(p.label) }}</a>{% if p.provisional %} <span class="badge">{{ m.t(COLUMNS.provisional) }}</span>{% endif %}</th><td class="t">{{ p.start }}</td><td class="t">{% for f in p.files %}<a href="{{ f.href }}" download>{{ m.t(f.label) }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody>
</table>
</div>
</details>
{% endfor %}
{% endfor %}
<p><a href="{{ root }}data/manifest.json">{{ m.t(UI.manifest) }}</a></p>
</section>
{% endblock %}
"""

PERIOD = """\
{% extends "base.html" %}
{% block main %}
<nav class="pager" {{ m.tattr("aria-label", UI.nav_periods) }}>
<span>{% if prev %}<a href="{{ prev.key }}.html" rel="prev">← {{ m.t(UI.previous) }}: {{ m.t(prev.short) }}</a>{% endif %}</span>
<span>{% if next %}<a href="{{ next.key }}.html" rel="next">{{ m.t(UI.next) }}: {{ m.t(next.short) }} →</a>{% endif %}</span>
</nav>
<h2 id="{{ period.anchor }}">{{ m.t(period.label) }}{% if period.provisional %} <span class="badge">{{ m.t(COLUMNS.provisional) }}</span>{% endif %}</h2>
{% if period.provisional %}<p class="note">{{ m.t(UI.provisional_note) }}</p>{% endif %}
{{ m.held_back(period.held_back) }}
<p class="meta"><a href="../index.html#periods">{{ m.t(UI.all_periods) }}</a>{% if period.report %} · <a href="../{{ period.report }}">{{ m.t(UI.nav_report) }}</a>{% endif %}</p>
<h3>{{ m.t(UI.downloads) }}</h3>
{{ m.downloads(period.files) }}
<p class="note">{{ m.t(UI.download_note) }}</p>
{{ m.search(peers) }}
<div class="levels">
{% for tb in period.tables %}{{ m.table(tb) }}{% endfor %}
</div>
{% if not period.tables %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
<p class="note">{{ m.t(UI.not_ranked_note) }}</p>
{% endblock %}
"""

INGESTION = """\
{% extends "base.html" %}
{% block main %}
<h2>{{ m.t(UI.ingestion_title) }}</h2>
<p class="note">{{ m.t(UI.ingestion_note) }}</p>
{% for tb in tables %}{{ m.table(tb, "sortable") }}{% endfor %}
{% if not tables %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
{% endblock %}
"""

UNIT = """\
{% extends "base.html" %}
{% block main %}
<nav class="crumbs" {{ m.tattr("aria-label", UI.unit_page) }}><a href="../index.html">{{ m.t(UI.nav_overview) }}</a> › {{ m.t(unit.level) }}</nav>
<h2>{{ unit.name }} <span class="code">{{ unit.code }}</span></h2>
<p class="meta">{{ m.t(unit.level) }}{% if unit.peer %} · {{ m.t(COLUMNS.peer_group) }}: {{ m.t(unit.peer) }}{% endif %} · {{ m.t(COLUMNS.unit_valid_from) }} {{ unit.valid_from }}</p>
{% if detail %}
<section aria-labelledby="detail">
<h3 id="detail">{{ m.t(detail.heading) }}: {{ m.t(detail.label) }}{% if detail.provisional %} <span class="badge">{{ m.t(COLUMNS.provisional) }}</span>{% endif %}</h3>
<p class="meta"><a href="{{ detail.period_href }}">{{ m.t(UI.open_period) }}</a> · <a href="#history">{{ m.t(UI.other_periods) }}</a></p>
{{ m.held_back(detail.held_back) }}
<dl class="facts">
{% for f in detail.facts %}<div><dt>{{ m.t(f.label) }}</dt><dd>{% if f.band %}<span class="band band-{{ f.band.css }}">{{ m.t(f.band.label) }}</span>{% elif f.change %}{% if f.change.text %}<span class="chg {{ f.change.css }}" {{ m.tattr("title", f.change.title) }}>{{ f.change.text }}</span> <span class="meta">{{ m.t(f.change.title) }}</span>{% else %}—{% endif %}{% else %}{{ m.t(f.value) }}{% endif %}</dd></div>
{% endfor %}</dl>
{% if detail.what_if %}<h4>{{ m.t(UI.what_if_title) }}</h4>
<ul class="what-if">
{% for s in detail.what_if %}<li>{{ m.t(s) }}</li>
{% endfor %}</ul>
{% endif %}
{{ m.table(detail.groups, "data") }}
{% if detail.weak %}<p class="note">{{ m.t(UI.weak_note) }}</p>
{{ m.table(detail.weak, "data") }}{% endif %}
{% if detail.bottlenecks %}<p class="note">{{ m.t(UI.bottleneck_note) }}</p>
{{ m.table(detail.bottlenecks, "data") }}{% endif %}
{% if detail.warnings %}{{ m.table(detail.warnings, "data") }}{% endif %}
{{ m.table(detail.counts, "data counts") }}
<h4>{{ m.t(UI.downloads) }}</h4>
{{ m.downloads(detail.files) }}
</section>
{% endif %}
<section id="history" aria-labelledby="history-h">
<h3 id="history-h">{{ m.t(UI.unit_history) }}</h3>
<div class="charts">
{% for c in charts %}{{ m.chart_figure(c) }}{% endfor %}</div>
<script type="application/json" id="chart-data">{{ chart_json }}</script>
{% for tb in history %}{% if loop.index > 1 %}<details class="year"><summary>{{ m.t(tb.caption) }}</summary>{% endif %}
{{ m.table(tb, "data sortable") }}
{% if loop.index > 1 %}</details>{% endif %}{% endfor %}
</section>
{% endblock %}
"""

CITY = """\
{% extends "base.html" %}
{% block main %}
<h2>{{ m.t(UI.city_title) }}</h2>
{% if period %}<p class="meta">{{ m.t(UI.latest_month) }}: <a href="periods/{{ period.key }}.html">{{ m.t(period.label) }}</a></p>{% endif %}
{% if charts %}
<section aria-labelledby="heatmap-h">
<h2 id="heatmap-h">{{ m.t(UI.heatmap_title) }}</h2>
<p class="note">{{ m.t(UI.heatmap_note) }}</p>
<div class="charts">
{% for c in charts %}{{ m.chart_figure(c) }}{% endfor %}</div>
<script type="application/json" id="chart-data">{{ chart_json }}</script>
</section>
{% endif %}
<section id="crossings" aria-labelledby="crossings-h">
<h2 id="crossings-h">{{ m.t(UI.crossings_title) }}</h2>
{% for c in crossings %}<p class="note">{{ m.t(c.note) }}</p>
{% if c.table.rows %}{{ m.table(c.table, "data sortable") }}{% else %}<p class="note">{{ m.t(c.table.caption) }}: {{ m.t(UI.no_rows) }}</p>{% endif %}
{% endfor %}
{% if not crossings %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
</section>
<section id="warnings" aria-labelledby="warnings-h">
<h2 id="warnings-h">{{ m.t(UI.warnings_title) }}</h2>
<p class="note">{{ m.t(UI.warnings_note) }}</p>
{% for tb in warnings %}{% if tb.rows %}{{ m.table(tb, "data sortable") }}{% else %}<p class="note">{{ m.t(tb.caption) }}: {{ m.t(UI.no_rows) }}</p>{% endif %}
{% endfor %}
{% if not warnings %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
</section>
{% endblock %}
"""

QUALITY = """\
{% extends "base.html" %}
{% block main %}
<h2>{{ m.t(UI.quality_title) }}</h2>
<p class="note">{{ m.t(UI.quality_note) }}</p>
{% if held_batches %}
<section id="held-batches" aria-labelledby="held-batches-h">
<h2 id="held-batches-h">{{ m.t(UI.held_batches_title) }}</h2>
<p class="note">{{ m.t(UI.held_batches_note) }}</p>
{{ m.table(held_batches, "data sortable") }}
</section>
{% endif %}
{% if held %}
<section aria-labelledby="held-h">
<h2 id="held-h">{{ m.t(UI.held_back_title) }}</h2>
<ul class="held">
{% for h in held %}<li>{% if h.linked %}<a href="periods/{{ h.key }}.html">{{ m.t(h.label) }}</a>{% else %}{{ m.t(h.label) }}{% endif %}: {{ m.t(h.text) }}</li>
{% endfor %}</ul>
</section>
{% endif %}
{% if checks %}
<section aria-labelledby="checks-h">
<h2 id="checks-h">{{ m.t(UI.checks_title) }}</h2>
{{ m.table(checks, "data sortable") }}
{% if failed %}{{ m.table(failed, "data sortable") }}{% endif %}
{% for tb in latest_checks %}{{ m.table(tb, "data") }}{% endfor %}
</section>
{% endif %}
{% if quarantine %}
<section aria-labelledby="quarantine-h">
<h2 id="quarantine-h">{{ m.t(UI.quarantine_title) }}</h2>
<p class="note">{{ m.t(UI.ingestion_note) }}</p>
{% for tb in quarantine %}{{ m.table(tb, "data sortable") }}{% endfor %}
</section>
{% endif %}
<section aria-labelledby="silent-h">
<h2 id="silent-h">{{ m.t(UI.silent_title) }}</h2>
<p class="note">{{ m.t(UI.silent_note) }}</p>
{% for tb in silent %}{% if tb.rows %}{{ m.table(tb, "data sortable") }}{% else %}<p class="note">{{ m.t(tb.caption) }}: {{ m.t(UI.no_rows) }}</p>{% endif %}
{% endfor %}
{% if not silent %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
</section>
{% if freshness %}
<section id="freshness" aria-labelledby="fresh-h">
<h2 id="fresh-h">{{ m.t(UI.fresh_title) }}</h2>
<p class="note">{{ m.t(UI.fresh_note) }}</p>
{{ m.table(freshness, "data sortable") }}
</section>
{% endif %}
{% if completeness %}
<section id="completeness" aria-labelledby="complete-h">
<h2 id="complete-h">{{ m.t(UI.completeness_title) }}</h2>
<p class="note">{{ m.t(UI.completeness_note) }}</p>
{{ m.table(completeness, "data sortable") }}
</section>
{% endif %}
{% if warnings %}
<section aria-labelledby="warn-h">
<h2 id="warn-h">{{ m.t(UI.warnings_by_period) }}</h2>
<p class="meta"><a href="city.html#warnings">{{ m.t(UI.warnings_title) }}</a></p>
{{ m.table(warnings, "data sortable") }}
</section>
{% endif %}
{% endblock %}
"""

REPORT = """\
{% extends "base.html" %}
{% block main %}
<article class="report-page">
<div class="report-head">
<div><p>{{ m.t(UI.report_authority) }}</p><p class="strong">{{ m.t(UI.report_issuer) }}</p></div>
<div><p class="strong">{{ m.t(UI.report_nation) }}</p><p class="motto">{{ m.t(UI.report_motto) }}</p></div>
</div>
<h2 class="report-title">{{ m.t(UI.report_title) }}<br>{{ m.t(period.label) }}{% if period.provisional %} <span class="badge">{{ m.t(COLUMNS.provisional) }}</span>{% endif %}</h2>
<p class="no-print"><button type="button" data-print>{{ m.t(UI.report_print) }}</button>{% if pdf %} · <a href="{{ pdf }}" download>{{ m.t(UI.report_pdf) }}</a>{% endif %}
{% if prev %} · <a href="{{ prev.href }}" rel="prev">← {{ m.t(prev.short) }}</a>{% endif %}{% if next %} · <a href="{{ next.href }}" rel="next">{{ m.t(next.short) }} →</a>{% endif %}</p>
{% if period.provisional %}<p class="note">{{ m.t(UI.provisional_note) }}</p>{% endif %}
{{ m.held_back(period.held_back) }}
<h3>1. {{ m.t(UI.report_bands) }}</h3>
{{ m.table(bands, "data report") }}
<h3>2. {{ m.t(UI.report_weak) }}</h3>
{% for tb in weak %}{{ m.table(tb, "data report") }}{% endfor %}
{% if not weak %}<p class="note">{{ m.t(UI.empty) }}</p>{% endif %}
<h3>3. {{ m.t(UI.report_ranking) }}</h3>
{% for tb in tables %}{{ m.table(tb, "data report") }}{% endfor %}
<p class="note">{{ m.t(UI.not_ranked_note) }}</p>
</article>
{% endblock %}
"""

TEMPLATES = {
    "macros.html": MACROS,
    "base.html": BASE,
    "index.html": INDEX,
    "period.html": PERIOD,
    "ingestion.html": INGESTION,
    "unit.html": UNIT,
    "city.html": CITY,
    "quality.html": QUALITY,
    "report.html": REPORT,
}
