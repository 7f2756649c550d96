"""One Dagster instance: what the CLI runs is what `make dev` shows.

The CLI runs with DAGSTER_HOME unset and the repository default pointed at a copy of
the repository's dagster_home/ (SCOREBOARD_DAGSTER_HOME); the instance is then read
back directly and through the webserver's GraphQL schema on workspace.yaml, as the UI
reads it. No test writes into the repository's dagster_home/."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.event_log import RANGE_SWITCHES, quicker_records
from pipelines.instance import HOST_TAG, PID_TAG, instance_home, open_instance
from pipelines.sensors import publish_sensor, rescore_sensor
from quality.drift import DRIFT_CHECKS
from tests.helpers import EXAMPLE

REPO = Path(__file__).resolve().parents[1]
REPO_HOME = REPO / "dagster_home"
# the worked example covers January and February 2024: nine ISO weeks from Monday 1 January
WEEKS = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29",
         "2024-02-05", "2024-02-12", "2024-02-19", "2024-02-26"]
MONTHS = ["2024-01", "2024-02"]
CHECKS = {
    "dossiers": {"rows_accounted", "batch_quality", "dossiers_valid", *DRIFT_CHECKS},
    "weekly_scoreboard": {"early_warning", "scoreboard_valid", "published"},
    "monthly_scoreboard": {"band_at_risk", "scoreboard_valid", "published"},
    "alert_digests": {"alerts_delivered"},
}
UI_QUERY = """
query {
  shouldShowNux
  runsOrError { ... on Runs { results { status } } }
  weekly: assetNodeOrError(assetKey: {path: ["weekly_scoreboard"]}) { ...Shown }
  monthly: assetNodeOrError(assetKey: {path: ["monthly_scoreboard"]}) { ...Shown }
  dossiers: assetNodeOrError(assetKey: {path: ["dossiers"]}) { ...Shown }
}
fragment Shown on AssetNode {
  partitionStats { numMaterialized numFailed }
  assetMaterializations(limit: 1) { runId }
  assetChecksOrError { ... on AssetChecks { checks {
    name executionForLatestMaterialization { status evaluation { success } } } } }
}
"""


def _snapshot(folder: Path) -> dict[str, float]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime for p in folder.rglob("*")}


def _example_args(root: Path) -> list[str]:
    return [
        "--landing", str(root / "landing"), "--warehouse", str(root / "w.duckdb"),
        "--site", str(root / "site"), "--registry", str(EXAMPLE / "units.csv"),
    ]


def _landing(root: Path) -> None:
    (root / "landing").mkdir(parents=True)
    shutil.copy(EXAMPLE / "dossiers.csv", root / "landing")


@pytest.fixture
def repo_default(tmp_path, monkeypatch) -> Path:
    """The repository's default instance, as a copy: DAGSTER_HOME unset."""
    home = tmp_path / "dagster_home"
    shutil.copytree(REPO_HOME, home, ignore=lambda _d, names: [n for n in names if n != "dagster.yaml"])
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", str(home))
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    _landing(tmp_path)
    return home


