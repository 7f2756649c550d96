"""Which month and week the overview leads with.

The headline period of a kind (month, week) is the latest one that is
**complete enough to rank**: final (not provisional) and in which most ranked
units — more than half — received dossiers in the period. A period in which
nothing was received is never the headline: a unit ranked there only on late
finishes of older dossiers would read as a near-zero score. Where no period
qualifies, the latest final period with receipts leads, then the latest period
with receipts; a kind whose periods received nothing has no headline.

Only a week the data reach (transforms.periods.week_reached: to its Friday) can
lead, unless none does: a week that ended (final, as the spec has it) after the
last export was cut holds only its first days, and would lead with a fraction of a
week's dossiers. Months are not held to it: a month's data often stops some days
before its end (a late export), and the month still leads with most of its dossiers.

The period in progress (the latest provisional one, when it is later than the
headline) is shown beside it, labelled provisional, with the cut-off time of
the data it was computed from.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from dashboards.i18n import PERIOD_TYPE_ORDER
from transforms.periods import week_reached

MOST = 0.5  # "most ranked units": strictly more than this share received dossiers


def period_stats(scoreboard: pl.DataFrame) -> pl.DataFrame:
    """Per period: final or not, how many units are ranked, how many of them received
    dossiers in it, and how many dossiers were received in all."""
    return (
        scoreboard.group_by("period_type", "period_key")
        .agg(
            period_start=pl.col("period_start").min(),
            provisional=pl.col("provisional").any(),
            ranked=pl.col("ranked").sum(),
            ranked_receiving=(pl.col("ranked") & (pl.col("received").fill_null(0) > 0)).sum(),
            received=pl.col("received").fill_null(0).sum(),
        )
        .with_columns(
            complete=~pl.col("provisional")
            & (pl.col("received") > 0)
            & (pl.col("ranked_receiving") > MOST * pl.col("ranked"))
        )
        .sort("period_type", "period_start", "period_key")
    )


def _lead(ps: pl.DataFrame) -> dict | None:
    """The headline among the periods `ps` of one type (None when none qualifies)."""
    for cond in (
        pl.col("complete"),
        ~pl.col("provisional") & (pl.col("received") > 0),
        pl.col("received") > 0,
    ):
        found = ps.filter(cond)
        if found.height:
            return found.row(-1, named=True)
    return None


def choose(stats: pl.DataFrame, latest_event: datetime | None = None) -> dict[str, dict[str, str | None]]:
    """Per period type: `headline` and `in_progress` period keys (None when none).
    `latest_event`: the data's latest event; a week it does not reach leads only
    when none that it reaches can."""
    out: dict[str, dict[str, str | None]] = {}
    for ptype in PERIOD_TYPE_ORDER:
        ps = stats.filter(pl.col("period_type") == ptype)
        headline = None
        if latest_event is not None and ptype == "week":
            headline = _lead(ps.filter(week_reached("period_start", latest_event)))
        if headline is None:
            headline = _lead(ps)
        provisional = ps.filter(pl.col("provisional"))
        in_progress = provisional.row(-1, named=True) if provisional.height else None
        if in_progress is not None and headline is not None and in_progress["period_start"] <= headline["period_start"]:
            in_progress = None
        if in_progress is not None and headline is not None and in_progress["period_key"] == headline["period_key"]:
            in_progress = None
        out[ptype] = {
            "headline": headline["period_key"] if headline else None,
            "in_progress": in_progress["period_key"] if in_progress else None,
        }
    return out
