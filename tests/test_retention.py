"""Retention of raw exports (pipelines/retention.py), through `scoreboard run` on real
files and a real DuckDB file: an ingested landing file moves to the archive, is
deleted when its retention runs out (90 days unless the settings say otherwise), its
hash stays in the manifest, and every published number comes back from the warehouse
alone after the raw files are gone."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.resources import ScoreboardSettings
from tests.helpers import EXAMPLE, assert_frames_match, read_expected_scoreboard
from tests.test_pipeline_e2e import KEY, read_published
from tests.test_revisions_pipeline import cli, files, manifest, query

DAY0 = "2026-11-22T09:00:00"
EXAMPLE_SHA = hashlib.sha256((EXAMPLE / "dossiers.csv").read_bytes()).hexdigest()
# a file with nothing a dossier log has: set aside under _rejected/ with its reason
BROKEN = "foo,bar\n1,2\n"


def archived(root: Path) -> list[tuple]:
    return query(root, "SELECT source_file, content_hash, archive_path, archived_at::VARCHAR, deleted_at::VARCHAR "
                       "FROM archived_files ORDER BY ALL")


@pytest.fixture
def ingested(tmp_path, monkeypatch):
    """The worked example, dropped by a vendor into its subfolder, and a broken file,
    run on 22/11/2026."""
    monkeypatch.delenv("SCOREBOARD_RETENTION_DAYS", raising=False)
    (tmp_path / "landing" / "hanoi").mkdir(parents=True)
    shutil.copy(EXAMPLE / "dossiers.csv", tmp_path / "landing" / "hanoi" / "dossiers.csv")
    (tmp_path / "landing" / "broken.csv").write_text(BROKEN, encoding="utf-8")
    assert cli(tmp_path, DAY0, monkeypatch, "run") == 0
    return tmp_path


def test_an_ingested_file_moves_to_the_archive_and_its_hash_stays_in_the_manifest(ingested):
    root = ingested
    landing = root / "landing"
    # the vendor's subfolder stays, empty; the broken file waits under _rejected/
    assert sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*")) == [
        "_rejected", "_rejected/broken.csv", "_rejected/broken.csv.reason.txt", "hanoi"]
    kept = root / "archive" / "2026-11-22" / "hanoi" / "dossiers.csv"
    assert kept.read_bytes() == (EXAMPLE / "dossiers.csv").read_bytes()
    assert archived(root) == [("hanoi/dossiers.csv", EXAMPLE_SHA, "2026-11-22/hanoi/dossiers.csv",
                               "2026-11-22 09:00:00", None)]
    m = manifest(root / "site")
    assert {"file": "hanoi/dossiers.csv", "sha256": EXAMPLE_SHA} in [
        {k: i[k] for k in ("file", "sha256")} for i in m["inputs"]]
    assert m["retention"] == {"days": 90, "deleted": []}


def test_archived_files_are_deleted_after_90_days_and_the_numbers_come_from_the_warehouse(ingested, monkeypatch):
    root = ingested
    published = files(root / "site")
    assert cli(root, "2027-02-19T09:00:00", monkeypatch, "run") == 0  # day 89: kept
    assert (root / "archive" / "2026-11-22" / "hanoi" / "dossiers.csv").is_file()
    assert (root / "landing" / "_rejected" / "broken.csv").is_file()
    assert manifest(root / "site")["retention"]["deleted"] == []

    assert cli(root, "2027-02-20T09:00:00", monkeypatch, "run") == 0  # day 90: deleted
    assert not any(p.is_file() for p in (root / "archive").rglob("*"))
    # the set-aside file is deleted too; its reason (which holds no value) stays
    assert [p.name for p in (root / "landing" / "_rejected").iterdir()] == ["broken.csv.reason.txt"]
    assert archived(root) == [("hanoi/dossiers.csv", EXAMPLE_SHA, "2026-11-22/hanoi/dossiers.csv",
                               "2026-11-22 09:00:00", "2027-02-20 09:00:00")]
    m = manifest(root / "site")
    assert m["retention"] == {"days": 90, "deleted": [
        {"file": "hanoi/dossiers.csv", "sha256": EXAMPLE_SHA, "deleted_at": "2027-02-20T09:00:00"}]}
    assert EXAMPLE_SHA in [i["sha256"] for i in m["inputs"]]

    # no raw file left anywhere: a backfill of everything re-scores from the warehouse
    # and publishes every number as it was
    raw = [p for folder in ("landing", "archive") for p in (root / folder).rglob("*") if p.is_file()]
    assert [p.name for p in raw] == ["broken.csv.reason.txt"]
    assert cli(root, "2027-02-21T09:00:00", monkeypatch, "backfill", "--from", "2024-01") == 0
    assert files(root / "site") == published
    expected = read_expected_scoreboard()
    for key in expected["period_key"].unique().sort().to_list():
        assert_frames_match(read_published(root / "site", key), expected.filter(pl.col("period_key") == key), KEY)


def test_the_retention_is_a_setting(ingested, monkeypatch):
    root = ingested
    monkeypatch.setenv("SCOREBOARD_RETENTION_DAYS", "30")
    assert ScoreboardSettings.from_env().retention_days == 30
    assert cli(root, "2026-12-22T09:00:00", monkeypatch, "run") == 0  # day 30
    assert archived(root)[0][-1] == "2026-12-22 09:00:00"
    assert manifest(root / "site")["retention"]["days"] == 30
    assert not (root / "landing" / "_rejected" / "broken.csv").exists()


def test_a_wrong_retention_is_refused_in_one_sentence(tmp_path, monkeypatch, capsys):
    (tmp_path / "landing").mkdir()
    monkeypatch.setenv("SCOREBOARD_RETENTION_DAYS", "ninety")
    assert cli(tmp_path, DAY0, monkeypatch, "run") == 1
    assert capsys.readouterr().err.strip() == (
        "scoreboard: SCOREBOARD_RETENTION_DAYS='ninety' is not a number of days (0 or more)")


def test_a_file_dropped_again_after_archiving_is_not_ingested_nor_archived_twice(ingested, monkeypatch, capsys):
    """The same export dropped again (a second `make demo`): not read, and not archived
    a second time either (personal data kept twice): removed from the landing folder,
    and the run says so."""
    root = ingested
    published = files(root / "site")
    first = archived(root)
    capsys.readouterr()
    shutil.copy(EXAMPLE / "dossiers.csv", root / "landing" / "hanoi" / "dossiers.csv")
    assert cli(root, "2026-11-23T10:00:00", monkeypatch, "run") == 0
    assert files(root / "site") == published
    assert query(root, "SELECT count(*) FROM dossiers") == [(38,)]
    assert archived(root) == first
    assert [p.relative_to(root / "archive").as_posix() for p in (root / "archive").rglob("*") if p.is_file()] == [
        "2026-11-22/hanoi/dossiers.csv"]
    assert not (root / "landing" / "hanoi" / "dossiers.csv").exists()
    err = capsys.readouterr().err
    assert "1 already ingested, removed from landing (already archived), 0 set aside" in err
    assert "moved to the archive" not in err

    # a copy whose record is there but whose file is not (emptied by hand, or a run
    # killed before it moved it) is no copy: the next drop is archived again
    (root / "archive" / "2026-11-22" / "hanoi" / "dossiers.csv").unlink()
    shutil.copy(EXAMPLE / "dossiers.csv", root / "landing" / "hanoi" / "dossiers.csv")
    assert cli(root, "2026-11-24T10:00:00", monkeypatch, "run") == 0
    assert (root / "archive" / "2026-11-24" / "hanoi" / "dossiers.csv").read_bytes() == (
        EXAMPLE / "dossiers.csv").read_bytes()
    assert not (root / "landing" / "hanoi" / "dossiers.csv").exists()
    assert "1 raw exports moved to the archive" in capsys.readouterr().err


def test_a_run_killed_while_it_archives_leaves_no_file_the_expiry_would_miss(tmp_path, monkeypatch):
    """The process dies (as SIGKILL would) while it moves the ingested files to the
    archive, after the first: every file in the archive has its record, so none
    outlives its retention (raw exports hold personal data). The next run archives
    the rest, and 90 days later no raw file is left."""
    import os
    import subprocess
    import sys

    landing = tmp_path / "landing"
    (landing / "hanoi").mkdir(parents=True)
    text = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8")
    (landing / "hanoi" / "dossiers.csv").write_text(text, encoding="utf-8")
    (landing / "hanoi" / "dossiers-2023.csv").write_text(text.replace("2024-", "2023-").replace("\nWX-", "\nWY-"),
                                                        encoding="utf-8")
    die = ("import os, shutil, sys; import pipelines.retention as r; moved = []\n"
           "def move(*a):\n    if moved: os._exit(137)\n    moved.append(shutil.move(*a))\n"
           "r.shutil = type('S', (), {'move': staticmethod(move)}); import pipelines.cli as cli\n"
           "sys.exit(cli.main(sys.argv[1:]))")
    args = ["run", "--landing", str(landing), "--warehouse", str(tmp_path / "warehouse.duckdb"),
            "--site", str(tmp_path / "site"), "--registry", str(EXAMPLE / "units.csv")]
    env = {**os.environ, "SCOREBOARD_NOW": DAY0, "SCOREBOARD_DAGSTER_HOME": ""}
    done = subprocess.run([sys.executable, "-c", die, *args], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 137, done.stderr[-2000:]
    on_disk = {p.relative_to(tmp_path / "archive").as_posix() for p in (tmp_path / "archive").rglob("*") if p.is_file()}
    assert len(on_disk) == 1 and on_disk <= {r[2] for r in archived(tmp_path)}

    assert cli(tmp_path, DAY0, monkeypatch, "run") == 0
    assert not [p for p in landing.rglob("*") if p.is_file()]
    on_disk = {p.relative_to(tmp_path / "archive").as_posix() for p in (tmp_path / "archive").rglob("*") if p.is_file()}
    assert len(on_disk) == 2 and on_disk <= {r[2] for r in archived(tmp_path)}
    assert cli(tmp_path, "2027-02-20T09:00:00", monkeypatch, "run") == 0  # day 90
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
