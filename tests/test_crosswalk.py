"""The crosswalk (transforms.crosswalk): checks on the file, and series that follow a territory."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from dashboards.site import build_site, unit_slug
from transforms.crosswalk import CROSSWALK_SCHEMA, CrosswalkError, follow_territory, load_crosswalk, reconstruct
from tests.helpers import DEFAULT_PROFILE, SCOREBOARD_COLUMNS
from transforms.units import load_registry

OLD_FROM, OLD_TO, NEW_FROM = date(2008, 8, 1), date(2025, 6, 30), date(2025, 7, 1)
MIN_VOLUME = DEFAULT_PROFILE.min_volume  # 10 dossiers (received + timeliness base) to be ranked

# Old communes A..E end on 2025-06-30. New units: 10001 kept A's code and took A
# and half of B; 20002 took the other half of B; 20003 merged C, D and E.
REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Một,district,,urban,2008-08-01,2025-06-30
10001,Phường A,commune,001,urban,2008-08-01,2025-06-30
10002,Phường B,commune,001,urban,2008-08-01,2025-06-30
10003,Phường C,commune,001,urban,2008-08-01,2025-06-30
10004,Phường D,commune,001,urban,2008-08-01,2025-06-30
00005,Phường E,commune,001,urban,2025-01-01,2025-06-30
10001,Phường A Mới,commune,,urban,2025-07-01,
20002,Phường B Mới,commune,,urban,2025-07-01,
20003,Phường Hợp Nhất,commune,,urban,2025-07-01,
"""
HEADER = "old_code,old_valid_from,new_code,new_valid_from,share\n"
CROSSWALK = HEADER + """10001,2008-08-01,10001,2025-07-01,1
10002,2008-08-01,10001,2025-07-01,0.5
10002,2008-08-01,20002,2025-07-01,0.5
10003,2008-08-01,20003,2025-07-01,1
10004,2008-08-01,20003,2025-07-01,1
00005,2025-01-01,20003,2025-07-01,1
"""


@pytest.fixture()
def registry(tmp_path: Path) -> pl.DataFrame:
    path = tmp_path / "units.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    return load_registry(path)


@pytest.fixture()
def crosswalk(tmp_path: Path, registry: pl.DataFrame) -> pl.DataFrame:
    path = tmp_path / "crosswalk.csv"
    path.write_text(CROSSWALK, encoding="utf-8")
    return load_crosswalk(path, registry)


def sb_row(code: str, valid_from: date, ptype: str, key: str, start: date, **values) -> dict:
    row = {c: None for c in SCOREBOARD_COLUMNS}
    row.update(period_type=ptype, period_key=key, period_start=start, level="commune", unit_code=code,
               unit_name=code, peer_group="urban", unit_valid_from=valid_from, ranked=False, provisional=False)
    for c in ("received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue",
              "rejected", "timeliness_base"):
        row[c] = 0
    row.update(values)
    return row


def scoreboard() -> pl.DataFrame:
    june = ("month", "2025-06", date(2025, 6, 1))
    may = ("month", "2025-05", date(2025, 5, 1))
    july = ("month", "2025-07", date(2025, 7, 1))
    w27 = ("week", "2025-W27", date(2025, 6, 30))  # Monday 30 June to Sunday 6 July
    rows = [
        sb_row("10001", OLD_FROM, *june, received=10, finished=10, early=2, on_time=6, overdue=2,
               timeliness_base=10, on_time_rate=0.8, online_rate=0.5, score=80.0, rank=1, ranked=True),
        sb_row("10002", OLD_FROM, *june, received=20, finished=20, on_time=10, overdue=10,
               timeliness_base=20, on_time_rate=0.5, online_rate=0.2, score=50.0, rank=2, ranked=True),
        sb_row("10003", OLD_FROM, *june, received=5, finished=5, on_time=5, timeliness_base=5,
               on_time_rate=1.0, online_rate=1.0, score=90.0),
        sb_row("10004", OLD_FROM, *june, received=15, finished=15, on_time=9, overdue=6, timeliness_base=15,
               on_time_rate=0.6, online_rate=0.0, score=60.0),
        sb_row("00005", date(2025, 1, 1), *june, received=0, score=None),
        # no dossier received in May, but dossiers finished: weights fall back to the shares
        sb_row("10003", OLD_FROM, *may, finished=2, on_time=2, timeliness_base=2, on_time_rate=1.0, score=40.0),
        sb_row("10004", OLD_FROM, *may, finished=1, overdue=1, timeliness_base=1, on_time_rate=0.0, score=70.0),
        sb_row("10001", NEW_FROM, *july, received=40, finished=30, on_time=30, timeliness_base=30,
               on_time_rate=1.0, online_rate=0.75, score=70.0, rank=3, ranked=True, rank_change=None),
        # the week that straddles the reform: the new unit's own row wins where it has one
        sb_row("10001", OLD_FROM, *w27, received=4, finished=4, on_time=4, timeliness_base=4, score=99.0),
        sb_row("10002", OLD_FROM, *w27, received=6, finished=6, overdue=6, timeliness_base=6, score=10.0),
        sb_row("10001", NEW_FROM, *w27, received=8, finished=8, on_time=8, timeliness_base=8, score=88.0),
        # an old unit's row after the reform (late data) never enters a reconstruction
        sb_row("10002", OLD_FROM, *july, received=100, finished=100, overdue=100, timeliness_base=100, score=0.0),
    ]
    return pl.DataFrame(rows, schema=SCOREBOARD_COLUMNS)


