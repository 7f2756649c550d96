"""Vietnam's working-day calendar for public servants (scoreboard.md, "working days").

A working day is a Monday to Friday that is not a public holiday, nor an extra
day off the government grants public servants, plus the Saturdays it declares
working days in exchange. Two sources make the calendar:

* the ``holidays`` package: statutory holidays of the Labour Code (Tết
  Dương lịch, the five Tết days, Giỗ Tổ, 30/4, 1/5, the two Quốc khánh days),
  their in-lieu days when they fall on a weekend, and the swaps it happens to
  know (its ``weekend_workdays`` are honoured as working days too);
* the overlay ``config/calendar/vn_overlay.csv`` (``date,kind,note,note_en``): every
  swap the government announced for public servants, ``day_off`` (a weekday
  given off) or ``working_day`` (a Saturday worked in exchange). The overlay
  wins over the package. See ``config/calendar/README.md``.

Everything here is vectorised Polars; no Dagster import.
"""

from __future__ import annotations

import functools

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import holidays
import polars as pl

from config import config_path
from transforms.schema import LOCAL_TZ

OVERLAY_KINDS = ("day_off", "working_day")
# How far past the last day it is built for a working-day calendar reaches, at the least:
# due dates derived from legal processing times (transforms.classify) and due dates files
# promise (quality.drift.duration) are counted inside it.
AHEAD_DAYS = 400
# `note` is Vietnamese, `note_en` its English (the methodology page shows both); either may be empty
OVERLAY_SCHEMA: dict[str, pl.DataType] = {"date": pl.Date(), "kind": pl.Utf8(), "note": pl.Utf8(), "note_en": pl.Utf8()}
CALENDAR_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "is_working_day": pl.Boolean(),
    "working_days_before": pl.Int64(),
}


def default_overlay_path() -> Path:
    return config_path("calendar", "vn_overlay.csv")


