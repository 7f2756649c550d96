"""The Dagster instance the CLI records its runs in: by default the repository's
`dagster_home/`, the one `make dev` opens, so every run, materialised partition and
check result of `scoreboard run/backfill/demo` shows in the UI afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

import dagster as dg
from sqlalchemy.exc import OperationalError

from pipelines.event_log import RANGE_SWITCHES, quicker_records
from pipelines.resources import DEFAULTS

log = logging.getLogger("scoreboard")
# the checkout's instance configuration: one DuckDB writer, telemetry and sign-up prompt off
PROJECT_INSTANCE_CONFIG = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
HOST_TAG, PID_TAG = "scoreboard/host", "scoreboard/pid"


def instance_home() -> Path | None:
    """DAGSTER_HOME when set (it always wins); else SCOREBOARD_DAGSTER_HOME, by default
    `dagster_home` in the current folder, like `data/` and `build/`. None when
    SCOREBOARD_DAGSTER_HOME is set empty: runs are kept in memory only (the tests)."""
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit:
        return Path(explicit).absolute()
    home = os.environ.get("SCOREBOARD_DAGSTER_HOME", DEFAULTS["SCOREBOARD_DAGSTER_HOME"])
    return Path(home).absolute() if home else None


def open_instance() -> dg.DagsterInstance:
    """The instance at `instance_home()`, created if missing. A folder that cannot be
    written does not stop the run: it is said once, and the run is not recorded."""
    # a range of periods recorded in one planned event, stored at once (pipelines/event_log.py)
    for name, value in RANGE_SWITCHES.items():
        os.environ.setdefault(name, value)
    home = instance_home()
    if home is None:
        return dg.DagsterInstance.ephemeral()
    problem = _prepare(home)
    if problem is None:
        try:
            instance = dg.DagsterInstance.from_config(str(home))
        except (OSError, OperationalError) as exc:
            problem = f"cannot be opened ({str(exc).splitlines()[0]})"
    if problem is not None:
        log.warning(
            "the Dagster instance %s %s: this run is not recorded there "
            "(set DAGSTER_HOME to a folder you can write)", home, problem,
        )
        return dg.DagsterInstance.ephemeral()
    quicker_records(instance)
    release_dead_runs(instance)
    return instance


def _prepare(home: Path) -> str | None:
    """Create a missing instance folder with the project's configuration; say why a
    folder cannot be used, or None."""
    try:
        if not home.is_dir():
            home.mkdir(parents=True)
            if PROJECT_INSTANCE_CONFIG.is_file():
                shutil.copyfile(PROJECT_INSTANCE_CONFIG, home / "dagster.yaml")
    except OSError as exc:
        return f"cannot be created ({exc.strerror or exc})"
    # every storage file is written during a run: find out now, not halfway through
    if not all(os.access(path, os.W_OK) for path in (home, *home.rglob("*"))):
        return "is read-only"
    return None


def run_tags() -> dict[str, str]:
    """Which process on which machine runs a CLI run (to tell a killed one later)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def is_command_line_run(run: dg.DagsterRun) -> bool:
    """Started by `scoreboard` (which ingests, scores and publishes in one command)."""
    return HOST_TAG in run.tags


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """A CLI killed mid-run leaves its run "started" and its slot of the `duckdb_writer`
    pool claimed, so the next run would wait for that slot forever. Runs of this
    machine whose process is gone are marked failed and their slots freed."""
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    released = []
    for run in unfinished:
        if _alive(int(run.tags.get(PID_TAG, "0"))):
            continue
        instance.report_run_failed(run, "The scoreboard process running this run was stopped before it ended.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.info("run %s of a stopped scoreboard process marked failed, its writer slot freed", run.run_id)
        released.append(run.run_id)
    return released


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
