"""A small, fast XLSX writer: sheet XML built column-wise by Polars, zipped with fixed
timestamps (transforms.compress), so the same frame always gives the same bytes.

xlsxwriter writes cell by cell in Python; a period's tables have tens of
thousands of cells and a backfill writes hundreds of workbooks. Those workbooks are
written together (workbooks_bytes): the rows of sheets with the same columns, types
and styles in one Polars pass, since a period's sheet is small and its cost was
Polars' overhead per expression, not its cells. Text is written as inline strings,
so a cell can never become a formula (`=HYPERLINK(…)` stays text), and characters
XML 1.0 forbids are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

import polars as pl

from transforms.compress import zip_bytes

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_FORBIDDEN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_EXCEL_EPOCH = datetime(1899, 12, 30)

# style ids in styles.xml below
PLAIN, HEADER, DATE, DATETIME, PERCENT, DECIMAL = 0, 1, 2, 3, 4, 5
_STYLES = (
    _XML + f"<styleSheet {_NS}>"
    '<numFmts count="4"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
    '<numFmt numFmtId="165" formatCode="dd/mm/yyyy hh:mm"/>'
    '<numFmt numFmtId="166" formatCode="0.0%"/><numFmt numFmtId="167" formatCode="0.00"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass
class Sheet:
    name: str
    frame: pl.DataFrame
    # column → style id (PERCENT, DECIMAL, …) for numbers; dates get DATE/DATETIME
    styles: dict[str, int] = field(default_factory=dict)
    header: list[str] | None = None  # labels for the header row (default: column names)
    freeze_header: bool = True
    autofilter: bool = True
    widths: dict[str, float] = field(default_factory=dict)
    # Report-style sheets (the demo's exports): bold lines above the header with a blank
    # row under them, one bold row under the data (a label and a count).
    banner: list[str] = field(default_factory=list)
    footer: list[str | int | float] = field(default_factory=list)
    # column -> a text column of the frame written instead where it is not null (an
    # impossible date typed over a date column); the text columns are not written.
    text_over: dict[str, str] = field(default_factory=dict)
    midnight_as_date: bool = False  # a datetime at exactly 00:00 gets the date format

    @property
    def header_row(self) -> int:
        return len(self.banner) + 2 if self.banner else 1


def _text(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all(_FORBIDDEN, "")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _cell_expr(name: str, dtype: pl.DataType, letter: str, style: int | None,
               midnight_as_date: bool = False) -> pl.Expr:
    """The XML of each cell of a column ('' for a null), vectorised."""
    col = pl.col(name)
    ref = [pl.lit(f'<c r="{letter}'), pl.col("__r")]
    s = f' s="{style}"' if style else ""
    if dtype == pl.Boolean:
        body = pl.concat_str([*ref, pl.lit('" t="b"><v>'), col.cast(pl.Int8).cast(pl.Utf8), pl.lit("</v></c>")])
    elif dtype.is_numeric():
        # a spreadsheet number is finite: NaN and infinity are empty cells
        value = pl.when(col.is_finite()).then(col) if dtype.is_float() else col
        body = pl.concat_str([*ref, pl.lit(f'"{s}><v>'), value.cast(pl.Utf8), pl.lit("</v></c>")])
    elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
        serial = (col.cast(pl.Datetime("us")) - pl.lit(_EXCEL_EPOCH)).dt.total_microseconds() / 86_400_000_000
        fmt = pl.lit(f'" s="{style or (DATE if dtype == pl.Date else DATETIME)}"><v>')
        if midnight_as_date and dtype != pl.Date and not style:
            at_midnight = col.cast(pl.Datetime("us")) == col.cast(pl.Datetime("us")).dt.truncate("1d")
            fmt = pl.when(at_midnight).then(pl.lit(f'" s="{DATE}"><v>')).otherwise(fmt)
        body = pl.concat_str([*ref, fmt, serial.cast(pl.Utf8), pl.lit("</v></c>")])
    else:
        body = _text_cell_expr(col, ref, s)
    return body.fill_null("")


def _text_cell_expr(col: pl.Expr, ref: list[pl.Expr], s: str = "") -> pl.Expr:
    return pl.concat_str(
        [*ref, pl.lit(f'" t="inlineStr"{s}><is><t xml:space="preserve">'),
         _text(col.cast(pl.Utf8)), pl.lit("</t></is></c>")]
    )


def _row_of_values(row: int, values: list, style: int = HEADER) -> str:
    """One row of literal cells (header, banner, footer): text as inline strings, numbers as numbers."""
    cells = []
    for i, v in enumerate(values):
        ref = f"{column_letter(i)}{row}"
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            cells.append(f'<c r="{ref}" s="{style}"><v>{v}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr" s="{style}"><is><t xml:space="preserve">'
                         f"{escape(str(v))}</t></is></c>")
    return f'<row r="{row}">{"".join(cells)}</row>'


def _layout_of(sheet: Sheet) -> tuple:
    """What makes the cells of two sheets' rows the same expressions."""
    return (
        tuple(sheet.frame.schema.items()), tuple(sorted(sheet.styles.items())),
        tuple(sorted(sheet.text_over.items())), sheet.midnight_as_date, sheet.header_row,
    )


