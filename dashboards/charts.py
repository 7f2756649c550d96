"""Altair charts of the overview page, as Vega-Lite specs with their data inline.

Each chart is built once per language over named datasets shared by both, so
the page carries its data once. The specs name no URL (no `$schema`, no data
URL): the page embeds them with the vendored bundle, which reads nothing.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from dashboards.i18n import BANDS, COLUMNS, LEVEL_ORDER, NO_BAND, UI, band_label, level_label

# d3-format locale for Vietnamese numbers (1.234,5), given to vega-embed.
VI_FORMAT_LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}

NO_BAND_COLOUR = "#9aa0a6"


def _strip_urls(spec: dict) -> dict:
    spec.pop("$schema", None)
    return spec


def band_counts(latest_month: pl.DataFrame) -> list[dict[str, Any]]:
    """Units per (level, band) of one period, in level then band order."""
    order = {b.vi: i for i, b in enumerate(BANDS)}
    levels = [lv for lv in LEVEL_ORDER if lv in set(latest_month["level"].to_list())]
    levels += sorted(set(latest_month["level"].to_list()) - set(levels))
    counts = latest_month.group_by("level", "band").len()
    rows = []
    for li, level in enumerate(levels):
        for band, n in sorted(
            ((b, n) for lv, b, n in counts.iter_rows() if lv == level),
            key=lambda bn: order.get(bn[0], len(BANDS)) if bn[0] is not None else len(BANDS) + 1,
        ):
            rows.append(
                {
                    "level_order": li,
                    "level_vi": level_label(level, "vi"),
                    "level_en": level_label(level, "en"),
                    "band_order": order.get(band, len(BANDS)) if band is not None else len(BANDS) + 1,
                    "band_vi": band_label(band, "vi"),
                    "band_en": band_label(band, "en"),
                    "units": int(n),
                }
            )
    return rows


def district_trend(months: pl.DataFrame) -> list[dict[str, Any]]:
    """Score of every district in every month (null scores left out)."""
    d = (
        months.filter((pl.col("level") == "district") & pl.col("score").is_not_null())
        .sort("unit_code", "unit_valid_from", "period_start")
        .select("unit_code", "unit_name", "period_key", "period_start", "score")
    )
    return [
        {
            "unit": f"{name} ({code})",
            "month": start.isoformat(),
            "score": round(score, 2),
        }
        for code, name, _key, start, score in d.iter_rows()
    ]


def _bands_chart(lang: str, bands: list[dict[str, Any]]) -> dict:
    present = {(r["band_vi"], r["band_en"]) for r in bands}
    domain, colours = [], []
    for b in BANDS:
        if (b.vi, b.en) in present:
            domain.append(b.en if lang == "en" else b.vi)
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
    base = alt.Chart(alt.Data(name="trend")).encode(
        x=alt.X(
            "utcyearmonth(month):T",
            title=UI["chart_month"].get(lang),
            axis=alt.Axis(format="%m/%Y", labelAngle=0, tickCount="month"),
        ),
        y=alt.Y("score:Q", title=COLUMNS["score"].get(lang), scale=alt.Scale(domain=[0, 100])),
        color=alt.Color(
            "unit:N",
            title=None,
            scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(orient="bottom", direction="vertical", columns=2, labelLimit=260),
        ),
        tooltip=[
            alt.Tooltip("unit:N", title=COLUMNS["unit_name"].get(lang)),
            alt.Tooltip("utcyearmonth(month):T", format="%m/%Y", title=UI["chart_month"].get(lang)),
            alt.Tooltip("score:Q", format=".2f", title=COLUMNS["score"].get(lang)),
        ],
    )
    chart = (base.mark_line() + base.mark_point(filled=True, size=40)).properties(width="container", height=260)
    return _strip_urls(chart.to_dict(validate=True))


def overview_charts(latest_month: pl.DataFrame | None, months: pl.DataFrame) -> dict[str, Any]:
    """`{"datasets": {...}, "charts": [{"id", "title_vi", "title_en", "vi", "en"}]}`."""
    datasets: dict[str, list] = {}
    charts: list[dict[str, Any]] = []
    if latest_month is not None and latest_month.height:
        datasets["bands"] = band_counts(latest_month)
        charts.append(
            {
                "id": "chart-bands",
                "title": UI["chart_bands"],
                "vi": _bands_chart("vi", datasets["bands"]),
                "en": _bands_chart("en", datasets["bands"]),
            }
        )
    trend = district_trend(months)
    if trend:
        datasets["trend"] = trend
        charts.append(
            {"id": "chart-trend", "title": UI["chart_trend"], "vi": _trend_chart("vi"), "en": _trend_chart("en")}
        )
    return {"datasets": datasets, "charts": charts}
