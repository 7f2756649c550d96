"""The Dagster code location of PAR Scoreboard (workspace.yaml loads this module)."""

import dagster as dg

from pipelines.assets import ASSETS
from pipelines.resources import ScoreboardSettings, Warehouse

defs = dg.Definitions(
    assets=ASSETS,
    resources={
        "settings": ScoreboardSettings.from_env(),
        "warehouse": Warehouse.from_env(),
    },
)
