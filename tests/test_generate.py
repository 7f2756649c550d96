"""demo/generate.py: synthetic exports of any registry's units, checked by reading the files back.

The files are read here with the standard library and fastexcel only, so that these
tests say what is in the files, whatever the pipeline's reader does with them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import fastexcel
import pytest

from tests.helpers import EXAMPLE
from demo.generate import BAD_REASONS, GenerateSummary, generate_exports

PROCEDURES = """procedure_code,procedure_name,field_name,level,processing_days,fee_required,weight
1.001193,Đăng ký khai sinh,Hộ tịch,commune,0,false,10
1.004873,Cấp Giấy xác nhận tình trạng hôn nhân,Hộ tịch,commune,3,true,4
2.000815,Chứng thực bản sao từ bản chính,Chứng thực,both,0,true,12
1.001731,Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội,Lao động - Thương binh và Xã hội,both,8,false,1
1.001612,Đăng ký hộ kinh doanh,Đăng ký kinh doanh,district,3,true,3
1.009994,Cấp giấy phép xây dựng nhà ở riêng lẻ,Xây dựng,district,15,true,2
1.012783,Cấp đổi Giấy chứng nhận quyền sử dụng đất,Đất đai,district,10,true,2
"""

# Two districts with a commune each until the reform, six wards/communes after it.
REFORM_UNITS = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30
002,Huyện Sóc Sơn,district,,rural,2008-08-01,2025-06-30
00001,Phường Phúc Xá,commune,001,urban,2008-08-01,2025-06-30
00004,Xã Bắc Sơn,commune,002,rural,2008-08-01,2025-06-30
10001,Phường Ba Đình,commune,,urban,2025-07-01,
10002,Phường Ngọc Hà,commune,,urban,2025-07-01,
10003,Phường Giảng Võ,commune,,urban,2025-07-01,
10004,Xã Sóc Sơn,commune,,rural,2025-07-01,
10005,Xã Đa Phúc,commune,,rural,2025-07-01,
10006,Xã Trung Giã,commune,,rural,2025-07-01,
"""
REFORM_NAMES = {r.split(",")[0]: r.split(",")[1] for r in REFORM_UNITS.splitlines()[1:]}
OLD_CODES = {"001", "002", "00001", "00004"}
NEW_CODES = {"10001", "10002", "10003", "10004", "10005", "10006"}
REFORM = date(2025, 7, 1)

ID = ("Mã hồ sơ", "Số hồ sơ", "MaHoSo")
UNIT_CODE = ("Mã đơn vị", "MaDonVi")
UNIT_NAME = ("Đơn vị tiếp nhận", "Cơ quan tiếp nhận")
STATUS = ("Trạng thái", "TrangThaiHoSo")
RECEIVED = ("Ngày tiếp nhận", "NgayTiepNhan")
FINISHED = ("Ngày kết thúc xử lý", "Ngày hoàn thành", "NgayKetThucXuLy")
RETURNED = ("Ngày trả kết quả", "NgayTra")
REJECTED = ("Ngày từ chối", "NgayTuChoi")
APPLICANT = ("Chủ hồ sơ", "Họ tên người nộp")
STATUS_LABELS = {
    "mới đăng ký": 1, "được tiếp nhận": 2, "không được tiếp nhận": 3, "đang xử lý": 4,
    "yêu cầu bổ sung": 5, "nghĩa vụ tài chính": 6, "công dân rút": 7, "dừng xử lý": 8,
    "đã xử lý xong": 9, "đã trả kết quả": 10,
}
BAD = "impossible"


# --------------------------------------------------------------------------- reading back


_READ: dict[Path, tuple[list[str], list[dict]]] = {}


def read_export(path: Path) -> tuple[list[str], list[dict]]:
    """Header and data rows (banner and totals rows left out) of a generated file."""
    if path not in _READ:
        _READ[path] = _read_export(path)
    return _READ[path]


def sheet_rows(path: Path) -> list[tuple]:
    """Every row of the first sheet, cells as text (Excel dates as ISO)."""
    return fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars().rows()


