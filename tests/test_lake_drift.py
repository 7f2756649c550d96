"""A drifting batch in the lake's graph (pipelines/provinces.py) on a real PostgreSQL
server: a province's held batch changes none of its published files, the run reads
the held files from its own province's materialisation in Dagster's instance on
PostgreSQL, another province of the same lake publishes its update meanwhile, and
the province's corrected file, or the office's release, then publishes
(tests/test_drift_pipeline.py is the same on a DuckDB file)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from config import config_path
from demo.generate import generate_exports
from pipelines import warehouse as wh
from tests.postgres import postgres  # noqa: F401  (the fixture)
from tests.test_drift_pipeline import BA_DINH, HA_DONG, export_of, published_data, write_export, year_later
from tests.test_lake import ROOT, finished, lake_deployment, provinces_instance, start_province
from tests.test_pipeline_e2e import read_published

NOW = "2025-07-02T08:00:00"
HELD = "QuanHaDong_2025-06_xuat-lai.csv"


def district_registry(folder: Path, code: str) -> Path:
    """Hà Nội's registry cut to one district and its communes: a province of its own."""
    units = pl.read_csv(config_path("registry", "hanoi.csv"), infer_schema=False)
    path = folder / f"registry-{code}.csv"
    units.filter((pl.col("unit_code") == code) | (pl.col("parent_code") == code)).write_csv(path)
    return path


def run(province: str, env: dict, log: Path) -> str:
    return finished(start_province(province, env, log), log)


def lake_rows(env: dict, province: str, sql: str) -> list[tuple]:
    with wh.connect(env["SCOREBOARD_WAREHOUSE"], province=province, read_only=True) as con:
        return con.execute(sql).fetchall()


def holds(env: dict, province: str) -> set[tuple]:
    return set(lake_rows(env, province, "SELECT DISTINCT source, check_name FROM quality_holds "
                                        "WHERE source <> '(scoreboard)'"))


def ha_dong_dossiers(env: dict) -> pl.DataFrame:
    with wh.connect(env["SCOREBOARD_WAREHOUSE"], province="hadong", read_only=True) as con:
        return con.sql("SELECT * FROM dossiers ORDER BY dossier_id").pl()


