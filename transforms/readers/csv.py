"""Delimited text: ``,`` ``;`` tab or ``|``; encodings as text.decode."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Iterator

import polars as pl

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.grid import assemble_body
from transforms.readers.header import Header, banner_lines, find_header, plan_columns
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import HEADER_SEARCH_ROWS, RawTable, UnusableFile
from transforms.readers.text import decode, read_bytes

SEPARATORS = (",", ";", "\t", "|")


class _LineCounter:
    """Feeds csv.reader line by line while counting consumed characters."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.consumed += len(line)
            yield line


def _scan_header(text: str, sep: str, matcher: HeaderMatcher) -> tuple[Header, int, list[list[str]]]:
    """(header, char offset of the data after it, the records above it)."""
    counter = _LineCounter(text)
    reader = csv.reader(counter, delimiter=sep, quotechar='"')
    records: list[list[str]] = []
    offsets: list[int] = []
    try:
        for record in itertools.islice(reader, HEADER_SEARCH_ROWS):
            records.append(record)
            offsets.append(counter.consumed)
    except csv.Error:
        pass
    header = find_header(records, matcher)
    if header.cells is None:
        return header, 0, []
    return header, offsets[header.last], records[: header.first]


def _polars_csv(body: str, sep: str, width: int) -> pl.DataFrame:
    names = [f"column_{i}" for i in range(width)]
    return pl.read_csv(
        io.BytesIO(body.encode("utf-8")),
        has_header=False,
        separator=sep,
        quote_char='"',
        infer_schema=False,
        truncate_ragged_lines=True,
        new_columns=names,
        schema={n: pl.Utf8 for n in names},
    )


def read_csv(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> RawTable:
    text, encoding = decode(path, read_bytes(path))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:1_000_000]
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
    body_text = text[offset:]
    del text
    width = len(header.cells)
    if not body_text.strip():
        body = pl.DataFrame({f"column_{i}": pl.Series([], dtype=pl.Utf8) for i in range(width)})
    else:
        try:
            body = _polars_csv(body_text, sep, width)
        except Exception:
            raise UnusableFile(path, "the table cannot be parsed as CSV (corrupt or ragged beyond repair)") from None
    return assemble_body(path, "csv", body, plan, mapping, unit_hints=banner, encoding=encoding)
