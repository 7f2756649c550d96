"""dashboards.site / format / i18n / charts: the static scoreboard site."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from dashboards import i18n
from dashboards.format import (
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_rank_change,
    fmt_score,
    period_label,
    strip_diacritics,
)
from dashboards.site import build_site
from dashboards.vega import vega_lite_version
from pipelines.resources import ScoreboardSettings
from tests.helpers import SCOREBOARD_COLUMNS, DEFAULT_PROFILE, EXAMPLE, read_example_dossiers

FIXTURE = Path(__file__).parent / "fixtures" / "example" / "expected_scoreboard.csv"
STATIC = Path(__file__).parents[1] / "dashboards" / "static"
SITE_CSS = (STATIC / "site.css").read_text(encoding="utf-8")
SITE_JS = (STATIC / "site.js").read_text(encoding="utf-8")
PERIOD_KEYS = ["2024-01", "2024-02"] + [f"2024-W{w:02d}" for w in range(1, 10)]
MANIFEST = {"run_at": "2024-03-01T07:30:00+07:00", "inputs": [{"name": "dossiers.csv", "sha256": "0" * 64}]}
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def scoreboard() -> pl.DataFrame:
    return pl.read_csv(FIXTURE, schema_overrides=SCOREBOARD_COLUMNS)


def ingestion_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """As pipelines read them: the file_accounting view and quarantine counts."""
    ingestion = pl.DataFrame(
        {
            "source_file": ["/srv/inbox/private/dossiers-2024-01.csv", r"C:\exports\feb.xlsx", "x.csv"],
            "content_hash": ["0123456789abcdef" * 4, "f" * 64, "e" * 64],
            "format": ["csv", "xlsx", None],
            "status": ["loaded", "loaded", "rejected"],
            "message": [None, None, "boom: Họ tên missing"],  # free text: never shown
            "rows_read": [38, 4, None],
            "rows_accepted": [36, 4, 0],
            "rows_quarantined": [2, 0, 0],
            "rows_superseded": [1, 0, 0],
            "dropped_columns": ['["Họ tên"]', "[]", "[]"],
            "unreadable": ["{}", "{}", "{}"],
            "ingested_at": [dt.datetime(2024, 3, 1, 7, 0)] * 3,
        },
        schema_overrides={"rows_read": pl.Int64},
    )
    quarantine = pl.DataFrame(
        {"source_file": ["/srv/inbox/private/dossiers-2024-01.csv"] * 2, "reason": ["bad_date", "unknown_unit"], "rows": [1, 1]}
    )
    return ingestion, quarantine


def by_period_type(make) -> pl.DataFrame:
    """make(units, calendar, period_type, periods) for the worked example's months and
    weeks, concatenated."""
    from transforms.calendar import working_calendar
    from transforms.periods import index_of, make_periods
    from transforms.units import load_registry

    units = load_registry(EXAMPLE / "units.csv")
    cal = working_calendar(dt.date(2023, 1, 1), dt.date(2025, 1, 1))
    parts = []
    for ptype, first, last in (("month", dt.date(2024, 1, 1), dt.date(2024, 2, 1)), ("week", dt.date(2024, 1, 1), dt.date(2024, 2, 26))):
        periods = make_periods(ptype, index_of(ptype, first), index_of(ptype, last),
                               latest_event=dt.datetime(2024, 2, 7, 15), now=dt.datetime(2026, 1, 1))
        parts.append(make(units, cal, ptype, periods))
    return pl.concat(parts)


def example_bottlenecks() -> pl.DataFrame:
    """Bottleneck procedures of the worked example, months and weeks (as tests/test_insights.py builds them)."""
    from transforms.insights import bottlenecks

    dossiers = read_example_dossiers().with_columns(
        procedure_code=pl.when(pl.col("dossier_id") == "WX-005").then(pl.lit("2.000001")).otherwise("procedure_code")
    )
    return by_period_type(lambda units, cal, ptype, periods: bottlenecks(dossiers, units, cal, ptype, periods))


def example_evidence() -> pl.DataFrame:
    """The dossiers behind the worked example's late counts, months and weeks."""
    from transforms.evidence import evidence

    dossiers = read_example_dossiers()
    return by_period_type(lambda units, cal, ptype, periods: evidence(dossiers, units, cal, ptype, periods))


def example_quality() -> pl.DataFrame:
    """Check outcomes as the pipeline hands them over: February held back by a failed blocking check."""
    return pl.DataFrame(
        {
            "period_type": ["month", "month", "month", "week"],
            "period_key": ["2024-02", "2024-02", "2024-01", "2024-W09"],
            "check": ["rates_in_range", "received_not_collapsed", "rates_in_range", "rates_in_range"],
            "success": [True, False, True, True],
            "unexpected_count": [0, 3, 0, 0],
            "description_vi": ["Tỷ lệ trong khoảng 0–1", "Số hồ sơ tiếp nhận giảm quá 50 % so với kỳ trước",
                               "Tỷ lệ trong khoảng 0–1", "Tỷ lệ trong khoảng 0–1"],
            "description_en": ["Rates within 0–1", "Received fell by more than 50 % from the previous period",
                               "Rates within 0–1", "Rates within 0–1"],
            "blocked": [False, True, False, False],
        }
    )


def example_warnings() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_type": ["month", "week"],
            "period_key": ["2024-02", "2024-W09"],
            "unit_code": ["001", "00001"],
            "unit_valid_from": [dt.date(2008, 8, 1)] * 2,
            "unit_name": ["Quận Ba Đình", "Phường Phúc Xá"],
            "level": ["district", "commune"],
            "indicator": ["on_time_rate", "received"],
            "value": [0.25, 0.0],
            "baseline": [0.7272727272727273, 2.0],
            "z": [-3.14, -2.4],
            "kind": ["drop", "silent"],
            "message_vi": ["Tỷ lệ đúng hạn giảm mạnh", "Không tiếp nhận hồ sơ nào"],
            "message_en": ["On-time rate fell sharply", "No dossier received"],
        }
    )


def example_inputs(scoreboard: pl.DataFrame) -> dict:
    """Every keyword build_site takes, from the worked example."""
    from transforms.insights import weak_points, what_if

    profile = DEFAULT_PROFILE
    ingestion, quarantine = ingestion_frames()
    return {
        "manifest": MANIFEST,
        "ingestion": ingestion,
        "quarantine_summary": quarantine,
        "weak_points": weak_points(scoreboard, profile),
        "bottlenecks": example_bottlenecks(),
        "what_if": what_if(scoreboard, profile),
        "evidence": example_evidence(),
        "quality": example_quality(),
        "warnings": example_warnings(),
        "profile": profile,
        # the shipped registry's, from config/provinces.yaml
        "authority": ScoreboardSettings().report_authority(),
    }


@pytest.fixture(scope="module")
def inputs(scoreboard) -> dict:
    return example_inputs(scoreboard)


@pytest.fixture(scope="module")
def site(scoreboard, inputs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    index = build_site(root, scoreboard, **inputs)
    assert index == root / "index.html"
    return root


def pages(site: Path) -> list[Path]:
    return (
        sorted(site.glob("*.html"))
        + sorted((site / "periods").glob("*.html"))
        + sorted((site / "units").glob("*.html"))
    )


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- format / i18n


def test_number_formats():
    assert fmt_pct(0.892) == "89,2 %"
    assert fmt_pct(1.0) == "100,0 %"
    assert fmt_pct(0.0) == "0,0 %"
    assert fmt_pct(0.7272727272727273) == "72,7 %"
    assert fmt_pct(0.0005) == "0,1 %"  # half away from zero, on the decimal form
    assert fmt_pct(None) == "—"
    assert fmt_num(1234.5, 1) == "1.234,5"
    assert fmt_num(1234567.891, 2) == "1.234.567,89"
    assert fmt_num(-1234.5, 1) == "-1.234,5"
    assert fmt_num(-0.01, 1) == "0,0"
    assert fmt_num(999, 0) == "999"
    assert fmt_int(29828) == "29.828"
    assert fmt_score(89.99999999999999) == "90,00"  # as ranked: rounded to 2 decimals
    assert fmt_score(74.52146464646465) == "74,52"
    assert fmt_num(float("nan"), 1) == "—"


def _reference_num(x, digits: int) -> str:
    """The formatting rule spelled out with Decimal: half away from zero on repr(x)."""
    from decimal import ROUND_HALF_UP, Decimal

    d = x if isinstance(x, Decimal) else Decimal(repr(x))
    q = d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if q.is_zero():
        q = q.copy_abs()
    sign = "-" if q < 0 else ""
    whole, _, frac = f"{q.copy_abs():f}".partition(".")
    whole = f"{int(whole):,}".replace(",", ".")
    return sign + whole + ("," + frac.ljust(digits, "0")[:digits] if digits else "")


def test_fast_number_formatting_matches_the_decimal_rule():
    from decimal import Decimal

    from hypothesis import given, settings
    from hypothesis import strategies as st

    ties = [0.125, 2.675, 1.005, 0.0005, -0.125, 89.99999999999999, 74.52146464646465, 1e-07, 123456789.125, -0.004]

    @settings(max_examples=3000, deadline=None)
    @given(st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
                     st.sampled_from(ties), st.integers(-10**12, 10**12)),
           st.integers(0, 3))
    def check(x, digits):
        assert fmt_num(x, digits) == _reference_num(x, digits)
        if isinstance(x, float) and abs(x) < 1e9:
            assert fmt_pct(x, digits) == _reference_num(Decimal(repr(x)) * 100, digits) + " %"

    check()


