"""Files in the shapes real one-stop-shop systems export, written from the sources
quoted in ../shared/research/real-exports.md (S1–S6), not from our generator.

Each writer takes the rows as dicts of *our* meaning (id, dates, status …) and lays
them out exactly as that system does: its field names and order, its date format,
its envelope, banner, merged header rows, numbering row and status labels. The
personal columns of every shape are filled from ``personal`` (planted values that
must never be stored).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import xlsxwriter

# ---------------------------------------------------------------------- a registry

# A small registry with agency codes (mã định danh). The codes are fixtures, shaped
# like QCVN 102:2016 codes; they are not claimed to be any real agency's.
REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to,agency_code
006,Quận Đống Đa,district,,urban,2008-08-01,2025-06-30,000.00.06.H26
00229,Phường Văn Miếu,commune,006,urban,2008-08-01,2025-06-30,000.20.06.H26
00232,Phường Quốc Tử Giám,commune,006,urban,2008-08-01,2025-06-30,000.21.06.H26
020,Quận Hà Đông,district,,urban,2008-08-01,2025-06-30,000.00.20.H26
09552,Phường Vạn Phúc,commune,020,urban,2008-08-01,2025-06-30,000.12.20.H26
10126,Xã Vạn Phúc,commune,,rural,2008-08-01,2025-06-30,
S01,Sở Giáo dục và Đào tạo,department,,department,2008-08-01,,000.00.01.H22
"""

PERSONAL = {
    "name": "Lưu Thị Thử Nghiệm",
    "id": "036199012345",
    "phone": "0987001122",
    "email": "luu.thu.nghiem@example.vn",
    "address": "Số 9 ngõ Thử, phố Kiểm Tra",
    "officer": "Cán Văn Tiếp Nhận",
}


def write_registry(path: Path) -> Path:
    path.write_text(REGISTRY, encoding="utf-8")
    return path


# --------------------------------------------------------- S1/S2a/S2b: national sync

# HoSoDongBoDVC (S2a), fields in order, verbatim.
SYNC_FIELDS = (
    "MaHoSo MaTTHC TenTTHC MaLinhVuc TenLinhVuc KenhThucHien SoGiayToChuHoSo ChuHoSo LoaiDoiTuong "
    "MaDoiTuong ThongTinKhac Email Fax SoDienThoai TrichYeuHoSo NgayTiepNhan NgayHenTra TrangThaiHoSo "
    "NgayTra ThongTinTra HinhThuc NgayKetThucXuLy DonViXuLy GhiChu TaiLieuNop DanhSachLePhi "
    "DanhSachTepDinhKemKhac DanhSachHoSoBoSung DanhSachGiayToKetQua NoiNopHoSo HoSoCoThanhPhanSoHoa "
    "TaiKhoanDuocXacThucVoiVNeID DuocThanhToanTrucTuyen NgayTuChoi DinhDanhCHS NgayNopHoSo DSKetNoiCSDL"
).split()


def lucene(value: str | None) -> str:
    """LUCENE_DATE_FORMAT yyyyMMddHHmmss; a null date is "" (S1, S2b). A value of 8
    digits (yyyyMMdd) is passed through."""
    if not value:
        return ""
    if len(value) == 8 and value.isdigit():
        return value
    return dt.datetime.fromisoformat(value).strftime("%Y%m%d%H%M%S")


