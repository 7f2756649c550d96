"""Data-quality rules and suites."""

import os

# great_expectations reads this when it is first imported (quality.gx_engine does so lazily).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
