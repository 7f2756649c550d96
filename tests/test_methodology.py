"""methodology.html is made from the inputs in force: the profile's groups,
indicators, formulas, maxima, thresholds, bands and minimum volume, the calendar,
the versions of the inputs. A changed profile changes the page and its cache key,
and the incremental publication rewrites it; its worked example recomputes a
published score."""

from __future__ import annotations

import html as htmllib
import json
import os
import random
import re
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from config import config_path
from dashboards.format import fmt_score
from dashboards.groups import profile_groups
from dashboards.methodology import score_line
from dashboards.site import build_site
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import DEFAULT_PROFILE, DEFAULT_PROFILE_PATH, EXAMPLE, read_expected_scoreboard
from tests.test_site import example_inputs
from transforms.calendar import load_overlay
from transforms.profile import Profile, load_profile

NARROW = config_path("profiles", "timeliness_online.yaml")


def text(fragment: str) -> str:
    """The Vietnamese text of an HTML fragment (tags dropped, entities decoded)."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def vi(cell: str) -> str:
    """A cell's Vietnamese text, without the English of its data-en attribute."""
    return text(re.sub(r'data-en="[^"]*"', "", cell))


def groups_table(page: str) -> list[tuple]:
    """(group key, rate, formula, threshold, max) per indicator row, and per group its total."""
    body = page[page.index('class="data methodology-groups"'):].split("</tbody>")[0]
    rows = re.findall(r'<tr data-group="([^"]+)" data-rate="([^"]+)">(.*?)</tr>', body, re.S)
    out = []
    for key, rate, cells in rows:
        tds = re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        out.append((key, rate, vi(tds[2]), vi(tds[3]), vi(tds[4])))
    totals = re.findall(r'<tr class="group-total" data-group="([^"]+)">.*?<td class="group-max">([^<]*)</td>', body, re.S)
    return out + [(k, "total", m) for k, m in totals]


def group_labels(page: str) -> list[str]:
    body = page[page.index('class="data methodology-groups"'):].split("</tbody>")[0]
    return [vi(c) for c in re.findall(r'<th scope="row" class="t" rowspan="\d+">(.*?)</th>', body, re.S)]


def bands_table(page: str) -> list[tuple[str, str, str]]:
    body = page[page.index('class="data bands"'):].split("</tbody>")[0]
    rows = re.findall(r'<tr><th scope="row" class="t">(.*?)</th><td>([^<]*)</td><td>([^<]*)</td></tr>', body)
    return [(vi(a), b, c) for a, b, c in rows]


def num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}".replace(".", ",")


def expected_groups(profile: Profile) -> list[tuple]:
    """What the page must say of each indicator and group, worked out from the profile."""
    out = []
    for g in profile.groups:
        for i in g.indicators:
            formula = f"{num(i.max_points)} × r" if i.kind == "linear" else \
                f"{num(i.max_points)} × min(1; r / {num(i.threshold)})"
            threshold = f"{round(i.threshold * 100)} %" if i.threshold else "—"
            out.append((g.key, i.rate, formula, threshold, num(i.max_points)))
    return out + [(g.key, "total", num(g.max_points)) for g in profile.groups]


def expected_bands(profile: Profile) -> list[tuple[str, str, str]]:
    out, upper = [], "—"
    for b in profile.bands:
        low = f"{b.min_score:.2f}".replace(".", ",") if b.min_score is not None else "—"
        out.append((b.label, low, upper))
        upper = low
    return out


def assert_page_is_the_profiles(page: str, profile: Profile) -> None:
    assert groups_table(page) == expected_groups(profile)
    assert group_labels(page) == [g.label_vi for g in profile.groups]
    assert bands_table(page) == expected_bands(profile)
    volume = text(re.search(r'<p id="min-volume">(.*?)</p>', page, re.S).group(1))
    assert f"cơ sở tính tiến độ ≥ {profile.min_volume} (khối lượng tối thiểu)" in volume
    assert f"phiên bản {profile.version}" in text(re.search(r'<p class="meta" id="profile">(.*?)</p>', page, re.S).group(1))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_page_is_the_default_profile(tmp_path):
    scoreboard = read_expected_scoreboard()
    build_site(tmp_path, scoreboard, **example_inputs(scoreboard))
    page = read(tmp_path / "methodology.html")
    assert_page_is_the_profiles(page, DEFAULT_PROFILE)
    # by hand, two of them: Decision 766's online service and satisfaction
    assert ("online", "online_rate", "12 × min(1; r / 0,5)", "50 %", "12") in groups_table(page)
    assert ("satisfaction", "satisfaction_rate", "18 × min(1; r / 0,9)", "90 %", "18") in groups_table(page)
    # the classes and the due end rule of scoreboard.md
    classes = text(page[page.index('<section id="classes">'):].split("</section>")[0])
    for words in ("hết ngày đó, 23:59:59", "Quá hạn đang xử lý", "Không có hạn", "Mỗi hồ sơ thuộc nhiều nhất một loại"):
        assert words in classes
    # the calendar: the package, the overlay's years and its swaps; 2024's days off and worked Saturday
    calendar = page[page.index('<section id="calendar">'):].split("</section>")[0]
    assert "holidays" in text(calendar) and "2018, 2019, 2024, 2025, 2026" in text(calendar)
    assert "Công văn 2450/VPCP-KGVX" in text(calendar)
    days_2024 = calendar[calendar.index("năm 2024"):]
    for day, kind in (("08/02/2024", "Nghỉ"), ("14/02/2024", "Nghỉ"), ("29/04/2024", "Nghỉ"), ("04/05/2024", "Làm việc")):
        assert re.search(rf'<th scope="row" class="t">{day}</th><td class="t">(<span[^>]*>)?{kind}<', days_2024), day
    status = text(page[page.index('<section id="status">'):].split("</section>")[0])
    assert "Tạm tính" in status and "phiên bản công bố trước vẫn được giữ lại" in status


