"""What every reader returns (RawTable) or raises (UnusableFile), and the limits
they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import polars as pl

# How many leading rows/records to search for the header row.
HEADER_SEARCH_ROWS = 60
HEADER_LOOKAHEAD_ROWS = 3
# Longer than this, a cell is not a header (a data cell, or a line split wrongly).
MAX_HEADER_CHARS = 120

# A cell is cut to this many characters as soon as it is read: no canonical value is
# anywhere near it, and a 50 MB cell must not be copied through every later step.
# (normalise.MAX_TEXT_CHARS decides what is too long to be a value: null + counted.)
MAX_CELL_CHARS = 10_000

# Spreadsheet guard: the reader (calamine) allocates the rectangle from A1 to the
# farthest cell that holds a value, whatever the <dimension> element declares, and a
# failed allocation aborts the process. A sheet whose rectangle exceeds this is set
# aside: reading costs ~70 bytes a cell of the rectangle (reader, Arrow, Polars), so
# ~1.5 GB at the limit (500,000 rows × 40 columns). Its XML is scanned, streaming,
# before it is loaded.
MAX_SHEET_CELLS = 20_000_000
MAX_SHEET_XML_BYTES = 4 << 30


class UnusableFile(Exception):
    """The file cannot be used at all. The message names the file, the reason and the
    missing fields; it may name header cells but never values."""

    def __init__(
        self,
        path: Path | str,
        reason: str,
        missing_fields: Iterable[str] = (),
        seen_columns: Iterable[str] = (),
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.missing_fields = list(missing_fields)
        self.seen_columns = list(seen_columns)
        super().__init__(self.describe())

    def describe(self, name: str | None = None) -> str:
        msg = f"{name or self.path.name}: {self.reason}"
        if self.missing_fields:
            msg += f"; no column for: {', '.join(self.missing_fields)}"
        if self.seen_columns:
            msg += f" (columns found: {', '.join(repr(c) for c in self.seen_columns)})"
        return msg


@dataclass
class RawTable:
    """A read file: ``frame`` has one Utf8 column per field of schema.READ_FIELDS
    found, named by field, plus ``source_row`` (Int64, from 1 after the header; JSON
    Lines: the line), and for a CSV file with a line longer than its header
    schema.MISALIGNED (Boolean: the row's cells moved)."""

    frame: pl.DataFrame
    rows_read: int
    dropped_columns: list[str]
    format: str
    x_mark_columns: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)  # field -> headers used
    encoding: str | None = None
    sheet: str | None = None
    # File-level evidence of the receiving unit, as cleaned text, from one source:
    # the per-source mapping's unit, else the sync envelope's `madonvi`, else the
    # banner lines above the header. Ingestion resolves them (dossier-log.md, Real
    # exports). Never stored: they may hold any text of the banner.
    unit_hints: list[str] = field(default_factory=list)
    # The hints were declared (a mapping's unit, an envelope's `madonvi`), not read
    # from a banner that may name nothing.
    unit_declared: bool = False
    # The file has no unit column and no unit hint: it is usable only if the
    # dossier ids name their unit (agency-code prefix). This is the error to report
    # when none does.
    unit_missing: UnusableFile | None = None
