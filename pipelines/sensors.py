"""Sensors: a file dropped into the landing folder is ingested, the periods its rows
change are re-scored, and the site is re-published. None of them opens the DuckDB
file (a reader would collide with the writer): they look at the folder listing and
at the metadata of the runs before them."""

import hashlib
import json

import dagster as dg

from pipelines.alerting import alert_digests
from pipelines.assets import dossiers, monthly_scoreboard, scoreboard_site, weekly_scoreboard
from pipelines.ingestion import landing_files
from pipelines.instance import is_command_line_run
from pipelines.resources import ScoreboardSettings
from transforms.changes import contiguous_runs
from transforms.periods import parse_key, partition_key

SCORING_ASSETS = {"week": weekly_scoreboard, "month": monthly_scoreboard}


def landing_listing(settings: ScoreboardSettings) -> dict[str, str]:
    """relative path → size and modification time, for every file waiting in the folder."""
    if not settings.landing.is_dir():
        return {}
    out = {}
    for path in landing_files(settings.landing):
        stat = path.stat()
        out[path.relative_to(settings.landing).as_posix()] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return out


@dg.sensor(
    target=[dossiers],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: dg.SensorEvaluationContext, settings: ScoreboardSettings):
    """New or changed files in the landing folder start an ingestion run; so does a
    listing whose run failed (the warehouse was locked, say), a few times."""
    listing = landing_listing(settings)
    previous = json.loads(context.cursor) if context.cursor else {}
    arrived = sorted(k for k, v in listing.items() if previous.get(k) != v)
    run_key = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    if not arrived:
        if set(previous) - set(listing):
            # files gone to the archive after ingestion (pipelines/retention.py): forget
            # them, so that one dropped again is seen
            context.update_cursor(json.dumps(listing, sort_keys=True))
        retry = _retry_key(context.instance, run_key) if listing else None
        if retry is not None:
            return dg.RunRequest(run_key=retry, tags={"scoreboard/new_files": str(len(listing))})
        return dg.SkipReason(f"no new file in {settings.landing}")
    context.update_cursor(json.dumps(listing, sort_keys=True))
    return dg.RunRequest(run_key=run_key, tags={"scoreboard/new_files": str(len(arrived))})


# How many times the ingestion of one listing is asked for again after its run failed.
RETRIES = 3


def _retry_key(instance: dg.DagsterInstance, run_key: str) -> str | None:
    """The run key of the next attempt at this listing, when its last attempt failed
    (the files are still waiting: an ingested file leaves the folder) and fewer than
    RETRIES were made; None otherwise."""
    keys = [run_key, *(f"{run_key}:retry{n}" for n in range(1, RETRIES + 1))]
    for attempt, key in enumerate(keys):
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if not runs:
            return None if attempt == 0 else (key if _failed(instance, keys[attempt - 1]) else None)
    return None


def _failed(instance: dg.DagsterInstance, run_key: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    return bool(runs) and runs[0].status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def rescore_requests(affected: dict[str, list[str]], run_id: str) -> list[dg.RunRequest]:
    """One single-run request per contiguous range of affected partitions."""
    requests = []
    for period_type, keys in sorted(affected.items()):
        indices = [parse_key(k)[1] for k in keys]
        for lo, hi in contiguous_runs(indices):
            start, end = partition_key(period_type, lo), partition_key(period_type, hi)
            requests.append(
                dg.RunRequest(
                    run_key=f"{run_id}:{period_type}:{start}",
                    asset_selection=[SCORING_ASSETS[period_type].key],
                    tags={
                        "dagster/asset_partition_range_start": start,
                        "dagster/asset_partition_range_end": end,
                    },
                )
            )
    return requests


def new_materializations(context: dg.SensorEvaluationContext, asset) -> tuple[list, int | None]:
    """Materialisations of `asset` recorded since the sensor's cursor (a storage id), and
    the newest storage id seen. Those of `scoreboard` command-line runs are left out: the
    command scores and publishes what it ingests itself (it records in this instance)."""
    after = int(context.cursor) if context.cursor else None
    records = list(context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset.key, after_storage_id=after), limit=1000, ascending=True
    ).records)
    if not records:
        return [], None
    runs = context.instance.get_runs(filters=dg.RunsFilter(run_ids=sorted({r.run_id for r in records})))
    from_cli = {run.run_id for run in runs if is_command_line_run(run)}
    return [r for r in records if r.run_id not in from_cli], records[-1].storage_id


def rescore_sensor(period_type: str) -> dg.SensorDefinition:
    asset = SCORING_ASSETS[period_type]

    @dg.sensor(
        name=f"rescore_{period_type}s_sensor",
        target=[asset],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext):
        """After an ingestion, re-score exactly the periods its rows change."""
        records, newest = new_materializations(context, dossiers)
        if newest is None:
            return dg.SkipReason("no new ingestion")
        context.update_cursor(str(newest))
        if not records:
            return dg.SkipReason("only command-line ingestions, which re-score their periods themselves")
        keys: set[str] = set()
        for record in records:
            value = record.asset_materialization.metadata.get("affected_partitions")
            keys.update((value.value if value else {}).get(period_type, []))
        requests = rescore_requests({period_type: sorted(keys)}, records[-1].run_id)
        return requests or dg.SkipReason(f"the ingestion changed no {period_type}")

    return _sensor


@dg.sensor(
    target=[scoreboard_site],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def publish_sensor(context: dg.SensorEvaluationContext):
    """New scoreboard rows are published (the site build is cheap when little changed)."""
    seen = [new_materializations(context, asset) for asset in SCORING_ASSETS.values()]
    newest = [storage_id for _, storage_id in seen if storage_id is not None]
    if not newest:
        return dg.SkipReason("no new scoreboard")
    context.update_cursor(str(max(newest)))
    if not any(records for records, _ in seen):
        return dg.SkipReason("only command-line scoring, which publishes itself")
    return dg.RunRequest(run_key=f"publish:{max(newest)}")


@dg.sensor(
    target=[alert_digests],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alerts_sensor(context: dg.SensorEvaluationContext):
    """After the site is published, send the alert digests that are due (the run opens
    the warehouse in the duckdb_writer pool; this sensor does not)."""
    records, newest = new_materializations(context, scoreboard_site)
    if newest is None:
        return dg.SkipReason("no new publication")
    context.update_cursor(str(newest))
    if not records:
        return dg.SkipReason("only command-line publications, which send their alerts themselves")
    return dg.RunRequest(run_key=f"alerts:{newest}")


SENSORS = [landing_sensor, rescore_sensor("week"), rescore_sensor("month"), publish_sensor, alerts_sensor]