def test_dates_and_periods():
    assert fmt_date(dt.date(2024, 2, 1)) == "01/02/2024"
    assert fmt_date(dt.datetime(2024, 12, 31, 23, 59)) == "31/12/2024"
    assert fmt_date("2024-02-12") == "12/02/2024"
    assert period_label("month", "2024-02") == "Tháng 02/2024"
    assert period_label("month", "2024-02", "en") == "February 2024"
    assert period_label("week", "2024-W07") == "Tuần 07/2024 (12/02–18/02/2024)"
    assert period_label("week", "2024-W07", "en") == "Week 07/2024 (12/02–18/02/2024)"
    assert period_label("week", "2020-W01") == "Tuần 01/2020 (30/12/2019–05/01/2020)"
    # inside a sentence: the word in lower case; an English month is a name and keeps its capital
    assert period_label("month", "2024-02", mid=True) == "tháng 02/2024"
    assert period_label("month", "2024-02", "en", mid=True) == "February 2024"
    assert period_label("week", "2024-W07", "en", mid=True) == "week 07/2024 (12/02–18/02/2024)"
    with pytest.raises(ValueError):
        period_label("week", "2024-07")


def test_rank_change_and_search_folding():
    assert fmt_rank_change(3) == "▲3"
    assert fmt_rank_change(-1) == "▼1"
    assert fmt_rank_change(0) == "="
    assert fmt_rank_change(None) == ""
    assert strip_diacritics("Phú Xuyên") == "phu xuyen"
    assert strip_diacritics("Đông Anh") == "dong anh"


def test_labels_cover_every_column_band_group_level():
    from dashboards.groups import profile_groups

    # every published column but the groups' points and maxima, whose labels are the profile's
    assert set(i18n.COLUMNS) == {c for c in SCOREBOARD_COLUMNS if not c.startswith(("points_", "max_points_"))}
    # the bands are the profile's, with the colours of their positions
    assert i18n.site_bands(DEFAULT_PROFILE) == (
        ("Xuất sắc", "Excellent", "xs", "#1b7a3a"), ("Tốt", "Good", "tot", "#5aa832"),
        ("Khá", "Fair", "kha", "#d4a90f"), ("Trung bình", "Average", "tb", "#e36d12"),
        ("Yếu", "Weak", "yeu", "#c4262e"),
    )
    assert not hasattr(i18n, "BANDS") and not hasattr(i18n, "BAND_BY_VI")  # no copy of the profile's bands
    groups = profile_groups(DEFAULT_PROFILE)
    assert [(g.column, tuple(g.label), g.full_max) for g in groups] == [
        ("points_transparency", ("Công khai, minh bạch", "Transparency"), 18),
        ("points_timeliness", ("Tiến độ giải quyết", "Timeliness"), 20),
        ("points_online", ("Dịch vụ công trực tuyến", "Online service"), 12),
        ("points_payment", ("Thanh toán trực tuyến", "Online payment"), 10),
        ("points_digitization", ("Số hóa hồ sơ", "Digitisation"), 22),
        ("points_satisfaction", ("Mức độ hài lòng", "Satisfaction"), 18),
    ]
    assert not hasattr(i18n, "GROUPS") and not hasattr(i18n, "GROUP_MAX_POINTS")  # no copy of the profile
    # the levels after the 2025 reform: wards and communes, and the city's departments
    assert {k: tuple(v) for k, v in i18n.LEVELS.items()} == {
        "district": ("Cấp huyện", "Districts"), "commune": ("Cấp xã", "Wards and communes"),
        "department": ("Sở, ban, ngành", "Departments"),
    }
    assert i18n.band_text("Khá", i18n.site_bands(DEFAULT_PROFILE)) == ("Khá", "Fair")
    assert i18n.rate_labels(DEFAULT_PROFILE)["on_time_rate"] == i18n.COLUMNS["on_time_rate"] == (
        "Tỷ lệ đúng hạn", "On-time rate")
    assert set(i18n.QUARANTINE_REASONS) >= {"missing_id", "bad_date", "unknown_unit", "chronology"}


def test_bundle_matches_altair_schema():
    import altair as alt

    assert alt.SCHEMA_VERSION.lstrip("v").startswith(vega_lite_version() + ".")


# --------------------------------------------------------------------------- the site


def test_files_written(site):
    assert (site / "index.html").is_file()
    assert (site / "ingestion.html").is_file()
    assert sorted(p.stem for p in (site / "periods").glob("*.html")) == sorted(PERIOD_KEYS)
    assert sorted(p.name for p in (site / "assets").iterdir()) == [
        "charts.js", "site.css", "site.js", "vega-bundle.js", "xlsx.js"]
    assert sorted(p.name for p in site.glob("*.html")) == [
        "city.html", "index.html", "ingestion.html", "methodology.html", "quality.html", "report-2024-01.html",
        "report-2024-02.html", "report.html",
    ]
    # the menu's report link never changes: report.html is the headline month's report
    # (January: February received one dossier and ranked nobody)
    assert (site / "report.html").read_bytes() == (site / "report-2024-01.html").read_bytes()
    assert 'href="../report.html"' in read(site / "periods" / "2024-W01.html")
    assert sorted(p.name for p in (site / "units").iterdir()) == sorted(
        ["001-2008-08-01.html", "00001-2008-08-01.html", "00004-2008-08-01.html", "002-2008-08-01.html"]
    )
    for table in ("weak_points", "bottlenecks", "what_if"):  # every period, even one without rows
        # the CSV, and what site.js makes the workbook from (tests/test_browser.py)
        assert sorted(p.name for p in (site / "data").glob(f"{table}-*")) == sorted(
            f"{table}-{k}.{s}" for k in PERIOD_KEYS for s in ("csv", "js")
        )
    assert sorted(p.name for p in (site / "charts").iterdir()) == [
        "bands-2024-01.png", "bands-2024-01.svg", "heatmap-commune-2024-01.png", "heatmap-commune-2024-01.svg",
        "heatmap-district-2024-01.png", "heatmap-district-2024-01.svg", "trend.png", "trend.svg",
    ]
    assert len(list((site / "data").glob("scoreboard-*.csv"))) == 11
    assert json.loads(read(site / "data" / "manifest.json")) == MANIFEST
    bundle = read(site / "assets" / "vega-bundle.js")
    assert "window.vegaEmbed=" in bundle
    assert (site / "assets" / "site.css").read_text(encoding="utf-8") == SITE_CSS


