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


def test_the_rescore_sensors_request_only_partitions_that_exist(setup, monkeypatch):
    """A dossier received 30/12/2015 and closed 05/01/2016 moves periods before the
    history's start (the partitions begin with week 2016-01-04 and month 2016-01); one
    still open at the data's end moves the weeks to its month's end, after today's. The
    requests stay within the partitions, and the runs they ask for succeed."""
    settings, resources, instance = setup
    monkeypatch.setenv("SCOREBOARD_NOW", "2016-01-20T09:00:00")
    header = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]
    (settings.landing / "cu.csv").write_text(
        header + "\n"
        "OX-1,001,1.001776,2,10,,2015-12-30 08:00:00,2016-01-08 00:00:00,2016-01-05 10:00:00,,,true,true,true,true,true,,5,\n"
        "OX-2,001,1.001776,2,4,,2016-01-18 08:00:00,2016-01-19 00:00:00,,,,true,true,true,true,true,,,\n",
        encoding="utf-8")
    ingest(instance, resources)
    asked = {}
    for period_type, asset in (("week", weekly_scoreboard), ("month", None)):
        for request in rescore_sensor(period_type)(dg.build_sensor_context(instance=instance)):
            start, end = request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]
            asked[period_type] = (start, end)
            if asset is not None:
                assert dg.materialize(ASSETS, selection=[asset], resources=resources, instance=instance,
                                      tags=request.tags).success
    # week 2016-01-18 is today's: the weeks after it, to the month's end, have no partition yet
    assert asked == {"week": ("2016-01-04", "2016-01-18"), "month": ("2016-01", "2016-01")}


def test_a_listing_whose_ingestion_failed_is_asked_for_again_a_few_times(setup, tmp_path):
    """The run a new file started failed (here: its registry was missing; in a
    deployment, say, the DuckDB file was locked by another program): the file is still
    waiting, so the next tick asks again, under another run key, at most RETRIES times;
    once a run succeeds nothing more is asked."""
    from pipelines.sensors import RETRIES

    settings, resources, instance = setup
    shutil.copy(EXAMPLE / "dossiers.csv", settings.landing / "a.csv")
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings})
    first = landing_sensor(ctx)
    broken = {**resources, "settings": ScoreboardSettings.from_env(
        landing_dir=settings.landing_dir, site_dir=settings.site_dir, registry_path=str(tmp_path / "missing.csv"))}

    def run(request, with_resources) -> bool:
        return dg.materialize(ASSETS, selection=[dossiers], resources=with_resources, instance=instance,
                              tags={"dagster/run_key": request.run_key}, raise_on_error=False).success

    assert not run(first, broken)
    keys = [first.run_key]
    for _ in range(RETRIES):
        ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
        again = landing_sensor(ctx)
        assert isinstance(again, dg.RunRequest) and again.run_key not in keys
        keys.append(again.run_key)
        assert not run(again, broken)
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
    assert isinstance(landing_sensor(ctx), dg.SkipReason)  # no more than RETRIES
    # another listing: one failure, then a success, then nothing more
    shutil.copy(EXAMPLE / "dossiers.csv", settings.landing / "b.csv")
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
    fresh = landing_sensor(ctx)
    assert not run(fresh, broken)
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
    retried = landing_sensor(ctx)
    assert isinstance(retried, dg.RunRequest) and run(retried, resources)
    ctx = dg.build_sensor_context(instance=instance, resources={"settings": settings}, cursor=ctx.cursor)
    assert isinstance(landing_sensor(ctx), dg.SkipReason)
