"""Delimited text: ``,`` ``;`` tab or ``|``; encodings as text.decode."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Iterator

import polars as pl

from transforms.normalise import NOT_BLANK
from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body, assemble_grid
from transforms.readers.header import Header, banner_lines, find_header, plan_columns
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import HEADER_SEARCH_ROWS, UnusableFile
from transforms.readers.text import decode, read_bytes, utf8_bom
from transforms.schema import MISALIGNED

SEPARATORS = (",", ";", "\t", "|")
# the cells a line may have past the header that are looked at: a line made longer
# by separators inside its values is misaligned when one of them is not blank
EXTRA_CELLS = 2
_NON_SPACE = re.compile(r"\S")
_NON_SPACE_BYTE = re.compile(rb"[^ \t\n\x0b\x0c]")
# the text the header is looked for in: its first characters
SAMPLE_CHARS = 1_000_000


class _LineCounter:
    """Feeds csv.reader line by line while counting consumed characters."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.consumed += len(line)
            yield line


class _Records:
    """A text's first records (at most HEADER_SEARCH_ROWS), parsed only as far as they
    are asked for: the header search stops a few rows past the header."""

    def __init__(self, text: str, sep: str) -> None:
        self._counter = _LineCounter(text)
        self._reader = csv.reader(self._counter, delimiter=sep, quotechar='"')
        self.rows: list[list[str]] = []
        self.offsets: list[int] = []  # the characters consumed up to the end of each
        self._ended = False  # the text, or the first record csv cannot parse

    def __getitem__(self, k: int) -> list[str]:
        while len(self.rows) <= k < HEADER_SEARCH_ROWS and not self._ended:
            try:
                record = next(self._reader)
            except (StopIteration, csv.Error):
                self._ended = True
                break
            self.rows.append(record)
            self.offsets.append(self._counter.consumed)
        return self.rows[k]


def _scan_header(text: str, sep: str, matcher: HeaderMatcher) -> tuple[Header, int, list[list[str]]]:
    """(header, char offset of the data after it, the records above it)."""
    records = _Records(text, sep)
    header = find_header(records, matcher)
    if header.cells is None:
        return header, 0, []
    return header, records.offsets[header.last], records.rows[: header.first]


def _blank_bytes(utf8: bytes, start: int) -> bool:
    """Whether UTF-8 text holds nothing but blanks from byte `start` (as `_NON_SPACE`
    finds them: Unicode's, which bytes beyond ASCII may also be)."""
    found = _NON_SPACE_BYTE.search(utf8, start)
    if found is None:
        return True
    if _NON_SPACE.search(utf8[found.start():found.start() + 64].decode("utf-8", errors="ignore")):
        return False
    return _NON_SPACE.search(utf8[start:].decode("utf-8")) is None  # (a run of Unicode blanks: rare)


def _polars_csv(body: bytes, sep: str, width: int, named: int) -> pl.LazyFrame:
    """The parse of a body, to run with other files' (assemble.load): its `width`
    columns, and MISALIGNED, whether a line has a cell that is not blank past the
    header's last named column (`named`; the header's own trailing empty cells are
    a trailing separator, not columns): a separator inside an unquoted value moved
    the cells after it (dossier-log.md; such a row is quarantined as
    `misaligned_row`). A line longer than the header is cut after EXTRA_CELLS more
    cells; extra cells that are blank ("a,b,c," or "a,b,c,,") are no shift.

    Polars counts the columns on the body's first line: fewer than the parse's are
    filled in (missing_columns), more refuse the file; when that line is wider (a
    first row long of fields), a line of empty fields goes first and is dropped
    after, so the rows keep their numbers."""
    parsed = width + EXTRA_CELLS
    names = [f"column_{i}" for i in range(parsed)]
    end = body.find(b"\n")
    lead = (body if end < 0 else body[:end]).count(sep.encode()) + 1 > parsed
    if lead:
        body = sep.encode() * (parsed - 1) + b"\n" + body
    frame = pl.scan_csv(
        body,
        has_header=False,
        separator=sep,
        quote_char='"',
        infer_schema=False,
        truncate_ragged_lines=True,
        new_columns=names,
        schema={n: pl.Utf8 for n in names},
        missing_columns="insert",
    )
    beyond = [pl.col(n).str.contains(NOT_BLANK) for n in names[named:]]
    frame = frame.select(*names[:width], pl.any_horizontal(beyond).fill_null(False).alias(MISALIGNED))
    return frame.slice(1) if lead else frame


def read_csv(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    data = read_bytes(path)
    # the body is parsed from UTF-8 bytes: the file's own when they are that text
    bom = utf8_bom(data)
    if bom is not None:
        utf8, encoding = data, "utf-8"
        # (the text's first SAMPLE_CHARS characters; a character cut at the end is dropped)
        text = data[bom:bom + 4 * SAMPLE_CHARS].decode("utf-8", errors="ignore")
    else:
        utf8 = None
        text, encoding = decode(path, data)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:SAMPLE_CHARS]
    best: tuple[Header, int, list[list[str]], str] = (Header(), 0, [], ",")
    for sep in SEPARATORS:
        if best[0].score >= 2 and sep not in sample:
            continue  # every row one cell: at most one field, cannot win
        header, offset, above = _scan_header(sample, sep, matcher)
        if header.cells is not None and (best[0].cells is None or header.better_than(best[0])):
            best = (header, offset, above, sep)
    header, offset, above, sep = best
    if header.cells is None:
        raise UnusableFile(path, "no recognisable header row (not a dossier table)")
    banner = banner_lines(above)
    plan = plan_columns(path, header.cells, matcher, unit_given=bool(mapping and mapping.unit), banner=bool(banner))
    width = len(header.cells)
    named = max(j for j, c in enumerate(header.cells) if c) + 1
    if utf8 is not None:
        start = bom + len(text[:offset].encode("utf-8"))
        blank = _blank_bytes(utf8, start)
    else:
        blank = _NON_SPACE.search(text, offset) is None
    if blank:  # nothing but blanks under the header
        body = pl.DataFrame({f"column_{i}": pl.Series([], dtype=pl.Utf8) for i in range(width)})
    else:
        source = utf8[start:] if utf8 is not None else text[offset:].encode("utf-8")
        del text, data, utf8
        body = _polars_csv(source, sep, width, named)
    return assemble_grid(
        path, "csv", body, plan, mapping=mapping, unit_hints=banner, encoding=encoding,
        unparsable="the table cannot be parsed as CSV (corrupt or ragged beyond repair)",
    )