class Refs(HTMLParser):
    """Every src/href of a page, its tags, and the text of its inline scripts."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        for name in ("src", "href", "action", "data", "poster"):
            if a.get(name) is not None:
                self.refs.append((tag, name, a[name]))
        self._in_script = tag == "script" and "src" not in a

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts.append(data)


def parse(path: Path) -> Refs:
    p = Refs()
    p.feed(read(path))
    return p


def test_no_network_reference_anywhere(site):
    for page in pages(site):
        text = read(page)
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), page.name
        assert "<script src=\"http" not in text and "@import" not in text
        for tag, attr, ref in parse(page).refs:
            if ref.startswith("#") or ref == "data:,":
                continue
            assert ":" not in ref.split("/")[0], (page.name, ref)  # relative, no scheme
            target = (page.parent / ref.split("#")[0]).resolve()
            assert target.is_file(), (page.name, tag, ref)  # every link works from file://
            assert site.resolve() in target.parents
    for asset in ("site.css", "site.js", "charts.js", "xlsx.js"):
        text = read(site / "assets" / asset)
        assert not re.search(r"https?:|url\(|@import|fetch\(|XMLHttpRequest|import\(", text), asset
    # the Vega bundle may carry URL strings, but the page never loads one
    for page in pages(site):
        for tag, a in parse(page).tags:
            if tag == "script" and "src" in a:
                assert a["src"].endswith(("assets/site.js", "assets/vega-bundle.js", "assets/charts.js"))
            if tag == "link":
                assert a["href"] in ("data:,", "assets/site.css", "../assets/site.css")


def test_page_structure(site):
    for page in pages(site):
        text = read(page)
        assert text.startswith("<!doctype html>\n<html lang=\"vi\">")
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
        assert "Content-Security-Policy" in text and "connect-src &#39;none&#39;" in text
        p = parse(page)
        ths = [a for t, a in p.tags if t == "th"]
        assert ths and all(a.get("scope") in ("col", "row") for a in ths)
        assert any(a.get("scope") == "col" for a in ths)
        assert ("button", {"type": "button", "data-lang": "en", "lang": "en", "aria-pressed": "false"}) in p.tags
    assert "vega-bundle.js" in read(site / "index.html")
    assert "vega-bundle.js" not in read(site / "periods" / "2024-01.html")  # pages stay light


def test_overview_content(site):
    html = read(site / "index.html")
    # the headline month and week (the latest complete enough to rank), every level, Vietnamese labels;
    # February and weeks 3–9 received almost nothing and rank nobody: listed below, never the headline
    assert "Tháng gần nhất đủ số liệu để xếp hạng" in html
    assert "Cấp huyện · Tháng 01/2024" in html and "Cấp xã · Tuần 02/2024 (08/01–14/01/2024)" in html
    assert "Cấp huyện · Tháng 02/2024" not in html and "Tuần 09/2024 (26/02–03/03/2024)" in html
    for label in ("Hạng", "Đơn vị", "Điểm", "Xếp loại", "Thay đổi hạng", "Tiến độ giải quyết",
                  "Số hóa hồ sơ", "Tiếp nhận", "Trễ hạn", "Quá hạn đang xử lý"):
        assert f">{label}</span>" in html, label
    # January: Ba Đình scored 74.52 (Khá), ranked second of the districts
    assert re.search(r"<td>2</td><th scope=\"row\" class=\"unit\"><a href=\"units/001-2008-08-01.html\">Quận Ba Đình</a> "
                     r"<span class=\"code\">001</span></th><td class=\"t\">.*?</td><td>74,52</td>"
                     r"<td class=\"t\" data-v=\"2\"><span class=\"band band-kha\"><span data-en=\"Fair\">Khá</span>", html)
    # every period page and data file is linked
    for key in PERIOD_KEYS:
        assert f'href="periods/{key}.html"' in html
        for suffix in ("csv", "xlsx", "parquet"):
            assert f'href="data/scoreboard-{key}.{suffix}"' in html
    assert 'href="data/manifest.json"' in html
    assert "01/02/2024" in html  # dates dd/mm/yyyy
    assert "2024-03-01" not in html and "07:30" not in html  # no run time in pages


def test_with_no_alert_the_menu_links_the_alerts_index_which_says_there_are_none(site):
    """The example has no alert digest: its alerts/index.html (always written) says so, and
    the menu links it, as it does when there are digests: a reader finds the alerts where
    they always are."""
    index = read(site / "alerts" / "index.html")
    assert ('<p class="note"><span data-en="No unit to warn about in any closed week or month yet.">'
            "Chưa có đơn vị nào cần cảnh báo trong các tuần và tháng đã khép lại.</span></p>") in index
    assert sorted(p.name for p in (site / "alerts").iterdir()) == ["index.html"]
    menu = read(site / "index.html").split("</nav>")[0]
    assert '<a href="alerts/index.html"><span data-en="Alerts">Cảnh báo</span></a>' in menu
    assert '<a href="../alerts/index.html">' in read(site / "periods" / "2024-01.html").split("</nav>")[0]
    warnings = read(site / "city.html").split('<section id="warnings"')[1].split("</section>")[0]
    assert '<a href="alerts/index.html">' in warnings


def test_period_page_numbers_and_downloads(site):
    html = read(site / "periods" / "2024-01.html")
    assert "<h2 id=\"p-2024-01\"><span data-en=\"January 2024\">Tháng 01/2024</span></h2>" in html
    for suffix in ("csv", "xlsx", "parquet"):
        assert f'href="../data/scoreboard-2024-01.{suffix}"' in html
    assert 'href="2024-02.html" rel="next"' in html
    # Sóc Sơn: 89.99999999999999 -> 90,00, Xuất sắc, rank 1; rates as percentages with a comma
    row = re.search(
        r"<tr id=\"u-002-2008-08-01\" data-peer=\"rural\"><td>1</td><td>1</td><th scope=\"row\" class=\"unit\">"
        r"<a href=\"../units/002-2008-08-01.html\">Huyện Sóc Sơn</a>.*?</tr>",
        html,
    )
    assert row, "Sóc Sơn ranked first"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
    assert "90,00" in cells
    assert '<span class="band band-xs"><span data-en="Excellent">Xuất sắc</span></span>' in row.group(0)
    assert "85,7 %" in cells  # on_time_rate 0.857...
    assert "76,2 %" in cells  # online_rate 0.7619...
    assert "4,5" in cells  # avg_working_days 4.476...
    assert "17,1" in cells  # points_timeliness 17.142...
    assert not re.search(r"\d\.\d", re.sub(r"<[^>]+>", " ", html).replace("766/QĐ-TTg", ""))  # no decimal point shown
    # W02: Sóc Sơn kept first: rank change shown as "=", unranked commune gets the marker
    w02 = read(site / "periods" / "2024-W02.html")
    assert '<span class="chg same" title="Giữ nguyên" data-en-title="Unchanged">=</span>' in w02
    assert '<td title="Chưa xếp hạng" data-en-title="Not ranked">—</td>' in w02


def test_rank_movement_and_provisional(scoreboard, tmp_path):
    frame = scoreboard.with_columns(
        rank_change=pl.when(pl.col("period_key") == "2024-W02")
        .then(pl.when(pl.col("unit_code") == "002").then(2).otherwise(-1))
        .otherwise("rank_change"),
        provisional=pl.col("period_key").is_in(["2024-W09", "2024-02"]),
    )
    build_site(tmp_path, frame, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    w02 = read(tmp_path / "periods" / "2024-W02.html")
    assert '<span class="chg up" title="Tăng 2 bậc" data-en-title="Up 2">▲2</span>' in w02
    assert '<span class="chg down" title="Giảm 1 bậc" data-en-title="Down 1">▼1</span>' in w02
    w09 = read(tmp_path / "periods" / "2024-W09.html")
    assert '<span class="badge"><span data-en="Provisional">Tạm tính</span></span>' in w09
    assert "Tạm tính" not in read(tmp_path / "periods" / "2024-W08.html")
    assert read(tmp_path / "index.html").count('<span class="badge">') == 4  # 2 sections + 2 navigator rows
    assert not (tmp_path / "ingestion.html").exists()
    assert 'href="ingestion.html"' not in read(tmp_path / "index.html")


def test_unit_names_are_escaped(scoreboard, tmp_path):
    frame = scoreboard.with_columns(
        unit_name=pl.when(pl.col("unit_code") == "001").then(pl.lit(XSS)).otherwise("unit_name"),
        peer_group=pl.when(pl.col("unit_code") == "002").then(pl.lit('"><img src=x onerror=alert(2)>')).otherwise("peer_group"),
    )
    build_site(tmp_path, frame, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    for page in pages(tmp_path):
        text = read(page)
        assert XSS not in text and "<img" not in text, page.name
        assert "onerror=alert(2)>" not in text
    index = read(tmp_path / "index.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    # inside the chart data (district names) it is a JSON escape, so the script element cannot end early
    p = parse(tmp_path / "index.html")
    (chart_json,) = p.inline_scripts
    assert "</" not in chart_json
    data = json.loads(chart_json)
    assert any(r["unit"].startswith(XSS) for r in data["datasets"]["trend"])


def test_a_chart_that_cannot_be_drawn_fails_the_build(scoreboard, inputs, tmp_path, monkeypatch):
    """Drawn on another thread (or process), a chart's error is the build's, as it was
    when charts were drawn in line: no site published without its images."""
    import dashboards.pages.images as images

    def broken(*args, **kwargs):
        raise RuntimeError("vl-convert could not draw it")

    monkeypatch.setattr(images, "chart_files", broken)
    with pytest.raises(RuntimeError, match="could not draw"):
        build_site(tmp_path, scoreboard, **inputs)
    assert not (tmp_path / "charts").exists() or not any((tmp_path / "charts").iterdir())


def test_chart_specs_render(site):
    import vl_convert as vlc

    p = parse(site / "index.html")
    (chart_json,) = p.inline_scripts
    assert "http" not in chart_json  # no $schema, no data URL
    data = json.loads(chart_json)
    assert [c["id"] for c in data["charts"]] == ["chart-bands", "chart-trend"]
    assert data["formatLocale"]["decimal"] == ","
    # January: Sóc Sơn 90,00, Phúc Xá 86,67, Ba Đình 74,52 and Bắc Sơn 76,77
    assert {(r["level_vi"], r["band_vi"], r["units"]) for r in data["datasets"]["bands"]} == {
        ("Cấp huyện", "Xuất sắc", 1), ("Cấp huyện", "Khá", 1), ("Cấp xã", "Tốt", 1), ("Cấp xã", "Khá", 1),
    }
    # the trend follows the level with the fewest ranked units (districts first on a tie), up to the headline
    assert {(r["unit"], r["month"], r["score"]) for r in data["datasets"]["trend"]} == {
        ("Quận Ba Đình (001)", "2024-01-01", 74.52),
        ("Huyện Sóc Sơn (002)", "2024-01-01", 90.0),
    }
    html = read(site / "index.html")
    for chart in data["charts"]:
        assert f'id="{chart["id"]}"' in html
        for lang in ("vi", "en"):
            spec = dict(chart[lang], datasets=data["datasets"])  # what site.js hands to vegaEmbed
            svg = vlc.vegalite_to_svg(spec, vl_version=vega_lite_version(), format_locale=data["formatLocale"])
            assert svg.startswith("<svg")
            if chart["id"] == "chart-bands":
                assert ("Xuất sắc" if lang == "vi" else "Excellent") in svg


def test_a_chart_is_described_in_the_page_s_language_without_vega_s_english_labels(site):
    """Vega-Lite's `description` is the aria-label Vega gives a chart; Vega's own labels of
    axes, legends and marks are English ("X-axis titled ...") and are hidden (config.aria)."""
    import vl_convert as vlc

    (chart_json,) = parse(site / "index.html").inline_scripts
    data = json.loads(chart_json)
    charts = {c["id"]: c for c in data["charts"]}
    assert charts["chart-bands"]["vi"]["description"] == "Phân bố xếp loại (đơn vị được xếp hạng)"
    assert charts["chart-bands"]["en"]["description"] == "Bands (ranked units)"  # the English switch's
    assert charts["chart-trend"]["vi"]["description"] == "Điểm theo tháng · Cấp huyện"
    (city_json,) = parse(site / "city.html").inline_scripts
    city = json.loads(city_json)["charts"]
    assert [c["vi"]["description"] for c in city] == [
        "Tỷ lệ điểm đạt theo nhóm chỉ số · Cấp huyện", "Tỷ lệ điểm đạt theo nhóm chỉ số · Cấp xã"]
    shared = read(site / "assets" / "charts.js").split("window.PAR_CHART_SPECS = ", 1)[1].rstrip(";\n")
    units = json.loads(shared)
    assert units["unit-score"]["vi"]["description"] == "Điểm theo kỳ"
    assert units["unit-rank"]["vi"]["description"] == "Hạng theo kỳ (trong cấp)"
    assert units["unit-rank"]["en"]["description"] == "Rank by period (within its level)"
    for pair in [*charts.values(), *city, *units.values()]:
        assert pair["vi"]["config"]["aria"] is False and pair["en"]["config"]["aria"] is False
    # what Vega draws has no label of its own left (they were "X-axis titled 'Số đơn vị' ...")
    spec = dict(charts["chart-bands"]["vi"], datasets=data["datasets"])
    svg = vlc.vegalite_to_svg(spec, vl_version=vega_lite_version(), format_locale=data["formatLocale"])
    assert "Xuất sắc" in svg and "aria-label" not in svg


def test_ingestion_page_shows_file_names_and_counts_only(site):
    html = read(site / "ingestion.html")
    assert (
        '<tr><td class="t">dossiers-2024-01.csv</td><td class="t">0123456789ab</td><td class="t">csv</td>'
        '<td class="t"><span data-en="Loaded">Đã nạp</span></td><td>38</td><td>36</td><td>2</td><td>1</td></tr>'
    ) in html
    assert '<span data-en="Rejected">Bị từ chối</span></td><td>—</td>' in html
    assert "boom" not in html and "Họ tên" not in html and "2024-03-01" not in html
    assert ">feb.xlsx<" in html
    assert "/srv/inbox" not in html and "exports" not in html and "private" not in html
    assert "Ngày giờ không hợp lệ" in html and "Đơn vị không có trong danh mục" in html


def test_deterministic_and_incremental(scoreboard, inputs, site, tmp_path):
    shuffled = {k: (v.reverse() if isinstance(v, pl.DataFrame) else v) for k, v in inputs.items()}
    build_site(tmp_path, scoreboard.reverse(), **shuffled)

    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert snapshot(tmp_path) == snapshot(site)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    build_site(tmp_path, scoreboard, **inputs)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes  # nothing rewritten


def test_periods_no_longer_published_are_removed(scoreboard, tmp_path):
    build_site(tmp_path, scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    assert (tmp_path / "periods" / "2024-W09.html").exists()
    (tmp_path / "notes.txt").write_text("kept")
    build_site(tmp_path, scoreboard.filter(pl.col("period_key") != "2024-W09"), profile=DEFAULT_PROFILE, manifest=MANIFEST)
    assert not (tmp_path / "periods" / "2024-W09.html").exists()
    assert not list((tmp_path / "data").glob("scoreboard-2024-W09.*"))
    assert (tmp_path / "periods" / "2024-W08.html").exists()
    assert (tmp_path / "notes.txt").read_text() == "kept"
    assert "Tuần 08/2024" in read(tmp_path / "index.html") and "2024-W09" not in read(tmp_path / "index.html")


def test_empty_frame_still_builds(tmp_path):
    empty = pl.DataFrame(schema=SCOREBOARD_COLUMNS)
    index = build_site(tmp_path, empty, profile=DEFAULT_PROFILE, manifest={})
    html = read(index)
    assert html.startswith("<!doctype html>")
    assert "vega-bundle.js" not in html
    assert list((tmp_path / "periods").glob("*.html")) == []


# --------------------------------------------------------------------------- site.js (needs node)


def _node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


@pytest.mark.skipif(_node() is None, reason="node is not installed")
def test_site_js_parses_and_folds(tmp_path):
    js = tmp_path / "site.js"
    js.write_text(SITE_JS, encoding="utf-8")
    subprocess.run([_node(), "--check", str(js)], check=True)
    fold = re.search(r"function fold\(s\) \{.*?\n  \}", SITE_JS, re.S).group(0)
    key = re.search(r"function cellKey\(cell, kind\) \{.*?\n  \}", SITE_JS, re.S).group(0)
    probe = tmp_path / "probe.js"
    probe.write_text(
        fold + "\n" + key + "\n"
        + "function cell(text, v) { return { textContent: text, getAttribute: function (n) { return n === 'data-v' && v !== undefined ? v : null; } }; }\n"
        + "console.log(JSON.stringify({\n"
        + "  folded: [fold('Phú Xuyên'), fold('  ĐÔNG   Anh '), fold('Huyện Sóc Sơn 002')],\n"
        + "  hit: fold('Huyện Phú Xuyên').indexOf(fold('phu xuyen')) !== -1,\n"
        + "  keys: [cellKey(cell('1.234,5'), 'num'), cellKey(cell('89,2 %'), 'num'), cellKey(cell('▲2'), 'num'),\n"
        + "         cellKey(cell('▼1'), 'num'), cellKey(cell('='), 'num'), cellKey(cell('—'), 'num'),\n"
        + "         cellKey(cell('Trung bình', '3'), 'num'), cellKey(cell(''), 'num'), cellKey(cell('Xã A'), 'text')]\n"
        + "}));\n",
        encoding="utf-8",
    )
    out = json.loads(subprocess.run([_node(), str(probe)], check=True, capture_output=True, text=True).stdout)
    assert out["folded"] == ["phu xuyen", "dong anh", "huyen soc son 002"]
    assert out["hit"] is True
    assert out["keys"] == [1234.5, 89.2, 2, -1, 0, None, 3, None, "Xã A"]


def test_vega_bundle_reused_when_current(site, scoreboard, tmp_path, monkeypatch):
    import dashboards.vega as vega

    shutil.copytree(site, tmp_path / "s")
    bundle = tmp_path / "s" / "assets" / "vega-bundle.js"
    original = bundle.read_bytes()
    assert original.startswith(b"/* vl-convert ") and b", Vega-Lite " + vega_lite_version().encode() in original[:100]
    assert original == vega.VENDORED_BUNDLE.read_bytes()

    def refuse(*_a, **_k):
        raise AssertionError("bundle rebuilt")

    monkeypatch.setattr(vega, "vega_bundle", refuse)
    build_site(tmp_path / "s", scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST)  # current bundle: not asked for again
    assert bundle.read_bytes() == original
    bundle.unlink()  # gone: copied again from the vendored one, still without vl-convert
    build_site(tmp_path / "s", scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    assert bundle.read_bytes() == original


def test_the_vendored_bundle_is_the_one_the_installed_versions_want():
    """Fails after an upgrade of vl-convert or Altair until scripts/vendor_vega.py is run."""
    from dashboards.vega import VENDORED_BUNDLE, bundle_tag, valid_bundle

    assert valid_bundle(VENDORED_BUNDLE, bundle_tag()) is not None


def test_a_release_is_seeded_with_links_to_the_visible_files_and_the_build_state(tmp_path):
    from dashboards.cache import STATE_FILE
    from dashboards.site import seed_site

    previous, release = tmp_path / "r1", tmp_path / "r2"
    for rel in ("index.html", "units/a.html", "data/evidence/2024-01/a.js", STATE_FILE, ".par-build.dirty",
                "units/.a.html.123.tmp", ".hidden/x.html", f"units/{STATE_FILE}"):
        (previous / rel).parent.mkdir(parents=True, exist_ok=True)
        (previous / rel).write_text(rel)
    (previous / "link.html").symlink_to(previous / "index.html")
    (release / "units").mkdir(parents=True)
    (release / "units" / "a.html").write_text("made already")

    assert seed_site(previous, release) == 3
    assert sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()) == [
        STATE_FILE, "data/evidence/2024-01/a.js", "index.html", "units/a.html"]
    assert (release / "index.html").stat().st_ino == (previous / "index.html").stat().st_ino
    assert (release / "units" / "a.html").read_text() == "made already"
    assert seed_site(tmp_path / "none", tmp_path / "r3") == 0


def test_seeded_release_reuses_files_and_leaves_the_previous_alone(scoreboard, site, tmp_path, monkeypatch):
    import dashboards.vega as vega
    from dashboards.site import seed_site

    previous = tmp_path / "r1"
    shutil.copytree(site, previous)
    before = {p.relative_to(previous): p.read_bytes() for p in previous.rglob("*") if p.is_file()}
    changed = scoreboard.with_columns(
        unit_name=pl.when(pl.col("unit_code") == "002").then(pl.lit("Huyện Sóc Sơn mới")).otherwise("unit_name")
    ).filter(pl.col("period_key") != "2024-W01")

    monkeypatch.setattr(vega, "vega_bundle", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    release = tmp_path / "r2"
    assert seed_site(previous, release) == len(before)
    build_site(release, changed, profile=DEFAULT_PROFILE, manifest=MANIFEST)

    # the previous release is untouched, byte for byte
    assert {p.relative_to(previous): p.read_bytes() for p in previous.rglob("*") if p.is_file()} == before
    # unchanged files are still shared, changed ones are new
    bundle = "assets/vega-bundle.js"
    assert (release / bundle).stat().st_ino == (previous / bundle).stat().st_ino
    assert "Huyện Sóc Sơn mới" in read(release / "periods" / "2024-01.html")
    assert not (release / "periods" / "2024-W01.html").exists()
    assert not (release / "ingestion.html").exists()
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    build_site(fresh, changed, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    snap = lambda root: {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}  # noqa: E731
    assert snap(release) == snap(fresh)


# --------------------------------------------------------------------------- insight tables, unit pages


BOM = b"\xef\xbb\xbf"


def test_insight_tables_published_beside_the_scoreboard(site, inputs):
    import base64
    import gzip

    from polars.testing import assert_frame_equal

    import io
    import zipfile

    from dashboards.data_files import TABLES, prepare_table, xlsx_bytes

    for table in ("weak_points", "bottlenecks", "what_if"):
        schema = TABLES[table].schema
        for key in PERIOD_KEYS:
            raw = (site / "data" / f"{table}-{key}.csv").read_bytes()
            assert raw.startswith(BOM)
            assert raw[len(BOM):].split(b"\n", 1)[0].decode().split(",") == list(schema)
            back = pl.read_csv(site / "data" / f"{table}-{key}.csv", schema_overrides=schema)
            expected = prepare_table(inputs[table], table).filter(pl.col("period_key") == key)
            assert_frame_equal(back, expected, check_exact=True)
            # the workbook's recipe: the same CSV, and the parts of the workbook without rows
            text = (site / "data" / f"{table}-{key}.js").read_text(encoding="utf-8")
            assert text.split("\n")[1].startswith("window.parWorkbook({") and text.endswith("});\n")
            recipe = json.loads(text.split("\n")[1].removeprefix("window.parWorkbook(").removesuffix(");"))
            assert gzip.decompress(base64.b64decode(recipe["csv"])) == raw
            assert '<dimension ref="A1:' in recipe["parts"][recipe["sheet"]] and len(recipe["columns"]) == len(schema)
            # made once per table with a stand-in for the key: the parts of this period's own empty workbook
            with zipfile.ZipFile(io.BytesIO(xlsx_bytes(expected.clear(), key, TABLES[table]))) as zf:
                assert recipe["parts"] == {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
    # e.g. Ba Đình's January weak points, most points lost first
    jan = pl.read_csv(site / "data" / "weak_points-2024-01.csv", schema_overrides=TABLES["weak_points"].schema)
    assert jan.filter(pl.col("unit_code") == "001")["indicator"].to_list()[:2] == ["satisfaction_rate", "on_time_rate"]
    assert pl.read_csv(site / "data" / "bottlenecks-2024-W01.csv").height == 0  # header only: no late dossier


def test_insight_files_removed_when_no_longer_given(scoreboard, inputs, tmp_path):
    build_site(tmp_path, scoreboard, **inputs)
    assert list((tmp_path / "data").glob("what_if-*"))
    build_site(tmp_path, scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    assert sorted({p.name.split("-")[0] for p in (tmp_path / "data").iterdir()}) == ["manifest.json", "scoreboard"]
    assert "what_if-2024-02" not in read(tmp_path / "periods" / "2024-02.html")


def test_unit_pages_linked_from_every_ranking(site):
    for page, prefix in (("index.html", ""), ("periods/2024-01.html", "../"), ("report-2024-01.html", "")):
        html = read(site / page)
        for slug, name in (("001-2008-08-01", "Quận Ba Đình"), ("00001-2008-08-01", "Phường Phúc Xá")):
            assert f'<a href="{prefix}units/{slug}.html">{name}</a>' in html, page
    # and each unit page links back to its row in every period's table, which carries that id
    html = read(site / "units" / "001-2008-08-01.html")
    for key in PERIOD_KEYS:
        assert f'href="../periods/{key}.html#u-001-2008-08-01"' in html
        assert '<tr id="u-001-2008-08-01"' in read(site / "periods" / f"{key}.html")


def test_unit_page_latest_month(site):
    html = read(site / "units" / "001-2008-08-01.html")
    assert '<h2>Quận Ba Đình <span class="code">001</span></h2>' in html
    assert "Số liệu tháng gần nhất của đơn vị</span>: <span data-en=\"February 2024\">Tháng 02/2024</span>" in html
    assert "Số liệu mới của kỳ này đang bị giữ lại vì" in html  # February is held back
    assert "Đơn vị chưa được xếp hạng trong kỳ này." in html  # 1 received + 4 timeliness base < 10
    # groups: earned, applicable maximum (no payment, no digitisation in February), peer median, share
    assert re.search(r"Tiến độ giải quyết</span></th><td>10,0</td><td>20</td><td>—</td><td class=\"t\">"
                     r"<meter min=\"0\" max=\"1\" value=\"0.5\" aria-hidden=\"true\"></meter> 50,0 %</td>", html)
    assert re.search(r"Số hóa hồ sơ</span></th><td>—</td><td>—</td>", html)
    # bottleneck procedures of February, the counts, the downloads of that period
    assert re.search(r"<th scope=\"row\" class=\"t\">1.001776</th><td class=\"t\"></td><td>1</td><td>1</td><td>2</td><td>100,0 %</td>", html)
    assert re.search(r"Quá hạn đang xử lý</span></th><td>1</td>", html)
    for f in ("scoreboard-2024-02.csv", "scoreboard-2024-02.xlsx", "weak_points-2024-02.csv", "what_if-2024-02.csv"):
        assert f'href="../data/{f}"' in html
    # the workbook of a table that explains the ranking is made by site.js from its script
    assert ('<a href="../data/bottlenecks-2024-02.csv" download data-xlsx="../data/bottlenecks-2024-02.js" '
            'data-name="bottlenecks-2024-02.xlsx">') in html
    # the unit's early warning
    assert "Tỷ lệ đúng hạn giảm mạnh" in html and 'data-en="On-time rate fell sharply"' in html
    # history: score and rank over months and weeks, data inline, the specs shared by every unit page
    p = parse(site / "units" / "001-2008-08-01.html")
    (chart_json,) = p.inline_scripts
    data = json.loads(chart_json)
    assert [c for c in data["charts"]] == [{"id": "chart-unit-score", "spec": "unit-score"},
                                          {"id": "chart-unit-rank", "spec": "unit-rank"}]
    history = data["datasets"]["history"]
    assert len(history) == 11
    assert {"d": "2024-01-01", "t": "month", "s": 74.52, "r": 2} in history
    assert {"d": "2024-02-01", "t": "month", "s": 58.82, "r": None} in history  # listed, not ranked
    # which its chart leaves blank (tests/test_charts.py), as the page says
    assert f'<p class="note"><span data-en="{i18n.UI["chart_gaps"].en}">{i18n.UI["chart_gaps"].vi}</span></p>' in html
    assert 'src="../assets/charts.js"' in html and 'src="../assets/vega-bundle.js"' in html
    assert len(html.encode()) < 40_000


@pytest.fixture(scope="module")
def january_site(scoreboard, inputs, tmp_path_factory) -> Path:
    """The site as it was at the end of January: every unit ranked in its latest month."""
    root = tmp_path_factory.mktemp("january")
    build_site(root, scoreboard.filter(pl.col("period_key").is_in(["2024-01", "2024-W01", "2024-W02"])), **inputs)
    return root


def test_what_if_sentences(january_site):
    ba_dinh = read(january_site / "units" / "001-2008-08-01.html")
    # 2 of its 3 late dossiers on time would give 81.79 ≥ 80; all 3 give 85.43, not above Sóc Sơn's 90.00
    assert ('<li><span data-en="2 more dossiers on time would have lifted you to band Good.">'
            "2 hồ sơ nữa đúng hạn sẽ đưa đơn vị lên xếp loại Tốt.</span></li>") in ba_dinh
    assert ('<span data-en="Even all 3 late dossiers on time would not have lifted your score above that of the unit '
            'now ranked 1 (90,00).">Kể cả 3 hồ sơ trễ hạn, quá hạn đều đúng hạn cũng chưa đưa điểm của đơn vị vượt điểm '
            "của đơn vị đang xếp hạng 1 (90,00).</span>") in ba_dinh
    bac_son = read(january_site / "units" / "00004-2008-08-01.html")
    assert ('<span data-en="1 more dossier on time would have lifted you to band Good.">'
            "1 hồ sơ nữa đúng hạn sẽ đưa đơn vị lên xếp loại Tốt.</span>") in bac_son
    soc_son = read(january_site / "units" / "002-2008-08-01.html")
    assert "Đơn vị đang đứng đầu cấp." in soc_son and "Đơn vị đã ở xếp loại cao nhất." in soc_son
    phuc_xa = read(january_site / "units" / "00001-2008-08-01.html")
    assert "Đơn vị không có hồ sơ trễ hạn hay quá hạn trong kỳ." in phuc_xa


def test_what_if_sentence_passes_the_unit_above():
    from dashboards.pages.unit import what_if_sentences

    w = {"late_dossiers": 5, "target_rank": 3, "target_rank_score": 72.25, "dossiers_for_rank": 4, "target_band": "Khá",
         "dossiers_for_band": 1}
    rank, band = what_if_sentences(w, ranked=True, have_table=True, bands=i18n.site_bands(DEFAULT_PROFILE))
    assert rank == ("4 hồ sơ nữa đúng hạn sẽ đưa điểm của đơn vị vượt điểm của đơn vị đang xếp hạng 3 (72,25).",
                    "4 more dossiers on time would have lifted your score above that of the unit now ranked 3 (72,25).")
    assert band == ("1 hồ sơ nữa đúng hạn sẽ đưa đơn vị lên xếp loại Khá.",
                    "1 more dossier on time would have lifted you to band Fair.")
    assert what_if_sentences(None, ranked=True, have_table=False, bands=()) == []


def test_unit_page_weak_points_and_groups(january_site):
    html = read(january_site / "units" / "001-2008-08-01.html")
    assert '<dt><span data-en="Rank">Hạng</span></dt><dd><span data-en="2 of 2">2/2</span></dd>' in html
    # satisfaction: 52,7 %, 10,5 of 18, 7,5 lost; peer median 10,5 (itself); 6,6 behind Sóc Sơn, the leader
    assert re.search(
        r"Tỷ lệ hài lòng</span> <span class=\"code\"><span data-en=\"Satisfaction\">Mức độ hài lòng</span></span></th>"
        r"<td>52,7 %</td><td>10,5</td><td>18</td><td>7,5</td><td>10,5</td><td>0,0</td><td>17,1</td><td>\+6,6</td>",
        html,
    )
    assert re.search(r"Tỷ lệ số hóa hồ sơ</span>.*?<td>5,7</td><td>-5,0</td></tr>", html)  # ahead of the leader
    assert re.search(r"Mức độ hài lòng</span></th><td>10,5</td><td>18</td><td>10,5</td>", html)


def test_peer_group_filter(site):
    html = read(site / "index.html")
    assert '<select id="peer-filter">' in html
    assert '<option value="urban" data-en="Urban">Đô thị</option>' in html
    assert '<option value="rural" data-en="Rural">Nông thôn</option>' in html
    assert html.count('data-peer="urban"') == 4 and html.count('data-peer="rural"') == 4  # 2 units × 2 periods each
    assert '<select id="peer-filter">' in read(site / "periods" / "2024-W03.html")


def test_city_page(site):
    import vl_convert as vlc

    html = read(site / "city.html")
    (chart_json,) = parse(site / "city.html").inline_scripts
    data = json.loads(chart_json)
    assert [c["id"] for c in data["charts"]] == ["chart-heatmap-district", "chart-heatmap-commune"]  # January
    # January, Ba Đình: transparency 16,875/18, timeliness 14,55/20, online 8/12, payment 5/10,
    # digitisation 19,56/22, satisfaction 10,55/18 (shares rounded to 4 places)
    assert {(r["g"], r["s"]) for r in data["datasets"]["heat_district"] if r["u"] == "Quận Ba Đình (001)"} == {
        (0, 0.9375), (1, 0.7273), (2, 0.6667), (3, 0.5), (4, 0.8889), (5, 0.5859),
    }
    # Phúc Xá: payment not applicable (no cell), online 0 of 12
    assert {(r["g"], r["s"]) for r in data["datasets"]["heat_commune"] if r["u"] == "Phường Phúc Xá (00001)"} == {
        (0, 1.0), (1, 1.0), (2, 0.0), (4, 1.0), (5, 1.0),
    }
    chart = data["charts"][0]
    for lang, word in (("vi", "Tiến độ giải quyết"), ("en", "Timeliness")):
        svg = vlc.vegalite_to_svg(dict(chart[lang], datasets=data["datasets"]), vl_version=vega_lite_version())
        assert word in svg and ">94<" in svg  # the share is written in the cell, not only coloured
    # units that changed band against the previous period of the same kind, ranked in both: week 2
    # against week 1 (January is the first month); Ba Đình and Bắc Sơn went from Khá to Trung bình,
    # but on 5 and 6 dossiers in week 1, unranked (tests/test_reform_listing.py shows a crossing)
    assert "So với kỳ cùng loại liền trước: tuần 01/2024 (01/01–07/01/2024)." in html
    crossings = html.split('id="crossings"')[1].split('id="warnings"')[0]
    assert "Quận Ba Đình</a>" not in crossings and "Xã Bắc Sơn</a>" not in crossings
    assert "Huyện Sóc Sơn</a>" not in crossings
    # early warnings: of the headline month and week (none), and of every later period that has some
    warn = html[html.index('id="warnings"'):]
    assert warn.index("Tháng 02/2024") < warn.index("Tháng 01/2024</span>: <span data-en=\"None\">Không có")
    assert "Tỷ lệ đúng hạn giảm mạnh" in warn and "<td>25,0 %</td><td>72,7 %</td><td>-3,1</td>" in warn
    assert "Không tiếp nhận hồ sơ nào" in warn and "<td>0</td><td>2</td><td>-2,4</td>" in warn
    # the heatmaps as images, linked
    assert 'href="charts/heatmap-district-2024-01.png" download' in html
    svg = (site / "charts" / "heatmap-district-2024-01.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "Quận Ba Đình (001)" in svg


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        (crc,) = struct.unpack(">I", data[i + 8 + n:i + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        i += 12 + n
    return chunks


def test_overview_chart_images(site, scoreboard, inputs, tmp_path, monkeypatch):
    html = read(site / "index.html")
    for name in ("bands-2024-01", "trend"):
        assert f'href="charts/{name}.png" download' in html and f'href="charts/{name}.svg" download' in html
        chunks = _png_chunks((site / "charts" / f"{name}.png").read_bytes())
        assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    assert "Xuất sắc" in (site / "charts" / "bands-2024-01.svg").read_text(encoding="utf-8")
    # charts already rendered (the build cache says from which spec) are not rendered again
    import vl_convert

    shutil.copytree(site, tmp_path / "s")
    refuse = lambda *a, **k: (_ for _ in ()).throw(AssertionError("rendered again"))  # noqa: E731
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", refuse)
    monkeypatch.setattr(vl_convert, "svg_to_png", refuse)
    build_site(tmp_path / "s", scoreboard, **inputs)


def _font_letters(font: Path) -> set[int]:
    """The code points a TrueType font draws: its cmap's Unicode subtables (formats 4 and 12)."""
    import struct

    data = font.read_bytes()
    (tables,) = struct.unpack(">H", data[4:6])
    records = {data[12 + 16 * i:16 + 16 * i]: struct.unpack(">I", data[20 + 16 * i:24 + 16 * i])[0] for i in range(tables)}
    cmap = records[b"cmap"]
    letters: set[int] = set()
    for i in range(struct.unpack(">H", data[cmap + 2:cmap + 4])[0]):
        platform, encoding, offset = struct.unpack(">HHI", data[cmap + 4 + 8 * i:cmap + 12 + 8 * i])
        at = cmap + offset
        kind = struct.unpack(">H", data[at:at + 2])[0]
        if platform != 3 or kind not in (4, 12):
            continue
        if kind == 12:
            for g in range(struct.unpack(">I", data[at + 12:at + 16])[0]):
                first, last, glyph = struct.unpack(">III", data[at + 16 + 12 * g:at + 28 + 12 * g])
                letters |= set(range(first, last + 1)) if glyph else set(range(first + 1, last + 1))
            continue
        segments = struct.unpack(">H", data[at + 6:at + 8])[0] // 2
        ends = struct.unpack(f">{segments}H", data[at + 14:at + 14 + 2 * segments])
        starts = struct.unpack(f">{segments}H", data[at + 16 + 2 * segments:at + 16 + 4 * segments])
        deltas = struct.unpack(f">{segments}h", data[at + 16 + 4 * segments:at + 16 + 6 * segments])
        range_at = at + 16 + 6 * segments
        offsets = struct.unpack(f">{segments}H", data[range_at:range_at + 2 * segments])
        for k in range(segments):
            for c in range(starts[k], ends[k] + 1):
                if offsets[k]:
                    where = range_at + 2 * k + offsets[k] + 2 * (c - starts[k])
                    glyph = struct.unpack(">H", data[where:where + 2])[0]
                    glyph = (glyph + deltas[k]) & 0xFFFF if glyph else 0
                else:
                    glyph = (c + deltas[k]) & 0xFFFF
                if glyph and c != 0xFFFF:
                    letters.add(c)
    return letters