def test_the_cli_records_every_partition_and_check_where_the_ui_reads(repo_default, tmp_path, capsys):
    repo_before = _snapshot(REPO_HOME)
    assert main(["run", *_example_args(tmp_path)]) == 0
    assert "Published 9 weeks and 2 months" in capsys.readouterr().out

    instance = dg.DagsterInstance.from_config(str(repo_default))
    assert not instance.is_ephemeral
    assert sorted(instance.get_materialized_partitions(dg.AssetKey("weekly_scoreboard"))) == WEEKS
    assert sorted(instance.get_materialized_partitions(dg.AssetKey("monthly_scoreboard"))) == MONTHS
    # a range's run plans its periods in one event (pipelines/event_log.py RANGE_SWITCHES)
    for asset, periods in (("weekly_scoreboard", WEEKS), ("monthly_scoreboard", MONTHS)):
        planned = instance.get_event_records(dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=dg.AssetKey(asset)))
        assert len(planned) == 1, asset
        assert sorted(planned[0].event_log_entry.dagster_event.partitions_subset.get_partition_keys()) == periods
    for asset in ("dossiers", "scoreboard_site", "alert_digests"):
        assert instance.get_latest_materialization_event(dg.AssetKey(asset)) is not None, asset
    keys = [dg.AssetCheckKey(dg.AssetKey(asset), name) for asset, names in CHECKS.items() for name in names]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    assert set(latest) == set(keys)
    for key, record in latest.items():
        assert record.status.value == "SUCCEEDED" and record.evaluation.passed, key

    # ingest, the weeks in one run, the months in one run, publish, alerts
    runs = instance.get_runs()
    assert len(runs) == 5 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert {r.tags[PID_TAG] for r in runs} == {str(os.getpid())}
    assert {r.tags[HOST_TAG] for r in runs} == {socket.gethostname()}
    ranges = {
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in runs if "dagster/asset_partition_range_start" in r.tags
    }
    assert ranges == {(WEEKS[0], WEEKS[-1]), (MONTHS[0], MONTHS[-1])}
    assert _snapshot(REPO_HOME) == repo_before, "a test wrote into the repository's dagster_home"

    # `make dev`'s sensors see these runs but redo nothing: the command scored and published
    for sensor in (rescore_sensor("week"), rescore_sensor("month"), publish_sensor):
        context = dg.build_sensor_context(instance=instance)
        assert isinstance(sensor(context), dg.SkipReason), sensor.name
        assert context.cursor, sensor.name  # past the command line's materialisations

    # what the UI shows: the webserver's GraphQL schema over workspace.yaml and this instance
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
        shown = execute_dagster_graphql(context, UI_QUERY)
    assert shown.errors is None, shown.errors
    ui = shown.data
    assert ui["shouldShowNux"] is False  # dagster.yaml: nux off
    assert [r["status"] for r in ui["runsOrError"]["results"]] == ["SUCCESS"] * 5
    assert ui["weekly"]["partitionStats"] == {"numMaterialized": len(WEEKS), "numFailed": 0}
    assert ui["monthly"]["partitionStats"] == {"numMaterialized": len(MONTHS), "numFailed": 0}
    assert ui["dossiers"]["assetMaterializations"]
    for node, asset in (("weekly", "weekly_scoreboard"), ("monthly", "monthly_scoreboard"), ("dossiers", "dossiers")):
        checks = ui[node]["assetChecksOrError"]["checks"]
        assert {c["name"] for c in checks} == CHECKS[asset]
        for check in checks:
            execution = check["executionForLatestMaterialization"]
            assert execution == {"status": "SUCCEEDED", "evaluation": {"success": True}}, (asset, check)


