"""Thresholds of the quality rules: the defaults below, under the deployment's file.

The deployment names its file (SCOREBOARD_QUALITY, default config/quality.yaml;
pipelines.resources.ScoreboardSettings.quality_config loads it); nothing here
reads a file it was not given."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

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


def _merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_quality_config(source: Mapping | Path | str | None = None) -> dict[str, Any]:
    """The quality thresholds: a mapping or a YAML file merged over the defaults;
    None: the defaults alone."""
    if source is None:
        return copy.deepcopy(DEFAULTS)
    if isinstance(source, Mapping):
        return _merge(DEFAULTS, source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the quality settings {path}: {exc.strerror}") from None
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return _merge(DEFAULTS, raw)
