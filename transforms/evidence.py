"""The evidence behind a unit's late counts: which dossiers they are.

For every unit and period, one row per dossier it counts as overdue (finished in
the period after its due end) or pending overdue (open at the period's end, its
due end passed): the dossier id, its procedure, when it was received, when it
was due and when it ended, and how many working days late it is. The rows are
selected from the very facts the scoreboard counts (transforms.score.Facts, the
spans of score.overdue_spans) and go to the district through parent_code as the
counts do, so a unit's rows in a period are exactly its `overdue` +
`pending_overdue`. They are also exactly the dossiers its what-if counts
(`late_dossiers`): any k of them on time moves the on-time rate alike.

Days late are working days (transforms.calendar): those after the due date up
to and including the day of the end; for a dossier still pending at the end of
the period, up to the period's last day (the cut-off's day in a period in
progress). A dossier finished late on its due day is 0 days late. Only ids,
codes, names of procedures and dates: no personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import polars as pl

from transforms.calendar import working_days_between
from transforms.insights import procedure_names
from transforms.periods import Period, periods_frame
from transforms.score import OUTCOME_CODE, UNIT_KEY, Facts, overdue_spans, scoring_facts

OVERDUE, PENDING_OVERDUE = "overdue", "pending_overdue"
CLASSES = (OVERDUE, PENDING_OVERDUE)

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(), "period_key": pl.Utf8(), "unit_code": pl.Utf8(), "unit_valid_from": pl.Date(),
    "class": pl.Utf8(), "dossier_id": pl.Utf8(), "procedure_code": pl.Utf8(), "procedure_name": pl.Utf8(),
    "received_at": pl.Datetime("us"), "due_at": pl.Datetime("us"), "end_at": pl.Datetime("us"),
    "working_days_late": pl.Int64(), "receiving_unit_code": pl.Utf8(),
}
# within a unit and period: overdue first, then the longest due, then by id
EVIDENCE_ORDER = ("class", "due_at", "dossier_id")
# Evidence rows made and stored at a time (scoring: evidence_slices). A dossier pending
# overdue is listed in every period it stays so (one left open for years, in every
# week of them), so a chunk's evidence is made a run of periods at a time.
EVIDENCE_SLICE_ROWS = 500_000


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=EVIDENCE_SCHEMA)


def evidence(
    dossiers: pl.DataFrame,
    units: pl.DataFrame,
    calendar: pl.DataFrame,
    period_type: str,
    periods: list[Period],
    catalogue: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The evidence of consecutive `periods` from the dossiers themselves (scoring
    makes it from the facts it scores with: evidence_of)."""
    if not periods:
        return empty()
    facts = scoring_facts(dossiers, units, calendar, period_type, periods[-1], catalogue)
    return evidence_of(facts, procedure_names(dossiers), units, periods, calendar)


def evidence_of(
    facts: Facts, names: pl.DataFrame, units: pl.DataFrame, periods: list[Period], calendar: pl.DataFrame
) -> pl.DataFrame:
    """The evidence rows (EVIDENCE_SCHEMA) of consecutive `periods`, for the units of
    the registry `units` (those the scoreboard lists), from the facts the scoreboard
    was counted from; `names`: procedure_code → procedure_name."""
    if not periods or facts.late is None:
        return empty()
    first, last = periods[0].index, periods[-1].index
    rows = facts.rows.with_row_index("did")
    keys = ["did", "uid", "pid"]
    overdue = rows.filter(
        (pl.col("outcome") == OUTCOME_CODE["overdue"]) & pl.col("end_idx").is_between(first, last)
    ).select(*keys, period_idx=pl.col("end_idx").cast(pl.Int64), **{"class": pl.lit(OVERDUE)})
    # the periods a span covers within first..last, as pending_overdue_events counts them
    spans = overdue_spans(rows, keys).with_columns(
        lo=pl.max_horizontal("start", pl.lit(first, pl.Int32)),
        hi=pl.min_horizontal(pl.col("stop").fill_null(last + 1) - 1, pl.lit(last, pl.Int32)),
    ).filter(pl.col("lo") <= pl.col("hi"))
    pending = spans.select(
        *keys, period_idx=pl.int_ranges("lo", pl.col("hi") + 1, dtype=pl.Int64), **{"class": pl.lit(PENDING_OVERDUE)}
    ).explode("period_idx")
    own = pl.concat([overdue, pending]).with_columns(receiving_uid=pl.col("uid"))
    # a district counts its communes' dossiers (score.attributed): so does its evidence
    to_parent = own.join(facts.parents, on="uid").with_columns(uid=pl.col("parent_uid")).drop("parent_uid")
    late = pl.concat([own, to_parent])
    listed = units.select("unit_code", unit_valid_from="valid_from").unique()
    unit_codes = facts.units.join(listed, on=UNIT_KEY, how="semi", nulls_equal=True)
    frame = (
        late.join(unit_codes, on="uid")  # units the scoreboard lists
        .join(facts.units.select(receiving_uid="uid", receiving_unit_code="unit_code"), on="receiving_uid")
        .join(facts.procedures, on="pid", how="left")
        .join(names, on="procedure_code", how="left")
        .join(facts.late, on="did")
        .join(periods_frame(periods).select("period_idx", "period_key", "cutoff"), on="period_idx")
        .with_columns(end_at=pl.when(pl.col("class") == OVERDUE).then(pl.col("end_at")))
    )
    return _days_late(frame, calendar).with_columns(period_type=pl.lit(facts.period_type)).sort(
        ["period_idx", "uid", *EVIDENCE_ORDER]
    ).select([pl.col(c).cast(t) for c, t in EVIDENCE_SCHEMA.items()])


def evidence_slices(
    facts: Facts, names: pl.DataFrame, units: pl.DataFrame, periods: list[Period], calendar: pl.DataFrame,
    keep: pl.Expr, late: dict[str, int], rows: int = EVIDENCE_SLICE_ROWS,
) -> Iterator[pl.DataFrame]:
    """The evidence of `periods` (evidence_of), its rows that `keep`,
    made a run of consecutive periods at a time: `late` gives each period's number of
    rows (its units' overdue + pending overdue, which its evidence has exactly as many
    rows as), so the runs hold about `rows` rows each, one run when they are fewer.
    Together they are evidence_of(all of `periods`), in its order."""
    run: list = []
    size = 0
    for period in periods:
        n = late.get(period.key, 0)
        if run and size + n > rows:
            yield evidence_of(facts, names, units, run, calendar).filter(keep)
            run, size = [], 0
        run.append(period)
        size += n
    if run:
        yield evidence_of(facts, names, units, run, calendar).filter(keep)


def _days_late(frame: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """working_days_late: the working days d with date(due) < d <= the day it is late to
    (its end; for a pending one the period's last day before the cut-off)."""
    day = timedelta(days=1)
    as_of = pl.when(pl.col("class") == OVERDUE).then(pl.col("end_at")).otherwise(
        pl.col("cutoff") - pl.duration(microseconds=1)
    )
    shifted = frame.with_columns(
        _after_due=pl.col("due_at").dt.date() + day, _through=as_of.dt.date() + day
    )
    return working_days_between(shifted, "_after_due", "_through", calendar, out="working_days_late").drop(
        "_after_due", "_through"
    )
