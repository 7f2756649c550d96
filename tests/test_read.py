"""read_table: formats, encodings, header matching, allow-list of canonical columns."""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from transforms.read import (
    RawTable,
    UnusableFile,
    load_aliases,
    load_mapping,
    match_header,
    read_table,
)
from transforms.normalise import normalise_key
from transforms.readers.text import utf8_bom
from transforms.schema import MISALIGNED
from tests.helpers import to_cp1258

EXAMPLE = Path(__file__).parent / "fixtures" / "example" / "dossiers.csv"

VIETNAMESE = {
    "dossier_id": "Mã hồ sơ",
    "unit_code": "Mã đơn vị",
    "procedure_code": "Mã TTHC",
    "channel": "Kênh nộp",
    "status": "Trạng thái",
    "submitted_at": "Ngày nộp",
    "received_at": "Ngày\ntiếp nhận",
    "due_at": "Ngày hẹn trả",
    "finished_at": "Ngày kết thúc xử lý",
    "returned_at": "Ngày trả kết quả",
    "rejected_at": "Ngày từ chối",
    "fee_required": "Có phí",
    "paid_online": "Thanh toán trực tuyến",
    "digitized": "Đã số hóa",
    "e_result": "Kết quả điện tử",
    "synced": "Đồng bộ DVCQG",
    "apology_issued": "Phiếu xin lỗi",
    "rating": "Đánh giá",
    "complaint": "Phản ánh",
}

PERSONAL_HEADERS = ["Họ tên", "CCCD", "Số điện thoại", "Địa chỉ"]
PERSONAL_VALUES = ["Nguyễn Văn Bí Mật", "001099012345", "0912345678", "12 Phố Giả Định, Hà Nội"]


def example_rows() -> list[dict[str, str]]:
    with EXAMPLE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def all_text(raw: RawTable) -> str:
    """Everything a RawTable holds, as text, to look for leaked values."""
    parts = [repr(raw), raw.frame.write_csv(), " ".join(raw.dropped_columns), repr(raw.columns)]
    return "\n".join(parts)


def write_vietnamese_xlsx(path: Path, rows: list[dict[str, str]], *, personal: bool = True, notes_sheet: bool = False) -> None:
    """The example as an office would save it: banner rows, STT column, Vietnamese
    headers (one with a line break), native dates, personal columns, a totals row."""
    wb = xlsxwriter.Workbook(str(path))
    if notes_sheet:
        notes = wb.add_worksheet("Ghi chú")
        notes.write(0, 0, "Ghi chú: số liệu tạm tính")
        notes.write(1, 0, "Người lập: phòng Nội vụ")
    ws = wb.add_worksheet("Báo cáo")
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    ws.write(0, 0, "UBND QUẬN HÀ ĐÔNG")
    ws.write(1, 0, "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ")
    headers = ["STT"] + list(VIETNAMESE.values()) + (PERSONAL_HEADERS if personal else [])
    header_row = 3
    for c, h in enumerate(headers):
        ws.write(header_row, c, h)
    fields = list(VIETNAMESE)
    for r, row in enumerate(rows, start=header_row + 1):
        ws.write_number(r, 0, r - header_row)
        for c, fld in enumerate(fields, start=1):
            value = row[fld]
            if value == "":
                continue
            if fld.endswith("_at"):
                ws.write_datetime(r, c, dt.datetime.fromisoformat(value), date_fmt)
            elif fld in ("channel", "status"):
                ws.write_number(r, c, int(value))
            elif value in ("true", "false"):
                ws.write(r, c, "Có" if value == "true" else "Không")
            else:
                ws.write_string(r, c, value)  # codes stay text ("001")
        if personal:
            for c, v in enumerate(PERSONAL_VALUES, start=1 + len(fields)):
                ws.write_string(r, c, v)
    total_row = header_row + 1 + len(rows)
    ws.write(total_row, 0, "Tổng cộng")
    ws.write_number(total_row, 2, len(rows))
    wb.close()