def _read_export(path: Path) -> tuple[list[str], list[dict]]:
    if path.suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        first = text.split("\n", 1)[0]
        sep = ";" if first.count(";") > first.count(",") else ","
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
        header = rows[0]
        return header, [{h: (v or None) for h, v in zip(header, r)} for r in rows[1:]]
    rows = sheet_rows(path)
    at = next(i for i, r in enumerate(rows) if any(c in ID for c in r))
    header = [c for c in rows[at]]
    records = []
    for r in rows[at + 1:]:
        if r[0] == "Tổng cộng":
            break
        records.append(dict(zip(header, r)))
    return header, records


def pick(record: dict, names: tuple[str, ...]):
    return next((record[n] for n in names if n in record), None)


def when(value: str | None) -> datetime | str | None:
    if value is None:
        return None
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S+07:00", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(str(value), fmt)
        except ValueError:
            pass
    return BAD


def status_of(value: str | None) -> int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else STATUS_LABELS[value.casefold()]


def unit_of(record: dict, names: dict[str, str]) -> str | None:
    code = pick(record, UNIT_CODE)
    return code if code is not None else names.get(pick(record, UNIT_NAME))


def display_names(registry: Path) -> dict[str, str]:
    """How exports name units ('UBND phường Phúc Xá', 'Quận Ba Đình') -> code."""
    out = {}
    for r in csv.DictReader(io.StringIO(registry.read_text(encoding="utf-8"))):
        name = r["unit_name"]
        out[name] = r["unit_code"]
        out["UBND " + name[0].lower() + name[1:]] = r["unit_code"]
    return out


def all_rows(out: Path, names: dict[str, str]) -> list[dict]:
    rows = []
    for path in sorted(out.iterdir()):
        _, records = read_export(path)
        for i, rec in enumerate(records):
            rows.append({
                "file": path.name,
                "row": i,
                "id": pick(rec, ID),
                "unit": unit_of(rec, names),
                "status": status_of(pick(rec, STATUS)),
                "received": when(pick(rec, RECEIVED)),
                "finished": when(pick(rec, FINISHED)),
                "returned": when(pick(rec, RETURNED)),
                "rejected": when(pick(rec, REJECTED)),
            })
    return rows


def digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    (d / "procedures.csv").write_text(PROCEDURES, encoding="utf-8")
    (d / "reform.csv").write_text(REFORM_UNITS, encoding="utf-8")
    return {"procedures": d / "procedures.csv", "reform": d / "reform.csv", "example": EXAMPLE / "units.csv"}


def run_reform(out: Path, inputs: dict[str, Path], seed: int = 2025) -> GenerateSummary:
    return generate_exports(out, date(2025, 5, 1), date(2025, 8, 31), seed=seed, scale=0.2,
                            registry_path=inputs["reform"], procedures_path=inputs["procedures"])


@pytest.fixture(scope="module")
def reform(tmp_path_factory, inputs) -> tuple[Path, GenerateSummary, list[dict]]:
    out = tmp_path_factory.mktemp("reform")
    summary = run_reform(out, inputs)
    return out, summary, all_rows(out, display_names(inputs["reform"]))


@pytest.fixture(scope="module")
def year(tmp_path_factory, inputs) -> tuple[Path, GenerateSummary, list[dict]]:
    out = tmp_path_factory.mktemp("year")
    summary = generate_exports(out, date(2025, 1, 1), date(2025, 12, 31), scale=0.05,
                               registry_path=inputs["example"], procedures_path=inputs["procedures"])
    return out, summary, all_rows(out, display_names(inputs["example"]))


# --------------------------------------------------------------------------- tests


def test_the_same_arguments_give_the_same_bytes(tmp_path, inputs, reform):
    out, summary, _ = reform
    again = run_reform(tmp_path / "again", inputs)
    assert digests(tmp_path / "again") == digests(out)
    assert replace(again, out_dir=out) == summary
    other = run_reform(tmp_path / "other", inputs, seed=7)
    assert digests(tmp_path / "other") != digests(out)
    assert other.dossiers != summary.dossiers or other.rows_written != summary.rows_written


