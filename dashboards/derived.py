"""A table the site derives from the scoreboard period by period, instead of reading
it stored: the weak points (transforms.insights.weak_points), six or seven rows for
each scoreboard row, which cost more to store and read back than to derive.

It is a dashboards.build.Source: the builder asks it for the digests of the
partitions its outputs read, and for the rows of the stale outputs only. A period's
rows are a function of that period's scoreboard rows and of the profile's
indicators (their rates, kinds, maxima and thresholds: the labels are not in the
rows), so a partition's digest is that of its period's scoreboard rows and those
indicators. A new week therefore derives the weeks and months it changed, not
every period again; a change to one unit's numbers makes again the outputs of its
whole period, whose medians and leaders it may move.
"""

from __future__ import annotations

from typing import Callable, Sequence

import polars as pl

from dashboards.build import EMPTY, frame_digests
from dashboards.cache import digest
from transforms.insights import PERIOD_UNIT, WEAK_POINT_SCHEMA, weak_points
from transforms.profile import Profile

PERIOD = "period_key"


class PerPeriod:
    """`derive(rows)`: the table's rows of the scoreboard rows of some periods (the
    same for each period whichever others come with it), given the scoreboard's
    columns `reads` only; `schema`: its columns; `version`: what else the rows depend
    on (plain JSON values)."""

    def __init__(
        self,
        scoreboard: pl.DataFrame,
        reads: Sequence[str],
        derive: Callable[[pl.DataFrame], pl.DataFrame],
        schema: dict[str, pl.DataType],
        version: object,
    ):
        # only what it reads: a renamed unit (its name is in every row) changes nothing here
        self.scoreboard = scoreboard.select(list(dict.fromkeys([PERIOD, *reads])))
        self.derive, self.schema, self.version = derive, schema, version
        self._periods: dict[str, str] | None = None

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    def _period_digests(self) -> dict[str, str]:
        """Each period's digest: of its scoreboard rows (the columns `reads`) and the version."""
        if self._periods is None:
            # the rows' order is not the derivation's business: it sorts what it makes
            by_period = frame_digests(self.scoreboard, [PERIOD], ordered=False)
            self._periods = {key: digest(self.version, rows) for (key,), rows in by_period.items()}
        return self._periods

    def digests(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> dict[tuple, str]:
        periods = self._period_digests()
        if not by:
            return {(): digest(sorted(periods.items())) if periods else EMPTY}
        at = list(by).index(PERIOD)  # every read of a period table names its periods
        return {key: periods.get(key[at], EMPTY) for key in keys or ()}

    def rows(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> pl.DataFrame:
        if keys is not None and not keys:
            return pl.DataFrame(schema={c: self.schema[c] for c in columns})
        source = self.scoreboard
        if keys is not None:
            at = list(by).index(PERIOD)
            source = source.filter(pl.col(PERIOD).is_in(sorted({k[at] for k in keys})))
        rows = self.derive(source)
        if keys is not None and len(by) > 1:
            wanted = pl.DataFrame(list(dict.fromkeys(keys)), schema={c: self.schema[c] for c in by}, orient="row")
            rows = rows.join(wanted, on=list(by), how="semi", nulls_equal=True)
        return rows.select(columns)

    def partitions(self, by: Sequence[str], keys: Sequence[tuple] | None = None) -> pl.DataFrame:
        return self.rows(list(by), by, keys).unique(maintain_order=True)


def derived_weak_points(scoreboard: pl.DataFrame, profile: Profile) -> PerPeriod:
    """The weak points of the scoreboard's periods (scoreboard.md, "Weak points")."""
    version = [[i.group, i.rate, i.kind, i.max_points, i.threshold] for i in profile.indicators]
    reads = [*PERIOD_UNIT, "peer_group", "ranked", "rank", *(i.rate for i in profile.indicators)]
    return PerPeriod(scoreboard, reads, lambda rows: weak_points(rows, profile), WEAK_POINT_SCHEMA, version)
