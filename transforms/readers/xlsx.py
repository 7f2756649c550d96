"""Office Open XML workbooks (.xlsx, .xlsm; also OpenDocument .ods, which calamine
reads too), with a guard against sheets too large to allocate."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import polars as pl

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import MAX_SHEET_CELLS, MAX_SHEET_XML_BYTES, UnusableFile
from transforms.readers.workbook import CORRUPT_SHEET, open_workbook, read_sheets

# the extensions calamine reads as OOXML (an .ods or .xlsb is given as bytes: calamine tells them apart)
SUFFIXES = (".xlsx", ".xlsm")
MAGIC = b"PK\x03\x04"

# A worksheet cell that holds something: <c r="B7" ...> not closed by "/>" (a
# formatted empty cell, <c r="B7" s="3"/>, is skipped by the reader).
_ATTRS = rb"""(?:[ \t\r\n]+[A-Za-z0-9_:.-]+[ \t\r\n]*=[ \t\r\n]*(?:"[^"]*"|'[^']*'))*[ \t\r\n]*>"""
_ANY_VALUED_CELL = re.compile(rb' r="([A-Z]{1,4})([0-9]{1,9})"' + _ATTRS)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _greater(text: str, alphabet: str, longest: int) -> str:
    """Regex alternatives for the strings of ``alphabet`` (ordered, no leading first
    symbol) that sort after ``text`` as numbers/columns do: longer, or as long and
    lexically greater."""
    first, last = alphabet[0], alphabet[-1]
    lead = alphabet[1:] if alphabet == "0123456789" else alphabet
    alts = []
    if len(text) < longest:
        alts.append(f"[{lead[0]}-{lead[-1]}][{first}-{last}]{{{len(text)},{longest - 1}}}")
    for i, ch in enumerate(text):
        if ch != last:
            nxt = alphabet[alphabet.index(ch) + 1]
            alts.append(f"{re.escape(text[:i])}[{nxt}-{last}][{first}-{last}]{{{len(text) - i - 1}}}")
    return "|".join(alts) or "(?!)"


@lru_cache(maxsize=4096)
def _beyond(max_col: int, max_row: int) -> str:
    """Regex: a valued cell in a column after ``max_col`` or a row after ``max_row``."""
    cols = _greater(_column_letters(max_col), "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) if max_col else "[A-Z]{1,4}"
    rows = _greater(str(max_row), "0123456789", 9) if max_row else "[0-9]{1,9}"
    return rf' r="(?:(?P<c>{cols})[0-9]{{1,9}}|[A-Z]{{1,4}}(?P<r>{rows}))"' + _ATTRS.decode()


def _last_valued_row(chunk: bytes) -> int:
    end = len(chunk)
    while end > 0:
        start = max(0, end - 65536)
        last = None
        for last in _ANY_VALUED_CELL.finditer(chunk, start, end):
            pass
        if last is not None:
            return int(last.group(2))
        end = start
    return 0


def sheet_extent(stream) -> tuple[int, int]:
    """(last row, last column) of the cells holding a value in a worksheet's XML.

    Read in chunks of 4 MB. Rows are in ascending order in a well-formed sheet, so
    the last valued cell of a chunk gives its last row; then one (Rust) regex scan of
    the chunk looks for any valued cell beyond the extent found so far (a later
    column, or a row out of order), and only such cells are looked at in Python."""
    max_row = max_col = 0
    carry = b""
    while True:
        block = stream.read(1 << 22)
        data = carry + block
        if not data:
            break
        cut = data.rfind(b"<") if block else len(data)
        if cut <= 0:
            carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        max_row = max(max_row, _last_valued_row(chunk))
        try:  # bytes to Polars text without a Python str in between
            text = pl.DataFrame({"t": pl.Series([chunk], dtype=pl.Binary)}).select(pl.col("t").cast(pl.Utf8))
        except pl.exceptions.PolarsError:  # not UTF-8: look at it with replacement characters
            text = pl.DataFrame({"t": [chunk.decode("utf-8", errors="replace")]})
        while True:
            pattern = _beyond(max_col, max_row)
            if not text.select(pl.col("t").str.contains(pattern)).item():
                break
            c, r = text.select(pl.col("t").str.extract_groups(pattern).struct.unnest()).row(0)
            if c is not None:
                max_col = _column_number(c)
            elif r is not None:
                max_row = int(r)
            else:
                break
        if not block:
            break
    return max_row, max_col


def _ooxml_sheet_parts(zf) -> dict[str, str]:
    """Sheet name -> its worksheet part in an .xlsx/.xlsm package."""
    import posixpath
    import xml.etree.ElementTree as ET

    names = set(zf.namelist())
    book = "xl/workbook.xml"
    if book not in names:
        book = next((n for n in sorted(names) if n.endswith("workbook.xml")), None)
        if book is None:
            return {}
    folder = posixpath.dirname(book)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(book) + ".rels")
    targets: dict[str, str] = {}
    if rels_name in names:
        for el in ET.fromstring(zf.read(rels_name)).iter():
            if el.tag.rsplit("}", 1)[-1] == "Relationship" and el.get("Id") and el.get("Target"):
                target = el.get("Target")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
                targets[el.get("Id")] = part
    parts: dict[str, str] = {}
    for el in ET.fromstring(zf.read(book)).iter():
        if el.tag.rsplit("}", 1)[-1] != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
        if el.get("name") is not None and rid in targets:
            parts[el.get("name")] = targets[rid]
    return parts


def _check_sheet_size(path: Path, label: str, part: str, zf) -> None:
    """Raise UnusableFile when loading this worksheet part would allocate beyond
    MAX_SHEET_CELLS cells."""
    import zipfile
    import zlib

    try:
        info = zf.getinfo(part)
        if info.file_size > MAX_SHEET_XML_BYTES:
            raise UnusableFile(path, f"{label} is too large to read safely ({info.file_size:,} bytes of XML)")
        with zf.open(info) as stream:
            rows, cols = sheet_extent(stream)
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, ValueError):
        raise UnusableFile(path, CORRUPT_SHEET) from None
    if rows * cols > MAX_SHEET_CELLS:
        raise UnusableFile(
            path,
            f"{label} is too large to read safely: it has a value in cell "
            f"{_column_letters(cols)}{rows}, so it spans {rows:,} rows × {cols:,} columns "
            f"(limit {MAX_SHEET_CELLS:,} cells); delete the stray cells outside the table and save it again",
        )


def read_xlsx(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    import zipfile

    reader, sheet_names = open_workbook(path, SUFFIXES)
    try:
        package = zipfile.ZipFile(path)
    except Exception:
        raise UnusableFile(path, CORRUPT_SHEET) from None
    with package:
        try:
            parts = _ooxml_sheet_parts(package)
        except Exception:
            parts = {}
        if not parts:  # an odd package (or .ods): check every worksheet part up front
            for part in sorted(n for n in package.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                _check_sheet_size(path, f"the worksheet {part}", part, package)

        def check(position: int, name: str) -> None:
            if name in parts:
                _check_sheet_size(path, f"sheet {position} ('{name}')", parts[name], package)

        return read_sheets(path, "xlsx", matcher, mapping, reader, sheet_names, check)
