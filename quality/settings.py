"""Thresholds of the quality rules: the defaults below, under the deployment's file.

The deployment names its file (SCOREBOARD_QUALITY, default config/quality.yaml;
pipelines.resources.ScoreboardSettings.quality_config loads it); nothing here reads a
file it was not given. Every setting has a default here; a file only overrides what
it names. A value of the wrong kind or out of range, or a name no rule reads, is
refused with one sentence naming the file, the setting and what it must be."""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase
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
    "batch": {"max_quarantine_share": 0.2, "min_rows": 20},
    "drift": {
        "lookback_days": 180,
        "min_rows": 20,
        "mad_scale": 1.4826,
        "promised_duration": {
            "min_history": 5,
            "z": 4.0,
            "floor_days": 2,
            "floor_relative": 0.5,
            "max_share": 0.5,
            "catalogue_ratio": 2.0,
        },
        "clock_shift": {
            "min_history": 50,
            "usual_hour_share": 0.01,
            "max_inside_share": 0.5,
            "min_restored_share": 0.8,
        },
        "volume": {
            "lookback_months": 6,
            "min_history_months": 3,
            "spike_z": 5.0,
            "max_ratio": 1.6,
            "min_excess": 20,
            "mad_floor_relative": 0.1,
        },
        "status_mix": {
            "young_days": 7,
            "min_history_files": 3,
            "min_closed_share": 0.95,
            "min_gap": 0.25,
            "max_chance": 1.0e-6,
        },
        "history_rewrite": {
            "min_dossiers": 20,
            "max_share": 0.5,
            "due_tolerance_days": 7,
        },
    },
}

# What each setting must be: (kind, lowest, highest, may be null). Kinds: "number"
# (int or float), "int", "bool". Paths use * for any indicator name.
_NUMBER, _INT, _BOOL = "number", "int", "bool"
RULES: dict[str, tuple[str, float | None, float | None, bool]] = {
    "early_warning.lookback_weeks": (_INT, 1, None, False),
    "early_warning.min_history_weeks": (_INT, 1, None, False),
    "early_warning.mad_scale": (_NUMBER, 0, None, False),
    "early_warning.include_provisional": (_BOOL, None, None, False),
    "early_warning.indicators.*.drop_z": (_NUMBER, None, 0, True),
    "early_warning.indicators.*.spike_z": (_NUMBER, 0, None, True),
    "early_warning.indicators.*.mad_floor": (_NUMBER, 0, None, False),
    "early_warning.indicators.*.mad_floor_relative": (_NUMBER, 0, None, False),
    "early_warning.indicators.*.min_denominator": (_INT, 0, None, True),
    "band_at_risk.margin_points": (_NUMBER, 0, 100, False),
    "band_at_risk.min_volume": (_INT, 0, None, True),
    "batch.max_quarantine_share": (_NUMBER, 0, 1, False),
    "batch.min_rows": (_INT, 0, None, False),
    "drift.lookback_days": (_INT, 1, None, False),
    "drift.min_rows": (_INT, 1, None, False),
    "drift.mad_scale": (_NUMBER, 0, None, False),
    "drift.promised_duration.min_history": (_INT, 1, None, False),
    "drift.promised_duration.z": (_NUMBER, 0, None, False),
    "drift.promised_duration.floor_days": (_NUMBER, 0, None, False),
    "drift.promised_duration.floor_relative": (_NUMBER, 0, None, False),
    "drift.promised_duration.max_share": (_NUMBER, 0, 1, False),
    "drift.promised_duration.catalogue_ratio": (_NUMBER, 1, None, True),
    "drift.clock_shift.min_history": (_INT, 1, None, False),
    "drift.clock_shift.usual_hour_share": (_NUMBER, 0, 1, False),
    "drift.clock_shift.max_inside_share": (_NUMBER, 0, 1, False),
    "drift.clock_shift.min_restored_share": (_NUMBER, 0, 1, False),
    "drift.volume.lookback_months": (_INT, 1, None, False),
    "drift.volume.min_history_months": (_INT, 1, None, False),
    "drift.volume.spike_z": (_NUMBER, 0, None, False),
    "drift.volume.max_ratio": (_NUMBER, 1, None, False),
    "drift.volume.min_excess": (_INT, 0, None, False),
    "drift.volume.mad_floor_relative": (_NUMBER, 0, None, False),
    "drift.status_mix.young_days": (_INT, 1, None, False),
    "drift.status_mix.min_history_files": (_INT, 1, None, False),
    "drift.status_mix.min_closed_share": (_NUMBER, 0, 1, False),
    "drift.status_mix.min_gap": (_NUMBER, 0, 1, False),
    "drift.status_mix.max_chance": (_NUMBER, 0, 1, False),
    "drift.history_rewrite.min_dossiers": (_INT, 1, None, False),
    "drift.history_rewrite.max_share": (_NUMBER, 0, 1, False),
    "drift.history_rewrite.due_tolerance_days": (_NUMBER, 0, None, False),
}
# mappings whose keys are names an office chooses (an indicator is any scoreboard column)
_OPEN_MAPPINGS = ("early_warning.indicators",)


def _merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _rule(path: str) -> tuple[str, float | None, float | None, bool] | None:
    return next((rule for pattern, rule in RULES.items() if fnmatchcase(path, pattern)), None)


def _what(kind: str, lo, hi, nullable: bool) -> str:
    noun = {"number": "a number", "int": "a whole number", "bool": "true or false"}[kind]
    if lo is not None and hi is not None:
        noun += f" from {lo:g} to {hi:g}"
    elif lo is not None:
        noun += f" of at least {lo:g}"
    elif hi is not None:
        noun += f" of at most {hi:g}"
    return noun + (" (or null)" if nullable else "")


def _valid(value: Any, kind: str, lo, hi, nullable: bool) -> bool:
    if value is None:
        return nullable
    if kind == _BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == _INT and not float(value).is_integer():
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _check(where: str, node: Mapping, prefix: str = "") -> None:
    """Raise ValueError, one sentence, at the first setting that is not what its rule says."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        rule = _rule(path)
        if isinstance(value, Mapping):
            if rule is not None:
                raise ValueError(f"{where}: {path} must be {_what(*rule)}, not a mapping")
            _check(where, value, path + ".")
            continue
        if rule is None:
            if prefix.rstrip(".") in _OPEN_MAPPINGS:
                raise ValueError(f"{where}: {path} must be a mapping of thresholds")
            if any(p.startswith(path + ".") for p in RULES):
                raise ValueError(f"{where}: {path} must be a mapping of settings, not {value!r}")
            raise ValueError(f"{where}: {path} is not a setting any quality rule reads")
        if not _valid(value, *rule):
            raise ValueError(f"{where}: {path} must be {_what(*rule)}, not {value!r}")


def load_quality_config(source: Mapping | Path | str | None = None) -> dict[str, Any]:
    """The quality thresholds: a mapping or a YAML file merged over the defaults;
    None: the defaults alone."""
    if source is None:
        return copy.deepcopy(DEFAULTS)
    if isinstance(source, Mapping):
        _check("quality settings", source)
        return _merge(DEFAULTS, source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the quality settings {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{at}") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    _check(str(path), raw)
    return _merge(DEFAULTS, raw)
