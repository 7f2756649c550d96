"""ingest_file: the whole read -> normalise -> units -> quarantine path on real files."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from transforms.ingest import QUARANTINE_SCHEMA, FileResult, content_hash, ingest_file, ingest_files
from transforms.schema import CANONICAL_FIELDS, DOSSIER_SCHEMA
from transforms.units import load_registry

FIXTURES = Path(__file__).parent / "fixtures" / "example"
EXAMPLE = FIXTURES / "dossiers.csv"
NOW = dt.datetime(2024, 3, 1, 12, 0)

VIETNAMESE = {
    "dossier_id": "Mã hồ sơ",
    "unit_code": "Mã đơn vị",
    "procedure_code": "Mã TTHC",
    "channel": "Hình thức nộp",
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
    "rating": "Mức độ hài lòng",
    "complaint": "Phản ánh",
}
CHANNEL_LABELS = {"1": "Trực tiếp", "2": "Trực tuyến", "3": "Bưu chính công ích"}
PERSONAL = {"Họ tên": "Vũ Thị Kín Đáo", "CCCD": "001199007777", "Số điện thoại": "0987654321", "Địa chỉ": "99 Ngõ Bí Mật"}


@pytest.fixture(scope="module")
def registry() -> pl.DataFrame:
    return load_registry(FIXTURES / "units.csv")


def example_rows() -> list[dict[str, str]]:
    with EXAMPLE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    fmt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
    ws.write(0, 0, "UBND QUẬN BA ĐÌNH")
    ws.write(1, 0, "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ")
    headers = ["STT", *VIETNAMESE.values(), *PERSONAL]
    for c, h in enumerate(headers):
        ws.write(3, c, h)
    for r, row in enumerate(rows, start=4):
        ws.write_number(r, 0, r - 3)
        for c, fld in enumerate(VIETNAMESE, start=1):
            v = row[fld]
            if v == "":
                continue
            if fld.endswith("_at"):
                ws.write_datetime(r, c, dt.datetime.fromisoformat(v), fmt)
            elif fld == "channel":
                ws.write(r, c, CHANNEL_LABELS[v])
            elif fld == "status":
                ws.write_number(r, c, int(v))
            elif v in ("true", "false"):
                ws.write(r, c, "Có" if v == "true" else "Không")
            else:
                ws.write_string(r, c, v)
        for c, v in enumerate(PERSONAL.values(), start=1 + len(VIETNAMESE)):
            ws.write_string(r, c, v)
    ws.write(4 + len(rows), 0, "Tổng cộng")
    ws.write_number(4 + len(rows), 1, len(rows))
    wb.close()


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    header = header or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def result_text(res: FileResult) -> str:
    return "\n".join(
        [repr(res), res.accepted.write_csv(), res.quarantine.write_csv(), json.dumps(res.unreadable), " ".join(res.dropped_columns), str(res.message)]
    )


BASE = {
    "dossier_id": "Q-1",
    "unit_code": "001",
    "unit_name": "",
    "procedure_code": "1.001776",
    "status": "4",
    "submitted_at": "",
    "received_at": "10/01/2024 08:00",
    "due_at": "20/01/2024",
    "finished_at": "",
    "returned_at": "",
    "rejected_at": "",
}


def one_row(tmp_path: Path, registry, **changes) -> FileResult:
    row = {**BASE, **changes}
    path = tmp_path / "one.csv"
    write_csv(path, [row], list(BASE))
    return ingest_file(path, registry, now=NOW, source_name="batch/one.csv")


# ------------------------------------------------------------------- happy paths


def test_example_csv_all_accepted(registry):
    res = ingest_file(EXAMPLE, registry, now=NOW, source_name="example/dossiers.csv")
    assert res.status == "loaded" and res.message is None
    assert res.format == "csv"
    assert res.rows_read == 38 == res.accepted.height
    assert res.quarantine.height == 0
    assert res.unreadable == {}
    assert dict(res.accepted.schema) == DOSSIER_SCHEMA
    assert dict(res.quarantine.schema) == QUARANTINE_SCHEMA
    assert res.content_hash == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest() == content_hash(EXAMPLE)
    acc = res.accepted
    assert acc["source_file"].unique().to_list() == ["example/dossiers.csv"]
    assert acc["source_row"].to_list() == list(range(1, 39))
    wx1 = acc.filter(pl.col("dossier_id") == "WX-001").row(0, named=True)
    assert wx1["unit_code"] == "001" and wx1["unit_valid_from"] == dt.date(2008, 8, 1)
    assert wx1["received_at"] == dt.datetime(2024, 1, 2, 8, 0)
    assert wx1["due_at"] == dt.datetime(2024, 1, 10)
    assert wx1["channel"] == 2 and wx1["status"] == 10
    assert wx1["fee_required"] is True and wx1["apology_issued"] is None
    assert wx1["rating"] == "satisfied"
    wx12 = acc.filter(pl.col("dossier_id") == "WX-012").row(0, named=True)
    assert wx12["status"] is None and wx12["returned_at"] == dt.datetime(2024, 2, 7, 15, 0)
    assert wx12["rating"] == "dissatisfied"
    assert acc.filter(pl.col("dossier_id") == "WX-013")["unit_code"].item() == "00001"
    assert sorted(acc["rating"].drop_nulls().unique().to_list()) == ["dissatisfied", "neutral", "satisfied"]


def test_xlsx_with_vietnamese_headers_equals_the_csv(tmp_path, registry):
    path = tmp_path / "bao_cao_thang.xlsx"
    write_xlsx(path, example_rows())
    res = ingest_file(path, registry, now=NOW, source_name="bao_cao_thang.xlsx")
    assert res.status == "loaded", res.message
    assert res.format == "xlsx"
    assert res.rows_read == 38 and res.accepted.height == 38 and res.quarantine.height == 0
    assert set(PERSONAL) | {"STT"} <= set(res.dropped_columns)
    text = result_text(res)
    for v in PERSONAL.values():
        assert v not in text
    csv_res = ingest_file(EXAMPLE, registry, now=NOW, source_name="bao_cao_thang.xlsx")
    assert res.accepted.equals(csv_res.accepted)


def test_rows_read_is_accepted_plus_quarantined(tmp_path, registry):
    rows = example_rows()[:5]
    rows[1] = {**rows[1], "dossier_id": ""}
    rows[2] = {**rows[2], "received_at": "31/02/2024"}
    path = tmp_path / "mixed.csv"
    write_csv(path, rows)
    res = ingest_file(path, registry, now=NOW, source_name="mixed.csv")
    assert res.rows_read == 5
    assert res.accepted.height + res.quarantine.height == 5
    assert res.quarantine.sort("source_row")["reason"].to_list() == ["missing_id", "bad_date"]
    assert res.quarantine.sort("source_row")["source_row"].to_list() == [2, 3]


# --------------------------------------------------------------- quarantine rules


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"dossier_id": "  "}, "missing_id"),
        ({"dossier_id": "", "received_at": "31/02/2024"}, "missing_id"),
        ({"procedure_code": ""}, "missing_field"),
        ({"received_at": ""}, "missing_field"),
        ({"unit_code": "", "unit_name": ""}, "missing_field"),
        ({"received_at": "", "due_at": "99/99/2024"}, "missing_field"),
        ({"received_at": "31/02/2024"}, "bad_date"),
        ({"finished_at": "hôm qua"}, "bad_date"),
        ({"due_at": "2024-02-30"}, "bad_date"),
        ({"unit_code": "999"}, "unknown_unit"),
        ({"unit_code": "", "unit_name": "Phường Không Có"}, "unknown_unit"),
        ({"unit_code": "999", "finished_at": "31/02/2024"}, "bad_date"),
        ({"unit_code": "1"}, "ambiguous_unit"),  # 001 and 00001 once zeros are gone
        ({"received_at": "02/03/2024 08:00"}, "future_date"),
        ({"finished_at": "01/03/2024 12:00:01", "status": "9"}, "future_date"),
        ({"submitted_at": "05/03/2024"}, "future_date"),
        ({"unit_code": "999", "received_at": "05/03/2024"}, "unknown_unit"),
        ({"finished_at": "09/01/2024 17:00"}, "chronology"),
        ({"rejected_at": "10/01/2024 07:59"}, "chronology"),
        ({"due_at": "09/01/2024"}, "chronology"),
        ({"due_at": "10/01/2024 07:00"}, "chronology"),
        ({"status": "9"}, "finished_no_end"),
        ({"status": "10", "rejected_at": "11/01/2024"}, "finished_no_end"),
        ({"status": "Đã trả kết quả"}, "finished_no_end"),
    ],
)
def test_quarantine_reasons(tmp_path, registry, changes, reason):
    res = one_row(tmp_path, registry, **changes)
    assert res.status == "loaded"
    assert res.accepted.height == 0
    assert res.quarantine["reason"].to_list() == [reason]
    q = res.quarantine.row(0, named=True)
    assert q["source_file"] == "batch/one.csv" and q["source_row"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"due_at": "10/01/2024"},  # date-only due on the day of receipt: due end 23:59:59.999999
        {"due_at": "10/01/2024 08:00"},  # due with a time equal to receipt is not before it
        {"due_at": "05/04/2024"},  # a due date in the future is normal
        {"received_at": "01/03/2024 12:00", "due_at": ""},  # exactly now is not the future
        {"finished_at": "10/01/2024 08:00", "status": "9"},
        {"returned_at": "12/01/2024", "status": "10"},
        {"status": "11"},  # unreadable optional value: null, counted, accepted
        {"unit_code": "00001"},
        {"unit_code": "4"},  # leading zeros lost: only 00004 fits
        {"unit_code": "", "unit_name": "UBND Huyện Sóc Sơn"},
        {"unit_code": "", "unit_name": "Sóc Sơn"},
        {"unit_code": "777", "unit_name": "Quận Ba Đình"},  # unknown code, known name
    ],
)
def test_accepted_rows(tmp_path, registry, changes):
    res = one_row(tmp_path, registry, **changes)
    assert res.quarantine.height == 0, res.quarantine.to_dicts()
    assert res.accepted.height == 1


def test_unit_resolution_in_accepted(tmp_path, registry):
    res = one_row(tmp_path, registry, unit_code="4")
    assert res.accepted["unit_code"].to_list() == ["00004"]
    res = one_row(tmp_path, registry, unit_code="", unit_name="UBND Huyện Sóc Sơn")
    assert res.accepted["unit_code"].to_list() == ["002"]
    assert res.accepted["unit_valid_from"].to_list() == [dt.date(2008, 8, 1)]


def test_offsets_are_converted_to_local_time(tmp_path, registry):
    res = one_row(tmp_path, registry, received_at="2024-01-10T01:00:00Z", finished_at="2024-01-11T10:00:00+07:00", status="9")
    row = res.accepted.row(0, named=True)
    assert row["received_at"] == dt.datetime(2024, 1, 10, 8, 0)
    assert row["finished_at"] == dt.datetime(2024, 1, 11, 10, 0)


def test_unreadable_optional_values_are_counted(tmp_path, registry):
    rows = [
        {**BASE, "dossier_id": "U-1", "status": "11", "fee_required": "chưa rõ", "channel": "fax"},
        {**BASE, "dossier_id": "U-2", "status": "4", "fee_required": "có", "channel": "Nộp trực tuyến"},
    ]
    path = tmp_path / "u.csv"
    write_csv(path, rows, [*BASE, "fee_required", "channel"])
    res = ingest_file(path, registry, now=NOW, source_name="u.csv")
    assert res.unreadable == {"status": 1, "fee_required": 1, "channel": 1}
    assert res.accepted.height == 2
    acc = res.accepted.sort("dossier_id")
    assert acc["status"].to_list() == [None, 4]
    assert acc["fee_required"].to_list() == [None, True]
    assert acc["channel"].to_list() == [None, 2]


def test_quarantine_holds_canonical_values_only(tmp_path, registry):
    path = tmp_path / "q.csv"
    rows = [
        {**BASE, "dossier_id": "Q-9", "received_at": "31/02/2024 08:00", "status": "Đang xử lý",
         "Họ tên": PERSONAL["Họ tên"], "CCCD": PERSONAL["CCCD"], "Số điện thoại": PERSONAL["Số điện thoại"]},
    ]
    write_csv(path, rows, [*BASE, "Họ tên", "CCCD", "Số điện thoại"])
    res = ingest_file(path, registry, now=NOW, source_name="q.csv")
    assert list(res.quarantine.columns) == list(QUARANTINE_SCHEMA)
    q = res.quarantine.row(0, named=True)
    assert q["reason"] == "bad_date"
    assert q["dossier_id"] == "Q-9"
    assert q["status"] == "4"  # normalised value
    assert q["received_at"] == "31/02/2024 08:00"  # unreadable: the file's text of that field
    assert q["due_at"] == "2024-01-20 00:00:00"
    assert q["unit_code"] == "001"
    assert set(res.dropped_columns) == {"Họ tên", "CCCD", "Số điện thoại"}
    text = result_text(res)
    for v in PERSONAL.values():
        assert v not in text


def test_x_mark_columns(tmp_path, registry):
    rows = [
        {**BASE, "dossier_id": "X-1", "complaint": "x", "synced": "x"},
        {**BASE, "dossier_id": "X-2", "complaint": "", "synced": "không"},
        {**BASE, "dossier_id": "X-3", "complaint": "X", "synced": ""},
    ]
    path = tmp_path / "x.csv"
    write_csv(path, rows, [*BASE, "complaint", "synced"])
    res = ingest_file(path, registry, now=NOW, source_name="x.csv")
    acc = res.accepted.sort("dossier_id")
    assert acc["complaint"].to_list() == [True, False, True]  # only x marks: empty is no
    assert acc["synced"].to_list() == [True, False, None]  # mixed column: empty is unknown


# ----------------------------------------------------------------- rejected files


def test_rejected_file_gives_a_clear_message(tmp_path, registry):
    path = tmp_path / "sai_mau.csv"
    path.write_text("Mã hồ sơ,Họ tên,CCCD\nA-1,Vũ Thị Kín Đáo,001199007777\n", encoding="utf-8")
    res = ingest_file(path, registry, now=NOW, source_name="2024-03/sai_mau.csv")
    assert res.status == "rejected"
    assert res.rows_read == 0
    assert res.accepted.height == 0 and dict(res.accepted.schema) == DOSSIER_SCHEMA
    assert res.quarantine.height == 0 and dict(res.quarantine.schema) == QUARANTINE_SCHEMA
    assert res.message.startswith("2024-03/sai_mau.csv: ")
    for fld in ("procedure_code", "received_at", "unit_code or unit_name"):
        assert fld in res.message
    assert "Kín Đáo" not in res.message and "001199007777" not in res.message and "A-1" not in res.message
    assert res.content_hash == content_hash(path)


def test_rejected_garbage(tmp_path, registry):
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    res = ingest_file(path, registry, now=NOW, source_name="photo.xlsx")
    assert res.status == "rejected"
    assert "photo.xlsx" in res.message


def test_quarantine_fields_cover_every_canonical_field(tmp_path, registry):
    res = one_row(tmp_path, registry, dossier_id="")
    assert [c for c in res.quarantine.columns if c in CANONICAL_FIELDS] == list(CANONICAL_FIELDS)


# ------------------------------------------------------------------- batches


def test_a_batch_gives_each_file_what_it_gives_alone(tmp_path, registry):
    """Files of several shapes cleaned together (one query per shape) give, file by
    file, exactly what each gives alone: rows, quarantine, x marks, counts, messages;
    a file whose CSV cannot be parsed is set aside alone, the others load."""
    rows = example_rows()
    (tmp_path / "a").mkdir()
    example = tmp_path / "a" / "dossiers.csv"
    example.write_bytes(EXAMPLE.read_bytes())
    numbered = tmp_path / "a" / "numbered.csv"  # the same shape, a numbering row and a totals row
    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    width = len(next(csv.reader([text[0]])))
    numbered.write_text(
        "\n".join([text[0], ",".join(str(i) for i in range(1, width + 1)), *text[1:4], "Tổng cộng" + "," * (width - 1)]) + "\n",
        encoding="utf-8",
    )
    book = tmp_path / "so_theo_doi.xlsx"
    write_xlsx(book, rows)
    marks = tmp_path / "x.csv"
    write_csv(marks, [
        {**BASE, "dossier_id": "X-1", "complaint": "x", "synced": "x"},
        {**BASE, "dossier_id": "X-2", "complaint": "", "synced": "không"},
        {**BASE, "dossier_id": "X-3", "complaint": "X", "synced": ""},
    ], [*BASE, "complaint", "synced"])
    bad_date = tmp_path / "bad.csv"
    write_csv(bad_date, [{**BASE, "dossier_id": "B-1", "received_at": "31/02/2024"}, {**BASE, "dossier_id": "B-2"}], list(BASE))
    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(BASE) + "\n" + 'Z-1,001,,"1.001776"x,4,,10/01/2024 08:00,,,,\n', encoding="utf-8")
    files = [example, book, marks, broken, numbered, bad_date]
    items = [(p, p.relative_to(tmp_path).as_posix()) for p in files]
    together = ingest_files(items, registry, now=NOW)
    alone = [ingest_file(p, registry, now=NOW, source_name=name) for p, name in items]
    assert [r.status for r in together] == ["loaded", "loaded", "loaded", "rejected", "loaded", "loaded"]
    assert "cannot be parsed as CSV" in together[3].message
    assert together[4].rows_read == 3  # neither the numbering row nor the totals row
    assert together[5].rows_quarantined == 1
    for t, a in zip(together, alone):
        assert result_text(t) == result_text(a)


def test_a_line_longer_than_its_header_is_misaligned_row_first_alone_or_in_a_batch(tmp_path, registry):
    """A CSV line with a cell past its header that is not blank is misaligned_row
    before any other reason (no cell of it can be trusted: here its id is missing and
    its date bad); files of one shape, with and without such lines, give together
    what they give alone; rows read = accepted + quarantined."""
    header = ",".join(BASE)

    def line(i: int, **changes: str) -> str:
        return ",".join({**BASE, "dossier_id": f"S-{i}", **changes}.values())

    clean, shifted = tmp_path / "clean.csv", tmp_path / "shifted.csv"
    clean.write_text("\n".join([header, line(1), line(2) + ","]) + "\n", encoding="utf-8")
    shifted.write_text("\n".join([
        header, line(3), line(4) + ",Hoàn Kiếm", line(5, dossier_id="", received_at="31/02/2024") + ",,x",
        line(6, received_at="31/02/2024"),
    ]) + "\n", encoding="utf-8")
    items = [(clean, "clean.csv"), (shifted, "shifted.csv")]
    together = ingest_files(items, registry, now=NOW)
    alone = [ingest_file(p, registry, now=NOW, source_name=name) for p, name in items]
    for t, a in zip(together, alone):
        assert result_text(t) == result_text(a)
    c, s = together
    assert (c.rows_read, c.rows_accepted, c.rows_quarantined) == (2, 2, 0)
    assert (s.rows_read, s.rows_accepted, s.rows_quarantined) == (4, 1, 3)
    assert s.accepted["dossier_id"].to_list() == ["S-3"]
    q = s.quarantine.sort("source_row")
    assert list(zip(q["source_row"], q["reason"])) == [(2, "misaligned_row"), (3, "misaligned_row"), (4, "bad_date")]
    assert q["dossier_id"].to_list() == ["S-4", None, "S-6"]


def test_a_withheld_value_beside_other_quarantined_rows_in_a_batch_reads(tmp_path, registry):
    """A phone typed into a date column (withheld) and a row with no id, in a file read
    in one batch with a clean one: the run had crashed in Polars ('assertion failed:
    i < self.len()'), the quarantined rows' columns not cut alike."""
    header = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    bad = tmp_path / "zz-bad.csv"
    bad.write_text(
        header + "\n"
        "WB-002,001,1.001776,2,10,,2024-03-04 08:00:00,2024-03-10 00:00:00,0912345678,,,true,true,true,true,true,,5,\n"
        ",001,1.001776,2,10,,2024-03-05 08:00:00,2024-03-10 00:00:00,2024-03-08 10:00:00,,,true,true,true,true,true,,5,\n",
        encoding="utf-8",
    )
    clean, held = ingest_files([(EXAMPLE, "dossiers.csv"), (bad, "zz-bad.csv")], registry, now=NOW)
    assert clean.rows_quarantined == 0
    assert held.quarantine.select("source_row", "reason", "finished_at").rows() == [
        (1, "bad_date", "<đã ẩn: 10 ký tự>"), (2, "missing_id", "2024-03-08 10:00:00")]


@pytest.mark.parametrize(
    "changes, reason, field, value",
    [
        ({"dossier_id": ""}, "missing_id", "dossier_id", None),
        ({"unit_code": "", "unit_name": ""}, "missing_field", "unit_code", None),
        ({"received_at": "", "due_at": "99/99/2024"}, "missing_field", "received_at", None),
        ({"received_at": "31/02/2024"}, "bad_date", "received_at", "31/02/2024"),
        ({"due_at": "2024-02-30"}, "bad_date", "due_at", "2024-02-30"),
        ({"finished_at": "0912345678"}, "bad_date", "finished_at", "<đã ẩn: 10 ký tự>"),
        ({"unit_code": "999"}, "unknown_unit", "unit_code", "999"),
        ({"unit_code": "", "unit_name": "Phường Không Có"}, "unknown_unit", "unit_name", "Phường Không Có"),
        ({"received_at": "02/03/2024 08:00"}, "future_date", "received_at", "2024-03-02 08:00:00"),
        ({"finished_at": "09/01/2024 17:00", "returned_at": "09/01/2024 18:00"}, "chronology",
         "finished_at, returned_at", "2024-01-09 17:00:00; 2024-01-09 18:00:00"),
        ({"due_at": "09/01/2024"}, "chronology", "due_at", "2024-01-09 00:00:00"),
        ({"status": "9"}, "finished_no_end", "finished_at", None),
    ],
)
def test_the_listing_names_the_field_of_each_reason(tmp_path, registry, changes, reason, field, value):
    """`scoreboard quarantine` (transforms.quarantine): the field a reason is about and its
    value as the quarantine keeps it (a phone withheld)."""
    from transforms.quarantine import reason_fields

    res = one_row(tmp_path, registry, **changes)
    listed = reason_fields(res.quarantine.with_columns(ingested_at=pl.lit(NOW)))
    assert listed.rows() == [("batch/one.csv", 1, field, reason, value)]
