"""The landing folder through `scoreboard run`, on real files and a real DuckDB file:
a file set aside is read again once it is back in the landing folder, and
`scoreboard quarantine` lists the rows a run quarantined."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading

import duckdb

from pipelines.cli import main
from tests.helpers import EXAMPLE
from tests.test_revisions_pipeline import cli, query

NOW = "2026-11-22T09:00:00"
EXAMPLE_TEXT = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8")
EXAMPLE_HEADER = EXAMPLE_TEXT.splitlines()[0].split(",")


def vendor_export() -> str:
    """The worked example as a vendor whose headers no table knows writes it."""
    lines = EXAMPLE_TEXT.splitlines()
    return "\n".join([",".join(f"Cot{i} ZZ" for i in range(len(EXAMPLE_HEADER))), *lines[1:]]) + "\n"


def files_under(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_set_aside_file_put_back_is_read_again_and_loads_once_mapped(tmp_path, monkeypatch, capsys):
    landing = tmp_path / "landing"
    (landing / "vendor").mkdir(parents=True)
    (landing / "vendor" / "export.csv").write_text(vendor_export(), encoding="utf-8")
    assert cli(tmp_path, NOW, monkeypatch, "run") == 1  # nothing usable: no dossier at all
    aside = landing / "_rejected" / "vendor" / "export.csv"
    said = [line for line in capsys.readouterr().err.splitlines() if "set aside in" in line]
    assert len(said) == 1 and said[0].startswith("vendor/export.csv: set aside in _rejected/vendor/export.csv — ")
    assert "— vendor/export.csv" not in said[0]  # the file is named once, a subfolder's too
    assert files_under(landing) == ["_rejected/vendor/export.csv", "_rejected/vendor/export.csv.reason.txt"]
    assert "no recognisable header" in aside.with_name("export.csv.reason.txt").read_text(encoding="utf-8")

    # put back unmapped: read again, and set aside again (not "already ingested")
    shutil.move(aside, landing / "vendor" / "export.csv")
    capsys.readouterr()
    assert cli(tmp_path, "2026-11-22T10:00:00", monkeypatch, "run") == 1
    err = capsys.readouterr().err
    assert "0 already ingested, 1 set aside" in err
    assert files_under(landing) == ["_rejected/vendor/export.csv", "_rejected/vendor/export.csv.reason.txt"]
    assert query(tmp_path, "SELECT status, ingested_at::VARCHAR FROM ingested_files") == [
        ("rejected", "2026-11-22 10:00:00")]

    # mapped (the office's alias table), copied back: it loads, and neither the copy
    # nor its reason is left under _rejected/ (nothing would ever delete them)
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("field,alias\n" + "".join(f"{f},Cot{i} ZZ\n" for i, f in enumerate(EXAMPLE_HEADER)),
                       encoding="utf-8")
    shutil.copy(aside, landing / "vendor" / "export.csv")
    capsys.readouterr()
    assert cli(tmp_path, "2026-11-22T11:00:00", monkeypatch, "run", "--aliases", str(aliases)) == 0
    err = capsys.readouterr().err
    assert "1 ingested" in err and "0 already ingested, 0 set aside" in err
    assert query(tmp_path, "SELECT source_file, status, rows_read FROM ingested_files") == [
        ("vendor/export.csv", "loaded", 38)]
    assert query(tmp_path, "SELECT count(*) FROM dossiers") == [(38,)]
    assert files_under(landing) == []
    assert files_under(tmp_path / "archive") == ["2026-11-22/vendor/export.csv"]


def test_a_set_aside_file_mended_and_sent_again_leaves_no_old_copy_under_rejected(tmp_path, monkeypatch):
    """The clerk mends the export (new bytes, the same name): once it loads, the version
    set aside goes, as its reason does; nothing would delete it later."""
    landing = tmp_path / "landing"
    (landing / "vendor").mkdir(parents=True)
    (landing / "vendor" / "export.csv").write_text(vendor_export(), encoding="utf-8")
    assert cli(tmp_path, NOW, monkeypatch, "run") == 1
    assert files_under(landing) == ["_rejected/vendor/export.csv", "_rejected/vendor/export.csv.reason.txt"]
    (landing / "vendor" / "export.csv").write_text(EXAMPLE_TEXT, encoding="utf-8")  # mended: known headers
    assert cli(tmp_path, "2026-11-22T10:00:00", monkeypatch, "run") == 0
    assert files_under(landing) == []
    assert files_under(tmp_path / "archive") == ["2026-11-22/vendor/export.csv"]


# a file of three rows a clerk must mend (rows 1 to 3 below its header): a date that does not exist, a phone typed
# into a date column (withheld: it may be personal), a row with no id
BAD_ROWS = (
    ",".join(EXAMPLE_HEADER) + "\n"
    "WB-001,001,1.001776,2,10,,31/02/2024 08:00,2024-03-10 00:00:00,2024-03-08 10:00:00,,,true,true,true,true,true,,5,\n"
    "WB-002,001,1.001776,2,10,,2024-03-04 08:00:00,2024-03-10 00:00:00,0912345678,,,true,true,true,true,true,,5,\n"
    ",001,1.001776,2,10,,2024-03-05 08:00:00,2024-03-10 00:00:00,2024-03-08 10:00:00,,,true,true,true,true,true,,5,\n"
)


def test_the_quarantine_command_lists_each_bad_row_with_its_field_and_never_a_personal_value(
        tmp_path, monkeypatch, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    (landing / "zz-bad.csv").write_text(BAD_ROWS, encoding="utf-8")
    assert cli(tmp_path, NOW, monkeypatch, "run") == 0
    where = ["--landing", str(landing), "--warehouse", str(tmp_path / "warehouse.duckdb")]
    capsys.readouterr()

    assert main(["quarantine", *where]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "zz-bad.csv\trow 1\treceived_at\tbad_date\t31/02/2024 08:00",
        "zz-bad.csv\trow 2\tfinished_at\tbad_date\t<đã ẩn: 10 ký tự>",
        "zz-bad.csv\trow 3\tdossier_id\tmissing_id",
        "3 quarantined rows in 1 file.",
    ]
    assert "0912345678" not in "\n".join(out)

    assert main(["quarantine", *where, "--reason", "missing_id", "--file", str(landing / "zz-bad.csv")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "zz-bad.csv\trow 3\tdossier_id\tmissing_id", "1 quarantined row in 1 file."]

    out_csv = tmp_path / "bad-rows.csv"
    assert main(["quarantine", *where, "--reason", "bad_date", "--csv", str(out_csv)]) == 0
    assert capsys.readouterr().out.strip() == f"2 quarantined rows written to {out_csv}"
    with open(out_csv, encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["file", "row", "field", "reason", "value"],
            ["zz-bad.csv", "1", "received_at", "bad_date", "31/02/2024 08:00"],
            ["zz-bad.csv", "2", "finished_at", "bad_date", "<đã ẩn: 10 ký tự>"],
        ]
    # it only reads: the warehouse is as the run left it
    assert query(tmp_path, "SELECT count(*) FROM quarantine") == [(3,)]


def test_the_quarantine_command_waits_for_no_run_and_reads_no_live_file(tmp_path, capsys):
    """While a run holds the warehouse, the command says so in one sentence; with no
    warehouse, that a run comes first."""
    path = tmp_path / "warehouse.duckdb"
    assert main(["quarantine", "--landing", str(tmp_path), "--warehouse", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"scoreboard: there is no warehouse at {path}; run `scoreboard run` first"
    duckdb.connect(str(path)).close()
    # a writer as a `scoreboard run` is one: the commands' lock beside the file, and the file
    writer = subprocess.Popen([sys.executable, "-c", "import duckdb, fcntl, sys; "
                               f"lock = open({str(path) + '.lock'!r}, 'a+'); fcntl.flock(lock, fcntl.LOCK_EX); "
                               f"c = duckdb.connect({str(path)!r}); print('open', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    status = []
    try:
        assert writer.stdout.readline().strip() == "open"
        # it reads only: it does not wait for the run to end (a backfill takes hours)
        reader = threading.Thread(target=lambda: status.append(
            main(["quarantine", "--landing", str(tmp_path), "--warehouse", str(path)])), daemon=True)
        reader.start()
        reader.join(120)
    finally:
        writer.communicate("")
    assert status == [1]
    assert capsys.readouterr().err.strip() == (
        f"scoreboard: a run is writing the warehouse {path}; list the quarantine once it has ended")
