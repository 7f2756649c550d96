"""Real district exports are hostile: each case has one clear outcome.

| input                                          | outcome                                              |
|------------------------------------------------|------------------------------------------------------|
| empty file (0 bytes), .csv or .xlsx            | set aside: "the file is empty (0 bytes)"             |
| header row only (.csv, .xlsx)                  | loaded: a valid empty export, 0 rows, no error       |
| truncated .xlsx (zip cut in half)              | set aside: "not a readable spreadsheet (corrupt …)"  |
| .xlsx declaring <dimension ref="A1:XFD1048576"/> | loaded; the declared range is never allocated      |
| .xlsx with a stray value in cell XFD1048576    | set aside: "too large to read safely … XFD1048576"   |
|                                                | (the reader would abort the whole process)           |
| a 50 MB procedure_name cell in a CSV           | row loaded; procedure_name null, counted unreadable  |
| a PNG or random bytes named .csv / .json       | set aside: "not a table: the content is …"           |
| a JSON array of arrays                         | set aside; no cell value in the message              |
| paths with spaces and Vietnamese letters       | ingested normally; set aside under _rejected/ alike  |
| text cells starting with = + - @               | kept exactly, as text, in the warehouse; published   |
|                                                | CSV prefixes them with ', XLSX keeps them as strings |

Every file is a real file in tmp_path, read through the real entry points.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
import xlsxwriter

from pipelines import warehouse as wh
from pipelines.cli import run_pipeline
from pipelines.ingestion import REJECTED_DIR, ingest_landing
from pipelines.resources import ScoreboardSettings, Warehouse
from transforms.ingest import ingest_file
from transforms.normalise import MAX_TEXT_CHARS
from transforms.read import UnusableFile, read_table, sheet_extent
from transforms.units import load_registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).parent / "fixtures" / "example"
NOW = dt.datetime(2024, 3, 1, 12, 0)
HEADER = ["Mã hồ sơ", "Mã đơn vị", "Mã TTHC", "Tên TTHC", "Ngày tiếp nhận", "Trạng thái"]


def good_rows(n: int, prefix: str = "H") -> list[list[str]]:
    return [[f"{prefix}-{i}", "001", "1.001776", "Đăng ký khai sinh", f"{1 + i % 27:02d}/01/2024 08:00", "2"] for i in range(1, n + 1)]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_xlsx(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write(0, 0, "UBND QUẬN BA ĐÌNH")
    ws.write_row(2, 0, header)
    for i, r in enumerate(rows, start=3):
        ws.write_row(i, 0, r)
    wb.close()
    return path


def patch_sheet(src: Path, dst: Path, edit) -> Path:
    """Copy an .xlsx, passing the first worksheet's XML through ``edit``."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for item in zi.infolist():
            data = zi.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            zo.writestr(item, data)
    return dst


@pytest.fixture(scope="module")
def registry() -> pl.DataFrame:
    return load_registry(EXAMPLE / "units.csv")


def ingest(path: Path, registry: pl.DataFrame):
    return ingest_file(path, registry, now=NOW, source_name=path.name)


def run_landing(tmp_path: Path, files: dict[str, bytes | Path]) -> tuple[object, Path, Path]:
    """Put ``files`` (landing-relative name -> bytes or a file to copy) in a landing
    folder and run ingest_landing into a fresh warehouse."""
    landing = tmp_path / "landing"
    for name, content in files.items():
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    db = tmp_path / "warehouse.duckdb"
    messages: list[str] = []
    with wh.connect(db) as con:
        report = ingest_landing(con, landing=landing, registry_path=EXAMPLE / "units.csv", now=NOW, log=messages.append)
    report.log = messages
    return report, landing, db


