"""A table read as a grid of text cells (a sheet, an HTML table, a CSV file's rows):
find the header, keep the banner above it as unit evidence, and assemble the rows
below it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body, assemble_grid
from transforms.readers.header import banner_lines, find_header, plan_columns
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import HEADER_SEARCH_ROWS, UnusableFile


def read_grid(
    path: Path,
    fmt: str,
    grid: pl.DataFrame,
    matcher: HeaderMatcher,
    mapping: SourceMapping | None,
    *,
    filled: pl.DataFrame | None = None,
    spanning: pl.Series | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
) -> Body | None:
    """A whole grid (no header row taken out yet) -> its Body; None when no row of
    its top looks like a header; UnusableFile when the header lacks a required field.
    ``filled``: the same grid with merged cells repeated where they span, for the
    rows under the header (HTML knows its merges; a sheet read by calamine does not)."""
    if grid.height == 0 or grid.width == 0:
        return None
    head = [list(r) for r in grid.head(HEADER_SEARCH_ROWS).rows()]
    header = find_header(head, matcher)
    if header.cells is None:
        return None
    banner = banner_lines(head[: header.first])
    plan = plan_columns(path, header.cells, matcher, unit_given=bool(mapping and mapping.unit), banner=bool(banner))
    body = (grid if filled is None else filled).slice(header.last + 1)
    return assemble_grid(
        path, fmt, body, plan, mapping=mapping,
        unit_hints=banner,
        spanning=spanning.slice(header.last + 1) if spanning is not None else None,
        encoding=encoding, sheet=sheet,
    )


def first_table(path: Path, attempts: Iterable[Callable[[], Body | None]], nothing: str) -> Body:
    """The first of a file's tables (a workbook's sheets, a page's tables) that has a
    recognisable header. When none has, the first one's missing fields, if a header
    lacked some, else UnusableFile(``nothing``). An error raised by ``attempts``
    itself (a size guard) is not a table's: it goes through."""
    first_incomplete: UnusableFile | None = None
    for attempt in attempts:
        try:
            raw = attempt()
        except UnusableFile as exc:
            first_incomplete = first_incomplete or exc
            continue
        if raw is not None:
            return raw
    if first_incomplete is not None:
        raise first_incomplete
    raise UnusableFile(path, nothing)
