"""The asset graph: landing files → dossiers → weekly/monthly scoreboards → site."""


import logging
import sys
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines.drift import drift_inputs
from pipelines.ingestion import IngestionReport, check_stored_dossiers, ingest_landing
from pipelines.partitions import monthly_partitions, weekly_partitions
from pipelines.publication import publish_site
from pipelines.retention import RetentionReport, apply_retention
from pipelines.resources import WRITER_POOL, ScoreboardSettings, Warehouse, local_now
from pipelines.scoring import score_partitions
from pipelines import warehouse as wh
from quality.drift import DRIFT_CHECKS
from quality.early_warning import warning_summary
from quality.holds import SCOREBOARD_CHECK, held_batches
from quality.suites import validate_dossiers, validate_file_accounting
from transforms.periods import key_of, parse_key, partition_key

progress = logging.getLogger("scoreboard")


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, not the stream of the
    first call: the CLI's main() runs many times in one process (tests, a notebook),
    each time with its own stderr."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def show_progress(line_format: str = "%(message)s") -> None:
    """The progress lines of the `scoreboard` logger on the terminal (our lines only:
    libraries keep their own, quieter levels)."""
    handler = next((h for h in progress.handlers if isinstance(h, _CurrentStderr)), None)
    if handler is None:
        handler = _CurrentStderr()
        progress.addHandler(handler)
    handler.setFormatter(logging.Formatter(line_format))
    progress.setLevel(logging.INFO)
    progress.propagate = False


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
        # blocking: a run that holds a batch stops before scoring (the held rows are
        # kept out of `dossiers` anyway); later runs report the hold as a warning
        *[
            dg.AssetCheckSpec(name, asset="dossiers", blocking=True,
                              description=f"{en} (config/quality.yaml, drift): a file that drifts is held.")
            for name, (_vi, en) in DRIFT_CHECKS.items()
        ],
    ],
)
def dossiers(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Canonical dossiers: new landing files read, deduplicated, bad rows quarantined."""
    return ingest(context, settings, warehouse)


def ingest(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """What `dossiers` materialises: the DuckDB file's, or a province's in the lake
    (pipelines/provinces.py)."""
    with warehouse.connect() as con:
        # what it derives from the rows (holds, the causes of revisions, the periods to
        # score) is recorded with them: pipelines/ingestion.py
        report = ingest_landing(
            con,
            landing=settings.landing,
            registry_path=Path(settings.registry_path),
            now=local_now(),
            log=_log(context),
            aliases=settings.aliases(),
            mappings=settings.mappings(),
            drift=drift_inputs(settings),
        )
        # a first load's dossier suite runs in the second process while the rest is done
        # here (none of it changes `dossiers`)
        checked = check_stored_dossiers(con) if report.changed_all and report.dossiers else None
        # raw exports, stored now, leave the landing folder for the archive (held ones
        # stay); a run killed before this leaves them in landing, for the next one
        retention = apply_retention(con, settings, local_now(), _log(context))
        drifting = wh.drift_holds(con)
        valid = checked() if checked is not None else None
    _log(context)(report.summary(removed=len(retention.removed)))
    accounting = validate_file_accounting(report.by_file)
    changed = report.changed if report.changed is not None else pl.DataFrame()
    if valid is None and changed.height:
        valid = validate_dossiers(changed)
    held_files = sorted(report.holds["source"].unique().to_list())
    return dg.MaterializeResult(
        metadata=_ingest_metadata(report, retention),
        check_results=[
            dg.AssetCheckResult(
                check_name="rows_accounted", passed=accounting.success, metadata=accounting.to_metadata()
            ),
            dg.AssetCheckResult(
                check_name="batch_quality",
                passed=not held_files,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"held_files": held_files, "held_periods": report.holds.height},
            ),
            dg.AssetCheckResult(
                check_name="dossiers_valid",
                passed=valid is None or valid.success,
                metadata=valid.to_metadata() if valid else {"rows_validated": 0},
            ),
            *drift_checks(drifting, report.held),
        ],
    )


def _ingest_metadata(report: IngestionReport, retention: RetentionReport) -> dict:
    """What a run of ingestion read, kept, set aside, held and archived, file by file,
    and which periods its rows change."""
    by_file = report.by_file.select(
        "source_file", "status", "rows_read", "rows_accepted", "rows_quarantined", "rows_superseded"
    )
    return {
        "files_seen": report.files_seen,
        "files_ingested": report.files_new,
        "files_skipped": report.files_skipped,
        "files_set_aside": report.files_rejected,
        "files_held": report.held,
        "files_released": report.released,
        "files_archived": len(retention.archived),
        # already ingested, their bytes archived already: removed from the landing folder
        "files_removed_archived": len(retention.removed),
        "raw_files_deleted": len(retention.deleted),
        "rows_read": report.rows_read,
        "rows_quarantined": report.rows_quarantined,
        "dossiers": report.dossiers,
        "by_file": dg.MetadataValue.md(_markdown_table(by_file)),
        # read by the re-scoring sensor, which must not open the DuckDB file
        "affected_partitions": dg.MetadataValue.json(
            {t: [partition_key(t, i) for i in idx] for t, idx in report.affected.items()}
        ),
    }


def drift_checks(drifting: pl.DataFrame, held_now: list[str]) -> list[dg.AssetCheckResult]:
    """One result per drift check: failed while a file is held by it (an error, which
    blocks, in the run that holds it; a warning after), with each file's units and
    figures in the metadata."""
    results = []
    for name in DRIFT_CHECKS:
        found = held_batches(drifting.filter(pl.col("check_name") == name))
        files = sorted(set(found["source_file"]))
        new = bool(set(files) & set(held_now))
        table = found.select(
            "source_file", "unit_code", "unit_name", pl.col("usual").round(3), pl.col("observed").round(3),
            reason_vi="message_vi", reason_en="message_en", held_periods="periods",
        )
        results.append(dg.AssetCheckResult(
            check_name=name,
            passed=not files,
            severity=dg.AssetCheckSeverity.ERROR if new else dg.AssetCheckSeverity.WARN,
            metadata={
                "held_files": files,
                "held_units": sorted(set(found["unit_code"])),
                "findings": dg.MetadataValue.md(_markdown_table(table)),
            },
        ))
    return results


WARNING_CHECKS = {
    "week": dg.AssetCheckSpec(
        "early_warning", asset="weekly_scoreboard",
        description="No unit's received volume or on-time rate in these weeks is far from "
                    "its own last 8 weeks (robust z, thresholds in config/quality.yaml).",
    ),
    "month": dg.AssetCheckSpec(
        "band_at_risk", asset="monthly_scoreboard",
        description="No unit's month so far scores below, or just above, the floor of the band it held last month.",
    ),
}


def scoreboard_checks(asset: str, period_type: str) -> list[dg.AssetCheckSpec]:
    return [
        WARNING_CHECKS[period_type],
        dg.AssetCheckSpec(
            SCOREBOARD_CHECK, asset=asset, blocking=True,
            description="Classes add up, rates in [0, 1], scores in [0, 100], ranks follow scores.",
        ),
        dg.AssetCheckSpec(
            "published", asset=asset,
            description="No period of the run was held back (failing check or broken batch).",
        ),
    ]


def _markdown_table(frame: pl.DataFrame, limit: int = 200) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join(
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |\n"
        for row in frame.head(limit).iter_rows()
    )
    more = f"\n… and {frame.height - limit} more" if frame.height > limit else ""
    return head + body + more


def warning_check(period_type: str, warnings: pl.DataFrame) -> dg.AssetCheckResult:
    """Passed when no unit is flagged; otherwise the units, what moved and why, for the office."""
    return dg.AssetCheckResult(
        check_name=WARNING_CHECKS[period_type].name,
        passed=warnings.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "warnings": warnings.height,
            "units": sorted(warnings["unit_code"].unique().to_list()),
            "periods": sorted(warnings["period_key"].unique().to_list()),
            "by_unit": dg.MetadataValue.md(
                _markdown_table(warning_summary(warnings, "median" if period_type == "week" else "band_floor"))
            ),
        },
    )


def with_warnings(
    period_type: str, partition_keys: list[str], settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Score the partitions (which stores their early warnings), then report the
    warnings of these periods as the early-warning check."""
    result = score_partitions(period_type, partition_keys, settings, warehouse).result()
    keys = sorted({key_of(period_type, parse_key(k)[1]) for k in partition_keys})
    with warehouse.connect() as con:
        warnings = wh.read_warnings(con, period_type, keys)
    return dg.MaterializeResult(
        metadata=result.metadata,
        check_results=[*(result.check_results or []), warning_check(period_type, warnings)],
    )


@dg.asset(
    group_name="scoring",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
    check_specs=scoreboard_checks("weekly_scoreboard", "week"),
)
def weekly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Weekly scoreboard (Monday to Monday): classes, rates, points, score, rank of every unit."""
    return with_warnings("week", context.partition_keys, settings, warehouse)


@dg.asset(
    group_name="scoring",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
    check_specs=scoreboard_checks("monthly_scoreboard", "month"),
)
def monthly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Monthly scoreboard: classes, rates, points, score and rank of every unit."""
    return with_warnings("month", context.partition_keys, settings, warehouse)


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
    return publish(context, settings, warehouse)


def publish(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """What `scoreboard_site` materialises (a province's site in the lake's graph)."""
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
