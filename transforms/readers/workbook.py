"""Workbooks read through calamine (fastexcel): the first sheet that has a
recognisable header row is the table. Shared by the OOXML and BIFF readers."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.grid import read_grid
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import RawTable, UnusableFile

CORRUPT_SHEET = "not a readable spreadsheet (corrupt or wrong format)"


def open_workbook(path: Path):
    """(reader, sheet names); UnusableFile when calamine cannot open it."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        return reader, list(reader.sheet_names)
    except Exception:
        raise UnusableFile(path, CORRUPT_SHEET) from None


def read_sheets(
    path: Path,
    fmt: str,
    matcher: HeaderMatcher,
    mapping: SourceMapping | None,
    reader,
    sheet_names: list[str],
    check: Callable[[int, str], None] = lambda position, name: None,
) -> RawTable:
    """``check(position, name)`` runs before a sheet is loaded (a size guard)."""
    first_incomplete: UnusableFile | None = None
    for position, name in enumerate(sheet_names, start=1):
        check(position, name)
        try:
            df = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        except Exception:
            continue
        try:
            raw = read_grid(path, fmt, df, matcher, mapping, sheet=name)
        except UnusableFile as exc:
            first_incomplete = first_incomplete or exc
            continue
        if raw is not None:
            return raw
    if first_incomplete is not None:
        raise first_incomplete
    raise UnusableFile(path, "no sheet has a recognisable header row (not a dossier table)")
