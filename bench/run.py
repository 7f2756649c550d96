"""`python -m bench.run`: the pipeline against its floor and an analyst's pandas, side by side.

For every size it generates (or reuses) landing exports with bench/data.py, then
runs each case in its own child process and measures wall time, rows/s and peak
RSS (the child's VmHWM, with the second process's sampled beside it; os.wait4's
ru_maxrss only when the child left no result: it can report the parent's peak, below):

  (a) pipeline     run_pipeline on a fresh warehouse and site: landing CSVs →
                   weekly + monthly scoreboards → published site
  (b) floor        bench/floor.sql, one DuckDB script over the same CSVs
  (c) pandas       bench/pandas_baseline.py, what an analyst would write
  (d) incremental  one more week of exports dropped on (a)'s landing folder,
                   then run_pipeline again (re-scores only what changed); a usual
                   week, sized by the history (bench/data.py ensure_increment)

and, at 1 million dossiers whatever the size asked (the targets of issues 11 and 14):

  (e) files        the ingest stage of `scoreboard run` (the `dossiers` asset) on the
                   many-files landing folder: 5 years of monthly exports per system
  (f) files-floor  the floor's load of the same files: read, type, keep one copy
  (g) onefile      `scoreboard run` on one CSV of 1 million dossiers over 2 years,
                   stage by stage (ingest, scoring, site)
  (h) onefile-floor  floor.sql on that file

each run --repeat times (medians reported: the machine is shared), in one table
against the floor measured in the same run.

A pipeline case whose run leaves a file held by the drift checks (quality/drift/)
is marked FAILED, loudly: it would measure a hold, not the path it is named for.

After them, `python -m bench.quality` measures what the quality suites cost at a
million rows (--skip-quality leaves it out).

Results accumulate in <out>/results.json (one row per size and case) and are
printed as a table; <out>/results.md holds the same table in Markdown. With
--verify the pipeline's scoreboard is compared with the floor's (and pandas')
number by number. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-06-01T00:00:00"  # SCOREBOARD_NOW: after every generated event, the increment's too
CASES = ("pipeline", "floor", "pandas", "incremental")
TARGET_CASES = ("files", "files-floor", "onefile", "onefile-floor")
LETTER = {"pipeline": "a", "floor": "b", "pandas": "c", "incremental": "d",
          "files": "e", "files-floor": "f", "onefile": "g", "onefile-floor": "h"}
TARGET_DOSSIERS = 1_000_000
FILES_YEARS, ONEFILE_YEARS = 3, 2  # 3 years: 2,553 monthly files (issue 11: "2,500 files")
# issue 11: the many-files ingest; issue 14: the whole run against the floor, and memory
INGEST_TARGET_S = 40.0
RUN_TARGET_RATIO = 3.0
RSS_TARGET_MB = 2048
DEFAULT_OUT = "/tmp/par-bench"


def _env(work: Path | None = None) -> dict:
    """A child's environment. A case's runs are recorded as `scoreboard run` records them
    by default, in a Dagster instance on disk with the project's dagster.yaml (in the
    case's folder: a first load's is new, the new week's is the one the first load left);
    without `work`, in memory, as in the tests."""
    env = dict(os.environ)
    env.update(
        SCOREBOARD_NOW=NOW,
        GX_ANALYTICS_ENABLED="false",
        DAGSTER_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        SCOREBOARD_DAGSTER_HOME=str(work / "dagster_home") if work is not None else "",
    )
    env.pop("DAGSTER_HOME", None)
    return env


# ----------------------------------------------------------------- the children


def _tree_rss_kb(pid: str) -> int:
    """The resident memory of a Python process and its Python descendants, added up:
    the run's second process (transforms.aside) counts with it, where ru_maxrss would
    give the larger of the two. (Chromium printing the report is not the pipeline's
    memory, and its processes share most of theirs: summing them would overstate it.)"""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        if not status.startswith("Name:\tpython"):
            return 0
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        cmdline = _cmdline(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                # a child forked but not yet running its program (Chromium, a moment
                # after Popen) shares its parent's pages: not memory of its own
                if _cmdline(child) != cmdline:
                    total += _tree_rss_kb(child)
    except (OSError, StopIteration):
        pass
    return total


def _vm_hwm_kb() -> int:
    """This process's peak resident memory since it started its program (VmHWM). Not
    ru_maxrss: a child that Popen starts by vfork (no preexec_fn) inherits, at exec,
    the peak of the parent whose memory it borrowed, so after the bench generated 10 M
    dossiers in-process a 13 MB child reported the generator's 6.3 GB (docs/benchmarks.md)."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # ended meanwhile
        return b""


