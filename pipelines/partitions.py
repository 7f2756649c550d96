"""Weekly and monthly partitions: weeks start on Monday, local time, history from 2016."""

import dagster as dg

from transforms.periods import HISTORY_START
from transforms.schema import LOCAL_TZ

# day_offset=1: Dagster's weeks otherwise start on Sunday. end_offset=1 includes
# the period in progress, which is published as provisional.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=HISTORY_START["week"].isoformat(),
    day_offset=1,
    timezone=LOCAL_TZ,
    end_offset=1,
)

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=HISTORY_START["month"].strftime("%Y-%m"),
    fmt="%Y-%m",
    timezone=LOCAL_TZ,
    end_offset=1,
)

PARTITIONS = {"week": weekly_partitions, "month": monthly_partitions}


def province_partitions(provinces: list[str]) -> dict[str, dg.PartitionsDefinition]:
    """The lake's partitions (pipelines/provinces.py): a province (its ingestion and
    site), a province's week and a province's month (its scoring). Never commune ×
    week: a province's communes are rows of its scoreboard, ranked together."""
    province = dg.StaticPartitionsDefinition(sorted(provinces))
    return {
        "province": province,
        **{t: dg.MultiPartitionsDefinition({"province": province, t: p}) for t, p in PARTITIONS.items()},
    }
