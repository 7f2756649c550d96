"""Finding the header of a table and what sits around it: banner rows above (title,
unit), a numbering row (1, 2, 3 …) below, totals and group rows among the data.

Shared by every reader of a grid of cells (CSV, OOXML, BIFF, HTML)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import polars as pl

from transforms.normalise import key_expr
from transforms.readers.aliases import HeaderMatcher
from transforms.readers.table import HEADER_LOOKAHEAD_ROWS, MAX_HEADER_CHARS, UnusableFile
from transforms.schema import PROCEDURE_COLUMNS, REQUIRED_COLUMNS, UNIT_COLUMNS

# A header has at most this many rows (a group cell above a group cell above fields).
MAX_HEADER_DEPTH = 3
# Banner text kept as unit evidence: this many lines at most, each this long at most.
MAX_BANNER_LINES = 40

# First non-empty cell of a totals / subtotal row ("Tổng cộng", "Cộng", "Tổng số: 12").
_TOTALS = r"^(tong_cong|tong_so|tong|cong|total|totals|grand_total|sub_total|subtotal)(_\d.*)?$|^tong_cong_.*$|^tong_so_.*$"


def cell_text(c: object) -> str:
    """A cell as one line of text: runs of whitespace (line breaks too) made one space."""
    return "" if c is None else " ".join(str(c).split())


@dataclass
class Header:
    score: int = 0  # distinct fields named
    depth: int = 0  # rows the header spans
    width: int = 0  # non-empty header cells
    first: int = -1  # index of the header's first row
    last: int = -1  # index of the header's last row
    cells: list[str] | None = None  # one text per column, as matched

    def better_than(self, other: "Header") -> bool:
        # more fields; then fewer rows (a banner line above is not a header row); then wider
        return (self.score, -self.depth, self.width) > (other.score, -other.depth, other.width)


def _stacked(rows: list[list[str]], matcher: HeaderMatcher) -> list[str]:
    """One text per column of a header of several rows (dossier-log.md: a header cell
    is matched on its lowest non-empty row, then on the joined rows).

    A merged group cell (``Ngày, tháng, năm`` over ``Nhận hồ sơ`` | ``Hẹn trả kết
    quả``) holds its text in its first column only: an empty cell of an upper row takes
    the text on its left while a row below it has text."""
    width = max(len(r) for r in rows)
    grid = [list(r) + [""] * (width - len(r)) for r in rows]
    for r in range(len(grid) - 2, -1, -1):
        left = ""
        for c in range(width):
            below = any(grid[k][c] for k in range(r + 1, len(grid)))
            if grid[r][c]:
                left = grid[r][c]
            elif below and left:
                grid[r][c] = left
            else:
                left = ""
    out = []
    for c in range(width):
        parts: list[str] = []
        for r in range(len(grid)):
            if grid[r][c] and (not parts or parts[-1] != grid[r][c]):
                parts.append(grid[r][c])
        if not parts:
            out.append("")
            continue
        tries = [parts[-1], " ".join(parts)] + [" ".join(parts[k:]) for k in range(1, len(parts) - 1)]
        out.append(next((t for t in tries if matcher(t)), " ".join(parts)))
    return out


def find_header(records: list[list[object]], matcher: HeaderMatcher) -> Header:
    """The rows (one to MAX_HEADER_DEPTH, consecutive) that name the most fields."""
    rows = [[cell_text(c) for c in r] for r in records]
    best = Header()
    for idx in range(len(rows)):
        # data rows follow the header: once one is found, a few rows past it are
        # enough (matching every data cell against the aliases is what costs)
        if best.cells is not None and idx > best.last + HEADER_LOOKAHEAD_ROWS:
            break
        for depth in range(1, MAX_HEADER_DEPTH + 1):
            top = idx - depth + 1
            if top < 0 or not all(any(c for c in rows[k]) for k in range(top, idx + 1)):
                break
            cells = rows[idx] if depth == 1 else _stacked(rows[top : idx + 1], matcher)
            score = len({f for f in (matcher(c) for c in cells) if f})
            cand = Header(score, depth, sum(1 for c in cells if c), top, idx, cells)
            if score > 0 and cand.better_than(best):
                best = cand
    return best


def banner_lines(records: Iterable[Iterable[object]]) -> list[str]:
    """The text of the rows above a header, one entry per line of each cell (a title,
    the unit, the period), top to bottom."""
    lines: list[str] = []
    for record in records:
        for c in record:
            for line in ("" if c is None else str(c)).splitlines():
                text = " ".join(line.split())
                if text and len(text) <= MAX_HEADER_CHARS and text not in lines:
                    lines.append(text)
    return lines[:MAX_BANNER_LINES]


@dataclass
class Plan:
    """Which columns of a header are kept, as which field; the dropped ones' names."""

    positions: list[int]
    fields: list[str]
    headers: list[str]
    dropped: list[str]
    unit_missing: UnusableFile | None = None


def missing_fields(fields: Iterable[str], *, unit_given: bool = False) -> list[str]:
    have = set(fields)
    missing = [f for f in REQUIRED_COLUMNS if f not in have]
    if not any(p in have for p in PROCEDURE_COLUMNS):
        missing.append("procedure_code or procedure_name")
    if not unit_given and not any(u in have for u in UNIT_COLUMNS):
        missing.append("unit_code or unit_name")
    return missing


