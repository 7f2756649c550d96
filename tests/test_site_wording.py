"""What the pages say in words: every code the configuration ships is shown as
words in both languages, and every sentence says what its number means. Real
site builds of the worked example (tests/fixtures/example), changed where a
case needs it."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from config import config_path
from dashboards import i18n
from dashboards.site import build_site
from quality.completeness import freshness
from tests.helpers import DEFAULT_PROFILE, EXAMPLE, read_example_dossiers, read_expected_scoreboard
from tests.test_site import example_inputs
from transforms.calendar import load_overlay
from transforms.units import load_registry

DEPARTMENT = i18n.LEVELS["department"]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def built(root: Path, scoreboard: pl.DataFrame, **given) -> Path:
    """The site of `scoreboard`, with the worked example's other inputs but those `given`."""
    build_site(root, scoreboard, **{**example_inputs(scoreboard), **given})
    return root


@pytest.fixture(scope="module")
def departments_site(tmp_path_factory) -> Path:
    """The worked example with its two communes made the city's departments, the
    peer group the shipped Hà Nội registry gives them (config/registry/hanoi.csv)."""
    scoreboard = read_expected_scoreboard().with_columns(
        pl.when(pl.col("level") == "commune").then(pl.lit("department")).otherwise(pl.col(c)).alias(c)
        for c in ("level", "peer_group")
    )
    return built(tmp_path_factory.mktemp("departments"), scoreboard)


def shipped_peer_groups() -> set[str]:
    """The peer groups of every registry shipped in config/registry/ (crosswalks and
    source lists have none)."""
    groups: set[str] = set()
    for path in sorted(config_path("registry").glob("*.csv")):
        if "peer_group" in pl.read_csv(path, n_rows=0).columns:
            groups |= set(load_registry(path)["peer_group"].drop_nulls())
    return groups


def test_every_peer_group_of_a_shipped_registry_has_a_label():
    groups = shipped_peer_groups()
    assert "department" in groups and "urban" in groups  # the registries were read
    assert groups <= set(i18n.PEER_GROUPS), sorted(groups - set(i18n.PEER_GROUPS))


def test_the_departments_peer_group_is_words_on_every_page(departments_site):
    cell = f'<td class="t"><span data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</span></td>'
    for name in ("index.html", "periods/2024-01.html", "report-2024-01.html"):
        page = read(departments_site / name)
        assert ">department<" not in page, name
        assert cell in page, name
    for name in ("index.html", "periods/2024-01.html"):
        page = read(departments_site / name)
        assert f'<option value="department" data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</option>' in page, name
    unit = read(departments_site / "units" / "00001-2008-08-01.html")
    assert ": department" not in unit
    assert re.search(rf'Nhóm so sánh</span>: <span data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</span>', unit)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    return built(tmp_path_factory.mktemp("example"), read_expected_scoreboard())


