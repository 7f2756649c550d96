"""Working days (scoreboard.md), with values worked out by hand."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from transforms.calendar import (
    OVERLAY_SCHEMA,
    add_working_days,
    calendar_version,
    load_overlay,
    working_calendar,
    working_days_between,
)


@pytest.fixture(scope="module")
def cal() -> pl.DataFrame:
    return working_calendar(date(2016, 1, 1), date(2026, 12, 31))


def is_working(cal: pl.DataFrame, day: date) -> bool:
    return cal.filter(pl.col("date") == day)["is_working_day"].item()


def between(cal: pl.DataFrame, start, end) -> int | None:
    frame = pl.DataFrame({"start": [start], "end": [end]})
    return working_days_between(frame, "start", "end", cal)["working_days"].item()


def plus(cal: pl.DataFrame, start, days) -> date | None:
    frame = pl.DataFrame({"start": [start], "days": [days]}, schema_overrides={"days": pl.Int64})
    return add_working_days(frame, "start", "days", cal, out="due")["due"].item()


# --- the overlay ---------------------------------------------------------------------------------


def test_overlay_schema_and_required_swaps() -> None:
    overlay = load_overlay()
    assert overlay.schema == pl.Schema(OVERLAY_SCHEMA)
    kinds = dict(zip(overlay["date"], overlay["kind"]))
    assert kinds[date(2025, 5, 2)] == "day_off"
    assert kinds[date(2025, 4, 26)] == "working_day"
    assert kinds[date(2026, 1, 2)] == "day_off"
    assert kinds[date(2026, 1, 10)] == "working_day"
    assert overlay["note"].is_not_null().all()
    assert overlay["date"].is_sorted()


def test_overlay_notes_write_dates_as_pages_do() -> None:
    """The notes are shown on the methodology page as written: every date in them is
    dd/mm/yyyy (or dd/mm for a holiday's name, 30/04 - 01/05), as everywhere on the site."""
    overlay = load_overlay()
    for note in [*overlay["note"], *overlay["note_en"].drop_nulls()]:
        dates = re.findall(r"(?<![\w/])\d{1,4}(?:/\d{1,4})+(?![\w/])", note)
        dates = [d for d in dates if not re.search(r"[A-Za-zĐđ-]", d)]
        assert dates, note  # every note names its days
        assert all(re.fullmatch(r"\d{2}/\d{2}(?:/\d{4})?", d) for d in dates), (note, dates)


def test_overlay_days_are_weekdays_and_saturdays() -> None:
    overlay = load_overlay()
    assert overlay["date"].min() >= date(2016, 1, 1)
    offs = overlay.filter(pl.col("kind") == "day_off")["date"]
    works = overlay.filter(pl.col("kind") == "working_day")["date"]
    assert (offs.dt.weekday() <= 5).all()
    assert (works.dt.weekday() == 6).all()
    assert offs.len() == works.len()  # every swap gives one day and takes one back


def test_overlay_rejects_bad_files(tmp_path) -> None:
    bad_kind = tmp_path / "bad_kind.csv"
    bad_kind.write_text("date,kind,note\n2025-05-02,holiday,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="kind"):
        load_overlay(bad_kind)
    dupe = tmp_path / "dupe.csv"
    dupe.write_text("date,kind,note\n2025-05-02,day_off,x\n2025-05-02,working_day,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="more than once"):
        load_overlay(dupe)
    bad_date = tmp_path / "bad_date.csv"
    bad_date.write_text("date,kind,note\n02/05/2025,day_off,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="date"):
        load_overlay(bad_date)


# --- the calendar --------------------------------------------------------------------------------


def test_calendar_shape(cal: pl.DataFrame) -> None:
    assert cal.columns == ["date", "is_working_day", "working_days_before"]
    assert cal.dtypes == [pl.Date, pl.Boolean, pl.Int64]
    assert cal.height == (date(2026, 12, 31) - date(2016, 1, 1)).days + 1
    assert cal["working_days_before"][0] == 0
    flags = cal["is_working_day"].cast(pl.Int64)
    assert (cal["working_days_before"].diff().drop_nulls() == flags.shift(1).drop_nulls()).all()


def test_tet_2024(cal: pl.DataFrame) -> None:
    # Tết Giáp Thìn: public servants off Thursday 08/02 to Wednesday 14/02/2024.
    for offset in range(7):
        assert not is_working(cal, date(2024, 2, 8) + timedelta(days=offset))
    assert is_working(cal, date(2024, 2, 7))
    assert is_working(cal, date(2024, 2, 15))
    # Wednesday 07/02 to Thursday 15/02: only the 7th itself.
    assert between(cal, date(2024, 2, 7), date(2024, 2, 15)) == 1


def test_swap_2025(cal: pl.DataFrame) -> None:
    assert not is_working(cal, date(2025, 5, 2))  # Friday given off
    assert is_working(cal, date(2025, 4, 26))  # Saturday worked
    assert not is_working(cal, date(2025, 4, 30))
    assert not is_working(cal, date(2025, 5, 1))
    # Week of Monday 21/04: Mon-Fri + Saturday 26/04 = 6.
    assert between(cal, date(2025, 4, 21), date(2025, 4, 28)) == 6
    # Week of Monday 28/04: Mon 28, Tue 29 only.
    assert between(cal, date(2025, 4, 28), date(2025, 5, 5)) == 2


def test_swap_2026(cal: pl.DataFrame) -> None:
    assert not is_working(cal, date(2026, 1, 1))
    assert not is_working(cal, date(2026, 1, 2))  # Friday given off
    assert is_working(cal, date(2026, 1, 10))  # Saturday worked
    assert between(cal, date(2025, 12, 29), date(2026, 1, 5)) == 3  # Mon 29, Tue 30, Wed 31
    assert between(cal, date(2026, 1, 5), date(2026, 1, 12)) == 6


def test_overlay_is_what_adds_the_2026_swap() -> None:
    empty = pl.DataFrame(schema=OVERLAY_SCHEMA)
    bare = working_calendar(date(2026, 1, 1), date(2026, 1, 31), overlay=empty)
    flags = dict(zip(bare["date"], bare["is_working_day"]))
    assert flags[date(2026, 1, 2)] is True
    assert flags[date(2026, 1, 10)] is False


def test_a_plain_week(cal: pl.DataFrame) -> None:
    assert between(cal, date(2024, 3, 4), date(2024, 3, 11)) == 5
    assert between(cal, date(2024, 3, 9), date(2024, 3, 16)) == 5  # Saturday to Saturday


def test_working_days_in_2024(cal: pl.DataFrame) -> None:
    # 262 weekdays; off: 01/01, Tết 08-09 and 12-14/02, 18/04, 29-30/04, 01/05, 02-03/09 (12);
    # plus Saturday 04/05 worked.
    year = cal.filter(pl.col("date").dt.year() == 2024)
    assert year["is_working_day"].sum() == 262 - 12 + 1


# --- working_days_between ------------------------------------------------------------------------


def test_spec_example(cal: pl.DataFrame) -> None:
    # Received Tuesday 02/01/2024, ended Monday 08/01/2024: Tue, Wed, Thu, Fri.
    assert between(cal, datetime(2024, 1, 2, 9, 30), datetime(2024, 1, 8, 16, 0)) == 4
    assert between(cal, date(2024, 1, 2), date(2024, 1, 8)) == 4


def test_same_day_and_reversed(cal: pl.DataFrame) -> None:
    assert between(cal, datetime(2024, 1, 2, 8), datetime(2024, 1, 2, 17)) == 0
    assert between(cal, date(2024, 1, 8), date(2024, 1, 2)) == 0


def test_nulls(cal: pl.DataFrame) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "received_at": [datetime(2024, 1, 2, 9), None, datetime(2024, 1, 2, 9), None],
            "end": [datetime(2024, 1, 8, 10), datetime(2024, 1, 8, 10), None, None],
        }
    )
    result = working_days_between(frame, "received_at", "end", cal)
    assert result.columns == ["id", "received_at", "end", "working_days"]
    assert result["id"].to_list() == [1, 2, 3, 4]
    assert result["working_days"].to_list() == [4, None, None, None]
    assert result["working_days"].dtype == pl.Int64


def test_mixed_types_order_and_custom_name(cal: pl.DataFrame) -> None:
    frame = pl.DataFrame(
        {
            "received_at": [datetime(2024, 2, 7, 10), datetime(2024, 1, 2, 9), datetime(2025, 4, 25, 8)],
            "due": [date(2024, 2, 16), date(2024, 1, 8), date(2025, 5, 5)],
        }
    )
    result = working_days_between(frame, "received_at", "due", cal, out="wd")
    # 07/02 + 15/02 = 2; spec example = 4; Fri 25/04 + Sat 26/04 + Mon 28 + Tue 29 = 4.
    assert result["wd"].to_list() == [2, 4, 4]


def test_time_zone_aware_datetimes_use_local_dates(cal: pl.DataFrame) -> None:
    frame = pl.DataFrame(
        {"start": [datetime(2024, 1, 1, 20, 0)], "end": [datetime(2024, 1, 8, 1, 0)]}
    ).with_columns(pl.all().dt.replace_time_zone("UTC"))
    # 20:00Z on 01/01 is 03:00 on 02/01 in Hà Nội.
    assert working_days_between(frame, "start", "end", cal)["working_days"].item() == 4


def test_dates_outside_the_calendar() -> None:
    short = working_calendar(date(2024, 1, 1), date(2024, 1, 31))
    frame = pl.DataFrame(
        {"start": [date(2024, 1, 2), date(2024, 1, 2), date(2023, 12, 1)],
         "end": [date(2024, 1, 31), date(2024, 3, 1), date(2024, 1, 8)]}
    )
    # 2024-01-31 is in the calendar: counted up to (not including) it.
    assert working_days_between(frame, "start", "end", short)["working_days"].to_list() == [21, None, None]
    with pytest.raises(ValueError, match="outside the calendar"):
        working_days_between(frame, "start", "end", short, outside="raise")
    # A row with a null date does not make the check fail.
    partial = pl.DataFrame({"start": [None, date(2024, 1, 2)], "end": [date(2024, 3, 1), date(2024, 1, 8)]},
                           schema={"start": pl.Date, "end": pl.Date})
    assert working_days_between(partial, "start", "end", short, outside="raise")["working_days"].to_list() == [
        None, 4,
    ]


def test_empty_frame(cal: pl.DataFrame) -> None:
    frame = pl.DataFrame(schema={"start": pl.Datetime("us"), "end": pl.Datetime("us")})
    result = working_days_between(frame, "start", "end", cal)
    assert result.height == 0 and result.schema["working_days"] == pl.Int64


# --- add_working_days ----------------------------------------------------------------------------


def test_add_working_days(cal: pl.DataFrame) -> None:
    assert plus(cal, datetime(2024, 1, 2, 9), 3) == date(2024, 1, 5)  # Tue + 3 = Fri
    assert plus(cal, datetime(2024, 1, 2, 9), 4) == date(2024, 1, 8)  # over the weekend
    assert plus(cal, datetime(2024, 1, 2, 9), 0) == date(2024, 1, 2)  # same day
    assert plus(cal, date(2024, 1, 6), 1) == date(2024, 1, 8)  # received on Saturday
    assert plus(cal, date(2024, 2, 7), 1) == date(2024, 2, 15)  # across Tết
    assert plus(cal, date(2025, 4, 25), 1) == date(2025, 4, 26)  # the make-up Saturday
    assert plus(cal, date(2025, 4, 29), 1) == date(2025, 5, 5)  # 30/04-04/05 off
    assert plus(cal, date(2025, 12, 31), 1) == date(2026, 1, 5)


def test_add_working_days_nulls_and_negatives(cal: pl.DataFrame) -> None:
    frame = pl.DataFrame(
        {
            "received_at": [datetime(2024, 1, 2, 9), None, datetime(2024, 1, 2, 9), datetime(2024, 1, 2, 9)],
            "processing_days": [3, 3, None, -1],
        }
    )
    result = add_working_days(frame, "received_at", "processing_days", cal, out="due")
    assert result.columns == ["received_at", "processing_days", "due"]
    assert result["due"].to_list() == [date(2024, 1, 5), None, None, None]
    assert result["due"].dtype == pl.Date


def test_add_then_count_round_trips(cal: pl.DataFrame) -> None:
    # For n >= 1, the due date is the n-th working day after receipt: counting from the
    # day after receipt up to and including the due date gives n.
    starts = [date(2024, 1, 2), date(2024, 2, 6), date(2025, 4, 24), date(2025, 12, 30), date(2024, 1, 6)]
    frame = pl.DataFrame({"start": starts * 3, "n": [1] * 5 + [5] * 5 + [15] * 5})
    due = add_working_days(frame, "start", "n", cal, out="due")
    counted = working_days_between(
        due.with_columns(
            (pl.col("start") + pl.duration(days=1)).alias("from"),
            (pl.col("due") + pl.duration(days=1)).alias("to"),
        ),
        "from", "to", cal,
    )
    assert (counted["working_days"] == counted["n"]).all()


def test_add_beyond_the_calendar_raises() -> None:
    short = working_calendar(date(2024, 1, 1), date(2024, 1, 31))
    frame = pl.DataFrame({"start": [date(2024, 1, 30)], "n": [10]})
    with pytest.raises(ValueError, match="calendar"):
        add_working_days(frame, "start", "n", short)


# --- version -------------------------------------------------------------------------------------


def test_calendar_version(tmp_path) -> None:
    version = calendar_version()
    assert version.startswith("holidays-") and "+overlay-" in version
    assert version == calendar_version()
    other = tmp_path / "overlay.csv"
    other.write_text("date,kind,note\n2030-01-02,day_off,x\n", encoding="utf-8")
    assert calendar_version(other) != version
    assert len(version.split("+overlay-")[1]) == 12
