"""Which periods must not be published yet, and why.

A broken batch (a file with too many quarantined rows) holds the weeks and months
its rows fall in; a failing check on a period's scoreboard holds that period. The
last good publication of a held period stays in place."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from quality.settings import load_quality_config
from transforms.periods import PERIOD_TYPES, key_expr

# the `source` of the holds a failing scoreboard check puts on its periods (a file's
# holds name the file)
SCOREBOARD_HOLD = "(scoreboard)"
HOLD_CHECKS = {"scoreboard_valid": True, "batch_quarantine_share": False}  # check -> held by the scoreboard

HOLD_SCHEMA = {
    "source": pl.Utf8,
    "period_type": pl.Utf8,
    "period_key": pl.Utf8,
    "check_name": pl.Utf8,
    "message_vi": pl.Utf8,
    "message_en": pl.Utf8,
}


def _periods_of(days: pl.DataFrame) -> pl.DataFrame:
    """(source, day) → (source, period_type, period_key) for every period of a day."""
    return pl.concat(
        days.select("source", period_type=pl.lit(t), period_key=key_expr(t, "day")).unique()
        for t in PERIOD_TYPES
    )


def batch_holds(
    accounting: pl.DataFrame,
    quarantine: pl.DataFrame,
    versions: pl.DataFrame,
    config: dict | None = None,
) -> pl.DataFrame:
    """Periods held by files whose share of quarantined rows is too high.

    `accounting` is the file_accounting view; `quarantine` (source_file,
    received_at as text) and `versions` (source_file, received_at) give the days
    the file's rows were received, so only those weeks and months are held."""
    settings = load_quality_config(config)["batch"]
    bad = accounting.filter(
        (pl.col("status") == "loaded")
        & (pl.col("rows_read") >= settings["min_rows"])
        & (pl.col("rows_quarantined") > settings["max_quarantine_share"] * pl.col("rows_read"))
    ).select("source_file", "rows_read", "rows_quarantined")
    if bad.is_empty():
        return pl.DataFrame(schema=HOLD_SCHEMA)
    files = bad["source_file"].to_list()
    days = pl.concat(
        [
            quarantine.filter(pl.col("source_file").is_in(files)).select(
                source="source_file",
                day=pl.col("received_at").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
            ),
            versions.filter(pl.col("source_file").is_in(files)).select(
                source="source_file", day=pl.col("received_at").dt.date()
            ),
        ]
    ).drop_nulls()
    share = (pl.col("rows_quarantined") / pl.col("rows_read") * 100).round(0).cast(pl.Int64).cast(pl.Utf8)
    return (
        _periods_of(days)
        .join(bad.rename({"source_file": "source"}), on="source")
        .with_columns(
            check_name=pl.lit("batch_quarantine_share"),
            message_vi=pl.format(
                "Tệp {} có {}% số dòng bị cách ly (quá ngưỡng): số liệu mới của kỳ này đang bị giữ lại.",
                "source", share,
            ),
            message_en=pl.format(
                "File {} has {}% of its rows quarantined (over the threshold): new figures for this period are held back.",
                "source", share,
            ),
        )
        .select(list(HOLD_SCHEMA))
        .sort("source", "period_type", "period_key")
    )


def check_holds(
    source: str, failed_periods: Iterable[tuple[str, str]], check_name: str, message_vi: str, message_en: str
) -> pl.DataFrame:
    rows = [
        {"source": source, "period_type": t, "period_key": k, "check_name": check_name,
         "message_vi": message_vi, "message_en": message_en}
        for t, k in sorted(failed_periods)
    ]
    return pl.DataFrame(rows, schema=HOLD_SCHEMA)


def quality_frame(scoreboard: pl.DataFrame, holds: pl.DataFrame) -> pl.DataFrame:
    """Per published or held period and check: passed, or failed and holding the
    period back (the quality page's table)."""
    periods = scoreboard.select("period_type", "period_key").unique()
    checks = pl.DataFrame(
        {"check": list(HOLD_CHECKS), "source_is_scoreboard": list(HOLD_CHECKS.values())}
    )
    failed = holds.with_columns(source_is_scoreboard=pl.col("source") == SCOREBOARD_HOLD).group_by(
        "period_type", "period_key", "source_is_scoreboard"
    ).agg(
        unexpected_count=pl.len(),
        description_vi=pl.col("message_vi").sort().str.join(" "),
        description_en=pl.col("message_en").sort().str.join(" "),
    )
    held_keys = holds.select("period_type", "period_key").unique()
    return (
        pl.concat([periods, held_keys]).unique()
        .join(checks, how="cross")
        .join(failed, on=["period_type", "period_key", "source_is_scoreboard"], how="left")
        .with_columns(
            success=pl.col("unexpected_count").is_null(),
            blocked=pl.col("unexpected_count").is_not_null(),
            unexpected_count=pl.col("unexpected_count").fill_null(0).cast(pl.Int64),
        )
        .select(
            "period_type", "period_key", "check", "success", "unexpected_count",
            "description_vi", "description_en", "blocked",
        )
        .sort("period_type", "period_key", "check")
    )
