"""Thresholds of the quality rules, from config/quality.yaml (defaults below)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from config import config_path

DEFAULTS: dict[str, Any] = {
    "early_warning": {
        "lookback_weeks": 8,
        "min_history_weeks": 4,
        "mad_scale": 1.4826,
        "include_provisional": False,
        "indicators": {
            "received": {
                "drop_z": -3.0,
                "spike_z": 4.0,
                "mad_floor": 2.0,
                "mad_floor_relative": 0.1,
            },
            "on_time_rate": {
                "drop_z": -3.0,
                "spike_z": None,
                "mad_floor": 0.05,
                "mad_floor_relative": 0.0,
                "min_denominator": 20,
            },
        },
    },
    "band_at_risk": {"margin_points": 2.0, "min_volume": None},
}


def default_config_path() -> Path:
    return config_path("quality.yaml")


def _merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_quality_config(source: Mapping | Path | str | None = None) -> dict[str, Any]:
    """The quality thresholds: a mapping (merged over the defaults), a YAML path, or
    None for config/quality.yaml (the defaults when the file does not exist)."""
    if isinstance(source, Mapping):
        return _merge(DEFAULTS, source)
    path = Path(source) if source is not None else default_config_path()
    if source is None and not path.exists():
        return copy.deepcopy(DEFAULTS)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return _merge(DEFAULTS, raw)
