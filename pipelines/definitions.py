"""The Dagster code location of PAR Scoreboard (workspace.yaml loads this module)."""

import dagster as dg

from pipelines.alerting import alert_digests
from pipelines.assets import ASSETS
from pipelines.resources import ScoreboardSettings, Warehouse
from pipelines.schedules import SCHEDULES
from pipelines.sensors import SENSORS

defs = dg.Definitions(
    assets=[*ASSETS, alert_digests],
    sensors=SENSORS,
    schedules=SCHEDULES,
    resources={
        "settings": ScoreboardSettings.from_env(),
        "warehouse": Warehouse.from_env(),
    },
)