def test_chart_images_are_set_in_the_vendored_font(site):
    """Every text of the chart images names the font that ships with the site, and
    that font (regular and bold) draws every letter of them: no label falls back to
    whatever the build machine has (on Debian, a serif font for Vietnamese)."""
    import html as html_mod

    from dashboards.images import FONTS, IMAGE_FONT

    drawn = _font_letters(FONTS / "DejaVuSans.ttf") & _font_letters(FONTS / "DejaVuSans-Bold.ttf")
    assert {ord(c) for c in "AaĐđƯưẠạỹ…%,−"} <= drawn and ord("中") not in drawn
    texts = []
    for svg in sorted((site / "charts").glob("*.svg")):
        body = svg.read_text(encoding="utf-8")
        assert set(re.findall(r'font-family="([^"]*)"', body)) == {IMAGE_FONT}, svg.name
        texts += [html_mod.unescape(t) for t in re.findall(r"<text[^>]*>([^<]+)</text>", body)]
    assert {"Quận Ba Đình (001)", "Tiến độ giải quyết", "Xuất sắc"} <= set(texts)
    assert not {c for t in texts for c in t if ord(c) not in drawn}
    # the heatmap's legend names quarters, which do not run into each other in this font
    legend = (site / "charts" / "heatmap-district-2024-01.svg").read_text(encoding="utf-8")
    assert [t for t in re.findall(r"<text[^>]*>([^<]+)</text>", legend) if t.endswith("%")][-5:] == [
        "0 %", "25 %", "50 %", "75 %", "100 %"]  # as the tables write a percentage