def by_key(series: pl.DataFrame) -> dict[str, dict]:
    return {r["period_key"]: r for r in series.iter_rows(named=True)}


def test_split_share_with_a_unit_that_kept_its_code(crosswalk):
    series = by_key(follow_territory(scoreboard(), crosswalk, "10001", NEW_FROM, MIN_VOLUME))
    assert list(series) == ["2025-06", "2025-07", "2025-W27"]
    june = series["2025-06"]
    assert june["reconstructed"] is True and june["predecessors"] == 2
    # A whole + half of B
    assert june["received"] == pytest.approx(10 + 20 * 0.5)
    assert june["early"] == pytest.approx(2)
    assert june["on_time"] == pytest.approx(6 + 5)
    assert june["overdue"] == pytest.approx(2 + 5)
    assert june["timeliness_base"] == pytest.approx(20)
    assert june["on_time_rate"] == pytest.approx((2 + 11) / 20)  # recomputed, not the mean of 0.8 and 0.5
    # weights share x received: A 1 x 10 = 10, B 0.5 x 20 = 10
    assert june["online_rate"] == pytest.approx((0.5 * 10 + 0.2 * 10) / 20)
    assert june["score"] == pytest.approx((80 * 10 + 50 * 10) / 20)
    # its own rows are its own
    july = series["2025-07"]
    assert july["reconstructed"] is False and july["predecessors"] == 0
    assert (july["received"], july["score"], july["online_rate"]) == (40, 70.0, 0.75)
    assert series["2025-W27"]["reconstructed"] is False and series["2025-W27"]["score"] == 88.0


def test_the_other_part_of_a_split(crosswalk):
    series = by_key(follow_territory(scoreboard(), crosswalk, "20002", NEW_FROM, MIN_VOLUME))
    assert list(series) == ["2025-06", "2025-W27"]
    june = series["2025-06"]
    assert (june["received"], june["on_time"], june["overdue"], june["timeliness_base"]) == pytest.approx((10, 5, 5, 10))
    assert june["on_time_rate"] == pytest.approx(0.5)
    assert june["score"] == pytest.approx(50.0)
    # no own row in the straddling week: half of B's week
    w27 = series["2025-W27"]
    assert w27["reconstructed"] is True
    assert (w27["received"], w27["overdue"], w27["score"]) == pytest.approx((3, 3, 10.0))
    assert w27["on_time_rate"] == pytest.approx(0.0)


def test_a_merge_of_three(crosswalk):
    series = by_key(follow_territory(scoreboard(), crosswalk, "20003", NEW_FROM, MIN_VOLUME))
    assert list(series) == ["2025-05", "2025-06"]
    june = series["2025-06"]
    assert june["predecessors"] == 3
    assert (june["received"], june["on_time"], june["overdue"], june["timeliness_base"]) == pytest.approx((20, 14, 6, 20))
    assert june["on_time_rate"] == pytest.approx(14 / 20)
    # E received nothing and has no score: C and D weigh 5 and 15
    assert june["score"] == pytest.approx((90 * 5 + 60 * 15) / 20)
    assert june["online_rate"] == pytest.approx((1.0 * 5 + 0.0 * 15) / 20)
    may = series["2025-05"]
    assert may["received"] == 0
    assert may["score"] == pytest.approx((40 + 70) / 2)  # nobody received: weights are the shares
    assert may["on_time_rate"] == pytest.approx(2 / 3)
    assert may["online_rate"] is None


