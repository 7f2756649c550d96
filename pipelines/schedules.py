"""Schedules: Monday 07:00 for the week just ended, the 1st at 07:00 for the month just
ended (Asia/Ho_Chi_Minh). Off by default (the demo has none running): turn them on
in the Dagster UI, or with `dagster schedule start`, on the office's server. The
provinces' code location (pipelines/provinces.py) builds its own with `period_schedule`:
the same times, a run per province."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.assets import monthly_scoreboard, weekly_scoreboard
from transforms.periods import index_of, partition_key
from transforms.schema import LOCAL_TZ

# when a period type's schedule ticks: the first morning after the period ends
CRON = {"week": "0 7 * * 1", "month": "0 7 1 * *"}


def previous_period_key(context: dg.ScheduleEvaluationContext, period_type: str) -> str:
    """The partition key of the period that ended before the tick (local time)."""
    today = context.scheduled_execution_time.astimezone(ZoneInfo(LOCAL_TZ)).date()
    return partition_key(period_type, index_of(period_type, today) - 1)


def period_schedule(
    period_type: str,
    target: dg.AssetsDefinition,
    run_requests: Callable[[str], dg.RunRequest | list[dg.RunRequest]],
    *,
    name: str,
    description: str,
) -> dg.ScheduleDefinition:
    """Score `target` for the period just ended, at CRON[period_type], stopped until an
    office starts it. `run_requests`: the period's key -> the runs to launch."""

    @dg.schedule(
        name=name,
        cron_schedule=CRON[period_type],
        execution_timezone=LOCAL_TZ,
        target=[target],
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        return run_requests(previous_period_key(context, period_type))

    return _schedule


def _one_run(period_type: str) -> Callable[[str], dg.RunRequest]:
    return lambda key: dg.RunRequest(run_key=f"{period_type}:{key}", partition_key=key)


weekly_schedule = period_schedule(
    "week", weekly_scoreboard, _one_run("week"), name="weekly_schedule",
    description="Score the week that ended at midnight, final, before the Monday meeting.",
)
monthly_schedule = period_schedule(
    "month", monthly_scoreboard, _one_run("month"), name="monthly_schedule",
    description="Score the month that ended at midnight, final.",
)

SCHEDULES = [weekly_schedule, monthly_schedule]
