"""Clock shift: every event time of a file moved by a whole number of hours (local
times written with a `Z` and read as UTC, or the reverse: receipts at 00:30–03:00
instead of office hours).

The unit's usual hours are the hours of the day holding at least `usual_hour_share`
of its recent event times (receipt, finish, return, refusal; a time of exactly 00:00
is a date without a time and is left out). A file's unit drifts when at most
`max_inside_share` of its event times fall in those hours while moving them all by
one same whole number of hours brings at least `min_restored_share` back in."""

from __future__ import annotations

import polars as pl

from quality.drift.common import FILE_UNIT, UNIT_KEY, findings, no_findings, share

CHECK = "batch_clock_shift"
# the times of staff actions, which follow office hours (submissions do not)
CLOCK_FIELDS = ("received_at", "finished_at", "returned_at", "rejected_at")


def event_hours(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """(by…, hour, n): how many of the frame's event times fall in each hour of the day."""
    times = pl.concat(
        [frame.select(*by, t=pl.col(c)) for c in CLOCK_FIELDS if c in frame.columns]
    ).filter(pl.col("t").is_not_null() & (pl.col("t") != pl.col("t").dt.truncate("1d")))
    return times.group_by(*by, hour=pl.col("t").dt.hour().cast(pl.Int8)).agg(n=pl.len())


def _hours(shift: int) -> str:
    """A shift of the clock (0..23 hours later) as a signed number of hours: 17 → −7."""
    signed = shift - 24 if shift > 12 else shift
    return f"{signed:+d}".replace("-", "−")


def clock_shift(batch: pl.DataFrame, history: pl.DataFrame, config: dict) -> pl.DataFrame:
    """Findings for the files' units whose event times sit outside the unit's usual
    hours as a whole-hour shift would put them. `batch`: the files' rows; `history`:
    the units' recent stored dossiers (both with the unit and CLOCK_FIELDS)."""
    cfg = config["drift"]["clock_shift"]
    history_hours = event_hours(history, UNIT_KEY)
    totals = history_hours.group_by(UNIT_KEY).agg(total=pl.col("n").sum())
    usual = (
        history_hours.join(totals.filter(pl.col("total") >= int(cfg["min_history"])), on=UNIT_KEY)
        .filter(pl.col("n") >= float(cfg["usual_hour_share"]) * pl.col("total"))
    )
    if usual.is_empty():
        return no_findings()
    span = usual.group_by(UNIT_KEY).agg(
        first_hour=pl.col("hour").min(), last_hour=pl.col("hour").max(), usual=pl.col("n").sum() / pl.col("total").first()
    )
    hours = event_hours(batch, FILE_UNIT)
    counted = hours.group_by(FILE_UNIT).agg(rows=pl.col("n").sum())
    # the share of a file's times that land in usual hours once moved back by each shift
    inside = (
        hours.join(pl.DataFrame({"shift": list(range(24))}), how="cross")
        .with_columns(hour=((pl.col("hour").cast(pl.Int32) - pl.col("shift")) % 24).cast(pl.Int8))
        .join(usual.select(*UNIT_KEY, "hour", usual_hour=pl.lit(True)), on=[*UNIT_KEY, "hour"], how="left")
        .group_by(*FILE_UNIT, "shift")
        .agg(inside=pl.col("n").filter(pl.col("usual_hour").is_not_null()).sum())
        .join(counted, on=FILE_UNIT)
        .with_columns(inside=pl.col("inside") / pl.col("rows"))
    )
    as_is = inside.filter(pl.col("shift") == 0).select(*FILE_UNIT, "rows", observed="inside")
    best = (
        inside.filter(pl.col("shift") != 0)
        .sort("inside", "shift", descending=[True, False])
        .group_by(FILE_UNIT, maintain_order=True)
        .first()
        .select(*FILE_UNIT, "shift", restored="inside")
    )
    drifting = (
        as_is.join(best, on=FILE_UNIT)
        .join(span, on=UNIT_KEY)
        .filter(
            (pl.col("rows") >= int(config["drift"]["min_rows"]))
            & (pl.col("observed") <= float(cfg["max_inside_share"]))
            & (pl.col("restored") >= float(cfg["min_restored_share"]))
        )
        .sort(FILE_UNIT)
    )

    def hours_of(r: dict) -> str:
        return f"{r['first_hour']:02d}:00–{r['last_hour']:02d}:59"

    def vi(r: dict) -> str:
        return (
            f"Giờ của các mốc thời gian lệch: chỉ {share(r['observed'], 'vi')} mốc của lô này rơi vào giờ làm việc "
            f"thường lệ của đơn vị ({hours_of(r)}; thường lệ {share(r['usual'], 'vi')}), nhưng dịch "
            f"{_hours(24 - r['shift'])} giờ thì {share(r['restored'], 'vi')} khớp: mọi thời điểm có vẻ bị "
            f"lệch {_hours(r['shift'])} giờ (ví dụ giờ địa phương ghi kèm Z bị đọc là giờ UTC)."
        )

    def en(r: dict) -> str:
        return (
            f"Event times shifted: only {share(r['observed'], 'en')} of this batch's times fall in the unit's usual "
            f"hours ({hours_of(r)}; usually {share(r['usual'], 'en')}), but moved by {_hours(24 - r['shift'])} h "
            f"{share(r['restored'], 'en')} do: every time looks shifted by {_hours(r['shift'])} h "
            f"(for example local times written with a Z and read as UTC)."
        )

    return findings(drifting, CHECK, vi, en)
