"""`python -m bench.provinces`: the throughput of 1, 2 and 4 provinces running at once in one lake.

Every province gets the same landing exports (bench/data.py: a Hà Nội-shaped history of
`--dossiers` dossiers over `--years` years, Hà Nội's registry), so the levels are
comparable. For each level k, a fresh lake (DuckLake, catalog on a throwaway
PostgreSQL, tests/postgres.py) and a fresh Dagster instance on the same server
(deploy/dagster.yaml) are set up, then k processes `python -m pipelines.provinces run`
start together: wall time from the start to the last one's end, dossiers per second
over all k, and per process its CPU seconds and peak RSS (os.wait4). One province on a
DuckDB file (`scoreboard run`, the embedded default) on the same data is the baseline.

Results accumulate in <out>/provinces.json and <out>/provinces.md. docs/scaling.md
projects them to the national volume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.run import NOW, REPO, _link_tree

DEFAULT_OUT = "/tmp/par-bench-provinces"


def _run_all(commands: list[tuple[str, list[str], dict]], logs: Path) -> dict:
    """Start every command at once; wall time to the last end, and per command its CPU
    seconds and peak RSS."""
    logs.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    running = {}
    for name, cmd, env in commands:
        out = open(logs / f"{name}.log", "wb")
        running[subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT).pid] = (name, out)
    each = {}
    while running:
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        name, out = running.pop(pid)
        out.close()
        each[name] = {
            "ok": os.waitstatus_to_exitcode(status) == 0,
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
        }
    return {"wall_s": round(time.perf_counter() - started, 1), "load_avg": [round(load, 1),
            round(os.getloadavg()[0], 1)], "runs": each}


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SCOREBOARD_DAGSTER_HOME")}
    env.update(SCOREBOARD_NOW=NOW, GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1",
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    return env


def lake_level(k: int, server, landing: Path, work: Path) -> dict:
    """k provinces (copies of one landing folder) at once in a fresh lake and instance."""
    if work.exists():
        shutil.rmtree(work)
    (work / "dagster_home").mkdir(parents=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    slugs = [f"bench_{i}" for i in range(1, k + 1)]
    listing = "\n".join(f"  {s}: {{registry: hanoi.csv}}" for s in slugs)
    (work / "provinces.yaml").write_text(f"root: {work / 'root'}\nnational: {work / 'national'}\nprovinces:\n{listing}\n")
    for s in slugs:
        _link_tree(landing, work / "root" / s / "landing")
    env = _env(
        DAGSTER_HOME=str(work / "dagster_home"), DAGSTER_PG_HOST=server.host, DAGSTER_PG_PORT=str(server.port),
        DAGSTER_PG_DB=server.create_database(f"dagster_{k}").split("dbname=")[1], DAGSTER_PG_USER=server.user,
        DAGSTER_PG_PASSWORD="", SCOREBOARD_PROVINCES=str(work / "provinces.yaml"),
        SCOREBOARD_WAREHOUSE="ducklake:postgres:" + server.create_database(f"lake_{k}"),
        SCOREBOARD_LAKE_DATA=str(work / "lake"),
    )
    setup = subprocess.run([sys.executable, "-m", "pipelines.provinces", "setup"], cwd=REPO, env=env,
                           capture_output=True, text=True)
    if setup.returncode:
        raise RuntimeError(setup.stderr[-2000:])
    return _run_all([(s, [sys.executable, "-m", "pipelines.provinces", "run", s], env) for s in slugs], work / "logs")


def file_baseline(landing: Path, work: Path) -> dict:
    if work.exists():
        shutil.rmtree(work)
    _link_tree(landing, work / "landing")
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(work / "landing"), "--site",
           str(work / "site"), "--warehouse", str(work / "warehouse.duckdb")]
    return _run_all([("file", cmd, _env(SCOREBOARD_DAGSTER_HOME=""))], work / "logs")


def _table(rows: list[dict]) -> str:
    head = ("| warehouse | provinces at once | dossiers | wall s | dossiers/s | per province: wall s | CPU s | "
            "peak RSS MB | load | ok |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
    lines = []
    for r in rows:
        runs = r["runs"].values()
        lines.append(
            f"| {r['warehouse']} | {r['provinces']} | {r['dossiers']:,} | {r['wall_s']:,.1f} | "
            f"{r['dossiers'] / r['wall_s']:,.0f} | {min(x['wall_s'] for x in runs):,.0f}–{max(x['wall_s'] for x in runs):,.0f} | "
            f"{sum(x['cpu_s'] for x in runs):,.0f} | {max(x['peak_rss_mb'] for x in runs):,} | "
            f"{r['load_avg'][0]}→{r['load_avg'][1]} | {'yes' if all(x['ok'] for x in runs) else 'NO'} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.provinces", description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=float, default=200_000, help="dossiers per province (default 2e5)")
    parser.add_argument("--years", type=int, default=2, help="years of history ending 2025-12-31 (default 2)")
    parser.add_argument("--parallel", default="1,2,4", help="numbers of provinces at once (default 1,2,4)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--skip-file", action="store_true", help="leave out the DuckDB-file baseline")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from bench.data import ensure_history
    from tests.postgres import start, stop

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = int(args.dossiers)
    ds = ensure_history(out, n, args.years, args.seed)
    results = []

    def record(warehouse: str, k: int, row: dict) -> None:
        row.update(warehouse=warehouse, provinces=k, dossiers=n * k, per_province=n, years=args.years,
                   machine=f"{os.cpu_count()} cpu", when=datetime.now().isoformat(timespec="seconds"))
        results.append(row)
        print(_table([row]).splitlines()[-1], flush=True)

    print(f"{n:,} dossiers per province over {args.years} years; {ds.meta['files']} files", flush=True)
    if not args.skip_file:
        record("DuckDB file", 1, file_baseline(ds.landing, out / "file"))
    folder = Path(tempfile.mkdtemp(prefix="scoreboard-pg-"))
    server = start(folder)
    try:
        for k in [int(x) for x in args.parallel.split(",") if x.strip()]:
            record("DuckLake + PostgreSQL", k, lake_level(k, server, ds.landing, out / f"lake-{k}"))
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
    path = out / "provinces.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(old + results, indent=2))
    (out / "provinces.md").write_text(_table(old + results))
    print("\n" + _table(results))
    print(f"all results so far: {out / 'provinces.md'}")
    return 0 if all(x["ok"] for r in results for x in r["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