def test_exports_come_as_csv_and_xlsx_in_several_shapes(reform):
    out, summary, _ = reform
    files = sorted(out.iterdir())
    assert {p.suffix for p in files} == {".csv", ".xlsx"}
    assert summary.files_written == len(files) == sum(summary.files_by_format.values())
    assert summary.files_by_format["xlsx"] >= 0.25 * len(files)
    assert len(summary.files_by_shape) >= 3
    assert sorted(summary.files) == [p.name for p in files]
    for path in files:
        if path.suffix == ".csv":
            data = path.read_bytes()
            head = data.decode("utf-8-sig").split("\n", 1)[0]
            # Vietnamese headers: UTF-8 with BOM, comma; national sync names: semicolon.
            assert (data.startswith(b"\xef\xbb\xbf") and "Mã hồ sơ" in head) or (head.startswith("MaHoSo;"))
        else:
            first = sheet_rows(path)[0]
            assert first[0] in ID + ("STT",) or str(first[0]).startswith("UBND ")
    # Monthly (a few weekly) exports named after the unit, some with spaces and Vietnamese letters.
    assert all(re.search(r"2025-(0[4-9]|W\d\d)", p.name) for p in files)
    assert any(" " in p.name for p in files) and any(not p.name.isascii() for p in files)
    assert summary.rows_written == sum(summary.rows_by_format.values()) == sum(
        len(read_export(p)[1]) for p in files)


def test_banner_and_totals_rows_surround_report_sheets(reform):
    out, _, _ = reform
    reports = []
    for path in sorted(out.glob("*.xlsx"))[:12]:
        rows = sheet_rows(path)
        if rows[0][0] != "STT" and rows[0][0] not in ID:
            reports.append(rows)
            assert rows[0][0].startswith("UBND ") and rows[0][0] == rows[0][0].upper()
            assert rows[1][0] == "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ"
            assert all(c is None for c in rows[2])
            assert rows[-1][0] == "Tổng cộng" and int(rows[-1][1]) == len(rows) - 5
    # the fixture's registry must give the report shape to some exporter, or this tests nothing
    assert reports, "no exporter of this registry uses the report shape"


def test_every_file_carries_fake_personal_columns(reform):
    out, _, _ = reform
    for path in sorted(out.iterdir()):
        header, records = read_export(path)
        assert {"Số CCCD", "Số điện thoại", "Địa chỉ"} <= set(header), path.name
        assert set(APPLICANT) & set(header), path.name
        for rec in records[:20]:
            assert re.fullmatch(r"\d{12}", rec["Số CCCD"])
            assert re.fullmatch(r"09\d{8}", rec["Số điện thoại"])
            assert len(pick(rec, APPLICANT).split()) >= 3
            # In the receiving ward or commune (no province named anywhere).
            unit = pick(rec, UNIT_CODE) or pick(rec, UNIT_NAME)
            assert rec["Địa chỉ"].startswith(("Số ", "Thôn ", "Xóm ")) and "Hà Nội" not in rec["Địa chỉ"]
            assert unit is None or any(n in rec["Địa chỉ"] for n in REFORM_NAMES.values()), rec["Địa chỉ"]


def test_a_few_bad_rows_one_kind_per_quarantine_reason(reform, inputs):
    _, summary, rows = reform
    assert set(summary.bad_rows_by_reason) == set(BAD_REASONS)
    assert all(n >= 1 for n in summary.bad_rows_by_reason.values())
    assert summary.bad_rows == sum(summary.bad_rows_by_reason.values())
    assert summary.bad_rows <= max(len(BAD_REASONS), 0.004 * summary.rows_written)
    known = OLD_CODES | NEW_CODES
    ended = [r for r in rows if r["status"] in (9, 10)]
    found = {
        "missing_id": [r for r in rows if r["id"] is None],
        "bad_date": [r for r in rows if BAD in (r["finished"], r["received"])],
        "unknown_unit": [r for r in rows if r["unit"] not in known],
        "future_date": [r for r in ended if isinstance(r["finished"], datetime) and r["finished"].year > 2026],
        "chronology": [r for r in ended if isinstance(r["finished"], datetime) and r["finished"] < r["received"]],
        "finished_no_end": [r for r in ended if r["finished"] is None and r["returned"] is None],
    }
    assert {k: len(v) for k, v in found.items()} == summary.bad_rows_by_reason
    # Every good row is consistent: known unit, readable dates, ends after the receipt.
    bad = {(r["file"], r["row"]) for v in found.values() for r in v}
    for r in rows:
        if (r["file"], r["row"]) in bad:
            continue
        assert r["id"] and r["unit"] in known and isinstance(r["received"], datetime)
        for end in (r["finished"], r["returned"], r["rejected"]):
            assert end is None or (isinstance(end, datetime) and end >= r["received"])
        if r["status"] in (9, 10):
            assert r["finished"] is not None


