"""The rows of a grid's body that are not dossiers: a numbering row (1, 2, 3 …) under
the header, totals rows ("Tổng cộng") and group rows (a unit's name on a merged row
above its dossiers, as overdue lists have).

They are told over the bodies of many files at once (assemble.py): a frame holding
each body's columns as ``__g{j}`` for column j (text; a column empty in every row
may be left out, but the first), ``__file``, ``__row`` (1 for the first row under
the header) and ``__i`` (the row in the frame)."""

from __future__ import annotations

import re

import polars as pl

from transforms.normalise import key_expr
from transforms.readers.header import cell_text
from transforms.readers.table import MAX_HEADER_CHARS

# First non-empty cell of a totals / subtotal row ("Tổng cộng", "Cộng", "Tổng số: 12").
TOTALS = r"^(tong_cong|tong_so|tong|cong|total|totals|grand_total|sub_total|subtotal)(_\d.*)?$|^tong_cong_.*$|^tong_so_.*$"
# every totals word starts with one of these letters: a cheap filter before keying
_TOTALS_LEAD = r"^[TtCcGgSs]"
_NUMBERING_CELL = re.compile(r"\(?\d{1,3}\)?")


def numbering(grid: pl.DataFrame) -> bool:
    """Whether a body's first row only numbers the columns: 1 2 3 … or (1) (2) … (at
    least three cells, each cut to 32 characters; ``grid``: text columns)."""
    if not (grid.height and grid.width):
        return False
    cells = [cell_text(None if c is None else c[:32]) for c in grid.row(0)]
    filled = [c for c in cells if c]
    return len(filled) >= 3 and all(_NUMBERING_CELL.fullmatch(c) for c in filled)


def totals_rows(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """``__i`` of the rows whose first non-empty cell (of ``columns``, the grid's, in
    order) says they are totals ("Tổng cộng", "Cộng"; often in a dropped STT column)."""
    stripped = [pl.col(c).str.strip_chars() for c in columns]
    lead = stripped[0]
    # a row's first non-empty cell is its first cell when that is filled (an STT
    # column): only the rows where it is empty are looked across
    by_lead = frame.lazy().filter(lead.str.contains(_TOTALS_LEAD)).select("__i", lead.alias("first"))
    by_row = (
        frame.lazy()
        .filter(lead.str.len_bytes().fill_null(0) == 0)
        .select("__i", pl.coalesce([pl.when(e.str.len_chars() > 0).then(e) for e in stripped]).alias("first"))
        .filter(pl.col("first").str.contains(_TOTALS_LEAD))
    )
    candidates = pl.concat([by_lead, by_row]).collect()
    if candidates.height == 0:
        return pl.Series("__i", [], dtype=pl.UInt32)
    return candidates.filter(key_expr(pl.col("first")).str.contains(TOTALS)).get_column("__i")


def group_rows(
    frame: pl.DataFrame, columns: list[str], width: int, kept: set[int], spanning: bool
) -> pl.DataFrame | None:
    """(``__i``, ``__file``, ``__row``, ``__group``) of the group rows, None when there is
    none. A group row holds one text cell, in a column that is not kept (the merged
    cell's text sits in its first column, usually the STT column), or a cell the
    file itself says spans the row (``spanning``: an HTML colspan, ``__spanning``).
    It is not a dossier; its text is unit evidence for the rows below. ``width``:
    the grid's columns; ``kept``: the positions of those kept."""
    if width < 3:
        return None
    positions = [int(c.removeprefix("__g")) for c in columns]
    raw = [pl.col(c) for c in columns]
    lf = frame.lazy()
    if not spanning:
        # most files have no row with a single cell: one cheap pass says which do
        lone = lf.group_by("__file").agg((pl.sum_horizontal([c.is_not_null() for c in raw]) == 1).any().alias("lone"))
        files = lone.filter(pl.col("lone")).collect().get_column("__file")
        if files.len() == 0:
            return None
        lf = lf.filter(pl.col("__file").is_in(files.implode()))
    texts = [c.str.strip_chars() for c in raw]
    filled = pl.sum_horizontal([(t.str.len_chars() > 0).fill_null(False).cast(pl.Int32) for t in texts])
    label = pl.coalesce([pl.when(t.str.len_chars() > 0).then(t) for t in texts])
    dropped = [(t.str.len_chars() > 0).fill_null(False) for t, j in zip(texts, positions) if j not in kept]
    where = pl.any_horizontal(dropped) if dropped else pl.lit(False)
    if spanning:
        where = where | pl.col("__spanning")
    is_group = (
        (filled == 1) & where & label.str.contains(r"\p{L}").fill_null(False) & (label.str.len_chars() <= MAX_HEADER_CHARS)
    )
    groups = (
        lf.select("__i", "__file", "__row", pl.when(is_group).then(label).alias("__group"))
        .filter(pl.col("__group").is_not_null())
        .collect()
    )
    return groups if groups.height else None
