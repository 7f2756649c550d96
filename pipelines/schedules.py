"""Schedules: Monday 07:00 for the week just ended, the 1st at 07:00 for the month just
ended (Asia/Ho_Chi_Minh). Off by default (the demo has none running): turn them on
in the Dagster UI, or with `dagster schedule start`, on the office's server."""

from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.assets import monthly_scoreboard, weekly_scoreboard
from transforms.periods import index_of, partition_key
from transforms.schema import LOCAL_TZ


def _previous_period_request(context: dg.ScheduleEvaluationContext, period_type: str) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(ZoneInfo(LOCAL_TZ)).date()
    key = partition_key(period_type, index_of(period_type, today) - 1)
    return dg.RunRequest(run_key=f"{period_type}:{key}", partition_key=key)


@dg.schedule(
    cron_schedule="0 7 * * 1",
    execution_timezone=LOCAL_TZ,
    target=[weekly_scoreboard],
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_schedule(context: dg.ScheduleEvaluationContext):
    """Score the week that ended at midnight, final, before the Monday meeting."""
    return _previous_period_request(context, "week")


@dg.schedule(
    cron_schedule="0 7 1 * *",
    execution_timezone=LOCAL_TZ,
    target=[monthly_scoreboard],
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def monthly_schedule(context: dg.ScheduleEvaluationContext):
    """Score the month that ended at midnight, final."""
    return _previous_period_request(context, "month")


SCHEDULES = [weekly_schedule, monthly_schedule]
