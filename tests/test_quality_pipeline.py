"""A broken batch is held back, the last good publication stays, a fix releases it."""

from __future__ import annotations

import shutil

import duckdb
import polars as pl

from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE
from tests.test_pipeline_e2e import read_published

HEADER = "Mã hồ sơ,Mã đơn vị,Mã TTHC,Kênh nộp,Trạng thái,Ngày tiếp nhận,Ngày hẹn trả,Ngày kết thúc xử lý"


def phuc_xa_export(year_of_due: int) -> str:
    """25 dossiers of Phường Phúc Xá received in the week of 22/01/2024, finished the
    next day; the due date is three days after receipt, in `year_of_due`."""
    lines = [HEADER]
    for i in range(25):
        day = 22 + i % 5
        lines.append(
            f"PX-{i:03d},00001,1.001776,Trực tuyến,10,{day:02d}/01/2024 08:00,"
            f"{day + 3:02d}/01/{year_of_due},{day + 1:02d}/01/2024 09:00"
        )
    return "\n".join(lines) + "\n"


def holds(warehouse) -> list[tuple]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.execute(
            "SELECT source, period_type, period_key, check_name FROM quality_holds ORDER BY ALL"
        ).fetchall()


def test_a_shifted_due_column_holds_only_its_periods_until_fixed(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    run_pipeline(settings, warehouse)
    good = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}

    # the vendor's export shifts every due date a year back: each row is a chronology error
    (landing / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2023), encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == [
        ("PhucXa 2024-01.csv", "month", "2024-01", "batch_quarantine_share"),
        ("PhucXa 2024-01.csv", "week", "2024-W04", "batch_quarantine_share"),
    ]
    now = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}
    assert now == good  # nothing published changed: held periods keep their last good numbers
    quality_page = (settings.site / "quality.html")
    if quality_page.exists():  # the site explains the hold
        assert "PhucXa 2024-01.csv" in quality_page.read_text(encoding="utf-8")

    # the district re-sends the file with the right dates: the hold is lifted
    (landing / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2024), encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    january = read_published(settings.site, "2024-01").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (january["received"], january["early"]) == (30, 30)
    w04 = read_published(settings.site, "2024-W04").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (w04["received"], w04["ranked"]) == (25, True)