def test_an_explicit_dagster_home_wins_and_a_missing_one_is_created(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit" / "home"
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", str(tmp_path / "default"))
    monkeypatch.setenv("DAGSTER_HOME", str(explicit))
    assert instance_home() == explicit
    instance = open_instance()
    assert not instance.is_ephemeral and Path(instance.root_directory) == explicit
    # a folder the CLI creates gets the project's configuration: one writer, nothing calls out
    assert (explicit / "dagster.yaml").read_bytes() == (REPO_HOME / "dagster.yaml").read_bytes()
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert not instance.telemetry_enabled and not instance.nux_enabled
    assert not (tmp_path / "default").exists()


def test_the_default_is_dagster_home_in_the_current_folder_and_empty_means_memory(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SCOREBOARD_DAGSTER_HOME")
    monkeypatch.chdir(tmp_path)
    assert instance_home() == tmp_path / "dagster_home"
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", "")
    assert instance_home() is None and open_instance().is_ephemeral


def test_the_tests_record_nowhere_by_default():
    """tests/conftest.py: the CLI run by any other test keeps its runs in memory."""
    assert "DAGSTER_HOME" not in os.environ
    assert os.environ["SCOREBOARD_DAGSTER_HOME"] == ""


@pytest.fixture
def said(caplog):
    """What the CLI says on its own logger (which does not propagate to pytest's)."""
    logger = logging.getLogger("scoreboard")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_an_instance_folder_that_cannot_be_made_does_not_stop_the_cli(tmp_path, monkeypatch, capsys, said):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "a_file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("SCOREBOARD_DAGSTER_HOME", str(tmp_path / "a_file" / "dagster_home"))
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    _landing(tmp_path)
    assert main(["run", *_example_args(tmp_path)]) == 0
    assert "Published 9 weeks and 2 months" in capsys.readouterr().out
    assert f"the Dagster instance {tmp_path / 'a_file' / 'dagster_home'} cannot be created" in said.text
    assert "this run is not recorded there" in said.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_instance_folder_falls_back_to_memory(tmp_path, monkeypatch, said):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    try:
        assert open_instance().is_ephemeral
    finally:
        home.chmod(0o755)
    assert "is read-only" in said.text


def test_a_killed_run_does_not_hold_the_writer_slot_for_the_next(repo_default, tmp_path):
    """A SIGKILLed backfill leaves its run started with the duckdb_writer slot claimed
    (Dagster frees it only for runs that end); the next CLI run releases it, instead
    of waiting for it forever, and finishes."""
    command = [sys.executable, "-m", "pipelines.cli", "backfill", "--from", "2023-01", "--to", "2024-02",
               *_example_args(tmp_path)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:  # printed inside the scoring step, which holds the slot
        if line.startswith("scoring weeks"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    instance = dg.DagsterInstance.from_config(str(repo_default))
    [killed] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert killed.tags[PID_TAG] == str(proc.pid)
    [claimed] = instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots
    assert claimed.run_id == killed.run_id

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Published 9 weeks and 2 months" in again.stdout  # the data's: the range is narrowed to them
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots == []
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def days(context):
    return dg.MaterializeResult(metadata={"rows": len(context.partition_keys)})


def _stored_range(home: Path, at_once: bool) -> tuple[dict, int]:
    """A range of seven days materialised in one run on an instance in `home`; what the
    UI's queries read back of it, and how many index transactions stored the run."""
    home.mkdir()
    instance = dg.DagsterInstance.from_config(str(home))
    if at_once:
        quicker_records(instance)
    storage = instance.event_log_storage
    transactions = []
    index_transaction = storage.index_transaction

    def counted():
        transactions.append(1)
        return index_transaction()

    storage.index_transaction = counted
    dg.materialize([days], instance=instance, tags={
        "dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-01-07"})
    records = instance.fetch_materializations(days.key, limit=100).records
    record = instance.get_asset_records([days.key])[0].asset_entry
    shown = {
        "materialized": sorted(instance.get_materialized_partitions(days.key)),
        "events": sorted((r.partition_key, r.asset_materialization.metadata["rows"].value,
                          sorted(r.asset_materialization.tags or {})) for r in records),
        "latest": record.last_materialization_record.partition_key,
        # the index's tags of each event, which the UI filters materialisations by
        "tags": sorted(sorted(t) for t in storage.get_event_tags_for_asset(days.key)),
    }
    return shown, len(transactions)


def test_a_range_is_stored_at_once_as_dagster_stores_its_events_one_by_one(tmp_path, monkeypatch):
    """pipelines/event_log.py: a range's materialisations in one transaction of the
    index, the same rows as Dagster's SQLite storage writes one event at a time."""
    for name, value in RANGE_SWITCHES.items():  # as the CLI's runs have them
        monkeypatch.setenv(name, value)
    alone, one_by_one = _stored_range(tmp_path / "alone", at_once=False)
    together, at_once = _stored_range(tmp_path / "together", at_once=True)
    assert together == alone
    assert alone["materialized"] == [f"2024-01-0{d}" for d in range(1, 8)]
    assert len(alone["events"]) == 7 and alone["latest"] == "2024-01-07" and len(alone["tags"]) == 7
    # the range planned in one event, then its seven materialisations: a transaction each
    assert (at_once, one_by_one) == (2, 8)


def test_a_run_is_recorded_through_open_files_and_lets_them_go(tmp_path, monkeypatch):
    """pipelines/event_log.py OpenFiles: the index's file and the run's stay open for
    the run's events (Dagster's storage opens them again for each), what the UI reads
    back is the same, and the files are let go when the storage is disposed of or wiped."""
    import pipelines.event_log as event_log

    for name, value in RANGE_SWITCHES.items():
        monkeypatch.setenv(name, value)
    made = []
    create_engine = event_log.create_engine
    monkeypatch.setattr(event_log, "create_engine", lambda *a, **kw: made.append(a[0]) or create_engine(*a, **kw))
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.from_config(str(home))
    quicker_records(instance)
    storage = instance.event_log_storage
    for day in ("2024-01-01", "2024-01-02"):  # two runs, a dozen events each
        assert dg.materialize([days], instance=instance, partition_key=day).success
    # the index once, each run's file once
    assert len(made) == 3 and sum("index.db" in url for url in made) == 1
    assert sorted(instance.get_materialized_partitions(days.key)) == ["2024-01-01", "2024-01-02"]
    assert len(storage.get_records_for_run(instance.get_runs()[0].run_id).records) > 10

    storage.wipe()  # deletes the runs' files: the open ones are let go first
    assert set(storage.__dict__.get("_open_files", {})) <= {"index"}  # (emptied again by the wipe)
    assert dg.materialize([days], instance=instance, partition_key="2024-01-03").success
    assert instance.get_materialized_partitions(days.key) == {"2024-01-03"}
    instance.dispose()
    assert "_open_files" not in storage.__dict__
