"""Data-quality rules and suites."""
