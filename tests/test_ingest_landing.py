"""The landing folder through `scoreboard run`, on real files and a real DuckDB file:
a file set aside is read again once it is back in the landing folder, and
`scoreboard quarantine` lists the rows a run quarantined."""

from __future__ import annotations

import shutil

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
