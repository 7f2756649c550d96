"""Sensors: landing folder → ingestion → re-score the changed periods → publish."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from pipelines.assets import ASSETS, dossiers, weekly_scoreboard
from pipelines.resources import ScoreboardSettings, Warehouse
from pipelines.sensors import landing_sensor, publish_sensor, rescore_sensor
from tests.helpers import EXAMPLE


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    resources = {"settings": settings, "warehouse": Warehouse(path=str(tmp_path / "w.duckdb"))}
    with dg.instance_for_test() as instance:
        yield settings, resources, instance


def ingest(instance, resources):
    assert dg.materialize(ASSETS, selection=[dossiers], resources=resources, instance=instance).success


def test_landing_sensor_fires_once_per_new_or_changed_file(setup):
    settings, resources, instance = setup
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings})
    assert isinstance(landing_sensor(ctx), dg.SkipReason)
    shutil.copy(EXAMPLE / "dossiers.csv", settings.landing / "a.csv")
    first = landing_sensor(ctx)
    assert isinstance(first, dg.RunRequest)
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
    assert isinstance(landing_sensor(ctx), dg.SkipReason)
    (settings.landing / "b.csv").write_text("dossier_id\n", encoding="utf-8")
    second = landing_sensor(ctx)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key


def test_rescore_sensors_request_the_changed_ranges_and_publish_follows(setup):
    settings, resources, instance = setup
    shutil.copy(EXAMPLE / "dossiers.csv", settings.landing / "dossiers.csv")
    ingest(instance, resources)
    weeks = rescore_sensor("week")
    ctx = dg.build_sensor_context(instance=instance)
    requests = weeks(ctx)
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in requests] == [("2024-01-01", "2024-02-26")]
    assert requests[0].asset_selection == [weekly_scoreboard.key]
    months = rescore_sensor("month")(dg.build_sensor_context(instance=instance))
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in months] == [("2024-01", "2024-02")]

    # nothing new since: the cursor holds
    ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor)
    assert isinstance(weeks(ctx), dg.SkipReason)

    # run what the sensor asked for, as the daemon would: publish follows
    result = dg.materialize(ASSETS, selection=[weekly_scoreboard], resources=resources, instance=instance,
                            tags=requests[0].tags)
    assert result.success
    publish = publish_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(publish, dg.RunRequest)

    # a correction to one dossier re-scores only the weeks it touches
    header = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]
    (settings.landing / "fix.csv").write_text(
        header + "\nWX-013,00001,1.001776,1,10,,2024-01-08 08:00:00,2024-01-16 00:00:00,"
        "2024-01-15 09:00:00,,,,,true,true,true,,5,\n",
        encoding="utf-8",
    )
    ingest(instance, resources)
    ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor)
    again = weeks(ctx)
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in again] == [("2024-01-08", "2024-01-22")]
