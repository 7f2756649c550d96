"""`python -m bench.quality`: what the great-expectations suites cost (not a test).

Part of `make bench` (bench/run.py runs it after the pipeline cases). Prints one
line per measurement, wall and CPU seconds, and the share GX itself took:

* first use in a process: importing great_expectations, the ephemeral context;
* fixed cost per call on the worked example (38 dossiers, 44 scoreboard rows);
* `--rows` synthetic dossiers (default 1,000,000), all valid, then with one due
  date in a hundred moved a year early (every one of them must be caught);
* about `--rows` / 20 scoreboard rows (copies of the worked example's, each its
  own periods), all valid.

Numbers and the machine they were measured on go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from transforms.schema import DOSSIER_SCHEMA  # noqa: E402


def synthetic_dossiers(n: int, seed: int = 11) -> pl.DataFrame:
    """`n` valid dossiers of 2024 over 599 units, in the warehouse's schema."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T07:00:00", "us")
    received = start + (rng.integers(0, 365 * 24 * 3600, n) * 1_000_000).astype("timedelta64[us]")
    due_days = rng.integers(1, 20, n)
    hours = rng.integers(1, 24 * 25, n)
    status = rng.choice(np.array([10, 9, 4, 3], dtype=np.int8), n, p=[0.7, 0.1, 0.15, 0.05])
    frame = pl.DataFrame(
        {
            "dossier_id": [f"D{i:08d}" for i in range(n)],
            "unit_code": [f"{u:05d}" for u in rng.integers(1, 600, n)],
            "procedure_code": "1.001776",
            "channel": pl.Series(rng.integers(1, 4, n), dtype=pl.Int8),
            "status": pl.Series(status, dtype=pl.Int8),
            "received_at": pl.Series(received, dtype=pl.Datetime("us")),
            "rating": pl.Series(rng.choice(["satisfied", "neutral", "dissatisfied"], n)),
        }
    )
    extra = ("submitted_at", "due_at", "finished_at", "returned_at", "rejected_at", "unit_valid_from",
             "source_file", "source_row")
    return frame.with_columns(
        submitted_at=pl.col("received_at") - pl.duration(hours=1),
        due_at=(pl.col("received_at").dt.truncate("1d") + pl.duration(days=pl.Series(due_days))),
        finished_at=pl.when(pl.col("status").is_in([9, 10]))
        .then(pl.col("received_at") + pl.duration(hours=pl.Series(hours))),
        returned_at=pl.lit(None, dtype=pl.Datetime("us")),
        rejected_at=pl.when(pl.col("status") == 3).then(pl.col("received_at")),
        unit_valid_from=pl.lit(date(2008, 8, 1)),
        source_file=pl.lit("synthetic.csv"),
        source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
    ).select(
        [
            pl.col(c).cast(t) if c in frame.columns or c in extra else pl.lit(None, dtype=t).alias(c)
            for c, t in DOSSIER_SCHEMA.items()
        ]
    )


def shift_due_dates(frame: pl.DataFrame, every: int = 100) -> pl.DataFrame:
    """One due date in `every` moved a year early (before its receipt)."""
    bad = pl.int_range(pl.len()) % every == 0
    return frame.with_columns(
        due_at=pl.when(bad).then(pl.col("due_at") - pl.duration(days=365)).otherwise(pl.col("due_at"))
    )


def _timed(fn):
    t, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - t, time.process_time() - cpu


def run(rows: int = 1_000_000) -> list[dict]:
    """Every measurement, as rows of a table."""
    from config import config_path
    from quality import gx_engine, suites
    from quality.suites import validate_dossiers, validate_scoreboard
    from tests.helpers import read_example_dossiers, read_expected_scoreboard
    from transforms.profile import load_profile

    out = []

    def line(what: str, wall: float, cpu: float, result=None, note: str = "") -> None:
        gx = f"{result.gx_seconds:.2f}" if result is not None else ""
        out.append({"what": what, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "gx_s": gx, "note": note})
        print(f"  {what:<48} {wall:>8.2f} s wall {cpu:>8.2f} s CPU  GX {gx or '—':>6}  {note}", flush=True)

    profile = load_profile(config_path("profiles", "default.yaml"))
    dossiers, scoreboard = read_example_dossiers(), read_expected_scoreboard()
    _, wall, cpu = _timed(suites.warm_up)
    engine = gx_engine._engine()
    line("first use (import GX, context, suites)", wall, cpu,
         note=f"import {engine.import_seconds:.2f} s, context {engine.context_seconds:.3f} s")
    for label, fn in (
        (f"dossiers, {dossiers.height} rows", lambda: validate_dossiers(dossiers)),
        (f"scoreboard, {scoreboard.height} rows", lambda: validate_scoreboard(scoreboard, profile)),
    ):
        fn()  # suite built
        result, wall, cpu = _timed(fn)
        line(label, wall, cpu, result, f"{len(result.checks)} checks")

    frame = synthetic_dossiers(rows)
    result, wall, cpu = _timed(lambda: validate_dossiers(frame))
    assert result.success, [(c.name, c.unexpected_count) for c in result.failed_checks]
    line(f"{rows:,} dossiers, valid", wall, cpu, result)
    shifted = shift_due_dates(frame)
    result, wall, cpu = _timed(lambda: validate_dossiers(shifted))
    caught = {c.name: c.unexpected_count for c in result.failed_checks}
    assert caught == {"due_end_not_before_received": -(-rows // 100)}, caught
    line(f"{rows:,} dossiers, {-(-rows // 100):,} due dates a year early", wall, cpu, result,
         f"{len(result.failed_periods)} periods blocked")

    copies = max(1, rows // 20 // scoreboard.height)
    big = pl.concat(
        [scoreboard.with_columns(period_key=pl.lit(f"R{i:04d}-") + pl.col("period_key")) for i in range(copies)]
    )
    result, wall, cpu = _timed(lambda: validate_scoreboard(big, profile))
    assert result.success and result.rows == big.height
    line(f"{big.height:,} scoreboard rows, valid", wall, cpu, result)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=float, default=1_000_000, help="synthetic dossiers (default 1e6)")
    args = p.parse_args(argv)
    print(f"== quality suites ({os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f})", flush=True)
    run(int(args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
