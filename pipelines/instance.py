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

from pipelines import lake
from pipelines.event_log import RANGE_SWITCHES, quicker_records
from pipelines.resources import DEFAULTS

log = logging.getLogger("scoreboard")
# the checkout's instance configuration: one DuckDB writer, telemetry and sign-up prompt off
PROJECT_INSTANCE_CONFIG = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
HOST_TAG, PID_TAG = "scoreboard/host", "scoreboard/pid"
# on runs whose process holds its liveness lock on the instance's PostgreSQL server
# (`_hold_liveness_lock`): any machine can tell such a run's process is gone
LIVENESS_TAG = "scoreboard/liveness"
_liveness: dict[str, object] = {}  # the PostgreSQL session holding this process's lock, while it lives


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
    _hold_liveness_lock(instance)
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
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    return {**tags, LIVENESS_TAG: "postgres"} if _liveness else tags


def _postgres_dsn(instance: dg.DagsterInstance) -> str | None:
    """The libpq URL of the instance's run storage on PostgreSQL (None for another storage)."""
    url = getattr(instance.run_storage, "postgres_url", None)
    return url.replace("postgresql+psycopg2://", "postgresql://", 1) if url else None


def _liveness_lock(host: str, pid: str) -> str:
    return f"process/{host}/{pid}"


def _hold_liveness_lock(instance: dg.DagsterInstance) -> None:
    """Hold, until this process ends, a PostgreSQL advisory lock named after its machine
    and process id: a process killed on one machine (a Kubernetes job's pod) loses it
    with its session, so `release_dead_runs` on another machine can tell."""
    dsn = _postgres_dsn(instance)
    if dsn is not None and dsn not in _liveness:
        _liveness[dsn] = lake.hold_lock_for_life(dsn, _liveness_lock(socket.gethostname(), str(os.getpid())))


def _gone_elsewhere(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> set[str]:
    """The runs of other machines whose process no longer holds its liveness lock."""
    dsn = _postgres_dsn(instance)
    if dsn is None or not runs:
        return set()
    names = {run.run_id: _liveness_lock(run.tags[HOST_TAG], run.tags.get(PID_TAG, "0")) for run in runs}
    free = lake.free_locks(dsn, set(names.values()))
    return {run_id for run_id, name in names.items() if name in free}


def is_command_line_run(run: dg.DagsterRun) -> bool:
    """Started by `scoreboard` (which ingests, scores and publishes in one command)."""
    return HOST_TAG in run.tags


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """A CLI killed mid-run leaves its run "started" and its writer slot (the
    `duckdb_writer` pool, a province's `province/<slug>`) claimed, so the next run would
    wait for that slot forever. Runs whose process is gone are marked failed and their
    slots freed: those of this machine, and those of other machines whose process held
    its liveness lock (an instance on PostgreSQL, the lake's deploy/dagster.yaml)."""
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
        )
    )
    here = socket.gethostname()
    elsewhere = _gone_elsewhere(instance, [
        r for r in unfinished if r.tags.get(HOST_TAG, here) != here and LIVENESS_TAG in r.tags])
    released = []
    for run in unfinished:
        if HOST_TAG not in run.tags:  # not a CLI run: Dagster's run monitoring watches those
            continue
        if run.run_id not in elsewhere and (run.tags[HOST_TAG] != here or _alive(int(run.tags.get(PID_TAG, "0")))):
            continue
        instance.report_run_failed(run, "The scoreboard process running this run was stopped before it ended.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.info("run %s of a stopped scoreboard process marked failed, its writer slot freed", run.run_id)
        released.append(run.run_id)
    return released


def free_slots_of_ended_runs(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """Free the slots of `pool` still claimed by runs that have ended (a run worker
    killed, then marked failed by Dagster's run monitoring, keeps its claims: the
    Helm chart does not pass on free_slots_after_run_end_seconds). The runs freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = {slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}
    if not holders:
        return []
    ended = [r.run_id for r in instance.get_runs(filters=dg.RunsFilter(
        run_ids=sorted(holders), statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                                           dg.DagsterRunStatus.CANCELED]))]
    for run_id in ended:
        storage.free_concurrency_slots_for_run(run_id)
        log.info("the slot of %s held by run %s, which has ended, freed", pool, run_id)
    return ended


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
