"""Thresholds of the quality rules: the shipped config/quality.yaml, under the deployment's file.

config/quality.yaml is where every threshold's default is written (one place); the
deployment names its own file (SCOREBOARD_QUALITY, default that same file;
pipelines.resources.ScoreboardSettings.quality_config loads it), which only overrides
what it names. A value of the wrong kind or out of range, or a name no rule reads,
in either file, is refused with one sentence naming the file, the setting and what it
must be; so is a shipped file that lacks a setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from config import config_path
from transforms.config_files import BOOL as _BOOL, INT as _INT, NUMBER as _NUMBER  # the kinds of RULES
from transforms.config_files import check, check_complete, is_shipped, merge, read_mapping, shipped

SHIPPED = "quality.yaml"

# What each setting must be: (kind, lowest, highest, may be null). Kinds: "number"
# (int or float), "int", "bool". Paths use * for any indicator name.
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
    "drift.promised_duration.peer_min_units": (_INT, 1, None, True),
    "drift.promised_duration.peer_ratio": (_NUMBER, 1, None, False),
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


def _check(where: str, node: Mapping) -> None:
    """Raise ValueError, one sentence, at the first setting that is not what its rule says."""
    check(where, node, RULES, reader="any quality rule reads", open_mappings=_OPEN_MAPPINGS)


def shipped_quality_config() -> dict[str, Any]:
    """config/quality.yaml, checked: every threshold's default."""
    base = shipped(SHIPPED)
    where = str(config_path(SHIPPED))
    _check(where, base)
    check_complete(where, base, RULES)
    return base


def load_quality_config(source: Mapping | Path | str | None = None) -> dict[str, Any]:
    """The quality thresholds: a mapping or a YAML file merged over the shipped
    config/quality.yaml; None: the shipped file alone."""
    base = shipped_quality_config()
    if source is None:
        return base
    if isinstance(source, Mapping):
        _check("quality settings", source)
        return merge(base, source)
    path = Path(source)
    if is_shipped(path, SHIPPED):
        return base
    raw = read_mapping(path, "quality settings")
    _check(str(path), raw)
    return merge(base, raw)
