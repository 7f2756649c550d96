"""Per-source mappings and the unit evidence of a file (dossier-log.md, Real exports):
a vendor we have never seen is supported by writing one small file, never by
changing code; a wrong mapping file fails with one sentence naming the file, the
line and the problem; a file names its unit by its ids, its banner or nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests import real_shapes as rs
from transforms.ingest import ingest_files
from transforms.readers import MappingError, load_mapping, load_mappings, read_table
from transforms.units import load_registry

NOW = dt.datetime(2024, 4, 15, 12, 0)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> pl.DataFrame:
    return load_registry(rs.write_registry(tmp_path_factory.mktemp("reg") / "units.csv"))


def by_id(result) -> dict[str, dict]:
    return {r["dossier_id"]: r for r in result.accepted.iter_rows(named=True)}


# --------------------------------------------------------- a new vendor, by a file


# S6: the OEP naming family (org.oep.cmon.dao.hosohcc, HoSoTTHCCong), the field names
# verbatim. What is *not* in the source, and is what a data engineer would find
# out from the vendor and write down: its TrangThaiHoSo integer codes, that its
# dump holds one agency's dossiers and names it nowhere, that its times end in a
# "Z" that is local time. (The codes below are this test's vendor's.)
OEP_HEADER = ["MaSoHoSo", "NgayNopHoSo", "NgayNhanHoSo", "TenCoQuanTiepNhan", "TenThuTucHanhChinh",
              "NgayHenTraKetQua", "NgayTraKetQua", "TenCanBoTiepNhan", "HoTenNguoiNopHoSo",
              "DiaChiThuongTruNguoiNop", "SoDienThoaiCoDinhNguoiNop", "HoTenNguoiNhanKetQua", "TrangThaiHoSo",
              "NgayKetThucXuLy", "LoaiHoSo"]
OEP_ROWS = [
    # MaSoHoSo, submitted, received, agency, procedure, due, returned, status (vendor code), finished
    ("OEP-0001", "2024-03-04T08:20:00.000Z", "2024-03-04T08:30:00.000Z", "", "Cấp giấy phép xây dựng",
     "2024-03-18T17:00:00.000Z", "2024-03-15T09:00:00.000Z", "6", "2024-03-14T16:00:00.000Z"),  # early
    ("OEP-0002", "", "2024-03-05T10:00:00.000Z", "", "Cấp giấy phép xây dựng",
     "2024-03-12T17:00:00.000Z", "", "2", ""),  # processing, past due: pending overdue
    ("OEP-0003", "", "2024-03-06T10:00:00.000Z", "", "Cấp giấy phép xây dựng", "", "", "9", "2024-03-06T11:00:00.000Z"),  # refused
]
OEP_MAPPING = """\
# OEP one-stop (HoSoTTHCCong dump) of Phường Văn Miếu
files: ["oep/*.csv"]
columns:
  LoaiHoSo: ignore
values:
  status:            # the vendor's TrangThaiHoSo -> the portal's codes
    "1": 1           # chờ tiếp nhận
    "2": 4           # đang xử lý
    "6": 10          # đã trả kết quả
    "9": 3           # từ chối
