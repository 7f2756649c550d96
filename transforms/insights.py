"""Why a unit ranks where it does: weak points, bottleneck procedures, what-if.

All three are computed from the same formulas as the score itself (scoreboard.md,
"Ranking"), so the numbers on a unit's page agree with the published table.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.periods import Period, periods_frame
from transforms.profile import Profile
from transforms.score import (
    OUTCOME_CODE,
    Facts,
    add_points,
    attributed,
    pending_overdue_events,
    round_score,
    running_counts,
    satisfaction_expr,
    scoring_facts,
)

PERIOD_UNIT = ["period_type", "period_key", "level", "unit_code", "unit_valid_from"]

WEAK_POINT_SCHEMA = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "level": pl.Utf8, "unit_code": pl.Utf8,
    "unit_valid_from": pl.Date, "position": pl.Int64, "group": pl.Utf8, "indicator": pl.Utf8,
    "rate": pl.Float64, "points_earned": pl.Float64, "points_max": pl.Float64,
    "points_lost": pl.Float64, "peer_median_points": pl.Float64, "gap_to_peer_median": pl.Float64,
    "leader_points": pl.Float64, "gap_to_leader": pl.Float64,
}

BOTTLENECK_SCHEMA = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "unit_code": pl.Utf8, "unit_valid_from": pl.Date,
    "position": pl.Int64, "procedure_code": pl.Utf8, "procedure_name": pl.Utf8,
    "overdue": pl.Int64, "pending_overdue": pl.Int64, "late": pl.Int64, "share_of_late": pl.Float64,
}

WHAT_IF_SCHEMA = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "level": pl.Utf8, "unit_code": pl.Utf8,
    "unit_valid_from": pl.Date, "rank": pl.Int64, "score": pl.Float64, "band": pl.Utf8,
    "late_dossiers": pl.Int64, "target_rank": pl.Int64, "target_rank_score": pl.Float64,
    "dossiers_for_rank": pl.Int64, "target_band": pl.Utf8, "dossiers_for_band": pl.Int64,
}


def indicator_points(scoreboard: pl.DataFrame, profile: Profile, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per unit, period and applicable indicator: rate, points earned, maximum
    (and the scoreboard's columns `keep`)."""
    parts = []
    for ind in profile.indicators:
        parts.append(
            scoreboard.filter(pl.col(ind.rate).is_not_null()).select(
                *PERIOD_UNIT, *keep, "peer_group", "ranked", "rank",
                group=pl.lit(ind.group), indicator=pl.lit(ind.rate), rate=pl.col(ind.rate),
                points_earned=ind.points(pl.col(ind.rate)), points_max=pl.lit(ind.max_points),
            )
        )
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts).with_columns(points_lost=pl.col("points_max") - pl.col("points_earned"))