def english(page: str) -> str:
    """A page's text as its English switch shows it (dashboards/static/site.js: an
    element with `data-en` takes that text), tags removed."""
    page = re.sub(r'(<(\w+)[^>]*\sdata-en="([^"]*)"[^>]*>)(.*?)(</\2>)', lambda m: m[3], page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def test_the_methodology_in_english_has_no_iso_date_nor_vietnamese_calendar(example_site):
    page = read(example_site / "methodology.html")
    # no ISO date outside the versions' <code> (file hashes, versions)
    body = english(re.sub(r"<code>.*?</code>", "", page.split("<main")[1], flags=re.S))
    assert not ISO_DATE.findall(body), ISO_DATE.findall(body)
    assert "After the reform of 01/07/2025" in body
    calendar = english(page[page.index('<section id="calendar">'):].split("</section>")[0])
    for words in ("Nghỉ", "Làm bù", "Công văn", "Thông báo", "thứ Hai", "thứ Bảy", "dịp"):
        assert words not in calendar, words
    # the overlay's own English, from its data file
    overlay = load_overlay()
    assert overlay["note_en"].null_count() == 0
    assert ("30/04 - 01/05/2024 holidays: Monday 29/04/2024 off, Saturday 04/05/2024 worked in exchange "
            "(Official Letter 2450/VPCP-KGVX of 12/04/2024)") in calendar
    assert re.search(r'<th scope="row" class="t">04/05/2024</th><td class="t"><span data-en="Worked">Làm việc</span></td>'
                     r'<td class="t"><span data-en="Worked in exchange for Monday 29/04/2024', page)


def test_an_overlay_without_english_is_shown_in_english_by_its_kind(tmp_path):
    overlay = pl.DataFrame({"date": [date(2024, 1, 2)], "kind": ["day_off"], "note": ["Nghỉ thử nghiệm"]},
                           schema={"date": pl.Date, "kind": pl.Utf8, "note": pl.Utf8})
    page = read(built(tmp_path, read_expected_scoreboard(), calendar_overlay=overlay) / "methodology.html")
    # the overlay's row (its kind "Day off"), as the year's table of days off shows it
    row = ('<th scope="row" class="t">02/01/2024</th><td class="t"><span data-en="{}">Nghỉ</span></td>'
           '<td class="t"><span data-en="Day off in exchange">Nghỉ thử nghiệm</span></td>')
    assert row.format("Day off") in page and row.format("Off") in page


def test_the_what_if_names_the_unit_to_pass_not_a_rank_reached():
    """A unit ranked 83 whose score one more dossier on time would lift above the unit
    ranked 82 (scoreboard.md's k) may pass others too and land at rank 63: the sentence
    says what k means, never 'to rank 82'."""
    from dashboards.pages.unit import what_if_sentences

    w = {"late_dossiers": 7, "target_rank": 82, "target_rank_score": 74.5, "dossiers_for_rank": 1,
         "target_band": "Tốt", "dossiers_for_band": None}
    rank, band = what_if_sentences(w, ranked=True, have_table=True, bands=i18n.site_bands(DEFAULT_PROFILE))
    assert rank.vi == "1 hồ sơ nữa đúng hạn sẽ đưa điểm của đơn vị vượt điểm của đơn vị đang xếp hạng 82 (74,50)."
    assert rank.en == "1 more dossier on time would have lifted your score above that of the unit now ranked 82 (74,50)."
    for sentence in (rank, band):
        assert "lên hạng" not in sentence.vi and "to rank" not in sentence.en


def test_the_unit_pages_share_of_maximum_has_the_sites_one_decimal(example_site):
    page = read(example_site / "units" / "002-2008-08-01.html")
    groups = page[page.index("Các nhóm chỉ số"):].split("</tbody>")[0]
    shares = re.findall(r'<meter [^>]*></meter> ([^<]*)</td>', groups)
    # Sóc Sơn, January 2024: 17,14 of 20 on time is 85,7 %, not 86 %
    assert shares == ["100,0 %", "85,7 %", "100,0 %", "100,0 %", "71,4 %", "95,2 %"]


def test_a_provisional_period_page_names_its_cut_off(tmp_path):
    """February 2024 and its last week still in progress: the period pages and February's
    printable report say up to when their figures go, as the overview does (the latest
    event in the data), in both languages."""
    scoreboard = read_expected_scoreboard().with_columns(
        provisional=pl.col("period_key").is_in(["2024-02", "2024-W09"])
    )
    fresh = freshness(read_example_dossiers(), load_registry(EXAMPLE / "units.csv"), datetime(2024, 3, 1, 9, 0))
    latest = fresh["latest_event"].max()
    built(tmp_path, scoreboard, freshness=fresh)
    cutoff = f"{latest:%d/%m/%Y %H:%M}"
    note = (f'<span data-en="Period in progress: provisional figures up to {cutoff}, the latest time in the data.">'
            f"Kỳ đang diễn ra: số liệu tạm tính đến {cutoff}, thời điểm mới nhất trong dữ liệu.</span>")
    for name in ("index.html", "periods/2024-02.html", "periods/2024-W09.html", "report-2024-02.html"):
        assert note in read(tmp_path / name), name
    for name in ("periods/2024-02.html", "report-2024-02.html"):
        assert "đến thời điểm mới nhất trong dữ liệu" not in read(tmp_path / name), name
    assert cutoff not in read(tmp_path / "periods" / "2024-01.html")  # a final period names none


def test_a_period_named_inside_a_sentence_starts_in_lower_case(tmp_path):
    """'… không tiếp nhận hồ sơ nào trong tuần 09/2024', not 'trong Tuần 09/2024': a period's
    label keeps its capital only where it stands alone (a heading, a caption, a cell)."""
    scoreboard = read_expected_scoreboard()
    fresh = freshness(read_example_dossiers(), load_registry(EXAMPLE / "units.csv"), datetime(2024, 3, 1, 9, 0))
    build_site(tmp_path, scoreboard, **example_inputs(scoreboard), freshness=fresh)
    city, quality, method = (read(tmp_path / f"{n}.html") for n in ("city", "quality", "methodology"))
    sentences = {
        city: ("So với kỳ cùng loại liền trước: tuần 01/2024 (01/01–07/01/2024).",
               "Against the previous period of the same kind: week 01/2024 (01/01–07/01/2024)."),
        quality: ("đơn vị không tiếp nhận hồ sơ nào trong tuần 09/2024 (26/02–03/03/2024).",
                  "units received no dossier in week 09/2024 (26/02–03/03/2024)."),
        method: ("Ví dụ tính lại: Huyện Sóc Sơn, tháng 01/2024", "Worked example: Huyện Sóc Sơn, January 2024"),
    }
    for page, (vi, en) in sentences.items():
        assert vi in htmllib.unescape(re.sub(r"<[^>]+>", "", page)), vi
        assert en in english(page), en
    # standing alone, the label keeps its capital: a caption, a period page's heading
    week = '<span data-en="Week 09/2024 (26/02–03/03/2024)">Tuần 09/2024 (26/02–03/03/2024)</span></caption>'
    assert week in city and week in quality
    january = read(tmp_path / "periods" / "2024-01.html")
    assert '<span data-en="January 2024">Tháng 01/2024</span></h2>' in january
    assert '<caption><span data-en="Districts · January 2024">Cấp huyện · Tháng 01/2024</span>' in january
