"""The asset graph: landing files → dossiers → weekly/monthly scoreboards → site."""


import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.ingestion import ingest_landing
from pipelines.partitions import monthly_partitions, weekly_partitions
from pipelines.publication import publish_site
from pipelines.resources import ScoreboardSettings, Warehouse, local_now
from pipelines import warehouse as wh
from transforms.calendar import load_overlay, working_calendar
from quality.holds import HOLD_SCHEMA, batch_holds, check_holds
from quality.suites import QualityResult, validate_dossiers, validate_file_accounting, validate_scoreboard
from transforms.insights import bottlenecks, weak_points, what_if
from transforms.periods import key_of, make_periods, parse_key, partition_key, start_of
from transforms.profile import load_profile
from transforms.score import score_periods

WRITER_POOL = "duckdb_writer"
progress = logging.getLogger("scoreboard")


def _log(context: dg.AssetExecutionContext):
    """Progress to Dagster's log and to the CLI's terminal."""

    def emit(message: str) -> None:
        context.log.info(message)
        progress.info(message)

    return emit


@dg.asset(
    group_name="ingestion",
    pool=WRITER_POOL,
    kinds={"duckdb", "polars"},
    check_specs=[
        dg.AssetCheckSpec("rows_accounted", asset="dossiers",
                          description="Per file: rows read = accepted + quarantined + superseded."),
        dg.AssetCheckSpec("batch_quality", asset="dossiers",
                          description="No file has too many quarantined rows; a broken batch holds its periods."),
        dg.AssetCheckSpec("dossiers_valid", asset="dossiers",
                          description="The dossiers this run added or changed pass the dossier suite."),
    ],
)
def dossiers(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Canonical dossiers: new landing files read, deduplicated, bad rows quarantined."""
    with warehouse.connect() as con:
        report = ingest_landing(
            con,
            landing=settings.landing,
            registry_path=Path(settings.registry_path),
            now=local_now(),
            log=_log(context),
        )
        holds = batch_holds_in(con, report.by_file)
        wh.replace_batch_holds(con, holds)
    _log(context)(report.summary())
    accounting = validate_file_accounting(report.by_file)
    changed = report.changed if report.changed is not None else pl.DataFrame()
    valid = validate_dossiers(changed) if changed.height else None
    held_files = sorted(holds["source"].unique().to_list())
    by_file = report.by_file.select(
        "source_file", "status", "rows_read", "rows_accepted", "rows_quarantined", "rows_superseded"
    )
    return dg.MaterializeResult(
        metadata={
            "files_seen": report.files_seen,
            "files_ingested": report.files_new,
            "files_skipped": report.files_skipped,
            "files_set_aside": report.files_rejected,
            "rows_read": report.rows_read,
            "rows_quarantined": report.rows_quarantined,
            "dossiers": report.dossiers,
            "by_file": dg.MetadataValue.md(_markdown_table(by_file)),
            # read by the re-scoring sensor, which must not open the DuckDB file
            "affected_partitions": dg.MetadataValue.json(
                {t: [partition_key(t, i) for i in idx] for t, idx in report.affected.items()}
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="rows_accounted", passed=accounting.success, metadata=accounting.to_metadata()
            ),
            dg.AssetCheckResult(
                check_name="batch_quality",
                passed=not held_files,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"held_files": held_files, "held_periods": holds.height},
            ),
            dg.AssetCheckResult(
                check_name="dossiers_valid",
                passed=valid is None or valid.success,
                metadata=valid.to_metadata() if valid else {"rows_validated": 0},
            ),
        ],
    )


def scoreboard_checks(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "scoreboard_valid", asset=asset, blocking=True,
            description="Classes add up, rates in [0, 1], scores in [0, 100], ranks follow scores.",
        ),
        dg.AssetCheckSpec(
            "published", asset=asset,
            description="No period of the run was held back (failing check or broken batch).",
        ),
    ]


def batch_holds_in(con, accounting: pl.DataFrame) -> pl.DataFrame:
    """The periods that broken batches hold, from the warehouse's quarantine and versions."""
    suspects = accounting.filter(pl.col("rows_quarantined") > 0)["source_file"].to_list()
    if not suspects:
        return pl.DataFrame(schema=HOLD_SCHEMA)
    quarantine = wh.read_table(
        con, "SELECT source_file, received_at FROM quarantine WHERE list_contains(?, source_file)", [suspects]
    )
    versions = wh.read_table(
        con, "SELECT source_file, received_at FROM dossier_versions WHERE list_contains(?, source_file)",
        [suspects],
    )
    return batch_holds(accounting, quarantine, versions)


def _markdown_table(frame: pl.DataFrame, limit: int = 200) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join(
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |\n"
        for row in frame.head(limit).iter_rows()
    )
    more = f"\n… and {frame.height - limit} more" if frame.height > limit else ""
    return head + body + more


def score_partitions(
    period_type: str,
    partition_keys: list[str],
    settings: ScoreboardSettings,
    warehouse: Warehouse,
) -> "ScoredPeriods":
    """Score the periods of these partitions and replace their rows in the warehouse,
    except periods held back by a failing check or a broken batch."""
    indices = sorted(parse_key(k)[1] for k in partition_keys)
    first, last = indices[0], indices[-1]
    # the period before the first is needed for rank_change
    window_start = start_of(period_type, first - 1)
    window_end = start_of(period_type, last + 1)
    with warehouse.connect() as con:
        _, latest_event = wh.data_extent(con)
        # only dossiers that can count in the window: received before its end, and
        # still open (or ending) at its start
        relevant = wh.read_table(
            con,
            """SELECT * FROM dossiers WHERE received_at < ? AND (
                   greatest(received_at, finished_at, returned_at, rejected_at) >= ?
                   OR status IS NULL OR status NOT IN (3, 7, 8, 9, 10))""",
            [window_end, window_start],
        )
        units = wh.read_table(con, "SELECT * FROM units")
        periods = make_periods(
            period_type, first, last, latest_event=latest_event, now=local_now()
        )
        earliest = relevant["received_at"].min()
        calendar = working_calendar(
            min(earliest.date(), window_start) if earliest else window_start,
            # room for due dates derived from legal processing times
            window_end + timedelta(days=200),
            load_overlay(Path(settings.calendar_path)),
        )
        profile = load_profile(settings.profile_path)
        catalogue = settings.catalogue()
        rows = score_periods(relevant, units, profile, period_type, periods, calendar, catalogue)
        wanted = sorted({key_of(period_type, i) for i in indices})
        rows = rows.filter(pl.col("period_key").is_in(wanted))
        quality = validate_scoreboard(rows, profile)
        failed = {k for t, k in quality.failed_periods if t == period_type}
        if quality.unplaced_failures:
            failed = set(wanted)
        batch_held = set(
            wh.read_table(
                con,
                "SELECT DISTINCT period_key FROM quality_holds WHERE source <> ? AND period_type = ?",
                [wh.SCOREBOARD_HOLD, period_type],
            )["period_key"].to_list()
        )
        held = sorted((failed | batch_held) & set(wanted))
        failed_names = ", ".join(c.name for c in quality.failed_checks)
        wh.replace_scoreboard_holds(
            con,
            period_type,
            wanted,
            check_holds(
                wh.SCOREBOARD_HOLD, [(period_type, k) for k in sorted(failed)], "scoreboard_valid",
                f"Bảng xếp hạng không qua kiểm tra ({failed_names}): số liệu mới đang bị giữ lại.",
                f"The scoreboard failed its checks ({failed_names}): new figures are held back.",
            ),
        )
        # a held period keeps its last good publication: its rows are not replaced
        publish = [k for k in wanted if k not in held]
        in_wanted = pl.col("period_key").is_in(publish)
        rows = rows.filter(in_wanted)
        wh.replace_periods(
            con,
            period_type,
            publish,
            {
                "scored_periods": pl.DataFrame(
                    {"period_type": period_type, "period_key": publish,
                     "config_fingerprint": settings.config_fingerprint()}
                ),
                "scoreboard": rows,
                "weak_points": weak_points(rows, profile),
                "what_if": what_if(rows, profile),
                "bottlenecks": bottlenecks(
                    relevant, units, calendar, period_type, periods, catalogue=catalogue
                ).filter(in_wanted),
            },
        )
    return ScoredPeriods(rows, quality, held)


@dataclass
class ScoredPeriods:
    rows: pl.DataFrame
    quality: QualityResult
    held: list[str]

    def result(self) -> dg.MaterializeResult:
        rows = self.rows
        return dg.MaterializeResult(
            metadata={
                "periods": rows["period_key"].n_unique(),
                "rows": rows.height,
                "ranked_units": int(rows["ranked"].sum()),
                "provisional_periods": rows.filter(pl.col("provisional"))["period_key"].unique().to_list(),
                "held_periods": self.held,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="scoreboard_valid",
                    passed=self.quality.success,
                    metadata=self.quality.to_metadata(),
                ),
                dg.AssetCheckResult(
                    check_name="published",
                    passed=not self.held,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"held_periods": self.held},
                ),
            ],
        )


@dg.asset(
    group_name="scoring",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
    check_specs=scoreboard_checks("weekly_scoreboard"),
)
def weekly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Weekly scoreboard (Monday to Monday): classes, rates, points, score, rank of every unit."""
    return score_partitions("week", context.partition_keys, settings, warehouse).result()


@dg.asset(
    group_name="scoring",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
    check_specs=scoreboard_checks("monthly_scoreboard"),
)
def monthly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Monthly scoreboard: classes, rates, points, score and rank of every unit."""
    return score_partitions("month", context.partition_keys, settings, warehouse).result()


@dg.asset(
    group_name="publication",
    pool=WRITER_POOL,
    deps=[weekly_scoreboard, monthly_scoreboard],
    kinds={"html", "csv", "parquet", "xlsx"},
)
def scoreboard_site(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The published site: ranking pages, charts and data files, swapped in atomically."""
    with warehouse.connect() as con:
        published = publish_site(con, settings, log=_log(context))
    return dg.MaterializeResult(
        metadata={
            "site": dg.MetadataValue.path(str(published.index)),
            "periods": published.periods,
            "files": published.files,
        }
    )


ASSETS = [dossiers, weekly_scoreboard, monthly_scoreboard, scoreboard_site]
