"""The tests' Dagster instance: in memory unless a test names a folder, so no test
records runs in the repository's dagster_home/ (pipelines/instance.py)."""

import os

os.environ.pop("DAGSTER_HOME", None)
os.environ["SCOREBOARD_DAGSTER_HOME"] = ""
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
