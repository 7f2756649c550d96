"""The catalogue of groups and indicators is the profile: another set of groups
scores, validates, is stored and publishes with no code change."""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
import pytest

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import DEFAULT_PROFILE_PATH, EXAMPLE, read_expected_scoreboard
from tests.test_pipeline_e2e import read_published
from transforms.profile import load_profile, parse_profile
from transforms.schema import scoreboard_schema

NARROW = config_path("profiles", "timeliness_online.yaml")

# The one edit that adds a seventh group: e-results leave "digitization" for a group
# of their own, with its labels. (Same indicators and maxima: the same scores.)
DIGITIZATION = """      - {rate: digitized_rate, kind: linear, max: 12}
      - {rate: e_result_rate, kind: linear, max: 10}
"""
SEVENTH_GROUP = """      - {rate: digitized_rate, kind: linear, max: 12}
  - key: e_results
    label_vi: Trả kết quả điện tử
    label_en: Electronic results
    indicators:
      - {rate: e_result_rate, kind: linear, max: 10}
"""


def seven_group_profile(folder) -> str:
    text = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")
    assert text.count(DIGITIZATION) == 1
    path = folder / "seven.yaml"
    path.write_text(text.replace(DIGITIZATION, SEVENTH_GROUP), encoding="utf-8")
    return str(path)


def run_example(tmp_path, monkeypatch, profile_path: str):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"),
        profile_path=profile_path,
    )
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    summary = run_pipeline(settings, warehouse)
    return settings, warehouse, summary


def stored(warehouse: Warehouse, sql: str) -> pl.DataFrame:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.sql(sql).pl()


def test_the_catalogue_is_read_from_the_profile():
    profile = load_profile(DEFAULT_PROFILE_PATH)
    assert profile.group_keys == ("transparency", "timeliness", "online", "payment", "digitization", "satisfaction")
    assert [g.max_points for g in profile.groups] == [18, 20, 12, 10, 22, 18]
    digitization = profile.group("digitization")
    assert (digitization.label_vi, digitization.label_en) == ("Số hóa hồ sơ", "Digitisation")
    assert (digitization.points_column, digitization.max_points_column) == (
        "points_digitization", "max_points_digitization"
    )
    assert [(i.rate, i.max_points) for i in digitization.indicators] == [("digitized_rate", 12), ("e_result_rate", 10)]
    # an indicator's labels default to the rate's, and a profile may give its own
    assert profile.rate_label("e_result_rate") == ("Tỷ lệ trả kết quả điện tử", "E-result rate")
    relabelled = parse_profile({
        "groups": [{"key": "speed", "label_vi": "Tốc độ", "label_en": "Speed", "indicators": [
            {"rate": "on_time_rate", "max": 100, "label_vi": "Đúng hẹn", "label_en": "On schedule"}]}],
        "bands": [{"label": "A", "min": None}],
    })
    assert relabelled.rate_label("on_time_rate") == ("Đúng hẹn", "On schedule")
    assert relabelled.rate_label("apology_rate") == ("Tỷ lệ xin lỗi khi trễ hạn", "Apology rate")
    columns = list(scoreboard_schema(relabelled))
    assert columns[columns.index("avg_working_days") + 1:columns.index("score")] == ["points_speed"]
    assert columns[-1] == "max_points_speed" and columns[-2] == "provisional"


def test_a_seventh_group_is_one_profile_edit(tmp_path, monkeypatch):
    path = seven_group_profile(tmp_path)
    profile = load_profile(path)
    settings, warehouse, summary = run_example(tmp_path, monkeypatch, path)
    assert (summary["weeks"], summary["months"]) == (9, 2)
    expected = read_expected_scoreboard()

    # the warehouse stores the seventh group's points and applicable maximum
    rows = stored(warehouse, "SELECT * FROM scoreboard ORDER BY period_type, period_key, unit_code")
    assert {"points_e_results", "max_points_e_results"} <= set(rows.columns)
    both = rows.join(expected, on=["period_type", "period_key", "unit_code"], suffix="_766")
    assert both.height == expected.height == 44
    # the same indicators and maxima as Decision 766: the same scores, bands and ranks
    assert both["score"].to_list() == pytest.approx(both["score_766"].to_list(), nan_ok=True)
    assert both["rank"].to_list() == both["rank_766"].to_list()
    assert both["band"].to_list() == both["band_766"].to_list()
    # e-results carry their own points; digitisation keeps the digitised rate's
    ba_dinh = both.filter(pl.col("period_key") == "2024-01", pl.col("unit_code") == "001").row(0, named=True)
    assert ba_dinh["points_e_results"] == pytest.approx(10 * 8 / 9)
    assert ba_dinh["points_digitization"] == pytest.approx(12 * 8 / 9)
    assert (ba_dinh["max_points_e_results"], ba_dinh["max_points_digitization"]) == (10.0, 12.0)
    assert ba_dinh["points_digitization"] + ba_dinh["points_e_results"] == pytest.approx(
        ba_dinh["points_digitization_766"]
    )
    # where no e-result is known the group does not apply: no points, no maximum
    none_known = both.filter(pl.col("e_result_rate").is_null())
    assert none_known.height and none_known["points_e_results"].is_null().all()
    assert none_known["max_points_e_results"].is_null().all()

    # the published files carry the profile's columns, in its order; nothing was held
    for key in ("2024-01", "2024-W03"):
        got = read_published(settings.site, key, scoreboard_schema(profile))
        assert [c for c in got.columns if c.startswith("points_")] == [g.points_column for g in profile.groups]
    holds = stored(warehouse, "SELECT * FROM quality_holds")
    assert holds.height == 0
    # the weak points published beside the scoreboard carry the new group's indicator
    weak = pl.read_csv(settings.site / "data" / "weak_points-2024-01.csv", infer_schema=False)
    assert ("e_results", "e_result_rate") in weak.select("group", "indicator").unique().rows()
    assert (settings.site / "index.html").is_file()


def test_a_two_group_profile_publishes_two_groups(tmp_path, monkeypatch):
    profile = load_profile(NARROW)
    settings, warehouse, _ = run_example(tmp_path, monkeypatch, str(NARROW))
    rows = stored(warehouse, "SELECT * FROM scoreboard WHERE period_key = '2024-01' ORDER BY unit_code")
    ba_dinh = rows.filter(pl.col("unit_code") == "001").row(0, named=True)
    # 60 × 8/11 + 40 × min(1, (1/3) / 0.8)
    assert ba_dinh["points_timeliness"] == pytest.approx(60 * 8 / 11)
    assert ba_dinh["points_online"] == pytest.approx(40 * (1 / 3) / 0.8)
    assert (ba_dinh["max_points_timeliness"], ba_dinh["max_points_online"]) == (60.0, 40.0)
    got = read_published(settings.site, "2024-01", scoreboard_schema(profile))
    assert [c for c in got.columns if "points_" in c] == [
        "points_timeliness", "points_online", "max_points_timeliness", "max_points_online"
    ]
    assert got.filter(pl.col("unit_code") == "001")["score"][0] == pytest.approx(60 * 8 / 11 + 40 * (1 / 3) / 0.8)
    assert stored(warehouse, "SELECT * FROM quality_holds").height == 0
    assert (settings.site / "index.html").is_file()
