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
from dashboards.assets import SITE_CSS, SITE_JS
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
from dashboards.site import build_site, vega_lite_version
from transforms.schema import SCOREBOARD_COLUMNS

FIXTURE = Path(__file__).parent / "fixtures" / "example" / "expected_scoreboard.csv"
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


@pytest.fixture(scope="module")
def site(scoreboard, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    ingestion, quarantine = ingestion_frames()
    index = build_site(root, scoreboard, manifest=MANIFEST, ingestion=ingestion, quarantine_summary=quarantine)
    assert index == root / "index.html"
    return root


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html")) + sorted((site / "periods").glob("*.html"))


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


def test_dates_and_periods():
    assert fmt_date(dt.date(2024, 2, 1)) == "01/02/2024"
    assert fmt_date(dt.datetime(2024, 12, 31, 23, 59)) == "31/12/2024"
    assert fmt_date("2024-02-12") == "12/02/2024"
    assert period_label("month", "2024-02") == "Tháng 02/2024"
    assert period_label("month", "2024-02", "en") == "February 2024"
    assert period_label("week", "2024-W07") == "Tuần 07/2024 (12/02–18/02/2024)"
    assert period_label("week", "2024-W07", "en") == "Week 07/2024 (12/02–18/02/2024)"
    assert period_label("week", "2020-W01") == "Tuần 01/2020 (30/12/2019–05/01/2020)"
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
    assert set(i18n.COLUMNS) == set(SCOREBOARD_COLUMNS)
    assert [(b.vi, b.en) for b in i18n.BANDS] == [
        ("Xuất sắc", "Excellent"), ("Tốt", "Good"), ("Khá", "Fair"), ("Trung bình", "Average"), ("Yếu", "Weak")
    ]
    assert {k: tuple(v) for k, v in i18n.GROUPS.items()} == {
        "points_transparency": ("Công khai, minh bạch", "Transparency"),
        "points_timeliness": ("Tiến độ giải quyết", "Timeliness"),
        "points_online": ("Dịch vụ công trực tuyến", "Online service"),
        "points_payment": ("Thanh toán trực tuyến", "Online payment"),
        "points_digitization": ("Số hóa hồ sơ", "Digitisation"),
        "points_satisfaction": ("Mức độ hài lòng", "Satisfaction"),
    }
    assert sum(i18n.GROUP_MAX_POINTS.values()) == 100
    assert {k: tuple(v) for k, v in i18n.LEVELS.items()} == {
        "district": ("Cấp huyện", "District"), "commune": ("Cấp xã", "Commune"), "department": ("Sở ngành", "Department")
    }
    assert i18n.band_label("Khá", "en") == "Fair"
    assert set(i18n.QUARANTINE_REASONS) >= {"missing_id", "bad_date", "unknown_unit", "chronology"}


def test_bundle_matches_altair_schema():
    import altair as alt

    assert alt.SCHEMA_VERSION.lstrip("v").startswith(vega_lite_version() + ".")


# --------------------------------------------------------------------------- the site


def test_files_written(site):
    assert (site / "index.html").is_file()
    assert (site / "ingestion.html").is_file()
    assert sorted(p.stem for p in (site / "periods").glob("*.html")) == sorted(PERIOD_KEYS)
    assert sorted(p.name for p in (site / "assets").iterdir()) == ["site.css", "site.js", "vega-bundle.js"]
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
    for asset in ("site.css", "site.js"):
        text = read(site / "assets" / asset)
        assert not re.search(r"https?:|url\(|@import|fetch\(|XMLHttpRequest|import\(", text), asset
    # the Vega bundle may carry URL strings, but the page never loads one
    for page in pages(site):
        for tag, a in parse(page).tags:
            if tag == "script" and "src" in a:
                assert a["src"].endswith(("assets/site.js", "assets/vega-bundle.js"))
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
    # latest month and latest week, every level, Vietnamese labels
    assert "Tháng 02/2024" in html and "Tuần 09/2024 (26/02–03/03/2024)" in html
    assert "Cấp huyện · Tháng 02/2024" in html and "Cấp xã · Tuần 09/2024 (26/02–03/03/2024)" in html
    for label in ("Hạng", "Đơn vị", "Điểm", "Xếp loại", "Thay đổi hạng", "Tiến độ giải quyết",
                  "Số hóa hồ sơ", "Tiếp nhận", "Trễ hạn", "Quá hạn đang xử lý"):
        assert f">{label}</span>" in html, label
    # February: Ba Đình scored 58.82 (Trung bình), listed but not ranked
    assert re.search(r"Quận Ba Đình <span class=\"code\">001</span></th><td class=\"t\">.*?</td><td>58,82</td>"
                     r"<td class=\"t\" data-v=\"3\"><span class=\"band band-tb\"><span data-en=\"Average\">Trung bình</span>", html)
    # every period page and data file is linked
    for key in PERIOD_KEYS:
        assert f'href="periods/{key}.html"' in html
        for suffix in ("csv", "xlsx", "parquet"):
            assert f'href="data/scoreboard-{key}.{suffix}"' in html
    assert 'href="data/manifest.json"' in html
    assert "01/02/2024" in html  # dates dd/mm/yyyy
    assert "2024-03-01" not in html and "07:30" not in html  # no run time in pages


def test_period_page_numbers_and_downloads(site):
    html = read(site / "periods" / "2024-01.html")
    assert "<h2 id=\"p-2024-01\"><span data-en=\"January 2024\">Tháng 01/2024</span></h2>" in html
    for suffix in ("csv", "xlsx", "parquet"):
        assert f'href="../data/scoreboard-2024-01.{suffix}"' in html
    assert 'href="2024-02.html" rel="next"' in html
    # Sóc Sơn: 89.99999999999999 -> 90,00, Xuất sắc, rank 1; rates as percentages with a comma
    row = re.search(r"<tr><td>1</td><td>1</td><th scope=\"row\" class=\"unit\">Huyện Sóc Sơn.*?</tr>", html)
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
    build_site(tmp_path, frame, manifest=MANIFEST)
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
    build_site(tmp_path, frame, manifest=MANIFEST)
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


def test_chart_specs_render(site):
    import vl_convert as vlc

    p = parse(site / "index.html")
    (chart_json,) = p.inline_scripts
    assert "http" not in chart_json  # no $schema, no data URL
    data = json.loads(chart_json)
    assert [c["id"] for c in data["charts"]] == ["chart-bands", "chart-trend"]
    assert data["formatLocale"]["decimal"] == ","
    assert {r["band_vi"] for r in data["datasets"]["bands"]} == {"Trung bình", "Chưa có điểm"}  # February
    assert {(r["unit"], r["month"], r["score"]) for r in data["datasets"]["trend"]} == {
        ("Quận Ba Đình (001)", "2024-01-01", 74.52),
        ("Quận Ba Đình (001)", "2024-02-01", 58.82),
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
                assert ("Trung bình" if lang == "vi" else "Average") in svg


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


def test_deterministic_and_incremental(scoreboard, site, tmp_path):
    ingestion, quarantine = ingestion_frames()
    build_site(tmp_path, scoreboard.reverse(), manifest=MANIFEST, ingestion=ingestion, quarantine_summary=quarantine)

    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert snapshot(tmp_path) == snapshot(site)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    build_site(tmp_path, scoreboard, manifest=MANIFEST, ingestion=ingestion, quarantine_summary=quarantine)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes  # nothing rewritten


def test_periods_no_longer_published_are_removed(scoreboard, tmp_path):
    build_site(tmp_path, scoreboard, manifest=MANIFEST)
    assert (tmp_path / "periods" / "2024-W09.html").exists()
    (tmp_path / "notes.txt").write_text("kept")
    build_site(tmp_path, scoreboard.filter(pl.col("period_key") != "2024-W09"), manifest=MANIFEST)
    assert not (tmp_path / "periods" / "2024-W09.html").exists()
    assert not list((tmp_path / "data").glob("scoreboard-2024-W09.*"))
    assert (tmp_path / "periods" / "2024-W08.html").exists()
    assert (tmp_path / "notes.txt").read_text() == "kept"
    assert "Tuần 08/2024" in read(tmp_path / "index.html") and "2024-W09" not in read(tmp_path / "index.html")


def test_empty_frame_still_builds(tmp_path):
    empty = pl.DataFrame(schema=SCOREBOARD_COLUMNS)
    index = build_site(tmp_path, empty, manifest={})
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
    import dashboards.site as site_mod

    shutil.copytree(site, tmp_path / "s")
    bundle = tmp_path / "s" / "assets" / "vega-bundle.js"
    original = bundle.read_bytes()
    assert original.startswith(b"/* vl-convert ") and b", Vega-Lite " + vega_lite_version().encode() in original[:100]

    def refuse(*_a, **_k):
        raise AssertionError("bundle rebuilt")

    monkeypatch.setattr(site_mod, "vega_bundle", refuse)
    build_site(tmp_path / "s", scoreboard, manifest=MANIFEST)  # current bundle: not asked for again
    assert bundle.read_bytes() == original

    bundle.write_bytes(original[:-100])  # damaged: restored from the vendored copy
    build_site(tmp_path / "s", scoreboard, manifest=MANIFEST)
    assert bundle.read_bytes() == original


def test_the_vendored_bundle_is_the_one_the_installed_versions_want():
    """Fails after an upgrade of vl-convert or Altair until scripts/vendor_vega.py is run."""
    import vl_convert as vlc

    from dashboards.site import VENDORED_BUNDLE, _valid_bundle

    tag = f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"
    assert _valid_bundle(VENDORED_BUNDLE, tag) is not None


def test_seeded_release_reuses_files_and_leaves_the_previous_alone(scoreboard, site, tmp_path, monkeypatch):
    import dashboards.site as site_mod
    from dashboards.site import seed_site

    previous = tmp_path / "r1"
    shutil.copytree(site, previous)
    before = {p.relative_to(previous): p.read_bytes() for p in previous.rglob("*") if p.is_file()}
    changed = scoreboard.with_columns(
        unit_name=pl.when(pl.col("unit_code") == "002").then(pl.lit("Huyện Sóc Sơn mới")).otherwise("unit_name")
    ).filter(pl.col("period_key") != "2024-W01")

    monkeypatch.setattr(site_mod, "vega_bundle", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    release = tmp_path / "r2"
    assert seed_site(previous, release) == len(before)
    build_site(release, changed, manifest=MANIFEST)

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
    build_site(fresh, changed, manifest=MANIFEST)
    snap = lambda root: {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}  # noqa: E731
    assert snap(release) == snap(fresh)
