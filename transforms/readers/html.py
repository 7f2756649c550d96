"""HTML tables: what the "Excel" button of most web one-stop-shop screens saves (an
``<html xmlns:x="urn:schemas-microsoft-com:office:excel">`` page holding a
``<table>``, named ``.xls``), and plain ``.html`` exports. Parsed with lxml; merged
cells (rowspan, colspan) are laid out on the grid as a spreadsheet would show them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body
from transforms.readers.grid import first_table, read_grid
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import MAX_CELL_CHARS, UnusableFile
from transforms.readers.text import decode, read_bytes

# rowspan/colspan beyond these are broken markup, not a table layout
MAX_SPAN = 1000
MAX_COLUMNS = 2000


def _span(cell, name: str) -> int:
    try:
        return max(1, min(MAX_SPAN, int(str(cell.get(name, "1")).strip() or 1)))
    except ValueError:
        return 1


def _cell_text(cell) -> str:
    """The cell's text, with a line break for <br> and between block elements."""
    for br in cell.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in cell.iter("p", "div", "li"):
        block.tail = "\n" + (block.tail or "")
    text = cell.text_content().replace("\xa0", " ")  # &nbsp; is layout, not data
    return text[:MAX_CELL_CHARS] if len(text) > MAX_CELL_CHARS else text


def table_grid(table) -> tuple[list[list[str | None]], list[list[str | None]], list[bool]]:
    """(rows of cells as laid out, the same with merged cells filled, whether each
    row is one cell spanning several columns).

    As laid out, a merged cell holds its text in its first row and column only, as
    spreadsheets keep merged cells (the header finder reads a column's lowest
    non-empty row, and fills a group cell to the right itself). Filled, a cell
    spanning rows repeats down: a data cell merged over several dossiers (their
    unit, say) belongs to each of them."""
    rows = table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
    laid: list[list[str | None]] = []
    filled: list[list[str | None]] = []
    spanning: list[bool] = []
    pending: dict[tuple[int, int], str] = {}  # (row, col) -> text carried down by a rowspan
    for r, tr in enumerate(rows):
        out: list[str | None] = []
        full: list[str | None] = []
        cells = tr.xpath("./td|./th")
        col = 0

        def carried() -> None:
            nonlocal col
            while (r, col) in pending:
                out.append(None)
                full.append(pending.pop((r, col)))
                col += 1

        for cell in cells:
            carried()
            text = _cell_text(cell)
            rowspan, colspan = _span(cell, "rowspan"), _span(cell, "colspan")
            for k in range(colspan):
                if col + k >= MAX_COLUMNS:
                    break
                value = text if k == 0 else None
                out.append(value)
                full.append(value)
                for down in range(1, rowspan):
                    pending[(r + down, col + k)] = value
            col += colspan
        carried()
        spanning.append(len(cells) == 1 and _span(cells[0], "colspan") > 1)
        laid.append(out)
        filled.append(full)
        for key in [k for k in pending if k[0] <= r]:
            pending.pop(key)
    return laid, filled, spanning


def _frame(rows: list[list[str | None]], width: int) -> pl.DataFrame:
    return pl.DataFrame(
        [r + [None] * (width - len(r)) for r in rows],
        schema={f"column_{i}": pl.Utf8 for i in range(width)},
        orient="row",
    )


def read_html(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    import lxml.etree
    import lxml.html

    text, encoding = decode(path, read_bytes(path))
    if text.lstrip().startswith("<?xml"):  # lxml refuses a str with an encoding declaration
        text = text.split("?>", 1)[1] if "?>" in text else text
    try:
        doc = lxml.html.document_fromstring(text, parser=lxml.html.HTMLParser(recover=True, huge_tree=True))
    except (lxml.etree.ParserError, ValueError):
        raise UnusableFile(path, "not a readable HTML table (corrupt or empty page)") from None
    # every table, nested ones too, in document order: exportTableToExcel.js wraps the
    # exported element's innerHTML in a table of its own, so a screen that exports the
    # <div> around its list (ContainerSwapper) saves the list as a table in a table
    tables = list(doc.iter("table"))
    if not tables:
        raise UnusableFile(path, "no table in the HTML page (not a dossier table)")

    def attempts():
        for table in tables:
            laid, filled, spanning = table_grid(table)
            width = max((len(r) for r in laid), default=0)
            if width:
                yield lambda laid=laid, filled=filled, spanning=spanning, width=width: read_grid(
                    path, "html", _frame(laid, width), matcher, mapping, filled=_frame(filled, width),
                    spanning=pl.Series(spanning, dtype=pl.Boolean), encoding=encoding,
                )

    return first_table(path, attempts(), "no table of the HTML page has a recognisable header row (not a dossier table)")