# ----------------------------------------------------------------------- headers


def test_header_key_normalisation():
    assert normalise_key("Ngày\ntiếp  nhận") == "ngay_tiep_nhan"
    assert normalise_key("  Mã hồ sơ (*) ") == "ma_ho_so"
    assert normalise_key("ĐỒNG BỘ DVCQG") == "dong_bo_dvcqg"
    assert normalise_key(unicodedata.normalize("NFD", "Đơn vị tiếp nhận")) == "don_vi_tiep_nhan"


@pytest.mark.parametrize(
    "header,field",
    [
        ("Mã hồ sơ", "dossier_id"),
        ("MA HO SO", "dossier_id"),
        ("MaHoSo", "dossier_id"),
        ("Số hồ sơ", "dossier_id"),
        ("Dossier ID", "dossier_id"),
        ("dossier_id", "dossier_id"),
        ("MaDonVi", "unit_code"),
        ("Cơ quan tiếp nhận", "unit_name"),
        ("MaTTHC", "procedure_code"),
        ("TenTTHC", "procedure_name"),
        ("TenLinhVuc", "field_name"),
        ("KenhThucHien", "channel"),
        ("TrangThaiHoSo", "status"),
        ("NgayNopHoSo", "submitted_at"),
        ("Ngày\r\ntiếp nhận", "received_at"),
        ("NgayTiepNhan", "received_at"),
        ("Received date", "received_at"),
        ("NgayHenTra", "due_at"),
        ("Due date", "due_at"),
        ("NgayKetThucXuLy", "finished_at"),
        ("Ngày hoàn thành", "finished_at"),
        ("NgayTra", "returned_at"),
        ("NgayTuChoi", "rejected_at"),
        ("Số lần bổ sung", "supplement_count"),
        ("Có lệ phí", "fee_required"),
        # the sync's 0/1/2/3 code decides fee_required and paid_online (normalise)
        ("DuocThanhToanTrucTuyen", "payment_code"),
        ("HinhThuc", None),  # how the result is returned, never the channel
        ("Hình thức", None),
        ("DonViXuLy", "unit_name"),
        ("Đơn vị xử lý", "unit_name"),
        ("Đơn vị giải quyết", "unit_name"),
        ("Nhận hồ sơ", "received_at"),
        ("Ngày nhận", "received_at"),
        ("Ngày nộp hồ sơ", "submitted_at"),
        ("Hẹn trả kết quả", "due_at"),
        ("Ngày có kết quả", "finished_at"),
        ("Ngày nhận kết quả", "returned_at"),
        ("Tên thủ tục hành chính", "procedure_name"),
        ("TrichYeuHoSo", None),  # free-text summaries carry names
        ("Trích yếu", None),
        ("Nội dung hồ sơ", None),
        ("Người nhận hồ sơ", None),  # the officer
        ("DinhDanhCHS", None),
        ("HoSoCoThanhPhanSoHoa", "digitized"),
        ("Kết quả điện tử", "e_result"),
        ("Đã đồng bộ", "synced"),
        ("Xin lỗi", "apology_issued"),
        ("Mức độ hài lòng", "rating"),
        ("PAKN", "complaint"),
        ("Ngày tiếp nhận (dd/mm/yyyy)", "received_at"),
        ("Họ tên", None),
        ("CCCD", None),
        ("STT", None),
    ],
)
def test_alias_table(header, field):
    assert match_header(header, load_aliases(), {}) == field


