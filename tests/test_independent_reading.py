"""The published numbers against two independent readings of scoreboard.md.

bench/floor.sql (one DuckDB script) and bench/pandas_baseline.py were written
from the spec without the pipeline's code. Here all three run on the same
generated year of Hà Nội exports (both sides of the 2025 reform, late and
pending dossiers, later copies of a dossier) and must agree on every count,
rate, point, score, band and rank of every weekly and monthly row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench.verify import KEY, compare, load_pipeline

REPO = Path(__file__).resolve().parent.parent


def run_bench(out: Path, dossiers: int, profile: Path | None = None) -> Path:
    env = dict(os.environ, SCOREBOARD_PROFILE=str(profile)) if profile else None
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--dossiers", str(dossiers), "--years", "1", "--seed", "11",
         "--cases", "pipeline,floor,pandas", "--out", str(out), "--skip-quality"],
        cwd=REPO, capture_output=True, text=True, timeout=1800, env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (work,) = (out / "runs").iterdir()
    return work


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> Path:
    return run_bench(tmp_path_factory.mktemp("bench"), 20_000)


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


def test_the_readings_score_with_the_profile_the_pipeline_scores_with(tmp_path):
    """Another profile (SCOREBOARD_PROFILE: two groups, other weights and thresholds):
    the floor and pandas take its groups and weights, and still agree number by number."""
    work = run_bench(tmp_path, 5_000, REPO / "config" / "profiles" / "timeliness_online.yaml")
    ours = load_pipeline(work)
    points = ["points_timeliness", "points_online", "max_points_timeliness", "max_points_online"]
    for reading in ("floor", "pandas"):
        theirs = pl.read_parquet(work / f"{reading}.parquet")
        assert [c for c in theirs.columns if "points_" in c] == points
        lines, both = compare(ours, theirs, reading)
        report = "\n".join(lines)
        assert both.height == ours.height == theirs.height, report
        assert "every compared column equal on every matched row" in report, report
        assert both["ranked"].sum() > 100


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


# ------------------------------------------------------------ float error in scores

# scoreboard.md, Ranking: 81.32499999999999 and 81.325 are one exact value: both rank
# and band as 81.33; 69.99499999999999 rounds to 70.00 (Khá), not 69.99 (Trung bình).
SCORES = [81.32499999999999, 81.325, 69.99499999999999]


def test_the_floor_ranks_and_bands_ignore_float_error():
    import duckdb

    from bench.floor import render, statements
    from tests.helpers import DEFAULT_PROFILE

    sql = render(DEFAULT_PROFILE, landing="-", registry="-", calendar="-", now="-", out="-")
    (ranking,) = [s for s in statements(sql) if "CREATE TEMP TABLE board" in s]
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE scored AS SELECT * FROM (VALUES "
        + ", ".join(f"('month', 0, 'commune', 'urban', '0000{i}', {s!r}::DOUBLE, true, 20, 20)"
                    for i, s in enumerate(SCORES, 1))
        + ") t(period_type, period_idx, level, peer_group, unit_code, score, valid_in_period, received, timeliness_base)"
    )
    con.execute(ranking)
    rows = con.execute("SELECT rank, rank_in_peer, band, score FROM board ORDER BY unit_code").fetchall()
    assert rows == [(1, 1, "Tốt", SCORES[0]), (1, 1, "Tốt", SCORES[1]), (3, 3, "Khá", SCORES[2])]


def test_the_pandas_reading_ranks_and_bands_ignore_float_error():
    import pandas as pd

    from bench.pandas_baseline import rank_and_band
    from tests.helpers import DEFAULT_PROFILE

    board = pd.DataFrame({
        "period_key": ["2024-01"] * 3, "level": ["commune"] * 3, "peer_group": ["urban"] * 3,
        "unit_code": ["00001", "00002", "00003"], "score": SCORES, "valid_in_period": [True] * 3,
        "received": [20] * 3, "timeliness_base": [20] * 3,
    })
    out = rank_and_band(board, DEFAULT_PROFILE)
    assert out["rank"].tolist() == [1, 1, 3] and out["rank_in_peer"].tolist() == [1, 1, 3]
    assert out["band"].tolist() == ["Tốt", "Tốt", "Khá"]
    assert out["score"].tolist() == SCORES  # published at full precision
