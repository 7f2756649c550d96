"""Who reported and how fresh their data is.

* `completeness`: per period, the units the registry expects (those valid on at
  least half of the period's days, transforms.units.with_expected: not a unit listed
  only for its late dossiers after it ceased to exist) against those of them that
  sent dossiers (received > 0), and the list of silent units.
* `freshness`: per unit valid at `as_of`, the latest date of its data (the latest
  received_at / finished_at / returned_at / rejected_at among its dossiers) and
  how many days ago that was.

A district's `received` includes the dossiers of its communes (scoreboard.md), so a
district counts as reporting when any of its communes does, and its data is as fresh
as the freshest of its own and its communes' dossiers.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.schema import level_order
from transforms.score import parent_links
from transforms.units import with_expected

DATA_EVENTS = ("received_at", "finished_at", "returned_at", "rejected_at")

COMPLETENESS_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "period_start": pl.Date(),
    "expected_units": pl.Int64(),
    "reporting_units": pl.Int64(),
    "silent_count": pl.Int64(),
    "reporting_share": pl.Float64(),
    "silent_units": pl.List(pl.Utf8()),
    "silent_unit_names": pl.List(pl.Utf8()),
}

FRESHNESS_SCHEMA: dict[str, pl.DataType] = {
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "unit_name": pl.Utf8(),
    "level": pl.Utf8(),
    "latest_event": pl.Datetime("us"),
    "latest_date": pl.Date(),
    "days_since": pl.Int64(),
}


def completeness(scoreboard: pl.DataFrame, units: pl.DataFrame | None) -> pl.DataFrame:
    """One row per (period_type, period_key): expected_units, reporting_units,
    silent_count, reporting_share and the silent units' codes and names (in
    level, then code order). `units`: the registry `scoreboard` was scored with
    (None: with_expected's open registry). A period with none expected has no row."""
    if scoreboard.height == 0:
        return pl.DataFrame(schema=COMPLETENESS_SCHEMA)
    sent = pl.col("received").fill_null(0) > 0
    expected = with_expected(scoreboard, units).filter(pl.col("expected"))
    rows = expected.select(
        "period_type", "period_key", "period_start", "unit_code", "unit_valid_from", "unit_name",
        sent=sent,
        _level=level_order(),
    ).unique(["period_type", "period_key", "unit_code", "unit_valid_from"], keep="first")
    silent = ~pl.col("sent")
    return (
        rows.sort(["_level", "unit_code", "unit_valid_from"])
        .group_by("period_type", "period_key", maintain_order=True)
        .agg(
            period_start=pl.col("period_start").min(),
            expected_units=pl.len().cast(pl.Int64),
            reporting_units=pl.col("sent").sum().cast(pl.Int64),
            silent_units=pl.col("unit_code").filter(silent),
            silent_unit_names=pl.col("unit_name").filter(silent),
        )
        .with_columns(
            silent_count=(pl.col("expected_units") - pl.col("reporting_units")),
            reporting_share=pl.col("reporting_units") / pl.col("expected_units"),
        )
        .sort(["period_type", "period_start", "period_key"])
        .select([pl.col(c).cast(t) for c, t in COMPLETENESS_SCHEMA.items()])
    )


def freshness(dossiers: pl.DataFrame | pl.LazyFrame, units: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Every unit of `units` (the registry, UNIT_SCHEMA) valid on `as_of`'s date, with
    the latest event time of its dossiers and its communes' (matched on unit_code and
    unit_valid_from; `dossiers` may be per-unit maxima of the event columns already),
    that date, and `days_since` = as_of's date − that date (null: never sent data).
    Stalest first (never-sent units first), then by level and code."""
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    own = (
        dossiers.lazy()
        .group_by("unit_code", "unit_valid_from")
        .agg(latest_event=pl.max_horizontal([pl.col(c).max() for c in DATA_EVENTS]))
        .collect()
    )
    to_parent = own.join(parent_links(units), on=["unit_code", "unit_valid_from"], how="inner").select(
        unit_code="parent_code", unit_valid_from="parent_valid_from", latest_event="latest_event"
    )
    latest = (
        pl.concat([own, to_parent.cast(own.schema)])
        .group_by("unit_code", "unit_valid_from")
        .agg(pl.col("latest_event").max())
    )
    valid = units.filter(
        (pl.col("valid_from") <= day) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= day))
    ).select("unit_code", unit_valid_from="valid_from", unit_name="unit_name", level="level")
    out = valid.join(latest, on=["unit_code", "unit_valid_from"], how="left").with_columns(
        latest_date=pl.col("latest_event").dt.date(),
    ).with_columns(
        days_since=(pl.lit(day) - pl.col("latest_date")).dt.total_days().cast(pl.Int64),
        _level=level_order(),
    )
    return out.sort(
        ["days_since", "_level", "unit_code"], descending=[True, False, False], nulls_last=False
    ).select([pl.col(c).cast(t) for c, t in FRESHNESS_SCHEMA.items()])
