"""The tests' Dagster instance: in memory unless a test names a folder, so no test
records runs in the repository's dagster_home/ (pipelines/instance.py); the demo,
run once for the tests that check it."""

import os

import pytest

os.environ.pop("DAGSTER_HOME", None)
os.environ["SCOREBOARD_DAGSTER_HOME"] = ""
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> dict:
    """What `make demo` runs (`scoreboard demo`: Hà Nội's 2025 at scale 0.05, then the
    pipeline), into temporary folders, once per session: several test modules check
    the demo (tests/test_generate.py, test_evidence.py, test_browser.py), and it takes
    minutes."""
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("demo")
    paths = {"landing": root / "landing", "warehouse": root / "warehouse.duckdb", "site": root / "site"}
    main(["demo", "--landing", str(paths["landing"]), "--warehouse", str(paths["warehouse"]),
          "--site", str(paths["site"])])
    return {**paths, "site": paths["site"].resolve()}
