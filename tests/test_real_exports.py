"""Real exports (dossier-log.md, "Real exports"): files in each shape of
../shared/research/real-exports.md, written by tests/real_shapes.py from the quoted
sources, read and ingested with no hand-editing. Expected values are worked out by
hand in the comments beside the rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests import real_shapes as rs
from transforms.classify import derive_missing_due, load_catalogue
from transforms.calendar import working_calendar
from transforms.ingest import ingest_files
from transforms.readers import UnusableFile, load_mapping, read_table
from transforms.units import load_registry

NOW = dt.datetime(2024, 4, 15, 12, 0)

# ------------------------------------------------------------------ the dossiers

# S1/S2a sync payload in its envelope, madonvi = Phường Vạn Phúc's agency code.
SYNC_ENVELOPE = [
    # unit by the id prefix (agency code of Vạn Phúc); finished 08/03 before the due
    # date 11/03: early. Paid on the portal (1): fee and paid online.
    dict(id="000.12.20.H26-240304-0001", received="2024-03-04T08:30:00", due="2024-03-11T17:00:00", status="10",
         finished="2024-03-08T10:00:00", returned="2024-03-08T15:00:00", channel="2", payment="1", digitized="1"),
    # unit by DonViXuLy (a name); pending here, finished in the later file (on time)
    dict(id="000.12.20.H26-240305-0002", received="2024-03-05T09:00:00", due="2024-03-07T17:00:00", status="4",
         unit_name="UBND phường Vạn Phúc", channel="1", payment="3"),
    # the prefix names Quận Hà Đông: it comes before the envelope's madonvi; HinhThuc
    # "1" (result by post) is not the channel, which stays unknown
    dict(id="000.00.20.H26-240306-0003", received="2024-03-06T08:00:00", due="2024-03-14T17:00:00", status="9",
         finished="2024-03-15T16:00:00", channel="", how_returned="1"),
    # no unit in the item, no known prefix: the envelope's madonvi (Vạn Phúc); refused
    dict(id="HS-240307-0004", received="2024-03-07T08:00:00", status="3", rejected="2024-03-07T10:00:00",
         channel="1", payment="0"),
    dict(id="000.12.20.H26-240308-0005", received="20240230", status="2"),  # 30/02: bad_date
    dict(id="000.12.20.H26-240309-0006", received="2024-03-09T08:00:00", status="10"),  # finished_no_end
    dict(id="", received="2024-03-10T08:00:00", status="2"),  # missing_id
]
# The bare data array, a later sync: 0002 finished on its due day (on time).
SYNC_ARRAY = [
    dict(id="000.12.20.H26-240305-0002", received="2024-03-05T09:00:00", due="2024-03-07T17:00:00", status="10",
         finished="2024-03-07T16:00:00", returned="2024-03-08T08:00:00", unit_name="UBND phường Vạn Phúc",
         channel="1", payment="3"),
    # Quốc Tử Giám by prefix; due a date (yyyyMMdd) before the end of March: pending overdue
    dict(id="000.21.06.H26-240311-0009", received="2024-03-11T08:00:00", due="20240329", status="2"),
    dict(id="X-240312-0010", received="2024-03-12T08:00:00", status="2", unit_name="Phường Không Có"),  # unknown_unit
]

# S3 Hà Giang: the unit only in the request's query string -> the vendor's mapping.
HAGIANG_1 = [
    dict(id="TS2024-0001", received="2024-03-04T08:00:00", status="1", receipt="BN-1"),  # later "2": superseded
    dict(id="TS2024-0002", received="2024-03-05T08:00:00", status="3"),  # refused at the counter: rejected
    dict(id="TS2024-0003", received="2024-03-06T08:00:00", status="10"),  # no NgayTra: finished_no_end
]
HAGIANG_2 = [dict(id="TS2024-0001", received="2024-03-04T08:00:00", status="2")]  # same times: status 2 wins
HAGIANG_MAPPING = 'files: ["hagiang/*"]\nunit: "000.00.01.H22"  # MaDinhDanhDV of the query string\n'

# S2f "Danh sách hồ sơ" (HTML saved as .xls), Phường Quốc Tử Giám.
DANH_SACH = [
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký khai sinh", id="QTG-1", status="10", submitted="2024-03-01T07:50:00",
         received="2024-03-01T08:00:00", due="2024-03-05T17:00:00", finished="2024-03-05T16:00:00"),  # on time
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký kết hôn", id="QTG-2", status="4",
         received="2024-03-04T09:00:00", due="2024-03-06T17:00:00"),  # pending overdue
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký khai sinh", id="QTG-3", status="3",
         received="2024-03-05T10:00:00"),  # rejected at receipt
    dict(unit_name="Phường Quốc Tử Giám", name="Chứng thực chữ ký", id="QTG-4", status="5",
         received="2024-03-06T08:00:00", due="2024-03-20T17:00:00"),  # waiting for documents, past due: pending overdue
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký kết hôn", id="QTG-5", status="9",
         received="2024-03-07T08:00:00", due="2024-03-08T17:00:00", finished="2024-03-11T09:00:00"),  # overdue
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký khai sinh", id="QTG-6", status="7",
         received="2024-03-08T08:00:00", finished="2024-03-09T08:00:00"),  # withdrawn: rejected
    dict(unit_name="Phường Quốc Tử Giám", name="Cấp bản sao trích lục", id="QTG-7", status="6",
         received="2024-03-11T08:00:00", due="2024-04-30T17:00:00"),  # pending, not due
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký khai sinh", id="QTG-8", status="2",
         received="2024-05-01T08:00:00"),  # future_date
    dict(unit_name="Phường Quốc Tử Giám", name="Đăng ký khai sinh", id="QTG-9", status="10",
         received="2024-03-12T10:00:00", finished="2024-03-11T10:00:00"),  # chronology
]

# S2e printed list (DanhSachHoSo67134): no status, no procedure code; unit column.
PRINTED = [
    dict(id="000.20.06.H26-240304-0001", name="Chứng thực bản sao từ bản chính", unit_name="UBND phường Văn Miếu",
         received="2024-03-04", due="2024-03-05", returned="2024-03-05"),  # returned on the due day: on time
    dict(id="000.20.06.H26-240305-0002", name="Chứng thực bản sao từ bản chính", unit_name="UBND phường Văn Miếu",
         received="2024-03-05", due="2024-03-07", returned="2024-03-12"),  # overdue
    dict(id="000.20.06.H26-240306-0003", name="Đăng ký khai tử", unit_name="UBND phường Văn Miếu",
         received="2024-03-06", due="2024-03-08", returned="2024-03-07"),  # early
    dict(id="000.20.06.H26-240325-0004", name="Đăng ký khai tử", unit_name="UBND phường Văn Miếu",
         received="2024-03-25", due="2024-04-10"),  # pending, due in April
    dict(id="000.20.06.H26-240301-0005", name="Chứng thực bản sao từ bản chính", unit_name="UBND phường Văn Miếu",
         received="2024-03-01", due="2024-03-04"),  # pending overdue
    dict(id="000.20.06.H26-240302-0006", name="Đăng ký khai tử", unit_name="UBND phường Văn Miếu",
         received_text="31/02/2024", due="2024-03-04"),  # bad_date
]
PRINTED_BANNER = ("UBND PHƯỜNG VĂN MIẾU", "DANH SÁCH HỒ SƠ TIẾP NHẬN")

# S2e "Sổ theo dõi hồ sơ", its header verbatim: no procedure column.
SO_THEO_DOI = [dict(id="000.20.06.H26-240304-0101", received="2024-03-04T08:30:00", due="2024-03-05T17:00:00",
                    returned="2024-03-05T16:00:00")]

# S2f overdue list (Phụ lục I): group rows name the unit of the rows below them.
OVERDUE = {
    "UBND Phường Văn Miếu": [
        dict(id="PL-1", name="Đăng ký khai tử", received="2024-03-01T08:00:00", due="2024-03-04T17:00:00",
             finished="2024-03-06T08:00:00"),
        dict(id="PL-2", name="Đăng ký khai tử", received="2024-03-02T08:00:00", due="2024-03-05T17:00:00",
             finished="2024-03-07T08:00:00", unit_name="Phường Quốc Tử Giám"),  # its own unit column wins
    ],
    "UBND Phường Vạn Phúc": [
        dict(id="PL-3", name="Chứng thực chữ ký", received="2024-03-03T08:00:00", due="2024-03-05T17:00:00",
             finished="2024-03-08T08:00:00"),
    ],
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> pl.DataFrame:
    return load_registry(rs.write_registry(tmp_path_factory.mktemp("reg") / "units.csv"))


def ingest(paths: list[tuple[Path, str]], registry, **kw):
    return ingest_files(paths, registry, now=NOW, **kw)


def by_id(result) -> dict[str, dict]:
    return {r["dossier_id"]: r for r in result.accepted.iter_rows(named=True)}


def reasons(result) -> dict:
    return dict(zip(result.quarantine["dossier_id"].to_list(), result.quarantine["reason"].to_list()))


# ------------------------------------------------------------- national sync (S1/S2)


def test_the_sync_envelope_is_read_as_the_table_of_its_data(tmp_path):
    path = rs.write_sync_envelope(tmp_path / "dongbo.json", SYNC_ENVELOPE, "000.12.20.H26")
    raw = read_table(path)
    assert raw.format == "json" and raw.rows_read == 7
    assert raw.unit_hints == ["000.12.20.H26"] and raw.unit_declared and raw.unit_missing is None
    # nested lists, personal fields and HinhThuc are dropped by name
    for name in ("TaiLieuNop", "DanhSachLePhi", "DinhDanhCHS", "DSKetNoiCSDL", "ChuHoSo", "SoGiayToChuHoSo",
                 "TrichYeuHoSo", "Email", "SoDienThoai", "HinhThuc", "ThongTinKhac"):
        assert name in raw.dropped_columns, name
    assert "channel" in raw.frame.columns and raw.columns["channel"] == ["KenhThucHien"]
    assert raw.columns["payment_code"] == ["DuocThanhToanTrucTuyen"]
    row = raw.frame.row(0, named=True)
    assert row["received_at"] == "20240304083000" and row["status"] == "10" and row["unit_name"] is None  # "" is missing


def test_a_sync_with_nothing_to_send_is_read_with_no_row(tmp_path, registry):
    """A unit's sync on a day with no dossier sends its envelope with an empty `data`
    (or a bare empty array): read, with no row, as a CSV export that has only its
    header; not set aside as a file with no header. Beside another file, that file's
    rows load as they would alone."""
    envelope = rs.write_sync_envelope(tmp_path / "dongbo_trong.json", [], "000.12.20.H26")
    assert __import__("json").loads(envelope.read_text(encoding="utf-8"))["data"] == []
    bare = tmp_path / "mang_trong.json"
    bare.write_text("[]", encoding="utf-8")
    full = rs.write_sync_envelope(tmp_path / "dongbo.json", SYNC_ENVELOPE, "000.12.20.H26")
    alone = ingest([(full, full.name)], registry)[0]
    results = ingest([(envelope, envelope.name), (bare, bare.name), (full, full.name)], registry)
    assert [(r.status, r.rows_read, r.accepted.height) for r in results[:2]] == [("loaded", 0, 0)] * 2
    assert results[2].accepted.drop("__file", strict=False).equals(alone.accepted.drop("__file", strict=False))


def test_sync_items_resolve_their_unit_in_the_spec_order(tmp_path, registry):
    env = rs.write_sync_envelope(tmp_path / "dvcqg" / "dongbo_1.json", SYNC_ENVELOPE, "000.12.20.H26")
    arr = rs.write_sync_array(tmp_path / "dvcqg" / "dongbo_2.json", SYNC_ARRAY)
    first, second = ingest([(env, "dvcqg/dongbo_1.json"), (arr, "dvcqg/dongbo_2.json")], registry)
    assert first.status == second.status == "loaded"
    got = by_id(first)
    assert {k: v["unit_code"] for k, v in got.items()} == {
        "000.12.20.H26-240304-0001": "09552",  # id prefix
        "000.12.20.H26-240305-0002": "09552",  # DonViXuLy
        "000.00.20.H26-240306-0003": "020",  # id prefix before the envelope
        "HS-240307-0004": "09552",  # envelope madonvi
    }
    assert reasons(first) == {"000.12.20.H26-240308-0005": "bad_date", "000.12.20.H26-240309-0006": "finished_no_end",
                              None: "missing_id"}
    assert first.rows_read == 7 == first.rows_accepted + first.rows_quarantined
    s1 = got["000.12.20.H26-240304-0001"]
    assert s1["received_at"] == dt.datetime(2024, 3, 4, 8, 30) and s1["finished_at"] == dt.datetime(2024, 3, 8, 10)
    assert (s1["channel"], s1["fee_required"], s1["paid_online"], s1["digitized"]) == (2, True, True, True)
    s2 = got["000.12.20.H26-240305-0002"]
    assert (s2["fee_required"], s2["paid_online"]) == (True, False)  # 3: a fee, not paid online
    assert got["000.00.20.H26-240306-0003"]["channel"] is None  # HinhThuc is not the channel
    s4 = got["HS-240307-0004"]
    assert (s4["fee_required"], s4["paid_online"], s4["status"]) == (None, False, 3)  # 0: fee unknown
    assert by_id(second)["000.21.06.H26-240311-0009"]["unit_code"] == "00232"
    assert by_id(second)["000.21.06.H26-240311-0009"]["due_at"] == dt.datetime(2024, 3, 29)
    assert reasons(second) == {"X-240312-0010": "unknown_unit"}


# ---------------------------------------------------------------- S3 and mappings


def test_a_payload_whose_unit_is_only_in_the_query_string_needs_its_mapping(tmp_path, registry):
    path = rs.write_hagiang(tmp_path / "hagiang" / "dongbo_1.json", HAGIANG_1)
    alone = ingest([(path, "hagiang/dongbo_1.json")], registry)[0]
    # DonViXuLy is there but empty, the ids carry no agency code: no row names its unit
    assert alone.status == "loaded" and alone.rows_accepted == 0
    assert set(reasons(alone).values()) == {"missing_field"}
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "hagiang.yaml").write_text(HAGIANG_MAPPING, encoding="utf-8")
    vendor = load_mapping(tmp_path / "mappings" / "hagiang.yaml")
    later = rs.write_hagiang(tmp_path / "hagiang" / "dongbo_2.json", HAGIANG_2)
    first, second = ingest([(path, "hagiang/dongbo_1.json"), (later, "hagiang/dongbo_2.json")], registry, mappings=[vendor])
    assert {r["dossier_id"]: (r["unit_code"], r["status"], r["procedure_code"]) for r in first.accepted.iter_rows(named=True)} == {
        "TS2024-0001": ("S01", 1, "3.000181.000.00.00.H22"),
        "TS2024-0002": ("S01", 3, "3.000181.000.00.00.H22"),
    }
    assert reasons(first) == {"TS2024-0003": "finished_no_end"}
    assert by_id(second)["TS2024-0001"]["status"] == 2
    from transforms.dedup import select_latest

    winners, superseded = select_latest(pl.concat([first.accepted, second.accepted]))
    assert winners.filter(pl.col("dossier_id") == "TS2024-0001")["source_file"].item() == "hagiang/dongbo_2.json"
    assert superseded.rows() == [("TS2024-0001", "hagiang/dongbo_1.json", 1)]


# ------------------------------------------------------------ HTML saved as .xls


def test_the_danh_sach_export_is_an_html_table_read_as_one(tmp_path, registry):
    path = rs.write_danh_sach(tmp_path / "Danh sách hồ sơ 5_3_2024 9_05.xls", DANH_SACH, officer=True)
    assert path.read_bytes().startswith(b"<html xmlns:o=")
    res = ingest([(path, path.name)], registry)[0]
    assert res.status == "loaded" and res.format == "html" and res.rows_read == 9
    assert "Người tiếp nhận" in res.dropped_columns and "Người nộp" in res.dropped_columns
    got = by_id(res)
    assert {k: v["status"] for k, v in got.items()} == {
        "QTG-1": 10, "QTG-2": 4, "QTG-3": 3, "QTG-4": 5, "QTG-5": 9, "QTG-6": 7, "QTG-7": 6}
    assert {v["unit_code"] for v in got.values()} == {"00232"}
    assert got["QTG-1"]["finished_at"] == dt.datetime(2024, 3, 5, 16) and got["QTG-1"]["submitted_at"] == dt.datetime(2024, 3, 1, 7, 50)
    assert got["QTG-1"]["procedure_code"] == "dang_ky_khai_sinh"  # keyed by its name
    assert reasons(res) == {"QTG-8": "future_date", "QTG-9": "chronology"}


def test_the_list_exported_with_the_div_around_it_is_a_table_in_a_table(tmp_path, registry):
    """ExcelXuatDanhSachHoSoTheoDoiModal's button exports ``#ContainerSwapper``, the
    <div> around the list: the shell's table then holds the list's own table, and the
    shell's table has no row of its own. Its dossiers read as the table's would."""
    nested = rs.write_danh_sach(tmp_path / "Danh sách hồ sơ 12_3_2024 14:5.xls", DANH_SACH)
    assert nested.read_text(encoding="utf-8").count("<table") == 2
    res = ingest([(nested, nested.name)], registry)[0]
    assert res.status == "loaded" and res.format == "html" and res.rows_read == 9
    got = by_id(res)
    assert {k: v["status"] for k, v in got.items()} == {
        "QTG-1": 10, "QTG-2": 4, "QTG-3": 3, "QTG-4": 5, "QTG-5": 9, "QTG-6": 7, "QTG-7": 6}
    assert got["QTG-1"]["finished_at"] == dt.datetime(2024, 3, 5, 16)
    assert reasons(res) == {"QTG-8": "future_date", "QTG-9": "chronology"}


@pytest.mark.parametrize("name", ["danh_sach.xls", "danh_sach.html", "danh_sach.txt", "danh_sach"])
def test_the_format_is_decided_by_content_not_by_name(tmp_path, name):
    path = rs.write_danh_sach(tmp_path / name, DANH_SACH[:2])
    raw = read_table(path)
    assert raw.format == "html" and raw.frame["dossier_id"].to_list() == ["QTG-1", "QTG-2"]


def test_a_sync_payload_named_like_a_spreadsheet_is_still_json(tmp_path):
    raw = read_table(rs.write_sync_array(tmp_path / "dongbo.xls", SYNC_ARRAY))
    assert raw.format == "json" and raw.rows_read == 3


def test_the_printed_list_reads_alike_as_html_and_as_binary_xls(tmp_path):
    """Two merged header rows matched on the lowest row (``Nhận hồ sơ`` under
    ``Ngày, tháng, năm``), then on the joined rows (``Ngày, tháng, năm`` +
    ``Trả kết quả``); the column-number row 1 … 11 is not a dossier."""
    as_html = read_table(rs.write_printed_list_html(tmp_path / "ds.xls", PRINTED, banner=PRINTED_BANNER))
    as_biff = read_table(rs.write_printed_list_xls(tmp_path / "ds_biff.xls", PRINTED, banner=PRINTED_BANNER))
    assert (as_html.format, as_biff.format) == ("html", "xls")
    assert as_html.frame.equals(as_biff.frame)
    assert as_html.rows_read == 6 and as_html.frame["source_row"].to_list() == [2, 3, 4, 5, 6, 7]
    assert as_html.columns["returned_at"] == ["Ngày, tháng, năm Trả kết quả"]
    assert as_html.columns["received_at"] == ["Nhận hồ sơ"] and as_html.columns["unit_name"] == ["Cơ quan chủ trì giải quyết"]
    # how the result is handed over is not the channel
    assert "channel" not in as_html.frame.columns
    assert as_html.unit_hints == list(PRINTED_BANNER) == as_biff.unit_hints


@pytest.mark.parametrize("name", ["ds.xlsx", "ds.xlsm", "ds.ods", "ds"])
def test_a_binary_workbook_named_as_another_kind_is_read_by_its_content(tmp_path, name):
    """calamine picks its parser by a path's extension; the format is the content's."""
    as_xls = read_table(rs.write_printed_list_xls(tmp_path / "ds.xls", PRINTED, banner=PRINTED_BANNER))
    renamed = tmp_path / "renamed" / name
    renamed.parent.mkdir()
    (tmp_path / "ds.xls").rename(renamed)
    got = read_table(renamed)
    assert got.format == "xls" and got.frame.equals(as_xls.frame)


@pytest.mark.parametrize("name", ["so.xls", "so.ods", "so.xlsb"])
def test_an_ooxml_workbook_named_as_another_kind_is_read_by_its_content(tmp_path, name):
    """Read, not "corrupt": the book is set aside for what it lacks, as under its own name."""
    path = rs.write_so_theo_doi(tmp_path / name, SO_THEO_DOI, "UBND Phường Văn Miếu")
    with pytest.raises(UnusableFile) as info:
        read_table(path)
    assert info.value.missing_fields == ["procedure_code or procedure_name"], str(info.value)


def test_the_printed_list_is_classified_from_its_dates(tmp_path, registry):
    path = rs.write_printed_list_xls(tmp_path / "ds.xls", PRINTED, banner=PRINTED_BANNER)
    res = ingest([(path, "ds.xls")], registry)[0]
    got = by_id(res)
    assert {v["unit_code"] for v in got.values()} == {"00229"} and len(got) == 5
    assert {v["status"] for v in got.values()} == {None}
    assert got["000.20.06.H26-240304-0001"]["procedure_code"] == "chung_thuc_ban_sao_tu_ban_chinh"
    assert got["000.20.06.H26-240304-0001"]["returned_at"] == dt.datetime(2024, 3, 5)
    assert reasons(res) == {"000.20.06.H26-240302-0006": "bad_date"}


# ---------------------------------------------------------- shapes with no procedure


def test_the_so_theo_doi_book_verbatim_has_no_procedure_column_and_is_set_aside(tmp_path, registry):
    """S2e's book has no procedure code or name ("Nội dung hồ sơ" is a free-text
    summary, never read): the spec sets such a file aside. Everything else of its
    header is recognised (two merged rows, the unit in the banner)."""
    path = rs.write_so_theo_doi(tmp_path / "Sổ theo dõi hồ sơ_2024_04_01_09_30.xlsx", SO_THEO_DOI, "UBND Phường Văn Miếu")
    with pytest.raises(UnusableFile) as info:
        read_table(path)
    assert info.value.missing_fields == ["procedure_code or procedure_name"]
    res = ingest([(path, path.name)], registry)[0]
    assert res.status == "rejected" and "no column for: procedure_code or procedure_name" in res.message
    for value in rs.PERSONAL.values():
        assert value not in res.message


def test_the_overdue_list_verbatim_is_set_aside_for_its_missing_procedure(tmp_path, registry):
    path = rs.write_overdue_list(tmp_path / "qua_han.xls", OVERDUE)
    res = ingest([(path, "qua_han.xls")], registry)[0]
    assert res.status == "rejected" and res.missing_fields == ["procedure_code or procedure_name"]


def test_group_rows_name_the_unit_of_the_rows_below_them(tmp_path, registry):
    """The overdue list's merged colSpan rows: not dossiers (not counted as rows
    read), and the unit of the rows under them that name none."""
    path = rs.write_overdue_list(tmp_path / "qua_han.xls", OVERDUE, with_procedure=True)
    raw = read_table(path)
    assert raw.rows_read == 3 and raw.frame["source_row"].to_list() == [2, 3, 5]
    res = ingest([(path, "qua_han.xls")], registry)[0]
    assert {k: v["unit_code"] for k, v in by_id(res).items()} == {"PL-1": "00229", "PL-2": "00232", "PL-3": "09552"}
    assert res.rows_read == 3 == res.rows_accepted


# ------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text,expected",
    [
        ("20240304083015", dt.datetime(2024, 3, 4, 8, 30, 15)),
        ("20240304", dt.datetime(2024, 3, 4)),
        ("08:30, 04/03/2024", dt.datetime(2024, 3, 4, 8, 30)),
        ("08:30:15, 04/03/2024", dt.datetime(2024, 3, 4, 8, 30, 15)),
        ("08:30 04/03/2024", dt.datetime(2024, 3, 4, 8, 30)),
        ("08:30:15 04/03/2024", dt.datetime(2024, 3, 4, 8, 30, 15)),
    ],
)
def test_the_date_forms_of_real_exports(text, expected):
    from transforms.normalise import normalise

    out, _ = normalise(pl.DataFrame({"received_at": [text] * 3}))  # the fast path and the general parser
    assert out["received_at"].to_list() == [expected] * 3
    single, _ = normalise(pl.DataFrame({"received_at": [text, "hôm qua"]}))
    assert single["received_at"].to_list() == [expected, None]


@pytest.mark.parametrize("text", ["2024030", "202403041", "20240230", "20241304083000", "2024030408301"])
def test_digit_dates_of_the_wrong_length_or_day_are_bad(text):
    from transforms.normalise import BAD_DATE, normalise

    out, _ = normalise(pl.DataFrame({"received_at": [text]}))
    assert out["received_at"].to_list() == [None] and out[BAD_DATE].to_list() == [True]


def test_a_vendors_z_is_local_time_only_where_its_mapping_says_so(tmp_path, registry):
    path = tmp_path / "cong_x" / "export.csv"
    path.parent.mkdir()
    path.write_text("Mã hồ sơ,Đơn vị tiếp nhận,Tên TTHC,Ngày tiếp nhận\nZ-1,Phường Văn Miếu,Đăng ký khai tử,2024-03-04T08:30:00.000Z\n",
                    encoding="utf-8")
    utc = ingest([(path, "cong_x/export.csv")], registry)[0]
    assert by_id(utc)["Z-1"]["received_at"] == dt.datetime(2024, 3, 4, 15, 30)  # a true Z: UTC
    (tmp_path / "cong_x.yaml").write_text("z_means_local: true\n", encoding="utf-8")
    local = ingest([(path, "cong_x/export.csv")], registry, mappings=[load_mapping(tmp_path / "cong_x.yaml")])[0]
    assert by_id(local)["Z-1"]["received_at"] == dt.datetime(2024, 3, 4, 8, 30)


# ------------------------------------------------------------------ procedure keys


def test_a_catalogue_gives_a_due_date_to_a_procedure_known_by_name(tmp_path):
    cat = tmp_path / "procedures.csv"
    cat.write_text("procedure_code,procedure_name,processing_days\n1.000656,Đăng ký khai tử,3\n", encoding="utf-8")
    catalogue = load_catalogue(cat)
    assert catalogue.rows() == [("1.000656", 3), ("dang_ky_khai_tu", 3)]
    dossiers = pl.DataFrame(
        {"procedure_code": ["dang_ky_khai_tu", "1.000656", "khac"], "received_at": [dt.datetime(2024, 3, 1, 9)] * 3,
         "due_at": [None, None, None]},
        schema={"procedure_code": pl.Utf8, "received_at": pl.Datetime("us"), "due_at": pl.Datetime("us")},
    )
    cal = working_calendar(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    # Friday 01/03 + 3 working days = Wednesday 06/03
    assert derive_missing_due(dossiers, catalogue, cal)["due_at"].to_list() == [
        dt.datetime(2024, 3, 6), dt.datetime(2024, 3, 6), None]


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("trang.xls", b"<html><body><p>Kh\xc3\xb4ng c\xc3\xb3 d\xe1\xbb\xaf li\xe1\xbb\x87u</p></body></html>", "no table in the HTML page"),
        ("rong.html", b"<html><body><table><tr><td>Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b Kh\xc3\xa1c</td></tr></table></body></html>",
         "no table of the HTML page has a recognisable header row"),
        ("hong.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "not a readable spreadsheet"),
        ("so.xls", b"%PDF-1.4 \x00\x01", "not a table: the content is a PDF document"),
    ],
)
def test_unusable_html_and_xls_files_say_why_in_one_sentence(tmp_path, registry, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    res = ingest([(path, name)], registry)[0]
    assert res.status == "rejected" and res.message.startswith(f"{name}: {reason}")
    assert "Khác" not in res.message
