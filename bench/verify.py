"""Compare the pipeline's scoreboard with the floor's (and pandas') number by number."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from transforms.profile import RATE_COLUMNS

KEY = ["period_type", "period_key", "unit_code", "unit_valid_from"]
INTS = ["received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue", "rejected",
        "timeliness_base", "rank", "rank_in_peer", "rank_change"]
# the rates, the average and the score; the profile's points_<group> and
# max_points_<group> columns are compared too (_floats)
FLOATS = [*RATE_COLUMNS, "avg_working_days", "score"]
OTHER = ["band", "ranked", "level", "provisional"]


def load_pipeline(work: Path) -> pl.DataFrame:
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("SELECT * FROM scoreboard").pl()
    finally:
        con.close()


def _floats(frame: pl.DataFrame) -> list[str]:
    return FLOATS + [c for c in frame.columns if c.startswith(("points_", "max_points_"))]


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        [pl.col(c).cast(pl.Int64) for c in INTS if c in frame.columns]
        + [pl.col(c).cast(pl.Float64) for c in _floats(frame) if c in frame.columns]
        + [pl.col("unit_valid_from").cast(pl.Date), pl.col("ranked").cast(pl.Boolean)]
    )


def compare(ref: pl.DataFrame, other: pl.DataFrame, name: str, tol: float = 1e-9) -> tuple[list[str], pl.DataFrame]:
    ref, other = _normalise(ref), _normalise(other)
    lines = [f"### pipeline vs {name}", ""]
    only_ref = ref.join(other, on=KEY, how="anti")
    only_other = other.join(ref, on=KEY, how="anti")
    both = ref.join(other, on=KEY, how="inner", suffix="_o")
    lines.append(
        f"- rows: pipeline {ref.height:,}, {name} {other.height:,}, matched {both.height:,}, "
        f"only in the pipeline {only_ref.height:,}, only in {name} {only_other.height:,}"
    )
    diffs = []
    floats = _floats(ref)
    for c in INTS + floats + OTHER:
        if c not in other.columns:
            continue
        a, b = pl.col(c), pl.col(f"{c}_o")
        if c in floats:
            differ = (a.is_null() != b.is_null()) | ((a - b).abs() > tol).fill_null(False)
        else:
            differ = a.ne_missing(b)
        n = both.filter(differ).height
        diffs.append((c, n))
    bad = [(c, n) for c, n in diffs if n]
    if bad:
        lines.append("- columns that differ (rows): " + ", ".join(f"`{c}` {n:,}" for c, n in bad))
    else:
        lines.append(f"- every compared column equal on every matched row ({len(diffs)} columns; floats within {tol})")
    for frame, side in ((only_ref, "pipeline"), (only_other, name)):
        if frame.height:
            lines.append(f"- e.g. only in {side}: " + ", ".join(
                f"{r['period_key']} {r['unit_code']}" for r in frame.head(5).iter_rows(named=True)))
    return lines + [""], both


def _sample(both: pl.DataFrame, name: str) -> list[str]:
    ranked = both.filter(pl.col("ranked") & (pl.col("level") == "district"))
    keys = sorted(ranked["period_key"].unique().to_list()) or sorted(both["period_key"].unique().to_list())
    pick = sorted({keys[len(keys) // 5], keys[len(keys) // 2], keys[-1]})
    rows = (
        both.filter(pl.col("period_key").is_in(pick), pl.col("level") == "district")
        .sort("period_key", "rank", nulls_last=True)
        .group_by("period_key", maintain_order=True)
        .head(3)
    )
    out = [f"sample (districts, top 3 per period) — pipeline / {name}:", "",
           "| period | unit | received | on_time_rate | score | rank |", "|---|---|---|---|---|---|"]
    for r in rows.iter_rows(named=True):
        def f(x):
            return "—" if x is None else (f"{x:.4f}" if isinstance(x, float) else str(x))
        out.append(
            f"| {r['period_key']} | {r['unit_code']} | {r['received']} / {r['received_o']} | "
            f"{f(r['on_time_rate'])} / {f(r['on_time_rate_o'])} | {f(r['score'])} / {f(r['score_o'])} | "
            f"{f(r['rank'])} / {f(r['rank_o'])} |"
        )
    return out + [""]


def verify(work: Path) -> str:
    work = Path(work)
    ref = load_pipeline(work)
    lines = [f"## Verification ({work.name})", ""]
    for name, path in (("floor", work / "floor.parquet"), ("pandas", work / "pandas.parquet")):
        if not path.is_file():
            continue
        report, both = compare(ref, pl.read_parquet(path), name)
        lines += report
        if both.height:
            lines += _sample(both, name)
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(verify(Path(sys.argv[1])))
