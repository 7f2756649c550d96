"""Which periods must not be published yet, and why.

A broken batch (a file with too many quarantined rows) holds the weeks and months
its rows fall in; so does a drifting batch (quality/drift: rows valid one by one but
wrong as a whole), whose rows also wait aside until the file is replaced or
released; a failing check on a period's scoreboard holds that period. The last good
publication of a held period stays in place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import polars as pl

from quality.drift import DRIFT_CHECKS
from quality.settings import load_quality_config
from transforms.periods import PERIOD_TYPES, key_expr

if TYPE_CHECKING:  # the pages read this module: not the suites' code with it
    from quality.suites import QualityResult

# the `source` of the holds a failing scoreboard check puts on its periods (a file's
# holds name the file)
SCOREBOARD_HOLD = "(scoreboard)"
BATCH_QUARANTINE = "batch_quarantine_share"
# what the pages call any drift hold of a period (the file's findings are listed apart)
BATCH_DRIFT = "batch_drift"
# the scoreboard suite's check on a period's rows (an asset check of the scoring assets)
SCOREBOARD_CHECK = "scoreboard_valid"
# the checks the quality page lists for every period
HOLD_CHECKS = (SCOREBOARD_CHECK, BATCH_QUARANTINE, BATCH_DRIFT)

HOLD_SCHEMA = {
    "source": pl.Utf8,
    "period_type": pl.Utf8,
    "period_key": pl.Utf8,
    "check_name": pl.Utf8,
    "message_vi": pl.Utf8,
    "message_en": pl.Utf8,
    # a drift hold: the unit whose rows drift and the figures compared (quality/drift)
    "unit_code": pl.Utf8,
    "unit_valid_from": pl.Date,
    "unit_name": pl.Utf8,
    "usual": pl.Float64,
    "observed": pl.Float64,
}


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """HOLD_SCHEMA's columns, in order, the missing ones null."""
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c) for c, t in HOLD_SCHEMA.items()
    )


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
    return _conform(
        _periods_of(days)
        .join(bad.rename({"source_file": "source"}), on="source")
        .with_columns(
            check_name=pl.lit(BATCH_QUARANTINE),
            message_vi=pl.format(
                "Tệp {} có {}% số dòng bị cách ly (quá ngưỡng): số liệu mới của kỳ này đang bị giữ lại.",
                "source", share,
            ),
            message_en=pl.format(
                "File {} has {}% of its rows quarantined (over the threshold): new figures for this period are held back.",
                "source", share,
            ),
        )
        .sort("source", "period_type", "period_key")
    )


def scoreboard_holds(quality: QualityResult, period_type: str, wanted: list[str]) -> tuple[set[str], pl.DataFrame]:
    """The periods of `wanted` the scoreboard suite fails (all of them for a failure it
    cannot place), and their holds."""
    failed = set(wanted) if quality.unplaced_failures else (
        {k for t, k in quality.failed_periods if t == period_type} & set(wanted))
    names = ", ".join(c.name for c in quality.failed_checks)
    holds = check_holds(
        SCOREBOARD_HOLD, [(period_type, k) for k in sorted(failed)], SCOREBOARD_CHECK,
        f"Bảng xếp hạng không qua kiểm tra ({names}): số liệu mới đang bị giữ lại.",
        f"The scoreboard failed its checks ({names}): new figures are held back.",
    )
    return failed, holds


def check_holds(
    source: str, failed_periods: Iterable[tuple[str, str]], check_name: str, message_vi: str, message_en: str
) -> pl.DataFrame:
    rows = [
        {"source": source, "period_type": t, "period_key": k, "check_name": check_name,
         "message_vi": message_vi, "message_en": message_en}
        for t, k in sorted(failed_periods)
    ]
    return _conform(pl.DataFrame(rows, schema={c: HOLD_SCHEMA[c] for c in ("source", "period_type", "period_key",
                                                                          "check_name", "message_vi", "message_en")}))


