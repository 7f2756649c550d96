"""Counts, rates, points, score, band and rank of every unit in a range of periods.

All periods of a range are computed at once: counts are grouped by the period
index of each event, and pending-overdue dossiers (which stay open across many
periods) are counted as running sums of +1/-1 events per unit, never by
scanning the history once per period. The dossiers are reduced once to lean
`Facts` (integer ids and flags), which the bottlenecks share; a district's counts
are its communes' added to its own after grouping, never a copy of their dossiers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from transforms.calendar import working_days_between
from transforms.classify import OUTCOMES, classify, derive_missing_due
from transforms.periods import Period, index_expr, periods_frame
from transforms.profile import Profile
from transforms.schema import level_order, scoreboard_schema

UNIT_KEY = ["unit_code", "unit_valid_from"]

# name -> (numerator flag, denominator flag); a rate is num/den, null when den is 0.
RECEIVED_RATES = {
    "online_rate": ("online_num", "online_den"),
    "paid_online_rate": ("paid_num", "paid_den"),
    "digitized_rate": ("digitized_num", "digitized_den"),
    "synced_rate": ("synced_num", "synced_den"),
}
FINISHED_RATES = {
    "e_result_rate": ("e_result_num", "e_result_den"),
    "complaint_rate": ("complaint_num", "complaint_den"),
    "apology_rate": ("apology_num", "apology_den"),
}


def round_score(expr: pl.Expr, decimals: int = 2) -> pl.Expr:
    """The score that ranks and bands: ``round(round(score, 9), 2)`` (scoreboard.md),
    halves away from zero exactly as DuckDB's round(double). The first rounding makes
    two float computations of one exact value (81.32499999999999, 81.325) round alike."""
    # Polars' own rounding kernel: a hand-written (x * f).round() / f chain is
    # re-associated by the optimiser and differs from DuckDB (1.005 -> 1.01).
    return expr.round(9, mode="half_away_from_zero").round(decimals, mode="half_away_from_zero")


def _round_scaled(x: float, decimals: int) -> float:
    # Polars' kernel: scale by 10**decimals, round the product half away from zero
    # (exactly, as Rust's f64::round), scale back; a - floor(a) is exact for any double.
    scale = 10.0**decimals
    a = abs(x * scale)
    if not math.isfinite(a):  # beyond 1.8e299: as Polars and DuckDB, the value itself
        return x
    whole = math.floor(a)
    return math.copysign(whole + 1.0 if a - whole >= 0.5 else whole, x) / scale


def ranked_score(x: float | None, decimals: int = 2) -> float | None:
    """`round_score` for one value (a sentence, a chart point): the 2-decimal score a unit
    ranks on, so a page never shows 77,48 for a score that ranks as 77.47.
    tests/test_score_rules.py holds it equal to `round_score` and DuckDB."""
    if x is None or not math.isfinite(x):
        return x
    return _round_scaled(_round_scaled(float(x), 9), decimals)


def parent_links(units: pl.DataFrame) -> pl.DataFrame:
    """Each unit that has a parent → the parent's identity (code, valid_from) valid
    when the child began (else the latest parent record with that code)."""
    parents = units.select(
        parent_code="unit_code", parent_valid_from="valid_from", parent_valid_to="valid_to"
    )
    children = units.filter(pl.col("parent_code").is_not_null()).select(
        "unit_code", unit_valid_from="valid_from", parent_code="parent_code"
    )
    linked = children.join(parents, on="parent_code", how="inner").with_columns(
        covers=(pl.col("parent_valid_from") <= pl.col("unit_valid_from"))
        & (
            pl.col("parent_valid_to").is_null()
            | (pl.col("parent_valid_to") >= pl.col("unit_valid_from"))
        )
    )
    return (
        linked.sort(["covers", "parent_valid_from"], descending=True)
        .group_by(UNIT_KEY, maintain_order=True)
        .first()
        .select(*UNIT_KEY, "parent_code", "parent_valid_from")
    )


OUTCOME_CODE = {c: i for i, c in enumerate(OUTCOMES)}
FLAGS = [flag for pair in (*RECEIVED_RATES.values(), *FINISHED_RATES.values()) for flag in pair]


@dataclass(frozen=True)
class Facts:
    """What every count of a range of periods needs, one lean row per dossier of its
    own unit. Units and procedures are dense integer ids (uid, pid) numbered in the
    order of their codes, so grouping is cheap and sorting by id sorts by code."""

    period_type: str
    units: pl.DataFrame  # uid, unit_code, unit_valid_from: every unit of the registry or the data
    parents: pl.DataFrame  # uid, parent_uid: where a unit's counts also go
    procedures: pl.DataFrame  # pid, procedure_code
    rows: pl.DataFrame  # uid, pid, received_idx, end_idx, outcome, overdue_from, *FLAGS, working_days
    # The dossiers that are overdue or pending overdue in some period (LATE_DETAILS;
    # `did` is the dossier's row in `rows`), for the evidence (transforms.evidence);
    # None when the dossiers came without their ids.
    late: pl.DataFrame | None = None


def _ids(values: pl.DataFrame, name: str) -> pl.DataFrame:
    return values.unique().sort(values.columns).with_row_index(name)


def _working_days(calendar: pl.DataFrame, start: pl.Expr, end: pl.Expr) -> pl.Expr | None:
    """working_days_between as one lookup by day offset, for a calendar of consecutive
    days (None otherwise): the working days d with date(start) <= d < date(end)."""
    days = calendar["date"]
    if days.is_empty() or (days.max() - days.min()).days + 1 != days.len() or not days.is_sorted():
        return None
    before = calendar["working_days_before"]

    def lookup(day: pl.Expr) -> pl.Expr:
        offset = (day.dt.date() - pl.lit(days[0])).dt.total_days()
        return pl.lit(before).gather(pl.when(offset.is_between(0, days.len() - 1)).then(offset))

    diff = lookup(end) - lookup(start)
    return pl.when(diff < 0).then(0).otherwise(diff)


def _parent_ids(keys: pl.DataFrame, units: pl.DataFrame) -> pl.DataFrame:
    """uid → parent_uid: the id of each unit's parent, for the units the registry
    gives a parent."""
    links = parent_links(units)
    return (
        keys.join(links, on=UNIT_KEY)
        .join(
            keys.rename({"uid": "parent_uid", "unit_code": "parent_code", "unit_valid_from": "parent_valid_from"}),
            on=["parent_code", "parent_valid_from"],
        )
        .select("uid", "parent_uid")
    )


def _pending_overdue_from(period_type: str, last: Period) -> pl.Expr:
    """The period (its index) from which a dossier not finished by its due end counts
    as pending overdue."""
    # pending overdue from the period whose end first passes the due end; in the period
    # in progress a due end after its cutoff is not yet overdue
    due_from = pl.max_horizontal(index_expr(period_type, "due_end"), index_expr(period_type, "received_at"))
    if last.provisional:
        due_from = pl.when((due_from == last.index) & (pl.col("due_end") >= pl.lit(last.cutoff))).then(
            due_from + 1
        ).otherwise(due_from)
    return due_from


def scoring_facts(
    dossiers: pl.DataFrame,
    units: pl.DataFrame,
    calendar: pl.DataFrame,
    period_type: str,
    last: Period,
    catalogue: pl.DataFrame | None = None,
) -> Facts:
    """The facts of these dossiers for periods up to `last` (the period in progress, if
    it is one, is cut at its cutoff)."""
    keys = _ids(
        pl.concat([units.select("unit_code", unit_valid_from="valid_from"), dossiers.select(UNIT_KEY)]),
        "uid",
    )
    procedures = _ids(dossiers.select("procedure_code"), "pid")
    parents = _parent_ids(keys, units)
    d = classify(derive_missing_due(dossiers, catalogue, calendar).lazy())
    finished = pl.col("kind") == "finished"
    overdue = pl.col("outcome") == "overdue"
    working_days = _working_days(calendar, pl.col("received_at"), pl.col("end_at"))
    if working_days is None:
        d = working_days_between(d.collect(), "received_at", "end_at", calendar, out="working_days").lazy()
        working_days = pl.col("working_days")
    due_from = _pending_overdue_from(period_type, last)
    facts = (
        d.join(keys.lazy(), on=UNIT_KEY, how="left", nulls_equal=True, maintain_order="left")
        .join(procedures.lazy(), on="procedure_code", how="left", nulls_equal=True, maintain_order="left")
        .select(
            *([pl.col(c) for c in LATE_DETAILS] if "dossier_id" in dossiers.columns else []),
            "uid",
            "pid",
            received_idx=index_expr(period_type, "received_at").cast(pl.Int32),
            end_idx=index_expr(period_type, "end_at").cast(pl.Int32),
            outcome=pl.col("outcome").replace_strict(OUTCOME_CODE, default=None, return_dtype=pl.Int8),
            overdue_from=pl.when(pl.col("due_end").is_not_null()).then(due_from).cast(pl.Int32),
            online_den=pl.col("channel").is_not_null(),
            online_num=pl.col("channel") == 2,
            paid_den=(pl.col("fee_required") == True) & pl.col("paid_online").is_not_null(),  # noqa: E712
            paid_num=(pl.col("fee_required") == True) & (pl.col("paid_online") == True),  # noqa: E712
            digitized_den=pl.col("digitized").is_not_null(),
            digitized_num=pl.col("digitized") == True,  # noqa: E712
            synced_den=pl.col("synced").is_not_null(),
            synced_num=pl.col("synced") == True,  # noqa: E712
            e_result_den=finished & pl.col("e_result").is_not_null(),
            e_result_num=finished & (pl.col("e_result") == True),  # noqa: E712
            complaint_den=finished & (pl.col("complaint").is_not_null() | pl.col("rating").is_not_null()),
            complaint_num=finished
            & ((pl.col("complaint") == True) | (pl.col("rating") == "dissatisfied")),  # noqa: E712
            apology_den=overdue & pl.col("apology_issued").is_not_null(),
            apology_num=overdue & (pl.col("apology_issued") == True),  # noqa: E712
            working_days=pl.when(finished).then(working_days).cast(pl.Int32),
        )
    )
    lean = [c for c in facts.collect_schema().names() if c not in LATE_DETAILS]
    if "dossier_id" not in dossiers.columns:
        return Facts(period_type, keys, parents, procedures, facts.collect())
    # one pass (the plan is shared): the lean rows, and the details of the late ones only
    late = facts.with_row_index("did").filter(is_late()).select("did", *LATE_DETAILS)
    rows, details = pl.collect_all([facts.select(lean), late])
    return Facts(period_type, keys, parents, procedures, rows, details)


# What the evidence shows of a late dossier besides its unit and procedure
# (due_at as scoring used it: exported, or derived from the catalogue).
LATE_DETAILS = ("dossier_id", "received_at", "due_at", "end_at")


def is_late() -> pl.Expr:
    """A dossier overdue in the period of its end, or pending overdue in some period
    (over the columns of Facts.rows)."""
    return (pl.col("outcome") == OUTCOME_CODE["overdue"]) | (
        pl.col("overdue_from").is_not_null()
        & (pl.col("end_idx").is_null() | (pl.col("overdue_from") < pl.col("end_idx")))
    )


def attributed(counts: pl.DataFrame, facts: Facts, keys: list[str]) -> pl.DataFrame:
    """Counts per (uid, *keys) of each dossier's own unit → the same counts where every
    unit also counts, through parent_code, for the district (sums add up either way)."""
    to_parent = counts.join(facts.parents, on="uid").with_columns(uid=pl.col("parent_uid")).drop("parent_uid")
    values = [c for c in counts.columns if c not in ("uid", *keys)]
    return pl.concat([counts, to_parent]).group_by("uid", *keys).agg(pl.col(values).sum())


def unit_period_counts(
    facts: Facts, periods: list[Period]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per (uid, period index): counts by receipt, counts by end, and pending overdue,
    for the periods given."""
    first, last = periods[0].index, periods[-1].index
    f = facts.rows
    received_flags = [flag for pair in RECEIVED_RATES.values() for flag in pair]
    received = attributed(
        f.filter(pl.col("received_idx").is_between(first, last))
        .group_by("uid", period_idx="received_idx")
        .agg(pl.len().cast(pl.Int64).alias("received"), pl.col(received_flags).sum().cast(pl.Int64)),
        facts,
        ["period_idx"],
    )
    finished_flags = [flag for pair in FINISHED_RATES.values() for flag in pair]
    ended = attributed(
        f.filter(pl.col("end_idx").is_between(first, last) & pl.col("outcome").is_not_null())
        .group_by("uid", period_idx="end_idx")
        .agg(
            *[(pl.col("outcome") == code).sum().cast(pl.Int64).alias(c) for c, code in OUTCOME_CODE.items()],
            pl.col(finished_flags).sum().cast(pl.Int64),
            working_days_sum=pl.col("working_days").cast(pl.Int64).sum(),
            working_days_n=pl.col("working_days").count().cast(pl.Int64),
        ),
        facts,
        ["period_idx"],
    )
    pending = running_counts(pending_overdue_events(facts, periods), ["uid"], last).rename(
        {"count": "pending_overdue"}
    )
    return received, ended, pending


