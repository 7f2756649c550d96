"""The published numbers against two independent readings of scoreboard.md.

bench/floor.sql (one DuckDB script) and bench/pandas_baseline.py were written
from the spec without the pipeline's code. Here all three run on the same
generated year of Hà Nội exports (both sides of the 2025 reform, late and
pending dossiers, later copies of a dossier) and must agree on every count,
rate, point, score, band and rank of every weekly and monthly row.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench.verify import KEY, compare, load_pipeline

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--dossiers", "20000", "--years", "1", "--seed", "11",
         "--cases", "pipeline,floor,pandas", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (work,) = (out / "runs").iterdir()
    return work


@pytest.mark.parametrize("reading", ["floor", "pandas"])
def test_every_number_agrees_with_an_independent_reading(bench_run, reading):
    ours = load_pipeline(bench_run)
    theirs = pl.read_parquet(bench_run / f"{reading}.parquet")
    lines, both = compare(ours, theirs, reading)
    report = "\n".join(lines)
    assert ours.height > 5_000, report
    assert both.height == ours.height == theirs.height, report
    assert "every compared column equal on every matched row" in report, report
    # the comparison is not vacuous: both kinds of period, ranked units, reform on both sides
    assert set(both["period_type"]) == {"week", "month"}
    assert both["ranked"].sum() > 1_000
    assert both.filter(pl.col("rank_change").is_not_null()).height > 500
    assert both.select(pl.col("unit_valid_from").cast(pl.Utf8).n_unique()).item() >= 2


def test_the_comparison_catches_one_changed_number(bench_run):
    ours = load_pipeline(bench_run)
    theirs = pl.read_parquet(bench_run / "floor.parquet")
    victim = ours.filter(pl.col("ranked")).sort(KEY).row(0, named=True)
    hit = pl.all_horizontal([pl.col(k) == victim[k] for k in KEY])
    tampered = ours.with_columns(
        pl.when(hit).then(pl.col("overdue") + 1).otherwise(pl.col("overdue")).alias("overdue")
    )
    lines, _ = compare(tampered, theirs, "floor")
    assert "columns that differ (rows): `overdue` 1" in "\n".join(lines)