def test_quality_page_and_held_back_periods(site):
    html = read(site / "quality.html")
    held = ("Số liệu mới của kỳ này đang bị giữ lại vì: Số hồ sơ tiếp nhận giảm quá 50 % so với kỳ trước.")
    assert '<a href="periods/2024-02.html"><span data-en="February 2024">Tháng 02/2024</span></a>: <span data-en="' in html
    assert held in html
    assert "New figures for this period are held back because: Received fell by more than 50 % from the previous period." in html
    # checks per period, failed ones marked by a sign and a word, not only a colour
    assert '<span class="status fail"><span aria-hidden="true">✗</span> <span data-en="Failed">Không đạt</span></span>' in html
    assert '<span class="status ok"><span aria-hidden="true">✓</span> <span data-en="Passed">Đạt</span></span>' in html
    # quarantine by reason and by file (name only)
    assert "Ngày giờ không hợp lệ" in html and ">dossiers-2024-01.csv<" in html and "/srv/inbox" not in html
    # silent units: nothing received in February
    silent = html[html.index('id="silent-h"'):]
    assert "Huyện Sóc Sơn" in silent.split("Tuần 09/2024")[0] and "Quận Ba Đình" not in silent.split("Tuần 09/2024")[0]
    # the note is also where the numbers are read (the overview leads with January, not held back)
    assert held in read(site / "periods" / "2024-02.html") and "đang bị giữ lại" not in read(site / "index.html")
    assert "đang bị giữ lại" not in read(site / "periods" / "2024-01.html")
    assert held in read(site / "report-2024-02.html")


