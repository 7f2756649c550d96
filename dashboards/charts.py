"""Altair charts of the overview page, as Vega-Lite specs with their data inline.

Each chart is built once per language over named datasets shared by both, so
the page carries its data once. The specs name no URL (no `$schema`, no data
URL): the page embeds them with the vendored bundle, which reads nothing.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import altair as alt
import polars as pl

from dashboards.format import PERCENT, fmt_date
from dashboards.i18n import COLUMNS, LEVEL_ORDER, NO_BAND, UI, Band, Label, band_text, level_label
from transforms.score import ranked_score

# d3-format locale for Vietnamese numbers (1.234,5), given to vega-embed; a percentage
# as the tables write it (`92,2 %`).
VI_FORMAT_LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"], "percent": PERCENT}

NO_BAND_COLOUR = "#9aa0a6"


def _strip_urls(spec: dict) -> dict:
    spec.pop("$schema", None)
    return spec


def described(spec: dict, description: str) -> dict:
    """A page's spec with its `description` in the page's language: Vega makes it the
    chart's aria-label. Vega's own ARIA labels of marks, axes and legends are English
    ("X-axis titled 'Điểm' for a linear scale ...", "Symbol legend titled ...") and name
    fields ("d (year-month-date): 01/2025; Điểm: 80.5"): `config.aria` false hides them
    from screen readers, which read the description. The pages' specs only: the chart
    images (static_spec) are drawn from the undescribed ones, as before."""
    return {**spec, "description": description, "config": {**spec.get("config", {}), "aria": False}}


def band_counts(latest_month: pl.DataFrame, bands: tuple[Band, ...]) -> list[dict[str, Any]]:
    """Ranked units per (level, band) of one period, in level then band order (`bands`,
    best first; a value that is none of them after them). A unit listed but not ranked
    (too few dossiers, or listed only for late dossiers after it ceased to exist) has
    a band of no standing, and a level with no ranked unit no bar."""
    order = {b.vi: i for i, b in enumerate(bands)}
    ranked = latest_month.filter(pl.col("ranked"))
    levels = [lv for lv in LEVEL_ORDER if lv in set(ranked["level"].to_list())]
    levels += sorted(set(ranked["level"].to_list()) - set(levels))
    counts = ranked.group_by("level", "band").len()
    rows = []
    for li, level in enumerate(levels):
        for band, n in sorted(
            ((b, n) for lv, b, n in counts.iter_rows() if lv == level),
            key=lambda bn: order.get(bn[0], len(bands)) if bn[0] is not None else len(bands) + 1,
        ):
            text = band_text(band, bands)
            rows.append(
                {
                    "level_order": li,
                    "level_vi": level_label(level, "vi"),
                    "level_en": level_label(level, "en"),
                    "band_order": order.get(band, len(bands)) if band is not None else len(bands) + 1,
                    "band_vi": text.vi,
                    "band_en": text.en,
                    "units": int(n),
                }
            )
    return rows


# The trend chart draws one line per unit: only a level with at most this many units fits.
TREND_MAX_UNITS = 40


def trend_level(month: pl.DataFrame) -> str | None:
    """The level whose units the trend chart follows: of the levels ranked in the
    month, the one with the fewest ranked units (districts before the 2025 reform,
    the city's departments after it), if it has at most TREND_MAX_UNITS. A unit is
    (code, valid from), as level_trend draws it: a code reused by a reform within the
    month is two units, both ranked there."""
    ranked = month.filter(pl.col("ranked")).group_by("level").agg(
        n=pl.struct("unit_code", "unit_valid_from").n_unique()
    )
    order = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
    best = sorted(ranked.iter_rows(), key=lambda r: (r[1], order.get(r[0], len(order)), r[0]))
    return best[0][0] if best and best[0][1] <= TREND_MAX_UNITS else None


def level_trend(months: pl.DataFrame, level: str) -> list[dict[str, Any]]:
    """Score of every unit of `level` in every month: `unit` its label, and `unit_en` the
    English one where it differs. A unit is (code, valid from): a code reused after a
    reform is two lines, each labelled with the month it took effect (`trend_labels`).
    A month the unit is not ranked in has no score (a gap in its line, not a 0); a unit
    never ranked in these months has no line."""
    d = (
        months.filter(pl.col("level") == level)
        .filter(pl.col("ranked").any().over("unit_code", "unit_valid_from"))
        .sort("unit_code", "unit_valid_from", "period_start")
        .select("unit_code", "unit_valid_from", "unit_name", "period_start", "score", "ranked")
    )
    labels = trend_labels(d)
    rows = []
    for code, valid_from, name, start, score, ranked in d.iter_rows():
        label = labels[(code, valid_from)]
        row = {"unit": label.vi, "month": start.isoformat(), "score": ranked_score(score) if ranked else None}
        if label.en != label.vi:
            row["unit_en"] = label.en
        rows.append(row)
    return rows


def trend_labels(units: pl.DataFrame) -> dict[tuple, Label]:
    """`Sở Nội vụ (SNV)`; where units share a code, each with the month it is valid
    from (`Sở Nội vụ (SNV, từ 03/2025)`), or the day where that month is shared too."""
    each = units.unique(["unit_code", "unit_valid_from"], keep="last", maintain_order=True)  # its latest name
    shared: dict[str, list] = {}
    for code, valid_from in each.select("unit_code", "unit_valid_from").iter_rows():
        shared.setdefault(code, []).append(valid_from)
    out = {}
    for code, valid_from, name in each.select("unit_code", "unit_valid_from", "unit_name").iter_rows():
        if len(shared[code]) == 1 or valid_from is None:
            out[(code, valid_from)] = Label(f"{name} ({code})", f"{name} ({code})")
            continue
        month = f"{valid_from.month:02d}/{valid_from.year}"
        clash = sum(1 for v in shared[code] if v is not None and (v.year, v.month) == (valid_from.year, valid_from.month))
        since = fmt_date(valid_from) if clash > 1 else month
        text = UI["chart_unit_since"]
        out[(code, valid_from)] = Label(text.vi.format(name=name, code=code, since=since),
                                        text.en.format(name=name, code=code, since=since))
    return out


def _bands_chart(lang: str, counts: list[dict[str, Any]], bands: tuple[Band, ...]) -> dict:
    """The colour of each band present (`bands`: the profile's, dashboards.i18n.site_bands),
    and of no score; a value that is none of them takes Vega's own."""
    present = {(r["band_vi"], r["band_en"]) for r in counts}
    domain, colours = [], []
    for b in bands:
        if (b.vi, b.en) in present:
            domain.append(b.label.get(lang))
            colours.append(b.colour)
    if (NO_BAND.vi, NO_BAND.en) in present:
        domain.append(NO_BAND.get(lang))
        colours.append(NO_BAND_COLOUR)
    count = UI["chart_count"].get(lang)
    chart = (
        alt.Chart(alt.Data(name="bands"))
        .mark_bar()
        .encode(
            y=alt.Y(f"level_{lang}:N", title=None, sort=alt.EncodingSortField("level_order")),
            x=alt.X("sum(units):Q", title=count, axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                f"band_{lang}:N",
                title=None,
                scale=alt.Scale(domain=domain, range=colours),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            order=alt.Order("band_order:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip(f"level_{lang}:N", title=COLUMNS["level"].get(lang)),
                alt.Tooltip(f"band_{lang}:N", title=COLUMNS["band"].get(lang)),
                alt.Tooltip("units:Q", title=count),
            ],
        )
        .properties(width="container", height=alt.Step(34))
    )
    return _strip_urls(chart.to_dict(validate=True))


def _trend_chart(lang: str) -> dict:
    # the English label where it differs (a unit's validity), else the one label
    unit = "unit" if lang == "vi" else "label"
    base = alt.Chart(alt.Data(name="trend")).encode(
        x=alt.X(
            "utcyearmonth(month):T",
            title=UI["chart_month"].get(lang),
            axis=alt.Axis(format="%m/%Y", labelAngle=0, tickCount="month"),
        ),
        # a month not ranked has no score: the line breaks there (Vega-Lite's default for a null)
        y=alt.Y("score:Q", title=COLUMNS["score"].get(lang), scale=alt.Scale(domain=[0, 100])),
        color=alt.Color(
            f"{unit}:N",
            title=None,
            scale=alt.Scale(scheme="tableau10"),
            # the whole label: cut, a reused code's lost the month that tells its two units apart
            legend=alt.Legend(orient="bottom", direction="vertical", columns=2, labelLimit=0),
        ),
        tooltip=[
            alt.Tooltip(f"{unit}:N", title=COLUMNS["unit_name"].get(lang)),
            alt.Tooltip("utcyearmonth(month):T", format="%m/%Y", title=UI["chart_month"].get(lang)),
            alt.Tooltip("score:Q", format=".2f", title=COLUMNS["score"].get(lang)),
        ],
    )
    if lang != "vi":
        base = base.transform_calculate(label="datum.unit_en || datum.unit")
    chart = (base.mark_line() + base.mark_point(filled=True, size=40)).properties(width="container", height=260)
    return _strip_urls(chart.to_dict(validate=True))


def overview_charts(latest_month: pl.DataFrame | None, months: pl.DataFrame, bands: tuple[Band, ...]) -> dict[str, Any]:
    """`{"datasets": {...}, "charts": [{"id", "title", "vi", "en"}]}`: the bands of the
    headline month's ranked units (`bands`: the profile's), and the monthly scores of the level trend_level picks."""
    datasets: dict[str, list] = {}
    charts: list[dict[str, Any]] = []
    counts = band_counts(latest_month, bands) if latest_month is not None and latest_month.height else []
    if counts:
        datasets["bands"] = counts
        charts.append(
            {
                "id": "chart-bands",
                "title": UI["chart_bands"],
                "vi": _bands_chart("vi", datasets["bands"], bands),
                "en": _bands_chart("en", datasets["bands"], bands),
            }
        )
    level = trend_level(latest_month) if latest_month is not None and latest_month.height else None
    trend = level_trend(months, level) if level else []
    if trend:
        datasets["trend"] = trend
        lv = Label(level_label(level, "vi"), level_label(level, "en"))
        title = Label(f"{UI['chart_trend'].vi} · {lv.vi}", f"{UI['chart_trend'].en} · {lv.en}")
        charts.append({"id": "chart-trend", "title": title, "vi": _trend_chart("vi"), "en": _trend_chart("en"),
                       "note": UI["chart_gaps"]})
    return {"datasets": datasets, "charts": charts}


def image_name(chart_id: str, month_key: str | None) -> str:
    """The file name (without suffix) of a chart's images: `bands-2024-02`, `trend`."""
    name = chart_id.removeprefix("chart-")
    return name if chart_id == "chart-trend" or not month_key else f"{name}-{month_key}"


# --------------------------------------------------------------------------- unit pages

# The unit pages share one pair of specs (assets/charts.js); each page carries
# only its own data, as the dataset `history` (dashboards.pages.unit.history_json):
# {d: period start, t: month|week, s: score (2 decimals), r: rank (null when not
# ranked)}, and x: 1 on a point reconstructed from the units before a reform
# (transforms.crosswalk), which has no rank, and no score where its figures are too
# few to be ranked (not `rankable`).

def _kind_expr(lang: str) -> str:
    month, week = UI["months"].get(lang), UI["weeks"].get(lang)
    return f"datum.t === 'month' ? {json_str(month)} : {json_str(week)}"


def json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _unit_chart(lang: str, field: str, reconstructed: bool = False) -> dict:
    kind = UI["chart_period"].get(lang)
    domain = [UI["months"].get(lang), UI["weeks"].get(lang)]
    if field == "s":
        y = alt.Y("v:Q", title=COLUMNS["score"].get(lang), scale=alt.Scale(domain=[0, 100]))
        tip = alt.Tooltip("v:Q", format=".2f", title=COLUMNS["score"].get(lang))
    else:
        y = alt.Y(
            "r:Q",
            title=COLUMNS["rank"].get(lang),
            scale=alt.Scale(reverse=True, zero=False, nice=False, domainMin=1),
            axis=alt.Axis(tickMinStep=1, format="d"),
        )
        tip = alt.Tooltip("r:Q", format="d", title=COLUMNS["rank"].get(lang))
    base = (
        alt.Chart(alt.Data(name="history"))
        # a period the unit is not ranked in (r null, not reconstructed) has no score on
        # the chart, as it has no rank: both lines break there (Vega-Lite's default for
        # a null), never a point at the score of a handful of dossiers, often 0
        .transform_calculate(kind=_kind_expr(lang), v="datum.r != null || datum.x ? datum.s : null")
        .encode(
            x=alt.X(
                "utcyearmonthdate(d):T",
                title=None,
                axis=alt.Axis(format="%m/%Y", labelAngle=0, tickCount="month", labelOverlap=True),
            ),
            y=y,
            # colour and dash both tell months from weeks, in one legend
            color=alt.Color(
                "kind:N",
                title=kind,
                scale=alt.Scale(domain=domain, range=["#0b5cad", "#e36d12"]),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            strokeDash=alt.StrokeDash(
                "kind:N",
                title=kind,
                scale=alt.Scale(domain=domain, range=[[1, 0], [4, 2]]),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("kind:N", title=kind),
                alt.Tooltip("utcyearmonthdate(d):T", format="%d/%m/%Y", title=COLUMNS["period_start"].get(lang)),
                tip,
            ],
        )
    )
    if reconstructed:
        # the reconstructed part is its own, paler line: never read as the unit's own record
        figures = UI["chart_figures"].get(lang)
        own, rebuilt = UI["figures_own"].get(lang), UI["figures_reconstructed"].get(lang)
        base = base.transform_calculate(src=f"datum.x ? {json_str(rebuilt)} : {json_str(own)}").encode(
            opacity=alt.Opacity(
                "src:N",
                title=figures,
                scale=alt.Scale(domain=[own, rebuilt], range=[1.0, 0.4]),
                # the whole label: cut at Vega's 160 px it lost "(không xếp hạng)"
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0),
            ),
            tooltip=[alt.Tooltip("src:N", title=figures), *base.encoding.tooltip],
        )
    chart = (base.mark_line(strokeWidth=1.5) + base.mark_point(filled=True, size=28)).properties(
        width="container", height=180
    )
    return _strip_urls(chart.to_dict(validate=True))


@functools.lru_cache(maxsize=1)
def unit_chart_specs() -> dict[str, dict[str, dict]]:
    """`{"unit-score": {"vi": spec, "en": spec}, "unit-rank": {...}}`, shared by every unit page;
    "unit-score-reconstructed" on the pages whose history has reconstructed points."""
    score, rank = UI["chart_unit_score"], UI["chart_unit_rank"]
    return {
        "unit-score": {lang: described(_unit_chart(lang, "s"), score.get(lang)) for lang in ("vi", "en")},
        "unit-score-reconstructed": {lang: described(_unit_chart(lang, "s", reconstructed=True), score.get(lang))
                                     for lang in ("vi", "en")},
        "unit-rank": {lang: described(_unit_chart(lang, "r"), rank.get(lang)) for lang in ("vi", "en")},
    }


# --------------------------------------------------------------------------- city heatmap


def heatmap_rows(month: pl.DataFrame, groups: list[str]) -> list[dict[str, Any]]:
    """Units × groups of one level and period: share of the applicable maximum.

    `month` holds one level's rows with `points_<group>` and `max_points_<group>`
    (the maximum of the group's applicable indicators). Units are ordered by
    rank, then score, then code: `o` is the row position.
    """
    rows = []
    frame = month.sort(["rank", "score", "unit_code"], descending=[False, True, False], nulls_last=True)
    for o, r in enumerate(frame.iter_rows(named=True)):
        unit = f"{r['unit_name']} ({r['unit_code']})"
        for gi, g in enumerate(groups):
            earned, mx = r.get(f"points_{g}"), r.get(f"max_points_{g}")
            if earned is None or not mx:
                continue
            rows.append({"u": unit, "o": o, "g": gi, "s": round(earned / mx, 4), "p": round(earned, 2), "m": mx})
    return rows


def _heatmap_chart(lang: str, dataset: str, group_labels: tuple[tuple[str, str], ...], units: int) -> dict:
    return copy.deepcopy(_heatmap_spec(lang, dataset, tuple(group_labels), units <= 60))


@functools.lru_cache(maxsize=16)
def _heatmap_spec(lang: str, dataset: str, group_labels: tuple[tuple[str, str], ...], small: bool) -> dict:
    names = [vi if lang == "vi" else en for vi, en in group_labels]
    lookup = "[" + ",".join(json_str(n) for n in names) + "][datum.g]"
    step = 16 if small else 13
    font = 10 if small else 8
    base = alt.Chart(alt.Data(name=dataset)).transform_calculate(group=lookup, pct="round(datum.s * 100)").encode(
        x=alt.X(
            "group:N",
            title=None,
            sort=names,
            axis=alt.Axis(orient="top", labelAngle=-35, labelLimit=160, labelAlign="left"),
        ),
        y=alt.Y("u:N", title=None, sort=alt.EncodingSortField("o", order="ascending"), axis=alt.Axis(labelLimit=220)),
    )
    share = UI["share_of_max"].get(lang)
    rect = base.mark_rect(stroke="#ffffff", strokeWidth=0.5).encode(
        color=alt.Color(
            "s:Q",
            title=share,
            scale=alt.Scale(domain=[0, 1], scheme="yellowgreenblue"),
            legend=alt.Legend(format=".0%", orient="bottom", gradientLength=200, values=[0, 0.25, 0.5, 0.75, 1]),
        ),
        tooltip=[
            alt.Tooltip("u:N", title=COLUMNS["unit_name"].get(lang)),
            alt.Tooltip("group:N", title=UI["points"].get(lang)),
            alt.Tooltip("s:Q", format=".1%", title=share),
            alt.Tooltip("p:Q", format=".2f", title=UI["earned"].get(lang)),
            alt.Tooltip("m:Q", format="d", title=UI["max"].get(lang)),
        ],
    )
    text = base.mark_text(fontSize=font).encode(
        text=alt.Text("pct:Q", format="d"),
        color=alt.condition("datum.s > 0.6", alt.value("#ffffff"), alt.value("#1d2733")),
    )
    chart = (rect + text).properties(width=alt.Step(58), height=alt.Step(step))
    return _strip_urls(chart.to_dict(validate=True))


def heatmap_charts(latest_month: pl.DataFrame, groups: list[tuple[str, str, str]]) -> dict[str, Any]:
    """One heatmap per level of the month, over datasets `heat_<level>`: its ranked
    units (a unit listed only for late dossiers, as the communes of before the
    2025 reform are after it, is no part of the city's picture).

    `latest_month` carries `points_<group>` and `max_points_<group>` for every group
    key of `groups` ((key, label_vi, label_en), in display order)."""
    latest_month = latest_month.filter(pl.col("ranked"))
    datasets: dict[str, list] = {}
    charts: list[dict[str, Any]] = []
    keys = [g for g, _vi, _en in groups]
    labels = tuple((vi, en) for _g, vi, en in groups)
    levels = [lv for lv in LEVEL_ORDER if lv in set(latest_month["level"].to_list())]
    levels += sorted(set(latest_month["level"].to_list()) - set(levels))
    for level in levels:
        rows = heatmap_rows(latest_month.filter(pl.col("level") == level), keys)
        if not rows:
            continue
        name = f"heat_{re_safe(level)}"
        datasets[name] = rows
        units = len({r["o"] for r in rows})
        charts.append(
            {
                "id": f"chart-heatmap-{re_safe(level)}",
                "level": level,
                "units": units,
                "title": UI["heatmap_title"],
                "vi": _heatmap_chart("vi", name, labels, units),
                "en": _heatmap_chart("en", name, labels, units),
            }
        )
    return {"datasets": datasets, "charts": charts}


def re_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


# --------------------------------------------------------------------------- images


STATIC_WIDTH = 720


def static_spec(spec: dict, datasets: dict) -> dict:
    """A page spec made renderable off-page: datasets inline, a fixed width for `container`."""
    out = dict(spec, datasets={k: v for k, v in datasets.items() if _uses(spec, k)})
    if out.get("width") == "container":
        out["width"] = STATIC_WIDTH
    for layer in out.get("layer", []):
        if isinstance(layer, dict) and layer.get("width") == "container":
            layer["width"] = STATIC_WIDTH
    out.setdefault("background", "#ffffff")
    return out


def _uses(spec: Any, name: str) -> bool:
    if isinstance(spec, dict):
        if spec.get("name") == name and set(spec) <= {"name", "format"}:
            return True
        return any(_uses(v, name) for v in spec.values())
    if isinstance(spec, list):
        return any(_uses(v, name) for v in spec)
    return False
