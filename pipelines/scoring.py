"""Scoring a range of periods: read the dossiers that can count, score, check, store.

A long range (a backfill of years of weeks) is scored in chunks of consecutive
periods, each reading at most about `CHUNK_DOSSIERS` dossiers, so memory stays
bounded whatever the history. Every number is the same as scoring the range in
one go: each chunk also scores the period before its first, for rank_change.
"""


import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dagster as dg
import polars as pl

from pipelines import warehouse as wh
from pipelines.resources import ScoreboardSettings, Warehouse, local_now
from quality.early_warning import early_warnings, months_in_progress_at_risk
from quality.holds import SCOREBOARD_CHECK, scoreboard_holds
from quality.suites import QualityResult, merge_results, validate_scoreboard
from transforms.calendar import calendar_end, load_overlay, working_calendar
from transforms.evidence import empty as no_evidence, evidence_slices
from transforms.insights import BOTTLENECK_SCHEMA, bottlenecks_of, what_if
from transforms.periods import key_of, make_periods, parse_key, plan_chunks, start_of
from transforms.profile import Profile
from transforms.schema import scoreboard_schema
from transforms.score import score_facts, scoring_facts

log = logging.getLogger("scoreboard")

# Dossiers read per chunk; dossiers that stay open are read by every chunk. At 10 M
# dossiers, larger chunks raised scoring's peak and saved no time: this size keeps the
# process under 4 GB (docs/benchmarks.md).
CHUNK_DOSSIERS = 2_500_000


def score_partitions(
    period_type: str,
    partition_keys: list[str],
    settings: ScoreboardSettings,
    warehouse: Warehouse,
    *,
    chunk_dossiers: int = CHUNK_DOSSIERS,
) -> "ScoredPeriods":
    """Score the periods of these partitions and replace their rows in the warehouse,
    except periods held back by a failing check or a broken batch; then store the
    early warnings of the periods whose numbers this may have changed."""
    indices = sorted({parse_key(k)[1] for k in partition_keys})
    first, last = indices[0], indices[-1]
    with warehouse.connect() as con:
        _, latest_event = wh.data_extent(con)
        units = wh.read_units(con)
        periods = make_periods(period_type, first, last, latest_event=latest_event, now=local_now())
        profile = settings.profile()
        catalogue = settings.catalogue()
        overlay = load_overlay(Path(settings.calendar_path))
        # the names of the whole range, as if it were scored in one go
        names = wh.procedure_names(con, start_of(period_type, first - 1), start_of(period_type, last + 1))
        batch_held = wh.batch_held_periods(con, period_type)
        chunks = plan_chunks(period_type, first, last, *wh.counting_days(con), chunk_dossiers)
        scored: list[ScoredPeriods] = []
        for n, (lo, hi, expected) in enumerate(chunks, 1):
            wanted = [key_of(period_type, i) for i in indices if lo <= i <= hi]
            if not wanted:
                continue
            started = time.monotonic()
            log.info(
                "scoring %ss %s … %s (chunk %d of %d): about %s dossiers",
                period_type, key_of(period_type, lo), key_of(period_type, hi), n, len(chunks), f"{expected:,}",
            )
            scored.append(
                _score_chunk(
                    con, period_type, [p for p in periods if lo <= p.index <= hi], wanted,
                    units, profile, catalogue, overlay, names, batch_held, settings,
                )
            )
            log.info(
                "scored %ss %s … %s in %.1f s: %s rows%s",
                period_type, wanted[0], wanted[-1], time.monotonic() - started, f"{scored[-1].rows.height:,}",
                f", held {', '.join(scored[-1].held)}" if scored[-1].held else "",
            )
        published = sorted(set(indices) - {parse_key(k)[1] for s in scored for k in s.held})
        store_warnings(con, period_type, published, profile, settings.quality_config())
    return ScoredPeriods(
        pl.concat([s.rows for s in scored]),
        merge_results([s.quality for s in scored]),
        sorted(k for s in scored for k in s.held),
    )