def test_the_worked_example_recomputes_a_published_score(tmp_path):
    scoreboard = read_expected_scoreboard()
    build_site(tmp_path, scoreboard, **example_inputs(scoreboard))
    page = read(tmp_path / "methodology.html")
    section = page[page.index('<section id="evidence">'):].split("</section>")[0]
    # Sóc Sơn ranks first among the districts of January 2024 (the headline month)
    assert "Huyện Sóc Sơn, tháng 01/2024" in text(section)
    assert 'href="units/002-2008-08-01.html#evidence"' in section
    row = scoreboard.filter(period_key="2024-01", unit_code="002").row(0, named=True)
    on_time = text(re.search(r'<p class="example-on-time">(.*?)</p>', section, re.S).group(1))
    assert on_time.startswith(f"Tỷ lệ đúng hạn = ({row['early']} trước hạn + {row['on_time']} đúng hạn)")
    assert f"{row['overdue'] + row['pending_overdue']} hồ sơ trễ hạn" in on_time
    groups = section[section.index("example-groups"):].split("</tbody>")[0]
    cells = re.findall(r"<tr><th[^>]*>.*?</th><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", groups, re.S)
    assert len(cells) == 6
    for points, _max, published in cells:
        assert points == published  # recomputed with the profile's formulas = what was published
    score = text(re.search(r'<p class="example-score">(.*?)</p>', section, re.S).group(1))
    # 89.99999999999999 in floating point: 90,00 rounded, band Xuất sắc, rank 1
    assert score == "Điểm = 100 × 90,0000 / 100 = 90,0000; làm tròn: 90,00; xếp loại: Xuất sắc; hạng 1."


def changed_profile(folder: Path) -> Path:
    """The default profile with other weights, a threshold, a band, a group label and a
    minimum volume: the edits an office makes."""
    text = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")
    edits = {
        "      - {rate: on_time_rate, kind: linear, max: 20}": "      - {rate: on_time_rate, kind: linear, max: 30}",
        "threshold: 0.5}": "threshold: 0.6}",
        "{label: Tốt, label_en: Good, min: 80}": "{label: Tốt, label_en: Good, min: 85}",
        "label_vi: Tiến độ giải quyết": "label_vi: Tiến độ xử lý hồ sơ",
        "min_volume: 10": "min_volume: 12",
        'version: "766-2022.1"': 'version: "office-2026.2"',
    }
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / "office.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def release_key(site: Path, name: str) -> str:
    return json.loads((site / ".par-build.json").read_text(encoding="utf-8"))["files"][name]


