"""Configuration an office changes: registry, profiles, calendar, aliases, catalogue."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def config_path(*parts: str) -> Path:
    return CONFIG_DIR.joinpath(*parts)
