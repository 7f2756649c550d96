"""Personal data never enters (dossier-log.md): not the warehouse, the quarantine,
a log, Dagster's event log or a published file.

Fake names, identity numbers, phone numbers, e-mails, addresses, an officer's name
and free-text summaries are planted in personal columns of every input format (CSV
UTF-8, CSV Windows-1258 with ``;``, XLSX with a banner, JSON, JSON Lines, Parquet)
and of every real export shape (tests/real_shapes.py: the national sync envelope and
its bare array with their nested lists, an HTML list saved as .xls with the officer
column, the printed list as binary .xls, the "Sổ theo dõi" book), and of a CSV written
without quotes (a comma in an address moves the cells after it), on accepted rows
and on rows that are quarantined, and in files that are set aside. The whole pipeline then runs on a
persistent Dagster instance with every log captured at DEBUG, and every place it
writes is searched for every planted value, in every encoding it could be stored in.
The only place they may remain is the set-aside files themselves (the user's files,
moved aside) and the user's files left in the landing folder.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import gzip
import io
import json
import logging
import re
import unicodedata
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import xlsxwriter

from pipelines import warehouse as wh
from pipelines.cli import run_pipeline
from pipelines.ingestion import REJECTED_DIR, ingest_landing
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import to_cp1258
from transforms.evidence import EVIDENCE_SCHEMA as EVIDENCE_COLUMNS

EXAMPLE = Path(__file__).parent / "fixtures" / "example"

# personal column -> planted value
PERSONAL = {
    "Họ tên": "Nguyễn Thị Hoa Mai",
    "Chủ hồ sơ": "Trần Quốc Bảo Ngọc",
    "Số CCCD": "001234567890",
    "CMND": "162534879",
    "Số định danh": "079188001122",
    "Số điện thoại": "0912345678",
    "Email": "hoa.mai.canary@example.vn",
    "Địa chỉ": "Số 7 ngõ 15 phố Hàng Bạc, Hoàn Kiếm",
    "Người nhận hồ sơ": "Đinh Công Cán Bộ",  # the officer
    "Trích yếu": "Đăng ký khai sinh cho cháu Nguyễn Thị Hoa Mai",  # a free-text summary
}
# fragments that would betray a value cut or re-cased on the way
FRAGMENTS = ["Hoa Mai", "Bảo Ngọc", "hoa.mai.canary", "Hàng Bạc", "912345678", "1234567890", "88001122", "Cán Bộ"]
# the same planted values in the real shapes' personal fields
REAL_PERSONAL = {
    "name": PERSONAL["Họ tên"], "id": PERSONAL["Số CCCD"], "phone": PERSONAL["Số điện thoại"],
    "email": PERSONAL["Email"], "address": PERSONAL["Địa chỉ"], "officer": PERSONAL["Người nhận hồ sơ"],
}

CANON = {
    "dossier_id": "Mã hồ sơ",
    "unit_code": "Mã đơn vị",
    "procedure_code": "Mã TTHC",
    "procedure_name": "Tên TTHC",
    "status": "Trạng thái",
    "received_at": "Ngày tiếp nhận",
    "due_at": "Ngày hẹn trả",
    "returned_at": "Ngày trả kết quả",
}


def records(fmt: str) -> list[dict[str, str]]:
    """Two accepted rows and two quarantined ones, each carrying every personal value."""
    base = [
        {"dossier_id": f"PD-{fmt}-1", "unit_code": "001", "procedure_code": "1.001776", "procedure_name": "Đăng ký khai sinh",
         "status": "10", "received_at": "02/01/2024 08:00", "due_at": "10/01/2024", "returned_at": "08/01/2024 09:00"},
        {"dossier_id": f"PD-{fmt}-2", "unit_code": "00001", "procedure_code": "1.001193", "procedure_name": "Chứng thực bản sao",
         "status": "4", "received_at": "03/01/2024 09:30", "due_at": "05/01/2024", "returned_at": ""},
        # quarantined: missing_id
        {"dossier_id": "", "unit_code": "001", "procedure_code": "1.001776", "procedure_name": "Đăng ký kết hôn",
         "status": "2", "received_at": "04/01/2024 10:00", "due_at": "12/01/2024", "returned_at": ""},
        # quarantined: bad_date
        {"dossier_id": f"PD-{fmt}-4", "unit_code": "002", "procedure_code": "1.001776", "procedure_name": "Cấp bản sao",
         "status": "2", "received_at": "31/02/2024 10:00", "due_at": "12/01/2024", "returned_at": ""},
    ]
    out = []
    for r in base:
        rec = {CANON[k]: v for k, v in r.items()}
        # personal columns between and after the canonical ones, as exports have them
        rec = {"Họ tên": PERSONAL["Họ tên"], **rec, **{k: v for k, v in PERSONAL.items() if k != "Họ tên"}}
        out.append(rec)
    return out


def csv_text(rows: list[dict], sep: str) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=sep, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_inputs(landing: Path) -> None:
    landing.mkdir(parents=True)
    (landing / "utf8.csv").write_text(csv_text(records("csv"), ","), encoding="utf-8")
    (landing / "Quận Ba Đình" / "cp1258.csv").parent.mkdir()
    (landing / "Quận Ba Đình" / "cp1258.csv").write_bytes(to_cp1258(csv_text(records("win"), ";")))

    rows = records("xlsx")
    wb = xlsxwriter.Workbook(str(landing / "banner.xlsx"))
    ws = wb.add_worksheet("Danh sách")
    ws.write(0, 0, "UBND QUẬN BA ĐÌNH")
    ws.write(1, 0, "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ")
    ws.write_row(3, 0, ["STT", *rows[0]])
    for i, r in enumerate(rows, start=1):
        ws.write_number(3 + i, 0, i)
        for j, v in enumerate(r.values(), start=1):
            ws.write_string(3 + i, j, v)
    ws.write_row(4 + len(rows), 0, ["Tổng cộng", len(rows)])
    wb.close()

    (landing / "array.json").write_text(json.dumps(records("json"), ensure_ascii=False, indent=1), encoding="utf-8")
    (landing / "lines.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records("jsonl")) + "\n", encoding="utf-8"
    )
    pl.DataFrame(records("parquet")).write_parquet(landing / "table.parquet")

    write_real_shapes(landing)
    write_unquoted(landing / UNQUOTED)

    # set aside: no recognisable header at all, only personal columns
    only_personal = [dict(PERSONAL), dict(PERSONAL)]
    (landing / "khong-tieu-de.csv").write_text(csv_text(only_personal, ","), encoding="utf-8")
    # set aside: a header with two canonical fields but without the required ones
    wb = xlsxwriter.Workbook(str(landing / "thieu-cot.xlsx"))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["Mã hồ sơ", "Trạng thái", *PERSONAL])
    ws.write_row(1, 0, ["PD-x-1", "2", *PERSONAL.values()])
    wb.close()


def write_real_shapes(landing: Path) -> None:
    """Each real shape with one accepted and one quarantined row (units of the
    example registry, named as those systems name them)."""
    from tests import real_shapes as rs

    p = REAL_PERSONAL
    rs.write_sync_envelope(landing / "dvcqg" / "dongbo.json", [
        dict(id="RS-sync-1", received="2024-01-03T08:00:00", due="2024-01-10T17:00:00", status="4"),
        dict(id="RS-sync-2", received="20240230", status="2"),  # bad_date
    ], "00001", p)
    rs.write_sync_array(landing / "dvcqg" / "mang.json", [
        dict(id="RS-arr-1", received="2024-01-04T08:00:00", status="2", unit_name="UBND Quận Ba Đình"),
        dict(id="", received="2024-01-04T08:00:00", status="2", unit_name="UBND Quận Ba Đình"),  # missing_id
    ], p)
    rs.write_danh_sach(landing / "Danh sách hồ sơ.xls", [
        dict(unit_name="Phường Phúc Xá", name="Đăng ký khai sinh", id="RS-html-1", status="10",
             received="2024-01-05T08:00:00", due="2024-01-09T17:00:00", finished="2024-01-08T08:00:00"),
        dict(unit_name="Phường Phúc Xá", name="Đăng ký khai sinh", id="RS-html-2", status="10",
             received="2024-01-05T08:00:00", finished="2024-01-04T08:00:00"),  # chronology
    ], p, officer=True)
    rs.write_printed_list_xls(landing / "danh_sach_in.xls", [
        dict(id="RS-xls-1", name="Chứng thực bản sao", unit_name="Phường Phúc Xá", received="2024-01-08", due="2024-01-09"),
        dict(id="RS-xls-2", name="Chứng thực bản sao", unit_name="Phường Phúc Xá", received_text="31/02/2024"),  # bad_date
    ], p, banner=("UBND PHƯỜNG PHÚC XÁ",))
    # set aside: the book has no procedure column
    rs.write_so_theo_doi(landing / "so_theo_doi.xlsx", [
        dict(id="RS-so-1", received="2024-01-08T08:00:00", due="2024-01-09T17:00:00")], "UBND Phường Phúc Xá", p)


def write_unquoted(path: Path) -> None:
    """An export written without quotes, the address before the name and the
    procedure's name last: a comma in the address moves the name into the procedure's
    column, where it reads (and, accepted, would be published among the late
    dossiers). Both rows are open past their due date."""
    head = ["Mã hồ sơ", "Mã đơn vị", "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả", "Địa chỉ", "Họ tên", "Tên TTHC"]
    rows = [[f"PD-nq-{i}", "001", "4", "03/01/2024 09:30", "05/01/2024", address, PERSONAL["Họ tên"], "Chứng thực bản sao"]
            for i, address in ((1, "Số 7 ngõ 15 phố Hàng Bạc"), (2, PERSONAL["Địa chỉ"]))]
    path.write_text("\r\n".join(",".join(cells) for cells in [head, *rows]) + "\r\n", encoding="utf-8")


UNQUOTED = "khong-ngoac.csv"  # its second row: misaligned_row
REAL_LOADED = {
    "dvcqg/dongbo.json": "bad_date", "dvcqg/mang.json": "missing_id",
    "Danh sách hồ sơ.xls": "chronology", "danh_sach_in.xls": "bad_date",
}
SET_ASIDE = ("khong-tieu-de.csv", "thieu-cot.xlsx", "so_theo_doi.xlsx")


def needles() -> dict[str, list[bytes]]:
    """Every planted value and fragment in each form it could be stored in: UTF-8
    (NFC and NFD), UTF-16, Windows-1258, and JSON/Python escapes of non-ASCII."""
    out: dict[str, list[bytes]] = {}
    for value in [*PERSONAL.values(), *FRAGMENTS]:
        forms = set()
        for text in (unicodedata.normalize("NFC", value), unicodedata.normalize("NFD", value)):
            forms.add(text.encode("utf-8"))
            forms.add(text.encode("utf-16-le"))
            forms.add(json.dumps(text)[1:-1].encode("ascii"))
            forms.add(text.encode("ascii", "backslashreplace"))
            forms.add(text.encode("ascii", "xmlcharrefreplace"))
        forms.add(to_cp1258(value))
        out[value] = sorted(forms)
    return out


NEEDLES = needles()


def leaks(data: bytes | str) -> list[str]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return [value for value, forms in NEEDLES.items() if any(f in data for f in forms)]


def expand(path: Path) -> bytes:
    """A file's bytes, plus its members when it is a zip (xlsx), its rows as CSV when
    it is Parquet, and the CSV inside a workbook recipe (data/…/*.js: gzip, base64),
    all of which compress, so raw bytes alone prove nothing."""
    data = path.read_bytes()
    parts = [data]
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as zf:
            parts += [zf.read(n) for n in zf.namelist()]
    if data.startswith(b"PAR1"):
        parts.append(pl.read_parquet(path).write_csv().encode("utf-8"))
    recipe = RECIPE.search(data)
    if recipe:
        payload = json.loads(recipe.group(1))
        parts.append(gzip.decompress(base64.b64decode(payload["csv"])))
        parts += [v.encode("utf-8") for v in payload["parts"].values()]
    return b"\n".join(parts)


RECIPE = re.compile(rb"window\.parWorkbook\((.*)\);\s*$", re.S)


LOGGERS = ("dagster", "scoreboard", "pipelines", "transforms", "dashboards", "duckdb", "polars")


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    """One whole run for the module: a persistent Dagster instance (DAGSTER_HOME with
    an empty dagster.yaml), every log record at DEBUG captured by pytest's caplog
    handler, stdout/stderr captured too."""
    from _pytest.logging import LogCaptureHandler, catching_logs

    tmp_path = tmp_path_factory.mktemp("personal")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("", encoding="utf-8")
    landing = tmp_path / "landing"
    write_inputs(landing)
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    handler = LogCaptureHandler()
    out, err = io.StringIO(), io.StringIO()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", "2024-03-01T12:00:00")
        mp.setenv("DAGSTER_HOME", str(home))
        try:
            for name in LOGGERS:
                logging.getLogger(name).setLevel(logging.DEBUG)
            with catching_logs(handler, level=logging.DEBUG), redirect_stdout(out), redirect_stderr(err):
                summary = run_pipeline(settings, warehouse)
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
        yield {
            "tmp": tmp_path, "landing": landing, "home": home, "warehouse": Path(warehouse.path),
            "site": tmp_path / "site", "summary": summary, "logs": handler.stream.getvalue(),
            "stdout": out.getvalue() + err.getvalue(), "records": list(handler.records),
        }


def test_the_pipeline_really_read_the_personal_files(pipeline_run):
    """The planted rows went through every step (so the searches below mean something)."""
    with duckdb.connect(str(pipeline_run["warehouse"]), read_only=True) as con:
        files = dict(con.execute("SELECT source_file, status FROM ingested_files").fetchall())
        dossiers = {r[0] for r in con.execute("SELECT dossier_id FROM dossiers").fetchall()}
        reasons = con.execute("SELECT source_file, reason FROM quarantine ORDER BY ALL").fetchall()
        dropped = dict(con.execute("SELECT source_file, dropped_columns FROM ingested_files").fetchall())
    loaded = ["Quận Ba Đình/cp1258.csv", "array.json", "banner.xlsx", "lines.jsonl", "table.parquet", "utf8.csv"]
    assert {f for f, s in files.items() if s == "loaded"} == set(loaded) | set(REAL_LOADED) | {UNQUOTED}
    assert {f for f, s in files.items() if s == "rejected"} == set(SET_ASIDE)
    assert len(dossiers) == 12 + 4 + 1  # two per format, one per real shape, one unquoted
    assert "PD-nq-1" in dossiers
    assert sorted(reasons) == sorted(
        [(f, "missing_id") for f in loaded] + [(f, "bad_date") for f in loaded] + list(REAL_LOADED.items())
        + [(UNQUOTED, "misaligned_row")])
    for f in loaded:  # only the names of the dropped columns are recorded
        assert set(PERSONAL) <= set(json.loads(dropped[f])), f
    real = {
        "dvcqg/dongbo.json": {"ChuHoSo", "SoGiayToChuHoSo", "Email", "SoDienThoai", "TrichYeuHoSo", "DinhDanhCHS", "TaiLieuNop"},
        "dvcqg/mang.json": {"ChuHoSo", "TrichYeuHoSo", "ThongTinKhac"},
        "Danh sách hồ sơ.xls": {"Người nộp", "Chủ hồ sơ", "Địa chỉ", "Người tiếp nhận"},
        "danh_sach_in.xls": {"Tên cá nhân, tổ chức", "Địa chỉ, số điện thoại"},
    }
    for f, names in real.items():
        assert names <= set(json.loads(dropped[f])), f
    for name in SET_ASIDE:
        assert (pipeline_run["landing"] / REJECTED_DIR / name).is_file()
    assert "khong-tieu-de.csv" in pipeline_run["logs"], "the logs were not captured"


def test_no_personal_value_in_the_warehouse_tables(pipeline_run):
    with duckdb.connect(str(pipeline_run["warehouse"]), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        assert {"dossiers", "dossier_versions", "quarantine", "ingested_files", "file_accounting"} <= set(tables)
        found = {}
        for table in tables:
            frame = con.sql(f'SELECT * FROM "{table}"').pl()
            text = frame.select(pl.all().cast(pl.Utf8)).write_csv() + " ".join(frame.columns)
            if leaks(text):
                found[table] = leaks(text)
    assert not found, f"personal values in warehouse tables: {found}"


def test_no_personal_value_in_the_warehouse_file_bytes(pipeline_run):
    db = pipeline_run["warehouse"]
    with duckdb.connect(str(db)) as con:
        con.execute("CHECKPOINT")
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    found = {p.name: leaks(p.read_bytes()) for p in files}
    assert not any(found.values()), found


def test_no_personal_value_in_any_log(pipeline_run):
    assert not leaks(pipeline_run["logs"]), "in the Python logs"
    assert not leaks(pipeline_run["stdout"]), "on stdout/stderr"
    for rec in pipeline_run["records"]:
        assert not leaks(str(rec.__dict__)), rec.getMessage()


def test_no_personal_value_in_dagsters_event_log_or_metadata(pipeline_run):
    from dagster._serdes import serialize_value

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(pipeline_run["home"]))
        instance = dg.DagsterInstance.get()
    assert not instance.is_ephemeral
    runs = instance.get_runs()
    assert len(runs) >= 3  # ingest, scoring, publication
    n_events = 0
    for run in runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert not leaks(serialize_value(run)), f"run {run.run_id}"
        for entry in instance.all_logs(run.run_id):
            n_events += 1
            text = serialize_value(entry) + str(entry.user_message)
            assert not leaks(text), f"event {entry.dagster_event_type} of run {run.run_id}: {leaks(text)}"
    assert n_events > 20
    key = dg.AssetKey("dossiers")
    event = instance.get_latest_materialization_event(key)
    metadata = event.asset_materialization.metadata
    assert metadata["files_set_aside"].value == len(SET_ASIDE)
    assert not leaks(str({k: v.value for k, v in metadata.items()}))
    # and whatever Dagster keeps on disk (sqlite storage, compute logs)
    found = {str(p.relative_to(pipeline_run["home"])): leaks(p.read_bytes())
             for p in pipeline_run["home"].rglob("*") if p.is_file()}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_no_personal_value_in_the_published_site(pipeline_run):
    site = pipeline_run["site"].resolve()
    files = [p for p in site.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".xlsx" for p in files)
    found = {str(p.relative_to(site)): leaks(expand(p)) for p in files}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_the_evidence_lists_late_dossiers_and_nothing_personal(pipeline_run):
    """The dossiers behind the late counts are published by id and procedure (the
    accepted dossiers still open past their due date are there), the personal values
    of the same rows nowhere: not in the period's CSV, its workbook's recipe, nor the
    unit page's own file (their CSV decompressed by expand)."""
    site = pipeline_run["site"].resolve()
    csv_text = (site / "data" / "evidence-2024-01.csv").read_text(encoding="utf-8-sig")
    late = {line.split(",")[5] for line in csv_text.splitlines()[1:]}
    assert {"PD-csv-2", "PD-win-2", "PD-json-2", "RS-sync-1", "PD-nq-1"} <= late
    files = [site / "data" / "evidence-2024-01.csv", site / "data" / "evidence-2024-01.js",
             *sorted((site / "data" / "evidence").rglob("*.js"))]
    assert len(files) > 2
    for path in files:
        content = expand(path)
        assert b"PD-csv-2" in content or b"RS-" in content or b"PD-" in content, path
        assert not leaks(content), (path, leaks(content))
    header = csv_text.splitlines()[0].split(",")
    assert header == list(EVIDENCE_COLUMNS)


def test_no_personal_value_anywhere_else_on_disk(pipeline_run):
    """Everything the run wrote under tmp_path (site releases, warehouse, reason files,
    Dagster home) except the user's own files: the set-aside files moved under
    _rejected/, and the ingested ones, moved to the archive (pipelines/retention.py)
    until their retention runs out."""
    tmp, landing = pipeline_run["tmp"], pipeline_run["landing"]
    inputs = {p for p in landing.rglob("*") if p.is_file() and not p.name.endswith(".reason.txt")}
    assert {p.name for p in inputs} == set(SET_ASIDE)
    archived = {p for p in (tmp / "archive").rglob("*") if p.is_file()}
    assert {p.relative_to(tmp / "archive" / "2024-03-01").as_posix() for p in archived} == {
        "Quận Ba Đình/cp1258.csv", "array.json", "banner.xlsx", "lines.jsonl", "table.parquet", "utf8.csv",
        *REAL_LOADED, UNQUOTED}
    inputs |= archived
    checked = []
    found = {}
    for p in tmp.rglob("*"):
        if not p.is_file() or p in inputs:
            continue
        checked.append(p)
        hit = leaks(expand(p))
        if hit:
            found[str(p.relative_to(tmp))] = hit
    reasons = [p for p in checked if p.name.endswith(".reason.txt")]
    assert len(reasons) == len(SET_ASIDE)
    for p in reasons:
        text = p.read_text(encoding="utf-8")
        assert text.startswith(p.name.removesuffix(".reason.txt") + ":")
    assert not found, found


def test_the_set_aside_files_still_hold_the_users_data(pipeline_run):
    """Sanity check of the search: the one place the values may be is found."""
    for name in SET_ASIDE:
        assert leaks(expand(pipeline_run["landing"] / REJECTED_DIR / name))


# ------------------------------------------- a row shifted by an unquoted comma
#
# Exports are often written without quoting: a comma inside the applicant's name or
# address ("Số 12 ngõ 34 phố Hàng Gai, Hoàn Kiếm") makes the row one cell longer
# than the header, the cells after it move one column right, and the canonical
# columns get the personal text. Such a row is quarantined (misaligned_row: a cell
# past the header is not blank; or its date is no date): the quarantine must say
# which file, which row and why, and never what the personal cell held, and no
# shifted row may be accepted because its moved cells happen to read. Likewise a
# personal value typed into a canonical field of an otherwise aligned row.

SHIFT_NAME = "Nguyễn Văn Khải"
SHIFT_SECOND = "Lê Thị Thu"  # a second applicant after a comma in the name cell
SHIFT_STREET = "Số 12 ngõ 34 phố Hàng Gai"
SHIFT_ADDRESS = f"{SHIFT_STREET}, Phường Hàng Trống, Hoàn Kiếm"
SHIFT_PHONE = "0987654321"
SHIFT_CCCD = "001203004567"
SHIFT_CMND = "162534879"
SHIFT_EMAIL = "khai.canary@example.vn"
SHIFT_VALUES = [SHIFT_NAME, SHIFT_SECOND, SHIFT_STREET, SHIFT_ADDRESS, SHIFT_PHONE, SHIFT_CCCD, SHIFT_CMND,
                SHIFT_EMAIL]
# fragments a shifted cell would leave (the part of the address after a comma…)
SHIFT_FRAGMENTS = ["Văn Khải", "Thị Thu", "Hàng Gai", "Hàng Trống", "87654321", "203004567", "2534879",
                   "khai.canary"]


def _forms(value: str) -> list[bytes]:
    forms = set()
    for text in (unicodedata.normalize("NFC", value), unicodedata.normalize("NFD", value)):
        forms.add(text.encode("utf-8"))
        forms.add(json.dumps(text)[1:-1].encode("ascii"))
    return sorted(forms)


SHIFT_NEEDLES = {v: _forms(v) for v in [*SHIFT_VALUES, *SHIFT_FRAGMENTS]}


def unquoted_csv(header: list[str], rows: list[list[str]]) -> bytes:
    """A CSV as careless exporters write it: cells joined by commas, nothing quoted."""
    return ("\r\n".join(",".join(cells) for cells in [header, *rows]) + "\r\n").encode("utf-8")


def shifted_inputs(landing: Path) -> None:
    landing.mkdir(parents=True)
    # "Danh sách hồ sơ"-like: the applicant's columns between the status and the dates
    head_a = ["STT", "Mã hồ sơ", "Mã đơn vị", "Tên thủ tục hành chính", "Trạng thái", "Họ tên chủ hồ sơ",
              "Địa chỉ chủ hồ sơ", "Số điện thoại", "Số CCCD", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày trả kết quả"]
    dates = ["03/01/2024 09:30", "12/01/2024", "10/01/2024 10:00"]
    (landing / "lech-dia-chi.csv").write_bytes(unquoted_csv(head_a, [
        # aligned: accepted (the address has no comma)
        ["1", "LECH-A1", "001", "Đăng ký khai sinh", "10", SHIFT_NAME, SHIFT_STREET, SHIFT_PHONE, SHIFT_CCCD, *dates],
        # one comma in the address: the CCCD lands in received_at, the phone in the CCCD column
        ["2", "LECH-A2", "001", "Đăng ký khai sinh", "10", SHIFT_NAME, f"{SHIFT_STREET}, Hoàn Kiếm", SHIFT_PHONE,
         SHIFT_CCCD, *dates],
        # a comma in the name and two in the address: the end of the address lands in
        # received_at, the phone in due_at, the CCCD in returned_at
        ["3", "LECH-A3", "001", "Đăng ký khai sinh", "10", f"{SHIFT_NAME}, {SHIFT_SECOND}", SHIFT_ADDRESS,
         SHIFT_PHONE, SHIFT_CCCD, *dates],
    ]))
    # "Sổ theo dõi"-like: the applicant's name right before the dates, the unit after the address
    head_b = ["TT", "Mã hồ sơ", "Tên TTHC", "Chủ hồ sơ", "Ngày nhận", "Ngày hẹn trả", "Ngày trả kết quả",
              "Địa chỉ", "Đơn vị tiếp nhận", "Số điện thoại"]
    (landing / "so-theo-doi-lech.csv").write_bytes(unquoted_csv(head_b, [
        ["1", "LECH-B1", "Chứng thực bản sao", SHIFT_NAME, *dates, SHIFT_STREET, "Phường Phúc Xá", SHIFT_PHONE],
        # a comma in the name: the second applicant in received_at, the address in unit_name
        ["2", "LECH-B2", "Chứng thực bản sao", f"{SHIFT_NAME}, {SHIFT_SECOND}", *dates, SHIFT_STREET,
         "Phường Phúc Xá", SHIFT_PHONE],
    ]))
    # aligned rows with a personal value typed into a canonical field
    head_c = ["Mã hồ sơ", "Mã đơn vị", "Mã TTHC", "Tên TTHC", "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả",
              "Ngày trả kết quả", "Số lần bổ sung", "Đánh giá"]
    ok = ["001", "1.001776", "Đăng ký khai sinh", "10", "02/01/2024 08:00", "10/01/2024", "08/01/2024 09:00", "0", "5"]

    def typed(i: int, cells: dict[int, str] | None = None) -> list[str]:
        row = [f"GO-{i}", *ok]
        for k, v in (cells or {}).items():
            row[k] = v
        return row

    (landing / "go-nham.csv").write_bytes(unquoted_csv(head_c, [
        typed(1),  # accepted
        typed(2, {5: SHIFT_PHONE}),  # a phone as the date of receipt
        typed(3, {6: SHIFT_CCCD}),  # a CCCD as the due date
        typed(4, {7: SHIFT_NAME}),  # a name as the date of return
        typed(5, {1: SHIFT_CMND}),  # a CMND as the unit code
        typed(6, {5: "31/02/2024 08:00", 4: SHIFT_NAME, 8: SHIFT_PHONE, 9: SHIFT_EMAIL}),
        typed(7, {5: "20240230", 4: "11"}),  # a bad date and a status out of range: not personal
    ]))


def ingest_to_warehouse(tmp_path: Path, landing: Path) -> dict:
    """The landing folder ingested into a DuckDB warehouse: every table, the
    quarantine (by file and row), the accepted dossiers, the per-file accounting and
    the log messages."""
    db = tmp_path / "warehouse.duckdb"
    messages: list[str] = []
    with wh.connect(db) as con:
        ingest_landing(con, landing=landing, registry_path=EXAMPLE / "units.csv", now=dt.datetime(2024, 3, 1, 12),
                       log=messages.append)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        frames = {t: con.sql(f'SELECT * FROM "{t}"').pl() for t in tables}
        quarantine = con.sql("SELECT * FROM quarantine ORDER BY source_file, source_row").pl()
        dossiers = dict(con.execute("SELECT dossier_id, procedure_name FROM dossiers").fetchall())
        accounting = {r[0]: r[1:] for r in con.execute(
            "SELECT source_file, rows_read, rows_accepted, rows_quarantined, rows_superseded FROM file_accounting"
        ).fetchall()}
    return {
        "frames": frames, "dossiers": dossiers, "accounting": accounting, "messages": messages,
        "quarantine": {(r["source_file"], r["source_row"]): r for r in quarantine.iter_rows(named=True)},
    }


def assert_no_shift_needle(run: dict) -> None:
    """No personal text of the shifted rows in any column of any table, nor in the
    messages."""
    found = {}
    for table, frame in run["frames"].items():
        text = (frame.select(pl.all().cast(pl.Utf8)).write_csv() + " ".join(frame.columns)).encode("utf-8")
        hits = [v for v, forms in SHIFT_NEEDLES.items() if any(f in text for f in forms)]
        if hits:
            found[table] = hits
    assert not found, f"personal values in warehouse tables: {found}"
    messages = "\n".join(run["messages"]).encode()
    assert not [v for v, forms in SHIFT_NEEDLES.items() if any(f in messages for f in forms)]


def test_a_shifted_or_mistyped_row_is_quarantined_without_its_personal_text(tmp_path):
    landing = tmp_path / "landing"
    shifted_inputs(landing)
    run = ingest_to_warehouse(tmp_path, landing)
    # the rows really went through: aligned ones accepted, the others quarantined
    assert set(run["dossiers"]) == {"LECH-A1", "LECH-B1", "GO-1"}
    got = run["quarantine"]
    assert {k: v["reason"] for k, v in got.items()} == {
        # a line longer than the header: misaligned_row, whatever its cells read as
        ("lech-dia-chi.csv", 2): "misaligned_row", ("lech-dia-chi.csv", 3): "misaligned_row",
        ("so-theo-doi-lech.csv", 2): "misaligned_row",
        ("go-nham.csv", 2): "bad_date", ("go-nham.csv", 3): "bad_date", ("go-nham.csv", 4): "bad_date",
        ("go-nham.csv", 5): "unknown_unit", ("go-nham.csv", 6): "bad_date", ("go-nham.csv", 7): "bad_date",
    }
    assert_no_shift_needle(run)
    # what an engineer needs to mend the file is still there
    a2 = got[("lech-dia-chi.csv", 2)]
    assert (a2["dossier_id"], a2["unit_code"], a2["status"]) == ("LECH-A2", "001", "10")
    assert a2["received_at"] == "<đã ẩn: 12 ký tự>"  # something was there, withheld: not an empty cell
    assert a2["due_at"] == "2024-01-03 09:30:00"  # a date that read (one column off)
    # the row shows a shift: its free text may be the applicant's, and is withheld too
    assert a2["procedure_name"] == "<đã ẩn: 17 ký tự>"
    assert got[("go-nham.csv", 5)]["unit_code"] == "<đã ẩn: 9 ký tự>"
    g6 = got[("go-nham.csv", 6)]
    assert g6["received_at"] == "31/02/2024 08:00"  # a date that does not exist: kept as written
    assert (g6["dossier_id"], g6["unit_code"], g6["procedure_code"]) == ("GO-6", "001", "1.001776")
    g7 = got[("go-nham.csv", 7)]
    assert (g7["received_at"], g7["status"]) == ("20240230", "11")


# the personal columns after the dates, the procedure's name last: a row moved by a
# comma still reads (its procedure name is the end of the address or the name)
MISALIGNED_HEAD = ["STT", "Mã hồ sơ", "Mã đơn vị", "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày trả kết quả",
                   "Họ tên chủ hồ sơ", "Số điện thoại", "Địa chỉ", "Tên thủ tục hành chính"]
DONE = ["10", "02/01/2024 08:00", "10/01/2024", "08/01/2024 09:00"]  # status and dates of a finished dossier
OPEN = ["4", "05/01/2024 09:00", "12/01/2024", ""]


def test_a_line_longer_than_its_header_is_quarantined_even_when_its_cells_read(tmp_path):
    """A comma left unquoted in the address or the name moves the procedure's name out
    and the address (or the name) into it: every cell still reads, and the row was
    accepted with the applicant's address as its procedure, stored and published. A
    line with a cell past the header that is not blank is misaligned_row (file and
    row kept; no free text of it kept), the file's other rows load, and the file's
    rows add up."""
    landing = tmp_path / "landing"
    landing.mkdir()
    two_parts = f"{SHIFT_STREET}, Phường Hàng Trống"
    (landing / "danh-sach.csv").write_bytes(unquoted_csv(MISALIGNED_HEAD, [
        ["1", "MIS-1", "001", *DONE, SHIFT_NAME, SHIFT_PHONE, SHIFT_STREET, "Đăng ký khai sinh"],
        # one comma in the address: the procedure is "Phường Hàng Trống"
        ["2", "MIS-2", "001", *DONE, SHIFT_NAME, SHIFT_PHONE, two_parts, "Đăng ký khai sinh"],
        # a comma in the name and two in the address: the procedure is the street
        ["3", "MIS-3", "00001", *OPEN, f"{SHIFT_NAME}, {SHIFT_SECOND}", SHIFT_PHONE, SHIFT_ADDRESS, "Chứng thực bản sao"],
        ["4", "MIS-4", "00001", *OPEN, SHIFT_NAME, SHIFT_PHONE, SHIFT_STREET, "Chứng thực bản sao"],
    ]))
    # every line, the header's too, ends with a separator: the moved procedure name
    # lands in the header's empty last cell (a cell past the header), not past the line
    head = ["Mã hồ sơ", "Mã đơn vị", "Ngày tiếp nhận", "Ngày hẹn trả", "Chủ hồ sơ", "Địa chỉ", "Tên TTHC", ""]
    (landing / "dau-phay-cuoi.csv").write_bytes(unquoted_csv(head, [
        ["TS-1", "001", "03/01/2024 08:00", "09/01/2024", SHIFT_NAME, SHIFT_STREET, "Đăng ký khai sinh", ""],
        ["TS-2", "001", "03/01/2024 08:00", "09/01/2024", SHIFT_NAME, two_parts, "Đăng ký khai sinh", ""],
        ["TS-3", "001", "04/01/2024 08:00", "09/01/2024", SHIFT_NAME, SHIFT_STREET, "Đăng ký kết hôn", ""],
    ]))
    run = ingest_to_warehouse(tmp_path, landing)
    assert run["dossiers"] == {"MIS-1": "Đăng ký khai sinh", "MIS-4": "Chứng thực bản sao",
                               "TS-1": "Đăng ký khai sinh", "TS-3": "Đăng ký kết hôn"}
    got = run["quarantine"]
    assert {k: v["reason"] for k, v in got.items()} == {
        ("danh-sach.csv", 2): "misaligned_row", ("danh-sach.csv", 3): "misaligned_row",
        ("dau-phay-cuoi.csv", 2): "misaligned_row",
    }
    assert_no_shift_needle(run)
    # rows read = accepted + quarantined + superseded
    assert run["accounting"] == {"danh-sach.csv": (4, 2, 2, 0), "dau-phay-cuoi.csv": (3, 2, 1, 0)}
    # what tells the row: its file and number, its id and the dates before the comma
    m2 = got[("danh-sach.csv", 2)]
    assert (m2["dossier_id"], m2["unit_code"], m2["status"], m2["received_at"]) == (
        "MIS-2", "001", "10", "2024-01-02 08:00:00")
    # its free text is withheld: it read as a procedure, yet it is the address's end
    assert m2["procedure_name"] == "<đã ẩn: 17 ký tự>"
    assert got[("danh-sach.csv", 3)]["procedure_name"] == f"<đã ẩn: {len(SHIFT_STREET)} ký tự>"
    assert got[("dau-phay-cuoi.csv", 2)]["procedure_name"] == "<đã ẩn: 17 ký tự>"


def test_blank_cells_past_the_header_and_quoted_commas_are_no_shift(tmp_path):
    """A trailing separator on every line (or on some), blank cells past the header,
    and a comma inside a quoted value leave the cells where the header says: every
    row loads. A line short of cells loads with the missing ones empty."""
    landing = tmp_path / "landing"
    landing.mkdir()
    head = ",".join(MISALIGNED_HEAD)

    def line(tag: str, i: int, address: str = SHIFT_STREET) -> str:
        return ",".join([str(i), f"{tag}-{i}", "001", *DONE, SHIFT_NAME, SHIFT_PHONE, address, "Đăng ký khai sinh"])

    files = {
        # the header without, every line with a trailing separator
        "moi-dong.csv": [head, *(line("MD", i) + "," for i in (1, 2, 3))],
        # the header and every line with one; a line without it is short of a cell
        "ca-tieu-de.csv": [head + ",", *(line("TD", i) + "," for i in (1, 2, 3)), line("TD", 4)],
        # some lines only; blank cells past the header (two separators, spaces, a tab, a
        # zero-width space)
        "mot-so-dong.csv": [head, line("SD", 1), line("SD", 2) + ",", line("SD", 3) + ",,",
                            line("SD", 4) + ", ,\t", line("SD", 5) + ",\u200b", line("SD", 6)],
        # the address quoted, its commas inside the quotes
        "co-ngoac.csv": [head, line("NG", 1), line("NG", 2, f'"{SHIFT_ADDRESS}"'),
                         line("NG", 3, f'"{SHIFT_STREET}, Hoàn Kiếm"') + ","],
        # the personal columns last: a line without them is short of two cells
        "thieu-o.csv": ["Mã hồ sơ,Mã đơn vị,Tên TTHC,Trạng thái,Ngày tiếp nhận,Ngày hẹn trả,Họ tên,Địa chỉ",
                        f"TO-1,001,Đăng ký khai sinh,4,05/01/2024 09:00,12/01/2024,{SHIFT_NAME},{SHIFT_STREET}",
                        "TO-2,001,Đăng ký khai sinh,4,05/01/2024 09:00,12/01/2024"],
    }
    for name, lines in files.items():
        (landing / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    run = ingest_to_warehouse(tmp_path, landing)
    assert run["quarantine"] == {}
    assert run["accounting"] == {"moi-dong.csv": (3, 3, 0, 0), "ca-tieu-de.csv": (4, 4, 0, 0),
                                 "mot-so-dong.csv": (6, 6, 0, 0), "co-ngoac.csv": (3, 3, 0, 0),
                                 "thieu-o.csv": (2, 2, 0, 0)}
    assert len(run["dossiers"]) == 18
    assert set(run["dossiers"].values()) == {"Đăng ký khai sinh"}


def test_a_phone_an_id_or_an_e_mail_typed_into_free_text_is_withheld_from_accepted_rows(tmp_path):
    """An aligned row whose procedure's or field's cell holds the applicant's phone, CCCD,
    CMND or e-mail (typed there by a clerk) is a dossier: it loads by its procedure's
    code, with that text withheld (null, counted per field as a value that could not
    be read) — never stored, and so never in the evidence or the bottlenecks. Without a
    code, such a name names no procedure: missing_field, its text withheld in the
    quarantine. A procedure's name with numbers that are no phone stays as written."""
    landing = tmp_path / "landing"
    landing.mkdir()
    head = ["Mã hồ sơ", "Mã đơn vị", "Mã TTHC", "Tên TTHC", "Lĩnh vực", "Trạng thái", "Ngày tiếp nhận", "Ngày hẹn trả"]
    dates = ["02/01/2024 08:00", "10/01/2024"]
    law = "Cấp bản sao trích lục hộ tịch theo Nghị định 123/2015/NĐ-CP"
    (landing / "go-nham-ten.csv").write_bytes(unquoted_csv(head, [
        ["TX-1", "001", "1.001776", f"Đăng ký khai sinh {SHIFT_PHONE}", "Hộ tịch", "4", *dates],
        ["TX-2", "001", "1.001776", "Đăng ký khai sinh", f"LH {SHIFT_EMAIL}", "4", *dates],
        ["TX-3", "001", "1.001776", f"CCCD {SHIFT_CCCD}", f"CMND {SHIFT_CMND}", "4", *dates],
        ["TX-4", "001", "1.001776", "Đăng ký khai sinh", "Hộ tịch: 0987 654 321", "4", *dates],
        ["TX-5", "001", "", law, "Hộ tịch", "4", *dates],
        ["TX-6", "001", "", f"Chứng thực bản sao {SHIFT_PHONE}", "Chứng thực", "4", *dates],
    ]))
    run = ingest_to_warehouse(tmp_path, landing)
    assert run["dossiers"] == {"TX-1": None, "TX-2": "Đăng ký khai sinh", "TX-3": None,
                               "TX-4": "Đăng ký khai sinh", "TX-5": law}
    fields = dict(run["frames"]["dossiers"].select("dossier_id", "field_name").iter_rows())
    assert fields == {"TX-1": "Hộ tịch", "TX-2": None, "TX-3": None, "TX-4": None, "TX-5": "Hộ tịch"}
    counts = json.loads(run["frames"]["ingested_files"].get_column("unreadable")[0])
    assert counts == {"procedure_name": 3, "field_name": 3}
    assert {k: v["reason"] for k, v in run["quarantine"].items()} == {("go-nham-ten.csv", 6): "missing_field"}
    assert run["quarantine"][("go-nham-ten.csv", 6)]["procedure_name"] == "<đã ẩn: 29 ký tự>"
    assert_no_shift_needle(run)