def test_a_province_s_drifting_batch_is_held_in_the_lake_until_corrected_or_released(postgres, tmp_path):
    """Hà Đông and Ba Đình as two provinces of one lake, January to June 2025 at 0.2 of
    their volumes (Ba Đình's June export arrives later). Hà Đông then sends every dossier
    again with the due date a year later (each row valid): held, none of its published
    files changes, while Ba Đình's June publishes; the corrected file publishes (and is
    no longer held); the same wrong file sent again and released by the office with
    `python -m pipelines.provinces release` (the
    lake's `scoreboard release`) publishes its numbers, the release in the manifest."""
    registries = {"hadong": district_registry(tmp_path, HA_DONG), "badinh": district_registry(tmp_path, BA_DINH)}
    env = lake_deployment(postgres, tmp_path, {p: str(r) for p, r in registries.items()}, "drift")
    env["SCOREBOARD_NOW"] = NOW
    landing = {p: tmp_path / "root" / p / "landing" for p in registries}
    site = {p: tmp_path / "root" / p / "site" for p in registries}
    for p, registry in registries.items():
        generate_exports(tmp_path / "exports" / p, date(2025, 1, 1), date(2025, 6, 30), seed=2025, scale=0.2,
                         registry_path=registry)
        landing[p].mkdir(parents=True)
        for export in (tmp_path / "exports" / p).iterdir():
            if not (p == "badinh" and "2025-06" in export.name):
                (landing[p] / export.name).write_bytes(export.read_bytes())
    setup = subprocess.run([sys.executable, "-m", "pipelines.provinces", "setup"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr[-2000:]
    for p in registries:
        run(p, env, tmp_path / f"{p}-first.log")
        assert holds(env, p) == set()
    before = {p: published_data(site[p]) for p in registries}
    every = ha_dong_dossiers(env)
    assert every.height > 1_000

    # Hà Đông's batch drifts; Ba Đình's June export arrives as usual
    write_export(landing["hadong"] / HELD, year_later(every))
    june = export_of(tmp_path / "exports" / "badinh", "quanbadinh", "2025-06")
    (landing["badinh"] / june.name).write_bytes(june.read_bytes())
    text = run("hadong", env, tmp_path / "hadong-held.log")
    # the run read its own province's materialisation (pipelines/cli.py _ingest)
    assert f"held, as drifting from their units' history: {HELD}" in text
    run("badinh", env, tmp_path / "badinh-june.log")

    assert {c for s, c in holds(env, "hadong") if s == HELD} == {"batch_promised_duration", "batch_history_rewrite"}
    assert published_data(site["hadong"]) == before["hadong"]  # no published number of Hà Đông moved
    assert lake_rows(env, "hadong", f"SELECT count(*) FROM held_versions WHERE source_file = '{HELD}'") == [
        (every.height,)]
    assert ha_dong_dossiers(env).equals(every)
    quality = (site["hadong"] / "quality.html").read_text(encoding="utf-8")
    assert "Tệp đang bị giữ lại" in quality and HELD in quality
    # Dagster's record on PostgreSQL: the holding run failed its blocking check, on Hà Đông's partition
    instance = provinces_instance(env)
    [latest] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("dossiers"), asset_partitions=["hadong"]), limit=1).records
    assert latest.asset_materialization.metadata["files_held"].value == [HELD]
    failed = instance.get_run_records(filters=dg.RunsFilter(
        tags={"scoreboard/province": "hadong", "dagster/partition": "hadong"},
        statuses=[dg.DagsterRunStatus.FAILURE]))
    assert len(failed) == 1
    # Ba Đình, the other province of the lake, published its June meanwhile, held nothing
    assert holds(env, "badinh") == set()
    assert "scoreboard-2025-06.csv" not in before["badinh"]
    assert read_published(site["badinh"], "2025-06").filter(pl.col("unit_code") == BA_DINH)["received"][0] > 0

    # Hà Đông sends the file again, right: published, nothing left aside, the same numbers
    write_export(landing["hadong"] / HELD, every)
    run("hadong", env, tmp_path / "hadong-corrected.log")
    assert holds(env, "hadong") == set()
    assert lake_rows(env, "hadong", "SELECT count(*) FROM held_versions") == [(0,)]
    assert lake_rows(env, "hadong", f"SELECT status, rows_read FROM file_accounting WHERE source_file = '{HELD}'") == [
        ("loaded", every.height)]
    assert published_data(site["hadong"]) == before["hadong"]
    assert "Tệp đang bị giữ lại" not in (site["hadong"] / "quality.html").read_text(encoding="utf-8")

    # the wrong file again, released by the office: the lake's Hà Đông publishes a year more for every dossier
    march = read_published(site["hadong"], "2025-03").filter(pl.col("unit_code") == HA_DONG).row(0, named=True)
    assert march["overdue"] > 0
    write_export(landing["hadong"] / HELD, year_later(every))
    run("hadong", env, tmp_path / "hadong-held-again.log")
    assert {c for s, c in holds(env, "hadong") if s == HELD} == {"batch_promised_duration", "batch_history_rewrite"}
    assert published_data(site["hadong"]) == before["hadong"]
    def release(file: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.provinces", "release", "hadong", file,
                               "--reason", "Hà Đông hẹn trả theo năm tài chính"],
                              cwd=ROOT, env=env, capture_output=True, text=True)

    wrong = release("nothing.csv")  # not held: one sentence naming the held file
    assert wrong.returncode == 1 and wrong.stderr.strip() == f"hadong: nothing.csv is not held; the held files are {HELD}"
    released = release(HELD)
    assert released.returncode == 0, released.stderr[-3000:]
    assert f"releasing {HELD} (held by batch_history_rewrite, batch_promised_duration)" in released.stderr
    assert holds(env, "hadong") == set()
    after = read_published(site["hadong"], "2025-03").filter(pl.col("unit_code") == HA_DONG).row(0, named=True)
    assert after["overdue"] == 0 and after["received"] == march["received"]
    manifest = json.loads((site["hadong"] / "data" / "manifest.json").read_text(encoding="utf-8"))
    [released] = manifest["releases"]
    assert (released["file"], released["reason"]) == (HELD, "Hà Đông hẹn trả theo năm tài chính")
    assert manifest["held"] == []
    # the release ran through the lake's graph: a newer materialisation of Hà Đông's partition, nothing held
    [released_record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("dossiers"), asset_partitions=["hadong"]), limit=1).records
    assert released_record.storage_id > latest.storage_id
    assert released_record.asset_materialization.metadata["files_held"].value == []