def drift_holds(findings: pl.DataFrame, versions: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """The periods held by drifting files: every week and month their rows were
    received in, once per (unit, check) finding, with the unit's name and the figures.
    `findings`: quality.drift.drift_findings; `versions`: the held files' rows;
    `units`: the registry (unit_code, valid_from, unit_name)."""
    if findings.is_empty():
        return pl.DataFrame(schema=HOLD_SCHEMA)
    days = versions.select(source="source_file", day=pl.col("received_at").dt.date()).drop_nulls().unique()
    names = units.select("unit_code", unit_valid_from="valid_from", unit_name="unit_name")
    return _conform(
        _periods_of(days)
        .join(findings.rename({"source_file": "source"}), on="source")
        .join(names, on=["unit_code", "unit_valid_from"], how="left")
        .sort("source", "period_type", "period_key", "unit_code", "check_name")
    )


# districts (3-digit codes) before their communes (5-digit), then by code
UNITS_FIRST = (pl.col("unit_code").str.len_chars(), "unit_code")


def is_drift(check_name: pl.Expr) -> pl.Expr:
    return check_name.is_in(list(DRIFT_CHECKS))


def _listed(names: pl.Expr, limit: int = 3) -> pl.Expr:
    """'a, b, c' or 'a, b, c +2' from a list of names."""
    more = names.list.len().cast(pl.Int64) - limit
    head = names.list.head(limit).list.join(", ")
    return pl.when(more > 0).then(pl.format("{} +{}", head, more)).otherwise(head)


def page_holds(holds: pl.DataFrame) -> pl.DataFrame:
    """The holds as the pages explain a period: a drifting file once per period (check
    `batch_drift`: which checks, which units; the figures are in `held_batches`), the
    other holds as they are."""
    drift = holds.filter(is_drift(pl.col("check_name")))
    labels = pl.DataFrame(
        {"check_name": list(DRIFT_CHECKS), "label_vi": [v for v, _ in DRIFT_CHECKS.values()],
         "label_en": [e for _, e in DRIFT_CHECKS.values()]}
    )
    summary = (
        drift.join(labels, on="check_name", how="left")
        .with_columns(unit=pl.coalesce("unit_name", "unit_code"))
        .sort(*UNITS_FIRST)
        .group_by("source", "period_type", "period_key")
        .agg(
            checks_vi=pl.col("label_vi").unique().sort().str.to_lowercase(),
            checks_en=pl.col("label_en").unique().sort().str.to_lowercase(),
            units=pl.col("unit").unique(maintain_order=True),
        )
        .with_columns(
            check_name=pl.lit(BATCH_DRIFT),
            message_vi=pl.format(
                "Tệp {} lệch so với dữ liệu thường lệ của đơn vị ({}: {}) nên đang được giữ lại, chưa tính vào số liệu.",
                "source", _listed(pl.col("units")), pl.col("checks_vi").list.join("; "),
            ),
            message_en=pl.format(
                "File {} drifts from its units' usual data ({}: {}) and is held, not counted yet.",
                "source", _listed(pl.col("units")), pl.col("checks_en").list.join("; "),
            ),
        )
    )
    return pl.concat([holds.filter(~is_drift(pl.col("check_name"))), _conform(summary)]).sort(
        "period_type", "period_key", "source", "check_name"
    )


HELD_BATCH_SCHEMA = {
    "source_file": pl.Utf8, "unit_code": pl.Utf8, "unit_name": pl.Utf8, "check_name": pl.Utf8,
    "usual": pl.Float64, "observed": pl.Float64, "message_vi": pl.Utf8, "message_en": pl.Utf8,
    "periods": pl.Int64, "first_period": pl.Utf8, "last_period": pl.Utf8,
}


def held_batches(holds: pl.DataFrame) -> pl.DataFrame:
    """One row per held file, unit and check: the reason with its figures and the months
    it holds (first and last) and how many weeks and months in all."""
    drift = holds.filter(is_drift(pl.col("check_name")))
    months = pl.col("period_key").filter(pl.col("period_type") == "month")
    return (
        drift.group_by("source", "unit_code", "check_name")
        .agg(
            pl.col("unit_name", "usual", "observed", "message_vi", "message_en").first(),
            periods=pl.len(),
            first_period=months.min(),
            last_period=months.max(),
        )
        .rename({"source": "source_file"})
        .select([pl.col(c).cast(t) for c, t in HELD_BATCH_SCHEMA.items()])
        .sort("source_file", *UNITS_FIRST, "check_name")
    )


def quality_frame(scoreboard: pl.DataFrame, holds: pl.DataFrame) -> pl.DataFrame:
    """Per published or held period and check: passed, or failed and holding the
    period back (the quality page's table)."""
    periods = scoreboard.select("period_type", "period_key").unique()
    checks = pl.DataFrame({"check": list(HOLD_CHECKS)})
    holds = page_holds(holds)
    failed = holds.with_columns(
        check=pl.when(pl.col("source") == SCOREBOARD_HOLD).then(pl.lit(SCOREBOARD_CHECK)).otherwise("check_name")
    ).group_by("period_type", "period_key", "check").agg(
        unexpected_count=pl.len(),
        description_vi=pl.col("message_vi").sort().str.join(" "),
        description_en=pl.col("message_en").sort().str.join(" "),
    )
    held_keys = holds.select("period_type", "period_key").unique()
    return (
        pl.concat([periods, held_keys]).unique()
        .join(checks, how="cross")
        .join(failed, on=["period_type", "period_key", "check"], how="left")
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
