"""The lake (pipelines/lake.py, pipelines/provinces.py) on a real PostgreSQL server
(tests/postgres.py), real DuckLake data files and real Dagster runs: the same demo
publishes the same scoreboards as on a DuckDB file, and three provinces ingest and
score at the same time, in three processes sharing one lake and one Dagster instance on
PostgreSQL, with no lost or duplicated dossier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import polars as pl
import psycopg2
import pytest

from config import config_path
from demo.generate import generate_exports
from pipelines import lake
from pipelines import warehouse as wh
from pipelines.cli import main as scoreboard
from tests.postgres import postgres  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
NOW = "2025-08-04T09:00:00"  # after every generated event
PROVINCES = ("caobang", "dienbien", "laichau")
# the lake's tables must be the warehouse's; a province writer's failure names one of these
CONFLICT_WORDS = ("Could not set lock", "Conflicting lock", "Failed to commit", "Transaction conflict")

def lake_target(postgres, name: str) -> str:
    return "ducklake:postgres:" + postgres.create_database(name)


def published(site: Path) -> dict[str, bytes]:
    """Every file of a published site (pages, data files, manifest), by path."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_a_lake_of_an_older_layout_partitions_its_evidence_as_it_upgrades(postgres, tmp_path):
    """Layout 8 left the evidence unpartitioned in a lake: the upgrade to 9 partitions it by
    period, as the other period tables, and keeps its rows."""
    target, data = lake_target(postgres, "upgrade"), str(tmp_path / "data")
    with wh.connect(target, province="caobang", lake_data=data) as con:
        con.execute("ALTER TABLE evidence RESET PARTITIONED BY")
        con.execute("DELETE FROM schema_version WHERE version >= 9")
        con.execute("INSERT INTO evidence (period_type, period_key, unit_code, dossier_id) "
                    "VALUES ('month', '2025-07', 'U1', 'D1')")
        assert (wh.schema_version(con), lake.partition_keys(con, "evidence")) == (8, [])
    with wh.connect(target, province="caobang", lake_data=data) as con:
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        assert lake.partition_keys(con, "evidence") == ["period_type", "period_key"]
        assert con.execute("SELECT period_key, unit_code, dossier_id FROM evidence").fetchall() == [("2025-07", "U1", "D1")]


def test_a_province_s_tables_in_the_lake_are_the_warehouse_s_partitioned_by_period(postgres, tmp_path):
    target = lake_target(postgres, "layout")
    with wh.connect(target, province="caobang", lake_data=str(tmp_path / "data")) as con:
        assert con.execute("SELECT current_database(), current_schema()").fetchall() == [("lake", "caobang")]
        assert lake._tables(con) == set(wh.TABLES)
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        assert lake.partition_keys(con, "scoreboard") == ["period_type", "period_key"]
        assert lake.partition_keys(con, "dossiers") == ["year(received_at)"]
        assert lake.partition_keys(con, "evidence") == ["period_type", "period_key"]
        assert lake.partition_keys(con, "units") == []
        wh.insert(con, "scored_periods", pl.DataFrame(
            {"period_type": ["week", "month"], "period_key": ["2025-W30", "2025-07"], "config_fingerprint": "f"}))
    with wh.connect(target, province="caobang", lake_data=str(tmp_path / "data")) as con:  # opened again: as it was
        assert wh.scored_periods(con, "f").sort("period_key").rows() == [("month", "2025-07"), ("week", "2025-W30")]
    # DuckLake wrote one folder per period value (hive layout) in the province's folder
    assert (tmp_path / "data" / "caobang" / "scored_periods" / "period_type=week" / "period_key=2025-W30").is_dir()
    # the national views: every province's rows with their province
    with wh.connect(target, province="laichau", lake_data=str(tmp_path / "data")):
        pass
    with lake.national(target, tables=wh.LAYOUT.tables) as con:
        assert con.execute("SELECT province, count(*) FROM scored_periods GROUP BY 1 ORDER BY 1").fetchall() == [
            ("caobang", 2)]
        assert lake.provinces(con) == ["caobang", "laichau"]
    with pytest.raises(lake.LakeError, match="SCOREBOARD_PROVINCE"):
        with wh.connect(target, province=""):
            pass
    with pytest.raises(lake.LakeError, match="lower-case letters"):
        with wh.connect(target, province="Cao Bằng"):
            pass
    with pytest.raises(lake.LakeError, match="no province 'hanoi' yet"):
        with wh.connect(target, province="hanoi", read_only=True):
            pass


