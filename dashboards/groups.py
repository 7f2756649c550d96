"""The indicator groups the site shows, read from the scoring profile in one place.

Every page table, column heading ("/18 điểm"), chart and label that names a
group comes from `profile_groups`; nothing else in dashboards/ knows which
groups exist or how many points they carry: it reads the profile's catalogue
(transforms.profile: Profile.groups).

The points a unit could earn in a group (the maximum of the group's applicable
indicators; null when none applies) is the scoreboard's `max_points_<group>`
where scoring stores it, and is computed here, the same way, where it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from dashboards.i18n import Label


@dataclass(frozen=True)
class Group:
    key: str  # `timeliness`
    label: Label
    indicators: tuple[tuple[str, float], ...]  # (rate column, maximum points), in the profile's order

    @property
    def column(self) -> str:
        return f"points_{self.key}"

    @property
    def max_column(self) -> str:
        return f"max_points_{self.key}"

    @property
    def full_max(self) -> float:
        """The group's points when every indicator applies (the column heading's "/18")."""
        return sum(m for _r, m in self.indicators)


def profile_groups(profile: Any) -> tuple[Group, ...]:
    """The profile's groups in its order, with their labels and indicators."""
    return tuple(
        Group(g.key, Label(g.label_vi, g.label_en), tuple((i.rate, float(i.max_points)) for i in g.indicators))
        for g in profile.groups
    )


def with_max_points(frame: pl.DataFrame, groups: tuple[Group, ...]) -> pl.DataFrame:
    """`frame` with `max_points_<group>` for every group: kept where scoring stored
    it, else the sum of the maxima of the group's indicators whose rate is not
    null (null when none is)."""
    exprs = []
    for g in groups:
        if g.max_column in frame.columns:
            continue
        inds = [(r, m) for r, m in g.indicators if r in frame.columns]
        if not inds:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(g.max_column))
            continue
        applicable = [pl.col(r).is_not_null() for r, _m in inds]
        total = pl.sum_horizontal([pl.when(a).then(pl.lit(m)).otherwise(pl.lit(0.0)) for a, (_r, m) in zip(applicable, inds)])
        exprs.append(pl.when(pl.any_horizontal(applicable)).then(total).cast(pl.Float64).alias(g.max_column))
    return frame.with_columns(exprs) if exprs else frame


def group_labels(groups: tuple[Group, ...]) -> dict[str, Label]:
    """Labels of the groups' columns: `points_<g>` and `max_points_<g>`, and of the
    group keys the insight tables use."""
    out: dict[str, Label] = {}
    for g in groups:
        out[g.column] = g.label
        out[g.max_column] = Label(f"{g.label.vi}: điểm tối đa áp dụng", f"{g.label.en}: applicable maximum")
    return out