def test_every_alias_of_the_spec_is_shipped():
    aliases = load_aliases()
    spec = {
        "dossier_id": ["Mã hồ sơ", "Số hồ sơ", "MaHoSo"],
        "unit_code": ["Mã đơn vị", "MaDonVi"],
        "unit_name": ["Đơn vị tiếp nhận", "Cơ quan tiếp nhận"],
        "procedure_code": ["Mã TTHC", "Mã thủ tục", "MaTTHC"],
        "procedure_name": ["Tên TTHC", "Tên thủ tục", "TenTTHC"],
        "field_name": ["Lĩnh vực", "TenLinhVuc"],
        "channel": ["Kênh nộp", "Hình thức nộp", "KenhThucHien"],
        "status": ["Trạng thái", "TrangThaiHoSo"],
        "submitted_at": ["Ngày nộp", "NgayNopHoSo"],
        "received_at": ["Ngày tiếp nhận", "NgayTiepNhan"],
        "due_at": ["Ngày hẹn trả", "NgayHenTra"],
        "finished_at": ["Ngày kết thúc xử lý", "Ngày hoàn thành", "NgayKetThucXuLy"],
        "returned_at": ["Ngày trả kết quả", "NgayTra"],
        "rejected_at": ["Ngày từ chối", "NgayTuChoi"],
        "supplement_count": ["Số lần yêu cầu bổ sung", "Số lần bổ sung"],
        "fee_required": ["Có phí", "Có lệ phí", "Thu phí"],
        "paid_online": ["Thanh toán trực tuyến"],
        "payment_code": ["DuocThanhToanTrucTuyen"],  # decides paid_online (Real exports)
        "digitized": ["Số hóa", "Đã số hóa", "HoSoCoThanhPhanSoHoa"],
        "e_result": ["Kết quả điện tử"],
        "synced": ["Đồng bộ DVCQG", "Đã đồng bộ"],
        "apology_issued": ["Phiếu xin lỗi", "Xin lỗi"],
        "rating": ["Đánh giá", "Mức độ hài lòng"],
        "complaint": ["Phản ánh", "Kiến nghị", "PAKN"],
    }
    for field, names in spec.items():
        assert aliases[normalise_key(field)] == field
        for name in names:
            assert aliases[normalise_key(name)] == field, name


# --------------------------------------------------------------------- example CSV


def test_example_csv_reads_all_rows():
    raw = read_table(EXAMPLE)
    assert raw.format == "csv"
    assert raw.rows_read == 38
    assert raw.dropped_columns == []
    assert raw.frame.height == 38
    assert raw.frame["source_row"].to_list() == list(range(1, 39))
    assert all(raw.frame[c].dtype == pl.Utf8 for c in raw.frame.columns if c != "source_row")
    first = raw.frame.row(0, named=True)
    assert first["dossier_id"] == "WX-001"
    assert first["unit_code"] == "001"
    assert first["received_at"] == "2024-01-02 08:00:00"
    assert first["rating"] == "5"


# ------------------------------------------------------------------------- XLSX


def test_xlsx_vietnamese_headers_banner_totals_and_personal_columns(tmp_path):
    path = tmp_path / "bao_cao.xlsx"
    rows = example_rows()
    write_vietnamese_xlsx(path, rows)
    raw = read_table(path)
    assert raw.format == "xlsx"
    assert raw.rows_read == 38  # banner and "Tổng cộng" rows are not dossiers
    assert raw.frame["source_row"].to_list() == list(range(1, 39))
    assert set(PERSONAL_HEADERS) <= set(raw.dropped_columns)
    assert "STT" in raw.dropped_columns
    text = all_text(raw)
    for value in PERSONAL_VALUES:
        assert value not in text
    assert not any(c in raw.frame.columns for c in ("Họ tên", "CCCD"))
    first = raw.frame.row(0, named=True)
    assert first["dossier_id"] == "WX-001"
    assert first["unit_code"] == "001"
    assert first["status"] == "10"  # numeric cell, not "10.0"
    assert first["received_at"] == "2024-01-02 08:00:00"  # native date -> ISO
    assert first["fee_required"] == "Có"
    ids = raw.frame["dossier_id"].to_list()
    assert ids == [r["dossier_id"] for r in rows]


