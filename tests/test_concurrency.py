"""`dagster dev` (webserver, daemon, code server) with the sensors on, files dropped into
the landing folder and a backfill launched at the same time: every run succeeds, no
process meets DuckDB's file lock, the writers never overlap, and the site is published.

Real processes, a real instance (DAGSTER_HOME with the project's dagster.yaml), a real
DuckDB file; it takes a few minutes, most of it the sensors' 30-second intervals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, free_port

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = Path(sys.executable).parent / "dagster"
LOCK_ERRORS = ("Could not set lock on file", "Conflicting lock")
WEEKS = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29",
         "2024-02-05", "2024-02-12", "2024-02-19", "2024-02-26"]
SENSORS = {"landing_sensor", "rescore_weeks_sensor", "rescore_months_sensor", "publish_sensor", "alerts_sensor"}
TIMEOUT = 900  # seconds for everything to settle once the files are dropped (3 to 8 minutes seen)

pytestmark = pytest.mark.skipif(
    not DAGSTER.is_file() or shutil.which("dagster-daemon", path=str(DAGSTER.parent)) is None,
    reason=f"the dagster CLI is not installed next to {sys.executable} (pip install -e '.[test]')",
)


class Webserver:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


WORKSPACE = """
query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { name sensors { name
      sensorState { status ticks(limit: 1) { timestamp status } } } } } } } } } }
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }
"""

BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status } ... on Error { message } } }
"""


def wait_for_location(server: Webserver, dev: subprocess.Popen, log: Path) -> list[dict]:
    """The sensors of the loaded code location, once the webserver answers."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert dev.poll() is None, f"dagster dev exited:\n{log.read_text(errors='replace')[-3000:]}"
        try:
            entries = server.query(WORKSPACE)["workspaceOrError"]["locationEntries"]
        except OSError:
            time.sleep(1)
            continue
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            [entry] = entries
            location = entry["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location
            return [s for repo in location["repositories"] for s in repo["sensors"]]
        time.sleep(1)
    raise AssertionError(f"the code location did not load:\n{log.read_text(errors='replace')[-3000:]}")


def step_windows(instance, run_id: str) -> list[tuple[float, float, str]]:
    """(start, end, step) of every step of a run, from its event log."""
    starts, out = {}, []
    for event in instance.all_logs(run_id):
        if not event.is_dagster_event:
            continue
        kind, step = event.dagster_event.event_type_value, event.step_key
        if kind == "STEP_START":
            starts[step] = event.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step in starts:
            out.append((starts.pop(step), event.timestamp, f"{run_id[:8]}:{step}"))
    return out


def test_dev_daemon_sensors_and_a_backfill_at_once_meet_no_duckdb_lock(tmp_path):
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

    from demo.generate import generate_exports

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    landing, site = tmp_path / "landing", tmp_path / "site"
    landing.mkdir()
    exports = tmp_path / "exports"
    generate_exports(exports, date(2024, 1, 1), date(2024, 2, 29), seed=3, scale=0.05,
                     registry_path=EXAMPLE / "units.csv")
    files = sorted(exports.iterdir())
    assert len(files) == 4
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "SCOREBOARD_LANDING": str(landing),
        "SCOREBOARD_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "SCOREBOARD_SITE": str(site),
        "SCOREBOARD_REGISTRY": str(EXAMPLE / "units.csv"),
        "SCOREBOARD_NOW": "2024-03-14T09:00:00",
    }
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        server = Webserver(port)
        sensors = wait_for_location(server, dev, log)
        # the sensors are on by default: the daemon evaluates them without anyone starting them
        assert {s["name"]: s["sensorState"]["status"] for s in sensors} == dict.fromkeys(SENSORS, "RUNNING")

        # the office drops two months of exports and, at the same moment, someone backfills their weeks
        for path in files:
            shutil.copy(path, landing / path.name)
        launched = server.query(LAUNCH_BACKFILL, {"params": {
            "assetSelection": [{"path": ["weekly_scoreboard"]}], "partitionNames": WEEKS, "fromFailure": False,
        }})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        instance = DagsterInstance.from_config(str(home))
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert time.monotonic() < deadline, f"runs did not settle in {TIMEOUT} s:\n{log.read_text(errors='replace')[-3000:]}"
            assert dev.poll() is None, f"dagster dev exited:\n{log.read_text(errors='replace')[-3000:]}"
            records = instance.get_run_records()
            backfill = server.query(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            settled = (
                records and all(r.dagster_run.is_finished for r in records)
                and backfill["status"] != "REQUESTED" and (site / "index.html").is_file()
            )
            if settled:
                # nothing more is coming once every sensor has looked again after the last run ended
                last_end = max(r.end_time or 0 for r in records)
                ticks = [s["sensorState"]["ticks"] for s in wait_for_location(server, dev, log)]
                if all(t and t[0]["timestamp"] > last_end and t[0]["status"] == "SKIPPED" for t in ticks):
                    break
            time.sleep(2)

        runs = instance.get_runs()
        failed = [(r.run_id, r.status) for r in runs if r.status != DagsterRunStatus.SUCCESS]
        assert not failed, f"runs that did not succeed: {failed}"
        assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
        assert instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id})), "the backfill launched no run"
        by_sensor = Counter(r.tags.get("dagster/sensor_name") for r in runs)
        assert by_sensor["landing_sensor"] == 1, "one ingestion for the files dropped together"
        assert by_sensor["rescore_weeks_sensor"] >= 1 and by_sensor["rescore_months_sensor"] >= 1
        assert by_sensor["publish_sensor"] >= 1
        assert by_sensor["alerts_sensor"] >= 1, "alerts follow each publication"
        for asset in ("dossiers", "weekly_scoreboard", "monthly_scoreboard", "scoreboard_site"):
            assert instance.get_latest_materialization_event(AssetKey(asset)), f"no run materialised {asset}"

        # no process met DuckDB's lock: not in any event, run log, compute log or the processes' output
        texts = [log.read_text(errors="replace")]
        for run in runs:
            for event in instance.all_logs(run.run_id):
                texts.append(event.message or "")
                if event.is_dagster_event and event.dagster_event.event_specific_data is not None:
                    texts.append(repr(event.dagster_event.event_specific_data))
        texts += [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and p.suffix in (".out", ".err", ".log")]
        for needle in LOCK_ERRORS:
            assert not any(needle in t for t in texts), f"{needle!r} found"

        # and the writers took turns: no two steps that open the DuckDB file overlapped
        windows = sorted(w for r in runs for w in step_windows(instance, r.run_id))
        assert len(windows) >= len(runs)
        for (_, end, step), (start, _, following) in zip(windows, windows[1:]):
            assert start >= end, f"{step} and {following} ran at the same time"

        # the site is published, with every period of the files
        assert (site / "index.html").is_file() and (site / "quality.html").is_file()
        manifest = json.loads((site / "data" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["periods"]["month"] == ["2024-01", "2024-02"]
        assert manifest["periods"]["week"] == [f"2024-W{w:02d}" for w in range(1, 10)]
        assert {f["file"] for f in manifest["inputs"]} == {p.name for p in files}
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
