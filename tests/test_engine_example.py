"""The worked example of scoreboard.md, number by number, through the pure engine."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from tests.helpers import (
    DEFAULT_PROFILE_PATH,
    EXAMPLE,
    assert_frames_match,
    read_example_dossiers,
    read_expected_scoreboard,
)
from transforms.calendar import working_calendar
from transforms.periods import index_of, make_periods
from transforms.profile import load_profile
from transforms.score import score_periods
from transforms.units import load_registry

NOW = datetime(2026, 11, 22, 9, 0)
LATEST_EVENT = datetime(2024, 2, 7, 15, 0)


@pytest.fixture(scope="module")
def example_scores() -> dict[str, pl.DataFrame]:
    dossiers = read_example_dossiers()
    units = load_registry(EXAMPLE / "units.csv")
    calendar = working_calendar(date(2023, 1, 1), date(2025, 12, 31))
    profile = load_profile(DEFAULT_PROFILE_PATH)
    out = {}
    for period_type, first, last in (
        ("month", date(2024, 1, 1), date(2024, 2, 1)),
        ("week", date(2024, 1, 1), date(2024, 2, 26)),
    ):
        periods = make_periods(
            period_type, index_of(period_type, first), index_of(period_type, last),
            latest_event=LATEST_EVENT, now=NOW,
        )
        out[period_type] = score_periods(dossiers, units, profile, period_type, periods, calendar)
    return out


def test_months_match_the_worked_example(example_scores):
    expected = read_expected_scoreboard().filter(pl.col("period_type") == "month")
    assert_frames_match(example_scores["month"], expected, ["period_key", "level", "unit_code"])


def test_weeks_match_the_worked_example(example_scores):
    expected = read_expected_scoreboard().filter(pl.col("period_type") == "week")
    assert_frames_match(example_scores["week"], expected, ["period_key", "level", "unit_code"])


def test_soc_son_rounds_to_ninety_and_ranks_first(example_scores):
    row = example_scores["month"].filter(
        (pl.col("period_key") == "2024-01") & (pl.col("unit_code") == "002")
    ).row(0, named=True)
    assert row["score"] < 90  # 89.99999999999999 in floating point
    assert row["band"] == "Xuất sắc"
    assert row["rank"] == 1
