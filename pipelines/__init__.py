"""The Dagster code location: assets, checks, partitions, sensors, schedules, resources."""

import warnings

# Single-run backfills (BackfillPolicy.single_run) are a deliberate choice; Dagster
# flags the parameter as beta on every import, which only alarms users of the CLI.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta", category=Warning)
