"""The shared XLSX writer: readable by openpyxl and fastexcel, exact values, safe text;
the deflate behind it and the recipes (transforms.compress)."""

from __future__ import annotations

import gzip
import zipfile
from datetime import date, datetime
from io import BytesIO

import openpyxl
import polars as pl

from transforms.compress import gzip_bytes, zip_bytes
from transforms.xlsx import PERCENT, Sheet, column_letter, workbook_bytes, workbooks_bytes

FRAME = pl.DataFrame(
    {
        "unit_code": ["001", "00001", None],
        "unit_name": ["Quận Ba Đình", '=HYPERLINK("http://x","y")', "a & b <c>\x07"],
        "received": [16, 5, None],
        "on_time_rate": [0.7272727272727273, 1.0, None],
        "ranked": [True, False, None],
        "period_start": [date(2024, 1, 1), date(2024, 2, 29), None],
        "received_at": [datetime(2024, 1, 2, 8, 30), None, datetime(2025, 12, 31, 23, 59)],
    }
)


def book() -> bytes:
    return workbook_bytes(
        [Sheet("Bảng xếp hạng", FRAME, styles={"on_time_rate": PERCENT}), Sheet("Chú thích", FRAME.head(0))],
        created=datetime(2024, 3, 1),
    )


def test_values_read_back_exactly_and_text_is_never_a_formula():
    ws = openpyxl.load_workbook(BytesIO(book()))["Bảng xếp hạng"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == tuple(FRAME.columns)
    assert rows[1][:5] == ("001", "Quận Ba Đình", 16, 0.7272727272727273, True)
    assert rows[2][0] == "00001" and rows[2][1] == '=HYPERLINK("http://x","y")'
    assert ws["B3"].data_type == "s"  # a string, not a formula
    assert rows[3][1] == "a & b <c>"  # & and < escaped, the control character dropped
    assert rows[1][5] == datetime(2024, 1, 1) and ws["F2"].number_format == "dd/mm/yyyy"
    assert rows[1][6] == datetime(2024, 1, 2, 8, 30)
    assert rows[3][:1] == (None,) and rows[3][2:5] == (None, None, None)
    assert ws["D2"].number_format == "0.0%"
    assert ws.freeze_panes == "A2"


def test_fastexcel_reads_it_and_the_bytes_repeat():
    assert book() == book()
    got = pl.read_excel(BytesIO(book()), engine="calamine", sheet_name="Bảng xếp hạng")
    assert got.height == 3 and got["received"].to_list()[:2] == [16, 5]


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_a_nan_or_an_infinity_is_an_empty_cell():
    frame = pl.DataFrame({"rate": [0.5, float("nan"), None, 1.0, float("inf"), -float("inf")]})
    ws = openpyxl.load_workbook(BytesIO(workbook_bytes([Sheet("x", frame)], created=datetime(2024, 3, 1))))["x"]
    assert [r[0] for r in ws.iter_rows(min_row=2, max_row=7, values_only=True)] == [0.5, None, None, 1, None, None]


def test_workbooks_written_together_are_those_written_one_by_one():
    """workbooks_bytes writes the rows of sheets of one layout in one pass: each
    workbook's bytes are still its own, whatever sheets it is written with (other
    layouts, empty sheets, a banner that moves the header, another row count)."""
    created = datetime(2024, 3, 1)
    report = Sheet("r", FRAME.head(2), banner=["Báo cáo", "Quận Ba Đình"], footer=["Tổng", 2], freeze_header=False)
    books = [
        ([Sheet("a", FRAME, styles={"on_time_rate": PERCENT}), Sheet("b", FRAME.head(0))], "một"),
        ([Sheet("a", FRAME.tail(2), styles={"on_time_rate": PERCENT})], "hai"),
        ([Sheet("a", FRAME)], "ba"),  # the same columns, another style: another layout
        ([report, Sheet("a", FRAME.head(1), styles={"on_time_rate": PERCENT})], "bốn"),
    ]
    together = workbooks_bytes(books, created=created)
    assert together == [workbook_bytes(sheets, created=created, title=title) for sheets, title in books]
    rows = [list(openpyxl.load_workbook(BytesIO(b)).worksheets[0].iter_rows(values_only=True)) for b in together]
    assert [r[0] for r in rows[1][1:]] == ["00001", None] and len(rows[0]) == 4
    assert rows[3][3][0] == "unit_code" and rows[3][4][0] == "001" and rows[3][-1] == ("Tổng", 2, None, None, None, None, None)


def test_the_archive_is_a_plain_zip_and_the_recipes_plain_gzip():
    """transforms.compress writes the archive itself (ISA-L, not zlib): any zip reader
    opens it, entries in order, deflated, dated 1980-01-01; the same files, the same bytes."""
    files = {"[Content_Types].xml": b"<a/>" * 5000, "xl/worksheets/sheet1.xml": "Quận Ba Đình".encode() * 99,
             "empty.xml": b""}
    archive = zip_bytes(files)
    with zipfile.ZipFile(BytesIO(archive)) as zf:
        assert zf.testzip() is None
        assert [(i.filename, i.compress_type, i.date_time) for i in zf.infolist()] == [
            (name, zipfile.ZIP_DEFLATED, (1980, 1, 1, 0, 0, 0)) for name in files
        ]
        assert {name: zf.read(name) for name in files} == files
    assert zip_bytes(dict(files)) == archive and len(archive) < 2000
    csv = "unit_code,unit_name\n001,Quận Ba Đình\n".encode() * 1000
    packed = gzip_bytes(csv)
    assert gzip.decompress(packed) == csv and packed == gzip_bytes(csv)
    assert packed[4:8] == b"\0\0\0\0" and len(packed) < len(csv) // 20  # no timestamp; compressed