def _sheet_rows(sheets: list[Sheet]) -> list[str]:
    """The XML of the rows under the header of each sheet: one Polars pass for all the
    sheets of one layout."""
    rows = [""] * len(sheets)
    alike: dict[tuple, list[int]] = {}
    for i, sheet in enumerate(sheets):
        if sheet.frame.height:
            alike.setdefault(_layout_of(sheet), []).append(i)
    for members in alike.values():
        for i, xml in zip(members, _rows_of_layout([sheets[i] for i in members])):
            rows[i] = xml
    return rows


def _rows_of_layout(sheets: list[Sheet]) -> list[str]:
    first = sheets[0]
    frame = pl.concat([s.frame for s in sheets]) if len(sheets) > 1 else first.frame
    helper = set(first.text_over.values())
    names = [n for n in frame.columns if n not in helper]
    cells = []
    for i, n in enumerate(names):
        cell = _cell_expr(n, frame.schema[n], column_letter(i), first.styles.get(n), first.midnight_as_date)
        if n in first.text_over:
            over = pl.col(first.text_over[n])
            ref = [pl.lit(f'<c r="{column_letter(i)}'), pl.col("__r")]
            cell = pl.when(over.is_not_null()).then(_text_cell_expr(over, ref)).otherwise(cell)
        cells.append(cell)
    top = first.header_row
    heights = [s.frame.height for s in sheets]
    numbers = pl.concat([pl.int_range(top + 1, top + 1 + h, dtype=pl.Int64, eager=True) for h in heights])
    xml = frame.with_columns(__r=numbers.cast(pl.Utf8)).select(
        pl.concat_str([pl.lit('<row r="'), pl.col("__r"), pl.lit('">'), *cells, pl.lit("</row>")])
    ).to_series()
    out, start = [], 0
    for h in heights:
        out.append(xml.slice(start, h).str.join("").item())
        start += h
    return out


def sheet_xml(sheet: Sheet, rows_xml: str) -> str:
    """The sheet, `rows_xml` being the XML of its rows under the header (_sheet_rows)."""
    helper = set(sheet.text_over.values())
    frame = sheet.frame
    names = [n for n in frame.columns if n not in helper]
    header = sheet.header or names
    top = sheet.header_row
    rows = [_row_of_values(r, [text]) for r, text in enumerate(sheet.banner, start=1)]
    rows.append(_row_of_values(top, list(header)))
    rows.append(rows_xml)
    bottom = top + frame.height
    if sheet.footer:
        bottom += 1
        rows.append(_row_of_values(bottom, sheet.footer))
    last = f"{column_letter(max(len(names), 1) - 1)}{bottom}"
    views = (
        f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{top}" topLeftCell="A{top + 1}" '
        'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
        if sheet.freeze_header
        else '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    )
    cols = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{sheet.widths.get(n, max(10, min(40, len(str(h)) + 2)))}" customWidth="1"/>'
        for i, (n, h) in enumerate(zip(names, header))
    )
    autofilter = f'<autoFilter ref="A{top}:{last}"/>' if sheet.autofilter and names else ""
    return (
        _XML + f"<worksheet {_NS} {_NS_R}><dimension ref=\"A1:{last}\"/>{views}"
        f'<sheetFormatPr defaultRowHeight="15"/>{"<cols>" + cols + "</cols>" if cols else ""}'
        f"<sheetData>{''.join(rows)}</sheetData>{autofilter}"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )


def workbook_bytes(sheets: list[Sheet], *, created: datetime, title: str = "") -> bytes:
    """A workbook of these sheets; `created` is written as its creation date (pass a
    date that belongs to the data, never the wall clock, for repeatable bytes)."""
    return workbooks_bytes([(sheets, title)], created=created)[0]


def workbooks_bytes(books: list[tuple[list[Sheet], str]], *, created: datetime) -> list[bytes]:
    """workbook_bytes of each (sheets, title), their rows written together."""
    rows = iter(_sheet_rows([sheet for sheets, _ in books for sheet in sheets]))
    return [_workbook(sheets, [next(rows) for _ in sheets], created, title) for sheets, title in books]


def _workbook(sheets: list[Sheet], rows: list[str], created: datetime, title: str) -> bytes:
    n = len(sheets)
    sheet_entries = "".join(
        f'<sheet name="{escape(s.name[:31])}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, s in enumerate(sheets)
    )
    workbook = (
        _XML + f"<workbook {_NS} {_NS_R}><bookViews><workbookView/></bookViews>"
        f"<sheets>{sheet_entries}</sheets></workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(n)
    ) + (
        f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/>'
    )
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    files = {
        "[Content_Types].xml": _XML
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(n)
        )
        + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        "</Types>",
        "_rels/.rels": _XML
        + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>",
        "docProps/core.xml": _XML
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>",
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": _XML
        + f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        "xl/styles.xml": _STYLES,
        **{f"xl/worksheets/sheet{i + 1}.xml": sheet_xml(s, r) for i, (s, r) in enumerate(zip(sheets, rows))},
    }
    return zip_bytes({name: text.encode("utf-8") for name, text in files.items()})