def tet_week() -> pl.DataFrame:
    """The Tết week of 2025 (27/01 to 02/02): C and D each finished a dossier late, which
    scores them 0, too few to be ranked; A and B ranked."""
    w05 = ("week", "2025-W05", date(2025, 1, 27))
    return pl.DataFrame([
        sb_row("10003", OLD_FROM, *w05, finished=1, overdue=1, timeliness_base=1, on_time_rate=0.0, score=0.0),
        sb_row("10004", OLD_FROM, *w05, received=1, finished=1, overdue=1, timeliness_base=1, on_time_rate=0.0,
               score=0.0),
        sb_row("10001", OLD_FROM, *w05, received=12, finished=12, on_time=12, timeliness_base=12, on_time_rate=1.0,
               score=90.0, rank=1, ranked=True),
        sb_row("10002", OLD_FROM, *w05, received=14, finished=14, on_time=7, overdue=7, timeliness_base=14,
               on_time_rate=0.5, score=60.0, rank=2, ranked=True),
    ], schema=SCOREBOARD_COLUMNS)


def test_a_reconstructed_period_is_rankable_as_the_territory_would_have_been(crosswalk):
    # the ranking test on the reconstructed figures: received + timeliness base >= 10, and a score
    frame = pl.concat([scoreboard(), tet_week()])
    merged = by_key(follow_territory(frame, crosswalk, "20003", NEW_FROM, MIN_VOLUME))
    # the Tết week: 1 + 2 dossiers, scored 0; May: 0 + 3; June: 20 + 20
    assert (merged["2025-W05"]["score"], merged["2025-W05"]["rankable"]) == (0.0, False)
    assert merged["2025-05"]["rankable"] is False and merged["2025-06"]["rankable"] is True
    kept = by_key(follow_territory(frame, crosswalk, "10001", NEW_FROM, MIN_VOLUME))
    # A and half of B: 12 + 7 received, 12 + 7 base; its own July ranked, its own straddling week not
    assert kept["2025-W05"]["rankable"] is True and kept["2025-W05"]["reconstructed"] is True
    assert (kept["2025-07"]["rankable"], kept["2025-W27"]["rankable"]) == (True, False)
    # half of B alone in the straddling week: 3 + 3
    assert by_key(follow_territory(frame, crosswalk, "20002", NEW_FROM, MIN_VOLUME))["2025-W27"]["rankable"] is False


def test_a_third_of_thirty_dossiers_is_ten():
    # shares carry 12 significant digits: 30 x 0.333333333333 = 9.99999999999
    third = pl.DataFrame([("10002", OLD_FROM, new, NEW_FROM, 0.333333333333) for new in ("20002", "20003", "20004")],
                         schema=CROSSWALK_SCHEMA, orient="row")
    june = ("month", "2025-06", date(2025, 6, 1))
    frame = pl.DataFrame([sb_row("10002", OLD_FROM, *june, received=15, finished=15, on_time=15,
                                 timeliness_base=15, score=90.0, rank=1, ranked=True)], schema=SCOREBOARD_COLUMNS)
    rebuilt = reconstruct(frame, third, MIN_VOLUME)
    assert rebuilt["rankable"].to_list() == [True] * 3
    assert reconstruct(frame, third, 11)["rankable"].to_list() == [False] * 3


def test_without_a_crosswalk_a_unit_has_its_own_rows_only(crosswalk):
    empty = crosswalk.clear()
    series = follow_territory(scoreboard(), empty, "10001", NEW_FROM, MIN_VOLUME)
    assert series["period_key"].to_list() == ["2025-07", "2025-W27"]
    assert not series["reconstructed"].any()
    # an old unit has no predecessors either
    assert follow_territory(scoreboard(), crosswalk, "10002", OLD_FROM, MIN_VOLUME)["period_key"].to_list() == [
        "2025-06", "2025-07", "2025-W27"]


def test_codes_keep_leading_zeros(crosswalk):
    assert "00005" in crosswalk["old_code"].to_list()
    assert crosswalk.schema["old_code"] == pl.Utf8 and crosswalk.schema["new_valid_from"] == pl.Date