def file_status(db: Path) -> dict[str, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT source_file, status, message, rows_read, rows_accepted, unreadable FROM file_accounting"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def run_isolated(code: str, *, memory_mb: int = 3000, timeout: int = 300) -> dict:
    """Run ``code`` in a child Python with an address-space limit: a reader that
    tried to allocate a huge range would die there, not take pytest down. The code
    sets ``out`` (a dict); peak RSS (MB) and wall time are added."""
    prelude = (
        "import json, resource, sys, time\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} << 20, {memory_mb} << 20))\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "t0 = time.monotonic()\n"
        "out = {}\n"
    )
    epilogue = (
        "\nout['seconds'] = time.monotonic() - t0\n"
        # VmHWM is this process's own peak: ru_maxrss would carry the parent's peak
        # over fork + exec (Linux keeps the larger of the two), so a large pytest
        # process would make every child look large
        "out['peak_mb'] = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024\n"
        "print('RESULT ' + json.dumps(out, ensure_ascii=False))\n"
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "2", "RAYON_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code + epilogue], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert proc.returncode == 0, f"the child died ({proc.returncode}): {proc.stderr[-2000:]}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


# ---------------------------------------------------------------- empty / header only


def test_an_empty_file_is_set_aside_and_the_others_still_load(tmp_path):
    report, landing, db = run_landing(
        tmp_path,
        {"rong.csv": b"", "rong.xlsx": b"", "tot.csv": csv_bytes(good_rows(3))},
    )
    status = file_status(db)
    for name in ("rong.csv", "rong.xlsx"):
        st, message, rows_read, *_ = status[name]
        assert st == "rejected" and message == f"{name}: the file is empty (0 bytes)" and rows_read == 0
        assert not (landing / name).exists()
        assert (landing / REJECTED_DIR / name).is_file()
        reason = (landing / REJECTED_DIR / f"{name}.reason.txt").read_text(encoding="utf-8")
        assert name in reason and "empty" in reason
    assert status["tot.csv"][0] == "loaded" and status["tot.csv"][2:4] == (3, 3)
    assert report.files_rejected == 2 and report.dossiers == 3


@pytest.mark.parametrize("kind", ["csv", "csv with BOM, no line break", "xlsx"])
def test_a_header_only_file_is_a_valid_empty_export(tmp_path, kind):
    if kind == "xlsx":
        content = write_xlsx(tmp_path / "src.xlsx", [])
        name = "tuan-nay.xlsx"
    elif kind == "csv":
        content = csv_bytes([])
        name = "tuan-nay.csv"
    else:
        content = ("\ufeff" + ";".join(HEADER)).encode("utf-8")
        name = "tuan-nay.csv"
    report, landing, db = run_landing(tmp_path, {name: content})
    st, message, rows_read, accepted, unreadable = file_status(db)[name]
    assert (st, message, rows_read, accepted, unreadable) == ("loaded", None, 0, 0, "{}")
    assert (landing / name).is_file() and not (landing / REJECTED_DIR).exists()
    assert report.files_new == 1 and report.files_rejected == 0 and report.dossiers == 0


def test_a_blank_csv_is_not_a_table(tmp_path):
    (tmp_path / "blank.csv").write_bytes(b"\xef\xbb\xbf\r\n  \r\n")
    with pytest.raises(UnusableFile) as info:
        read_table(tmp_path / "blank.csv")
    assert "blank.csv" in str(info.value) and "header" in str(info.value)


# ---------------------------------------------------------------------- corrupt XLSX


def test_a_truncated_xlsx_is_set_aside_as_corrupt(tmp_path):
    whole = write_xlsx(tmp_path / "src.xlsx", good_rows(200)).read_bytes()
    report, landing, db = run_landing(
        tmp_path, {"bao-cao.xlsx": whole[: len(whole) // 2], "tot.csv": csv_bytes(good_rows(2))}
    )
    st, message, *_ = file_status(db)["bao-cao.xlsx"]
    assert st == "rejected"
    assert message == "bao-cao.xlsx: not a readable spreadsheet (corrupt or wrong format)"
    assert (landing / REJECTED_DIR / "bao-cao.xlsx.reason.txt").read_text(encoding="utf-8").strip() == message
    assert file_status(db)["tot.csv"][0] == "loaded"
    assert any("bao-cao.xlsx: set aside" in m and "corrupt" in m for m in report.log)


# ------------------------------------------------------------ huge declared/real range


def test_a_declared_huge_dimension_is_not_allocated(tmp_path):
    src = write_xlsx(tmp_path / "src.xlsx", good_rows(5))
    path = patch_sheet(
        src, tmp_path / "dim.xlsx", lambda x: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', x)
    )
    assert b'ref="A1:XFD1048576"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    # 16,384 × 1,048,576 cells would be 512 GiB in the reader: the child has 3 GB.
    out = run_isolated(
        "from transforms.read import read_table\n"
        f"raw = read_table({str(path)!r})\n"
        "out['rows'] = raw.rows_read\n"
        "out['ids'] = raw.frame['dossier_id'].to_list()\n"
    )
    assert out["rows"] == 5 and out["ids"] == [f"H-{i}" for i in range(1, 6)]
    assert out["peak_mb"] < 1000, out
    assert out["seconds"] < 60, out


@pytest.mark.parametrize(
    "stray",
    [
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t></t></is></c></row>',
        '<row r="900000"><c r="A900000" t="inlineStr"><is><t>x</t></is></c><c r="AMJ900000"><v>0</v></c></row>',
    ],
    ids=["number-in-XFD1048576", "empty-string-in-XFD1048576", "values-in-A-and-AMJ-of-row-900000"],
)
def test_a_stray_value_far_away_is_set_aside_not_a_crash(tmp_path, stray):
    """calamine allocates the rectangle up to the farthest value (32 bytes a cell) and
    aborts the process when it cannot: the sheet is measured first and set aside."""
    src = write_xlsx(tmp_path / "src.xlsx", good_rows(5))
    path = patch_sheet(src, tmp_path / "stray.xlsx", lambda x: x.replace("</sheetData>", stray + "</sheetData>"))
    out = run_isolated(
        "from transforms.read import read_table, UnusableFile\n"
        "try:\n"
        f"    read_table({str(path)!r})\n"
        "    out['message'] = None\n"
        "except UnusableFile as exc:\n"
        "    out['message'] = str(exc)\n"
    )
    assert out["message"] is not None and out["message"].startswith("stray.xlsx: sheet 1 ('Sheet1') is too large to read safely")
    assert "delete the stray cells" in out["message"]
    assert out["peak_mb"] < 1000, out


def test_formatted_empty_cells_far_away_do_not_count(tmp_path):
    """Excel and LibreOffice write styled empty cells (``<c r=".." s="1"/>``) and
    empty formatted rows far below a table: the reader skips them, so must we."""
    src = write_xlsx(tmp_path / "src.xlsx", good_rows(5))
    stray = '<row r="1048576" s="1" customFormat="1"><c r="XFD1048576" s="1"/></row>'
    path = patch_sheet(src, tmp_path / "styled.xlsx", lambda x: x.replace("</sheetData>", stray + "</sheetData>"))
    assert read_table(path).rows_read == 5


def test_sheet_extent_finds_the_farthest_valued_cell_in_any_order():
    class Trickle:
        """A stream that returns a few bytes at a time (chunk boundaries everywhere)."""

        def __init__(self, data: bytes, n: int) -> None:
            self.data, self.pos, self.n = data, 0, n

        def read(self, size: int) -> bytes:
            out = self.data[self.pos : self.pos + min(size, self.n)]
            self.pos += len(out)
            return out

    cells = (
        '<row r="3"><c r="B3" t="s"><v>0</v></c><c r="ZZ3" s="2"/></row>'
        '<row r="70"><x:c r="AB70" t="inlineStr"><x:is><x:t>v</x:t></x:is></x:c></row>'
        '<row r="12"><c r="C12"><v>1</v></c></row>'  # out of order
        '<row r="9999" s="1"/><row r="5000"><c r="XFD5000" s="3"/></row>'  # formatting only
    )
    xml = f'<worksheet><sheetData>{cells}</sheetData></worksheet>'.encode()
    for n in (5, 64, 1 << 22):
        assert sheet_extent(Trickle(xml, n)) == (70, 28)
    assert sheet_extent(io.BytesIO(b"")) == (0, 0)
    # bytes that are not UTF-8 in a corrupt part do not blind the scan
    assert sheet_extent(io.BytesIO(b'<c r="B7" t="s">\xff\xfe<v>1</v></c><c r="AA9"><v>2</v></c>')) == (9, 27)


def test_a_wide_but_legal_stray_cell_is_read(tmp_path):
    """Under the limit (505 rows × 16,384 columns) the sheet is read as usual."""
    src = write_xlsx(tmp_path / "src.xlsx", good_rows(500))
    path = patch_sheet(
        src, tmp_path / "wide.xlsx", lambda x: x.replace("</sheetData>", '<row r="505"><c r="XFD505"><v>1</v></c></row></sheetData>')
    )
    out = run_isolated(
        "from transforms.read import read_table\n"
        f"raw = read_table({str(path)!r})\n"
        "out['rows'] = raw.rows_read\n"
        "out['columns'] = raw.frame.columns\n"
    )
    assert out["rows"] == 500 and "dossier_id" in out["columns"]
    assert out["peak_mb"] < 2000, out


# --------------------------------------------------------------------- a 50 MB cell


def test_a_50_mb_cell_becomes_null_and_counted_and_the_row_loads(tmp_path):
    path = tmp_path / "khong-lo.csv"
    big = "Thủ tục " * (50_000_000 // 8)
    rows = good_rows(3)
    rows[1][3] = big
    path.write_bytes(csv_bytes(rows))
    assert path.stat().st_size > 50_000_000
    out = run_isolated(
        "import datetime as dt\n"
        "from pathlib import Path\n"
        "from transforms.ingest import ingest_file\n"
        "from transforms.units import load_registry\n"
        f"reg = load_registry({str(EXAMPLE / 'units.csv')!r})\n"
        f"r = ingest_file(Path({str(path)!r}), reg, now=dt.datetime(2024, 3, 1, 12), source_name='khong-lo.csv')\n"
        "out.update(status=r.status, rows_read=r.rows_read, accepted=r.rows_accepted,\n"
        "           quarantined=r.rows_quarantined, unreadable=r.unreadable,\n"
        "           names=r.accepted.sort('source_row')['procedure_name'].to_list())\n",
        memory_mb=4000,
    )
    assert out["status"] == "loaded"
    assert (out["rows_read"], out["accepted"], out["quarantined"]) == (3, 3, 0)
    assert out["unreadable"] == {"procedure_name": 1}
    assert out["names"] == ["Đăng ký khai sinh", None, "Đăng ký khai sinh"]
    assert out["peak_mb"] < 2000, out


def test_an_over_long_value_is_unreadable_everywhere_but_never_stored(tmp_path, registry):
    """Over MAX_TEXT_CHARS: null and counted, for required fields too (then the row is
    quarantined for the missing value), and the quarantine never holds the text."""
    path = tmp_path / "dai.csv"
    rows = good_rows(3)
    rows[0][3] = "x" * (MAX_TEXT_CHARS + 1)  # procedure_name: null, counted, row loads
    rows[1][0] = "y" * 20_000  # dossier_id: unreadable -> missing_id
    rows[2][3] = "z" * MAX_TEXT_CHARS  # exactly at the limit: kept
    path.write_bytes(csv_bytes(rows))
    r = ingest(path, registry)
    assert r.unreadable == {"procedure_name": 1, "dossier_id": 1}
    assert r.accepted.sort("source_row")["procedure_name"].to_list() == [None, "z" * MAX_TEXT_CHARS]
    q = r.quarantine.row(0, named=True)
    assert (q["source_row"], q["reason"], q["dossier_id"]) == (2, "missing_id", None)
    assert all(v is None or len(v) <= MAX_TEXT_CHARS for v in q.values() if isinstance(v, str))


# ------------------------------------------------------------------- not a table at all


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("anh.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "not a table: the content is a PNG image"),
        ("scan.csv", b"%PDF-1.7\n" + bytes(range(256)) * 40, "not a table: the content is a PDF document"),
        ("rac.csv", bytes((i * 7919 + 13) % 256 for i in range(20_000)), "not a table: the content is binary"),
        ("rac.json", bytes((i * 104729 + 7) % 256 for i in range(20_000)), "not a table: the content is binary"),
        ("nen.csv.csv", b"\x1f\x8b\x08\x00" + bytes(200), "not a table: the content is a gzip archive"),
        ("anh.xlsx", b"\xff\xd8\xff\xe0" + bytes(100), "not a table: the content is a JPEG image"),
    ],
)
def test_binary_content_under_a_table_name_is_set_aside(tmp_path, name, content, reason):
    report, landing, db = run_landing(tmp_path, {name: content, "tot.csv": csv_bytes(good_rows(1))})
    st, message, *_ = file_status(db)[name]
    assert st == "rejected" and message.startswith(f"{name}: {reason}")
    assert (landing / REJECTED_DIR / name).read_bytes() == content
    assert file_status(db)["tot.csv"][0] == "loaded"


def test_an_array_of_arrays_is_not_a_table_and_its_values_are_not_quoted(tmp_path, registry):
    """The items of a list are values, not keys: a JSON 'table' given as rows of
    arrays must not have its cells shown as 'columns found'."""
    path = tmp_path / "mang.json"
    doc = [HEADER[:3] + ["Họ tên"], ["H-1", "Nguyễn Thị Mảng", "1.001776", "0912000111"]]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = ingest(path, registry)
    assert r.status == "rejected" and "not a table" in r.message
    assert "Nguyễn Thị Mảng" not in r.message and "0912000111" not in r.message and "H-1" not in r.message


# ------------------------------------------------------ spaces and Vietnamese in paths


def test_paths_with_spaces_and_vietnamese_letters(tmp_path):
    xlsx = write_xlsx(tmp_path / "src.xlsx", good_rows(4, "PX"))
    report, landing, db = run_landing(
        tmp_path,
        {
            "Phường Phúc Xá/báo cáo tháng 3.xlsx": xlsx,
            "Phường Phúc Xá/Tuần 1 – bản sửa (2).csv": csv_bytes(good_rows(2, "T1")),
            "Xã Bắc Sơn/ảnh chụp màn hình.csv": b"\x89PNG\r\n\x1a\n" + bytes(64),
        },
    )
    status = file_status(db)
    assert status["Phường Phúc Xá/báo cáo tháng 3.xlsx"][:4] == ("loaded", None, 4, 4)
    assert status["Phường Phúc Xá/Tuần 1 – bản sửa (2).csv"][:4] == ("loaded", None, 2, 2)
    assert status["Xã Bắc Sơn/ảnh chụp màn hình.csv"][0] == "rejected"
    moved = landing / REJECTED_DIR / "Xã Bắc Sơn" / "ảnh chụp màn hình.csv"
    assert moved.is_file()
    reason = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
    assert reason.startswith("Xã Bắc Sơn/ảnh chụp màn hình.csv: not a table")
    with duckdb.connect(str(db), read_only=True) as con:
        files = sorted(r[0] for r in con.execute("SELECT DISTINCT source_file FROM dossiers").fetchall())
    assert files == ["Phường Phúc Xá/Tuần 1 – bản sửa (2).csv", "Phường Phúc Xá/báo cáo tháng 3.xlsx"]
    # a second run finds nothing new
    with wh.connect(db) as con:
        again = ingest_landing(con, landing=landing, registry_path=EXAMPLE / "units.csv", now=NOW, log=lambda m: None)
    assert (again.files_new, again.files_skipped, again.files_rejected) == (0, 2, 0)


# ------------------------------------------------------------- formula-looking text


FORMULAS = {
    "hyperlink": '=HYPERLINK("http://x","y")',
    "sum": "@SUM(1)",
    "plus": "+84 912 345 678",
    "minus": "-1+1",
    "cmd": "=cmd|' /C calc'!A0",
}


def test_formula_looking_text_is_kept_exactly_and_neutralised_when_published(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-03-01T12:00:00")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # a registry whose unit names look like formulas (published names come from it)
    registry = tmp_path / "units.csv"
    with registry.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["unit_code", "unit_name", "level", "parent_code", "peer_group", "valid_from", "valid_to"])
        w.writerow(["001", FORMULAS["hyperlink"], "district", "", "urban", "2008-08-01", ""])
        w.writerow(["002", FORMULAS["sum"], "district", "", "rural", "2008-08-01", ""])
        w.writerow(["00001", FORMULAS["plus"], "commune", "001", "urban", "2008-08-01", ""])
    landing = tmp_path / "landing"
    landing.mkdir()
    header = ["dossier_id", "unit_code", "unit_name", "procedure_code", "procedure_name", "field_name", "received_at",
              "due_at", "finished_at", "status"]
    rows = [
        ["-F-1", "001", "", "1.001776", FORMULAS["hyperlink"], FORMULAS["minus"], "2024-01-02 08:00", "2024-01-10", "2024-01-05 10:00", "9"],
        ["F-2", "002", "", "+1.001776", FORMULAS["cmd"], FORMULAS["sum"], "2024-01-03 08:00", "2024-01-10", "", "4"],
        ["F-3", "", FORMULAS["sum"], "1.001776", "x", "", "2024-01-04 08:00", "2024-01-10", "", "4"],  # by name
        ["F-4", "", "@Không có", "1.001776", FORMULAS["hyperlink"], "", "2024-01-04 08:00", "", "", "4"],  # unknown
    ]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    (landing / "cong-thuc.csv").write_text(buf.getvalue(), encoding="utf-8")
    xlsx_rows = [["F-5", "00001", "1.001776", FORMULAS["plus"], "2024-01-05 08:00", "4"]]
    write_xlsx(landing / "cong-thuc.xlsx", xlsx_rows)

    settings = ScoreboardSettings.from_env(landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(registry))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    run_pipeline(settings, warehouse)

    with duckdb.connect(warehouse.path, read_only=True) as con:
        got = {r[0]: r[1:] for r in con.execute(
            "SELECT dossier_id, procedure_code, procedure_name, field_name, unit_code FROM dossiers").fetchall()}
        quarantined = con.execute("SELECT dossier_id, reason, unit_name, procedure_name FROM quarantine").fetchall()
        units = dict(con.execute("SELECT unit_code, unit_name FROM units").fetchall())
    assert got["-F-1"] == ("1.001776", FORMULAS["hyperlink"], FORMULAS["minus"], "001")
    assert got["F-2"] == ("+1.001776", FORMULAS["cmd"], FORMULAS["sum"], "002")
    assert got["F-3"][3] == "002"  # resolved by the name "@SUM(1)"
    assert got["F-5"] == ("1.001776", FORMULAS["plus"], None, "00001")
    assert quarantined == [("F-4", "unknown_unit", "@Không có", FORMULAS["hyperlink"])]
    assert units["001"] == FORMULAS["hyperlink"] and units["002"] == FORMULAS["sum"]

    data = tmp_path / "site" / "data"
    published = sorted(data.glob("scoreboard-*.csv"))
    assert published
    seen = set()
    for path in published:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for rec in csv.DictReader(fh):
                name = rec["unit_name"]
                seen.add(name)
                assert not name.startswith(("=", "+", "-", "@")), (path.name, name)
    assert {"'" + FORMULAS["hyperlink"], "'" + FORMULAS["sum"], "'" + FORMULAS["plus"]} <= seen
    book = openpyxl.load_workbook(sorted(data.glob("scoreboard-*.xlsx"))[0])
    sheet = book.worksheets[0]
    header_row = [c.value for c in sheet[1]]
    col = header_row.index("unit_name")
    cells = [row[col] for row in sheet.iter_rows(min_row=2)]
    assert {c.value for c in cells} >= {FORMULAS["hyperlink"], FORMULAS["sum"]}
    assert all(c.data_type == "s" for c in cells), "a text cell became a formula"