def load_overlay(path: Path | None = None) -> pl.DataFrame:
    """The overlay as (date: Date, kind: Utf8, note: Utf8, note_en: Utf8), sorted by date;
    a note column the file lacks is null.

    Raises ``ValueError`` on an unreadable date, an unknown kind or a date
    listed twice.
    """
    path = Path(path) if path is not None else default_overlay_path()
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    missing = {"date", "kind"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: overlay lacks column(s) {sorted(missing)}")
    raw = raw.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c) for c in ("note", "note_en") if c not in raw.columns)
    frame = raw.select(
        pl.col("date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("date"),
        pl.col("date").alias("_raw_date"),
        pl.col("kind").str.strip_chars().str.to_lowercase().alias("kind"),
        pl.col("note").str.strip_chars().alias("note"),
        pl.col("note_en").str.strip_chars().alias("note_en"),
    )
    bad_dates = frame.filter(pl.col("date").is_null())["_raw_date"].to_list()
    if bad_dates:
        raise ValueError(f"{path}: unreadable date(s) {bad_dates} (expected YYYY-MM-DD)")
    bad_kinds = frame.filter(~pl.col("kind").is_in(OVERLAY_KINDS) | pl.col("kind").is_null())["kind"].to_list()
    if bad_kinds:
        raise ValueError(f"{path}: unknown kind(s) {bad_kinds}; expected one of {OVERLAY_KINDS}")
    dupes = frame.filter(pl.col("date").is_duplicated())["date"].unique().sort().to_list()
    if dupes:
        raise ValueError(f"{path}: date(s) listed more than once: {dupes}")
    return frame.drop("_raw_date").sort("date").cast(OVERLAY_SCHEMA)


@functools.lru_cache(maxsize=16)
def _package_years(first: int, last: int) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """Holidays and weekend working days of the ``holidays`` package in these years
    (its lunar holidays take a while to work out: once per process)."""
    vn = holidays.country_holidays("VN", years=range(first, last + 1))
    return tuple(sorted(vn)), tuple(sorted(getattr(vn, "weekend_workdays", ())))


def _package_days(start: date, end: date) -> tuple[list[date], list[date]]:
    """Holidays and weekend working days of the ``holidays`` package within [start, end]."""
    off, worked = _package_years(start.year, end.year)
    return [d for d in off if start <= d <= end], [d for d in worked if start <= d <= end]


def calendar_end(last: date, longest_working_days: int | None = None) -> date:
    """The last day of a calendar that must count forward from `last`: AHEAD_DAYS after
    it, or far enough for `longest_working_days` (the longest legal time that is counted
    from it; a year holds well over half its days as working days)."""
    return last + timedelta(days=max(AHEAD_DAYS, 2 * (longest_working_days or 0)))


def working_calendar(start: date, end: date, overlay: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per date in [start, end]: date, is_working_day, working_days_before.

    ``working_days_before`` counts the working days strictly before the date,
    from ``start``. ``overlay`` defaults to the shipped overlay; pass an empty
    frame for none.
    """
    if end < start:
        raise ValueError(f"calendar end {end} is before its start {start}")
    if overlay is None:
        overlay = load_overlay()
    off, worked = _package_days(start, end)
    overlay_off = overlay.filter(pl.col("kind") == "day_off")["date"].cast(pl.Date)
    overlay_work = overlay.filter(pl.col("kind") == "working_day")["date"].cast(pl.Date)
    days = pl.date_range(start, end, "1d", eager=True).alias("date")
    weekday = days.dt.weekday() <= 5  # ISO: Monday 1 .. Sunday 7
    working = (
        (weekday & ~days.is_in(pl.Series(off, dtype=pl.Date)))
        | days.is_in(pl.Series(worked, dtype=pl.Date))
    )
    working = (working & ~days.is_in(overlay_off)) | days.is_in(overlay_work)
    flag = working.cast(pl.Int64)
    return pl.DataFrame(
        {
            "date": days,
            "is_working_day": working,
            "working_days_before": flag.cum_sum() - flag,
        }
    ).cast(CALENDAR_SCHEMA)


def _local_date(frame: pl.DataFrame, col: str) -> pl.Expr:
    """The local date of a Date or Datetime column (tz-aware ones converted to local time)."""
    dtype = frame.schema[col]
    expr = pl.col(col)
    if dtype == pl.Date:
        return expr
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone(LOCAL_TZ)
        return expr.dt.date()
    raise TypeError(f"column {col!r} is {dtype}, expected Date or Datetime")


def _index(calendar: pl.DataFrame) -> pl.DataFrame:
    """date -> (working days strictly before it, working days up to and including it)."""
    return calendar.select(
        "date",
        pl.col("working_days_before").cast(pl.Int64).alias("before"),
        (pl.col("working_days_before") + pl.col("is_working_day").cast(pl.Int64)).alias("through"),
    )


def _check_covered(frame: pl.DataFrame, cols: list[str], calendar: pl.DataFrame, what: str) -> None:
    """Raise unless every date of ``cols``, on rows where they are all known, is in the calendar."""
    if frame.height == 0:
        return
    lo, hi = calendar["date"].min(), calendar["date"].max()
    known = frame.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in cols))
    dates = pl.concat([known[c] for c in cols])
    if dates.len() == 0:
        return
    if lo is None or dates.min() < lo or dates.max() > hi:
        raise ValueError(
            f"{what}: dates {dates.min()}..{dates.max()} fall outside the calendar {lo}..{hi}; "
            "build a longer calendar"
        )


def working_days_between(
    frame: pl.DataFrame,
    start_col: str,
    end_col: str,
    calendar: pl.DataFrame,
    out: str = "working_days",
    outside: Literal["null", "raise"] = "null",
) -> pl.DataFrame:
    """Add ``out`` (Int64): the working days d with date(start) <= d < date(end).

    Null where either date is null; 0 where date(end) <= date(start). The
    calendar must contain date(start) and date(end) (date(end) itself is only
    looked up, never counted). Where it does not, the result is null, or with
    ``outside="raise"`` a ``ValueError``. Two joins on the calendar, no
    per-row Python.
    """
    if outside not in ("null", "raise"):
        raise ValueError(f"outside must be 'null' or 'raise', not {outside!r}")
    s, e = f"__wd_{out}_start", f"__wd_{out}_end"
    work = frame.with_columns(_local_date(frame, start_col).alias(s), _local_date(frame, end_col).alias(e))
    if outside == "raise":
        _check_covered(work, [s, e], calendar, f"{start_col}/{end_col}")
    index = _index(calendar).select("date", "before")
    work = (
        work.join(index.rename({"date": s, "before": f"{s}_n"}), on=s, how="left", maintain_order="left")
        .join(index.rename({"date": e, "before": f"{e}_n"}), on=e, how="left", maintain_order="left")
    )
    diff = pl.col(f"{e}_n") - pl.col(f"{s}_n")
    return work.with_columns(
        pl.when(diff < 0).then(0).otherwise(diff).cast(pl.Int64).alias(out)
    ).drop(s, e, f"{s}_n", f"{e}_n")


def add_working_days(
    frame: pl.DataFrame,
    start_col: str,
    days_col: str,
    calendar: pl.DataFrame,
    out: str = "due_date",
) -> pl.DataFrame:
    """Add ``out`` (Date): the day ``days`` working days after date(start).

    Convention (Vietnamese practice: the legal time runs in working days from
    the day after receipt): with n = ``days``,

    * n = 0: date(start) itself (a "same day" procedure);
    * n >= 1: the n-th working day strictly after date(start). Received
      Tuesday 2024-01-02 with n = 3 gives Friday 2024-01-05; received on a
      Saturday with n = 1 gives the Monday.

    Null where start or days is null, or days is negative. The result is a
    date: as a ``due_at`` it means the end of that day (scoreboard.md).
    Raises ``ValueError`` if the calendar ends before a result.
    """
    s, n, k = f"__aw_{out}_start", f"__aw_{out}_days", f"__aw_{out}_target"
    work = frame.with_columns(
        _local_date(frame, start_col).alias(s),
        pl.col(days_col).cast(pl.Int64).alias(n),
    )
    _check_covered(work.filter(pl.col(n) >= 0), [s], calendar, start_col)
    index = _index(calendar)
    working_days = (
        calendar.filter(pl.col("is_working_day"))
        .select(pl.col("working_days_before").cast(pl.Int64).alias(k), pl.col("date").alias(f"{k}_date"))
    )
    work = work.join(
        index.select(pl.col("date").alias(s), pl.col("through").alias(f"{s}_through")),
        on=s, how="left", maintain_order="left",
    ).with_columns(
        pl.when(pl.col(n) >= 1).then(pl.col(f"{s}_through") + pl.col(n) - 1).otherwise(None).alias(k)
    ).join(working_days, on=k, how="left", maintain_order="left")
    short = work.filter(pl.col(k).is_not_null() & pl.col(f"{k}_date").is_null())
    if short.height:
        raise ValueError(
            f"{out}: {short.height} result(s) fall after the calendar's end {calendar['date'].max()}; "
            "build a longer calendar"
        )
    result = (
        pl.when(pl.col(n) == 0).then(pl.col(s))
        .when(pl.col(n) >= 1).then(pl.col(f"{k}_date"))
        .otherwise(None)
    )
    return work.with_columns(result.cast(pl.Date).alias(out)).drop(s, n, k, f"{s}_through", f"{k}_date")


def calendar_version(overlay_path: Path | None = None) -> str:
    """A short id of the calendar for publication manifests, e.g. ``holidays-0.109+overlay-1a2b3c4d5e6f``."""
    path = Path(overlay_path) if overlay_path is not None else default_overlay_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"holidays-{holidays.__version__}+overlay-{digest}"