def sync_item(row: dict, personal: dict = PERSONAL) -> dict:
    """One DongBoHoSoMC data item: every value a string, nested lists as S1/S2a list
    their sub-fields. ``row`` keys: id, code, name, field, channel, status, received,
    due, finished, returned, rejected, submitted, unit_name, digitized, payment,
    how_returned (HinhThuc)."""
    item = {
        "MaHoSo": row.get("id", ""),
        "MaTTHC": row.get("code", "1.001193"),
        "TenTTHC": row.get("name", "Đăng ký khai sinh"),
        "MaLinhVuc": "HT",
        "TenLinhVuc": "Hộ tịch",
        "KenhThucHien": row.get("channel", "1"),
        "SoGiayToChuHoSo": personal["id"],
        "ChuHoSo": personal["name"],
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "ThongTinKhac": personal["address"],
        "Email": personal["email"],
        "Fax": "",
        "SoDienThoai": personal["phone"],
        "TrichYeuHoSo": f"{row.get('name', 'Đăng ký khai sinh')} cho {personal['name']}",
        "NgayTiepNhan": lucene(row.get("received")),
        "NgayHenTra": lucene(row.get("due")),
        "TrangThaiHoSo": row.get("status", ""),
        "NgayTra": lucene(row.get("returned")),
        "ThongTinTra": "",
        "HinhThuc": row.get("how_returned", "0"),
        "NgayKetThucXuLy": lucene(row.get("finished")),
        "DonViXuLy": row.get("unit_name", ""),
        "GhiChu": "",
        "TaiLieuNop": [
            {"TepDinhKemId": "1", "TenTepDinhKem": f"Tờ khai {personal['name']}.pdf", "IsDeleted": "False",
             "MaThanhPhanHoSo": "TP1", "DuongDanTaiTepTin": "/files/1.pdf", "DuocSoHoa": "1",
             "DuocTaiSuDung": "0", "DuocLayTuKhoDMQG": "0", "MaKetQuaThayThe": ""}
        ],
        "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP1", "HinhThucThu": "1", "Gia": "8000", "LoaiPhiLePhi": "1"}],
        "DanhSachTepDinhKemKhac": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [{"TenGiayTo": "Giấy khai sinh", "MaThanhPhanHoSo": "KQ1", "GiayToId": "9",
                                  "DuongDanTepTinKetQua": "/kq/9.pdf", "MaGiayToKetQua": "KQ-9"}],
        "NoiNopHoSo": "2",
        "HoSoCoThanhPhanSoHoa": row.get("digitized", "0"),
        "TaiKhoanDuocXacThucVoiVNeID": "0",
        "DuocThanhToanTrucTuyen": row.get("payment", "0"),
        "NgayTuChoi": lucene(row.get("rejected")),
        "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": personal["id"]}],
        "NgayNopHoSo": lucene(row.get("submitted")),
        "DSKetNoiCSDL": [{"MaCSDL": "CSDLQGDC"}],
    }
    assert list(item) == list(SYNC_FIELDS)
    return item


def write_sync_envelope(path: Path, rows: list[dict], madonvi: str, personal: dict = PERSONAL) -> Path:
    """The object OpenCPS posts to the portal (S1): session, madonvi, service,
    isUpdating, data."""
    doc = {"session": "f3a1c0de", "madonvi": madonvi, "service": "DongBoHoSoMC", "isUpdating": "False",
           "data": [sync_item(r, personal) for r in rows]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_sync_array(path: Path, rows: list[dict], personal: dict = PERSONAL) -> Path:
    """The bare ``data`` array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([sync_item(r, personal) for r in rows], ensure_ascii=False), encoding="utf-8")
    return path


# ------------------------------------------------------------- S3: Hà Giang HsDongBo

HSDONGBO_FIELDS = (
    "MaHoSo MaTTHC TenTTHC MaLinhVuc TenLinhVuc SoBienNhan ChuHoSo LoaiDoiTuong MaDoiTuong NgayTiepNhan "
    "NgayHenTra TrangThaiHoSo HinhThuc DonViXuLy TaiLieuNop DanhSachGiayToKetQua"
).split()


def write_hagiang(path: Path, rows: list[dict], personal: dict = PERSONAL) -> Path:
    """S3's HsDongBo items as posted (the unit code travels only in the query string,
    ``MaDinhDanhDV=000.00.01.H22``): no NgayKetThucXuLy, no NgayTra; NgayHenTra "";
    HinhThuc "0"; LoaiDoiTuong "1"."""
    items = []
    for r in rows:
        item = {
            "MaHoSo": r["id"], "MaTTHC": r.get("code", "3.000181.000.00.00.H22"),
            "TenTTHC": r.get("name", "Tuyển sinh trung học phổ thông"), "MaLinhVuc": "G03-GD10",
            "TenLinhVuc": "Giáo dục và Đào tạo", "SoBienNhan": r.get("receipt", ""), "ChuHoSo": personal["name"],
            "LoaiDoiTuong": "1", "MaDoiTuong": "", "NgayTiepNhan": lucene(r["received"]), "NgayHenTra": "",
            "TrangThaiHoSo": r["status"], "HinhThuc": "0", "DonViXuLy": "",
            "TaiLieuNop": [{"TenTepDinhKem": f"Học bạ {personal['name']}.pdf"}], "DanhSachGiayToKetQua": [],
        }
        assert list(item) == HSDONGBO_FIELDS
        items.append(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


# ------------------------------------------------------------- HTML saved as .xls

def excel_html(table_inner: str, worksheet: str = "Sheet1") -> str:
    """exportTableToExcel.js (S2f), verbatim: the exported element's innerHTML in an
    Office HTML shell's own ``<table border="1">``, UTF-8 with no charset declared."""
    return (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel" xmlns="http://www.w3.org/TR/REC-html40">'
        "<head><!--[if gte mso 9]><xml><x:ExcelWorkbook><x:ExcelWorksheets>"
        f"<x:ExcelWorksheet><x:Name>{worksheet}</x:Name><x:WorksheetOptions><x:DisplayGridlines/>"
        "</x:WorksheetOptions></x:ExcelWorksheet></x:ExcelWorksheets></x:ExcelWorkbook></xml><![endif]-->"
        f'</head><body><table border="1" style="border-width:1px;">{table_inner}</table></body></html>'
    )


