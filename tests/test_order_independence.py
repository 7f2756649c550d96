"""The result never depends on the order in which files arrive (dossier-log.md,
"Duplicates and updates").

One set of district exports, with the same dossiers in several files (status
updates, ties on the latest event broken by status, then by the file's base name,
then by its full path, then by the row; a quarantined copy; a byte-identical copy of
a whole file under another name; a file that is set aside), is landed in different
orders, each into its own landing folder, warehouse and site: all at once, one file
at a time (the whole pipeline after each), backwards, and in shuffled batches. The
``dossiers`` tables and the published data files must be identical.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter

from pipelines.cli import CliError, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import to_cp1258

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
NOW = "2024-02-20T12:00:00"

HEADERS = {
    "dossier_id": "Mã hồ sơ",
    "unit_code": "Mã đơn vị",
    "procedure_code": "Mã TTHC",
    "procedure_name": "Tên TTHC",
    "channel": "Kênh nộp",
    "status": "Trạng thái",
    "received_at": "Ngày tiếp nhận",
    "due_at": "Ngày hẹn trả",
    "finished_at": "Ngày kết thúc xử lý",
    "returned_at": "Ngày trả kết quả",
}


def row(dossier_id, unit, status, received, due="", finished="", returned="", *, channel="2", name="Đăng ký khai sinh"):
    return {
        "dossier_id": dossier_id, "unit_code": unit, "procedure_code": "1.001193", "procedure_name": name,
        "channel": channel, "status": str(status), "received_at": received, "due_at": due,
        "finished_at": finished, "returned_at": returned,
    }


WEEK1 = [
    row("D-01", "001", 4, "02/01/2024 08:00", "10/01/2024"),
    row("D-02", "001", 4, "03/01/2024 09:00", "11/01/2024"),
    row("D-03", "00001", 2, "03/01/2024 10:00", "12/01/2024"),
    row("D-04", "00001", 4, "04/01/2024 10:00", "12/01/2024"),
    row("D-05", "002", 4, "04/01/2024 14:00", "15/01/2024"),
    row("D-06", "00004", 4, "05/01/2024 08:30", "16/01/2024"),
    # the same dossier twice in one file, same latest event and status: the later row wins
    row("D-07", "001", 4, "05/01/2024 09:00", "19/01/2024", channel="1"),
    row("D-07", "001", 4, "05/01/2024 09:00", "19/01/2024", channel="2"),
    row("D-10", "002", 10, "08/01/2024 08:00", "20/01/2024", "15/01/2024 10:00", "16/01/2024 09:00"),
]
WEEK2 = [
    row("D-01", "001", 10, "02/01/2024 08:00", "10/01/2024", "08/01/2024 10:00", "09/01/2024 08:00"),  # update
    row("D-02", "001", 9, "03/01/2024 09:00", "11/01/2024", "12/01/2024 16:00"),  # update, late
    row("D-08", "001", 4, "09/01/2024 08:00", "17/01/2024"),
    # a quarantined copy (bad date) never supersedes the accepted one of week 1
    row("D-03", "00001", 10, "31/02/2024 10:00", "12/01/2024", "05/01/2024 10:00", "06/01/2024 10:00"),
]
PHUC_XA = [
    # same latest event as week 1's copy (received only), higher status: this one wins
    row("D-04", "00001", 5, "04/01/2024 10:00", "19/01/2024"),
    row("D-09", "00001", 10, "10/01/2024 08:00", "24/01/2024", "22/01/2024 10:00", "23/01/2024 10:00"),
]
# Same base name in two folders: the full path decides ("y/…" after "x/…"); both sort
# after "ba-dinh-week1.csv", whose copy ties with them.
EXPORT_X = [row("D-05", "002", 4, "04/01/2024 14:00", "15/01/2024", name="Cấp phép A")]
EXPORT_Y = [row("D-05", "002", 4, "04/01/2024 14:00", "18/01/2024", name="Cấp phép B")]
# Different base names, full tie otherwise: the base name sorting last wins.
LATE = [row("D-06", "00004", 4, "05/01/2024 08:30", "22/01/2024")]
EARLY = [row("D-06", "00004", 4, "05/01/2024 08:30", "25/01/2024")]
# D-10 returned, then a later export of another office has it only "processing": the
# copy with the later event wins whatever the status.
OTHER = [row("D-10", "002", 4, "08/01/2024 08:00", "20/01/2024")]


def write_csv(path: Path, rows: list[dict], *, sep: str = ",", encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    w.writerow([HEADERS[k] for k in HEADERS])
    for r in rows:
        w.writerow([r[k] for k in HEADERS])
    text = buf.getvalue()
    path.write_bytes(to_cp1258(text) if encoding == "cp1258" else text.encode(encoding))


def write_xlsx(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Báo cáo")
    ws.write(0, 0, "UBND PHƯỜNG PHÚC XÁ")
    ws.write(1, 0, "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ")
    ws.write_row(3, 0, ["STT", *HEADERS.values()])
    for i, r in enumerate(rows, start=1):
        ws.write_row(3 + i, 0, [i, *(r[k] for k in HEADERS)])
    ws.write_row(4 + len(rows), 0, ["Tổng cộng", len(rows)])
    wb.close()


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps({HEADERS[k]: r[k] for k in HEADERS}, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")


# landing-relative path -> (rows, writer)
FILES = {
    "2024-01/ba-dinh-week1.csv": (WEEK1, write_csv),
    "2024-01/ba-dinh-week2.csv": (WEEK2, lambda p, r: write_csv(p, r, sep=";", encoding="cp1258")),
    "Phường Phúc Xá/báo cáo tháng 1.xlsx": (PHUC_XA, write_xlsx),
    "x/export.csv": (EXPORT_X, write_csv),
    "y/export.csv": (EXPORT_Y, write_csv),
    "z-late.jsonl": (LATE, write_jsonl),
    "a-early.jsonl": (EARLY, write_jsonl),
    "soc-son/khác.csv": (OTHER, lambda p, r: write_csv(p, r, sep="\t")),
}


def write_exports(src: Path, shuffle: random.Random | None = None) -> Path:
    for name, (rows, writer) in FILES.items():
        rows = list(rows)
        if shuffle is not None:
            # keep the in-file tie (D-07, decided by the later row) in its order
            tied = [r for r in rows if r["dossier_id"] == "D-07"]
            rows = [r for r in rows if r["dossier_id"] != "D-07"]
            shuffle.shuffle(rows)
            rows += tied
        writer(src / name, rows)
    shutil.copy(src / "2024-01" / "ba-dinh-week2.csv", src / "copy of week2.csv")  # byte-identical re-send
    (src / "ghi chú.csv").write_text("Ghi chú;Người lập\nNhớ gửi báo cáo;Trần Văn Lập\n", encoding="utf-8")
    return src


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """The set of files, once, under their landing-relative paths."""
    return write_exports(tmp_path_factory.mktemp("exports"))


def all_files(src: Path) -> list[str]:
    return sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())


def land(src: Path, landing: Path, names: list[str]) -> None:
    for name in names:
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / name, target)


def run_in_batches(src: Path, root: Path, batches: list[list[str]]) -> dict:
    landing = root / "landing"
    landing.mkdir(parents=True)
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(root / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    for batch in batches:
        land(src, landing, batch)
        try:
            run_pipeline(settings, warehouse)
        except CliError as exc:  # nothing usable has arrived yet
            assert "no usable dossier" in str(exc)
    return snapshot(root)


def snapshot(root: Path) -> dict:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        dossiers = con.sql("SELECT * FROM dossiers").pl().sort("dossier_id")
        quarantine = con.sql("SELECT * FROM quarantine").pl().sort(["source_file", "source_row"])
        accounting = con.sql(
            "SELECT * EXCLUDE (ingested_at) FROM file_accounting ORDER BY source_file"
        ).pl()
    data = root / "site" / "data"
    published = {p.name: p.read_bytes() for p in sorted(data.glob("scoreboard-*"))}
    published["manifest.json"] = (data / "manifest.json").read_bytes()
    rejected = sorted(p.relative_to(root / "landing").as_posix() for p in (root / "landing" / "_rejected").rglob("*"))
    return {
        "dossiers": dossiers,
        "quarantine": quarantine,
        "accounting": accounting,
        "published": published,
        "rejected": rejected,
    }


def assert_same(a: dict, b: dict, label: str) -> None:
    assert a["dossiers"].equals(b["dossiers"]), f"{label}: dossiers differ\n{a['dossiers']}\n{b['dossiers']}"
    assert a["quarantine"].equals(b["quarantine"]), f"{label}: quarantine differs"
    assert a["accounting"].equals(b["accounting"]), f"{label}: file accounting differs\n{a['accounting']}\n{b['accounting']}"
    assert a["rejected"] == b["rejected"], f"{label}: set-aside files differ"
    assert sorted(a["published"]) == sorted(b["published"]), f"{label}: different published files"
    changed = [name for name in a["published"] if a["published"][name] != b["published"][name]]
    assert not changed, f"{label}: published files differ: {changed}"


@pytest.fixture(scope="module")
def reference(exports, tmp_path_factory) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", NOW)
        mp.delenv("DAGSTER_HOME", raising=False)
        return run_in_batches(exports, tmp_path_factory.mktemp("all-at-once"), [all_files(exports)])


def test_all_at_once_keeps_the_right_copy_of_each_dossier(reference):
    d = {r["dossier_id"]: r for r in reference["dossiers"].iter_rows(named=True)}
    assert sorted(d) == [f"D-{i:02d}" for i in range(1, 11)]
    # the byte-identical re-send: same values, the copy whose base name sorts last
    assert (d["D-01"]["status"], d["D-01"]["source_file"]) == (10, "copy of week2.csv")
    assert d["D-02"]["status"] == 9
    assert d["D-03"]["status"] == 2 and d["D-03"]["source_file"] == "2024-01/ba-dinh-week1.csv"
    assert d["D-04"]["status"] == 5 and d["D-04"]["source_file"] == "Phường Phúc Xá/báo cáo tháng 1.xlsx"
    assert (d["D-05"]["procedure_name"], d["D-05"]["source_file"]) == ("Cấp phép B", "y/export.csv")
    assert d["D-06"]["source_file"] == "z-late.jsonl" and d["D-06"]["due_at"].day == 22
    assert (d["D-07"]["channel"], d["D-07"]["source_row"]) == (2, 8)
    assert d["D-10"]["status"] == 10 and d["D-10"]["source_file"] == "2024-01/ba-dinh-week1.csv"
    assert reference["rejected"] == ["_rejected/ghi chú.csv", "_rejected/ghi chú.csv.reason.txt"]
    assert len(reference["published"]) > 3
    # every file is accounted for: read = accepted + quarantined + superseded
    acc = reference["accounting"]
    loaded = acc.filter(pl.col("status") == "loaded")
    assert (loaded["rows_read"] == loaded["rows_accepted"] + loaded["rows_quarantined"] + loaded["rows_superseded"]).all()
    assert acc["source_file"].to_list() == sorted([*FILES, "copy of week2.csv", "ghi chú.csv"])


ORDERS = {
    # backwards: the copies that must win (later base names) arrive first
    "one at a time, backwards": lambda names: [[n] for n in reversed(names)],
    "shuffled batches": lambda names: (lambda s: [s[:3], s[3:4], s[4:]])(random.Random(7).sample(names, len(names))),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_any_arrival_order_gives_the_same_warehouse_and_site(order, exports, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    batches = ORDERS[order](all_files(exports))
    got = run_in_batches(exports, tmp_path, batches)
    assert_same(reference, got, order)


def test_rows_in_another_order_within_files_change_nothing(reference, tmp_path, monkeypatch):
    """The same exports with their rows shuffled (row numbers change, so the winners'
    values are compared, and the published scoreboards)."""
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    src = write_exports(tmp_path / "shuffled", shuffle=random.Random(3))
    got = run_in_batches(src, tmp_path / "run", [all_files(src)])
    cols = [c for c in reference["dossiers"].columns if c != "source_row"]
    assert got["dossiers"].select(cols).equals(reference["dossiers"].select(cols))
    for name, data in reference["published"].items():
        if name != "manifest.json":  # the manifest lists the inputs' hashes
            assert got["published"][name] == data, name


def test_a_corrected_receipt_date_gives_the_same_result_in_any_order(tmp_path, monkeypatch):
    """A later export corrects when a dossier was received (a week later). Landed
    first, the old copy made an early week part of the data; the result must still
    be the same as when both copies arrive together."""
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    src = tmp_path / "src"
    write_csv(src / "a.csv", [row("X-1", "001", 4, "02/01/2024 08:00", "10/01/2024"),
                              row("X-2", "00001", 4, "16/01/2024 08:00", "30/01/2024")])
    write_csv(src / "b.csv", [row("X-1", "001", 10, "15/01/2024 08:00", "25/01/2024", "19/01/2024 08:00", "20/01/2024 08:00")])
    together = run_in_batches(src, tmp_path / "together", [["a.csv", "b.csv"]])
    assert together["dossiers"]["received_at"].dt.day().to_list() == [15, 16]
    for label, batches in (("a then b", [["a.csv"], ["b.csv"]]), ("b then a", [["b.csv"], ["a.csv"]])):
        assert_same(together, run_in_batches(src, tmp_path / label.replace(" ", "-"), batches), label)


def test_an_older_export_arriving_after_the_final_one_changes_nothing_and_holds_nothing(tmp_path, monkeypatch):
    """28 dossiers of January, final in `final.csv` (handed over), arrive before the
    older export that still has them in progress (`older.csv`). In March, January is
    closed: the late, older copies lose the choice of the kept copy, so they rewrite no
    history and hold no period (they had been held as a history rewrite, and the hold
    kept the next good file of another unit out of the published numbers). The same
    result as both files together, in either order, and a later file of another unit
    publishes."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-03-05T09:00:00")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    src = tmp_path / "src"
    days = [f"{2 + i % 20:02d}/01/2024" for i in range(28)]
    # (a birth registration is due the day it is received)
    write_csv(src / "final.csv", [row(f"L-{i:02d}", "002", 10, f"{d} 08:00", d, f"{d} 15:00", f"{d} 16:00")
                                  for i, d in enumerate(days)])
    write_csv(src / "older.csv", [row(f"L-{i:02d}", "002", 4, f"{d} 08:00", d) for i, d in enumerate(days)])
    write_csv(src / "other.csv", [row("O-1", "001", 4, "20/02/2024 08:00", "28/02/2024")])
    together = run_in_batches(src, tmp_path / "together", [["final.csv", "older.csv", "other.csv"]])
    for label, batches in (("final then older", [["final.csv"], ["older.csv"], ["other.csv"]]),
                           ("older then final", [["older.csv"], ["final.csv"], ["other.csv"]])):
        got = run_in_batches(src, tmp_path / label.replace(" ", "-"), batches)
        with duckdb.connect(str(tmp_path / label.replace(" ", "-") / "warehouse.duckdb"), read_only=True) as con:
            assert con.sql("SELECT count(*) FROM quality_holds").fetchone() == (0,), label
        assert_same(together, got, label)
