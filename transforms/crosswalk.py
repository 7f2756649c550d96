"""The unit crosswalk across a reform, and trend series that follow a territory.

A crosswalk row says that `share` of the old unit (`old_code`, `old_valid_from`)
went to the new unit (`new_code`, `new_valid_from`); see docs/registry.md.

Following a territory: a new unit's series is its own scoreboard rows, and,
for the periods before it existed, a series *reconstructed* from its
predecessors' rows:

* counts (received, finished, early, on time, overdue, no deadline, pending
  overdue, rejected, timeliness base) are the predecessors' counts times their
  share, summed (so they may be fractional);
* `on_time_rate` is recomputed from those counts: (early + on time) / base;
* the other rates and the score, whose denominators the scoreboard does not
  carry, are means of the predecessors' values weighted by share × received
  (by share alone where no predecessor received anything), over the
  predecessors that have a value;
* points, band, rank and rank change are not reconstructed: a reconstructed
  score is not a rank and never feeds rank_change;
* `rankable`: whether the figures pass the scoreboard's test for being ranked
  (scoreboard.md, Ranking: received + timeliness base >= the profile's
  min_volume, and a score). A unit's own row carries its `ranked`; a
  reconstructed row passes when its own reconstructed counts and score do, as
  if the territory had been one unit then. The pages draw a score only where
  it is rankable, so a week in which the territory had a handful of dossiers
  (the Tết week) is left blank as the unit's own would be, never drawn at the
  0 that one late dossier scores. The test is on the territory, not on its
  predecessors: several small communes that were each too small to rank can
  make one ward that would be, and a fifth of a ranked commune can be a
  handful of dossiers.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from transforms.schema import COUNT_COLUMNS

CROSSWALK_COLUMNS = ["old_code", "old_valid_from", "new_code", "new_valid_from", "share"]
CROSSWALK_SCHEMA: dict[str, pl.DataType] = {
    "old_code": pl.Utf8(),
    "old_valid_from": pl.Date(),
    "new_code": pl.Utf8(),
    "new_valid_from": pl.Date(),
    "share": pl.Float64(),
}
SHARE_TOLERANCE = 1e-9

MEAN_COLUMNS = [
    "online_rate", "paid_online_rate", "digitized_rate", "e_result_rate", "synced_rate", "complaint_rate",
    "satisfaction_rate", "apology_rate", "avg_working_days", "score",
]
TREND_COLUMNS: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "period_start": pl.Date(),
    **{c: pl.Float64() for c in COUNT_COLUMNS},
    "on_time_rate": pl.Float64(),
    **{c: pl.Float64() for c in MEAN_COLUMNS},
    "rankable": pl.Boolean(),
    "reconstructed": pl.Boolean(),
    "predecessors": pl.Int64(),
}

_CODE = re.compile(r"^\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CrosswalkError(ValueError):
    """A crosswalk file that cannot be used, with the file, line and reason."""


def load_crosswalk(path: Path | str, registry: pl.DataFrame) -> pl.DataFrame:
    """Read and check a crosswalk CSV against a registry (transforms.units.load_registry).

    Raises CrosswalkError naming the file, the line (the header is line 1) and
    the reason for the first problem found.
    """
    path = Path(path)
    raw = pl.read_csv(path, infer_schema=False)
    if raw.columns != CROSSWALK_COLUMNS:
        raise CrosswalkError(f"{path.name}: line 1: columns must be {','.join(CROSSWALK_COLUMNS)}, got {','.join(raw.columns)}")
    validity = {
        (code, vf): vt
        for code, vf, vt in registry.select("unit_code", "valid_from", "valid_to").iter_rows()
    }
    rows = []
    seen: set[tuple] = set()
    for line, r in enumerate(raw.iter_rows(named=True), start=2):
        def fail(reason: str) -> CrosswalkError:
            return CrosswalkError(f"{path.name}: line {line}: {reason}")

        for col in ("old_code", "new_code"):
            if not r[col] or not _CODE.match(r[col]):
                raise fail(f"{col} {r[col]!r} is not a code of digits")
        dates = {}
        for col in ("old_valid_from", "new_valid_from"):
            if not r[col] or not _DATE.match(r[col]):
                raise fail(f"{col} {r[col]!r} is not an ISO date")
            try:
                dates[col] = date.fromisoformat(r[col])
            except ValueError:
                raise fail(f"{col} {r[col]!r} is not a date") from None
        try:
            share = float(r["share"])
        except (TypeError, ValueError):
            raise fail(f"share {r['share']!r} is not a number") from None
        if not (math.isfinite(share) and 0 < share <= 1):
            raise fail(f"share {r['share']} is not in (0, 1]")
        old, new = (r["old_code"], dates["old_valid_from"]), (r["new_code"], dates["new_valid_from"])
        if old not in validity:
            raise fail(f"old unit {old[0]} valid from {old[1]} is not in the registry")
        if new not in validity:
            raise fail(f"new unit {new[0]} valid from {new[1]} is not in the registry")
        old_to = validity[old]
        if old_to is None or old_to + timedelta(days=1) != new[1]:
            raise fail(f"old unit {old[0]} ends {old_to or 'never'}, not the day before {new[1]} when {new[0]} begins")
        if (old, new) in seen:
            raise fail(f"{old[0]} -> {new[0]} is listed twice")
        seen.add((old, new))
        rows.append({"old_code": old[0], "old_valid_from": old[1], "new_code": new[0], "new_valid_from": new[1], "share": share})
    frame = pl.DataFrame(rows, schema=CROSSWALK_SCHEMA)
    sums = frame.group_by("old_code", "old_valid_from").agg(pl.col("share").sum()).sort("old_code", "old_valid_from")
    off = sums.filter((pl.col("share") - 1).abs() > SHARE_TOLERANCE)
    if off.height:
        code, vf, total = off.row(0)
        first = 2 + frame.with_row_index().filter(
            (pl.col("old_code") == code) & (pl.col("old_valid_from") == vf)
        ).item(0, "index")
        raise CrosswalkError(f"{path.name}: line {first}: shares of old unit {code} valid from {vf} sum to {total!r}, not 1")
    return frame


def _weight_parts(col: str) -> list[pl.Expr]:
    """Per row, what `_weighted_mean` adds up for `col`: its weights by dossiers received
    and by share (0 where `col` is null), and those weights times its value. Plain sums
    in the group_by: conditions on group totals inside the aggregation made it the
    slowest step of reconstructing (docs/benchmarks.md)."""
    has = pl.col(col).is_not_null()
    by_received = pl.when(has).then(pl.col("share") * pl.col("received")).otherwise(0.0)
    by_share = pl.when(has).then(pl.col("share")).otherwise(0.0)
    value = pl.col(col).fill_null(0.0)
    return [by_received.alias(f"_w_received_{col}"), by_share.alias(f"_w_share_{col}"),
            (by_received * value).alias(f"_by_received_{col}"), (by_share * value).alias(f"_by_share_{col}")]


def _weighted_mean(col: str) -> pl.Expr:
    """`col` over a group's predecessors, weighted by the dossiers they received (by
    their shares where none received any), from the sums of `_weight_parts`."""
    received, share = pl.col(f"_w_received_{col}"), pl.col(f"_w_share_{col}")
    return (
        pl.when(received > 0).then(pl.col(f"_by_received_{col}") / received)
        .when(share > 0).then(pl.col(f"_by_share_{col}") / share)
        .alias(col)
    )


def _rankable(min_volume: int) -> pl.Expr:
    """A reconstructed row's figures pass the ranking test (module docstring). Its
    counts are sums of shares, which carry 12 significant digits: a third of 30
    dossiers is 9.99999999999, which is 10."""
    volume = (pl.col("received") + pl.col("timeliness_base")).round(6)
    return (pl.col("score").is_not_null() & (volume >= min_volume)).alias("rankable")


def reconstruct(scoreboard: pl.DataFrame, crosswalk: pl.DataFrame, min_volume: int) -> pl.DataFrame:
    """For every new unit of `crosswalk`, its reconstructed rows: one per period that
    starts before the unit's valid_from and in which it has no row of its own,
    built from its predecessors' rows (keys: unit_code, unit_valid_from, then
    TREND_COLUMNS with `reconstructed` true; `rankable` by the profile's
    `min_volume`)."""
    keys = ["period_type", "period_key", "period_start"]
    unit = ["unit_code", "unit_valid_from"]
    links = crosswalk.select(
        pl.col("old_code").alias("unit_code"), pl.col("old_valid_from").alias("unit_valid_from"),
        pl.col("new_code").alias("_new_code"), pl.col("new_valid_from").alias("_new_from"), "share",
    )
    own = scoreboard.select(pl.col("unit_code").alias("_new_code"), pl.col("unit_valid_from").alias("_new_from"), *keys)
    # the predecessors' rows only, in the columns summed: the scoreboard is every period's
    predecessors = scoreboard.join(links.select(unit).unique(), on=unit, how="semi").select(
        *unit, *keys, *COUNT_COLUMNS, *MEAN_COLUMNS,
    )
    recon = (
        predecessors.join(links, on=unit, how="inner")
        .filter(pl.col("period_start") < pl.col("_new_from"))
        .join(own, on=["_new_code", "_new_from", *keys], how="anti")
        .with_columns(*[e for c in MEAN_COLUMNS for e in _weight_parts(c)])
        .group_by("_new_code", "_new_from", *keys)
        .agg(
            *[(pl.col(c).cast(pl.Float64) * pl.col("share")).sum().alias(c) for c in COUNT_COLUMNS],
            *[pl.col(f"{part}_{c}").sum() for c in MEAN_COLUMNS
              for part in ("_w_received", "_w_share", "_by_received", "_by_share")],
            pl.len().cast(pl.Int64).alias("predecessors"),
        )
        .with_columns(*[_weighted_mean(c) for c in MEAN_COLUMNS])
        .with_columns(
            pl.when(pl.col("timeliness_base") > 0)
            .then((pl.col("early") + pl.col("on_time")) / pl.col("timeliness_base"))
            .alias("on_time_rate"),
            pl.lit(True).alias("reconstructed"),
        )
        .with_columns(_rankable(min_volume))
        .rename({"_new_code": "unit_code", "_new_from": "unit_valid_from"})
    )
    return recon.select(*unit, *TREND_COLUMNS).cast(TREND_COLUMNS).sort(*unit, "period_type", "period_start")


def follow_territory(
    scoreboard: pl.DataFrame, crosswalk: pl.DataFrame, unit_code: str, unit_valid_from, min_volume: int
) -> pl.DataFrame:
    """One unit's trend series (TREND_COLUMNS), oldest first within each period type:
    its own rows, and before it existed the series reconstructed from its
    predecessors in `crosswalk` (flag `reconstructed`; `rankable` by the profile's
    `min_volume`). Without predecessors it is the unit's own rows only."""
    own = scoreboard.filter((pl.col("unit_code") == unit_code) & (pl.col("unit_valid_from") == unit_valid_from))
    own = own.select(
        "period_type", "period_key", "period_start",
        *[pl.col(c).cast(pl.Float64) for c in COUNT_COLUMNS],
        pl.col("on_time_rate").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64) for c in MEAN_COLUMNS],
        pl.col("ranked").fill_null(False).alias("rankable"),
        pl.lit(False).alias("reconstructed"),
        pl.lit(0, dtype=pl.Int64).alias("predecessors"),
    )
    links = crosswalk.filter((pl.col("new_code") == unit_code) & (pl.col("new_valid_from") == unit_valid_from))
    recon = reconstruct(scoreboard, links, min_volume).drop("unit_code", "unit_valid_from")
    return pl.concat([own.select(list(TREND_COLUMNS)).cast(TREND_COLUMNS), recon]).sort("period_type", "period_start")