def test_xlsx_first_sheet_with_a_header_is_used(tmp_path):
    path = tmp_path / "two_sheets.xlsx"
    write_vietnamese_xlsx(path, example_rows()[:3], notes_sheet=True)
    raw = read_table(path)
    assert raw.sheet == "Báo cáo"
    assert raw.rows_read == 3


def test_xlsx_numeric_codes_lose_no_digits_to_float(tmp_path):
    path = tmp_path / "num.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for c, h in enumerate(["MaHoSo", "MaDonVi", "MaTTHC", "NgayTiepNhan", "SoLanBoSung"]):
        ws.write(0, c, h)
    ws.write_number(1, 0, 123456)
    ws.write_number(1, 1, 1)
    ws.write_string(1, 2, "1.001776")
    ws.write_number(1, 3, 45292.5)  # an Excel serial that lost its date format
    ws.write_number(1, 4, 2)
    wb.close()
    raw = read_table(path)
    row = raw.frame.row(0, named=True)
    assert row["dossier_id"] == "123456"
    assert row["unit_code"] == "1"
    assert row["received_at"] == "45292.5"
    assert row["supplement_count"] == "2"


# ---------------------------------------------------------------- CSV encodings


def _csv_text(rows: list[dict[str, str]], sep: str, headers: dict[str, str]) -> str:
    lines = [sep.join(headers[f] for f in headers)]
    for row in rows:
        lines.append(sep.join(row.get(f, "") for f in headers))
    return "\r\n".join(lines) + "\r\n"


VN_HEADERS = {
    "dossier_id": "Mã hồ sơ",
    "unit_name": "Đơn vị tiếp nhận",
    "procedure_code": "Mã thủ tục",
    "received_at": "Ngày tiếp nhận",
    "status": "Trạng thái",
    "holder": "Chủ hồ sơ",
}
VN_ROWS = [
    {"dossier_id": "HS-1", "unit_name": "Quận Ba Đình", "procedure_code": "1.001776",
     "received_at": "05/03/2024 08:30", "status": "Đã trả kết quả", "holder": "Trần Thị Ẩn Danh"},
    {"dossier_id": "HS-2", "unit_name": "Phường Phúc Xá", "procedure_code": "020",
     "received_at": "13/03/2024", "status": "Đang xử lý", "holder": "Lê Văn Giấu"},
]


def _check_vn(raw: RawTable) -> None:
    assert raw.rows_read == 2
    assert raw.dropped_columns == ["Chủ hồ sơ"]
    assert raw.frame["unit_name"].to_list() == ["Quận Ba Đình", "Phường Phúc Xá"]
    assert raw.frame["status"].to_list() == ["Đã trả kết quả", "Đang xử lý"]
    assert raw.frame["procedure_code"].to_list() == ["1.001776", "020"]
    assert raw.frame["received_at"].to_list() == ["05/03/2024 08:30", "13/03/2024"]
    assert "Ẩn Danh" not in all_text(raw) and "Giấu" not in all_text(raw)