def _score_chunk(
    con, period_type, periods, wanted, units, profile, catalogue, overlay, names, batch_held, settings
) -> "ScoredPeriods":
    """Score, check and store the `wanted` periods of one chunk (`periods`: those of
    them that have started)."""
    lo, hi = parse_key(wanted[0])[1], parse_key(wanted[-1])[1]
    # the period before the first is needed for rank_change
    window_start = start_of(period_type, lo - 1)
    window_end = start_of(period_type, hi + 1)
    dossiers = wh.counting_dossiers(con, window_start, window_end)
    earliest = dossiers["received_at"].min()
    calendar = working_calendar(
        min(earliest.date(), window_start) if earliest else window_start,
        # room for due dates derived from legal processing times
        calendar_end(window_end, catalogue["processing_days"].max() if catalogue is not None else None),
        overlay,
    )
    facts = None
    rows = pl.DataFrame(schema=scoreboard_schema(profile))
    if periods:
        facts = scoring_facts(dossiers, units, calendar, period_type, periods[-1], catalogue)
        del dossiers  # the lean facts are all that is needed from here
        rows = score_facts(facts, units, profile, periods).filter(pl.col("period_key").is_in(wanted))
    with ThreadPoolExecutor(max_workers=1) as checking:
        # the suite runs in the second process: meanwhile, what the periods it lets
        # through need (each period's rows are its own, so they are cut after), and
        # their storing (_store_checked)
        checked = checking.submit(validate_scoreboard, rows, profile)
        late = bottlenecks_of(facts, names, periods) if facts is not None else pl.DataFrame(schema=BOTTLENECK_SCHEMA)
        options = what_if(rows, profile)

        def tables(publish: list[str]) -> dict:
            in_publish = pl.col("period_key").is_in(publish)
            kept = rows.filter(in_publish)
            late_rows = dict(
                kept.group_by("period_key").agg(pl.col("overdue").add(pl.col("pending_overdue")).sum()).rows()
            )
            evidence = (lambda: evidence_slices(facts, names, units, periods, calendar, in_publish, late_rows)) \
                if facts is not None else no_evidence()
            return {
                "scored_periods": pl.DataFrame(
                    {"period_type": period_type, "period_key": publish,
                     "config_fingerprint": settings.config_fingerprint()}
                ),
                "scoreboard": kept,
                "what_if": options.filter(in_publish),
                "bottlenecks": late.filter(in_publish),
                "evidence": evidence,
            }

        quality, held = _store_checked(con, period_type, wanted, batch_held, checked, tables, profile)
    return ScoredPeriods(rows.filter(~pl.col("period_key").is_in(held)), quality, held)


def _store_checked(
    con, period_type: str, wanted: list[str], batch_held: set[str], checked: Future,
    tables: Callable[[list[str]], dict], profile: Profile,
) -> tuple[QualityResult, list[str]]:
    """Store the periods of `wanted` while the suite checks them (`checked`); the suite's
    outcome and the periods held back. A held period keeps its last good publication:
    its rows are not replaced. Those a broken batch holds are known before; the others
    are stored meanwhile, in a transaction committed, with the suite's holds, once it
    lets every one of them through. Else it is undone and they are stored again
    without those it holds back."""
    decided: dict = {}

    def stored(publish: list[str]) -> bool:
        def settle() -> bool:  # in the transaction, once the rows are in
            if not decided:
                quality = checked.result()
                failed, holds = scoreboard_holds(quality, period_type, wanted)
                decided.update(quality=quality, held=sorted((failed | batch_held) & set(wanted)), holds=holds)
            wh.write_scoreboard_holds(con, period_type, wanted, decided["holds"])
            # a held period is scored too: scoring it again gives the same hold until
            # its hold or its rows change, which puts it back
            wh.scored_to_score(con, period_type, wanted)
            return publish == [k for k in wanted if k not in decided["held"]]

        return wh.replace_periods(con, period_type, publish, tables(publish), profile, before_commit=settle)

    if not stored([k for k in wanted if k not in batch_held]):
        stored([k for k in wanted if k not in decided["held"]])
    return decided["quality"], decided["held"]


def store_warnings(
    con, period_type: str, published: list[int], profile: Profile, quality_config: dict
) -> pl.DataFrame:
    """Compute, from the stored scoreboard, the early warnings of the periods just
    published and of those whose history they are, and store them in place of those
    periods' earlier warnings: a week's history is the `lookback_weeks` weeks before
    it; a month in progress is judged against the month before it."""
    if not published:
        return pl.DataFrame()
    lookback = int(quality_config["early_warning"]["lookback_weeks"]) if period_type == "week" else 1
    targets = sorted({i + lag for i in published for lag in range(lookback + 1)})
    rows = wh.read_scoreboard(
        con, profile, period_type, start_of(period_type, targets[0] - lookback), start_of(period_type, targets[-1] + 1)
    )
    stored = set(rows["period_key"].unique().to_list())
    keys = [k for k in (key_of(period_type, i) for i in targets) if k in stored]
    if period_type == "week":
        warnings = early_warnings(rows, quality_config, period_keys=keys, cutoff=wh.data_extent(con)[1])
    else:
        warnings = months_in_progress_at_risk(rows, keys, profile, quality_config)
    wh.replace_warnings(con, period_type, keys, warnings)
    return warnings


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
                    check_name=SCOREBOARD_CHECK,
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