class _RssSampler(threading.Thread):
    """Time and peak RSS per stage (RSS sampled from /proc/self/status every 0.2 s).
    A stage entered several times adds up."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stage = "start"
        self.since = time.perf_counter()
        self.cpu_since = time.process_time()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds of the process (every thread) per stage
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()

    def mark(self, stage: str) -> None:
        self.sample()
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.since
        self.cpu[self.stage] = self.cpu.get(self.stage, 0.0) + cpu - self.cpu_since
        self.stage, self.since, self.cpu_since = stage, now, cpu
        self.sample()

    def sample(self) -> None:
        mb = _tree_rss_kb("self") / 1024
        if mb:
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), mb)

    def run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def stop(self) -> dict:
        self.mark("end")
        self._stop.set()
        return {
            stage: {"seconds": round(sec, 2), "cpu_seconds": round(self.cpu.get(stage, 0.0), 2),
                    "peak_rss_mb": round(self.peaks.get(stage, 0.0))}
            for stage, sec in self.seconds.items()
        }


STAGE_OF_ASSET = {"dossiers": "ingest", "weekly_scoreboard": "weeks", "monthly_scoreboard": "months",
                  "scoreboard_site": "site"}


def code_version() -> dict:
    """The commit and a digest of the code the pipeline runs (other people edit it)."""
    import hashlib

    h = hashlib.sha256()
    for folder in ("pipelines", "transforms", "dashboards", "quality", "config"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".csv", ".yaml", ".html", ".sql"):
                h.update(path.relative_to(REPO).as_posix().encode())
                h.update(path.read_bytes())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "pipelines", "transforms", "dashboards", "quality"],
                               cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return {"commit": commit, "dirty": bool(dirty), "digest": h.hexdigest()[:12]}


def _child_pipeline(args, sampler: _RssSampler) -> dict:
    import logging

    import pipelines.cli as cli
    from pipelines.resources import ScoreboardSettings, Warehouse

    # time and memory per asset: wrap the one function every materialisation goes through
    original = cli._materialize

    def materialize(instance, asset, *a, **kw):
        name = asset.key.to_user_string() if hasattr(asset, "key") else str(asset)
        sampler.mark(STAGE_OF_ASSET.get(name, name))
        try:
            return original(instance, asset, *a, **kw)
        finally:
            sampler.mark("between")

    cli._materialize = materialize

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage()
            if not msg.startswith("[") and "█" not in msg:
                print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    log = logging.getLogger("scoreboard")
    log.setLevel(logging.INFO)
    log.addHandler(Echo())
    logging.getLogger("dagster").setLevel(logging.WARNING)
    work = Path(args.work)
    settings = ScoreboardSettings.from_env(landing_dir=str(work / "landing"), site_dir=str(work / "site"))
    warehouse = Warehouse(path=str(work / "warehouse.duckdb"))
    summary = cli.run_pipeline(settings, warehouse)
    sampler.mark("between")
    with warehouse.connect() as con:  # what the drift checks hold after the run
        summary["held_files"] = cli.wh.held_files(con)["source_file"].to_list()
    return summary


def _child_ingest(args, sampler: _RssSampler) -> dict:
    """The ingest stage of `scoreboard run` alone: the `dossiers` asset, as the CLI
    materialises it (reading, cleaning, deduplicating, storing, validating)."""
    import pipelines.assets as assets
    import pipelines.cli as cli
    from pipelines.instance import open_instance
    from pipelines.resources import ScoreboardSettings, Warehouse

    def marked(stage, fn):
        def run(*a, **kw):
            sampler.mark(stage)
            try:
                return fn(*a, **kw)
            finally:
                sampler.mark("ingest")
        return run

    def checking(check):
        # the first load's suite: its buckets handed over, then its result waited for
        # (the asset's other work in between is "ingest")
        def run(*a, **kw):
            return marked("ingest: validation", marked("ingest: validation", check)(*a, **kw))
        return run

    # the asset's two parts, timed apart: the landing folder, then the first load's validation
    assets.ingest_landing = marked("ingest: files", assets.ingest_landing)
    assets.check_stored_dossiers = checking(assets.check_stored_dossiers)
    work = Path(args.work)
    settings = ScoreboardSettings.from_env(landing_dir=str(work / "landing"), site_dir=str(work / "site"))
    warehouse = Warehouse(path=str(work / "warehouse.duckdb"))
    instance = open_instance()
    sampler.mark("ingest")
    meta = cli._metadata(cli._materialize(instance, assets.dossiers, {"settings": settings, "warehouse": warehouse}),
                         assets.dossiers)
    sampler.mark("between")
    return {k: meta.get(k) for k in ("files_ingested", "rows_read", "rows_quarantined", "dossiers")}


def _calendar_csv(path: Path) -> Path:
    from transforms.calendar import working_calendar

    working_calendar(date(2015, 1, 1), date(2028, 12, 31)).select("date", "working_days_before").write_csv(path)
    return path


def _profile():
    """The scoring profile the pipeline case scores with (SCOREBOARD_PROFILE or the default)."""
    from pipelines.resources import ScoreboardSettings

    return ScoreboardSettings.from_env().profile()


def _child_floor(args, sampler: _RssSampler) -> dict:
    import duckdb

    from bench.floor import load_statements, render, statements

    work = Path(args.work)
    sql = render(
        _profile(),
        landing=str(Path(args.landing).absolute()),
        registry=str(REPO / "config" / "registry" / "hanoi.csv"),
        calendar=str(_calendar_csv(work / "calendar.csv")),
        now=NOW.replace("T", " "),
        out=str(work / "floor.parquet"),
    )
    con = duckdb.connect()
    steps = {}
    load_only = args.child == "files-floor"
    for stmt in (load_statements(sql) if load_only else statements(sql)):
        body = re.sub(r"--[^\n]*\n", "", stmt).strip()
        name = " ".join(body.split()[:4])
        sampler.mark(name)
        t0 = time.perf_counter()
        con.execute(stmt)
        steps[name] = round(time.perf_counter() - t0, 2)
    if load_only:
        rows = con.execute("SELECT count(*) FROM dossiers").fetchall()[0][0]
        con.close()
        return {"dossiers": rows, "steps": steps}
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{work / 'floor.parquet'}')").fetchall()[0][0]
    con.close()
    return {"rows_out": rows, "steps": steps}


def _child_pandas(args, sampler: _RssSampler) -> dict:
    import polars as pl

    from bench.pandas_baseline import run
    from transforms.calendar import working_calendar

    work = Path(args.work)
    cal = working_calendar(date(2015, 1, 1), date(2028, 12, 31)).select("date", "working_days_before").to_pandas()
    rows = run(
        str(Path(args.landing).absolute()),
        str(REPO / "config" / "registry" / "hanoi.csv"),
        cal,
        datetime.fromisoformat(NOW),
        str(work / "pandas.parquet"),
        _profile(),
    )
    del pl
    return {"rows_out": rows}


def child(args) -> int:
    from pipelines.start import ending_without_teardown

    ending = ending_without_teardown()  # as `scoreboard` ends (pipelines/start.py)
    sampler = _RssSampler()
    sampler.start()
    fn = {"pipeline": _child_pipeline, "incremental": _child_pipeline, "floor": _child_floor, "pandas": _child_pandas,
          "files": _child_ingest, "files-floor": _child_floor, "onefile": _child_pipeline,
          "onefile-floor": _child_floor}[args.child]
    if args.child in ("pipeline", "incremental", "onefile"):
        from pipelines.start import start_aside
        from transforms import aside

        aside.hold_collection()
        start_aside()  # as `scoreboard run` does, before it imports Dagster (pipelines/start.py)
        import pipelines.cli  # noqa: F401  (and as it does once Dagster is imported)

        aside.freeze_loaded()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    result = fn(args, sampler)
    seconds = time.perf_counter() - t0
    if profiler:
        import pstats

        profiler.disable()
        prof = Path(args.work) / f"profile-{args.child}.prof"
        profiler.dump_stats(prof)
        with open(Path(args.work) / f"profile-{args.child}.txt", "w") as fh:
            pstats.Stats(str(prof), stream=fh).sort_stats("cumulative").print_stats(60)
    out = {"case": args.child, "inner_seconds": round(seconds, 2), "result": result, "stages": sampler.stop(),
           "code": code_version(), "vm_hwm_mb": round(_vm_hwm_kb() / 1024)}
    (Path(args.work) / f"result-{args.child}.json").write_text(json.dumps(out, indent=2, default=str))
    return ending(0)


# ------------------------------------------------------------------- the parent


def pyspy_summary(raw: Path, top: int = 25) -> str:
    """Where the samples of a `py-spy record --format raw` file went: the repo's
    functions by inclusive time, and all functions by self time."""
    total = 0
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        # inclusive time per function (not per line)
        for f in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            if any(m in f for m in ("(pipelines/", "(transforms/", "(dashboards/", "(quality/")):
                inclusive[f] = inclusive.get(f, 0) + n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "inclusive (repo functions):"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]]
    lines += ["", "self (any function):"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(lines)


def measure(
    case: str, work: Path, landing: Path, *, profile: bool = False, pyspy: str | None = None,
    mem_limit_gb: float | None = None,
) -> dict:
    """Run one case in a child process: wall time and the child's peak RSS. With
    `pyspy` (path to a py-spy binary) the child is sampled from outside, which
    leaves its rusage alone."""
    cmd = [sys.executable, "-m", "bench.run", "--child", case, "--work", str(work), "--landing", str(landing)]
    if profile:
        cmd.append("--profile")
    log_path = work / f"{case}.log"
    result_path = work / f"result-{case}.json"
    result_path.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        def limit() -> None:  # a shared machine: a case that outgrows this fails, not the neighbours
            import resource

            cap = int(mem_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        proc = subprocess.Popen(
            cmd, env=_env(work), cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=limit if mem_limit_gb else None,
        )
        spy = None
        if pyspy:
            raw = work / f"{case}.pyspy.raw"
            spy = subprocess.Popen(
                [pyspy, "record", "--pid", str(proc.pid), "--rate", "20", "--format", "raw", "-o", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        _, status, usage = os.wait4(proc.pid, 0)
        if spy is not None:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
            if raw.is_file():
                (work / f"{case}.pyspy.txt").write_text(pyspy_summary(raw))
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    row = {
        "case": case,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "ok": proc.returncode == 0,
        "load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "log": str(log_path),
    }
    if result_path.is_file():
        inner = json.loads(result_path.read_text())
        row["stages"] = inner.get("stages")
        tree = max((st.get("peak_rss_mb", 0) for st in (row["stages"] or {}).values()), default=0)
        # its own peak, and its and the second process's added up, as sampled
        row["peak_rss_mb"] = max(inner.get("vm_hwm_mb", row["peak_rss_mb"]), tree)
        row["ru_maxrss_mb"] = round(usage.ru_maxrss / 1024)
        row["result"] = inner.get("result")
        row["code"] = inner.get("code")
        held = (row["result"] or {}).get("held_files") if isinstance(row["result"], dict) else None
        if held:
            row["ok"] = False
            row["held_files"] = held
            row["error"] = _held_banner(case, held, work / "landing")
    else:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        row["error"] = "\n".join(tail)
    return row


def _held_banner(case: str, held: list[str], landing: Path) -> str:
    """The loud message of a run whose files the drift checks held."""
    total = sum(1 for _ in landing.rglob("*.csv")) if landing.is_dir() else 0
    bar = "!" * 78
    return "\n".join([
        bar,
        f"!! ({LETTER[case]}) {case}: {len(held)} of the landing folder's {total} files are HELD by the drift checks",
        "!! (quality/drift/, config/quality.yaml `drift:`): this run measured a hold, not the scoring of",
        "!! those files. First held: " + ", ".join(held[:5]) + (" …" if len(held) > 5 else ""),
        bar,
    ])


def _link_tree(src: Path, dst: Path) -> int:
    """Hard-link every file of src under dst (the pipeline may move files it sets aside)."""
    n = 0
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
            n += 1
    return n


def _say(row: dict, line: str, note: str = "") -> None:
    """A case's line as it finishes, and the end of its log when it failed."""
    status = "ok" if row["ok"] else "FAILED (see " + row["log"] + ")"
    print(f"  {line}  {status}  {note}".rstrip(), flush=True)
    if not row["ok"]:
        print(row.get("error", ""), flush=True)


