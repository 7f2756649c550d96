"""The last step of every reader: the kept columns of a file -> a RawTable of text
columns named by field (cleaned, duplicates coalesced, the per-source mapping's
value maps and time-zone rule applied, rows that are not dossiers dropped).

Only per-file work is done here; typing and checking values is normalise's, on a
batch of many files at once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

import polars as pl

from transforms.normalise import clean_text_expr, key_expr, x_mark_columns
from transforms.readers.header import Plan
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import MAX_CELL_CHARS, RawTable
from transforms.schema import DATE_FIELDS, READ_FIELDS, UNIT_HINT


@lru_cache(maxsize=256)
def _cleaned_column(i: int) -> pl.Expr:
    """``__c{i}`` cleaned (built once: building expressions costs as much as running
    them on a file's few hundred rows)."""
    return cleaned_cell(pl.col(f"__c{i}")).alias(f"__c{i}")


def cleaned_cell(cell: pl.Expr) -> pl.Expr:
    """Text cut to MAX_CELL_CHARS, then cleaned (normalise.clean_text_expr)."""
    text = cell.cast(pl.Utf8)
    return clean_text_expr(pl.when(text.str.len_bytes() > MAX_CELL_CHARS).then(text.str.slice(0, MAX_CELL_CHARS)).otherwise(text))


def _vendor_values(fields: Iterable[str], mapping: SourceMapping | None) -> list[pl.Expr]:
    """The mapping's value maps (the vendor's labels -> ours) and its rule that a
    trailing ``Z`` is local time, on the fields this file has."""
    if mapping is None:
        return []
    exprs = []
    for fld in fields:
        col, changed = pl.col(fld), False
        table = mapping.values.get(fld)
        if table:
            col, changed = key_expr(col).replace_strict(dict(table), default=col, return_dtype=pl.Utf8), True
        if mapping.z_means_local and fld in DATE_FIELDS:
            col, changed = col.str.replace(r"(\d)\s*[Zz]$", "${1}"), True
        if changed:
            exprs.append(col.alias(fld))
    return exprs


def assemble(
    path: Path,
    fmt: str,
    kept: pl.DataFrame,
    plan: Plan,
    row_numbers: pl.Series,
    *,
    mapping: SourceMapping | None = None,
    skip: pl.Series | None = None,
    groups: pl.Series | None = None,
    unit_hints: list[str] | None = None,
    unit_declared: bool = False,
    encoding: str | None = None,
    sheet: str | None = None,
) -> RawTable:
    """``kept`` holds the kept columns positionally (text), ``plan.fields`` their
    field. ``skip`` marks rows that are not dossiers (totals, a numbering row);
    ``groups`` the text of group rows (not dossiers either: their text becomes the
    ``unit_hint`` of the rows below them)."""
    kept = kept.rename({old: f"__c{i}" for i, old in enumerate(kept.columns)})
    by_field: dict[str, list[int]] = {}
    for i, fld in enumerate(plan.fields):
        by_field.setdefault(fld, []).append(i)
    columns = {fld: [plan.headers[i] for i in idx] for fld, idx in by_field.items()}
    # One query per file (a file has a few hundred rows: the fixed cost of a query,
    # not the rows, is what a file costs).
    cleaned = [_cleaned_column(i) for i in range(kept.width)]
    exprs = [pl.coalesce([pl.col(f"__c{i}") for i in idx]).cast(pl.Utf8).alias(fld) for fld, idx in by_field.items()]
    lazy = kept.lazy().select(cleaned).select(exprs) if exprs else pl.LazyFrame()
    vendor = _vendor_values(by_field, mapping)
    if vendor:
        lazy = lazy.with_columns(vendor)
    lazy = lazy.with_columns(row_numbers.cast(pl.Int64).alias("source_row"))
    keep = pl.any_horizontal([pl.col(fld).is_not_null() for fld in by_field]) if by_field else pl.lit(False)
    drop = ["__skip", "__group"]
    if skip is not None:
        lazy = lazy.with_columns(skip.alias("__skip"))
        keep = keep & ~pl.col("__skip")
    has_groups = groups is not None and groups.null_count() < groups.len()
    if has_groups:
        lazy = lazy.with_columns(groups.alias("__group")).with_columns(
            pl.col("__group").forward_fill().alias(UNIT_HINT)
        )
        keep = keep & pl.col("__group").is_null()
    frame = lazy.filter(keep).drop(drop, strict=False).collect()
    ordered = [f for f in READ_FIELDS if f in frame.columns] + ([UNIT_HINT] if has_groups else []) + ["source_row"]
    frame = frame.select(ordered)
    by_mapping = mapping is not None and bool(mapping.unit)
    hints = [mapping.unit] if by_mapping else list(unit_hints or [])
    return RawTable(
        frame=frame,
        rows_read=frame.height,
        dropped_columns=plan.dropped,
        format=fmt,
        x_mark_columns=x_mark_columns(frame),
        columns=columns,
        encoding=encoding,
        sheet=sheet,
        unit_hints=hints,
        unit_declared=by_mapping or (unit_declared and bool(hints)),
        unit_missing=None if by_mapping else plan.unit_missing,
    )