@pytest.mark.parametrize(
    "body, line, reason",
    [
        ("10001,2008-08-01,10001,2025-07-01,0\n", 2, "share 0 is not in (0, 1]"),
        ("10001,2008-08-01,10001,2025-07-01,1.5\n", 2, "share 1.5 is not in (0, 1]"),
        ("10001,2008-08-01,10001,2025-07-01,half\n", 2, "share 'half' is not a number"),
        ("10001,2008-08-01,10001,2025-07-01,1\n10002,2008-08-01,20002,2025-07-01,0.9\n", 3,
         "shares of old unit 10002 valid from 2008-08-01 sum to 0.9, not 1"),
        ("10001,2008-08-01,10001,2025-07-01,1\n5,2025-01-01,20003,2025-07-01,1\n", 3,
         "old unit 5 valid from 2025-01-01 is not in the registry"),
        ("10001,2008-08-01,99999,2025-07-01,1\n", 2, "new unit 99999 valid from 2025-07-01 is not in the registry"),
        ("10001,2025-07-01,20002,2025-07-01,1\n", 2, "old unit 10001 ends never, not the day before 2025-07-01"),
        ("10001,2008-08-01,10001,2008-08-01,1\n", 2, "old unit 10001 ends 2025-06-30, not the day before 2008-08-01"),
        ("10001,01/08/2008,10001,2025-07-01,1\n", 2, "old_valid_from '01/08/2008' is not an ISO date"),
        ("10001,2008-02-30,10001,2025-07-01,1\n", 2, "old_valid_from '2008-02-30' is not a date"),
        ("1000A,2008-08-01,10001,2025-07-01,1\n", 2, "old_code '1000A' is not a code of digits"),
        ("10002,2008-08-01,20002,2025-07-01,0.5\n10002,2008-08-01,20002,2025-07-01,0.5\n", 3,
         "10002 -> 20002 is listed twice"),
    ],
)
def test_bad_rows_are_named(tmp_path, registry, body, line, reason):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(CrosswalkError) as err:
        load_crosswalk(path, registry)
    assert str(err.value).startswith(f"bad.csv: line {line}: ")
    assert reason in str(err.value)


def test_bad_header(tmp_path, registry):
    path = tmp_path / "bad.csv"
    path.write_text("old,new,share\n10001,10001,1\n", encoding="utf-8")
    with pytest.raises(CrosswalkError, match=r"^bad.csv: line 1: columns must be old_code,old_valid_from"):
        load_crosswalk(path, registry)


def chart_data(page: Path) -> dict:
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.read_text(encoding="utf-8"), re.S)
    (data,) = [json.loads(s) for s in scripts if s.strip().startswith("{")]
    return data


def test_the_unit_page_shows_the_reconstructed_scores(tmp_path, crosswalk):
    july = ("month", "2025-07", date(2025, 7, 1))
    frame = pl.concat([
        scoreboard(),
        pl.DataFrame([
            sb_row("20002", NEW_FROM, *july, received=12, score=61.0, rank=2, ranked=True),
            sb_row("20003", NEW_FROM, *july, received=30, score=75.0, rank=1, ranked=True),
        ], schema=SCOREBOARD_COLUMNS),
    ]).with_columns(band=pl.lit("Khá"))
    build_site(tmp_path / "site", frame, profile=DEFAULT_PROFILE, manifest={"inputs": []}, crosswalk=crosswalk)
    units = tmp_path / "site" / "units"

    def history(code: str, valid_from: date) -> tuple[list[str], list[dict], list[dict]]:
        data = chart_data(units / f"{unit_slug(code, valid_from)}.html")
        points = data["datasets"]["history"]
        return ([c["spec"] for c in data["charts"]], [h for h in points if h.get("x")],
                [h for h in points if not h.get("x")])

    # kept its code: A and half of B before, its own rows after; ranks only on its own points
    specs, rebuilt, own = history("10001", NEW_FROM)
    assert specs == ["unit-score-reconstructed", "unit-rank"]
    assert rebuilt == [{"d": "2025-06-01", "t": "month", "s": 65.0, "r": None, "x": 1}]
    assert own == [
        {"d": "2025-07-01", "t": "month", "s": 70.0, "r": 3},
        {"d": "2025-06-30", "t": "week", "s": 88.0, "r": None},
    ]
    # the other half of B, also in the week that straddles the reform: 3 + 3 dossiers there,
    # too few to be ranked, so no score drawn
    specs, rebuilt, own = history("20002", NEW_FROM)
    assert rebuilt == [
        {"d": "2025-06-01", "t": "month", "s": 50.0, "r": None, "x": 1},
        {"d": "2025-06-30", "t": "week", "s": None, "r": None, "x": 1},
    ]
    assert own == [{"d": "2025-07-01", "t": "month", "s": 61.0, "r": 2}]
    # the merge of three (in May, 3 dossiers: not drawn)
    specs, rebuilt, own = history("20003", NEW_FROM)
    assert [(h["d"], h["s"]) for h in rebuilt] == [("2025-05-01", None), ("2025-06-01", 67.5)]
    assert own == [{"d": "2025-07-01", "t": "month", "s": 75.0, "r": 1}]

    # an old unit's page is as before: its own points only, the plain spec
    specs, rebuilt, own = history("10002", OLD_FROM)
    assert specs == ["unit-score", "unit-rank"] and rebuilt == []
    assert [h["d"] for h in own] == ["2025-06-01", "2025-07-01", "2025-06-30"]

    # the shared specs carry the paler series and its legend in both languages
    charts_js = (tmp_path / "site" / "assets" / "charts.js").read_text(encoding="utf-8")
    assert "unit-score-reconstructed" in charts_js
    assert "Dựng lại từ các đơn vị trước sắp xếp (không xếp hạng)" in charts_js
    assert "Reconstructed from the units before the reform (not ranked)" in charts_js


