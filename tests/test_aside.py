"""transforms/aside.py: the run's second process, where great_expectations and
vl-convert work beside the run instead of taking its lock. What it computes must be
what this process computes, and a process that dies must cost the run nothing."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import CancelledError
from pathlib import Path

import polars as pl
import pytest

from dashboards.charts import VI_FORMAT_LOCALE
from dashboards.images import chart_files
from dashboards.vega import vega_lite_version
from quality.suites import validate_dossiers
from tests.helpers import EXAMPLE, read_example_dossiers
from transforms import aside

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def second_process():
    aside.start()
    yield
    aside.stop()


def _pid() -> int:
    return os.getpid()


def _die_unless_in(pid: int) -> str:
    if os.getpid() != pid:
        os._exit(3)
    return "ran here"


def _refuse(reason: str) -> None:
    raise ValueError(reason)


def _outcomes(result) -> tuple:
    return (result.success, [c.to_dict() for c in result.checks], sorted(result.failed_periods),
            result.unplaced_failures, result.rows)


def test_a_task_runs_in_the_second_process_once_started_and_here_otherwise(second_process):
    assert aside.started()
    assert aside.run(_pid) != os.getpid()
    aside.stop()
    assert not aside.started()
    assert aside.run(_pid) == os.getpid()


def test_a_task_done_with_is_let_go_and_one_not_started_can_be_taken_back(second_process):
    """What a task returned is not kept once its future is dropped (the futures that
    make a task take-back-able must not hold each other); a task behind a running one
    is taken back, its future cancelled, and the one running cannot be."""
    import gc
    import weakref

    done = aside.submit(_pid)
    assert done.result() != os.getpid()
    gone = weakref.ref(done)
    del done
    aside.run(_pid)  # (the process's list of its tasks lets go of the done ones)
    gc.collect()
    assert gone() is None
    running = aside.submit(_sleep, 1.5)
    queued = [aside.submit(_pid) for _ in range(3)]
    time.sleep(0.5)
    assert not aside.take_back(running)
    assert aside.take_back(queued[-1]) and queued[-1].cancelled()
    assert [f.result() != os.getpid() for f in queued[:-1]] == [True, True]


def _frozen() -> int:
    import gc

    return gc.get_freeze_count()


_LOADED: list = []


def _load_many() -> None:
    _LOADED.extend({"n": i} for i in range(50_000))  # what a warm-up's imports leave


_COLLECTING_IN_WARM_UP: list[bool] = []


def _note_collector() -> None:
    _COLLECTING_IN_WARM_UP.append(gc.isenabled())


def _collector_then_and_now() -> tuple[list[bool], bool]:
    return _COLLECTING_IN_WARM_UP, gc.isenabled()


def _every_dtype() -> pl.DataFrame:
    import datetime as dt
    import decimal

    return pl.DataFrame({
        "text": ["a", None, "Phường Ba Đình"],
        "small": pl.Series([1, None, -3], dtype=pl.Int8),
        "count": pl.Series([1, 2, 3], dtype=pl.UInt32),
        "rate": [1.5, None, float("nan")],
        "flag": [True, None, False],
        "day": [dt.date(2025, 7, 1), None, dt.date(2020, 1, 1)],
        "at": [dt.datetime(2025, 7, 1, 8), None, dt.datetime(2020, 1, 1)],
        "local": pl.Series([dt.datetime(2025, 7, 1, 8), None, None]).dt.replace_time_zone("Asia/Ho_Chi_Minh"),
        "money": pl.Series([decimal.Decimal("1.25"), None, decimal.Decimal("3.50")], dtype=pl.Decimal(10, 2)),
        "level": pl.Series(["commune", "department", None], dtype=pl.Enum(["district", "commune", "department"])),
        "group": pl.Series(["p", "q", "p"], dtype=pl.Categorical),
        "codes": [[1, 2], None, []],
        "pair": [{"a": 1, "b": "x"}, None, {"a": 2, "b": None}],
        "took": [dt.timedelta(days=1), None, dt.timedelta(0)],
        "nothing": pl.Series([None, None, None]),
        "raw": [b"x", None, b""],
    })


def _same(value):
    return value


def test_frames_cross_to_the_second_process_and_back_as_arrow_ipc(second_process):
    """Frames and series go both ways as Arrow IPC (quicker than Polars' pickle), and
    come back as they went: every dtype, names, order, nulls; empty frames too."""
    from multiprocessing.reduction import ForkingPickler

    frame = _every_dtype()
    assert b"_frame_from_ipc" in bytes(ForkingPickler.dumps(frame)[:200])
    for value in (frame, frame.clear(), pl.DataFrame(), frame["level"], frame["text"].rename("other"),
                  {"nested": [frame.head(1)]}):
        back = aside.run(_same, value)
        if isinstance(value, dict):
            value, back = value["nested"][0], back["nested"][0]
        assert type(back) is type(value)
        if isinstance(value, pl.Series):
            assert (back.name, back.dtype) == (value.name, value.dtype)
            assert back.equals(value)
        else:
            assert back.schema == value.schema
            assert back.equals(value)


def test_what_the_second_process_loaded_in_its_warm_up_is_set_aside_from_the_collector():
    aside.start()
    try:
        bare = aside.run(_frozen)
    finally:
        aside.stop()
    aside.start(_load_many)
    try:
        assert aside.run(_frozen) >= bare + 50_000
    finally:
        aside.stop()


def test_a_command_freezes_what_it_loaded_once(monkeypatch, tmp_path):
    import gc

    from pipelines import cli

    monkeypatch.setattr(aside, "_FROZEN", False)
    gc.unfreeze()
    assert cli.main(["run", "--landing", str(tmp_path / "none")]) == 1  # (no such folder: it stops there)
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # Dagster's and Polars' modules, classes and functions
    made = [{"n": i} for i in range(20_000)]
    aside.freeze_loaded()  # a second time: nothing more (a run's objects stay collectable)
    assert gc.get_freeze_count() <= frozen and len(made) == 20_000


def test_the_second_process_imports_without_the_collector_and_works_with_it():
    aside.start(_note_collector)
    try:
        assert aside.run(_collector_then_and_now) == ([False], True)
    finally:
        aside.stop()


def test_a_command_imports_without_the_collector_and_works_with_it(tmp_path):
    """`scoreboard run` (pipelines/start.py), in a process of its own: no collection
    while Dagster and the rest are imported, only the one before they are frozen;
    the collector on again for the command's work."""
    script = f"""
import gc, json, sys
from transforms import aside
seen, at_freeze = [], []
gc.callbacks.append(lambda phase, info: phase == "start" and seen.append(info["generation"]))
hold, freeze = aside.hold_collection, aside.freeze_loaded
aside.hold_collection = lambda: (seen.clear(), hold())
aside.freeze_loaded = lambda: (at_freeze.extend(seen), freeze())
from pipelines import start
code = start.main(["run", "--landing", {str(tmp_path / "none")!r}])
print(json.dumps({{"code": code, "dagster": "dagster" in sys.modules, "at_freeze": at_freeze,
                  "frozen": gc.get_freeze_count(), "collecting": gc.isenabled()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=dict(os.environ), capture_output=True,
                          text=True, timeout=120)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["code"] == 1 and out["dagster"]  # (no such folder: it stops there, Dagster imported)
    assert out["at_freeze"] == [] and out["frozen"] > 10_000 and out["collecting"]


def test_a_program_ends_with_its_status_after_its_exit_handlers_without_the_teardown():
    """pipelines/start.py: the handlers registered since run (their output is flushed),
    the status is the program's, and nothing is freed one by one after them (a module
    global's __del__ would print)."""
    script = """
import atexit, sys
from pipelines.start import ending_without_teardown
class Noisy:
    def __del__(self):
        print("torn down", flush=True)
kept = Noisy()
ending = ending_without_teardown()
atexit.register(lambda: print("handler", end=""))  # not flushed by itself
sys.exit(ending(3))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=dict(os.environ), capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (3, "handler")
    # an error not caught ends as Python ends it (the status, the traceback, the teardown)
    raising = script.replace("sys.exit(ending(3))", "1 / 0  # before a status is given")
    done = subprocess.run([sys.executable, "-c", raising], cwd=REPO, env=dict(os.environ), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "ZeroDivisionError" in done.stderr and "torn down" in done.stdout


def test_the_dossier_suite_gives_the_same_outcomes_in_either_process():
    dossiers = read_example_dossiers()
    # Phúc Xá's due dates a year early: five dossiers fail, three periods held
    batch = dossiers.with_columns(
        due_at=pl.when(pl.col("unit_code") == "00001").then(pl.col("due_at") - pl.duration(days=365))
        .otherwise("due_at")
    )
    here = _outcomes(validate_dossiers(batch))
    # in buckets of ids (8 of them): each checked there while the next is cut here
    here_in_buckets = _outcomes(validate_dossiers(batch, bucket_rows=5))
    aside.start()
    try:
        there = _outcomes(validate_dossiers(batch))
        there_in_buckets = _outcomes(validate_dossiers(batch, bucket_rows=5))
    finally:
        aside.stop()
    assert there == here
    assert there_in_buckets == here_in_buckets
    assert here_in_buckets[0] == here[0] and here_in_buckets[2:] == here[2:]
    assert not here[0] and here[2] == [("month", "2024-01"), ("week", "2024-W02"), ("week", "2024-W03")]


def test_a_chart_drawn_in_the_second_process_is_the_same_file(second_process):
    spec = {"data": {"values": [{"đơn vị": "Phúc Xá", "điểm": 90.5}, {"đơn vị": "Bắc Sơn", "điểm": 85.25}]},
            "mark": "bar", "encoding": {"x": {"field": "đơn vị", "type": "nominal"},
                                        "y": {"field": "điểm", "type": "quantitative"}}}
    args = (spec, vega_lite_version(), VI_FORMAT_LOCALE, 2.0, ["svg", "png"])
    there = aside.run(chart_files, *args)
    aside.stop()
    here = chart_files(*args)
    assert there == here
    assert here[0].startswith(b"<svg") and here[1][:8] == b"\x89PNG\r\n\x1a\n"


def test_an_error_of_the_task_is_raised_here_as_it_is(second_process):
    with pytest.raises(ValueError, match="không hợp lệ"):
        aside.run(_refuse, "không hợp lệ")
    assert aside.started()  # the process is still there for the next task


def test_a_process_that_dies_leaves_its_task_and_the_next_to_this_one(second_process, caplog):
    with caplog.at_level(logging.WARNING, logger="scoreboard"):
        assert aside.run(_die_unless_in, os.getpid()) == "ran here"
    assert not aside.started()
    assert "second process stopped" in caplog.text
    assert aside.run(_pid) == os.getpid()


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_stopped_now_the_process_ends_without_finishing_its_task():
    import time
    from concurrent.futures.process import BrokenProcessPool

    aside.start()
    first = aside.run(_pid)
    sleeping = aside.submit(_sleep, 60)
    t0 = time.perf_counter()
    aside.stop(now=True)
    assert time.perf_counter() - t0 < 10 and not aside.started()
    # dropped, not done here instead (it would take a minute)
    try:
        sleeping.result(timeout=10)
        raise AssertionError("the task ran to its end")
    except (BrokenProcessPool, CancelledError):
        pass
    assert time.perf_counter() - t0 < 20
    aside.start()
    try:
        assert aside.run(_pid) not in (first, os.getpid())
    finally:
        aside.stop()


def _sleep_deaf_to_sigterm(seconds: float) -> None:
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)


def test_stopped_now_a_process_deaf_to_sigterm_is_killed(caplog):
    """A task that ignores (or blocks) SIGTERM does not hold the stop until it ends."""
    import time
    from concurrent.futures.process import BrokenProcessPool

    aside.start()
    assert aside.run(_pid) != os.getpid()
    deaf = aside.submit(_sleep_deaf_to_sigterm, 60)
    time.sleep(1.0)  # the task has started there and ignores SIGTERM
    t0 = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="scoreboard"):
        aside.stop(now=True)
    assert time.perf_counter() - t0 < aside.END_GRACE_SECONDS + 5 and not aside.started()
    assert "did not end when told to: killed" in caplog.text
    try:
        deaf.result(timeout=10)
        raise AssertionError("the task ran to its end")
    except (BrokenProcessPool, CancelledError):
        pass


def test_the_second_process_ends_when_the_run_is_killed():
    """A run killed outright (a scheduler's timeout, the kernel out of memory) runs no
    exit handler: its second process must not wait for work for ever."""
    import time

    command = ("import os, signal; from transforms import aside; aside.start(); "
               "print(aside.run(os.getpid), flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", command], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 15
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or " Z " in Path(f"/proc/{child}/stat").read_text()


def test_a_file_larger_than_a_batch_is_read_without_the_second_process(tmp_path, monkeypatch):
    """Reading a file read whole is the run's memory peak: the second process is let
    go meanwhile and comes back (another process) for the checks; the numbers are
    those of one process."""
    from pipelines import cli, ingestion
    from pipelines import warehouse as wh
    from pipelines.resources import ScoreboardSettings, Warehouse

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    seen: list[bool] = []
    read = ingestion.ingest_batch
    monkeypatch.setattr(ingestion, "ingest_batch", lambda *a, **k: seen.append(aside.started()) or read(*a, **k))
    boards = {}
    for how in ("alone", "aside"):
        root = tmp_path / how
        (root / "landing").mkdir(parents=True)
        (root / "landing" / "dossiers.csv").write_bytes((EXAMPLE / "dossiers.csv").read_bytes())
        settings = ScoreboardSettings.from_env(landing_dir=str(root / "landing"), site_dir=str(root / "site"),
                                               registry_path=str(EXAMPLE / "units.csv"))
        warehouse = Warehouse(path=str(root / "w.duckdb"))
        if how == "aside":
            monkeypatch.setattr(ingestion, "BATCH_BYTES", 1024)  # the example's 9 KB is "large"
            aside.start()
            before = aside.run(_pid)
            seen.clear()
        try:
            cli.run_pipeline(settings, warehouse)
            if how == "aside":
                assert seen == [False]  # read without it, and back since
                assert aside.started() and aside.run(_pid) not in (before, os.getpid())
        finally:
            aside.stop()
        with warehouse.connect() as con:
            boards[how] = wh.read_table(con, "SELECT * FROM scoreboard ORDER BY ALL")
    assert boards["alone"].height == 44 and boards["aside"].equals(boards["alone"])  # the expected 44 rows: 36 of weeks, 8 of months


def _site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and p.name != ".par-build.json"}


def test_scoreboard_run_with_its_second_process_publishes_the_site_of_one_process(tmp_path, monkeypatch):
    """`scoreboard run` (pipelines/start.py starts the second process) against the
    same run in this process alone: every published file the same, byte for byte."""
    from pipelines.cli import main

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    roots = {}
    for how in ("alone", "aside"):
        root = tmp_path / how
        (root / "landing").mkdir(parents=True)
        (root / "landing" / "dossiers.csv").write_bytes((EXAMPLE / "dossiers.csv").read_bytes())
        args = ["run", "--landing", str(root / "landing"), "--warehouse", str(root / "w.duckdb"),
                "--site", str(root / "site"), "--registry", str(EXAMPLE / "units.csv")]
        if how == "alone":
            assert main(args) == 0
        else:
            # the `scoreboard` command's entry point, in a process of its own
            done = subprocess.run([sys.executable, "-m", "pipelines.start", *args], cwd=REPO, env=dict(os.environ),
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
            assert "Published 9 weeks and 2 months" in done.stdout
            assert "second process" not in done.stderr  # it was there, and stayed, to the end
            assert "leaked" not in done.stderr  # and was let go cleanly
        roots[how] = root / "site"
    alone, aside_ = _site_files(roots["alone"]), _site_files(roots["aside"])
    assert sorted(alone) == sorted(aside_) and len(alone) > 100
    assert [p for p in alone if alone[p] != aside_[p]] == []
    assert any(p.startswith("charts/") and p.endswith(".png") for p in alone)


def _run_example(root: Path, caplog, *, with_second_process: bool) -> Path:
    """`scoreboard run` of the spec's example in this process, with or without the second
    one started (its log in `caplog`); the run's folder."""
    from pipelines.cli import main

    (root / "landing").mkdir(parents=True)
    (root / "landing" / "dossiers.csv").write_bytes((EXAMPLE / "dossiers.csv").read_bytes())
    # the command's lines do not reach the root logger (assets.show_progress): caught where they are logged
    ours = logging.getLogger("scoreboard")
    ours.addHandler(caplog.handler)
    if with_second_process:
        aside.start()
    try:
        with caplog.at_level(logging.INFO, logger="scoreboard"):
            caplog.clear()
            assert main(["run", "--landing", str(root / "landing"), "--warehouse", str(root / "w.duckdb"),
                         "--site", str(root / "site"), "--registry", str(EXAMPLE / "units.csv")]) == 0
        if with_second_process:
            assert aside.started()  # (the tasks ran there: none broke the process)
    finally:
        aside.stop()
        ours.removeHandler(caplog.handler)
    return root


def test_the_scoreboard_workbooks_made_in_the_second_process_are_the_same_files(tmp_path, monkeypatch, caplog):
    """A build of many workbooks (a first load, a backfill) makes them there, a few
    periods a task; each is the file this process makes."""
    from dashboards.pages import data as data_pages

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    monkeypatch.setattr(data_pages, "WORKBOOKS_AT_ONCE", 4)  # the example's 11 periods: 3 tasks
    books = {}
    for how in ("alone", "aside"):
        root = _run_example(tmp_path / how, caplog, with_second_process=how == "aside")
        made = [r.getMessage() for r in caplog.records if "data scoreboard xlsx" in r.getMessage()]
        expected = "11/11 files " if how == "alone" else "0/11 files (+3 made aside) "
        assert len(made) == 1 and made[0].startswith(f"site: data scoreboard xlsx {expected}"), made
        books[how] = {p.name: p.read_bytes() for p in sorted((root / "site" / "data").glob("scoreboard-*.xlsx"))}
    assert len(books["alone"]) == 11 and books["aside"] == books["alone"]


def test_period_and_unit_pages_rendered_in_the_second_process_are_the_same_site(tmp_path, monkeypatch, caplog):
    """A build of many period and unit pages (a first load, a backfill) renders their
    batches there, those kinds first, while the data files are made here: every file of
    the site, and the build's record of them, is the one this process alone makes."""
    from dashboards import build
    from dashboards.pages.period import PeriodPage
    from dashboards.pages.unit import UnitPage

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    monkeypatch.setattr(build, "APART_AT_LEAST", 4)  # the example's 11 periods, 4 units
    monkeypatch.setattr(PeriodPage, "batch", 4)  # 3 tasks
    monkeypatch.setattr(UnitPage, "batch", 2)  # 2 tasks
    sites, logs, records = {}, {}, {}
    for how in ("alone", "aside"):
        root = _run_example(tmp_path / how, caplog, with_second_process=how == "aside")
        logs[how] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("site: ")]
        sites[how] = _site_files(root / "site")
        records[how] = json.loads((root / "site" / ".par-build.json").read_bytes())
    assert any(m.startswith("site: period pages 11/11 files ") for m in logs["alone"])
    assert any(m.startswith("site: unit pages 4/4 files ") for m in logs["alone"])
    # the charts asked for first, then the kinds that render apart, the data files among them
    assert [m.split(" files ")[0] for m in logs["aside"][:5]] == [
        "site: chart images 0/8", "site: data scoreboard csv+parquet 0/22", "site: data weak_points csv+js 0/22",
        "site: period pages 0/11", "site: unit pages 0/4",
    ], logs["aside"]
    assert logs["aside"][3].startswith("site: period pages 0/11 files (+3 made aside) "), logs["aside"]
    assert logs["aside"][4].startswith("site: unit pages 0/4 files (+2 made aside) "), logs["aside"]
    assert sorted(sites["alone"]) == sorted(sites["aside"]) and len(sites["alone"]) > 100
    assert [p for p in sites["alone"] if sites["alone"][p] != sites["aside"][p]] == []
    assert sum(p.startswith("periods/") for p in sites["alone"]) == 11
    assert sum(p.startswith("units/") for p in sites["alone"]) == 4
    assert records["aside"] == records["alone"]  # each page recorded with its key: the next build skips it


def test_tasks_the_second_process_has_not_started_are_taken_back_and_made_here(tmp_path, monkeypatch, caplog):
    """A build that is done with its own kinds while the second process is still busy
    makes here, from the last asked, the tasks that process has not started: the
    site, and the build's record of it, are the ones this process alone makes."""
    from dashboards import build
    from dashboards.pages import data as data_pages
    from dashboards.pages.period import PeriodPage

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    monkeypatch.setattr(build, "APART_AT_LEAST", 4)
    monkeypatch.setattr(PeriodPage, "batch", 4)
    monkeypatch.setattr(data_pages, "WORKBOOKS_AT_ONCE", 4)
    run = build.run

    def run_while_busy(site, kinds):
        if aside.started():  # the process is kept busy while this build asks it for its tasks
            aside.submit(_sleep, 4.0)
        return run(site, kinds)

    monkeypatch.setattr(build, "run", run_while_busy)
    sites, records = {}, {}
    for how in ("alone", "aside"):
        root = _run_example(tmp_path / how, caplog, with_second_process=how == "aside")
        waited = [r.getMessage() for r in caplog.records if r.getMessage().startswith("site: waited ")]
        sites[how] = _site_files(root / "site")
        records[how] = json.loads((root / "site" / ".par-build.json").read_bytes())
    # 4 charts, the scoreboard's CSV and Parquet, the weak points, 3 batches of period
    # pages, 1 of unit pages, 3 workbook tasks (and the report's PDF, on a thread): all
    # are taken back but the charts, never made here, which wait there behind the sleep
    assert len(waited) == 1 and waited[0].endswith(" for 14 file(s) made aside (9 of them taken back and made here)"), waited
    assert sorted(sites["alone"]) == sorted(sites["aside"]) and len(sites["alone"]) > 100
    assert [p for p in sites["alone"] if sites["alone"][p] != sites["aside"][p]] == []
    assert records["aside"] == records["alone"]


def test_batches_read_in_the_second_process_store_what_one_process_stores(tmp_path, monkeypatch):
    """Many batches: the second is read there while the first is read here, each next
    one while the one before is stored here. The warehouse holds the same rows, file
    accounting and quarantine as a run in one process."""
    from pipelines import cli, ingestion
    from pipelines import warehouse as wh
    from pipelines.resources import ScoreboardSettings, Warehouse

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    monkeypatch.setattr(ingestion, "BATCH_FILES", 1)
    header, *rows = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()
    # four files of the example's rows, one with a row that cannot be read
    parts = [rows[i::4] for i in range(4)]
    parts[2] = parts[2] + ["WX-BAD,001,1.001776,2,10,,not a date,2024-01-10 00:00:00,,,,,,,,,,,"]
    import transforms.ingest as ingest

    reads: list[tuple[str, list[str]]] = []  # (where, the batch's files), as each read starts
    submit, read_all = aside.submit, ingest._read_all
    monkeypatch.setattr(aside, "submit", lambda fn, *a, **k: (
        reads.append(("there", [source for _, source, _ in a[0]]))
        if getattr(fn, "func", fn) is ingestion.ingest_batch else None) or submit(fn, *a, **k))
    # (a read there runs the second process's own, unpatched module)
    monkeypatch.setattr(ingest, "_read_all", lambda items, *a: (
        reads.append(("here", [source for _, source, *_ in items])), read_all(items, *a))[1])
    tables = {}
    for how in ("alone", "aside"):
        root = tmp_path / how
        (root / "landing").mkdir(parents=True)
        for i, part in enumerate(parts):
            (root / "landing" / f"part-{i}.csv").write_text("\n".join([header, *part]) + "\n", encoding="utf-8")
        settings = ScoreboardSettings.from_env(landing_dir=str(root / "landing"), site_dir=str(root / "site"),
                                               registry_path=str(EXAMPLE / "units.csv"))
        warehouse = Warehouse(path=str(root / "w.duckdb"))
        if how == "aside":
            aside.start()
            aside.run(_pid)  # up, and with nothing else to do when the first batch is read
            reads.clear()
        try:
            cli.run_pipeline(settings, warehouse)
            if how == "aside":
                assert aside.started()  # (the reads ran there: none broke the process)
        finally:
            aside.stop()
        with warehouse.connect() as con:
            tables[how] = {
                t: wh.read_table(con, f"SELECT * EXCLUDE (ingested_at) FROM {t} ORDER BY ALL")
                if t == "ingested_files" else wh.read_table(con, f"SELECT * FROM {t} ORDER BY ALL")
                for t in ("dossiers", "dossier_versions", "quarantine", "ingested_files")
            }
    # batches of a file each: the second asked of the second process before the first is
    # read here, the third and fourth each once the one before is back
    assert reads == [("there", ["part-1.csv"]), ("here", ["part-0.csv"]),
                     ("there", ["part-2.csv"]), ("there", ["part-3.csv"])]
    assert tables["alone"]["dossiers"].height == 38 and tables["alone"]["quarantine"].height == 1
    for name, frame in tables["alone"].items():
        assert tables["aside"][name].equals(frame), name
