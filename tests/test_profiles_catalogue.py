"""Configuration as data: another profile, a procedure catalogue, no code change."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime

import polars as pl
import pytest

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import DEFAULT_PROFILE_PATH, EXAMPLE, read_example_dossiers, read_expected_scoreboard
from tests.test_pipeline_e2e import read_published
from transforms.calendar import working_calendar
from transforms.periods import index_of, make_periods
from transforms.profile import ProfileError, load_profile, parse_profile
from transforms.schema import scoreboard_schema
from transforms.score import score_periods
from transforms.units import load_registry

NARROW = config_path("profiles", "timeliness_online.yaml")


def january(profile, catalogue=None):
    periods = make_periods("month", index_of("month", date(2024, 1, 1)), index_of("month", date(2024, 1, 1)),
                           latest_event=datetime(2024, 2, 7, 15), now=datetime(2026, 1, 1))
    cal = working_calendar(date(2023, 1, 1), date(2025, 1, 1))
    return score_periods(read_example_dossiers(), load_registry(EXAMPLE / "units.csv"), profile, "month",
                         periods, cal, catalogue)


def unit(frame, code):
    return frame.filter(pl.col("unit_code") == code).row(0, named=True)


def test_the_narrow_profile_scores_only_timeliness_and_online():
    out = january(load_profile(NARROW))
    ba_dinh = unit(out, "001")
    # 60 × 8/11 + 40 × min(1, (1/3) / 0.8) = 43.6364 + 16.6667
    assert ba_dinh["score"] == pytest.approx(60 * 8 / 11 + 40 * (1 / 3) / 0.8)
    # only the profile's two groups are columns, each with its applicable maximum
    assert [c for c in out.columns if "points_" in c] == [
        "points_timeliness", "points_online", "max_points_timeliness", "max_points_online"
    ]
    assert (ba_dinh["points_timeliness"], ba_dinh["max_points_timeliness"]) == (pytest.approx(60 * 8 / 11), 60.0)
    soc_son = unit(out, "002")
    assert soc_son["score"] == pytest.approx(60 * 18 / 21 + 40 * (16 / 21) / 0.8)
    assert (soc_son["band"], soc_son["rank"], ba_dinh["band"], ba_dinh["rank"]) == ("Tốt", 1, "Trung bình", 2)  # 89.52 and 60.30


def test_bad_profiles_are_refused_with_a_sentence():
    bands = [{"label": "A", "min": None}]

    def refused(groups, match):
        with pytest.raises(ProfileError, match=match):
            parse_profile({"groups": groups, "bands": bands})

    # any group key that can name a column is a group; the rates are the engine's
    refused([{"key": "Tốc độ", "indicators": [{"rate": "on_time_rate", "max": 1}]}], "lower-case letters")
    refused([{"key": "speed", "indicators": [{"rate": "speed_rate", "max": 1}]}], "not one of")
    refused([{"key": "speed", "indicators": []}], "group speed has no indicators")
    refused([{"key": "speed", "indicators": [{"rate": "on_time_rate", "max": 1}]},
             {"key": "speed", "indicators": [{"rate": "online_rate", "max": 1}]}], "group speed is given twice")
    refused([{"key": "a", "indicators": [{"rate": "on_time_rate", "max": 1}]},
             {"key": "b", "indicators": [{"rate": "on_time_rate", "max": 1}]}], "on_time_rate is scored twice")
    refused([{"key": "a", "indicators": [{"rate": "apology_rate", "max": 1}]}], "not one of")  # shown only
    refused([{"key": "online", "indicators": [{"rate": "online_rate", "kind": "saturating", "max": 12}]}],
            "threshold")
    refused([], "no groups")


def catalogue(days: int) -> pl.DataFrame:
    return pl.DataFrame({"procedure_code": ["1.001776"], "processing_days": [days]})


def test_a_catalogue_gives_a_missing_due_date():
    default = unit(january(load_profile(DEFAULT_PROFILE_PATH)), "001")
    assert (default["no_deadline"], default["on_time"]) == (1, 2)
    # WX-009: received Wed 10/01, finished Mon 15/01 08:00. Three working days after
    # receipt is Mon 15/01 (date only: due at the end of that day): on time.
    three = unit(january(load_profile(DEFAULT_PROFILE_PATH), catalogue(3)), "001")
    assert (three["no_deadline"], three["on_time"], three["overdue"], three["timeliness_base"]) == (0, 3, 2, 12)
    # two working days is Fri 12/01: finished after it, overdue
    two = unit(january(load_profile(DEFAULT_PROFILE_PATH), catalogue(2)), "001")
    assert (two["no_deadline"], two["on_time"], two["overdue"]) == (0, 2, 3)


def test_changing_the_profile_rescores_every_period(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    common = dict(landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"))
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    narrow = run_pipeline(ScoreboardSettings.from_env(profile_path=str(NARROW), **common), warehouse)
    assert (narrow["weeks"], narrow["months"]) == (9, 2)
    got = read_published(tmp_path / "site", "2024-01", scoreboard_schema(load_profile(NARROW)))
    assert unit(got, "001")["score"] == pytest.approx(60 * 8 / 11 + 40 * (1 / 3) / 0.8)
    default = run_pipeline(ScoreboardSettings.from_env(**common), warehouse)
    assert (default["weeks"], default["months"]) == (9, 2)  # nothing new, but another profile
    got = read_published(tmp_path / "site", "2024-01").sort("unit_code")
    expected = read_expected_scoreboard().filter(pl.col("period_key") == "2024-01").sort("unit_code")
    assert got["score"].to_list() == pytest.approx(expected["score"].to_list())


def test_a_backfill_from_a_key_covers_every_period_a_run_would_to_the_end(tmp_path, monkeypatch):
    """`backfill --from 2024-02` with another profile re-scores February's every week a
    run publishes: to the end of the month of the last event (07/02), not to its week."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    common = dict(landing_dir=str(landing), registry_path=str(EXAMPLE / "units.csv"))
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    run_pipeline(ScoreboardSettings.from_env(site_dir=str(tmp_path / "site"), **common), warehouse)
    narrow = ScoreboardSettings.from_env(site_dir=str(tmp_path / "site"), profile_path=str(NARROW), **common)
    done = run_pipeline(narrow, warehouse, from_key="2024-02", backfill=True)
    assert (done["weeks"], done["months"]) == (5, 1)  # weeks 5 to 9, February
    fresh_landing = tmp_path / "fresh"
    fresh_landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", fresh_landing)
    fresh = ScoreboardSettings.from_env(site_dir=str(tmp_path / "fresh-site"), profile_path=str(NARROW),
                                        landing_dir=str(fresh_landing), registry_path=str(EXAMPLE / "units.csv"))
    run_pipeline(fresh, Warehouse(path=str(tmp_path / "fresh.duckdb")))
    schema = scoreboard_schema(load_profile(NARROW))
    for key in ("2024-W07", "2024-W09", "2024-02"):
        assert read_published(tmp_path / "site", key, schema).equals(read_published(tmp_path / "fresh-site", key, schema))