def test_the_unit_page_leaves_a_reconstructed_period_too_small_to_rank_blank(tmp_path, crosswalk):
    # the Tết week had been drawn at 0 on Phường Hợp Nhất's page, its predecessors' few late dossiers
    july = ("month", "2025-07", date(2025, 7, 1))
    frame = pl.concat([
        scoreboard(), tet_week(),
        pl.DataFrame([sb_row("20003", NEW_FROM, *july, received=30, score=75.0, rank=1, ranked=True)],
                     schema=SCOREBOARD_COLUMNS),
    ]).with_columns(band=pl.lit("Khá"))
    build_site(tmp_path / "site", frame, profile=DEFAULT_PROFILE, manifest={"inputs": []}, crosswalk=crosswalk)
    data = chart_data(tmp_path / "site" / "units" / f"{unit_slug('20003', NEW_FROM)}.html")
    rebuilt = {h["d"]: h["s"] for h in data["datasets"]["history"] if h.get("x")}
    assert rebuilt == {"2025-01-27": None, "2025-05-01": None, "2025-06-01": 67.5}
    assert data["charts"][0]["spec"] == "unit-score-reconstructed"
    # A and half of B were enough to rank in that week: drawn, (90 x 12 + 60 x 7) / 19
    data = chart_data(tmp_path / "site" / "units" / f"{unit_slug('10001', NEW_FROM)}.html")
    rebuilt = {h["d"]: h["s"] for h in data["datasets"]["history"] if h.get("x")}
    assert rebuilt["2025-01-27"] == pytest.approx((90 * 12 + 60 * 7) / 19, abs=0.005)


def test_without_a_crosswalk_the_new_unit_starts_at_the_reform(tmp_path):
    build_site(tmp_path / "site", scoreboard().with_columns(band=pl.lit("Khá")), profile=DEFAULT_PROFILE, manifest={"inputs": []})
    new = chart_data(tmp_path / "site" / "units" / f"{unit_slug('10001', NEW_FROM)}.html")
    assert new["charts"][0]["spec"] == "unit-score"
    assert [h["d"] for h in new["datasets"]["history"]] == ["2025-07-01", "2025-06-30"]


def test_a_reconstructed_score_on_a_half_is_one_point_however_its_sum_was_ordered():
    # the mean of 71.62 and 71.63: two orders of the same sum land either side of the half
    from dashboards.pages.unit import history_json

    below, above = 71.62499999999999, 71.62500000000001
    rebuilt = pl.DataFrame({
        "unit_code": ["1", "2"], "unit_valid_from": [NEW_FROM, NEW_FROM], "period_type": ["month", "month"],
        "period_start": [date(2025, 6, 1)] * 2, "score": [below, above], "rankable": [True, True],
    })
    history = pl.DataFrame(schema={"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "period_type": pl.Utf8,
                                   "period_start": pl.Date, "ranked": pl.Boolean, "rank": pl.Int64, "score": pl.Float64})
    points = {code: json.loads(text) for (code, _), (text, _, _) in history_json(history, rebuilt).items()}
    assert points["1"] == points["2"] == [{"d": "2025-06-01", "r": None, "s": 71.63, "t": "month", "x": 1}]
