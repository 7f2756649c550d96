"""Promised duration: due_at − received_at, in working days, against the unit's usual
for the same procedure (a year shift in the due dates; due dates moved to the day of
receipt).

A dossier's duration deviates when it is further from the usual (the median of the
unit's recent dossiers of that procedure) than the largest of `floor_days`,
`floor_relative` × the usual, and `z` × mad_scale × the MAD. A procedure the unit has
fewer than `min_history` such dossiers of is judged against the catalogue's legal
processing days where the catalogue has it, and only from above (offices often
promise less than the legal time): it deviates beyond `catalogue_ratio` × the legal
days + `floor_days`. A file's unit drifts when more than `max_share` of its judged
dossiers (at least `min_rows`) deviate."""

from __future__ import annotations

import polars as pl

from quality.drift.common import FILE_UNIT, UNIT_KEY, findings, median_and_mad, no_findings, number, share
from transforms.calendar import working_days_between

CHECK = "batch_promised_duration"
KEY = [*UNIT_KEY, "procedure_code"]


def promised_days(frame: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """Add `days`: the working days from receipt to the due date. Beyond the calendar
    (a due date years away) they are estimated as 5 in 7 calendar days."""
    known = frame.filter(pl.col("received_at").is_not_null() & pl.col("due_at").is_not_null())
    counted = working_days_between(known, "received_at", "due_at", calendar, out="days")
    estimate = ((pl.col("due_at").dt.date() - pl.col("received_at").dt.date()).dt.total_days() * 5 / 7).round(0)
    return counted.with_columns(
        days=pl.coalesce(pl.col("days").cast(pl.Float64), estimate.clip(0, None).cast(pl.Float64))
    )


def usual_durations(history: pl.DataFrame, calendar: pl.DataFrame, min_history: int) -> pl.DataFrame:
    """Per unit and procedure with enough history: the median promised days and their MAD."""
    med, mad = median_and_mad(pl.col("days"))
    return (
        promised_days(history, calendar)
        .group_by(KEY)
        .agg(n=pl.len(), usual=med, mad=mad)
        .filter(pl.col("n") >= min_history)
        .drop("n")
    )


def promised_duration(
    batch: pl.DataFrame,
    history: pl.DataFrame,
    calendar: pl.DataFrame,
    catalogue: pl.DataFrame | None,
    config: dict,
) -> pl.DataFrame:
    """Findings (common.FINDING_SCHEMA) for the files' units whose promised durations drift.
    `batch`: the files' rows (source_file, unit, procedure_code, received_at, due_at);
    `history`: the units' recent stored dossiers (the same columns but the file)."""
    cfg = config["drift"]["promised_duration"]
    if history.is_empty() and (catalogue is None or cfg["catalogue_ratio"] is None):
        return no_findings()
    scale = float(config["drift"]["mad_scale"])
    floor_days = float(cfg["floor_days"])
    rows = promised_days(batch, calendar).join(
        usual_durations(history, calendar, int(cfg["min_history"])), on=KEY, how="left"
    )
    if catalogue is not None and cfg["catalogue_ratio"] is not None:
        rows = rows.join(
            catalogue.select("procedure_code", legal=pl.col("processing_days").cast(pl.Float64)),
            on="procedure_code", how="left",
        )
    else:
        rows = rows.with_columns(legal=pl.lit(None, dtype=pl.Float64))
    by_history = pl.col("usual").is_not_null()
    tolerance = pl.max_horizontal(
        pl.lit(floor_days), float(cfg["floor_relative"]) * pl.col("usual"), float(cfg["z"]) * scale * pl.col("mad")
    )
    ratio = float(cfg["catalogue_ratio"] or 0)
    judged = rows.with_columns(
        usual=pl.when(by_history).then("usual").otherwise("legal"),
        deviates=pl.when(by_history)
        .then((pl.col("days") - pl.col("usual")).abs() > tolerance)
        .otherwise(pl.col("days") > ratio * pl.col("legal") + floor_days),
    ).filter(pl.col("deviates").is_not_null())
    per_unit = (
        judged.group_by(FILE_UNIT)
        .agg(
            rows=pl.len(),
            deviating=pl.col("deviates").sum(),
            usual=pl.col("usual").median(),
            observed=pl.col("days").median(),
        )
        .filter(
            (pl.col("rows") >= int(config["drift"]["min_rows"]))
            & (pl.col("deviating") > float(cfg["max_share"]) * pl.col("rows"))
        )
        .sort(FILE_UNIT)
    )

    def vi(r: dict) -> str:
        return (
            f"Thời hạn hẹn trả (số ngày làm việc từ ngày tiếp nhận đến ngày hẹn trả) lệch xa mức thường lệ "
            f"của đơn vị ở {share(r['deviating'] / r['rows'], 'vi')} số hồ sơ ({number(r['deviating'], 'vi')}/{number(r['rows'], 'vi')}): "
            f"thường lệ {number(r['usual'], 'vi')} ngày, lô này {number(r['observed'], 'vi')} ngày (trung vị)."
        )

    def en(r: dict) -> str:
        return (
            f"Promised duration (working days from receipt to due date) far from the unit's usual for "
            f"{share(r['deviating'] / r['rows'], 'en')} of the dossiers ({number(r['deviating'], 'en')}/{number(r['rows'], 'en')}): "
            f"usually {number(r['usual'], 'en')} days, this batch {number(r['observed'], 'en')} days (median)."
        )

    return findings(per_unit, CHECK, vi, en)
