"""Which weeks and months a change in the dossiers touches, so only those are re-scored."""

from __future__ import annotations

import polars as pl

from transforms.classify import classify
from transforms.periods import PERIOD_TYPES, index_expr

# what placing a dossier in periods reads (affected_periods)
PERIOD_FIELDS = ("status", "received_at", "due_at", "finished_at", "returned_at", "rejected_at")


def changed_dossiers(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Rows that differ between two dossier tables, from either side (added, removed,
    or the kept copy changed): the old copy and the new both touch periods. `side`
    says which table a row comes from ('new' or 'old')."""
    columns = [c for c in new.columns if c in old.columns]
    old, new = old.select(columns), new.select(columns)
    added = new.join(old, on=columns, how="anti", nulls_equal=True)
    removed = old.join(new, on=columns, how="anti", nulls_equal=True)
    return pl.concat([added.with_columns(side=pl.lit("new")), removed.with_columns(side=pl.lit("old"))])


def period_span(period_type: str, last: int, *, after: int = 0) -> pl.Expr:
    """A struct {lo, hi} per classified dossier: the period indices from its receipt to
    its end (an open dossier: to `last`), and `after` periods beyond, capped at `last`."""
    return pl.struct(
        lo=index_expr(period_type, "received_at"),
        hi=pl.min_horizontal(index_expr(period_type, "end_at").fill_null(last) + after, pl.lit(last)),
    ).alias("span")


def affected_periods(changed: pl.DataFrame, last_index: dict[str, int]) -> dict[str, list[int]]:
    """Period indices whose numbers a changed dossier can move: from its receipt to its
    end (an open dossier: to the last period), and the period after, whose
    rank_change compares with them."""
    if changed.is_empty():
        return {period_type: [] for period_type in PERIOD_TYPES}
    ends = classify(changed).select("received_at", "end_at")
    out = {}
    for period_type in PERIOD_TYPES:
        spans = ends.select(period_span(period_type, last_index[period_type], after=1)).unnest("span").unique()
        indices = (
            spans.filter(pl.col("lo") <= pl.col("hi"))
            .select(idx=pl.int_ranges("lo", pl.col("hi") + 1))
            .explode("idx")
            .unique()
            .sort("idx")
        )
        out[period_type] = indices["idx"].to_list()
    return out


def contiguous_runs(indices: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9, 10] → [(3, 5), (9, 10)]"""
    runs: list[tuple[int, int]] = []
    for idx in sorted(set(indices)):
        if runs and idx == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], idx)
        else:
            runs.append((idx, idx))
    return runs