def test_monthly_reports(site):
    html = read(site / "report-2024-01.html")
    assert '<body class="report">' in html
    assert '<p><span data-en="HANOI PEOPLE&#39;S COMMITTEE">UBND THÀNH PHỐ HÀ NỘI</span></p>' in html
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in html
    assert "Báo cáo kết quả chỉ số phục vụ người dân, doanh nghiệp" in html
    # band summary: districts 1 Xuất sắc + 1 Khá, both ranked
    assert re.search(r"Cấp huyện</span></th><td>1</td><td>0</td><td>1</td><td>0</td><td>0</td><td>0</td><td>2</td><td>2</td>", html)
    # most common weak points: each district's largest
    assert re.search(r"Tỷ lệ hài lòng</span> <span class=\"code\">.*?</span></th><td>1</td><td>4,2</td>", html)
    assert re.search(r"Tỷ lệ số hóa hồ sơ</span> <span class=\"code\">.*?</span></th><td>1</td><td>3,8</td>", html)
    assert 'href="report-2024-02.html" rel="next"' in html
    assert "Huyện Sóc Sơn</a>" in html
    assert "@page { size: A4;" in SITE_CSS and "body.report header.site" in SITE_CSS
    assert 'href="report.html"' in read(site / "index.html")  # the headline month's, in the menu
    assert 'href="report-2024-01.html"' in read(site / "index.html")  # beside the headline month
    assert 'href="../report-2024-01.html"' in read(site / "periods" / "2024-01.html")


