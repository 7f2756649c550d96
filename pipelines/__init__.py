"""The Dagster code location: assets, checks, partitions, sensors, schedules, resources."""