def test_the_demo_publishes_identical_scoreboards_on_the_file_and_on_the_lake(postgres, tmp_path, monkeypatch):
    """The demo's Hà Nội (wards, communes, districts and departments, across the reform
    of 2025-07-01) at a reduced scale: June and July 2025 at 0.02 of Hà Nội's volume
    (`make demo` is 2025 at 0.05)."""
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    exports = tmp_path / "exports"
    summary = generate_exports(exports, date(2025, 6, 1), date(2025, 7, 31), seed=2025, scale=0.02)
    assert summary.dossiers > 4_000
    target = lake_target(postgres, "demo")
    sites = {}
    for name, where in (("file", ["--warehouse", str(tmp_path / "file.duckdb")]),
                        ("lake", ["--warehouse", target, "--province", "hanoi"])):
        landing = tmp_path / name / "landing"
        shutil.copytree(exports, landing)
        sites[name] = tmp_path / name / "site"
        monkeypatch.setenv("SCOREBOARD_LAKE_DATA", str(tmp_path / "lake-data"))
        assert scoreboard(["run", "--landing", str(landing), "--site", str(sites[name]), *where]) == 0
    on_file, on_lake = published(sites["file"]), published(sites["lake"])
    weeks = [f"2025-W{w}" for w in range(22, 32)]  # the week of 2025-06-01 (W22) … that of 2025-07-31
    assert sorted(k for k in on_file if k.startswith("data/scoreboard-") and k.endswith(".csv")) == [
        f"data/scoreboard-{k}.csv" for k in ["2025-06", "2025-07", *weeks]]
    assert on_file.keys() == on_lake.keys()
    # every page, chart and data file the same, byte for byte (the manifest too)
    assert [k for k in on_file if on_file[k] != on_lake[k]] == []
    with duckdb.connect(str(tmp_path / "file.duckdb"), read_only=True) as con:
        counts = con.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchall()
    with wh.connect(target, province="hanoi", read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers").fetchall() == counts
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == quarantined
    assert counts[0][0] == counts[0][1] > 4_000


def test_make_demo_publishes_identical_scoreboards_on_the_file_and_on_the_lake(demo_run, postgres, tmp_path, monkeypatch):
    """The very `make demo` (`scoreboard demo`: Hà Nội's 2025 at scale 0.05), once on the
    DuckDB file (the session's demo run) and once on DuckLake with PostgreSQL: every
    published scoreboard and explaining table (CSV and Parquet) the same, byte for byte,
    and the same dossiers kept."""
    monkeypatch.setenv("SCOREBOARD_LAKE_DATA", str(tmp_path / "lake-data"))
    target = lake_target(postgres, "make_demo")
    site = tmp_path / "site"
    assert scoreboard(["demo", "--landing", str(tmp_path / "landing"), "--site", str(site),
                       "--warehouse", target, "--province", "hanoi"]) == 0

    def tables(root: Path) -> dict[str, bytes]:
        return {k: v for k, v in published(root.resolve()).items()
                if k.startswith("data/") and k.count("/") == 1 and k.endswith((".csv", ".parquet"))}

    on_file, on_lake = tables(demo_run["site"]), tables(site)
    boards = sorted(k for k in on_file if k.startswith("data/scoreboard-") and k.endswith(".csv"))
    assert len(boards) == 53 + 12  # every week and month of 2025
    assert on_file.keys() == on_lake.keys()
    assert [k for k in on_file if on_file[k] != on_lake[k]] == []
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        counts = con.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers").fetchall()
    with wh.connect(target, province="hanoi", read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers").fetchall() == counts
    assert counts[0][0] == counts[0][1] > 100_000


def lake_deployment(postgres, tmp_path: Path, provinces: dict[str, str], name: str) -> dict[str, str]:
    """A provinces file, a lake and a Dagster instance on PostgreSQL (the shipped
    deploy/dagster.yaml): the environment of `python -m pipelines.provinces run`."""
    listing = "\n".join(f"  {slug}: {{registry: {registry}}}" for slug, registry in provinces.items())
    (tmp_path / "provinces.yaml").write_text(
        f"root: {tmp_path / 'root'}\nnational: {tmp_path / 'national'}\nprovinces:\n{listing}\n", encoding="utf-8")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    postgres.create_database(f"{name}_dagster")
    env = {k: v for k, v in os.environ.items() if k != "SCOREBOARD_DAGSTER_HOME"}
    env.update(
        DAGSTER_HOME=str(home), DAGSTER_PG_HOST=postgres.host, DAGSTER_PG_PORT=str(postgres.port),
        DAGSTER_PG_DB=f"{name}_dagster", DAGSTER_PG_USER=postgres.user, DAGSTER_PG_PASSWORD="",
        SCOREBOARD_PROVINCES=str(tmp_path / "provinces.yaml"), SCOREBOARD_WAREHOUSE=lake_target(postgres, name),
        SCOREBOARD_LAKE_DATA=str(tmp_path / "lake-data"), SCOREBOARD_NOW=NOW,
        GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1",
    )
    return env


def start_province(province: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.provinces", "run", province], cwd=ROOT, env=env,
        stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )


def finished(process: subprocess.Popen, log: Path, timeout: float = 900) -> str:
    assert process.wait(timeout=timeout) == 0, log.read_text(errors="replace")[-3000:]
    text = log.read_text(errors="replace")
    assert not [w for w in CONFLICT_WORDS if w in text], text[-3000:]
    return text


def provinces_instance(env: dict) -> dg.DagsterInstance:
    os.environ.update({k: env[k] for k in env if k.startswith("DAGSTER_PG_")})
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def test_three_provinces_ingest_and_score_at_the_same_time_in_one_lake(postgres, tmp_path, monkeypatch):
    """Cao Bằng, Điện Biên and Lai Châu (registries built by scripts/build_registry.py),
    June and July 2025 at 0.05 of Hà Nội's volumes each, run by three processes at once
    through the lake's graph (province-partitioned assets, one pool per province) into
    one lake and one Dagster instance on PostgreSQL; then each alone on its own DuckDB
    file. Every province keeps the same dossiers and publishes the same scoreboards."""
    env = lake_deployment(postgres, tmp_path, {p: f"{p}.csv" for p in PROVINCES}, "three")
    for p in PROVINCES:
        generate_exports(tmp_path / "exports" / p, date(2025, 6, 1), date(2025, 7, 31), seed=2025, scale=0.05,
                         registry_path=config_path("registry", f"{p}.csv"))
        shutil.copytree(tmp_path / "exports" / p, tmp_path / "root" / p / "landing")
        shutil.copytree(tmp_path / "exports" / p, tmp_path / "file" / p / "landing")
    # the provinces' tables first, while nothing writes (catalog changes: pipelines/lake.py)
    setup = subprocess.run([sys.executable, "-m", "pipelines.provinces", "setup"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert setup.returncode == 0 and "caobang, dienbien, laichau" in setup.stdout, setup.stderr[-2000:]
    # and the instance's: three processes that open it at once do not race to create them
    with psycopg2.connect(postgres.dsn("three_dagster")) as pg, pg.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_name IN "
                    "('runs', 'run_tags', 'event_logs', 'jobs', 'concurrency_slots') ORDER BY 1")
        assert [r[0] for r in cur.fetchall()] == ["concurrency_slots", "event_logs", "jobs", "run_tags", "runs"]
    logs = {p: tmp_path / f"{p}.log" for p in PROVINCES}
    running = {p: start_province(p, env, logs[p]) for p in PROVINCES}
    for p in PROVINCES:
        finished(running[p], logs[p])

    # the three ran at the same time: their runs, recorded in PostgreSQL, overlap
    instance = provinces_instance(env)
    spans = {}
    for p in PROVINCES:
        runs = instance.get_run_records(filters=dg.RunsFilter(tags={"scoreboard/province": p}))
        assert runs and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert {r.dagster_run.tags.get("dagster/partition") for r in runs} >= {p}
        spans[p] = (min(r.start_time for r in runs), max(r.end_time for r in runs))
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), spans
    # each province's writer steps held its own pool
    assert {f"province/{p}" for p in PROVINCES} <= instance.event_log_storage.get_concurrency_keys()

    # each province alone on a DuckDB file, three files at once (one writer each)
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    file_runs = {
        p: subprocess.Popen(
            [str(Path(sys.executable).parent / "scoreboard"), "run", "--landing", str(tmp_path / "file" / p / "landing"),
             "--site", str(tmp_path / "file" / p / "site"), "--warehouse", str(tmp_path / "file" / f"{p}.duckdb"),
             "--registry", str(config_path("registry", f"{p}.csv"))],
            cwd=tmp_path, env={**os.environ, "SCOREBOARD_DAGSTER_HOME": ""},
            stdout=open(tmp_path / f"{p}-file.log", "wb"), stderr=subprocess.STDOUT,
        )
        for p in PROVINCES
    }
    for p in PROVINCES:
        finished(file_runs[p], tmp_path / f"{p}-file.log")

    with _provinces_resource(env).national() as con:
        in_lake = {p: (n, distinct) for p, n, distinct in con.execute(
            "SELECT province, count(*), count(DISTINCT dossier_id) FROM dossiers GROUP BY 1").fetchall()}
        rows_in_lake = dict(con.execute("SELECT province, count(*) FROM scoreboard GROUP BY 1").fetchall())
    for p in PROVINCES:
        with duckdb.connect(str(tmp_path / "file" / f"{p}.duckdb"), read_only=True) as con:
            on_file = con.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers").fetchall()[0]
        # no dossier lost, none twice: the counts of the file, every id once
        assert in_lake[p] == on_file and on_file[0] == on_file[1] > 2_000, (p, in_lake[p], on_file)
        lake_site, file_site = published(tmp_path / "root" / p / "site"), published(tmp_path / "file" / p / "site")
        boards = [k for k in file_site if k.startswith("data/scoreboard-")]
        assert len(boards) == 3 * 12  # 10 weeks and 2 months, CSV, Parquet and XLSX
        assert [k for k in boards if file_site[k] != lake_site.get(k)] == []

    # the national roll-up: every province's scoreboard with its province, a line per province
    result = dg.materialize(
        [a for a in _lake_assets(env)], selection=["national_scoreboard"], instance=instance,
        resources={"provinces": _provinces_resource(env)},
    )
    assert result.success
    lines = pl.read_csv(tmp_path / "national" / "provinces.csv")
    assert lines["province"].to_list() == sorted(PROVINCES)
    assert dict(zip(lines["province"], lines["dossiers"])) == {p: in_lake[p][0] for p in PROVINCES}
    assert lines["months"].to_list() == [2, 2, 2] and lines["latest_month"].to_list() == ["2025-07"] * 3
    national = pl.read_parquet(tmp_path / "national" / "scoreboard.parquet")
    assert dict(national.group_by("province").len().rows()) == rows_in_lake


def _provinces_resource(env: dict):
    from pipelines.provinces import Provinces

    return Provinces(file=env["SCOREBOARD_PROVINCES"], warehouse=env["SCOREBOARD_WAREHOUSE"],
                     lake_data=env["SCOREBOARD_LAKE_DATA"])


def _lake_assets(env: dict) -> list:
    from pipelines.provinces import build_assets, load_deployment

    return build_assets(list(load_deployment(env["SCOREBOARD_PROVINCES"]).provinces))


def test_a_commit_that_meets_another_process_s_catalog_change_is_run_again(postgres, tmp_path):
    """DuckLake 1.4 fails a commit made while another client created and altered a
    table, even of another province ("Failed to parse catalog entry"); the warehouse
    runs the transaction again, and the slice it replaces is written once."""
    target = lake_target(postgres, "retry")
    with wh.connect(target, province="caobang", lake_data=str(tmp_path / "data")):
        pass
    with wh.connect(target, province="laichau", lake_data=str(tmp_path / "data")) as writer:
        other = duckdb.connect(config={"extension_directory": str(lake.extension_directory())})
        other.execute(f"ATTACH '{target}' AS lake")
        attempts = []

        def work():
            attempts.append(1)
            wh.insert(writer, "scored_periods", pl.DataFrame(
                {"period_type": ["week"], "period_key": ["2025-W30"], "config_fingerprint": ["f"]}))
            if len(attempts) == 1:  # another process sets a table up before this commits
                other.execute("CREATE TABLE lake.caobang.notes (period_key VARCHAR)")
                other.execute("ALTER TABLE lake.caobang.notes SET PARTITIONED BY (period_key)")

        wh._in_transaction(writer, work)
        other.close()
        assert len(attempts) == 2
        assert writer.execute("SELECT count(*) FROM scored_periods").fetchall() == [(1,)]


def test_a_setup_killed_before_partitioning_is_finished_by_the_next_setup_or_run(postgres, tmp_path):
    """`setup` killed after a province's tables and their layout version are committed,
    before they are partitioned: the next setup partitions them. So does the next writer
    of a province whose partitioning went missing once its version was current (the
    upgrade 8 → 9 killed between recording 9 and partitioning the evidence)."""
    env = lake_deployment(postgres, tmp_path, {"caobang": "caobang.csv"}, "killed")
    kill = ("import os, sys\nfrom pipelines import lake, provinces\n"
            "lake._partition = lambda *a, **k: os._exit(137)\nsys.exit(provinces.main(['setup']))")
    assert subprocess.run([sys.executable, "-c", kill], cwd=ROOT, env=env).returncode == 137
    target, data = env["SCOREBOARD_WAREHOUSE"], env["SCOREBOARD_LAKE_DATA"]
    with wh.connect(target, province="caobang", read_only=True) as con:
        assert (wh.schema_version(con), lake.partition_keys(con, "scoreboard")) == (wh.SCHEMA_VERSION, [])
    _provinces_resource(env).setup()
    with wh.connect(target, province="caobang", read_only=True) as con:
        assert lake.partition_keys(con, "scoreboard") == ["period_type", "period_key"]
        assert lake.partition_keys(con, "dossiers") == ["year(received_at)"]
    with wh.connect(target, province="caobang", lake_data=data) as con:
        con.execute("ALTER TABLE evidence RESET PARTITIONED BY")
    with wh.connect(target, province="caobang", lake_data=data) as con:
        assert lake.partition_keys(con, "evidence") == ["period_type", "period_key"]


def test_a_new_province_changes_the_catalog_in_few_commits_and_others_wait_them_out(postgres, tmp_path):
    """A province's first writer creates its tables, partitions them and replaces the
    national views: each commit of a catalog change fails the other provinces' commits
    made meanwhile (DuckLake 1.4), so they are few, and a writer whose commits meet
    such changes for a couple of seconds waits and commits once they are over."""
    target, data = lake_target(postgres, "burst"), str(tmp_path / "data")
    meta = "__ducklake_metadata_lake.ducklake_snapshot"
    with wh.connect(target, province="caobang", lake_data=data) as writer:
        before = writer.execute(f"SELECT count(*) FROM {meta}").fetchall()[0][0]
        with wh.connect(target, province="laichau", lake_data=data):
            pass
        added = writer.execute(f"SELECT count(*) FROM {meta}").fetchall()[0][0] - before
        assert added <= 4, added  # the schema, the tables, their partitioning, the national views

        other = duckdb.connect(config={"extension_directory": str(lake.extension_directory())})
        other.execute(f"ATTACH '{target}' AS lake")
        started, attempts = time.monotonic(), []

        def work():
            attempts.append(round(time.monotonic() - started, 1))
            wh.insert(writer, "scored_periods", pl.DataFrame(
                {"period_type": ["week"], "period_key": ["2025-W30"], "config_fingerprint": ["f"]}))
            if time.monotonic() - started < 2:  # another process's catalog changes, for 2 s
                other.execute(f"CREATE TABLE lake.laichau.notes_{len(attempts)} (period_key VARCHAR)")
                other.execute(f"ALTER TABLE lake.laichau.notes_{len(attempts)} SET PARTITIONED BY (period_key)")

        wh._in_transaction(writer, work)
        other.close()
        assert len(attempts) > 1 and attempts[-1] >= 2, attempts
        assert writer.execute("SELECT count(*) FROM scored_periods").fetchall() == [(1,)]


def test_a_run_killed_on_another_machine_frees_its_province_s_slot(postgres, tmp_path):
    """A province's run holding its writer slot on one machine (a Kubernetes job's pod),
    then killed: the next run, on another machine, marks it failed and frees the slot;
    while its process lives, it is left alone."""
    from pipelines.instance import free_slots_of_ended_runs, release_dead_runs

    env = lake_deployment(postgres, tmp_path, {"example": str(ROOT / "tests/fixtures/example/units.csv")}, "pods")
    other_machine = (
        "import socket, sys, time, uuid\nsocket.gethostname = lambda: 'scoreboard-run-pod-1'\n"
        "import dagster as dg\nfrom pipelines.instance import open_instance, run_tags\n"
        "instance = open_instance()\n"
        "run = dg.DagsterRun(job_name='probe', run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,\n"
        "                    tags={**run_tags(), 'scoreboard/province': 'example'})\n"
        "instance.add_run(run)\nstorage = instance.event_log_storage\n"
        "storage.set_concurrency_slots('province/example', 1)\n"
        "assert storage.claim_concurrency_slot('province/example', run.run_id, 'dossiers').is_claimed\n"
        "print(run.run_id, flush=True)\ntime.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", other_machine], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        run_id = holder.stdout.readline().strip()
        assert run_id, "the other machine's run did not start"
        instance = provinces_instance(env)
        assert release_dead_runs(instance) == []  # its process lives
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        holder.kill()
        holder.wait()
    slots = instance.event_log_storage.get_concurrency_info("province/example")
    assert [s.run_id for s in slots.claimed_slots] == [run_id]
    assert release_dead_runs(instance) == [run_id]
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("province/example").claimed_slots == []

    # a run the daemon launched: its run monitoring (deploy/dagster.yaml) marks it failed
    # when its worker is gone, and a slot it still holds is freed
    assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
    assert 0 < instance.run_monitoring_settings["free_slots_after_run_end_seconds"] <= 300
    launched = dg.DagsterRun(job_name="launched", run_id="launched-run", status=dg.DagsterRunStatus.STARTED)
    instance.add_run(launched)
    assert instance.event_log_storage.claim_concurrency_slot("province/example", launched.run_id, "dossiers").is_claimed
    assert free_slots_of_ended_runs(instance, "province/example") == []  # it runs
    instance.report_run_failed(launched, "Run worker gone (run monitoring)")
    assert free_slots_of_ended_runs(instance, "province/example") == [launched.run_id]
    assert instance.event_log_storage.get_concurrency_info("province/example").claimed_slots == []


def test_a_province_s_writer_waits_for_its_pool_and_its_lock(postgres, tmp_path):
    """The worked example as a province: its run waits while another holds the pool
    `province/example` of the Dagster instance (PostgreSQL), and, outside Dagster, a
    second connection writing the province waits for the first's advisory lock."""
    env = lake_deployment(postgres, tmp_path, {"example": str(ROOT / "tests/fixtures/example/units.csv")}, "turns")
    env["SCOREBOARD_NOW"] = "2026-11-22T09:00:00"
    (tmp_path / "root" / "example" / "landing").mkdir(parents=True)
    shutil.copy(ROOT / "tests/fixtures/example/dossiers.csv", tmp_path / "root" / "example" / "landing")
    _provinces_resource(env).setup()
    storage = provinces_instance(env).event_log_storage
    storage.set_concurrency_slots("province/example", 1)
    assert storage.claim_concurrency_slot("province/example", "holder", "holder").is_claimed
    log = tmp_path / "example.log"
    run = start_province("example", env, log)
    deadline = time.monotonic() + 300
    while "waiting for the writer slot of example" not in log.read_text(errors="replace"):
        assert run.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(1)
    time.sleep(3)
    with wh.connect(env["SCOREBOARD_WAREHOUSE"], province="example", read_only=True) as con:
        assert wh.count_rows(con, "dossiers") == 0  # nothing written while it waits
    storage.free_concurrency_slot_for_step("holder", "holder")
    finished(run, log)
    with wh.connect(env["SCOREBOARD_WAREHOUSE"], province="example", read_only=True) as con:
        assert wh.count_rows(con, "dossiers") == 38

    # the advisory lock: a second writer of the province waits until the first closes
    probe = ("import time; from pipelines import warehouse as wh; started = time.monotonic()\n"
             f"with wh.connect({env['SCOREBOARD_WAREHOUSE']!r}, province='example'): pass\n"
             "print(round(time.monotonic() - started, 1))")
    with wh.connect(env["SCOREBOARD_WAREHOUSE"], province="example"):
        second = subprocess.Popen([sys.executable, "-c", probe], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(15)
        assert second.poll() is None  # still waiting
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0 and float(out.strip().splitlines()[-1]) >= 10


def test_the_provinces_code_location_partitions_by_province_and_period():
    """province × week and province × month for scoring, the province for ingestion and
    the site; the embedded graph's checks; no shared pool (each province's is claimed)."""
    from pipelines import assets
    from pipelines.provinces import build_assets

    graph = {a.key.to_user_string(): a for a in build_assets(["caobang", "hanoi"])}
    assert set(graph) == {"dossiers", "weekly_scoreboard", "monthly_scoreboard", "scoreboard_site",
                          "alert_digests", "national_scoreboard"}
    weekly, monthly = graph["weekly_scoreboard"].partitions_def, graph["monthly_scoreboard"].partitions_def
    assert isinstance(weekly, dg.MultiPartitionsDefinition) and isinstance(monthly, dg.MultiPartitionsDefinition)
    assert {d.name for d in weekly.partitions_defs} == {"province", "week"}
    assert {d.name for d in monthly.partitions_defs} == {"province", "month"}
    assert graph["dossiers"].partitions_def.get_partition_keys() == ["caobang", "hanoi"]
    assert "hanoi|2025-07-07" in weekly.get_partition_keys()  # a province's week, never a commune's
    for name in ("dossiers", "weekly_scoreboard", "monthly_scoreboard"):
        embedded = getattr(assets, name)
        assert {c.name for c in graph[name].check_specs} == {c.name for c in embedded.check_specs}
        assert graph[name].op.pool is None and embedded.op.pool == "duckdb_writer"
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m",
                           "pipelines.provinces"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_provinces_schedules_request_a_run_per_province_for_the_period_just_ended():
    """The embedded location's schedules (Monday 07:00, the 1st at 07:00, Hà Nội time,
    stopped until started) over the provinces' graph: each tick a run per province on
    its (province, period) key, tagged with its province (the run queue's limit)."""
    from pipelines.provinces import Provinces, build_assets, defs, province_schedules

    slugs = ["caobang", "dienbien", "laichau"]
    graph = build_assets(slugs)
    location = dg.Definitions(assets=graph, schedules=province_schedules(slugs, graph),
                              resources={"provinces": Provinces(file="provinces.yaml")})
    dg.Definitions.validate_loadable(location)
    repo = location.get_repository_def()
    vn = ZoneInfo("Asia/Ho_Chi_Minh")

    def requests(name: str, at: datetime) -> list[tuple]:
        schedule = repo.get_schedule_def(name)
        assert (schedule.execution_timezone, schedule.default_status) == (
            "Asia/Ho_Chi_Minh", dg.DefaultScheduleStatus.STOPPED)
        context = dg.build_schedule_context(scheduled_execution_time=at, repository_def=repo)
        return [(r.run_key, r.partition_key, {k: v for k, v in r.tags.items() if "partition_set" not in k})
                for r in schedule.evaluate_tick(context).run_requests]

    # Monday 7 July 2025, 07:00: the week of Monday 30 June, every province
    assert repo.get_schedule_def("weekly_schedule").cron_schedule == "0 7 * * 1"
    assert requests("weekly_schedule", datetime(2025, 7, 7, 7, 0, tzinfo=vn)) == [
        (f"{p}:week:2025-06-30", f"{p}|2025-06-30",
         {"scoreboard/province": p, "dagster/partition": f"{p}|2025-06-30", "dagster/partition/province": p,
          "dagster/partition/week": "2025-06-30", "dagster/schedule_name": "weekly_schedule"})
        for p in slugs]
    # the 1st of August 2025, 07:00: July (the key names the month first: its dimension sorts first)
    assert repo.get_schedule_def("monthly_schedule").cron_schedule == "0 7 1 * *"
    assert requests("monthly_schedule", datetime(2025, 8, 1, 7, 0, tzinfo=vn)) == [
        (f"{p}:month:2025-07", f"2025-07|{p}",
         {"scoreboard/province": p, "dagster/partition": f"2025-07|{p}", "dagster/partition/province": p,
          "dagster/partition/month": "2025-07", "dagster/schedule_name": "monthly_schedule"})
        for p in slugs]
    # the shipped location: the provinces of config/provinces.yaml, the same two schedules
    shipped = defs.get_repository_def()
    assert {s.name for s in shipped.schedule_defs} == {"weekly_schedule", "monthly_schedule"}
    tick = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 7, 7, 7, 0, tzinfo=vn),
                                     repository_def=shipped)
    assert [r.partition_key for r in shipped.get_schedule_def("weekly_schedule").evaluate_tick(tick).run_requests] == [
        f"{p}|2025-06-30" for p in ("hanoi", "caobang", "dienbien", "laichau")]


def test_the_shipped_deployment_files_name_what_the_code_reads():
    """deploy/: the same settings, module and run tag as the code (what can be checked
    without a Docker engine or a Kubernetes cluster; dagster.yaml itself runs in the
    tests above)."""
    import yaml

    from pipelines.provinces import PROVINCE_TAG

    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    env = compose["x-scoreboard"]["environment"]
    assert env["SCOREBOARD_WAREHOUSE"].startswith("ducklake:postgres:")
    assert {"SCOREBOARD_LAKE_DATA", "SCOREBOARD_PROVINCES", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"} <= set(env)
    assert "pipelines.provinces" in compose["services"]["code"]["command"]
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["port"] == 4000
    helm = yaml.safe_load((ROOT / "deploy" / "helm-values.yaml").read_text())
    code = helm["dagster-user-deployments"]["deployments"][0]
    assert code["dagsterApiGrpcArgs"] == ["--module-name", "pipelines.provinces"]
    assert {e["name"] for e in code["env"]} == {"SCOREBOARD_WAREHOUSE", "SCOREBOARD_LAKE_DATA",
                                                "SCOREBOARD_S3_ENDPOINT", "SCOREBOARD_PROVINCES"}
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    limits = helm["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert limits[0]["key"] == instance["concurrency"]["runs"]["tag_concurrency_limits"][0]["key"] == PROVINCE_TAG
    # a killed run is marked failed by the daemon's run monitoring, on one host and on Kubernetes
    assert instance["run_monitoring"]["enabled"] and helm["dagsterDaemon"]["runMonitoring"]["enabled"]
    assert helm["dagsterDaemon"]["runMonitoring"]["maxResumeRunAttempts"] == instance["run_monitoring"][
        "max_resume_run_attempts"] == 0
    assert helm["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