def pending_overdue_events(facts: Facts, periods: list[Period], keys: list[str] = ["uid"]) -> pl.DataFrame:
    """+1 in the period whose end first passes the due end, -1 in the period of the end.

    A dossier is pending overdue in P when it was received before P's end, had no end
    before P's end and its due end is before P's end: the periods from the one
    containing the due end up to the one before its end. Events before the first
    period are moved to it, so running sums start right."""
    first, last = periods[0].index, periods[-1].index
    spans = overdue_spans(facts.rows, keys)
    opens = spans.select(*keys, period_idx=pl.max_horizontal("start", pl.lit(first, pl.Int32)), delta=pl.lit(1))
    closes = spans.filter(pl.col("stop").is_not_null()).select(
        *keys, period_idx=pl.max_horizontal("stop", pl.lit(first, pl.Int32)), delta=pl.lit(-1)
    )
    others = [k for k in keys if k != "uid"]
    events = (
        pl.concat([opens, closes])
        .filter(pl.col("period_idx") <= last)
        .group_by(*keys, "period_idx")
        .agg(pl.col("delta").sum())
    )
    return attributed(events, facts, [*others, "period_idx"])


def overdue_spans(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """(keys, start, stop) of every dossier of `rows` (Facts.rows) pending overdue in
    some period: it is in the periods start .. stop - 1 (stop null: to the last)."""
    return rows.filter(pl.col("overdue_from").is_not_null()).select(
        *keys, start=pl.col("overdue_from"), stop=pl.col("end_idx")
    ).filter(pl.col("stop").is_null() | (pl.col("start") < pl.col("stop")))


def running_counts(events: pl.DataFrame, keys: list[str], last: int) -> pl.DataFrame:
    """(keys, period_idx, delta) events → (keys, period_idx, count) for every period up
    to `last` where the running sum is positive: sparse, so no dense grid is needed."""
    return (
        events.sort([*keys, "period_idx"])
        .with_columns(
            count=pl.col("delta").cum_sum().over(keys),
            until=pl.col("period_idx").shift(-1).over(keys).fill_null(last + 1),
        )
        .filter((pl.col("count") > 0) & (pl.col("until") > pl.col("period_idx")))
        .with_columns(period_idx=pl.int_ranges("period_idx", "until"))
        .explode("period_idx")
        .select(*keys, pl.col("period_idx").cast(pl.Int64), pl.col("count").cast(pl.Int64))
    )


def satisfaction_expr() -> pl.Expr:
    """max(0, 1 − (1 − on_time_rate) − complaint_rate); without an on-time rate,
    max(0, 1 − complaint_rate); null without a complaint rate."""
    complaint, on_time = pl.col("complaint_rate"), pl.col("on_time_rate")
    return (
        pl.when(complaint.is_null())
        .then(None)
        .when(on_time.is_null())
        .then(pl.max_horizontal(pl.lit(0.0), 1 - complaint))
        .otherwise(pl.max_horizontal(pl.lit(0.0), 1 - (1 - on_time) - complaint))
    )


def _rate(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def score_periods(
    dossiers: pl.DataFrame,
    units: pl.DataFrame,
    profile: Profile,
    period_type: str,
    periods: list[Period],
    calendar: pl.DataFrame,
    catalogue: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The published scoreboard rows (transforms.schema.scoreboard_schema of the
    profile) for consecutive `periods`.

    The period before the first is scored too, for rank_change, and dropped."""
    if not periods:
        return pl.DataFrame(schema=scoreboard_schema(profile))
    facts = scoring_facts(dossiers, units, calendar, period_type, periods[-1], catalogue)
    return score_facts(facts, units, profile, periods)


def score_facts(facts: Facts, units: pl.DataFrame, profile: Profile, periods: list[Period]) -> pl.DataFrame:
    """score_periods from the facts of its dossiers."""
    period_type = facts.period_type
    before = Period(
        period_type,
        periods[0].index - 1,
        datetime.combine(periods[0].start, datetime.min.time()),
        False,
    )
    all_periods = [before, *periods]
    received, ended, pending = unit_period_counts(facts, all_periods)
    grid = units.select(
        "unit_code", unit_valid_from="valid_from", unit_valid_to="valid_to",
        unit_name="unit_name", level="level", peer_group="peer_group",
    ).join(facts.units, on=UNIT_KEY, how="left", nulls_equal=True, maintain_order="left").join(
        periods_frame(all_periods), how="cross"
    )
    key = ["uid", "period_idx"]
    count_cols = ["received", *OUTCOMES, "pending_overdue"]
    frame = (
        grid.join(received, on=key, how="left")
        .join(ended, on=key, how="left")
        .join(pending, on=key, how="left")
        .with_columns(
            [pl.col(c).fill_null(0) for c in count_cols]
            + [pl.col(c).fill_null(0) for pair in (*RECEIVED_RATES.values(), *FINISHED_RATES.values()) for c in pair]
        )
        .with_columns(
            valid_in_period=(pl.col("unit_valid_from") <= pl.col("period_last_day"))
            & (pl.col("unit_valid_to").is_null() | (pl.col("unit_valid_to") >= pl.col("period_start"))),
            has_counts=pl.sum_horizontal(count_cols) > 0,
        )
        .filter(pl.col("valid_in_period") | pl.col("has_counts"))
    )

    frame = frame.with_columns(
        finished=pl.sum_horizontal("early", "on_time", "overdue", "no_deadline"),
        timeliness_base=pl.sum_horizontal("early", "on_time", "overdue", "pending_overdue"),
    ).with_columns(
        on_time_rate=pl.when(pl.col("timeliness_base") > 0).then(
            (pl.col("early") + pl.col("on_time")) / pl.col("timeliness_base")
        ),
        **{name: _rate(num, den) for name, (num, den) in {**RECEIVED_RATES, **FINISHED_RATES}.items()},
        avg_working_days=pl.when(pl.col("working_days_n") > 0).then(
            pl.col("working_days_sum") / pl.col("working_days_n")
        ),
    ).with_columns(satisfaction_rate=satisfaction_expr())
    frame = add_points(frame, profile)
    frame = add_ranks(frame, profile)
    return (
        frame.filter(pl.col("period_idx") >= periods[0].index)
        .with_columns(period_type=pl.lit(period_type), level_order=level_order())
        .sort(["period_idx", "level_order", "unit_code", "unit_valid_from"])
        .select([pl.col(c).cast(t) for c, t in scoreboard_schema(profile).items()])
    )


def _in_order(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Left-to-right sum with nulls as 0, element by element in numpy. (Polars may
    re-associate a chain of additions, pairwise, depending on the data, and the last
    bit of a float score decides a rounded rank.)"""
    total = frame[columns[0]].fill_null(0.0).to_numpy()
    for column in columns[1:]:
        total = total + frame[column].fill_null(0.0).to_numpy()
    return total


def add_points(frame: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Per group of the profile, its points (`points_<group>`) and applicable maximum
    (`max_points_<group>`), both null when none of its indicators applies; and the
    score renormalised over the indicators that apply."""
    indicators = profile.indicators
    points = [f"_pts{i}" for i in range(len(indicators))]
    maxima = [f"_max{i}" for i in range(len(indicators))]
    frame = frame.with_columns(
        *[ind.points(pl.col(ind.rate)).cast(pl.Float64).alias(p) for p, ind in zip(points, indicators)],
        *[
            pl.when(pl.col(ind.rate).is_not_null()).then(pl.lit(float(ind.max_points))).alias(m)
            for m, ind in zip(maxima, indicators)
        ],
    )
    group_cols = {}
    for group in profile.groups:
        members = [i for i, ind in enumerate(indicators) if ind.group == group.key]
        applies = pl.any_horizontal([pl.col(maxima[i]).is_not_null() for i in members])
        group_cols[group.points_column] = pl.when(applies).then(pl.Series(_in_order(frame, [points[i] for i in members])))
        group_cols[group.max_points_column] = pl.when(applies).then(
            pl.Series(_in_order(frame, [maxima[i] for i in members]))
        )
    frame = frame.with_columns(**group_cols)
    applicable_max = _in_order(frame, maxima)
    # earned = the sum of the group points, in the published order, so that the
    # score adds up exactly as the published group columns do
    earned_total = _in_order(frame, [g.points_column for g in profile.groups])
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(applicable_max > 0, 100 * earned_total / applicable_max, np.nan)
    return frame.with_columns(score=pl.Series(score).fill_nan(None)).drop(*points, *maxima)


def add_ranks(frame: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Band, ranked flag, rank per level, rank in peer group, and change since the
    previous period of the same kind (null where either side is unranked)."""
    rounded = round_score(pl.col("score"))
    frame = frame.with_columns(
        rounded_score=rounded,
        band=profile.band_expr(rounded),
        ranked=(
            pl.col("valid_in_period")
            & pl.col("score").is_not_null()
            & ((pl.col("received") + pl.col("timeliness_base")) >= profile.min_volume)
        ),
    ).with_columns(
        _rank_score=pl.when(pl.col("ranked")).then(pl.col("rounded_score")),
    ).with_columns(
        rank=pl.col("_rank_score").rank("min", descending=True).over("period_idx", "level").cast(pl.Int64),
        rank_in_peer=pl.col("_rank_score")
        .rank("min", descending=True)
        .over("period_idx", "level", "peer_group")
        .cast(pl.Int64),
    )
    previous = frame.select(
        *UNIT_KEY, period_idx=pl.col("period_idx") + 1, previous_rank=pl.col("rank")
    )
    return frame.join(previous, on=[*UNIT_KEY, "period_idx"], how="left").with_columns(
        rank_change=pl.col("previous_rank") - pl.col("rank")
    )