def _fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "—"


def _table(results: list[dict]) -> str:
    head = (
        "| dossiers | case | wall s | rows | rows/s | peak RSS MB | CPU s | notes |\n"
        "|---:|---|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in sorted(results, key=lambda r: (r["dossiers"], CASES.index(r["case"]))):
        note = r.get("note", "")
        if r.get("held_files"):
            note = (note + f"; {len(r['held_files'])} files HELD").strip("; ")
        if not r.get("ok", True):
            note = (note + " FAILED").strip()
        lines.append(
            f"| {r['dossiers']:,} | ({LETTER[r['case']]}) {r['case']} | {r['wall_s']:,.1f} | {r['rows']:,} | "
            f"{_fmt_rate(r['rows'], r['wall_s'])} | {r['peak_rss_mb']:,} | {r.get('cpu_s', 0):,.1f} | {note} |"
        )
    return head + "\n".join(lines) + "\n"


def _note(row: dict) -> str:
    res = row.get("result") or {}
    stages = row.get("stages") or {}
    if row["case"] in ("pipeline", "incremental"):
        parts = []
        for name in ("ingest", "weeks", "months", "site"):
            if name in stages:
                s = stages[name]
                parts.append(f"{name} {s['seconds']:.0f}s/{s['peak_rss_mb'] / 1024:.1f}GB")
        if isinstance(res, dict) and "weeks" in res:
            parts.append(f"re-scored {res.get('weeks')} weeks + {res.get('months')} months")
        return "; ".join(parts)
    if row["case"] == "floor" and isinstance(res, dict):
        steps = res.get("steps", {})
        top = sorted(steps.items(), key=lambda kv: -kv[1])[:2]
        return "; ".join(f"{k.split(' AS')[0].replace('CREATE TEMP TABLE ', '')} {v:.0f}s" for k, v in top)
    return ""


def _save(out: Path, results: list[dict]) -> None:
    path = out / "results.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    keep = {(r["dossiers"], r["case"]): r for r in old}
    for r in results:
        keep[(r["dossiers"], r["case"])] = r
    merged = sorted(keep.values(), key=lambda r: (r["dossiers"], CASES.index(r["case"])))
    path.write_text(json.dumps(merged, indent=2, default=str))
    (out / "results.md").write_text(_table(merged))


def run_size(n: int, args) -> list[dict]:
    from bench.data import ensure_history, ensure_increment

    out = Path(args.out)
    print(f"\n== {n:,} dossiers over {args.years} years (seed {args.seed})", flush=True)
    t0 = time.perf_counter()
    ds = ensure_history(out, n, args.years, args.seed)
    gen_s = time.perf_counter() - t0
    increment = ensure_increment(ds, args.increment or None) if "incremental" in args.cases else None
    work = out / "runs" / f"n{n}-y{args.years}-s{args.seed}"
    rows = ds.meta["rows"]
    results: list[dict] = []

    def record(row: dict, n_rows: int) -> None:
        row.update(dossiers=n, rows=n_rows, years=args.years, seed=args.seed,
                   machine=f"{os.cpu_count()} cpu", when=datetime.now().isoformat(timespec="seconds"))
        row["note"] = row.get("note") or _note(row)
        results.append(row)
        _save(out, [row])
        _say(row, f"({LETTER[row['case']]}) {row['case']:<12} {row['wall_s']:>9,.1f} s  "
                  f"{_fmt_rate(n_rows, row['wall_s']):>10} rows/s  {row['peak_rss_mb']:>7,} MB", row["note"])

    print(f"  data: {ds.meta['files']} files, {rows:,} rows, {ds.meta['bytes'] / 1e9:.2f} GB ({gen_s:.0f} s)", flush=True)
    if "pipeline" in args.cases or "incremental" in args.cases:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        _link_tree(ds.landing, work / "landing")
        record(measure("pipeline", work, work / "landing", profile=args.profile, pyspy=args.py_spy), rows)
    work.mkdir(parents=True, exist_ok=True)
    if "floor" in args.cases:
        record(measure("floor", work, ds.landing), rows)
    if "pandas" in args.cases and not args.skip_pandas:
        row = measure("pandas", work, ds.landing, mem_limit_gb=args.pandas_mem_gb or None)
        if not row["ok"] and "MemoryError" in row.get("error", ""):
            row["note"] = f"ran out of its {args.pandas_mem_gb:g} GB address-space cap"
        record(row, rows)
    if args.verify:
        from bench.verify import verify

        report = verify(work)
        (work / "verify.md").write_text(report)
        print(report, flush=True)
    if "incremental" in args.cases and increment is not None:
        week = json.loads((increment / ".complete").read_text())
        k = week["rows"]
        print(f"  the new week: {k:,} rows ({week.get('new', k - week['updates']):,} new dossiers, "
              f"{week['updates']:,} updates) in {week['files']} files", flush=True)
        _link_tree(increment, work / "landing")
        (work / "landing" / ".complete").unlink(missing_ok=True)
        record(measure("incremental", work, work / "landing", profile=args.profile, pyspy=args.py_spy), k)
    return results


# ------------------------------------------------------------ the target cases


def _median(values: list[float]) -> float:
    values = sorted(v for v in values if v is not None)
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _stage_seconds(row: dict, prefix: str) -> float:
    return sum(v["seconds"] for k, v in (row.get("stages") or {}).items() if k == prefix or k.startswith(prefix + ":"))


def _stage_cpu(row: dict, prefix: str) -> float:
    return sum(v.get("cpu_seconds", 0.0) for k, v in (row.get("stages") or {}).items()
               if k == prefix or k.startswith(prefix + ":"))


def _stage_peak(row: dict, prefix: str) -> float:
    return max([v["peak_rss_mb"] for k, v in (row.get("stages") or {}).items()
                if k == prefix or k.startswith(prefix + ":")] or [0])


def run_targets(args) -> list[dict]:
    """Cases (e)-(h) at 1 M dossiers, each --repeat times, interleaved so that the
    pipeline and its floor see the same load."""
    from bench.data import ensure_history, ensure_one_file

    out = Path(args.out)
    cases = [c for c in args.targets if c in TARGET_CASES]
    landings: dict[str, tuple[Path, dict]] = {}
    if {"files", "files-floor"} & set(cases):
        ds = ensure_history(out, TARGET_DOSSIERS, FILES_YEARS, args.seed)
        landings["files"] = (ds.landing, ds.meta)
    if {"onefile", "onefile-floor"} & set(cases):
        ds = ensure_history(out, TARGET_DOSSIERS, ONEFILE_YEARS, args.seed)
        landings["onefile"] = (ensure_one_file(ds), ds.meta)
    print(f"\n== targets at {TARGET_DOSSIERS:,} dossiers ({args.repeat} runs each)", flush=True)
    rows: list[dict] = []
    for attempt in range(1, args.repeat + 1):
        for case in cases:
            kind = case.removesuffix("-floor")
            landing, meta = landings[kind]
            work = out / "runs" / f"target-{case}"
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            if case.endswith("-floor"):
                row = measure(case, work, landing)
            else:
                _link_tree(landing, work / "landing")
                row = measure(case, work, work / "landing", profile=args.profile, pyspy=args.py_spy)
            row.update(attempt=attempt, files=meta["files"] if kind == "files" else 1, rows=meta["rows"],
                       when=datetime.now().isoformat(timespec="seconds"))
            rows.append(row)
            _say(row, f"({LETTER[case]}) {case:<14} run {attempt}: {row['wall_s']:>7,.1f} s wall "
                      f"{row['cpu_s']:>7,.1f} s CPU {row['peak_rss_mb']:>6,} MB  load {row['load_avg']}")
    (out / "targets.json").write_text(json.dumps(rows, indent=2, default=str))
    table = targets_table(rows)
    (out / "targets.md").write_text(table)
    print("\n" + table, flush=True)
    return rows


def targets_table(rows: list[dict]) -> str:
    """One table: the many-files ingest against the floor's load, the one-file run stage
    by stage against the floor, peak RSS; medians of the runs (wall and CPU s)."""
    by_case: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("ok"):
            by_case.setdefault(r["case"], []).append(r)

    def med(case: str, fn) -> float:
        return _median([fn(r) for r in by_case.get(case, [])])

    def num(case: str, fn, digits: int = 1) -> str:
        return f"{med(case, fn):,.{digits}f}" if case in by_case else "—"

    def stage_line(case: str, name: str, label: str, prefix: str) -> str:
        return (f"| {name} | {label} | {num(case, lambda r: _stage_seconds(r, prefix))} | "
                f"{num(case, lambda r: _stage_cpu(r, prefix))} | {num(case, lambda r: _stage_peak(r, prefix), 0)} "
                "| | | | | |")

    def floor_cells(case: str, wall: float) -> str:
        floor = med(case, lambda r: r["wall_s"]) if case in by_case else float("nan")
        return (f"{num(case, lambda r: r['wall_s'])} | {num(case, lambda r: r['cpu_s'])} | "
                f"{wall / floor:,.1f}")

    loads = [x for r in rows for x in r.get("load_avg", [])]
    runs = max((len(v) for v in by_case.values()), default=0)
    lines = [
        f"Medians of {runs} run(s); load average {min(loads, default=0):.1f}–{max(loads, default=0):.1f} "
        f"on {os.cpu_count()} CPUs. Wall s; CPU s = user + system of the process, every thread "
        "(a stage's: the process's during it). The floor runs in the same session, between the pipeline's runs.",
        "",
        "| case | stage | wall s | CPU s | peak RSS MB | floor wall s | floor CPU s | × floor (wall) | target | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    if "files" in by_case:
        r0 = by_case["files"][0]
        name = f"(e) many files: {r0['files']:,} files, {r0['rows']:,} rows"
        lines.append(stage_line("files", name, "reading, cleaning, storing (`ingest_landing`)", "ingest: files"))
        lines.append(stage_line("files", name, "first-load validation (great_expectations)", "ingest: validation"))
        stage = med("files", lambda r: _stage_seconds(r, "ingest"))
        ok = stage <= INGEST_TARGET_S
        lines.append(
            f"| {name} | **ingest stage** (the `dossiers` asset) | {stage:,.1f} | "
            f"{num('files', lambda r: _stage_cpu(r, 'ingest'))} | {num('files', lambda r: _stage_peak(r, 'ingest'), 0)} | "
            f"{floor_cells('files-floor', stage)} | ≤ {INGEST_TARGET_S:.0f} s | {'met' if ok else '**missed**'} |"
        )
        wall = med("files", lambda r: r["wall_s"])
        lines.append(
            f"| {name} | the process (imports, Dagster, ingest) | {wall:,.1f} | {num('files', lambda r: r['cpu_s'])} | "
            f"{num('files', lambda r: r['peak_rss_mb'], 0)} | {floor_cells('files-floor', wall)} | | |"
        )
    if "onefile" in by_case:
        r0 = by_case["onefile"][0]
        name = f"(g) one file, {r0['rows']:,} rows, {ONEFILE_YEARS} years"
        for label, prefix in (("ingest", "ingest"), ("scoring: weeks", "weeks"), ("scoring: months", "months"),
                              ("site", "site")):
            lines.append(stage_line("onefile", name, label, prefix))
        wall = med("onefile", lambda r: r["wall_s"])
        floor = med("onefile-floor", lambda r: r["wall_s"]) if "onefile-floor" in by_case else float("nan")
        peak = med("onefile", lambda r: r["peak_rss_mb"])
        ok = wall / floor <= RUN_TARGET_RATIO and peak < RSS_TARGET_MB
        lines.append(
            f"| {name} | **`scoreboard run`** (the process) | {wall:,.1f} | {num('onefile', lambda r: r['cpu_s'])} | "
            f"{peak:,.0f} | {floor_cells('onefile-floor', wall)} | ≤ {RUN_TARGET_RATIO:.0f}× floor, "
            f"< {RSS_TARGET_MB / 1024:.0f} GB | {'met' if ok else '**missed**'} |"
        )
        no_site = med("onefile", lambda r: r["wall_s"] - _stage_seconds(r, "site"))
        lines.append(
            f"| {name} | the run without the site | {no_site:,.1f} | "
            f"{num('onefile', lambda r: r['cpu_s'] - _stage_cpu(r, 'site'))} | | {floor_cells('onefile-floor', no_site)} | | |"
        )
    return "\n".join(lines) + "\n"


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--dossiers", type=float, default=10_000_000, help="dossiers to generate (default 1e7)")
    p.add_argument("--years", type=int, default=5, help="years of history ending 2025-12-31 (default 5)")
    p.add_argument("--sizes", help="several sizes, e.g. 1e6,3e6,1e7 (overrides --dossiers)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"data, runs and results (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--increment", type=int, default=0,
                   help="rows in the incremental week (default 0: a usual week at the history's scale; "
                   "a week far above it is held by the drift checks, and the case fails)")
    p.add_argument("--skip-pandas", action="store_true", help="leave out case (c)")
    p.add_argument("--skip-quality", action="store_true",
                   help="leave out the quality suites' costs (python -m bench.quality)")
    p.add_argument("--pandas-mem-gb", type=float, default=16.0,
                   help="address-space cap of the pandas case, GB (0: none; default 16)")
    p.add_argument("--cases", help="comma-separated subset of " + ",".join(CASES) + " (default: all of them "
                   "and the target cases; naming cases runs those only, and the target cases only if --targets "
                   "names them; \"\": the target cases only)")
    p.add_argument("--verify", action="store_true", help="compare the pipeline's numbers with the floor's and pandas'")
    p.add_argument("--profile", action="store_true", help="run the pipeline cases under cProfile (slower)")
    p.add_argument("--py-spy", metavar="PATH", help="sample the pipeline cases with this py-spy binary "
                   "(pip install --target /tmp/pyspy py-spy); summaries in <run>/<case>.pyspy.txt")
    p.add_argument("--targets",
                   help="the target cases at 1 M dossiers, comma-separated subset of " + ",".join(TARGET_CASES)
                   + " (default: all of them, unless --cases names cases; empty: none)")
    p.add_argument("--skip-targets", action="store_true", help="leave out the target cases (e)-(h)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each target case; medians reported (default 3)")
    p.add_argument("--child", choices=CASES + TARGET_CASES, help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--landing", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child(args)
    # `make bench` (no --cases) runs everything, `--cases ""` the target cases only; a
    # run that names its cases (a quick check, the tests' small runs) does not also
    # get three 1 M-dossier runs of each target case
    named = args.cases is not None and any(c.strip() for c in args.cases.split(","))
    if args.targets is None:
        args.targets = "" if named else ",".join(TARGET_CASES)
    if args.cases is None:
        args.cases = ",".join(CASES)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.targets = [] if args.skip_targets else [c.strip() for c in args.targets.split(",") if c.strip()]
    unknown = (set(args.cases) - set(CASES)) | (set(args.targets) - set(TARGET_CASES))
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
    sizes = _sizes(args.sizes) if args.sizes else [int(args.dossiers)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    if args.cases:
        for n in sizes:
            results += run_size(n, args)
        print("\n" + _table(results))
        print(f"all results so far: {out / 'results.md'}")
    held = [r for r in results if r.get("held_files")]
    if args.targets:
        run_targets(args)
    if not args.skip_quality:
        # the suites at a million rows: their cost, measured here rather than in the tests
        done = subprocess.run([sys.executable, "-m", "bench.quality", "--rows", "1e6"], cwd=REPO, env=_env())
        if done.returncode:
            return done.returncode
    if held:
        print("\n" + "\n".join(r["error"] for r in held), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
