"""The last step of every reader: the kept columns of files -> text columns named by
field (cleaned, duplicates coalesced, the per-source mapping's value maps and
time-zone rule applied, rows that are not dossiers dropped).

A reader only finds what a file holds (``assemble`` wraps it in a ``Body``: its kept
columns as read, and for a grid its whole body, from which totals, numbering and
group rows are told). Cleaning is done for many files at once (``assemble_bodies``):
files of one shape (the same fields from the same columns) share one query, so a
landing folder of thousands of small exports costs its rows, not a fixed price per
file. ``finish`` assembles one file alone (``read_table``'s RawTable); the result is
the same row for row. Typing and checking values is normalise's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import polars as pl

from transforms.normalise import X_MARK_FIELDS, clean_text_expr, key_expr, marked_columns, trimmed_expr, x_mark_columns
from transforms.readers.header import Plan
from transforms.readers.mapping import SourceMapping
from transforms.readers.rows import group_rows, numbering, totals_rows
from transforms.readers.table import MAX_CELL_CHARS, RawTable, UnusableFile
from transforms.schema import DATE_FIELDS, MISALIGNED, READ_FIELDS, UNIT_HINT

_NOT_ASCII = r"[^\x00-\x7f]"
# wider than this, a grid's empty columns are left out of its Body
WIDE_GRID = 64
PARSES_AT_ONCE = 32


def _as_text(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.Utf8 else series.cast(pl.Utf8)


@dataclass
class Body:
    """What a reader found in a file, before cleaning. A table of fields (JSON,
    Parquet) gives ``kept``: ``__c{i}``, the column of ``plan.fields[i]`` as text, and
    ``rows``, their source row numbers. A grid (a CSV file, a sheet, an HTML table)
    gives its whole body under the header (``grid``: ``__g{j}`` for column j, as
    text; ``plan.positions`` are the kept ones), or, for a CSV file, the parse of it
    still to run (``pending``), which many files run at once (``load``)."""

    path: Path
    fmt: str
    plan: Plan
    is_grid: bool = False
    kept: pl.DataFrame | None = None
    rows: pl.Series | None = None
    grid: pl.DataFrame | None = None
    pending: pl.LazyFrame | None = None
    unparsable: str = "the table cannot be parsed"  # the reason given if ``pending`` fails
    grid_width: int = 0  # the body's columns (a wide ``grid`` leaves out empty ones)
    spanning: pl.Series | None = None  # HTML: rows that are one cell spanning the row
    misaligned: pl.Series | None = None  # CSV: rows with a cell past the header (when any)
    numbered: bool = False  # the grid's first row numbers the columns (1, 2, 3 …)
    mapping: SourceMapping | None = None
    unit_hints: list[str] = field(default_factory=list)
    unit_declared: bool = False
    encoding: str | None = None
    sheet: str | None = None

    @property
    def height(self) -> int:
        return self.grid.height if self.is_grid else self.kept.height

    @property
    def shape(self) -> tuple:
        """Bodies of one shape are cleaned by one query."""
        if not self.is_grid:
            return tuple(self.plan.fields), None, id(self.mapping)
        grid = (tuple(self.plan.positions), self.grid_width, tuple(self.grid.columns), self.spanning is not None)
        return tuple(self.plan.fields), grid, id(self.mapping)

    def take_grid(self, grid: pl.DataFrame) -> None:
        """The parsed grid, as text named ``__g{j}`` (a CSV parse's MISALIGNED set apart)."""
        if MISALIGNED in grid.columns:
            flag = grid.get_column(MISALIGNED)
            self.misaligned = flag if flag.any() else None
            grid = grid.drop(MISALIGNED)
        self.grid_width = grid.width
        grid = pl.DataFrame([_as_text(s).alias(f"__g{j}") for j, s in enumerate(grid.iter_columns())], height=grid.height)
        self.numbered = numbering(grid)
        if grid.width > WIDE_GRID:
            # a sheet may be 16,384 columns wide for one stray cell: its empty columns
            # tell nothing about its rows (but the first, which an STT column fills)
            kept = set(self.plan.positions)
            empty = grid.null_count().row(0)
            grid = grid.select([c for j, c in enumerate(grid.columns) if j == 0 or j in kept or empty[j] < grid.height])
        self.grid, self.pending = grid, None

    def release(self) -> None:
        """Let the file's columns go once its rows are in a batch (a batch of files is
        then held once, not twice)."""
        self.kept = self.grid = self.spanning = self.misaligned = self.rows = None

    @property
    def hints(self) -> list[str]:
        """The file's unit evidence: the mapping's unit, else what the reader found."""
        return [self.mapping.unit] if self.by_mapping else list(self.unit_hints)

    @property
    def by_mapping(self) -> bool:
        return self.mapping is not None and bool(self.mapping.unit)

    @property
    def declared(self) -> bool:
        return self.by_mapping or (self.unit_declared and bool(self.hints))

    @property
    def unit_missing(self) -> UnusableFile | None:
        return None if self.by_mapping else self.plan.unit_missing

    @property
    def columns(self) -> dict[str, list[str]]:
        """field -> the header names read for it."""
        out: dict[str, list[str]] = {}
        for i, fld in enumerate(self.plan.fields):
            out.setdefault(fld, []).append(self.plan.headers[i])
        return out


def assemble(
    path: Path,
    fmt: str,
    kept: pl.DataFrame,
    plan: Plan,
    row_numbers: pl.Series,
    *,
    mapping: SourceMapping | None = None,
    unit_hints: list[str] | None = None,
    unit_declared: bool = False,
    encoding: str | None = None,
) -> Body:
    """The Body of a table of fields: ``kept`` holds the kept columns positionally
    (text), ``plan.fields`` their field."""
    kept = pl.DataFrame([_as_text(s).alias(f"__c{i}") for i, s in enumerate(kept.iter_columns())], height=kept.height)
    return Body(
        path=path, fmt=fmt, plan=plan, kept=kept, rows=row_numbers.cast(pl.Int64), mapping=mapping,
        unit_hints=list(unit_hints or []), unit_declared=unit_declared, encoding=encoding,
    )


def assemble_grid(
    path: Path,
    fmt: str,
    grid: pl.DataFrame | pl.LazyFrame,
    plan: Plan,
    *,
    mapping: SourceMapping | None = None,
    unparsable: str | None = None,
    spanning: pl.Series | None = None,
    unit_hints: list[str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> Body:
    """The Body of a grid: the rows under its header, every column positionally
    (text), or a LazyFrame parsing them (``unparsable``: the reason to give if it
    fails). Its totals rows, numbering row and group rows are not dossiers (a group
    row's text becomes the ``unit_hint`` of the rows below it)."""
    body = Body(
        path=path, fmt=fmt, plan=plan, is_grid=True, mapping=mapping, unparsable=unparsable or Body.unparsable,
        spanning=None if spanning is None else spanning.cast(pl.Boolean),
        unit_hints=list(unit_hints or []), encoding=encoding, sheet=sheet,
    )
    if isinstance(grid, pl.LazyFrame):
        body.pending = grid
    else:
        body.take_grid(grid)
    return body


def load(items: list[tuple[int, Body]]) -> dict[int, UnusableFile]:
    """Run the pending parses of these bodies, a few dozen at a time (one query each
    time; many more at once would each take a thread of their own); the ones that
    fail, by id."""
    pending = [(i, b) for i, b in items if b.pending is not None]
    failed: dict[int, UnusableFile] = {}
    for start in range(0, len(pending), PARSES_AT_ONCE):
        chunk = pending[start : start + PARSES_AT_ONCE]
        try:
            frames = pl.collect_all([b.pending for _, b in chunk])
        except Exception:  # one of them: parse each alone
            frames = [None] * len(chunk)
        for (i, body), frame in zip(chunk, frames):
            if frame is None:
                try:
                    frame = body.pending.collect()
                except Exception:  # never show Polars' message: it may quote a value
                    failed[i] = UnusableFile(body.path, body.unparsable)
                    continue
            body.take_grid(frame)
    return failed


# ------------------------------------------------------------------ many files at once


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


def _group_frame(items: list[tuple[int, Body]]) -> pl.DataFrame:
    """The bodies of one shape, one under the other, with ``__c{i}`` (the column of
    ``plan.fields[i]``), ``__file`` (the caller's id), ``__row`` (the source row) and
    ``__i`` (the row in this frame)."""
    bodies = [b for _, b in items]
    heights = np.array([b.height for b in bodies], dtype=np.int64)
    ids = pl.Series("__file", np.repeat(np.array([i for i, _ in items], dtype=np.int32), heights), dtype=pl.Int32)
    first = bodies[0]
    if first.is_grid:
        frame = pl.concat([b.grid for b in bodies], how="vertical", rechunk=True) if len(bodies) > 1 else first.grid
        starts = np.repeat(np.cumsum(heights) - heights, heights)
        extra = [frame.get_column(f"__g{p}").alias(f"__c{i}") for i, p in enumerate(first.plan.positions)]
        extra.append(pl.Series("__row", np.arange(1, int(heights.sum()) + 1, dtype=np.int64) - starts))
        if first.spanning is not None:
            extra.append(pl.concat([b.spanning for b in bodies]).alias("__spanning"))
        if any(b.misaligned is not None for b in bodies):
            flags = [pl.repeat(False, b.height, eager=True) if b.misaligned is None else b.misaligned for b in bodies]
            extra.append(pl.concat(flags).alias(MISALIGNED))
    else:
        frame = pl.concat([b.kept for b in bodies], how="vertical", rechunk=True) if len(bodies) > 1 else first.kept
        extra = [pl.concat([b.rows for b in bodies]).alias("__row")]
    for body in bodies:
        body.release()
    return frame.hstack([*extra, ids]).with_row_index("__i")


def _cleaned_columns(frame: pl.DataFrame, names: list[str]) -> list[pl.Expr]:
    """Each column cut to MAX_CELL_CHARS and trimmed (normalise.trimmed_expr; the caller
    makes an empty value null, as clean_text_expr) the cheapest way its values
    allow: pure-ASCII text needs no Unicode normalisation, and a column with few
    distinct values is cleaned once per value."""
    if not names:
        return []
    stats = frame.select(
        *[pl.col(n).str.contains(_NOT_ASCII).any().alias(f"{n}:wide") for n in names],
        *[(pl.col(n).str.len_bytes().max().fill_null(0) > MAX_CELL_CHARS).alias(f"{n}:long") for n in names],
    ).row(0, named=True)
    wide = [n for n in names if stats[f"{n}:wide"]]
    distinct = (
        frame.select([pl.col(n).drop_nulls().unique().implode() for n in wide]).row(0, named=True) if wide else {}
    )
    out = []
    for n in names:
        text = pl.col(n)
        if stats[f"{n}:long"]:
            text = pl.when(text.str.len_bytes() > MAX_CELL_CHARS).then(text.str.slice(0, MAX_CELL_CHARS)).otherwise(text)
        values = distinct.get(n)
        if n not in wide:
            # normalising ASCII text to NFC changes nothing: only trim (the ASCII
            # characters of normalise's blanks are exactly Unicode's white space)
            out.append(text.str.strip_chars().alias(n))
        elif values is not None and 2 * len(values) < frame.height and not stats[f"{n}:long"]:
            old = pl.Series(values, dtype=pl.Utf8)
            new = pl.DataFrame({"v": old}).select(clean_text_expr(pl.col("v"))).to_series()
            out.append(text.replace_strict(old, new, default=None, return_dtype=pl.Utf8).alias(n))
        else:
            out.append(trimmed_expr(text).alias(n))
    return out


def _assemble_group(items: list[tuple[int, Body]]) -> tuple[pl.DataFrame, set[int]]:
    """The bodies of one shape, cleaned and assembled together: (rows with ``__file``,
    the files that have group rows)."""
    first = items[0][1]
    plan, mapping = first.plan, first.mapping
    columns = first.grid.columns if first.is_grid else []
    spanning = first.spanning is not None
    frame = _group_frame(items)  # (the bodies' own columns are let go)
    by_field: dict[str, list[int]] = {}
    for i, fld in enumerate(plan.fields):
        by_field.setdefault(fld, []).append(i)
    skip: pl.Expr | None = None
    groups: pl.DataFrame | None = None
    if first.is_grid:
        totals = totals_rows(frame, columns)
        numbered = [i for i, b in items if b.numbered]
        skip = pl.col("__i").is_in(totals.implode())
        if numbered:
            skip = skip | ((pl.col("__row") == 1) & pl.col("__file").is_in(numbered))
        groups = group_rows(frame, columns, first.grid_width, set(plan.positions), spanning)
    cleaned = _cleaned_columns(frame, [f"__c{i}" for i in range(len(plan.fields))])
    # an empty cleaned value is no value (the cleaned text is computed once: CSE)
    cells = [pl.when(e.str.len_chars() > 0).then(e) for e in cleaned]
    exprs = [pl.coalesce([cells[i] for i in idx]).cast(pl.Utf8).alias(fld) for fld, idx in by_field.items()]
    misaligned = [MISALIGNED] if MISALIGNED in frame.columns else []
    lazy = frame.lazy().select("__i", "__file", "__row", pl.col("__row").alias("source_row"), *exprs, *misaligned)
    vendor = _vendor_values(by_field, mapping)
    if vendor:
        lazy = lazy.with_columns(vendor)
    keep = pl.any_horizontal([pl.col(fld).is_not_null() for fld in by_field]) if by_field else pl.lit(False)
    with_groups: set[int] = set()
    if skip is not None:
        keep = keep & ~skip
    if groups is not None:
        # a group row is not a dossier (nor is a skipped row a group)
        masked = groups.filter(~groups.select(skip).to_series())
        with_groups = set(masked.get_column("__file").unique().to_list())
    if with_groups:
        group = pl.col("__i").replace_strict(masked.get_column("__i"), masked.get_column("__group"), default=None,
                                             return_dtype=pl.Utf8)
        lazy = lazy.with_columns(group.alias("__group")).with_columns(
            pl.col("__group").forward_fill().over("__file").alias(UNIT_HINT)
        )
        keep = keep & pl.col("__group").is_null()
    out = lazy.with_columns(keep.alias("__keep")).collect()
    keep = out.get_column("__keep")
    if not keep.all():  # (most files keep every row: no copy of them is made)
        out = out.filter(keep)
    ordered = [f for f in READ_FIELDS if f in by_field] + ([UNIT_HINT] if with_groups else []) + ["source_row"]
    ordered += misaligned
    return out.select("__file", *ordered), with_groups


@dataclass
class Assembled:
    frame: pl.DataFrame  # the rows of every file, ``__file`` its id, in the order given
    with_groups: set[int]  # the files that have group rows (their ``unit_hint``)
    failed: dict[int, UnusableFile]  # the files whose grid cannot be parsed


def assemble_bodies(items: list[tuple[int, Body]]) -> Assembled:
    """Many files' bodies (``(id, body)``) parsed, cleaned and assembled together:
    one frame of their rows, in the order given and row order within a file."""
    failed = load(items)
    items = [item for item in items if item[0] not in failed]
    shapes: dict[tuple, list[tuple[int, Body]]] = {}
    for item in items:
        shapes.setdefault(item[1].shape, []).append(item)
    parts, with_groups = [], set()
    for group in shapes.values():
        frame, grouped = _assemble_group(group)
        parts.append(frame)
        with_groups |= grouped
    if len(parts) <= 1:
        frame = parts[0] if parts else pl.DataFrame(schema={"__file": pl.Int32, "source_row": pl.Int64})
        return Assembled(frame, with_groups, failed)
    order = {i: k for k, (i, _) in enumerate(items)}
    frame = pl.concat(parts, how="diagonal_relaxed")
    position = pl.col("__file").replace_strict(order, return_dtype=pl.Int64)
    return Assembled(frame.sort(position, maintain_order=True), with_groups, failed)


def batch_facts(frame: pl.DataFrame) -> dict[int, tuple[int, list[str]]]:
    """Per file of an assembled batch (``__file``): its rows read and its x-mark
    columns (normalise.x_mark_columns of its own rows). A file with no row is absent."""
    present = [c for c in X_MARK_FIELDS if c in frame.columns]
    per_file = frame.group_by("__file").agg(
        pl.len().alias("__rows"), *[pl.col(c).drop_nulls().unique().alias(c) for c in present]
    )
    return {
        row["__file"]: (row["__rows"], marked_columns({c: row[c] for c in present}))
        for row in per_file.iter_rows(named=True)
    }


def finish(body: Body) -> RawTable:
    """One file's body -> its RawTable (UnusableFile when its grid cannot be parsed)."""
    done = assemble_bodies([(0, body)])
    if done.failed:
        raise done.failed[0]
    frame = done.frame.drop("__file")
    if 0 not in done.with_groups and UNIT_HINT in frame.columns:
        frame = frame.drop(UNIT_HINT)
    return RawTable(
        frame=frame,
        rows_read=frame.height,
        dropped_columns=body.plan.dropped,
        format=body.fmt,
        x_mark_columns=x_mark_columns(frame),
        columns=body.columns,
        encoding=body.encoding,
        sheet=body.sheet,
        unit_hints=body.hints,
        unit_declared=body.declared,
        unit_missing=body.unit_missing,
    )
