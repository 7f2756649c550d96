"""dashboards.charts: the specs the pages and chart images are drawn from, drawn by
vl-convert as the images are, and read back from the SVG."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from dashboards import charts, i18n
from dashboards.format import fmt_pct
from dashboards.vega import vega_lite_version
from tests.helpers import DEFAULT_PROFILE

vlc = pytest.importorskip("vl_convert")

BANDS = i18n.site_bands(DEFAULT_PROFILE)
OLD, NEW = date(2008, 8, 1), date(2025, 3, 1)


def draw(spec: dict, datasets: dict) -> str:
    """The chart as its image is made (dashboards.pages.images): data inline, the site's locale."""
    return vlc.vegalite_to_svg(charts.static_spec(spec, datasets), vl_version=vega_lite_version(),
                               format_locale=charts.VI_FORMAT_LOCALE)


def texts(svg: str) -> list[str]:
    return [re.sub(r"\s+", " ", t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def marks(svg: str, kind: str) -> list[str]:
    """The `d` of every path drawn by marks of `kind` (line, symbol)."""
    groups = re.findall(rf'<g class="mark-{kind} role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    return [d for g in groups for d in re.findall(r'<path[^>]*?\bd="([^"]*)"', g)]


def month_row(code: str, valid_from: date, name: str, month: int, score: float, ranked: bool) -> dict:
    return {"period_type": "month", "period_key": f"2025-{month:02d}", "period_start": date(2025, month, 1),
            "level": "department", "unit_code": code, "unit_valid_from": valid_from, "unit_name": name,
            "score": score, "ranked": ranked, "band": "Khá" if ranked else None}


@pytest.fixture(scope="module")
def trend() -> dict:
    """Departments, January to June 2025: the Sở Khoa học và Công nghệ of 2008 ranked until
    February, then listed only for its late dossiers (score 0, not ranked); the new one, of
    the same code, from March; the Sở Tài chính throughout, not ranked in April (too few dossiers)."""
    rows = [month_row("SKHCN", OLD, "Sở Khoa học và Công nghệ", m, 70.0 if m < 3 else 0.0, m < 3) for m in range(1, 7)]
    rows += [month_row("SKHCN", NEW, "Sở Khoa học và Công nghệ", m, 88.0 + m, True) for m in range(3, 7)]
    rows += [month_row("STC", OLD, "Sở Tài chính", m, 0.0 if m == 4 else 80.0, m != 4) for m in range(1, 7)]
    months = pl.DataFrame(rows)
    return charts.overview_charts(months.filter(pl.col("period_key") == "2025-06"), months, BANDS)


def test_a_reused_code_is_two_lines_labelled_with_their_validity(trend):
    points = trend["datasets"]["trend"]
    pairs = [(p["unit"], p["month"]) for p in points]
    assert len(pairs) == len(set(pairs))  # one value per line and month
    assert {p["unit"] for p in points} == {"Sở Khoa học và Công nghệ (SKHCN, từ 08/2008)", "Sở Khoa học và Công nghệ (SKHCN, từ 03/2025)",
                                           "Sở Tài chính (STC)"}
    assert {p.get("unit_en") for p in points} == {"Sở Khoa học và Công nghệ (SKHCN, from 08/2008)", "Sở Khoa học và Công nghệ (SKHCN, from 03/2025)",
                                                  None}
    [chart] = [c for c in trend["charts"] if c["id"] == "chart-trend"]
    vi, en = texts(draw(chart["vi"], trend["datasets"])), texts(draw(chart["en"], trend["datasets"]))
    assert {"Sở Khoa học và Công nghệ (SKHCN, từ 08/2008)", "Sở Khoa học và Công nghệ (SKHCN, từ 03/2025)", "Sở Tài chính (STC)"} <= set(vi)
    assert {"Sở Khoa học và Công nghệ (SKHCN, from 08/2008)", "Sở Khoa học và Công nghệ (SKHCN, from 03/2025)", "Sở Tài chính (STC)"} <= set(en)


def test_a_code_reused_within_a_month_is_labelled_with_the_day():
    rows = [month_row("SNV", date(2025, 3, d), "Sở Nội vụ", 6, 80.0, True) for d in (1, 15)]
    points = charts.level_trend(pl.DataFrame(rows), "department")
    assert [p["unit"] for p in points] == ["Sở Nội vụ (SNV, từ 01/03/2025)", "Sở Nội vụ (SNV, từ 15/03/2025)"]


def test_the_trend_counts_a_reused_code_as_two_units():
    # a reform on 15/03: the Sở Nội vụ of 2008 until 14/03 and the new one, both ranked in March,
    # are two lines; with the other departments that makes one more than the chart can hold
    n = charts.TREND_MAX_UNITS
    rows = [month_row(f"S{i:02d}", OLD, f"Sở {i}", 3, 80.0, True) for i in range(n - 1)]
    rows += [month_row("SNV", OLD, "Sở Nội vụ", 3, 75.0, True), month_row("SNV", date(2025, 3, 15), "Sở Nội vụ", 3, 85.0, True)]
    month = pl.DataFrame(rows)
    assert len({(r["unit_code"], r["unit_valid_from"]) for r in rows}) == n + 1
    assert charts.trend_level(month) is None
    assert charts.trend_level(month.filter(pl.col("unit_code") != "S00")) == "department"


def test_the_trend_leaves_a_month_not_ranked_blank(trend):
    points = {(p["unit"], p["month"]): p["score"] for p in trend["datasets"]["trend"]}
    # no 0 for the old Sở Khoa học và Công nghệ after it ceased, nor for the Sở Tài chính's April
    assert [points[("Sở Khoa học và Công nghệ (SKHCN, từ 08/2008)", f"2025-{m:02d}-01")] for m in range(1, 7)] == [
        70.0, 70.0, None, None, None, None]
    assert [points[("Sở Tài chính (STC)", f"2025-{m:02d}-01")] for m in range(1, 7)] == [
        80.0, 80.0, 80.0, None, 80.0, 80.0]
    [chart] = [c for c in trend["charts"] if c["id"] == "chart-trend"]
    svg = draw(chart["vi"], trend["datasets"])
    # drawn: 2 + 4 + 5 points, none at 0; the Sở Tài chính's line broken at April
    assert len(marks(svg, "symbol")) == 11
    assert sorted(d.count("M") for d in marks(svg, "line")) == [1, 1, 2]


HISTORY = [
    {"d": "2025-07-01", "t": "month", "s": 81.0, "r": 3},
    {"d": "2025-08-01", "t": "month", "s": 0.0, "r": None},  # one pending dossier: not ranked
    {"d": "2025-09-01", "t": "month", "s": 84.0, "r": 2},
    {"d": "2025-10-01", "t": "month", "s": 86.0, "r": 2},
]


@pytest.mark.parametrize("spec", ["unit-score", "unit-score-reconstructed", "unit-rank"])
def test_the_unit_charts_leave_a_period_not_ranked_blank(spec):
    history = HISTORY
    if spec == "unit-score-reconstructed":
        history = [{"d": "2025-06-01", "t": "month", "s": 65.0, "r": None, "x": 1}, *HISTORY]
    for lang in ("vi", "en"):
        svg = draw(charts.unit_chart_specs()[spec][lang], {"history": history})
        symbols = marks(svg, "symbol")
        assert len(symbols) == len(history) - 1, (spec, lang)  # no point for August
        # the unit's own line breaks at August (the reconstructed June is its own, paler line)
        assert sorted(d.count("M") for d in marks(svg, "line"))[-1] == 2, (spec, lang)


def test_the_reconstructed_legend_shows_its_whole_label():
    history = [{"d": "2025-06-01", "t": "month", "s": 65.0, "r": None, "x": 1}, *HISTORY]
    specs = charts.unit_chart_specs()["unit-score-reconstructed"]
    for lang in ("vi", "en"):
        words = i18n.UI["figures_reconstructed"].get(lang)
        assert words in texts(draw(specs[lang], {"history": history})), lang


def test_chart_percentages_are_written_as_the_tables_write_them():
    month = pl.DataFrame([{"level": "district", "unit_code": "001", "unit_name": "Quận Ba Đình", "rank": 1,
                           "score": 80.0, "ranked": True, "points_timeliness": 14.55, "max_points_timeliness": 20}])
    heat = charts.heatmap_charts(month, [("timeliness", "Tiến độ giải quyết", "Timeliness")])
    legend = texts(draw(heat["charts"][0]["vi"], heat["datasets"]))
    assert {"0 %", "25 %", "50 %", "75 %", "100 %"} <= set(legend)
    # a tooltip's `.1%` in the same locale: as the tables' fmt_pct
    spec = {"data": {"values": [{"p": 0.922}]}, "mark": "text",
            "encoding": {"text": {"field": "p", "type": "quantitative", "format": ".1%"}}}
    assert texts(draw(spec, {})) == [fmt_pct(0.922)] == ["92,2 %"]
