"""Binary Excel 97-2003 workbooks (BIFF in an OLE2 container), through calamine."""

from __future__ import annotations

from pathlib import Path

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body
from transforms.readers.mapping import SourceMapping
from transforms.readers.workbook import open_workbook, read_sheets

SUFFIXES = (".xls", ".xla")
MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_xls(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    # No size guard is needed: a BIFF sheet has at most 65,536 rows × 256 columns,
    # below MAX_SHEET_CELLS, so calamine's rectangle is bounded by the format.
    reader, names = open_workbook(path, SUFFIXES)
    return read_sheets(path, "xls", matcher, mapping, reader, names)