def test_semicolon_csv_windows_1258(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(to_cp1258(_csv_text(VN_ROWS, ";", VN_HEADERS)))
    raw = read_table(path)
    assert raw.encoding == "windows-1258"
    _check_vn(raw)


def test_tab_csv_utf16_with_bom(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(_csv_text(VN_ROWS, "\t", VN_HEADERS).encode("utf-16"))
    raw = read_table(path)
    assert raw.encoding == "utf-16"
    _check_vn(raw)


def test_comma_csv_utf8_with_bom_and_banner(tmp_path):
    path = tmp_path / "export.csv"
    text = "UBND QUẬN HÀ ĐÔNG,,,,,\r\n,,,,,\r\n" + _csv_text(VN_ROWS, ",", VN_HEADERS)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    raw = read_table(path)
    _check_vn(raw)
    assert raw.frame["source_row"].to_list() == [1, 2]


_LF = _csv_text(VN_ROWS, ",", VN_HEADERS).replace("\r\n", "\n")
_HEAD = _LF.split("\n")[0] + "\n"


def _cut_inside_a_character(text: str, at: int) -> bytes:
    """`text` as UTF-8 after a banner line that puts a character's second byte at `at`."""
    for width in range(1, 80):
        data = ("x" * width + "\n" + text).encode("utf-8")
        if 0x80 <= data[at] < 0xC0:
            return data
    raise AssertionError("no banner puts a character across the cut")


@pytest.mark.parametrize(
    "content",
    [
        _LF.encode("utf-8"),
        b"\xef\xbb\xbf" + _LF.encode("utf-8"),
        (_HEAD + "\n \u00a0\n\u3000\t\n").encode("utf-8"),  # blanks, Unicode's too: no rows
        (_HEAD + "\x1c\u00a0\n\u2028\n").encode("utf-8"),  # what str.isspace calls blank
        (_HEAD + "\u3000\n" + _LF.split("\n", 1)[1]).encode("utf-8"),  # a Unicode blank line, then rows
        _cut_inside_a_character(_LF * 8, 4 * 300),
    ],
    ids=["utf8", "bom", "unicode-blanks", "separator-controls", "blank-then-rows", "cut-character"],
)
def test_a_utf8_csv_read_from_its_bytes_reads_as_from_its_text(tmp_path, monkeypatch, content):
    """A UTF-8 export with no CR is parsed from its own bytes, its text never made
    (readers.text.utf8_bom): what it gives is what the decoded text gives, for blank
    lines of every kind under the header and a sample cut inside a character."""
    from transforms.readers import csv as csv_reader

    path = tmp_path / "export.csv"
    path.write_bytes(content)
    monkeypatch.setattr(csv_reader, "SAMPLE_CHARS", 300)  # the last case's bytes for it end inside a character
    taken = []
    monkeypatch.setattr(csv_reader, "utf8_bom", lambda data: taken.append(utf8_bom(data)) or taken[-1])
    fast = _outcome(path)
    monkeypatch.setattr(csv_reader, "utf8_bom", lambda data: None)
    slow = _outcome(path)
    assert taken and taken[0] is not None  # the bytes were parsed as they are
    assert fast[:2] == slow[:2] and (fast[2] is None or fast[2].equals(slow[2]))


def _outcome(path: Path) -> tuple:
    """(encoding, rows read and dropped columns, frame), or the reason the file was refused."""
    try:
        raw = read_table(path)
    except UnusableFile as exc:
        return "refused", str(exc), None
    return raw.encoding, (raw.rows_read, raw.dropped_columns), raw.frame


@pytest.mark.parametrize(
    "under_header,rows,ids",
    [
        ("\n", [2, 3], ["HS-1", "HS-2"]),  # a blank line under the header
        ("   \n", [2, 3], ["HS-1", "HS-2"]),
        ("\u3000\n", [2, 3], ["HS-1", "HS-2"]),
        (",,,,,,,,\n", [2, 3], ["HS-1", "HS-2"]),  # a first line wider than the header
        ("HS-0\n", [1, 2, 3], ["HS-0", "HS-1", "HS-2"]),  # a first row short of fields
        ("", [1, 2], ["HS-1", "HS-2"]),
    ],
    ids=["blank", "spaces", "unicode-blank", "wide", "short", "none"],
)
def test_a_csv_whose_first_line_under_the_header_is_not_as_wide_is_read(tmp_path, under_header, rows, ids):
    """Polars counts a CSV's columns on its first line: a blank line under the header, or
    a first row short or long of fields, refused the whole file ("cannot be parsed as
    CSV"). Every row is read, numbered as the file numbers it (the blank line counts)."""
    path = tmp_path / "export.csv"
    path.write_bytes((_HEAD + under_header + _LF.split("\n", 1)[1]).encode("utf-8"))
    raw = read_table(path)
    assert raw.frame["source_row"].to_list() == rows
    assert raw.frame["dossier_id"].to_list() == ids
    assert raw.frame["status"].to_list()[-2:] == ["Đã trả kết quả", "Đang xử lý"]


@pytest.mark.parametrize("header_end", ["", ","], ids=["header", "header-ending-with-a-separator"])
def test_a_csv_line_with_a_cell_past_its_header_is_marked_misaligned(tmp_path, header_end):
    """A separator inside an unquoted value makes a line longer than its header and
    moves the cells after it: the row says so (MISALIGNED), whatever its cells read
    as. Blank cells past the header (a trailing separator, on every line or some, the
    header's own included) and quoted separators do not; a short line is no shift."""
    lines = [
        "HS-0,001,1.001776,02/01/2024,Số 1, ngõ 2, phố 3, Hoàn Kiếm",  # the first line, wider
        "HS-1,001,1.001776,02/01/2024,Số 12 ngõ 34",
        "HS-2,001,1.001776,02/01/2024,Số 12 ngõ 34, Hoàn Kiếm",
        "HS-3,001,1.001776,02/01/2024,Số 12 ngõ 34,",
        "HS-4,001,1.001776,02/01/2024,Số 12 ngõ 34, ,\t",
        'HS-5,001,1.001776,02/01/2024,"Số 12 ngõ 34, Hoàn Kiếm"',
        "HS-6,001,1.001776",
        "HS-7,001,1.001776,02/01/2024,,,Hoàn Kiếm",  # the first cell past the header blank
        "HS-8,001,1.001776,02/01/2024,Số 12 ngõ 34,\u200b",
    ]
    path = tmp_path / "export.csv"
    head = "Mã hồ sơ,Mã đơn vị,Mã TTHC,Ngày tiếp nhận,Địa chỉ" + header_end
    path.write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
    raw = read_table(path)
    assert raw.frame["source_row"].to_list() == list(range(1, 10))
    assert raw.frame["dossier_id"].to_list() == [f"HS-{i}" for i in range(9)]
    assert raw.frame[MISALIGNED].to_list() == [True, False, True, False, False, False, False, True, False]
    assert raw.frame["received_at"].to_list() == ["02/01/2024"] * 6 + [None] + ["02/01/2024"] * 2
    # a file with no such line has no such column
    path.write_text("\n".join([head, *lines[1:2], *lines[3:7]]) + "\n", encoding="utf-8")
    assert MISALIGNED not in read_table(path).frame.columns


@pytest.mark.parametrize(
    "content,bom",
    [
        (b"a,b\nc,d\n", 0),
        (b"\xef\xbb\xbfa,b\n", 3),
        (b"a,b\r\nc,d\r\n", None),  # CR: the text is made (and its line ends unified)
        (to_cp1258("Mã hồ sơ,b\n"), None),  # not UTF-8: decode tries Windows-1258
        (b"a,\x00b\n", None),  # binary
        ("a,b\n".encode("utf-16"), None),
    ],
)
def test_which_csv_bytes_are_parsed_as_they_are(content, bom):
    assert utf8_bom(content) == bom


def test_csv_quoted_multiline_header_and_totals_row(tmp_path):
    path = tmp_path / "export.csv"
    text = (
        'STT,"Mã\nhồ sơ",Mã đơn vị,Mã TTHC,"Ngày\ntiếp nhận"\n'
        "1,A-1,001,1.001776,02/01/2024\n"
        "2,A-2,001,1.001776,03/01/2024\n"
        "Tổng cộng,,,,\n"
    )
    path.write_text(text, encoding="utf-8")
    raw = read_table(path)
    assert raw.rows_read == 2
    assert raw.frame["dossier_id"].to_list() == ["A-1", "A-2"]


# --------------------------------------------------------- JSON / JSONL / Parquet


def test_json_array_of_objects(tmp_path):
    path = tmp_path / "export.json"
    records = [
        {"MaHoSo": "J-1", "MaDonVi": "001", "MaTTHC": "1.001776", "NgayTiepNhan": "2024-01-02T08:00:00+07:00",
         "TrangThaiHoSo": 10, "HoTenNguoiNop": "Phạm Bí Ẩn", "SoLanBoSung": 1.0, "DuocThanhToanTrucTuyen": True},
        {"MaHoSo": "J-2", "MaDonVi": "00001", "MaTTHC": "1.001776", "NgayTiepNhan": "03/01/2024 09:00",
         "TrangThaiHoSo": "4", "HoTenNguoiNop": {"ten": "Lồng Nhau"}},
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    raw = read_table(path)
    assert raw.format == "json"
    assert raw.rows_read == 2
    assert raw.dropped_columns == ["HoTenNguoiNop"]
    assert raw.frame["status"].to_list() == ["10", "4"]
    assert raw.frame["supplement_count"].to_list() == ["1", None]
    assert raw.frame["payment_code"].to_list() == ["true", None]
    assert raw.frame["unit_code"].to_list() == ["001", "00001"]
    assert "Bí Ẩn" not in all_text(raw) and "Lồng Nhau" not in all_text(raw)


def test_jsonl_rows_numbered_by_line(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [
        json.dumps({"dossier_id": "L-1", "unit_code": "001", "procedure_code": "1.001776", "received_at": "2024-01-02 08:00:00"}),
        "",
        json.dumps({"dossier_id": "L-2", "unit_code": "001", "procedure_code": "1.001776", "received_at": "2024-01-03 08:00:00", "phone": "0900000000"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = read_table(path)
    assert raw.format == "jsonl"
    assert raw.frame["source_row"].to_list() == [1, 3]
    assert raw.frame["dossier_id"].to_list() == ["L-1", "L-2"]
    assert raw.dropped_columns == ["phone"]
    assert "0900000000" not in all_text(raw)


def test_parquet_native_types(tmp_path):
    path = tmp_path / "export.parquet"
    pl.DataFrame(
        {
            "dossier_id": ["P-1", "P-2"],
            "unit_code": ["001", "002"],
            "procedure_code": ["1.001776", "1.001776"],
            "received_at": [dt.datetime(2024, 1, 2, 8, 0), dt.datetime(2024, 1, 3, 9, 30)],
            "due_at": [dt.date(2024, 1, 10), None],
            "finished_at": pl.Series([dt.datetime(2024, 1, 5, 1, 0), None]).dt.replace_time_zone("UTC"),
            "status": pl.Series([10, 4], dtype=pl.Int8),
            "supplement_count": [1.0, None],
            "synced": [True, False],
            "cccd": ["001099000001", "001099000002"],
        }
    ).write_parquet(path)
    raw = read_table(path)
    assert raw.format == "parquet"
    assert raw.dropped_columns == ["cccd"]
    row = raw.frame.row(0, named=True)
    assert row["received_at"] == "2024-01-02 08:00:00"
    assert row["due_at"] == "2024-01-10"
    assert row["finished_at"] == "2024-01-05 08:00:00"  # UTC -> Asia/Ho_Chi_Minh
    assert row["status"] == "10"
    assert row["supplement_count"] == "1"
    assert row["synced"] == "true"
    assert "001099000001" not in all_text(raw)


# ------------------------------------------------------------------- mappings


def test_per_source_mapping_dict_and_files(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text(
        "Số ĐK,Nơi nhận,Thủ tục số,Nhận lúc,Trạng thái\nX-1,Quận Ba Đình,1.001776,02/01/2024,4\n",
        encoding="utf-8",
    )
    with pytest.raises(UnusableFile):
        read_table(path)
    mapping = {"Số ĐK": "dossier_id", "Nơi nhận": "unit_name", "Thủ tục số": "procedure_code",
               "Nhận lúc": "received_at", "Trạng thái": "ignore"}
    raw = read_table(path, mapping)
    assert raw.frame["dossier_id"].to_list() == ["X-1"]
    assert "status" not in raw.frame.columns and "Trạng thái" in raw.dropped_columns

    csv_map = tmp_path / "map.csv"
    csv_map.write_text("alias,field\nSố ĐK,dossier_id\nNơi nhận,unit_name\nThủ tục số,procedure_code\nNhận lúc,received_at\n", encoding="utf-8")
    assert read_table(path, load_mapping(csv_map)).frame["unit_name"].to_list() == ["Quận Ba Đình"]

    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text("dossier_id: [Số ĐK]\nunit_name: [Nơi nhận]\nprocedure_code: [Thủ tục số]\nNhận lúc: received_at\n", encoding="utf-8")
    assert read_table(path, yaml_map).frame["procedure_code"].to_list() == ["1.001776"]

    with pytest.raises(ValueError):
        read_table(path, {"Số ĐK": "not_a_field"})


# ------------------------------------------------------------------ unusable files


def test_missing_required_columns_message_names_file_and_fields(tmp_path):
    path = tmp_path / "thieu_cot.csv"
    path.write_text("Mã hồ sơ,Họ tên,Ngày tiếp nhận\nA-1,Đỗ Riêng Tư,02/01/2024\n", encoding="utf-8")
    with pytest.raises(UnusableFile) as info:
        read_table(path)
    msg = str(info.value)
    assert "thieu_cot.csv" in msg
    assert "procedure_code" in msg and "unit_code or unit_name" in msg
    assert "Đỗ Riêng Tư" not in msg and "A-1" not in msg
    assert info.value.missing_fields == ["procedure_code or procedure_name", "unit_code or unit_name"]


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("notes.csv", "Họ tên;Điện thoại\nNguyễn Lộ Lọt;0911111111\n".encode(), "no recognisable header"),
        ("blob.csv", bytes(range(256)) * 4, ""),
        ("empty.csv", b"", "empty"),
        ("report.pdf", b"%PDF-1.4 ...", "unsupported format"),
        ("broken.xlsx", b"PK\x03\x04 this is not a workbook", "spreadsheet"),
        ("broken.parquet", b"PAR1 nope", "Parquet"),
        ("broken.json", b'{"MaHoSo": "x",', "JSON"),
        ("scalar.json", b"[1, 2, 3]", "not a table"),
    ],
)
def test_unusable_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnusableFile) as info:
        read_table(path)
    msg = str(info.value)
    assert name in msg
    assert reason in msg
    assert "Lộ Lọt" not in msg and "0911111111" not in msg


def test_xlsx_two_row_merged_header_and_column_numbering_row(tmp_path):
    path = tmp_path / "merged.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write(0, 0, "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ")
    ws.merge_range(2, 0, 3, 0, "STT")
    ws.merge_range(2, 1, 3, 1, "Mã hồ sơ")
    ws.merge_range(2, 2, 3, 2, "Cơ quan tiếp nhận")
    ws.merge_range(2, 3, 3, 3, "Mã thủ tục")
    ws.merge_range(2, 4, 2, 6, "Ngày")
    ws.write(3, 4, "Tiếp nhận")
    ws.write(3, 5, "Hẹn trả")
    ws.write(3, 6, "Trả kết quả")
    for c in range(7):
        ws.write(4, c, f"({c + 1})")
    ws.write_row(5, 0, [1, "M-1", "Quận Ba Đình", "1.001776", "02/01/2024", "09/01/2024", "08/01/2024 10:00"])
    ws.write_row(6, 0, ["Cộng", None, None, None, None, None, None])
    wb.close()
    raw = read_table(path)
    assert raw.rows_read == 1
    row = raw.frame.row(0, named=True)
    assert row["dossier_id"] == "M-1"
    assert row["received_at"] == "02/01/2024"
    assert row["due_at"] == "09/01/2024"
    assert row["returned_at"] == "08/01/2024 10:00"
    assert row["source_row"] == 2  # row 1 after the header only numbers the columns
