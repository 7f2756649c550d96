"""Revisions of published final periods: what changed, for which unit, because of which files.

A period that has ended is final (scoreboard.md, Periods). Once its final numbers
have been published, a later change to them (a late file, a corrected export) is a
*revision*: the earlier version stays downloadable and every unit whose numbers
moved is told what moved and why. A provisional period changes without one.

Pure Polars; pipelines/revisions.py keeps the published versions in the warehouse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from transforms.changes import period_span
from transforms.classify import classify
from transforms.csv_cut import cut_csv
from transforms.periods import EPOCH_MONDAY, PERIOD_TYPES, key_expr
from transforms.schema import level_order, scoreboard_columns

UNIT = ["unit_code", "unit_valid_from"]
# What a revision compares: every published column but these. rank_change follows the
# period before (which has its own revision when it changes); a final period is never
# provisional.
NOT_COMPARED = ("rank_change", "provisional")
# Of the compared columns, those a unit's place among the others gives: they move when
# other units' numbers do (a late file for one ward re-ranks every ward between its old
# and new place), while the unit's own numbers stay as they were.
RELATIVE = ("rank", "rank_in_peer")
# Floats are compared, and digested, to this many decimals: a re-run computes the same
# numbers, and a difference beyond it is no published change.
DIGITS = 9

# One row per unit whose numbers a revision changed.
REVISION_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "version": pl.Int64(),  # the version this revision published (the earlier one is version - 1)
    "revised_at": pl.Datetime("us"),
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "unit_name": pl.Utf8(),
    "level": pl.Utf8(),
    "score_before": pl.Float64(),
    "score_after": pl.Float64(),
    "rank_before": pl.Int64(),  # null: not ranked (or not listed)
    "rank_after": pl.Int64(),
    "band_before": pl.Utf8(),
    "band_after": pl.Utf8(),
}
# The files whose rows changed a revised period, and how many of their dossiers touch it.
CAUSE_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "version": pl.Int64(),
    "source_file": pl.Utf8(),
    "dossiers": pl.Int64(),
}
# A dossier whose kept copy an ingestion changed, a period it falls in, and the file
# that changed it.
TOUCH_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "source_file": pl.Utf8(),
    "dossier_id": pl.Utf8(),
}


def compared_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in NOT_COMPARED]


def _comparable(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.select(
        pl.col(c).round(DIGITS) if frame.schema[c].is_float() else pl.col(c) for c in columns
    )


def period_digests(final: pl.DataFrame) -> pl.DataFrame:
    """(period_type, period_key, digest) of each period of `final` (published scoreboard
    rows): a hash of its compared columns, rows in unit order, floats to DIGITS decimals,
    written as CSV (a representation that does not depend on the library's row hashes)."""
    schema = {"period_type": pl.Utf8, "period_key": pl.Utf8, "digest": pl.Utf8}
    if final.height == 0:
        return pl.DataFrame(schema=schema)
    columns = compared_columns(final.columns)
    ordered = final.sort(["period_type", "period_key", "level", *UNIT], nulls_last=True)
    table = ordered.select(columns)
    # the periods' runs of rows, in order (the rows are sorted on their period)
    spans = ordered.group_by("period_type", "period_key", maintain_order=True).len()
    texts = cut_csv(table, spans["len"].to_list(), _csv)
    rows = [(period_type, period_key, hashlib.sha256(text).hexdigest()[:32])
            for (period_type, period_key, _n), text in zip(spans.iter_rows(), texts)]
    return pl.DataFrame(rows, schema=schema, orient="row")


PERIOD = ["period_type", "period_key"]
# Of compared_periods: a period never made public, or last made public with numbers
# scored under another configuration (its fingerprint); and a period published already,
# scored the same way, whose digest differs from the version last made public.
PUBLISHED = pl.col("version").is_not_null()
SAME_METHOD = pl.col("previous_fingerprint").eq_missing(pl.col("config_fingerprint"))
NEW_OR_REMADE = ~PUBLISHED | ~SAME_METHOD
CHANGED = PUBLISHED & SAME_METHOD & (pl.col("digest") != pl.col("previous"))


def compared_periods(digests: pl.DataFrame, fingerprints: pl.DataFrame, published: pl.DataFrame) -> pl.DataFrame:
    """Each final period shown (its `digest`), with the fingerprint of the
    configuration it was scored with, and its last version made public (`version`,
    `previous` digest, `previous_fingerprint`; null when it never was)."""
    latest = published.sort("version").group_by(PERIOD, maintain_order=True).last()
    return (
        digests.join(fingerprints, on=PERIOD, how="left")
        .join(latest.select(*PERIOD, "version", previous="digest", previous_fingerprint="config_fingerprint"),
              on=PERIOD, how="left")
    )


def period_versions(periods: pl.DataFrame, revisions: pl.DataFrame) -> pl.DataFrame:
    """The version each period of `compared_periods` is made public as:

    - a final period never made public is version 1;
    - the same numbers: nothing to record (a re-run, a backfill): not returned;
    - numbers scored under another configuration (profile, registry, calendar,
      software) are the same version made public again: a change of method is
      announced by the manifest and the methodology, not as a revision of every period;
    - other numbers whose units moved (`revisions`: unit_changes of the CHANGED
      periods) are a revision: version + 1. A difference that moved no unit's
      published numbers (the digest alone saw it) keeps its version."""
    changed = periods.filter(CHANGED)
    moved = pl.col("period_key").is_in(revisions["period_key"].unique().implode())
    # (a period key names its type: 2024-01 a month, 2024-W01 a week)
    revised = changed.filter(moved).with_columns(pl.col("version") + 1)
    again = pl.concat([periods.filter(NEW_OR_REMADE), changed.filter(~moved)]).with_columns(pl.col("version").fill_null(1))
    return pl.concat([again, revised])


def _csv(frame: pl.DataFrame, header: bool = True) -> bytes:
    return frame.write_csv(include_header=header, float_precision=DIGITS, date_format="%Y-%m-%d", null_value="").encode()


def _differing(before: pl.DataFrame, after: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The units (UNIT) whose `columns` differ between two versions of a period's rows,
    or that are listed in one of them only."""
    b, a = _comparable(before, columns), _comparable(after, columns)
    return pl.concat([
        a.join(b, on=columns, how="anti", nulls_equal=True).select(UNIT),
        b.join(a, on=columns, how="anti", nulls_equal=True).select(UNIT),
    ]).unique()


def own_changes(units: pl.DataFrame, before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """`units` (REVISION_SCHEMA) with `own_changed`: whether the unit's own numbers
    (every compared column but RELATIVE) differ between the version its revision
    replaced (`before`: stored rows with their `version`) and the version it published
    (`after`, likewise). False: only its rank moved, because other units' numbers
    did; null where the rows of either version are not given. A version published
    again under another configuration keeps its number, not its rows: its units then
    all count as changed."""
    parts = []
    for (period_type, period_key, version), part in units.partition_by(
            ["period_type", "period_key", "version"], as_dict=True, maintain_order=True).items():
        b = before.filter(period_type=period_type, period_key=period_key, version=version - 1)
        a = after.filter(period_type=period_type, period_key=period_key, version=version)
        if b.height == 0 or a.height == 0:
            parts.append(part.with_columns(own_changed=pl.lit(None, dtype=pl.Boolean)))
            continue
        columns = [c for c in compared_columns(a.columns) if c in b.columns and c not in (*RELATIVE, "version")]
        moved = _differing(b, a, columns).with_columns(own_changed=pl.lit(True))
        parts.append(part.join(moved, on=UNIT, how="left", nulls_equal=True)
                     .with_columns(pl.col("own_changed").fill_null(False)))
    if not parts:
        return units.with_columns(own_changed=pl.lit(None, dtype=pl.Boolean))
    return pl.concat(parts)


def unit_changes(before: pl.DataFrame, after: pl.DataFrame, *, version: int, at: datetime) -> pl.DataFrame:
    """The units of one period whose compared numbers differ between two versions of
    its rows (a unit listed in one version only counts as changed), with their score,
    rank and band before and after (REVISION_SCHEMA), in level and new rank order."""
    columns = [c for c in compared_columns(after.columns) if c in before.columns]
    changed = _differing(before, after, columns)
    if changed.height == 0:
        return pl.DataFrame(schema=REVISION_SCHEMA)

    def side(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return frame.select(
            *UNIT, "period_type", "period_key", "unit_name", "level", "score", "band",
            rank=pl.when(pl.col("ranked")).then(pl.col("rank")),
        ).rename(lambda c: c if c in UNIT else f"{c}{suffix}")

    out = changed.join(side(before, "_before"), on=UNIT, how="left", nulls_equal=True).join(
        side(after, "_after"), on=UNIT, how="left", nulls_equal=True
    )
    return out.select(
        period_type=pl.coalesce("period_type_after", "period_type_before"),
        period_key=pl.coalesce("period_key_after", "period_key_before"),
        version=pl.lit(version, dtype=pl.Int64),
        revised_at=pl.lit(at, dtype=pl.Datetime("us")),
        unit_code="unit_code", unit_valid_from="unit_valid_from",
        unit_name=pl.coalesce("unit_name_after", "unit_name_before"),
        level=pl.coalesce("level_after", "level_before"),
        score_before="score_before", score_after="score_after",
        rank_before=pl.col("rank_before").cast(pl.Int64), rank_after=pl.col("rank_after").cast(pl.Int64),
        band_before="band_before", band_after="band_after",
    ).sort(level_order(), "level", "rank_after", "rank_before", *UNIT, nulls_last=True).select(list(REVISION_SCHEMA))


def _period_start(period_type: str, index: pl.Expr) -> pl.Expr:
    if period_type == "week":
        return pl.lit(EPOCH_MONDAY) + pl.duration(weeks=index)
    return pl.date(index // 12, index % 12 + 1, 1)


def touched_periods(added: pl.DataFrame, removed: pl.DataFrame, last_index: dict[str, int]) -> pl.DataFrame:
    """For each dossier whose kept copy changed (`added`: the new copies, `removed`: the
    old ones, each with dossier_id and source_file), the periods either copy falls in
    (receipt to end, an open one to the last period) and the file that changed it: the
    new copy's file, or for a dossier no longer kept, the old copy's (its file was
    replaced). TOUCH_SCHEMA, one row per period, file and dossier."""
    copies = pl.concat([added.with_columns(_new=pl.lit(True)), removed.with_columns(_new=pl.lit(False))],
                       how="diagonal_relaxed")
    if copies.height == 0:
        return pl.DataFrame(schema=TOUCH_SCHEMA)
    cause = copies.sort("_new", descending=True).group_by("dossier_id").agg(pl.col("source_file").first())
    ends = classify(copies.select("dossier_id", "status", "received_at", "due_at", "finished_at", "returned_at",
                                  "rejected_at")).filter(pl.col("received_at").is_not_null())
    parts = []
    for period_type in PERIOD_TYPES:
        spans = ends.select("dossier_id", period_span(period_type, last_index[period_type])).unnest("span")
        parts.append(
            spans.filter(pl.col("lo") <= pl.col("hi"))
            .select("dossier_id", idx=pl.int_ranges("lo", pl.col("hi") + 1))
            .explode("idx")
            .select(period_type=pl.lit(period_type), period_key=key_expr(period_type, _period_start(period_type, pl.col("idx"))),
                    dossier_id="dossier_id")
        )
    touched = pl.concat(parts).unique().join(cause, on="dossier_id", how="left")
    return touched.select(list(TOUCH_SCHEMA)).sort(list(TOUCH_SCHEMA))


@dataclass
class Revisions:
    """What the site shows of revisions: every unit's revisions (REVISION_SCHEMA, with
    own_changed: own_changes), their causes (CAUSE_SCHEMA), and the rows of every
    version a revision replaced, with each version's group keys (the columns it was
    published with)."""

    units: pl.DataFrame
    causes: pl.DataFrame
    earlier: pl.DataFrame
    groups: dict[tuple[str, str, int], tuple[str, ...]]

    def columns(self, period_type: str, period_key: str, version: int) -> list[str]:
        """The published columns of a replaced version that its stored rows carry."""
        wanted = scoreboard_columns(self.groups.get((period_type, period_key, version), ()))
        return [c for c in wanted if c in self.earlier.columns]
