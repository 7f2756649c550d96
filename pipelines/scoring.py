"""Scoring a range of periods: read the dossiers that can count, score, check, store."""


from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines import warehouse as wh
from pipelines.resources import ScoreboardSettings, Warehouse, local_now
from quality.holds import check_holds
from quality.suites import QualityResult, validate_scoreboard
from transforms.calendar import load_overlay, working_calendar
from transforms.insights import bottlenecks, weak_points, what_if
from transforms.periods import key_of, make_periods, parse_key, start_of
from transforms.profile import load_profile
from transforms.score import score_periods


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