def weak_points(scoreboard: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Every applicable indicator of every unit, most points lost first, with the gap
    to the median of the ranked units of its level and peer group and to the leader
    (the unit ranked first in its level; the lowest code among tied leaders)."""
    # Each unit-period (_u), period-level (_l) and indicator (_i) numbered in sort order:
    # the site derives these rows when it builds (six or seven a scoreboard row), and
    # sorting and grouping on the numbers is faster than on the text.
    units = (
        scoreboard.select(PERIOD_UNIT).unique().sort(PERIOD_UNIT).with_row_index("_u")
        .with_columns(_l=pl.struct("period_type", "period_key", "level").rank("dense"))
    )
    names = sorted(ind.rate for ind in profile.indicators)
    points = indicator_points(
        scoreboard.join(units, on=PERIOD_UNIT, how="left", nulls_equal=True), profile, keep=("_u", "_l")
    )
    if points.is_empty():
        return pl.DataFrame(schema=WEAK_POINT_SCHEMA)
    points = points.with_columns(
        _i=pl.col("indicator").replace_strict(names, list(range(len(names))), return_dtype=pl.UInt32)
    )
    medians = (
        points.filter(pl.col("ranked"))
        .group_by("_l", "peer_group", "_i")
        .agg(peer_median_points=pl.col("points_earned").median())
    )
    leaders = (
        points.filter(pl.col("rank") == 1)
        .sort("unit_code")
        .group_by("_l", "_i", maintain_order=True)
        .agg(leader_points=pl.col("points_earned").first())
    )
    row = pl.int_range(1, pl.len() + 1)
    first = pl.col("_u") != pl.col("_u").shift(fill_value=-1)
    return (
        points.join(medians, on=["_l", "peer_group", "_i"], how="left")
        .join(leaders, on=["_l", "_i"], how="left")
        .with_columns(
            gap_to_peer_median=pl.col("peer_median_points") - pl.col("points_earned"),
            gap_to_leader=pl.col("leader_points") - pl.col("points_earned"),
        )
        .sort(["_u", "points_lost", "_i"], descending=[False, True, False])
        # rows of a unit-period lie together now: a position counts from its first row
        .with_columns(position=row - pl.when(first).then(row).forward_fill() + 1)
        .select([pl.col(c).cast(t) for c, t in WEAK_POINT_SCHEMA.items()])
    )


def _score_with_on_time(frame: pl.DataFrame, profile: Profile, extra: np.ndarray) -> np.ndarray:
    """The score each row would have with `extra` more of its late dossiers on time:
    on_time_rate moves, and satisfaction_rate with it; nothing else does."""
    moved = frame.with_columns(
        on_time_rate=(pl.col("early") + pl.col("on_time") + pl.Series(extra)) / pl.col("timeliness_base")
    ).with_columns(satisfaction_rate=satisfaction_expr())
    return add_points(moved, profile)["score"].to_numpy()


def _smallest_k(frame: pl.DataFrame, profile: Profile, target: np.ndarray, strict: bool) -> np.ndarray:
    """Per row, the least k in 1..late whose rounded score beats `target` (strictly, or
    reaches it), by bisection on the score formula, which never decreases with k;
    -1 where even every late dossier would not do."""
    late = frame["late"].to_numpy()
    n = frame.height

    def ok(k: np.ndarray) -> np.ndarray:
        scores = pl.DataFrame({"s": _score_with_on_time(frame, profile, k)})
        rounded = scores.select(round_score(pl.col("s")))["s"].to_numpy()
        return (rounded > target) if strict else (rounded >= target)

    has_target = ~np.isnan(target)
    feasible = has_target & (late > 0) & ok(late.astype(np.int64))
    lo = np.ones(n, dtype=np.int64)
    hi = np.maximum(late, 1).astype(np.int64)
    while True:
        active = feasible & (lo < hi)
        if not active.any():
            break
        mid = (lo + hi) // 2
        good = ok(np.where(active, mid, hi))
        hi = np.where(active & good, mid, hi)
        lo = np.where(active & ~good, mid + 1, lo)
    return np.where(feasible, lo, -1)


def what_if(scoreboard: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """For every ranked unit: the fewest of its overdue or pending-overdue dossiers that,
    had they been on time, would put its rounded score strictly above the unit ranked
    just above it, and into the next band; null where all of them would not."""
    ranked = scoreboard.filter(pl.col("ranked")).with_columns(
        rounded=round_score(pl.col("score")),
        late=pl.col("overdue") + pl.col("pending_overdue"),
    )
    if ranked.is_empty():
        return pl.DataFrame(schema=WHAT_IF_SCHEMA)
    # the unit just above: the best rank below this one's, and its rounded score
    above = (
        ranked.select("period_type", "period_key", "level", target_rank="rank", target_rank_score="rounded")
        .unique()
        .sort("target_rank")
    )
    ranked = ranked.sort("rank").join_asof(
        above.with_columns(probe=pl.col("target_rank") + 1).sort("probe"),
        left_on="rank", right_on="probe", by=["period_type", "period_key", "level"],
        strategy="backward", allow_exact_matches=True, check_sortedness=False,
    ).with_columns(
        target_rank=pl.when(pl.col("target_rank") < pl.col("rank")).then(pl.col("target_rank")),
        target_rank_score=pl.when(pl.col("target_rank") < pl.col("rank")).then(pl.col("target_rank_score")),
    )
    band_floor = {b.label: b.min_score for b in profile.bands}
    next_band = {profile.bands[i].label: profile.bands[i - 1].label for i in range(1, len(profile.bands))}
    ranked = ranked.with_columns(
        target_band=pl.col("band").replace_strict(next_band, default=None, return_dtype=pl.Utf8)
    ).with_columns(
        target_band_min=pl.col("target_band").replace_strict(band_floor, default=None, return_dtype=pl.Float64)
    )
    k_rank = _smallest_k(ranked, profile, ranked["target_rank_score"].fill_null(np.nan).to_numpy(), strict=True)
    k_band = _smallest_k(ranked, profile, ranked["target_band_min"].fill_null(np.nan).to_numpy(), strict=False)
    return (
        ranked.with_columns(
            late_dossiers=pl.col("late"),
            dossiers_for_rank=pl.Series(k_rank).replace(-1, None),
            dossiers_for_band=pl.Series(k_band).replace(-1, None),
        )
        .sort(PERIOD_UNIT)
        .select([pl.col(c).cast(t) for c, t in WHAT_IF_SCHEMA.items()])
    )


def bottlenecks(
    dossiers: pl.DataFrame,
    units: pl.DataFrame,
    calendar: pl.DataFrame,
    period_type: str,
    periods: list[Period],
    top: int = 5,
    catalogue: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per unit and period, the procedures with the most overdue + pending-overdue
    dossiers (ties by procedure code), with their share of the unit's late dossiers.
    Districts count their communes' dossiers, as in the scoreboard."""
    if not periods:
        return pl.DataFrame(schema=BOTTLENECK_SCHEMA)
    facts = scoring_facts(dossiers, units, calendar, period_type, periods[-1], catalogue)
    return bottlenecks_of(facts, procedure_names(dossiers), periods, top)


def procedure_names(dossiers: pl.DataFrame) -> pl.DataFrame:
    """procedure_code → the name most dossiers give it (the first in order among ties)."""
    return (
        dossiers.filter(pl.col("procedure_name").is_not_null())
        .group_by("procedure_code")
        .agg(procedure_name=pl.col("procedure_name").mode().sort().first())
    )


def bottlenecks_of(facts: Facts, names: pl.DataFrame, periods: list[Period], top: int = 5) -> pl.DataFrame:
    """bottlenecks from the facts of its dossiers and the procedures' names."""
    if not periods:
        return pl.DataFrame(schema=BOTTLENECK_SCHEMA)
    first, last = periods[0].index, periods[-1].index
    f = facts.rows
    overdue = attributed(
        f.filter((pl.col("outcome") == OUTCOME_CODE["overdue"]) & pl.col("end_idx").is_between(first, last))
        .group_by("uid", "pid", period_idx="end_idx")
        .agg(overdue=pl.len().cast(pl.Int64)),
        facts,
        ["pid", "period_idx"],
    ).with_columns(pl.col("period_idx").cast(pl.Int64))
    pending = running_counts(pending_overdue_events(facts, periods, ["uid", "pid"]), ["uid", "pid"], last).rename(
        {"count": "pending_overdue"}
    )
    keys = ["uid", "pid", "period_idx"]
    # uid and pid are numbered in code order: sorting by them sorts by the codes
    late = (
        overdue.join(pending, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("overdue", "pending_overdue").fill_null(0).cast(pl.Int64))
        .with_columns(late=pl.col("overdue") + pl.col("pending_overdue"))
        .with_columns(share_of_late=pl.col("late") / pl.col("late").sum().over("uid", "period_idx"))
        .sort(["uid", "period_idx", "late", "pid"], descending=[False, False, True, False])
        .with_columns(position=pl.int_range(1, pl.len() + 1).over("uid", "period_idx"))
        .filter(pl.col("position") <= top)
    )
    return (
        late.join(periods_frame(periods).select("period_idx", "period_key"), on="period_idx")
        .join(facts.units, on="uid")
        .join(facts.procedures, on="pid")
        .join(names, on="procedure_code", how="left")
        .with_columns(period_type=pl.lit(facts.period_type))
        .sort(["period_idx", "uid", "position"])
        .select([pl.col(c).cast(t) for c, t in BOTTLENECK_SCHEMA.items()])
    )
