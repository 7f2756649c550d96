"""A changed unit registry (dossier-log.md, "Units"): the stored dossiers and the rows
quarantined for their unit are resolved again, so no dossier drops out of the tables
and the warehouse holds what a fresh run on the new registry holds."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import warehouse as wh
from pipelines.cli import run_pipeline
from pipelines.ingestion import ingest_landing
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE
from transforms.periods import index_of

NOW = "2026-11-22T09:00:00"
REGISTRY = (EXAMPLE / "units.csv").read_text(encoding="utf-8")
# the rows of the worked example's registry, by code
ROWS = {line.split(",")[0]: line for line in REGISTRY.splitlines()[1:]}
HEADER = REGISTRY.splitlines()[0]
SCORE_COLUMNS = ("period_type", "period_key", "level", "unit_code", "unit_valid_from", "unit_name", "received",
                 "finished", "early", "on_time", "overdue", "pending_overdue", "rejected", "score", "rank")
# an export that names its unit by name and one whose code lost its leading zeros
EXTRA = (
    "dossier_id,unit_name,unit_code,procedure_code,status,received_at,due_at,finished_at\n"
    "EX-001,Xã Bắc Sơn,,1.001776,10,2024-01-15 08:00:00,2024-01-25 00:00:00,2024-01-20 10:00:00\n"
    "EX-002,,4,1.001776,10,2024-01-16 08:00:00,2024-01-25 00:00:00,2024-01-30 10:00:00\n"
    # an older copy of a dossier of the worked example's Xã Bắc Sơn (superseded)
    "WX-038,,00004,1.001776,4,2024-01-12 08:00:00,2024-01-19 00:00:00,\n"
)


def registry(tmp_path: Path, name: str, *, drop: tuple[str, ...] = (), change: dict[str, str] | None = None) -> Path:
    lines = [HEADER]
    for code, line in ROWS.items():
        if code in drop:
            continue
        lines.append((change or {}).get(code, line))
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def landing(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", folder / "dossiers.csv")
    (folder / "extra.csv").write_text(EXTRA, encoding="utf-8")
    return folder


def run(tmp_path: Path, folder: Path, reg: Path, store: str) -> dict:
    settings = ScoreboardSettings.from_env(
        landing_dir=str(folder), site_dir=str(tmp_path / f"site-{store}"), registry_path=str(reg)
    )
    return run_pipeline(settings, Warehouse(path=str(tmp_path / f"{store}.duckdb")))


def tables(tmp_path: Path, store: str) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(tmp_path / f"{store}.duckdb"), read_only=True) as con:
        return {
            "scoreboard": con.execute(
                f"SELECT {', '.join(SCORE_COLUMNS)} FROM scoreboard ORDER BY ALL").pl(),
            "dossiers": con.execute(
                "SELECT dossier_id, unit_code, unit_valid_from, status, source_file, source_row "
                "FROM dossiers ORDER BY dossier_id").pl(),
            "quarantine": con.execute(
                "SELECT source_file, source_row, reason, dossier_id, received_at FROM quarantine ORDER BY ALL").pl(),
            "accounting": con.execute(
                "SELECT source_file, rows_read, rows_accepted, rows_quarantined, rows_superseded "
                "FROM file_accounting ORDER BY source_file").pl(),
        }


def assert_same(tmp_path: Path, changed: str, fresh: str) -> dict[str, pl.DataFrame]:
    got, want = tables(tmp_path, changed), tables(tmp_path, fresh)
    for name in ("scoreboard", "dossiers", "quarantine", "accounting"):
        assert got[name].equals(want[name]), (name, got[name], want[name])
    for row in got["accounting"].iter_rows(named=True):  # rows read = accepted + quarantined + superseded
        assert row["rows_read"] == row["rows_accepted"] + row["rows_quarantined"] + row["rows_superseded"]
    return got


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)


def test_a_corrected_valid_from_keeps_the_dossiers_on_the_scoreboard(tmp_path):
    folder = landing(tmp_path, "landing")
    run(tmp_path, folder, registry(tmp_path, "before"), "changed")
    before = tables(tmp_path, "changed")
    corrected = registry(tmp_path, "after", change={"00004": ROWS["00004"].replace("2008-08-01", "2008-01-01")})
    run(tmp_path, folder, corrected, "changed")
    run(tmp_path, landing(tmp_path, "fresh-landing"), corrected, "fresh")
    got = assert_same(tmp_path, "changed", "fresh")
    # Xã Bắc Sơn's dossiers are its, under its corrected identity, with the same counts as before
    board = got["scoreboard"].filter(pl.col("unit_code") == "00004")
    assert board["unit_valid_from"].cast(pl.Utf8).unique().to_list() == ["2008-01-01"]
    assert board["received"].sum() == before["scoreboard"].filter(pl.col("unit_code") == "00004")["received"].sum()
    assert board["received"].sum() > 0
    assert got["dossiers"].filter(pl.col("unit_code") == "00004").height == 13
    assert got["dossiers"].height == before["dossiers"].height


def test_an_added_ward_takes_its_quarantined_rows_and_is_scored(tmp_path):
    folder = landing(tmp_path, "landing")
    run(tmp_path, folder, registry(tmp_path, "before", drop=("00004",)), "changed")
    before = tables(tmp_path, "changed")
    assert before["quarantine"]["reason"].to_list() == ["unknown_unit"] * 14
    full = registry(tmp_path, "after")
    run(tmp_path, folder, full, "changed")
    run(tmp_path, landing(tmp_path, "fresh-landing"), full, "fresh")
    got = assert_same(tmp_path, "changed", "fresh")
    assert got["quarantine"].is_empty()
    assert got["accounting"].filter(pl.col("source_file") == "extra.csv").row(0) == ("extra.csv", 3, 2, 0, 1)
    assert got["dossiers"].filter(pl.col("unit_code") == "00004").height == 13
    assert got["scoreboard"].filter(pl.col("unit_code") == "00004")["received"].sum() > 0


WARD = "00007,Phường Mới,commune,001,urban,2008-08-01,"
# a few rows of a ward (too few to hold their file as a broken batch)
WARD_ROWS = (
    "dossier_id,unit_code,procedure_code,status,received_at,due_at,finished_at\n"
    "W7-001,00007,1.001776,10,2024-01-15 08:00:00,2024-01-25 00:00:00,2024-01-20 10:00:00\n"
    "W7-002,00007,1.001776,4,2024-02-01 08:00:00,2024-02-25 00:00:00,\n"
    "W7-002,00007,1.001776,2,2024-01-31 08:00:00,2024-02-25 00:00:00,\n"
)


def test_a_removed_unit_quarantines_its_dossiers_and_says_so(tmp_path):
    folder, fresh_folder = landing(tmp_path, "landing"), landing(tmp_path, "fresh-landing")
    for f in (folder, fresh_folder):
        (f / "ward.csv").write_text(WARD_ROWS, encoding="utf-8")
    with_ward = registry(tmp_path, "before")
    with_ward.write_text(with_ward.read_text(encoding="utf-8") + WARD + "\n", encoding="utf-8")
    run(tmp_path, folder, with_ward, "changed")
    assert tables(tmp_path, "changed")["dossiers"].filter(pl.col("unit_code") == "00007").height == 2
    removed = registry(tmp_path, "after")
    lines: list[str] = []
    with Warehouse(path=str(tmp_path / "changed.duckdb")).connect() as con:
        report = ingest_landing(con, landing=folder, registry_path=removed, now=datetime(2026, 11, 22, 9), log=lines.append)
    assert "2 stored dossiers no longer match a unit of the registry: quarantined as unknown_unit" in lines
    assert (report.dossiers_unmatched, report.versions_unmatched, report.rows_requalified) == (2, 3, 0)
    assert "2 stored dossiers quarantined as no longer matching a unit" in report.summary()
    assert index_of("month", date(2024, 1, 1)) in report.affected["month"]
    run(tmp_path, folder, removed, "changed")
    run(tmp_path, fresh_folder, removed, "fresh")
    got = assert_same(tmp_path, "changed", "fresh")
    assert got["quarantine"]["reason"].to_list() == ["unknown_unit"] * 3
    assert got["dossiers"].filter(pl.col("unit_code") == "00007").is_empty()
    assert got["scoreboard"].filter(pl.col("unit_code") == "00007").is_empty()
    assert got["accounting"].filter(pl.col("source_file") == "ward.csv").row(0) == ("ward.csv", 3, 0, 3, 0)
    # the quarantine holds the stored values as text, as a fresh run's, no personal data
    with duckdb.connect(str(tmp_path / "changed.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT * FROM quarantine ORDER BY source_file, source_row").pl()
    with duckdb.connect(str(tmp_path / "fresh.duckdb"), read_only=True) as con:
        fresh = con.execute("SELECT * FROM quarantine ORDER BY source_file, source_row").pl()
    assert rows.equals(fresh), (rows, fresh)


def test_a_removed_commune_gives_its_dossiers_to_the_unit_its_code_names(tmp_path):
    # 00001 gone, its code equals 001's once leading zeros are stripped: a fresh run
    # puts its rows there, and so does a change of registry
    folder = landing(tmp_path, "landing")
    run(tmp_path, folder, registry(tmp_path, "before"), "changed")
    removed = registry(tmp_path, "after", drop=("00001",))
    run(tmp_path, folder, removed, "changed")
    run(tmp_path, landing(tmp_path, "fresh-landing"), removed, "fresh")
    got = assert_same(tmp_path, "changed", "fresh")
    assert got["dossiers"].filter(pl.col("unit_code") == "001").height == 17


def test_the_same_registry_again_changes_nothing(tmp_path):
    folder = landing(tmp_path, "landing")
    run(tmp_path, folder, registry(tmp_path, "before", drop=("00004",)), "changed")
    full = registry(tmp_path, "after")
    run(tmp_path, folder, full, "changed")
    first = tables(tmp_path, "changed")
    with Warehouse(path=str(tmp_path / "changed.duckdb")).connect() as con:
        recorded = wh.resolved_registry(con)
        report = ingest_landing(con, landing=folder, registry_path=full, now=datetime(2026, 11, 22, 9), log=lambda _: None)
        assert wh.resolved_registry(con) == recorded is not None
    assert not report.registry_changed
    assert report.affected == {"week": [], "month": []}
    summary = run(tmp_path, folder, full, "changed")
    assert (summary["weeks"], summary["months"]) == (0, 0)
    again = tables(tmp_path, "changed")
    for name, frame in first.items():
        assert again[name].equals(frame), name


def test_a_row_with_a_withheld_id_stays_quarantined(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "phones.csv").write_text(
        "dossier_id,unit_code,procedure_code,status,received_at\n"
        "0912345678,00004,1.001776,4,2024-02-06 08:00:00\n"
        "EX-009,00004,1.001776,4,2024-02-06 08:00:00\n",
        encoding="utf-8",
    )
    now = datetime(2026, 11, 22, 9)
    with Warehouse(path=str(tmp_path / "w.duckdb")).connect() as con:
        ingest_landing(con, landing=folder, registry_path=registry(tmp_path, "before", drop=("00004",)), now=now,
                       log=lambda _: None)
        report = ingest_landing(con, landing=folder, registry_path=registry(tmp_path, "after"), now=now,
                                log=lambda _: None)
        left = con.execute("SELECT dossier_id, reason FROM quarantine").fetchall()
        kept = con.execute("SELECT dossier_id, unit_code FROM dossiers").fetchall()
    assert left == [("<đã ẩn: 10 ký tự>", "unknown_unit")]
    assert kept == [("EX-009", "00004")]
    assert report.rows_requalified == 1 and report.registry_changed