def _td(value: str, **attrs) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<td{extra}>{html.escape(value)}</td>"


def _th(value: str, **attrs) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<th{extra}><strong>{html.escape(value)}</strong></th>"


def ddmmyyyy_hms(value: str | None) -> str:
    """FORMAT_DATE "DD/MM/YYYY HH:mm:ss" (S2f)."""
    return dt.datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M:%S") if value else ""


# The portal's status labels, verbatim (S2c).
STATUS_LABELS = {
    "1": "Mới đăng ký", "2": "Được tiếp nhận", "3": "Không được tiếp nhận", "4": "Đang xử lý",
    "5": "Yêu cầu bổ sung giấy tờ", "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
    "7": "Công dân yêu cầu rút hồ sơ", "8": "Dừng xử lý", "9": "Đã xử lý xong", "10": "Đã trả kết quả",
}

DANH_SACH_HEADER = (
    "STT | Đơn vị tiếp nhận | Tên thủ tục hành chính | Mã hồ sơ | Trạng thái | Địa chỉ | Người nộp | "
    "Chủ hồ sơ | Ngày nộp hồ sơ | Ngày nhận | Ngày hẹn trả | Ngày kết thúc xử lý"
).split(" | ")


CELL = "vertical-align:middle;padding:5px;border:1px solid #333"