unit: "000.20.06.H26"
z_means_local: true
"""


def write_oep(path: Path) -> Path:
    p = rs.PERSONAL
    lines = [",".join(OEP_HEADER)]
    for r in OEP_ROWS:
        cells = list(r[:7]) + [p["officer"], p["name"], f'"{p["address"]}"', p["phone"], p["name"], r[7], r[8], "1"]
        lines.append(",".join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_oep_family_is_supported_by_a_mapping_file_alone(tmp_path, registry):
    data = write_oep(tmp_path / "landing" / "oep" / "hoso_2024_03.csv")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "oep.yaml").write_text(OEP_MAPPING, encoding="utf-8")
    # Without the mapping the file is not usable: OEP names the agency nowhere here.
    alone = ingest_files([(data, "oep/hoso_2024_03.csv")], registry, now=NOW)[0]
    assert alone.status == "loaded" and alone.rows_accepted == 0
    # With it, every row is right.
    mappings = load_mappings(tmp_path / "mappings")
    res = ingest_files([(data, "oep/hoso_2024_03.csv")], registry, now=NOW, mappings=mappings)[0]
    got = by_id(res)
    assert res.rows_read == 3 == res.rows_accepted
    assert {k: (v["unit_code"], v["status"]) for k, v in got.items()} == {
        "OEP-0001": ("00229", 10), "OEP-0002": ("00229", 4), "OEP-0003": ("00229", 3)}
    assert got["OEP-0001"]["received_at"] == dt.datetime(2024, 3, 4, 8, 30)  # Z read as local time
    assert got["OEP-0001"]["returned_at"] == dt.datetime(2024, 3, 15, 9)
    assert got["OEP-0001"]["procedure_code"] == "cap_giay_phep_xay_dung"
    for personal in ("TenCanBoTiepNhan", "HoTenNguoiNopHoSo", "DiaChiThuongTruNguoiNop", "SoDienThoaiCoDinhNguoiNop",
                     "HoTenNguoiNhanKetQua", "LoaiHoSo"):
        assert personal in res.dropped_columns
    text = res.accepted.write_csv() + res.quarantine.write_csv()
    assert not any(v in text for v in rs.PERSONAL.values())


def test_a_vendor_with_headers_we_have_never_seen(tmp_path, registry):
    data = tmp_path / "landing" / "cong_moi" / "xuat.csv"
    data.parent.mkdir(parents=True)
    data.write_text(
        "Số thứ tự;Số ĐK;Nơi xử lý;Loại việc;Lúc nhận;Hạn;Xong lúc;Tình hình;Qua mạng\n"
        "1;CM-1;P. Quốc Tử Giám;Đăng ký khai sinh;04/03/2024 08:00;06/03/2024 17:00;06/03/2024 09:00;Xong;Có\n"
        "2;CM-2;P. Quốc Tử Giám;Đăng ký khai sinh;05/03/2024 08:00;07/03/2024 17:00;;Chờ;Không\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "cong_moi.csv"
    mapping.write_text("alias,field\nSố ĐK,dossier_id\nNơi xử lý,unit_name\nLoại việc,procedure_name\n"
                       "Lúc nhận,received_at\nHạn,due_at\nXong lúc,finished_at\n", encoding="utf-8")
    yaml = tmp_path / "cong_moi.yaml"
    yaml.write_text(
        "columns:\n  Số ĐK: dossier_id\n  Nơi xử lý: unit_name\n  Loại việc: procedure_name\n  Lúc nhận: received_at\n"
        "  Hạn: due_at\n  Xong lúc: finished_at\n  Tình hình: status\n  Qua mạng: channel\n"
        "values:\n  status: {Xong: 9, Chờ: 2}\n  channel: {Có: 2, Không: 1}\n",
        encoding="utf-8",
    )
    assert ingest_files([(data, "cong_moi/xuat.csv")], registry, now=NOW)[0].status == "rejected"
    by_csv = by_id(ingest_files([(data, "cong_moi/xuat.csv")], registry, now=NOW, mappings=[load_mapping(mapping)])[0])
    assert by_csv["CM-1"]["unit_code"] == "00232" and by_csv["CM-1"]["status"] is None
    by_yaml = by_id(ingest_files([(data, "cong_moi/xuat.csv")], registry, now=NOW, mappings=[load_mapping(yaml)])[0])
    assert {k: (v["status"], v["channel"]) for k, v in by_yaml.items()} == {"CM-1": (9, 2), "CM-2": (2, 1)}


# ------------------------------------------------------------- wrong mapping files


@pytest.mark.parametrize(
    "name,text,line,problem",
    [
        ("a.yaml", "columns:\n  Số ĐK: dossier_id\n  Nhận: ngay_nhan\n", 3, "'ngay_nhan' (for the column 'Nhận') is not a field we read"),
        ("b.yaml", "values:\n  status:\n    Xong: 11\n", 3, "'11' is not a status"),
        ("c.yaml", "values:\n  ngay: {a: 1}\n", 2, "values can be mapped for"),
        ("d.yaml", "unit: \"\"\nz_means_local: maybe\n", 1, "'unit' is empty"),
        ("e.yaml", "z_means_local: maybe\n", 1, "'z_means_local' must be true or false"),
        ("f.yaml", "colums:\n  A: dossier_id\n", None, None),  # the flat form: 'colums' maps to a mapping, not a field
        ("g.yaml", "columns:\n  - Số ĐK\n", 2, "'columns' must be a mapping"),
        ("h.yaml", "columns: {A: dossier_id\n", 2, "not valid YAML"),
        ("i.csv", "alias,field\nSố ĐK,dossier_id\nNơi,noi_nhan\n", 3, "'noi_nhan' (for the column 'Nơi') is not a field we read"),
        ("j.csv", "alias,field\nA,dossier_id,extra\n", 2, "a CSV mapping has two columns"),
        ("k.yaml", "columns:\n  TrichYeuHoSo: procedure_name\n", 2, "carries personal data"),
        ("l.yaml", "files: [x/*]\nunit: 001\nunits: 002\n", 3, "unknown section 'units'"),
    ],
)
def test_a_wrong_mapping_file_fails_with_one_sentence_naming_file_line_and_problem(tmp_path, name, text, line, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    message = str(info.value)
    assert message.startswith(f"{name}, line {line}: " if line else f"{name}")
    if problem:
        assert problem in message
    assert message.count(". ") == 0 and message.endswith(".") and "\n" not in message


def test_a_wrong_mapping_stops_the_run_with_its_sentence(tmp_path):
    from pipelines import warehouse as wh
    from pipelines.ingestion import ingest_landing

    landing = tmp_path / "landing"
    landing.mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "vendor.yaml").write_text("values:\n  status:\n    Xong: 99\n", encoding="utf-8")
    with wh.connect(tmp_path / "w.duckdb") as con, pytest.raises(MappingError, match=r"^vendor.yaml, line 3: '99' is not a status"):
        ingest_landing(con, landing=landing, registry_path=rs.write_registry(tmp_path / "u.csv"), now=NOW, log=lambda m: None)


def test_two_mappings_claiming_one_file_set_it_aside(tmp_path, registry):
    data = rs.write_danh_sach(tmp_path / "shared" / "ds.xls", [])
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text('files: ["shared/*"]\n', encoding="utf-8")
    b.write_text('files: ["*.xls"]\n', encoding="utf-8")
    res = ingest_files([(data, "shared/ds.xls")], registry, now=NOW, mappings=[load_mapping(a), load_mapping(b)])[0]
    assert res.status == "rejected" and res.message == (
        "shared/ds.xls: the mappings a.yaml and b.yaml both apply to it; make their 'files' patterns exclusive")


def test_a_mapping_applies_by_default_to_the_folder_named_like_it(tmp_path):
    (tmp_path / "vendor_x.yaml").write_text("unit: 00229\n", encoding="utf-8")
    m = load_mapping(tmp_path / "vendor_x.yaml")
    assert m.applies_to("vendor_x/2024/03.csv") and not m.applies_to("vendor_y/03.csv") and not m.applies_to("vendor_x.csv")


# ------------------------------------------------------------- the unit of a file


def _csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "Mã hồ sơ,Tên TTHC,Ngày tiếp nhận\n"


def test_a_file_naming_its_unit_nowhere_is_set_aside(tmp_path, registry):
    path = _csv(tmp_path / "khong_don_vi.csv", HEAD + "HS-1,Đăng ký khai tử,04/03/2024\n")
    res = ingest_files([(path, "khong_don_vi.csv")], registry, now=NOW)[0]
    assert res.status == "rejected"
    assert res.message == "khong_don_vi.csv: the header lacks required columns; no column for: unit_code or unit_name (columns found: 'Mã hồ sơ', 'Tên TTHC', 'Ngày tiếp nhận')"


def test_ids_with_an_agency_prefix_name_the_unit_of_a_file_without_a_unit_column(tmp_path, registry):
    path = _csv(tmp_path / "theo_ma.csv", HEAD + "000.20.06.H26-240304-0001,Đăng ký khai tử,04/03/2024\n"
                "000.21.06.H26-240304-0002,Đăng ký khai tử,04/03/2024\nHS-3,Đăng ký khai tử,04/03/2024\n")
    res = ingest_files([(path, "theo_ma.csv")], registry, now=NOW)[0]
    assert {k: v["unit_code"] for k, v in by_id(res).items()} == {
        "000.20.06.H26-240304-0001": "00229", "000.21.06.H26-240304-0002": "00232"}
    assert res.quarantine.select("dossier_id", "reason").rows() == [("HS-3", "missing_field")]


@pytest.mark.parametrize(
    "banner,expected",
    [
        ("UBND PHƯỜNG VĂN MIẾU\nBỘ PHẬN MỘT CỬA,,\n", ("00229", None)),
        ('"UBND QUẬN ĐỐNG ĐA\nUBND PHƯỜNG VĂN MIẾU",,\n', (None, "ambiguous_unit")),  # two units
        ("UBND VẠN PHÚC,,\n", (None, "ambiguous_unit")),  # Phường and Xã Vạn Phúc
        ("UBND PHƯỜNG ĐÃ GIẢI THỂ,,\n", None),  # names nothing: the file says no unit
    ],
)
def test_a_banner_names_the_unit_when_it_names_exactly_one(tmp_path, registry, banner, expected):
    path = _csv(tmp_path / "so.csv", banner + "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ,,\n" + HEAD + "HS-1,Đăng ký khai tử,04/03/2024\n")
    res = ingest_files([(path, "so.csv")], registry, now=NOW)[0]
    if expected is None:
        assert res.status == "rejected" and "unit_code or unit_name" in res.message
    elif expected[0]:
        assert by_id(res)["HS-1"]["unit_code"] == expected[0]
    else:
        assert res.quarantine.select("reason").item() == expected[1]


def test_the_envelope_unit_does_not_override_a_row_that_names_one(tmp_path, registry):
    rows = [dict(id="A-1", received="2024-03-04T08:00:00", status="2", unit_name="Phường Quốc Tử Giám"),
            dict(id="A-2", received="2024-03-04T08:00:00", status="2")]
    path = rs.write_sync_envelope(tmp_path / "env.json", rows, "00229")
    res = ingest_files([(path, "env.json")], registry, now=NOW)[0]
    assert {k: v["unit_code"] for k, v in by_id(res).items()} == {"A-1": "00232", "A-2": "00229"}


def test_a_mapping_unit_wins_over_the_banner(tmp_path, registry):
    path = _csv(tmp_path / "v" / "so.csv", "UBND PHƯỜNG VĂN MIẾU,,\n" + HEAD + "HS-1,Đăng ký khai tử,04/03/2024\n")
    (tmp_path / "v.yaml").write_text('unit: "Phường Quốc Tử Giám"\n', encoding="utf-8")
    res = ingest_files([(path, "v/so.csv")], registry, now=NOW, mappings=[load_mapping(tmp_path / "v.yaml")])[0]
    assert by_id(res)["HS-1"]["unit_code"] == "00232"
    assert read_table(path).unit_hints == ["UBND PHƯỜNG VĂN MIẾU"]
