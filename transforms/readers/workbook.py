"""Workbooks read through calamine (fastexcel): the first sheet that has a
recognisable header row is the table. Shared by the OOXML and BIFF readers."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body
from transforms.readers.grid import first_table, read_grid
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import UnusableFile

CORRUPT_SHEET = "not a readable spreadsheet (corrupt or wrong format)"


def open_workbook(path: Path, suffixes: tuple[str, ...]):
    """(reader, sheet names); UnusableFile when calamine cannot open it. The format is
    the content's (dossier-log.md), and calamine picks its parser by a path's
    extension: a file named otherwise than `suffixes` (the extensions of its content's
    format), an .xlsx saved as .xls say, is given as its bytes, whose content it reads."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path) if path.suffix.lower() in suffixes else path.read_bytes())
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
) -> Body:
    """``check(position, name)`` runs before a sheet is loaded (a size guard)."""

    def attempts():
        for position, name in enumerate(sheet_names, start=1):
            check(position, name)
            try:
                df = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
            except Exception:
                continue
            yield lambda df=df, name=name: read_grid(path, fmt, df, matcher, mapping, sheet=name)

    return first_table(path, attempts(), "no sheet has a recognisable header row (not a dossier table)")
