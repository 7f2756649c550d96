"""Weeks and months as integer indices, so periods can be computed as ranges.

A week index counts Mondays since 1970-01-05; a month index is year*12 + month-1.
Both are half-open intervals [start, next start) in local time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

PERIOD_TYPES = ("week", "month")
EPOCH_MONDAY = date(1970, 1, 5)
HISTORY_START = {"week": date(2016, 1, 4), "month": date(2016, 1, 1)}

_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})$")


def partition_span(period_type: str, today: date) -> tuple[int, int]:
    """The indexes of the periods that can be scored (the Dagster partitions): from
    HISTORY_START to the period `today` falls in."""
    return index_of(period_type, HISTORY_START[period_type]), index_of(period_type, today)


def index_of(period_type: str, day: date) -> int:
    if period_type == "week":
        return (day - EPOCH_MONDAY).days // 7
    if period_type == "month":
        return day.year * 12 + day.month - 1
    raise ValueError(f"unknown period type {period_type!r}")


def start_of(period_type: str, index: int) -> date:
    if period_type == "week":
        return EPOCH_MONDAY + timedelta(days=7 * index)
    return date(index // 12, index % 12 + 1, 1)


def end_of(period_type: str, index: int) -> date:
    """The first day of the next period (the exclusive end)."""
    return start_of(period_type, index + 1)


def last_day_expr(period_type: str | pl.Expr = "period_type", start: str | pl.Expr = "period_start") -> pl.Expr:
    """The last day (a date) of each row's period, from its type and first day."""
    ptype = pl.col(period_type) if isinstance(period_type, str) else period_type
    first = pl.col(start) if isinstance(start, str) else start
    return pl.when(ptype == "week").then(first.dt.offset_by("6d")).otherwise(first.dt.month_end())


# A week the data reach: their latest event is on or after its Friday (offices close at
# the weekend: data that stop on a Saturday make a whole week). A week that has ended
# but that the data do not reach (history loaded up to a Wednesday, an export cut
# mid-week) holds its first days only, like the week in progress: the headline does not
# lead with it and the early warnings do not test it.
WEEK_REACHED_AFTER_DAYS = 4


def week_reached(start: str | pl.Expr, cutoff: datetime) -> pl.Expr:
    """Whether the data, whose latest event is `cutoff`, reach each week starting on `start`."""
    first = pl.col(start) if isinstance(start, str) else start
    return first.cast(pl.Date) + timedelta(days=WEEK_REACHED_AFTER_DAYS) <= cutoff.date()


def key_of(period_type: str, index: int) -> str:
    start = start_of(period_type, index)
    if period_type == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def parse_key(key: str) -> tuple[str, int]:
    """`2024-W07` → ('week', idx); `2024-02` → ('month', idx); a Monday `2024-02-12` → week."""
    key = key.strip()
    if m := _WEEK_KEY.match(key):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{key!r} is not an ISO week") from None
        return "week", index_of("week", monday)
    if m := _MONTH_KEY.match(key):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"{key!r} is not a month")
        return "month", year * 12 + month - 1
    try:
        day = date.fromisoformat(key)
    except ValueError:
        raise ValueError(
            f"{key!r} is neither a month (2024-03) nor an ISO week (2024-W10)"
        ) from None
    if day.weekday() != 0:
        raise ValueError(f"{key!r} is not a Monday, so it names no week")
    return "week", index_of("week", day)


def partition_key(period_type: str, index: int) -> str:
    """Dagster partition keys: weeks by their Monday (`2024-02-12`), months `2024-02`."""
    if period_type == "week":
        return start_of("week", index).isoformat()
    return key_of("month", index)