def test_band_floors_written_as_whole_and_decimal_numbers_score_and_publish(tmp_path, monkeypatch):
    """YAML reads `min: 90` as a whole number and `min: 50.5` as a decimal: a profile
    that mixes them scored, published its what-if and checked its bands at risk."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    text = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")
    assert "min: 50}" in text
    profile_path = tmp_path / "bands.yaml"
    profile_path.write_text(text.replace("min: 50}", "min: 50.5}"), encoding="utf-8")
    profile = load_profile(profile_path)
    assert [b.min_score for b in profile.bands] == [90.0, 80.0, 70.0, 50.5, None]
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    settings = ScoreboardSettings.from_env(landing_dir=str(landing), site_dir=str(tmp_path / "site"),
                                           registry_path=str(EXAMPLE / "units.csv"), profile_path=str(profile_path))
    out = run_pipeline(settings, Warehouse(path=str(tmp_path / "w.duckdb")))
    assert (out["weeks"], out["months"]) == (9, 2)
    got = read_published(tmp_path / "site", "2024-01", scoreboard_schema(profile)).sort("unit_code")
    expected = read_expected_scoreboard().filter(pl.col("period_key") == "2024-01").sort("unit_code")
    assert got["score"].to_list() == pytest.approx(expected["score"].to_list())
    assert (tmp_path / "site" / "data" / "what_if-2024-01.csv").exists()


def test_a_long_legal_time_in_the_catalogue_is_counted_to_its_end(tmp_path, monkeypatch):
    """A procedure whose legal time is 200 working days (some land procedures run that
    long): the whole run derives its missing due date, months after the period ends, and
    its dossier counts on time."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    catalogue(200).write_csv(tmp_path / "catalogue.csv")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"),
        catalogue_path=str(tmp_path / "catalogue.csv"),
    )
    summary = run_pipeline(settings, Warehouse(path=str(tmp_path / "w.duckdb")))
    assert (summary["weeks"], summary["months"]) == (9, 2)
    january_row = unit(read_published(tmp_path / "site", "2024-01"), "001")
    three_days = unit(january(load_profile(DEFAULT_PROFILE_PATH), catalogue(3)), "001")
    # WX-009, finished on the third working day, is early against a 200-day due date
    assert (january_row["no_deadline"], january_row["early"], january_row["overdue"]) == (
        0, three_days["early"] + 1, three_days["overdue"])


@pytest.mark.parametrize("days", ["15 ngày", "-1", "3000", "2.5"])
def test_a_catalogue_with_a_processing_time_that_is_not_working_days_is_refused(tmp_path, days):
    from transforms.classify import load_catalogue

    path = tmp_path / "catalogue.csv"
    path.write_text(f"procedure_code,processing_days\n1.000656,0\n1.001776,{days}\n1.000894,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"catalogue .*catalogue.csv, line 3: processing_days '{re.escape(days)}'"):
        load_catalogue(path)
    path.write_text("procedure_code,processing_days\n1.000656,0\n1.001776, 366 \n1.000894,\n", encoding="utf-8")
    assert load_catalogue(path).rows() == [("1.000656", 0), ("1.001776", 366)]  # a blank: no legal time
