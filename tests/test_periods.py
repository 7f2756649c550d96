from datetime import date, datetime

import polars as pl
import pytest

from transforms.periods import (
    covered_range,
    index_expr,
    index_of,
    key_of,
    make_periods,
    parse_key,
    partition_key,
    start_of,
)


def test_weeks_start_on_monday_and_use_iso_keys():
    idx = index_of("week", date(2024, 2, 14))  # a Wednesday
    assert start_of("week", idx) == date(2024, 2, 12)
    assert key_of("week", idx) == "2024-W07"
    assert partition_key("week", idx) == "2024-02-12"
    # 2016-01-04 is the first week of history: ISO week 1 of 2016
    assert key_of("week", index_of("week", date(2016, 1, 4))) == "2016-W01"
    # ISO year differs from the calendar year at the edges
    assert key_of("week", index_of("week", date(2024, 12, 31))) == "2025-W01"
    assert key_of("week", index_of("week", date(2021, 1, 3))) == "2020-W53"


def test_sunday_belongs_to_the_week_that_began_on_monday():
    assert index_of("week", date(2024, 2, 18)) == index_of("week", date(2024, 2, 12))
    assert index_of("week", date(2024, 2, 19)) == index_of("week", date(2024, 2, 12)) + 1


def test_month_keys_round_trip():
    idx = index_of("month", date(2024, 2, 29))
    assert key_of("month", idx) == "2024-02"
    assert parse_key("2024-02") == ("month", idx)
    assert start_of("month", idx + 11) == date(2025, 1, 1)


@pytest.mark.parametrize(
    "key,expected",
    [("2024-W07", ("week", index_of("week", date(2024, 2, 12)))),
     ("2024-02-12", ("week", index_of("week", date(2024, 2, 12)))),
     ("2020-W53", ("week", index_of("week", date(2020, 12, 28))))],
)
def test_parse_week_keys(key, expected):
    assert parse_key(key) == expected


@pytest.mark.parametrize("bad", ["2024-13", "2024-W54", "2024-02-13", "last month"])
def test_parse_rejects_nonsense_with_a_sentence(bad):
    with pytest.raises(ValueError, match=bad):
        parse_key(bad)


def test_index_expr_matches_python():
    days = [date(2016, 1, 3), date(2016, 1, 4), date(2024, 2, 18), date(2024, 2, 19), date(1969, 12, 31)]
    frame = pl.DataFrame({"d": days}).with_columns(ts=pl.col("d").cast(pl.Datetime("us")) + pl.duration(hours=23))
    for kind in ("week", "month"):
        got = frame.select(index_expr(kind, "ts")).to_series().to_list()
        assert got == [index_of(kind, d) for d in days]


def test_period_in_progress_is_provisional_and_cut_at_the_latest_event():
    now = datetime(2026, 11, 22, 9, 0)
    latest = datetime(2026, 11, 20, 16, 30)
    periods = make_periods("month", index_of("month", date(2026, 10, 1)), index_of("month", date(2026, 11, 1)),
                           latest_event=latest, now=now)
    assert [p.provisional for p in periods] == [False, True]
    assert periods[0].cutoff == datetime(2026, 11, 1)
    assert periods[1].cutoff == datetime(2026, 11, 20, 16, 30, 0, 1)


def test_a_period_that_has_not_started_for_the_data_is_not_published():
    now = datetime(2026, 11, 25, 9, 0)  # in week 2026-W48
    latest = datetime(2026, 11, 20, 16, 30)  # in week 2026-W47
    periods = make_periods("week", index_of("week", date(2026, 11, 16)), index_of("week", date(2026, 11, 23)),
                           latest_event=latest, now=now)
    assert [p.key for p in periods] == ["2026-W47"]
    assert not periods[0].provisional


def test_covered_range_spans_whole_months_and_their_weeks():
    assert covered_range("month", date(2024, 1, 2), date(2024, 2, 7)) == (
        index_of("month", date(2024, 1, 1)), index_of("month", date(2024, 2, 1)))
    lo, hi = covered_range("week", date(2024, 1, 2), date(2024, 2, 7))
    assert (key_of("week", lo), key_of("week", hi)) == ("2024-W01", "2024-W09")