def index_expr(period_type: str, column: str | pl.Expr) -> pl.Expr:
    """The period index of a Date/Datetime column, vectorised."""
    col = pl.col(column) if isinstance(column, str) else column
    day = col.dt.date()
    if period_type == "week":
        return ((day - pl.lit(EPOCH_MONDAY)).dt.total_days() // 7).cast(pl.Int64)
    if period_type == "month":
        return (day.dt.year().cast(pl.Int64) * 12 + day.dt.month().cast(pl.Int64) - 1)
    raise ValueError(f"unknown period type {period_type!r}")


def key_expr(period_type: str, column: str | pl.Expr) -> pl.Expr:
    """The period key (`2024-W07`, `2024-02`) of a Date/Datetime column, vectorised."""
    col = pl.col(column) if isinstance(column, str) else column
    day = col.dt.date()
    if period_type == "week":
        return day.dt.strftime("%G-W%V")
    return day.dt.strftime("%Y-%m")


@dataclass(frozen=True)
class Period:
    period_type: str
    index: int
    # The instant this period is scored at: its end, or for the period in progress
    # the latest event time in the data (just after it, so that event counts).
    cutoff: datetime
    provisional: bool

    @property
    def key(self) -> str:
        return key_of(self.period_type, self.index)

    @property
    def start(self) -> date:
        return start_of(self.period_type, self.index)

    @property
    def end(self) -> date:
        return end_of(self.period_type, self.index)


def periods_frame(periods: list[Period]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_idx": [p.index for p in periods],
            "period_key": [p.key for p in periods],
            "period_start": [p.start for p in periods],
            "period_last_day": [p.end - timedelta(days=1) for p in periods],
            "cutoff": [p.cutoff for p in periods],
            "provisional": [p.provisional for p in periods],
        },
        schema={
            "period_idx": pl.Int64,
            "period_key": pl.Utf8,
            "period_start": pl.Date,
            "period_last_day": pl.Date,
            "cutoff": pl.Datetime("us"),
            "provisional": pl.Boolean,
        },
    )


def make_periods(
    period_type: str, first: int, last: int, *, latest_event: datetime | None, now: datetime
) -> list[Period]:
    """Periods first..last; the one in progress at `now` is cut at the latest event."""
    out = []
    for idx in range(first, last + 1):
        end = datetime.combine(end_of(period_type, idx), datetime.min.time())
        start = datetime.combine(start_of(period_type, idx), datetime.min.time())
        if end <= now:
            out.append(Period(period_type, idx, end, False))
        elif latest_event is not None and start <= latest_event:
            cutoff = min(end, latest_event + timedelta(microseconds=1))
            out.append(Period(period_type, idx, cutoff, True))
        # a period that has not started, or has no event yet, is not published
    return out


def covered_range(
    period_type: str, first_received: date, latest_event: date
) -> tuple[int, int]:
    """Every period the data covers: months from the first receipt to the latest
    event, and the weeks that overlap those months."""
    first_month = date(first_received.year, first_received.month, 1)
    last_month_idx = index_of("month", latest_event)
    if period_type == "month":
        return index_of("month", first_month), last_month_idx
    last_day = end_of("month", last_month_idx) - timedelta(days=1)
    return index_of("week", first_month), index_of("week", last_day)


def plan_chunks(
    period_type: str, first: int, last: int, received: pl.DataFrame, closed: pl.DataFrame, budget: int
) -> list[tuple[int, int, int]]:
    """Consecutive (lo, hi, dossiers) covering first..last, each as long as the dossiers
    that can count in it (periods lo-1..hi) stay within `budget` (one period at least).

    A dossier can count in periods a..b when it was received by b and is open or
    ends at a or later, so their number is R(b) - E(a-1): R counts dossiers received
    up to a period, E closed dossiers whose last event is before it."""

    def by_period(days: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        per = (
            days.group_by(idx=index_expr(period_type, "day"))
            .agg(pl.col("n").sum())
            .sort("idx")
        )
        return per["idx"].to_numpy(), np.cumsum(per["n"].to_numpy())

    r_idx, r_cum = by_period(received)
    e_idx, e_cum = by_period(closed)

    def up_to(idx: np.ndarray, cum: np.ndarray, period: int) -> int:
        at = np.searchsorted(idx, period, side="right")
        return int(cum[at - 1]) if at else 0

    def count(lo: int, hi: int) -> int:
        return up_to(r_idx, r_cum, hi) - up_to(e_idx, e_cum, lo - 2)

    chunks, lo = [], first
    while lo <= last:
        hi = lo
        while hi < last and count(lo, hi + 1) <= budget:
            hi += 1
        chunks.append((lo, hi, count(lo, hi)))
        lo = hi + 1
    return chunks