def write_danh_sach(path: Path, rows: list[dict], personal: dict = PERSONAL, *, officer: bool = False) -> Path:
    """S2f "Danh sách hồ sơ" (ExcelXuatDanhSachHoSoTheoDoiModal): the button exports
    ``<div id="ContainerSwapper">``, so the shell's table holds the list's own
    ``<table id="danhSachHoSoTable">``: two banner rows (an empty line, an empty
    ``<strong>``), then the header in ``<td><strong>``; status as its label; dates
    DD/MM/YYYY HH:mm:ss. With ``officer``: the sibling "THỐNG KÊ HỒ SƠ TIẾP NHẬN QUÁ
    HẠN" list, which adds ``Người tiếp nhận``, exported as most screens do
    (``downloadPhieuExcel(…, "danhSachHoSoTable")``: the table's innerHTML, so one
    table in the shell)."""
    header = DANH_SACH_HEADER + (["Người tiếp nhận"] if officer else [])
    head = (
        '<thead><tr><td colspan="9" style="vertical-align:middle;padding:5px;font-size:16px"><br></td></tr>'
        '<tr><td colspan="8" style="vertical-align:middle;padding:5px"><strong></strong></td></tr>'
        "<tr>" + "".join(f'<td style="{CELL}"><strong>{html.escape(h)}</strong></td>' for h in header) + "</tr></thead>"
    )
    body = []
    for i, r in enumerate(rows, start=1):
        cells = [str(i), r["unit_name"], r["name"], r["id"], STATUS_LABELS[r["status"]], personal["address"],
                 personal["name"], personal["name"], ddmmyyyy_hms(r.get("submitted")), ddmmyyyy_hms(r.get("received")),
                 ddmmyyyy_hms(r.get("due")), ddmmyyyy_hms(r.get("finished"))]
        if officer:
            cells.append(personal["officer"])
        body.append("<tr>" + "".join(_td(c, style=CELL) for c in cells) + "</tr>")
    inner = head + '<tbody id="data">' + "".join(body) + "</tbody>"
    if not officer:
        inner = ('<table id="danhSachHoSoTable" style="vertical-align:middle;border-collapse:collapse;width:100%;'
                 f'text-align:center;margin:10px 0;font-size:16px;display:none">{inner}</table>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(excel_html(inner, "Danh sách hồ sơ"), encoding="utf-8")
    return path


# ------------------------------------------- S2f overdue list (Phụ lục I), group rows

OVERDUE_HEADER = ["STT", "Mã hồ sơ", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày có kết quả", "Đơn vị giải quyết", "Ghi chú"]


def write_overdue_list(path: Path, groups: dict[str, list[dict]], *, with_procedure: bool = False) -> Path:
    """XuatBaoCaoHoSoQuaHan (S2f): title rows, the header, then per unit a merged
    ``colSpan=7`` group row with the unit's name followed by its late dossiers.
    ``with_procedure`` adds a ``Tên thủ tục hành chính`` column (not in the source:
    the verbatim list has no procedure column at all)."""
    header = OVERDUE_HEADER[:2] + (["Tên thủ tục hành chính"] if with_procedure else []) + OVERDUE_HEADER[2:]
    n = len(header)
    head = (
        f"<tr>{_td('Phụ lục I', colspan=n)}</tr>"
        f"<tr>{_td('DANH SÁCH ĐƠN VỊ, CÁ NHÂN CHẬM TRỄ TRONG VIỆC GIẢI QUYẾT HỒ SƠ TTHC', colspan=n)}</tr>"
        f"<tr>{''.join(_th(h) for h in header)}</tr>"
    )
    body, i = [], 0
    for unit, rows in groups.items():
        body.append(f"<tr>{_td(unit, colspan=n)}</tr>")
        for r in rows:
            i += 1
            cells = [str(i), r["id"]] + ([r["name"]] if with_procedure else []) + [
                ddmmyyyy_hms(r.get("received")), ddmmyyyy_hms(r.get("due")), ddmmyyyy_hms(r.get("finished")),
                r.get("unit_name", ""), ""]
            body.append("<tr>" + "".join(_td(c) for c in cells) + "</tr>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(excel_html(head + "".join(body)), encoding="utf-8")
    return path


# --------------------------------------------------- S2e: "Sổ theo dõi hồ sơ" book

SO_THEO_DOI_TOP = ["STT", "Mã hồ sơ", "Nội dung hồ sơ", "Số lượng \n(bộ)", "Họ tên chủ hồ sơ", "Địa chỉ chủ hồ sơ",
                   "Số điện thoại", "Ngày, tháng, năm", None, "Trả kết quả", None, None, "Người nhận hồ sơ",
                   "Địa bàn phát sinh hồ sơ", "Ghi chú"]
SO_THEO_DOI_LOW = [None] * 7 + ["Nhận hồ sơ", "Hẹn trả kết quả", "Ngày nhận kết quả", "Bên giao (Ký tên)",
                                "Bên nhận (Ký tên)"] + [None] * 3


def time_first(value: str | None) -> str:
    """FORMAT_TIME "HH:mm, DD/MM/YYYY" (S2e): the time comes first."""
    return dt.datetime.fromisoformat(value).strftime("%H:%M, %d/%m/%Y") if value else ""


def write_so_theo_doi(path: Path, rows: list[dict], group_name: str, personal: dict = PERSONAL) -> Path:
    """S2e SoTheoDoiHoSo as an .xlsx: banner (the group's name upper-cased | the
    national motto), title, period, the verbatim two-row header with merged cells;
    dates time first. No procedure, status, channel or unit column."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sổ theo dõi")
    ws.merge_range(0, 0, 0, 6, group_name.upper())
    ws.merge_range(0, 7, 0, 14, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    ws.merge_range(1, 7, 1, 14, "Độc lập - Tự do - Hạnh phúc")
    ws.merge_range(3, 0, 3, 14, "SỔ THEO DÕI TÌNH HÌNH TIẾP NHẬN HỒ SƠ TTHC")
    ws.merge_range(4, 0, 4, 14, "(Từ ngày 01/03/2024 đến ngày 31/03/2024 )")
    top, low = 6, 7
    for c, text in enumerate(SO_THEO_DOI_TOP):
        if text is None:
            continue
        if c in (7, 9):
            ws.merge_range(top, c, top, c + (1 if c == 7 else 2), text)
        else:
            ws.merge_range(top, c, low, c, text)
    for c, text in enumerate(SO_THEO_DOI_LOW):
        if text is not None:
            ws.write(low, c, text)
    for i, r in enumerate(rows, start=1):
        ws.write_row(low + i, 0, [i, r["id"], f"{r.get('name', 'Hồ sơ')} cho {personal['name']}", 1, personal["name"],
                                  personal["address"], personal["phone"], time_first(r.get("received")),
                                  time_first(r.get("due")), time_first(r.get("returned")), "", "",
                                  personal["officer"], "Phường Văn Miếu - Quận Đống Đa - Hà Nội", ""])
    wb.close()
    return path


# ------------------------------- S2e printed list (DanhSachHoSo67134), HTML and BIFF

PRINTED_TOP = ["TT", "Mã hồ sơ", "Tên TTHC", "Tên cá nhân, tổ chức", "Địa chỉ, số điện thoại",
               "Cơ quan chủ trì giải quyết", "Ngày, tháng, năm"]
PRINTED_LOW = ["Nhận hồ sơ", "Hẹn trả kết quả", "Trả kết quả", "Phương thức nhận kết quả", "Ký nhận"]


def _date_only(value: str | None) -> str:
    return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y") if value else ""


def _printed_cells(i: int, r: dict, personal: dict) -> list[str]:
    return [str(i), r["id"], r["name"], personal["name"], f"{personal['address']}, {personal['phone']}",
            r["unit_name"], r.get("received_text") or _date_only(r.get("received")), _date_only(r.get("due")),
            _date_only(r.get("returned")), "Trực tiếp", ""]


def write_printed_list_html(path: Path, rows: list[dict], personal: dict = PERSONAL, banner: tuple[str, ...] = ()) -> Path:
    """The printed list: 6 columns merged over two rows, ``Ngày, tháng, năm`` over
    five, then the column-number row 1 … 11; dates date only."""
    head = "".join(f"<tr>{_td(b, colspan=11)}</tr>" for b in banner)
    head += "<tr>" + "".join(_th(h, rowspan=2) for h in PRINTED_TOP[:-1]) + _th(PRINTED_TOP[-1], colspan=5) + "</tr>"
    head += "<tr>" + "".join(_th(h) for h in PRINTED_LOW) + "</tr>"
    head += "<tr>" + "".join(_td(str(n)) for n in range(1, 12)) + "</tr>"
    body = "".join("<tr>" + "".join(_td(c) for c in _printed_cells(i, r, personal)) + "</tr>" for i, r in enumerate(rows, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(excel_html(head + body), encoding="utf-8")
    return path


def write_printed_list_xls(path: Path, rows: list[dict], personal: dict = PERSONAL, banner: tuple[str, ...] = ()) -> Path:
    """The same list as a real binary .xls (BIFF), merged cells as Excel keeps them."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Danh sách")
    r0 = 0
    for b in banner:
        ws.write_merge(r0, r0, 0, 10, b)
        r0 += 1
    for c, h in enumerate(PRINTED_TOP[:-1]):
        ws.write_merge(r0, r0 + 1, c, c, h)
    ws.write_merge(r0, r0, 6, 10, PRINTED_TOP[-1])
    for c, h in enumerate(PRINTED_LOW, start=6):
        ws.write(r0 + 1, c, h)
    for c in range(11):
        ws.write(r0 + 2, c, c + 1)
    for i, r in enumerate(rows, start=1):
        for c, v in enumerate(_printed_cells(i, r, personal)):
            ws.write(r0 + 2 + i, c, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path
