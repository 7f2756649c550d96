"""Backfills: progress, repeatable, and converging after a SIGKILL; schedules."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.schedules import monthly_schedule, weekly_schedule
from tests.helpers import EXAMPLE

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_the_weekly_schedule_scores_the_week_just_ended():
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 2, 12, 7, 0, tzinfo=VN))
    assert weekly_schedule(ctx).partition_key == "2024-02-05"
    assert weekly_schedule.cron_schedule == "0 7 * * 1"
    assert weekly_schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert weekly_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_monthly_schedule_scores_the_month_just_ended():
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 3, 1, 7, 0, tzinfo=VN))
    assert monthly_schedule(ctx).partition_key == "2024-02"
    assert monthly_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def _command(root: Path) -> list[str]:
    return [
        sys.executable, "-m", "pipelines.cli", "backfill", "--from", "2023-01", "--to", "2024-02",
        "--landing", str(root / "landing"), "--warehouse", str(root / "w.duckdb"),
        "--site", str(root / "site"), "--registry", str(EXAMPLE / "units.csv"),
    ]


def _prepare(root: Path) -> None:
    """The worked example, and the same dossiers a year earlier: history from 2023-01
    to 2024-02, which the backfill covers (a range is narrowed to the data's)."""
    (root / "landing").mkdir(parents=True)
    shutil.copy(EXAMPLE / "dossiers.csv", root / "landing")
    text = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8")
    (root / "landing" / "dossiers-2023.csv").write_text(text.replace("2024-", "2023-").replace("\nWX-", "\nWY-"),
                                                         encoding="utf-8")


def _published(site: Path) -> dict[str, str]:
    return {
        p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_a_killed_backfill_converges_when_run_again(tmp_path):
    env = {**os.environ, "SCOREBOARD_NOW": "2026-11-22T09:00:00", "GX_ANALYTICS_ENABLED": "false"}
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _prepare(clean)
    _prepare(killed)
    done = subprocess.run(_command(clean), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "scoring [" in done.stderr and "ETA" in done.stderr
    assert "Published 62 weeks and 14 months" in done.stdout

    proc = subprocess.Popen(_command(killed), env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:  # let one chunk land, then pull the plug
        if line.startswith("scoring ["):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    again = subprocess.run(_command(killed), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert _published(killed / "site") == _published(clean / "site")
    assert len(_published(clean / "site")) > 200