def test_open_dossiers_come_back_with_a_newer_status(reform):
    _, summary, rows = reform
    copies: dict[str, list[dict]] = {}
    for r in rows:
        if r["id"]:
            copies.setdefault(r["id"], []).append(r)
    assert summary.duplicate_rows == len(rows) - summary.dossiers > 0
    updated = duplicated = 0
    for versions in copies.values():
        if len(versions) < 2:
            continue
        duplicated += 1
        assert len({v["file"] for v in versions}) == len(versions)  # at most once per file
        assert len({v["received"] for v in versions}) == 1
        # The copy with the latest event (the one deduplication keeps) is the furthest on.
        latest = max(versions, key=lambda v: max(t for t in (v["received"], v["finished"], v["returned"],
                                                               v["rejected"]) if t is not None))
        if any(v["status"] in (2, 4, 5, 6) for v in versions):
            if latest["status"] not in (2, 4, 5, 6):
                updated += 1
        if any(v["status"] not in (2, 4, 5, 6) for v in versions):
            assert latest["status"] not in (2, 4, 5, 6)
    assert updated >= 0.25 * duplicated
    # Some dossiers are still open in their last export.
    assert summary.pending_at_end > 0


def test_volumes_are_plausible_for_hanoi(year):
    _, summary, rows = year
    # scale 0.05 of a year: Ba Đình (urban district) 18,000-35,000, Sóc Sơn (rural
    # district) 8,000-12,000, a commune 1,500-3,500 a year.
    bounds = {"001": (18_000, 35_000), "002": (8_000, 12_000), "00001": (1_500, 3_500), "00004": (1_500, 3_500)}
    for key, n in summary.dossiers_by_unit.items():
        low, high = bounds[key.split("@")[0]]
        assert 0.8 * 0.05 * low <= n <= 1.2 * 0.05 * high, (key, n)
    ids = [r["id"] for r in rows if r["id"]]
    assert len(set(ids)) == summary.dossiers - summary.bad_rows_by_reason["missing_id"]
    # Without agency codes in the registry, an id starts with the unit code (never a made-up mã định danh).
    assert all(re.fullmatch(r"\d{3,5}-\d{6}-\d{4}", i) for i in ids)
    assert all(i.split("-")[0] == r["unit"] for i, r in zip(ids, (r for r in rows if r["id"])) if r["unit"] in bounds)
    # Received on working days in office hours, only a few on Saturdays, none on Sundays.
    received = [r["received"] for r in rows if isinstance(r["received"], datetime)]
    assert all(r.weekday() < 6 and 7 <= r.hour < 17 for r in received)
    assert 0 < sum(r.weekday() == 5 for r in received) < 0.1 * len(received)
    # Every month has each district's dossiers.
    months = {(r["unit"], r["received"].month) for r in rows if isinstance(r["received"], datetime)}
    assert all(("001", m) in months and ("002", m) in months for m in range(1, 13))


def test_scale_multiplies_volumes(tmp_path, inputs):
    def run(scale: float) -> int:
        return generate_exports(tmp_path / str(scale), date(2025, 3, 1), date(2025, 3, 31), scale=scale,
                                registry_path=inputs["example"], procedures_path=inputs["procedures"]).dossiers
    small, large = run(0.05), run(0.2)
    assert 3.2 <= large / small <= 4.8


