"""The code location Dagster loads (workspace.yaml → pipelines.definitions) has every
asset, check, sensor and schedule the README promises, by name."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs
from quality.drift import DRIFT_CHECKS

ASSETS = {"dossiers", "weekly_scoreboard", "monthly_scoreboard", "scoreboard_site", "alert_digests"}
CHECKS = {
    ("dossiers", "rows_accounted"), ("dossiers", "batch_quality"), ("dossiers", "dossiers_valid"),
    ("weekly_scoreboard", "early_warning"), ("weekly_scoreboard", "scoreboard_valid"),
    ("weekly_scoreboard", "published"),
    ("monthly_scoreboard", "band_at_risk"), ("monthly_scoreboard", "scoreboard_valid"),
    ("monthly_scoreboard", "published"),
    ("alert_digests", "alerts_delivered"),
    *(("dossiers", name) for name in DRIFT_CHECKS),
}
SENSORS = {"landing_sensor", "rescore_weeks_sensor", "rescore_months_sensor", "publish_sensor", "alerts_sensor"}
SCHEDULES = {"weekly_schedule", "monthly_schedule"}


def test_the_code_location_loads_with_everything_named():
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert CHECKS <= checks, CHECKS - checks
    assert SENSORS <= {s.name for s in repo.sensor_defs}
    assert SCHEDULES <= {s.name for s in repo.schedule_defs}
    assert {"settings", "warehouse"} <= set(defs.resources)
    # the scoring assets are partitioned by week and by month
    assert graph.get(dg.AssetKey("weekly_scoreboard")).partitions_def is not None
    assert graph.get(dg.AssetKey("monthly_scoreboard")).partitions_def is not None
    blocking = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys
                if graph.get_check_spec(c).blocking}
    assert {("weekly_scoreboard", "scoreboard_valid"), ("monthly_scoreboard", "scoreboard_valid"),
            *(("dossiers", name) for name in DRIFT_CHECKS)} <= blocking
    assert not blocking & {("weekly_scoreboard", "early_warning"), ("monthly_scoreboard", "band_at_risk")}


def test_every_asset_that_opens_the_warehouse_waits_for_the_one_writer_slot():
    """DuckDB allows one writer process: every asset that needs the `warehouse` resource
    is in the one pool that dagster_home/dagster.yaml limits to one slot."""
    from pathlib import Path

    import yaml

    from pipelines.resources import WRITER_POOL

    repo = defs.get_repository_def()
    writers = {ad.node_def.name: ad.op.pool for ad in set(repo.assets_defs_by_key.values())
               if "warehouse" in ad.required_resource_keys}
    assert set(writers) == ASSETS and set(writers.values()) == {WRITER_POOL}, writers
    home = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
    assert yaml.safe_load(home.read_text(encoding="utf-8"))["concurrency"]["pools"] == {"default_limit": 1}
