"""`python -m bench.site`: what the static site costs as units × periods grow.

For each case (units of Hà Nội's pre-2025 registry × years of weeks and months)
it fabricates a plausible scoreboard with its insight tables (the generators of
tests/test_site_scale.py), then measures, each in a fresh folder:

  full         build_site into an empty folder
  incremental  one more week: the site without the last week is built (not
               timed), then a new release is seeded from it (hard links) and
               built with every week, as pipelines/publication.py does
  no-op        the same inputs again into a seeded release

and prints build time, file count and size. `--json PATH` also writes them.
See docs/site-build.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

CASES = "30x0.5,30x2,150x2,610x0.5,610x1,610x2"  # units x years


def _periods(years: float, end: date = date(2025, 1, 1)) -> list[tuple[str, str, date, int]]:
    months, weeks = round(12 * years), round(52 * years)
    out = []
    for i in range(months):
        y, m = divmod(end.month - 1 - months + i, 12)
        start = date(end.year + y, m + 1, 1)
        out.append(("month", f"{start:%Y-%m}", start, i))
    first = end - timedelta(days=end.weekday()) - timedelta(weeks=weeks)
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        iso = start.isocalendar()
        out.append(("week", f"{iso.year}-W{iso.week:02d}", start, i))
    return out


def inputs(n_units: int, years: float, seed: int = 7) -> dict:
    """A scoreboard of the first `n_units` pre-2025 units (districts first) and its tables."""
    import tests.test_site_scale as scale
    from transforms.insights import weak_points, what_if
    from config import config_path
    from transforms.profile import load_profile

    units = scale.hanoi_units()
    units = units.sort(pl.col("level") != "district", "unit_code").head(n_units)
    periods = _periods(years)
    months = sum(1 for p in periods if p[0] == "month")
    weeks = len(periods) - months
    old = (scale._periods, scale.MONTHS, scale.WEEKS)
    scale._periods, scale.MONTHS, scale.WEEKS = (lambda: periods), months, weeks
    try:
        scoreboard = scale.synthetic_scoreboard(units, seed)
    finally:
        scale._periods, scale.MONTHS, scale.WEEKS = old
    profile = load_profile(config_path("profiles", "default.yaml"))
    return {
        "scoreboard": scoreboard,
        "weak_points": weak_points(scoreboard, profile),
        "what_if": what_if(scoreboard, profile),
        "bottlenecks": scale.synthetic_bottlenecks(scoreboard),
        "quality": scale.synthetic_quality(scoreboard),
        "warnings": scale.synthetic_warnings(scoreboard),
        "profile": profile,
    }


def _without_last_week(data: dict) -> dict:
    last = data["scoreboard"].filter(pl.col("period_type") == "week")["period_key"].max()
    return {
        k: (v.filter(pl.col("period_key") != last) if isinstance(v, pl.DataFrame) and "period_key" in v.columns else v)
        for k, v in data.items()
    }


def _build(folder: Path, data: dict, previous: Path | None = None) -> tuple[float, float]:
    """Seconds of wall and CPU time to seed `folder` from `previous` and build it."""
    from dashboards.site import build_site, seed_site

    d = dict(data)
    t0, c0 = time.perf_counter(), time.process_time()
    if previous is not None:
        seed_site(previous, folder)
    build_site(folder, d.pop("scoreboard"), manifest={"bench": True}, **d)
    return time.perf_counter() - t0, time.process_time() - c0


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return len(files), sum(p.stat().st_size for p in files)


def measure(n_units: int, years: float, root: Path) -> dict:
    t0 = time.perf_counter()
    data = inputs(n_units, years)
    t_inputs = time.perf_counter() - t0
    sb = data["scoreboard"]
    full = root / "full"
    full_s, full_cpu = _build(full, data)
    files, size = _size(full)
    before = root / "before"
    _build(before, _without_last_week(data))
    inc = root / "incremental"
    inc_s, inc_cpu = _build(inc, data, previous=before)
    # files the new week wrote (the others are still links to the previous release)
    new = sum(1 for p in inc.rglob("*") if p.is_file() and p.stat().st_nlink == 1 and not p.name.startswith("."))
    again = root / "again"
    noop_s, noop_cpu = _build(again, data, previous=inc)
    units_dir = [p.stat().st_size for p in (full / "units").glob("*.html")]
    return {
        "units": sb.select("unit_code", "unit_valid_from").unique().height,
        "months": sb.filter(pl.col("period_type") == "month")["period_key"].n_unique(),
        "weeks": sb.filter(pl.col("period_type") == "week")["period_key"].n_unique(),
        "scoreboard_rows": sb.height,
        "table_rows": sum(data[k].height for k in ("weak_points", "bottlenecks", "what_if")),
        "inputs_s": round(t_inputs, 1),
        "full_s": round(full_s, 1), "full_cpu_s": round(full_cpu, 1),
        "incremental_s": round(inc_s, 1), "incremental_cpu_s": round(inc_cpu, 1),
        "incremental_new_files": new,
        "noop_s": round(noop_s, 1), "noop_cpu_s": round(noop_cpu, 1),
        "files": files, "mb": round(size / 1e6, 1),
        "data_mb": round(_size(full / "data")[1] / 1e6, 1),
        "unit_page_kb_mean": round(sum(units_dir) / max(len(units_dir), 1) / 1e3, 1),
    }


COLUMNS = [
    ("units", "units"), ("months", "months"), ("weeks", "weeks"), ("scoreboard_rows", "rows"),
    ("full_s", "full s"), ("full_cpu_s", "full CPU s"), ("incremental_s", "+1 week s"),
    ("incremental_cpu_s", "+1 week CPU s"), ("incremental_new_files", "files rewritten"), ("noop_s", "no-op s"),
    ("files", "files"), ("mb", "MB"), ("data_mb", "data MB"), ("unit_page_kb_mean", "unit page KB"),
]


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(label for _k, label in COLUMNS) + " |"
    rule = "|" + "|".join("---:" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k, _l in COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=CASES, help=f"units x years, comma-separated (default {CASES})")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--keep", help="build under this folder and keep it (default: a temporary one)")
    args = ap.parse_args(argv)
    rows = []
    for case in args.cases.split(","):
        n, years = case.split("x")
        root = Path(args.keep) / case if args.keep else Path(tempfile.mkdtemp(prefix="par-site-bench-"))
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        try:
            rows.append(measure(int(n), float(years), root))
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        print(json.dumps(rows[-1]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
