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

{% macro cell(c) -%}
{%- if c.kind == "unit" -%}
<th scope="row" class="unit">{{ c.name }} <span class="code">{{ c.code }}</span></th>
{%- elif c.kind == "rank" -%}
{%- if c.text %}<td>{{ c.text }}</td>{% else %}<td {{ tattr("title", UI.not_ranked) }}>—</td>{% endif -%}
{%- elif c.kind == "band" -%}
<td class="t"{% if c.order is not none %} data-v="{{ c.order }}"{% endif %}><span class="band band-{{ c.css }}">{{ t(c.label) }}</span></td>
{%- elif c.kind == "change" -%}
{%- if c.text %}<td><span class="chg {{ c.css }}" {{ tattr("title", c.title) }}>{{ c.text }}</span></td>{% else %}<td></td>{% endif -%}
{%- elif c.kind == "label" -%}
<td class="t">{{ t(c.label) }}</td>
{%- elif c.kind == "file" -%}
<td class="t">{{ c.text }}</td>
{%- else -%}
<td>{{ c.text }}</td>
{%- endif -%}
{%- endmacro %}

{% macro table(tb, cls="ranking sortable") %}
<div class="ranking-block">
<div class="table-wrap">
<table class="{{ cls }}">
<caption>{{ t(tb.caption) }}{% if tb.note %} <span class="meta">· {{ t(tb.note) }}</span>{% endif %}</caption>
<thead><tr>
{% for c in tb.columns %}<th scope="col" data-sort="{{ c.sort }}"{% if c.title %} {{ tattr("title", c.title) }}{% endif %}>{{ t(c.label) }}{% if c.sub %}<small>{{ t(c.sub) }}</small>{% endif %}</th>
{% endfor %}</tr></thead>
<tbody>
{% for row in tb.rows %}<tr{% if row.unranked %} class="unranked"{% endif %}>{% for c in row.cells %}{{ cell(c) }}{% endfor %}</tr>
{% endfor %}</tbody>
</table>
</div>
<p class="no-match" hidden>{{ t(UI.no_match) }}</p>
</div>
{% endmacro %}

{% macro downloads(files) %}
<ul class="downloads">
{% for f in files %}<li><a href="{{ f.href }}" download>{{ t(f.label) }}</a></li>
{% endfor %}</ul>
{% endmacro %}

{% macro search() %}
<div class="search" role="search">
<label for="unit-search">{{ t(UI.search) }}</label>
<input id="unit-search" type="search" autocomplete="off" spellcheck="false" {{ tattr("placeholder", UI.search_hint) }}>
</div>
{% endmacro %}

{% macro period_block(p, root) %}
<h3 id="{{ p.anchor }}">{{ t(p.label) }}{% if p.provisional %} <span class="badge">{{ t(COLUMNS.provisional) }}</span>{% endif %}</h3>
{% if p.provisional %}<p class="note">{{ t(UI.provisional_note) }}</p>{% endif %}
<p class="meta"><a href="{{ root }}periods/{{ p.key }}.html">{{ t(UI.full_ranking) }}</a> · {{ t(UI.downloads) }}:
{% for f in p.files %}<a href="{{ f.href }}" download>{{ t(f.label) }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
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
{% endif %}<script defer src="{{ root }}assets/site.js" charset="utf-8"></script>
</head>
<body>
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
{% if has_ingestion %}<a href="{{ root }}ingestion.html">{{ m.t(UI.nav_ingestion) }}</a>
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
{{ m.search() }}
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
{% for c in charts %}<figure class="chart">
<h3>{{ m.t(c.title) }}</h3>
<div class="vis" id="{{ c.id }}" role="img" {{ m.tattr("aria-label", c.title) }}><p class="note">{{ m.t(UI.chart_note) }}</p></div>
</figure>
{% endfor %}</div>
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
<h3>{{ m.t(UI.downloads) }}</h3>
{{ m.downloads(period.files) }}
<p class="note">{{ m.t(UI.download_note) }}</p>
{{ m.search() }}
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

TEMPLATES = {
    "macros.html": MACROS,
    "base.html": BASE,
    "index.html": INDEX,
    "period.html": PERIOD,
    "ingestion.html": INGESTION,
}