def plan_columns(path: Path, headers: list[object], matcher: HeaderMatcher, *, unit_given: bool = False, banner: bool = False) -> Plan:
    """Positions to keep, their fields and header names, the dropped header names.

    Raises UnusableFile when a required column is missing. A file with no unit
    column and no unit evidence (``unit_given``: a banner, an envelope, a mapping)
    is not refused here: its dossier ids or its ``banner`` may name the unit, which
    only the registry can tell (``Plan.unit_missing`` is the error to give when they
    do not)."""
    positions: list[int] = []
    kept_fields: list[str] = []
    kept_headers: list[str] = []
    dropped: list[str] = []
    for i, h in enumerate(headers):
        name = "" if h is None else " ".join(unicodedata.normalize("NFC", str(h)).split())
        fld = matcher(h)
        if fld:
            positions.append(i)
            kept_fields.append(fld)
            kept_headers.append(name)
        else:
            dropped.append(name if name else f"(column {i + 1})")
    # Header names may be shown, but a row that matched almost nothing may be a data
    # row of a headerless file: then show nothing of it.
    shown = (
        [" ".join(unicodedata.normalize("NFC", str(h)).split()) for h in headers if h is not None and str(h).strip()]
        if len(set(kept_fields)) >= 2
        else []
    )
    unit_absent = not any(u in kept_fields for u in UNIT_COLUMNS)
    missing = missing_fields(kept_fields, unit_given=True)
    if missing:
        if unit_absent and not unit_given and not banner:
            missing.append("unit_code or unit_name")
        raise UnusableFile(path, "the header lacks required columns", missing, shown)
    plan = Plan(positions, kept_fields, kept_headers, dropped)
    if unit_absent and not unit_given:
        plan.unit_missing = UnusableFile(path, "the header lacks required columns", ["unit_code or unit_name"], shown)
    return plan


# ------------------------------------------------------------------ rows of the body


def totals_mask(df: pl.DataFrame) -> pl.Series:
    """Rows whose first non-empty cell says they are totals ("Tổng cộng", "Cộng")."""
    if df.width == 0:
        return pl.Series([False] * df.height, dtype=pl.Boolean)
    stripped = [pl.col(c).cast(pl.Utf8).str.strip_chars() for c in df.columns]
    lead = df.select(stripped[0].alias("first"))
    if (lead.get_column("first").str.len_bytes().fill_null(0).min() or 0) > 0:
        first = pl.col("first")  # the first column is filled on every row (an STT column)
    else:
        lead, first = df, pl.coalesce([pl.when(e.str.len_chars() > 0).then(e) for e in stripped])
    cand = (
        lead.select(first.alias("first"))
        .with_row_index("__i")
        # cheap pre-filter: every totals word starts with one of these letters
        .filter(pl.col("first").str.contains(r"^[TtCcGgSs]"))
    )
    if cand.height == 0:
        return pl.Series([False] * df.height, dtype=pl.Boolean)
    hits = cand.filter(key_expr(pl.col("first")).str.contains(_TOTALS)).get_column("__i")
    return pl.Series(range(df.height)).is_in(hits.cast(pl.Int64).implode()).cast(pl.Boolean)


def numbering_row(df: pl.DataFrame) -> pl.Series:
    """True for a first data row that only numbers the columns: 1 2 3 … or (1) (2) …"""
    mask = [False] * df.height
    if df.height and df.width:
        first = df.head(1).select(pl.all().cast(pl.Utf8).str.slice(0, 32))
        cells = [cell_text(c) for c in first.row(0)]
        filled = [c for c in cells if c]
        if len(filled) >= 3 and all(re.fullmatch(r"\(?\d{1,3}\)?", c) for c in filled):
            mask[0] = True
    return pl.Series(mask, dtype=pl.Boolean)


def group_labels(df: pl.DataFrame, kept: list[int], spanning: pl.Series | None = None) -> pl.Series:
    """The text of group rows, null elsewhere. A group row (a unit's name on a merged
    row above that unit's dossiers, as overdue lists have) holds one text cell, in a
    column that is not kept (the merged cell's text sits in its first column, usually
    the STT column), or a cell the file itself says spans the row (``spanning``:
    HTML colspan). It is not a dossier; its text is unit evidence for the rows below."""
    if df.height == 0 or df.width < 3:
        return pl.Series([None] * df.height, dtype=pl.Utf8)
    none = pl.Series([None] * df.height, dtype=pl.Utf8)
    # only columns that hold something (a sheet may be 16,384 columns wide)
    nulls = df.null_count().row(0)
    held = [i for i, n in enumerate(nulls) if n < df.height]
    if not held:
        return none
    df = df.select([df.columns[i] for i in held])
    # most files have no row with a single cell: one cheap pass says so
    lone = df.select((pl.sum_horizontal(pl.all().is_not_null()) == 1).any()).item()
    if not lone and spanning is None:
        return none
    kept_set = {held.index(i) for i in kept if i in held}
    cols = df.columns
    texts = [pl.col(c).cast(pl.Utf8).str.strip_chars() for c in cols]
    filled = pl.sum_horizontal([(t.str.len_chars() > 0).fill_null(False).cast(pl.Int32) for t in texts])
    label = pl.coalesce([pl.when(t.str.len_chars() > 0).then(t) for t in texts])
    dropped = [(texts[i].str.len_chars() > 0).fill_null(False) for i in range(len(cols)) if i not in kept_set]
    where = pl.any_horizontal(dropped) if dropped else pl.lit(False)
    frame = df
    if spanning is not None:
        frame = df.with_columns(spanning.alias("__spanning"))
        where = where | pl.col("__spanning")
    is_group = (filled == 1) & where & label.str.contains(r"\p{L}").fill_null(False) & (label.str.len_chars() <= MAX_HEADER_CHARS)
    return frame.select(pl.when(is_group).then(label).alias("group")).to_series()