def test_units_of_the_old_registry_receive_nothing_after_the_reform(reform):
    _, summary, rows = reform
    received = [r for r in rows if isinstance(r["received"], datetime) and r["unit"] in OLD_CODES | NEW_CODES]
    old = [r for r in received if r["unit"] in OLD_CODES]
    new = [r for r in received if r["unit"] in NEW_CODES]
    assert old and new
    assert max(r["received"] for r in old).date() < REFORM
    assert min(r["received"] for r in new).date() >= REFORM
    assert {r["unit"] for r in old} == OLD_CODES and {r["unit"] for r in new} == NEW_CODES
    # The old systems' last export (a month after they closed) only updates old dossiers.
    late_files = {r["file"] for r in old if r["file"] and re.search(r"2025-07", r["file"])}
    assert all(r["unit"] in OLD_CODES for r in rows if r["file"] in late_files and r["unit"] in OLD_CODES | NEW_CODES)
    # After the reform the new units share what the districts handled.
    by_unit = summary.dossiers_by_unit
    assert all(by_unit[f"{c}@2025-07-01"] > 0 for c in NEW_CODES)


def test_describe_says_what_was_written(reform):
    _, summary, _ = reform
    text = summary.describe()
    assert f"{summary.files_written:,} export files" in text
    assert f"{summary.dossiers:,} dossiers" in text and f"{summary.bad_rows:,}" in text
    assert "\n" not in text


# --------------------------------------------------------------------------- departments, agency codes

# A city with two districts until the reform, two wards after it, and three departments:
# two merge on 2025-03-01 into a new one (which keeps one of their codes); agency codes
# for some units (test values, not real codes).
CITY_UNITS = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to,agency_code
001,Quận Một,district,,urban,2008-08-01,2025-06-30,
00001,Phường Một,commune,001,urban,2008-08-01,2025-06-30,000.01.01.T99
00002,Xã Hai,commune,001,rural,2008-08-01,2025-06-30,
10001,Phường Mới,commune,,urban,2025-07-01,,000.00.10.T99
10002,Xã Mới,commune,,rural,2025-07-01,,
SA,Sở Alpha,department,,department,2008-08-01,2025-02-28,000.00.21.T99
SB,Sở Beta,department,,department,2008-08-01,2025-02-28,
SA,Sở Alpha,department,,department,2025-03-01,,000.00.22.T99
SC,Sở Gamma,department,,department,2008-08-01,,
"""
CITY_PROCEDURES = PROCEDURES.strip().replace("procedure_code,procedure_name,field_name,level,processing_days,fee_required,weight",
                                             "procedure_code,procedure_name,field_name,level,processing_days,fee_required,weight,department") + """
