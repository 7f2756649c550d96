"""The asset graph: landing files → dossiers → weekly/monthly scoreboards → site."""


import logging
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


@dg.asset(group_name="ingestion", pool=WRITER_POOL, kinds={"duckdb", "polars"})
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
    _log(context)(report.summary())
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
        }
    )


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
) -> pl.DataFrame:
    """Score the periods of these partitions and replace their rows in the warehouse."""
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
        in_wanted = pl.col("period_key").is_in(wanted)
        rows = rows.filter(in_wanted)
        wh.replace_periods(
            con,
            period_type,
            wanted,
            {
                "scored_periods": pl.DataFrame(
                    {"period_type": period_type, "period_key": wanted,
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
    return rows


def _scoreboard_metadata(rows: pl.DataFrame) -> dict:
    return {
        "periods": rows["period_key"].n_unique(),
        "rows": rows.height,
        "ranked_units": int(rows["ranked"].sum()),
        "provisional_periods": rows.filter(pl.col("provisional"))["period_key"].unique().to_list(),
    }


@dg.asset(
    group_name="scoring",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
)
def weekly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Weekly scoreboard (Monday to Monday): classes, rates, points, score, rank of every unit."""
    rows = score_partitions("week", context.partition_keys, settings, warehouse)
    return dg.MaterializeResult(metadata=_scoreboard_metadata(rows))


@dg.asset(
    group_name="scoring",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WRITER_POOL,
    deps=[dossiers],
    kinds={"duckdb", "polars"},
)
def monthly_scoreboard(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Monthly scoreboard: classes, rates, points, score and rank of every unit."""
    rows = score_partitions("month", context.partition_keys, settings, warehouse)
    return dg.MaterializeResult(metadata=_scoreboard_metadata(rows))


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