def test_a_changed_profile_changes_the_page_and_its_key(tmp_path, monkeypatch):
    """Through the pipeline: publish with the default profile, then with an edited
    copy, then with the two-group profile. Each time the page is the profile's, its
    key changes and the incremental publication rewrites it (a new file, where an
    unchanged one stays a link to the previous release's)."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))

    def publish(profile_path: Path) -> tuple[Path, str, str, os.stat_result, os.stat_result]:
        settings = ScoreboardSettings.from_env(
            landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"),
            profile_path=str(profile_path),
        )
        run_pipeline(settings, warehouse)
        site = settings.site.resolve()
        return (site, read(site / "methodology.html"), release_key(site, "methodology.html"),
                (site / "methodology.html").stat(), (site / "assets" / "site.css").stat())

    site_a, page_a, key_a, stat_a, css_a = publish(DEFAULT_PROFILE_PATH)
    assert_page_is_the_profiles(page_a, DEFAULT_PROFILE)
    office_path = changed_profile(tmp_path)
    office = load_profile(office_path)
    site_b, page_b, key_b, stat_b, css_b = publish(office_path)
    assert site_b != site_a  # a new release
    assert_page_is_the_profiles(page_b, office)
    assert ("timeliness", "on_time_rate", "30 × r", "—", "30") in groups_table(page_b)
    assert ("online", "online_rate", "12 × min(1; r / 0,6)", "60 %", "12") in groups_table(page_b)
    assert ("Tốt", "85,00", "90,00") in bands_table(page_b) and ("Khá", "70,00", "85,00") in bands_table(page_b)
    assert "Tiến độ xử lý hồ sơ" in group_labels(page_b) and "Tiến độ giải quyết" not in group_labels(page_b)
    assert key_b != key_a and page_b != page_a
    assert stat_b.st_ino != stat_a.st_ino  # rewritten …
    assert css_b.st_ino == css_a.st_ino  # … where an unchanged file is the previous release's, linked
    # its worked example is recomputed with the new formulas and agrees with the new published points
    groups = page_b[page_b.index("example-groups"):].split("</tbody>")[0]
    cells = re.findall(r"<tr><th[^>]*>.*?</th><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", groups, re.S)
    assert cells and all(points == published for points, _m, published in cells)

    site_c, page_c, key_c, stat_c, _ = publish(NARROW)
    narrow = load_profile(NARROW)
    assert_page_is_the_profiles(page_c, narrow)
    assert [r[:2] for r in groups_table(page_c)] == [
        ("timeliness", "on_time_rate"), ("online", "online_rate"), ("timeliness", "total"), ("online", "total")]
    assert key_c not in (key_a, key_b) and stat_c.st_ino != stat_b.st_ino
    # the versions of the inputs: the profile in force, its hash, and the others the manifest records
    manifest = json.loads(read(site_c / "data" / "manifest.json"))
    versions = page_c[page_c.index('class="data versions"'):].split("</tbody>")[0]
    assert f"timeliness_online {narrow.version} (sha256 {narrow.digest})" in text(versions)
    for input_ in ("registry", "calendar", "quality", "aliases"):
        value = manifest[input_]
        shown = value if isinstance(value, str) else f"{value['file']} (sha256 {value['sha256']})"
        assert shown in text(versions), input_
    assert manifest["software"]["par-scoreboard"] in text(versions)
    # the scoring code's digest, named in the page's language (not the manifest's key)
    assert "Mã nguồn tính điểm (mã băm)" in text(versions) and manifest["scoring_code"] in text(versions)
    assert "scoring code" not in versions
    # every page of the site links to it, from where it is (alert pages included)
    pages = sorted(site_c.rglob("*.html"))
    assert any(p.parent.name == "alerts" for p in pages)
    for p in pages:
        root = "../" * (len(p.relative_to(site_c).parts) - 1)
        assert f'<a href="{root}methodology.html">' in read(p), p.relative_to(site_c)


def test_the_same_inputs_keep_the_page_and_a_new_calendar_changes_it(tmp_path):
    scoreboard = read_expected_scoreboard()
    inputs = example_inputs(scoreboard)
    build_site(tmp_path, scoreboard, **inputs)
    key = release_key(tmp_path, "methodology.html")
    before = (tmp_path / "methodology.html").stat()
    build_site(tmp_path, scoreboard, **inputs)
    assert release_key(tmp_path, "methodology.html") == key
    assert (tmp_path / "methodology.html").stat().st_mtime_ns == before.st_mtime_ns  # not made again
    # an office adds a swap to the calendar: the page lists it, under a new key
    overlay = pl.concat([load_overlay(), pl.DataFrame(
        {"date": [date(2024, 1, 2)], "kind": ["day_off"], "note": ["Nghỉ thử nghiệm (Công văn 1/TEST)"],
         "note_en": ["Trial day off (Official Letter 1/TEST)"]},
        schema=load_overlay().schema)]).sort("date")
    build_site(tmp_path, scoreboard, **inputs, calendar_overlay=overlay)
    assert release_key(tmp_path, "methodology.html") != key
    page = read(tmp_path / "methodology.html")
    assert "Công văn 1/TEST" in page and '<th scope="row" class="t">02/01/2024</th>' in page


@pytest.mark.parametrize("profile_path", [DEFAULT_PROFILE_PATH, NARROW])
def test_the_formulas_in_words_follow_the_kind(profile_path):
    from dashboards.methodology import methodology_fact

    profile = load_profile(profile_path)
    fact = methodology_fact(profile, {}, load_overlay(), [])
    for g, pg in zip(fact["groups"], profile.groups):
        for i, pi in zip(g["indicators"], pg.indicators):
            words = i["words"][0]
            assert ("tuyến tính" in words) == (pi.kind == "linear")
            assert ("bão hòa" in words) == (pi.kind == "saturating")
            if pi.threshold:
                assert f"{round(pi.threshold * 100)} %" in words


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def assert_score_line_adds_up(line: str, published: str) -> None:
    """The arithmetic of a unit page's score line, as a calculator redoes it: the sum of
    the terms written is the sum written, 100 × sum / maximum is the quotient written
    (`=`) or rounds to it (`≈`), and that rounds to the published score; `≈` before the
    terms exactly where one of them was rounded is left to the caller."""
    m = re.fullmatch(r"Điểm [=≈] 100 × \(([^)]*)\) / \(([^)]*)\) = 100 × ([\d.,]+) / ([\d.,]+) ([=≈]) ([\d.,]+); "
                     r"làm tròn: ([\d.,]+)\.", line)
    assert m, line
    terms, tops = [_decimal(t) for t in m[1].split(" + ")], [_decimal(t) for t in m[2].split(" + ")]
    earned, maxima, relation, quotient = _decimal(m[3]), _decimal(m[4]), m[5], _decimal(m[6])
    assert sum(terms) == earned and sum(tops) == maxima, line
    exact = 100 * earned / maxima
    digits = Decimal(1).scaleb(quotient.as_tuple().exponent)
    assert (exact == quotient) if relation == "=" else (exact.quantize(digits, ROUND_HALF_UP) == quotient), line
    assert m[7] == published
    for value in (exact, quotient):
        assert value.quantize(Decimal("0.01"), ROUND_HALF_UP) == _decimal(published), line


def test_a_unit_pages_score_adds_up_as_written(tmp_path):
    scoreboard = read_expected_scoreboard()
    build_site(tmp_path, scoreboard, **example_inputs(scoreboard))
    latest = scoreboard.filter(pl.col("period_type") == "month", pl.col("score").is_not_null())
    checked = 0
    for page in sorted((tmp_path / "units").glob("*.html")):
        found = re.search(r'<p class="note score-line"><span data-en="[^"]*">(.*?)</span>', read(page))
        if not found:
            continue
        code = page.stem.split("-")[0]
        key = re.search(r'href="\.\./periods/([^."]+)\.html#u-', read(page))[1]
        row = latest.filter(unit_code=code, period_key=key).row(0, named=True)
        assert_score_line_adds_up(htmllib.unescape(found[1]), fmt_score(row["score"]))
        checked += 1
    assert checked == 4
    # Sóc Sơn, January 2024: 89.99999999999999, the terms at 2 decimals had added up to 89,99
    soc_son = read(tmp_path / "units" / "002-2008-08-01.html")
    assert ("Điểm ≈ 100 × (18,0000 + 17,1429 + 12,0000 + 10,0000 + 15,7143 + 17,1429) / (18 + 20 + 12 + 10 + 22 + 18)"
            " = 100 × 90,0001 / 100 = 90,0001; làm tròn: 90,00.") in soc_son


def test_the_score_line_adds_up_whatever_the_points():
    """Random groups' points under the default profile's groups, a score computed from
    them as scoring does (in floating point), some groups not applicable; among them
    the demo's 100 × 60,52 / 82 that the line had shown beside a published 73,81."""
    groups = profile_groups(DEFAULT_PROFILE)
    # the demo's unit 00259 in June 2025: no transparency points, 82 in all
    demo = dict(zip([g.column for g in groups], [None, 16.666666666666668, 10.285714285714285, 5.0,
                                                 11.904761904761905, 16.666666666666668]))
    demo |= {g.max_column: None if demo[g.column] is None else g.full_max for g in groups}
    line = score_line({**demo, "score": 73.80952380952382}, groups)
    assert line.vi == ("Điểm ≈ 100 × (16,6667 + 10,2857 + 5,0000 + 11,9048 + 16,6667) / (20 + 12 + 10 + 22 + 18) "
                       "= 100 × 60,5239 / 82 ≈ 73,8096; làm tròn: 73,81.")
    rng = random.Random(20240131)
    for _ in range(3000):
        row: dict = {"score": None}
        for g in groups:
            applies = rng.random() < 0.85
            row[g.column] = rng.uniform(0, g.full_max) if applies else None
            row[g.max_column] = g.full_max if applies else None
        points = [row[g.column] for g in groups if row[g.column] is not None]
        if not points:
            continue
        row["score"] = 100 * sum(points) / sum(row[g.max_column] for g in groups if row[g.column] is not None)
        line = score_line(row, groups)
        assert_score_line_adds_up(line.vi, fmt_score(row["score"]))
        assert line.vi.startswith("Điểm ≈") and line.en.startswith("Score ≈")