def test_report_pdf_needs_chromium(tmp_path, monkeypatch):
    from dashboards import images

    monkeypatch.setattr(images, "chromium_path", lambda: None)
    (tmp_path / "r.html").write_text("<!doctype html><p>x</p>")
    assert images.print_report_pdf(tmp_path / "r.html", tmp_path / "r.pdf") is False
    assert not (tmp_path / "r.pdf").exists()


def _printed(first: int, extra_at: int | None = None) -> bytes:
    """The parts of a tagged PDF Chromium names by its DOM node numbers: structure
    elements and the ID tree that lists them in order (`extra_at`: from that element
    on, every number one more, as when Chromium made one node more)."""
    numbers = [first + 2 * k + (1 if extra_at is not None and k >= extra_at else 0) for k in range(12)]
    elements = b"".join(b"%d 0 obj\n<</Type /StructElem\n/S /TH\n/ID (node%08d)>>\nendobj\n" % (40 + k, n)
                        for k, n in enumerate(numbers))
    names = b" ".join(b"(node%08d) %d 0 R" % (n, 40 + k) for k, n in enumerate(numbers))
    tree = b"<</Limits [(node%08d) (node%08d)]\n/Names [%s]>>\n" % (numbers[0], numbers[-1], names)
    return b"%PDF-1.4\n" + elements + tree + b"/CreationDate (D:20261206140915+00'00')\n%%EOF\n"


def test_a_printed_report_gives_the_same_bytes_whatever_chromium_numbered(tmp_path):
    """Chromium's node numbers in the tagged PDF differ between two prints of one page on
    a busy machine: the PDF kept has the same bytes, its offsets (lengths) and the ID
    tree's order unchanged."""
    from dashboards.images import _reproducible

    prints = [_printed(77), _printed(77, extra_at=5), _printed(1077)]
    kept = [_reproducible(p) for p in prints]
    assert kept[0] == kept[1] == kept[2]
    assert [len(k) for k in kept] == [len(p) for p in prints]
    names = re.findall(rb"\((node\d{8})\) \d+ 0 R", kept[0])
    assert names == sorted(names) and len(set(names)) == 12 and names[0] == b"node00000000"
    assert b"(D:20000101000000" in kept[0] and b"20261206" not in kept[0]