9.000001,Thủ tục của Sở Beta rồi Sở Alpha,Thử,department,5,true,1,Sở Beta|Sở Alpha
9.000002,Thủ tục của Sở Gamma,Thử,department,3,false,1,Sở Gamma
"""
AGENCY = {"00001": "000.01.01.T99", "10001": "000.00.10.T99"}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, GenerateSummary, list[dict]]:
    d = tmp_path_factory.mktemp("city")
    (d / "units.csv").write_text(CITY_UNITS, encoding="utf-8")
    (d / "procedures.csv").write_text(CITY_PROCEDURES, encoding="utf-8")
    out = d / "out"
    summary = generate_exports(out, date(2025, 1, 1), date(2025, 12, 31), scale=0.05,
                               registry_path=d / "units.csv", procedures_path=d / "procedures.csv")
    names = display_names(d / "units.csv")
    rows = all_rows(out, names)
    procedures = {}
    for path in sorted(out.iterdir()):
        for rec in read_export(path)[1]:
            procedures[pick(rec, ID)] = pick(rec, ("Mã TTHC", "Mã thủ tục", "MaTTHC"))
    return out, summary, [dict(r, procedure=procedures.get(r["id"])) for r in rows]


def test_departments_receive_more_than_a_commune_and_their_own_procedures(city):
    _, summary, rows = city
    by_unit = summary.dossiers_by_unit
    # scale 0.05: a department 12,000-60,000 a year, a commune under a district 1,500-3,500.
    for key in ("SA@2008-08-01", "SB@2008-08-01", "SC@2008-08-01"):
        assert by_unit[key] > by_unit["00001@2008-08-01"], key
    assert 0.8 * 0.05 * 12_000 <= by_unit["SC@2008-08-01"] <= 1.2 * 0.05 * 60_000
    ok = [r for r in rows if r["id"] and isinstance(r["received"], datetime) and r["procedure"]]
    dept = {r["unit"]: set() for r in ok if r["unit"] in {"SA", "SB", "SC"}}
    for r in ok:
        if r["unit"] in dept:
            dept[r["unit"]].add((r["procedure"], r["received"].date() >= date(2025, 3, 1)))
    # Sở Beta's procedure goes to Sở Alpha once Sở Beta is gone; Sở Gamma keeps its own.
    assert {p for p, _ in dept["SB"]} == {"9.000001"}
    assert {p for p, after in dept["SA"] if after} == {"9.000001"}
    assert {p for p, _ in dept["SC"]} == {"9.000002"}
    # Communes never get department procedures.
    places = {"001", "00001", "00002", "10001", "10002"}
    assert not any(r["procedure"].startswith("9.") for r in ok if r["unit"] in places)
    assert any(r["unit"] in places for r in ok)


def test_ids_start_with_the_agency_code_where_the_registry_has_one(city):
    _, _, rows = city
    seen = {}
    for r in rows:
        if r["id"] and r["unit"] and isinstance(r["received"], datetime):
            seen.setdefault(r["unit"], set()).add(r["id"].rsplit("-", 2)[0])
    assert seen["00001"] == {AGENCY["00001"]} and seen["10001"] == {AGENCY["10001"]}
    # Sở Alpha has one agency code before its merger and another after (same unit code).
    assert seen["SA"] == {"000.00.21.T99", "000.00.22.T99"}
    assert seen["00002"] == {"00002"} and seen["SC"] == {"SC"}
    ids = [r["id"] for r in rows if r["id"] and r["unit"] == "00001"]
    assert all(re.fullmatch(r"000\.01\.01\.T99-\d{6}-\d{4}", i) for i in ids)


# --------------------------------------------------------------------------- make demo


def test_make_demo_ranks_the_126_units_and_the_departments_apart(demo_run):
    """What `make demo` runs (`scoreboard demo`: 2025 at scale 0.05, then the pipeline;
    tests/conftest.py demo_run): December 2025 ranks the 126 wards and communes and the 16
    departments, each among its own level; departments are ranked every week and month."""
    import polars as pl

    from config import config_path
    from transforms.calendar import working_calendar
    from transforms.units import load_registry

    site = demo_run["site"]
    registry = load_registry(config_path("registry", "hanoi.csv"))

    def published(key: str) -> pl.DataFrame:
        return pl.read_csv(site / "data" / f"scoreboard-{key}.csv", infer_schema=False, encoding="utf8-lossy")

    def valid_throughout(first: date, last: date, level: str) -> set[str]:
        return set(registry.filter(
            (pl.col("level") == level) & (pl.col("valid_from") <= first)
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= last)))["unit_code"])

    def ranked(table: pl.DataFrame, level: str) -> pl.DataFrame:
        return table.filter((pl.col("level") == level) & (pl.col("ranked") == "true"))

    december = published("2025-12")
    communes, departments = ranked(december, "commune"), ranked(december, "department")
    assert communes.height == 126 and set(communes["unit_code"]) == valid_throughout(
        date(2025, 12, 1), date(2025, 12, 31), "commune")
    assert departments.height == 16 and set(departments["unit_code"]) == valid_throughout(
        date(2025, 12, 1), date(2025, 12, 31), "department")
    # Each level is ranked among itself: ranks 1..n within the level, never mixed.
    for table in (communes, departments):
        ranks = table["rank"].cast(pl.Int64)
        assert ranks.min() == 1 and ranks.max() <= table.height
    assert ranked(december, "district").height == 0

    calendar = working_calendar(date(2024, 12, 30), date(2026, 1, 4))
    working = set(calendar.filter(pl.col("is_working_day"))["date"].to_list())
    for month in range(1, 13):
        first = date(2025, month, 1)
        last = date(2025 + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        got = set(ranked(published(f"2025-{month:02d}"), "department")["unit_code"])
        assert valid_throughout(first, last, "department") <= got, month
    for week in range(1, 53):
        monday = date.fromisocalendar(2025, week, 1)
        sunday = monday + timedelta(days=6)
        got = set(ranked(published(f"2025-W{week:02d}"), "department")["unit_code"])
        assert got, week  # even in Tết week some department has pending overdue dossiers
        if sum(monday + timedelta(days=i) in working for i in range(7)) >= 4:
            assert valid_throughout(monday, sunday, "department") <= got, week