def test_report_pdf_link_only_when_printed(scoreboard, tmp_path, monkeypatch):
    import dashboards.pages.report as report

    monkeypatch.setattr(report, "chromium_path", lambda: "/nonexistent/chromium")
    monkeypatch.setattr(report, "print_report_pdf", lambda html, pdf: Path(pdf).write_bytes(b"%PDF-1.4 x") > 0)
    build_site(tmp_path, scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST, report_pdf=True)
    assert (tmp_path / "report-2024-01.pdf").read_bytes().startswith(b"%PDF")  # the headline month's
    assert 'href="report-2024-01.pdf" download' in read(tmp_path / "report-2024-01.html")
    assert 'href="report-2024-01.pdf" download' in read(tmp_path / "report.html")
    assert "report-2024-02.pdf" not in read(tmp_path / "report-2024-02.html")
    monkeypatch.setattr(report, "print_report_pdf", lambda html, pdf: False)
    (tmp_path / "report-2024-01.pdf").unlink()
    build_site(tmp_path, scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST, report_pdf=True)
    assert not (tmp_path / "report-2024-01.pdf").exists()
    assert "report-2024-01.pdf" not in read(tmp_path / "report-2024-01.html")
    assert "report-2024-01.pdf" not in read(tmp_path / "report.html")
    build_site(tmp_path, scoreboard, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    assert not list(tmp_path.glob("*.pdf"))


def test_unit_slugs():
    from dashboards.site import unit_slug

    assert unit_slug("001", dt.date(2008, 8, 1)) == "001-2008-08-01"
    odd = unit_slug("../x/<y>", dt.date(2025, 7, 1))
    assert re.fullmatch(r"x__y_[0-9a-f]{8}-2025-07-01", odd)
    assert unit_slug("a/b", None) != unit_slug("a_b", None)


def test_free_text_from_inputs_is_escaped(scoreboard, inputs, tmp_path):
    frame = scoreboard.with_columns(
        unit_name=pl.when(pl.col("unit_code") == "001").then(pl.lit(XSS)).otherwise("unit_name")
    )
    nasty = dict(
        inputs,
        warnings=inputs["warnings"].with_columns(unit_name=pl.lit(XSS), message_vi=pl.lit(XSS), message_en=pl.lit(XSS)),
        quality=inputs["quality"].with_columns(description_vi=pl.lit(XSS), description_en=pl.lit(XSS),
                                               check=pl.lit('"><img src=x onerror=alert(3)>')),
        bottlenecks=inputs["bottlenecks"].with_columns(procedure_name=pl.lit(XSS), procedure_code=pl.lit("=1+1")),
    )
    build_site(tmp_path, frame, **nasty)
    for page in pages(tmp_path):
        text = read(page)
        assert XSS not in text and "<img" not in text, page.name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in read(tmp_path / "units" / "001-2008-08-01.html")
    for script in parse(tmp_path / "city.html").inline_scripts:
        assert "</" not in script
    for svg in (tmp_path / "charts").glob("*.svg"):
        assert "<script" not in svg.read_text(encoding="utf-8")
    assert "'=1+1" in (tmp_path / "data" / "bottlenecks-2024-01.csv").read_text(encoding="utf-8-sig")


def test_empty_frame_with_every_input(tmp_path):
    from transforms.insights import BOTTLENECK_SCHEMA, WEAK_POINT_SCHEMA, WHAT_IF_SCHEMA

    empty = pl.DataFrame(schema=SCOREBOARD_COLUMNS)
    build_site(
        tmp_path, empty, profile=DEFAULT_PROFILE, manifest={},
        weak_points=pl.DataFrame(schema=WEAK_POINT_SCHEMA), bottlenecks=pl.DataFrame(schema=BOTTLENECK_SCHEMA),
        what_if=pl.DataFrame(schema=WHAT_IF_SCHEMA), quality=example_quality(), warnings=example_warnings(),
    )
    assert list(tmp_path.glob("units/*.html")) == []
    quality = read(tmp_path / "quality.html")
    assert "Tháng 02/2024" in quality and 'href="periods/2024-02.html"' not in quality  # held back, never published
    assert not (tmp_path / "assets" / "charts.js").exists()
    # "nothing to report" may come as a frame without columns
    build_site(tmp_path / "b", empty, profile=DEFAULT_PROFILE, manifest={}, quality=pl.DataFrame(), warnings=pl.DataFrame())
    assert "Kết quả kiểm tra theo kỳ" not in read(tmp_path / "b" / "quality.html")


def test_a_level_with_no_ranked_unit_is_folded_after_the_others(scoreboard, tmp_path):
    # January as after the 2025 reform: the districts ended and are listed only for late dossiers
    frame = scoreboard.filter(pl.col("period_key").is_in(["2024-01", "2024-W01", "2024-W02"])).with_columns(
        ranked=pl.when((pl.col("period_key") == "2024-01") & (pl.col("level") == "district"))
        .then(False).otherwise("ranked")
    )
    build_site(tmp_path, frame, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    html = read(tmp_path / "index.html")
    folded = re.findall(r"<details class=\"ranking-block\">\s*<summary>(.*?)</summary>", html, re.S)
    assert len(folded) == 1
    assert "Cấp huyện · Tháng 01/2024" in folded[0] and "0/2 đơn vị được xếp hạng" in folded[0]
    assert "không đơn vị nào đủ điều kiện xếp hạng" in folded[0]
    # the communes' table of the month comes first, open
    assert html.index("Cấp xã · Tháng 01/2024") < html.index("Cấp huyện · Tháng 01/2024")
    # the week, where districts are ranked, keeps districts first
    assert html.index("Cấp huyện · Tuần 02/2024") < html.index("Cấp xã · Tuần 02/2024")


def test_an_ended_unit_page_details_its_last_month_with_data(scoreboard, tmp_path):
    # March: Ba Đình has ended and is listed only for a dossier still counted (received 0, unranked)
    march = scoreboard.filter(pl.col("period_key") == "2024-02", pl.col("unit_code") == "001").with_columns(
        period_key=pl.lit("2024-03"), period_start=pl.date(2024, 3, 1), period_end=pl.date(2024, 4, 1),
        received=pl.lit(0, dtype=pl.Int64), ranked=pl.lit(False), rank=None, rank_in_peer=None, rank_change=None,
    )
    build_site(tmp_path, pl.concat([scoreboard, march.select(scoreboard.columns)]), profile=DEFAULT_PROFILE, manifest=MANIFEST)
    html = read(tmp_path / "units" / "001-2008-08-01.html")
    assert "Số liệu tháng gần nhất của đơn vị</span>: <span data-en=\"February 2024\">Tháng 02/2024</span>" in html
    # the March row is still in its history
    data = json.loads(parse(tmp_path / "units" / "001-2008-08-01.html").inline_scripts[0])
    assert any(h["d"] == "2024-03-01" for h in data["datasets"]["history"])


def test_a_score_shows_the_two_decimals_it_ranks_on(scoreboard, tmp_path):
    """77.475 is a double just below 77.475: it ranks as 77.47 (DuckDB's round), and
    81.32499999999999 ranks as 81.33 (scoreboard.md). Every page shows those digits,
    not the float's decimal form rounded again (77,48 and 81,32)."""
    from dashboards.format import SCORE, texts

    edge = {"001": 77.475, "002": 81.32499999999999}
    frame = scoreboard.with_columns(
        score=pl.when(pl.col("period_key").is_in(["2024-W02", "2024-01"]) & pl.col("unit_code").is_in(list(edge)))
        .then(pl.col("unit_code").replace_strict(edge, default=None, return_dtype=pl.Float64))
        .otherwise("score")
    )
    assert [fmt_score(v) for v in edge.values()] == ["77,47", "81,33"]
    column = texts(pl.DataFrame({"s": [*edge.values(), None]}), {"t": ("s", SCORE)})["t"].to_list()
    assert column == ["77,47", "81,33", "—"]
    build_site(tmp_path, frame, profile=DEFAULT_PROFILE, manifest=MANIFEST)
    week = read(tmp_path / "periods" / "2024-W02.html")
    assert "<td>77,47</td>" in week and "<td>81,33</td>" in week
    assert "77,48" not in week and "81,32" not in week
    trend = json.loads(parse(tmp_path / "index.html").inline_scripts[0])["datasets"]["trend"]
    january = {r["unit"].rsplit(" (", 1)[1][:-1]: r["score"] for r in trend if r["month"] == "2024-01-01"}
    assert january["001"] == 77.47 and january["002"] == 81.33
