"""Every province in parallel: the Dagster code location of a lake deployment.

Load it with `dagster dev -m pipelines.provinces` (or deploy/workspace.yaml) beside a
lake (SCOREBOARD_WAREHOUSE=ducklake:…, pipelines/lake.py) and a provinces file
(SCOREBOARD_PROVINCES, config/provinces.yaml by default). Its assets are those of the
embedded graph (pipelines/assets.py, the same bodies and checks), partitioned by
province: ingestion and the site per province, scoring per province × week and
province × month. A writer step holds the pool ``province/<slug>`` (one slot) of
Dagster's instance for its province: steps of different provinces run side by side,
a province's own writes one at a time. `national_scoreboard` reads every province's
tables through the lake's national views and writes the national roll-up. Its
schedules are the embedded location's (pipelines/schedules.py), a run per province.

`python -m pipelines.provinces run caobang` runs one province as `scoreboard run` does
(ingest, score what changed, publish, alerts), recorded in the instance of DAGSTER_HOME;
several such processes, one per province, run at once. `… release caobang FILE --reason …`
lets a province's held file through, as `scoreboard release`.
"""

# (no `from __future__ import annotations`: Dagster reads the assets' context annotations)
import argparse
import logging
import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines import assets, lake
from pipelines import warehouse as wh
from pipelines.alerting import alert_digests, send_digests
from pipelines.deployment import Deployment, Province, load_deployment
from pipelines.instance import free_slots_of_ended_runs, open_instance
from pipelines.partitions import province_partitions
from pipelines.resources import DEFAULTS, ScoreboardSettings, Warehouse, env_default
from pipelines.schedules import period_schedule

POOL_PREFIX = "province/"
# on every run of a province: deploy/dagster.yaml queues one run per province at a time
PROVINCE_TAG = "scoreboard/province"
# how often a step waiting for its province's slot frees the slot of a run that has ended
FREE_ENDED_EVERY = 30.0
DEFAULT_PROVINCES = Path(DEFAULTS["SCOREBOARD_PROVINCES"])
log = logging.getLogger("scoreboard")


# ------------------------------------------------------------------ the provinces (the file: pipelines/deployment.py)


class Provinces(dg.ConfigurableResource):
    """The provinces of the deployment and the lake they write: each province's
    settings and warehouse (the resources of the embedded graph, for one province)."""

    file: str = str(DEFAULT_PROVINCES)
    warehouse: str = ""
    lake_data: str = ""

    @classmethod
    def from_env(cls) -> "Provinces":
        return cls(
            file=os.environ.get("SCOREBOARD_PROVINCES") or str(DEFAULT_PROVINCES),
            warehouse=env_default("SCOREBOARD_WAREHOUSE"),
            lake_data=os.environ.get("SCOREBOARD_LAKE_DATA", ""),
        )

    def deployment(self) -> Deployment:
        return load_deployment(self.file)

    def province(self, slug: str) -> Province:
        provinces = self.deployment().provinces
        if slug not in provinces:
            raise ValueError(f"{slug!r} is not a province of {self.file} ({', '.join(provinces)})")
        return provinces[slug]

    def settings(self, slug: str) -> ScoreboardSettings:
        """The province's settings: its folders, registry, authority and alerts file. Its
        alerts are its own file's (`alerts:`) or none: SCOREBOARD_ALERTS, one file, would
        send every province's digest to one office and one site's address."""
        p = self.province(slug)
        vi, en = p.authority or ("", "")
        return ScoreboardSettings.from_env(
            landing_dir=str(p.landing), site_dir=str(p.site), registry_path=str(p.registry),
            crosswalk_path=str(p.crosswalk) if p.crosswalk else "",
            alerts_path=str(p.alerts) if p.alerts else DEFAULTS["SCOREBOARD_ALERTS"],
            authority=vi, authority_en=en, provinces_path=self.file,
        )

    def setup(self) -> list[str]:
        """Create or upgrade every province's tables in the lake, and the national views
        (before the provinces run: `python -m pipelines.provinces setup`)."""
        slugs = list(self.deployment().provinces)
        self.warehouse_of(slugs[0])  # a lake, or a clear error
        lake.setup(self.warehouse, slugs, wh.LAYOUT, data=self.lake_data, config=wh.duckdb_config())
        return slugs

    def national(self):
        """A connection to the national views of the lake (every province's rows)."""
        return lake.national(self.warehouse, data=self.lake_data, tables=wh.LAYOUT.tables, config=wh.duckdb_config())

    def warehouse_of(self, slug: str) -> Warehouse:
        if not lake.is_lake(self.warehouse):
            raise lake.LakeError(
                f"the provinces' code location writes a lake, not {self.warehouse}: "
                "set SCOREBOARD_WAREHOUSE=ducklake:postgres:… (docs/scaling.md)"
            )
        return Warehouse(path=self.warehouse, province=slug, lake_data=self.lake_data)


# ------------------------------------------------------------------ one writer per province


@contextmanager
def province_pool(context: dg.AssetExecutionContext, province: str):
    """Hold the one slot of the pool ``province/<slug>`` of the run's instance while a
    step writes the province's tables. Dagster gives an asset one pool for all its
    partitions, so the slot is claimed here, per province, through the instance's
    concurrency storage (the same claims the executor makes for a step's pool):
    the UI lists these pools and their holders. A killed run's slot is freed once its
    run is marked failed: by the next CLI run (pipelines/instance.py,
    release_dead_runs), or by Dagster's run monitoring and then here. An instance
    without pools (in memory) has no other writer to wait for."""
    from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

    pool = f"{POOL_PREFIX}{province}"
    storage = context.instance.event_log_storage
    if storage.supports_global_concurrency_limits and pool not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(pool, 1)
    step_key = f"{context.assets_def.op.name}[{pool}]"
    with InstanceConcurrencyContext(context.instance, context.run) as slots:
        waited, freed_at = True, 0.0
        while not slots.claim(pool, step_key):
            if waited:
                message = f"waiting for the writer slot of {province} (pool {pool})"
                context.log.info(message)
                log.info(message)
                waited = False
            if time.monotonic() - freed_at > FREE_ENDED_EVERY:
                free_slots_of_ended_runs(context.instance, pool)
                freed_at = time.monotonic()
            time.sleep(max(0.5, slots.interval_to_next_pending_claim_check()))
        try:
            yield
        finally:
            slots.free_step(step_key)


def _province_of(context: dg.AssetExecutionContext, period_type: str, parts) -> tuple[str, list[str]]:
    """(province, period partition keys) of a scoring run, which covers one province."""
    keys = [parts[period_type].get_partition_key_from_str(k).keys_by_dimension for k in context.partition_keys]
    provinces = sorted({k["province"] for k in keys})
    if len(provinces) != 1:
        raise ValueError(f"a scoring run covers one province, not {', '.join(provinces)}: launch one run per province")
    return provinces[0], [k[period_type] for k in keys]


# ------------------------------------------------------------------ the graph


def build_assets(slugs: list[str]) -> list:
    """The embedded graph's assets partitioned by these provinces, and the national roll-up."""
    parts = province_partitions(slugs)
    with warnings.catch_warnings():  # a beta class of Dagster 1.13, pinned
        warnings.simplefilter("ignore", dg.BetaWarning)
        by_province = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="province")

    @dg.asset(
        name="dossiers", group_name="ingestion", partitions_def=parts["province"],
        kinds={"ducklake", "polars"}, check_specs=list(assets.dossiers.check_specs),
    )
    def dossiers(context: dg.AssetExecutionContext, provinces: Provinces) -> dg.MaterializeResult:
        """A province's canonical dossiers (the embedded `dossiers`, in its tables of the lake)."""
        p = context.partition_key
        with province_pool(context, p):
            return assets.ingest(context, provinces.settings(p), provinces.warehouse_of(p))

    def scoring(period_type: str, embedded: dg.AssetsDefinition) -> dg.AssetsDefinition:
        @dg.asset(
            name=embedded.key.path[-1], group_name="scoring", partitions_def=parts[period_type],
            backfill_policy=dg.BackfillPolicy.single_run(),
            deps=[dg.AssetDep(dossiers, partition_mapping=by_province)],
            kinds={"ducklake", "polars"}, check_specs=list(embedded.check_specs),
        )
        def _scoring(context: dg.AssetExecutionContext, provinces: Provinces) -> dg.MaterializeResult:
            """A province's scoreboards of these periods (one province per run)."""
            p, keys = _province_of(context, period_type, parts)
            with province_pool(context, p):
                return assets.with_warnings(period_type, keys, provinces.settings(p), provinces.warehouse_of(p))

        return _scoring

    weekly = scoring("week", assets.weekly_scoreboard)
    monthly = scoring("month", assets.monthly_scoreboard)

    @dg.asset(
        name="scoreboard_site", group_name="publication", partitions_def=parts["province"],
        deps=[dg.AssetDep(weekly, partition_mapping=by_province), dg.AssetDep(monthly, partition_mapping=by_province)],
        kinds={"html", "csv", "parquet", "xlsx"},
    )
    def site(context: dg.AssetExecutionContext, provinces: Provinces) -> dg.MaterializeResult:
        """A province's published site (its own folder, its own units)."""
        p = context.partition_key
        with province_pool(context, p):
            return assets.publish(context, provinces.settings(p), provinces.warehouse_of(p))

    @dg.asset(
        name="alert_digests", group_name="publication", partitions_def=parts["province"], deps=[site],
        kinds={"email"}, check_specs=list(alert_digests.check_specs),
    )
    def digests(context: dg.AssetExecutionContext, provinces: Provinces) -> dg.MaterializeResult:
        """A province's alert digests, to its own recipients."""
        p = context.partition_key
        with province_pool(context, p):
            return send_digests(context, provinces.settings(p), provinces.warehouse_of(p))

    @dg.asset(group_name="publication", deps=[site], kinds={"ducklake", "parquet", "csv"})
    def national_scoreboard(context: dg.AssetExecutionContext, provinces: Provinces) -> dg.MaterializeResult:
        """The national roll-up: every province's stored scoreboard with its province, and
        one line per province (dossiers, periods, the latest month's ranked units)."""
        deployment = provinces.deployment()
        with provinces.national() as con:
            rolled = publish_national(con, deployment)
        return dg.MaterializeResult(metadata={
            "provinces": rolled.height, "dossiers": int(rolled["dossiers"].sum()) if rolled.height else 0,
            "folder": dg.MetadataValue.path(str(deployment.national)),
        })

    return [dossiers, weekly, monthly, site, digests, national_scoreboard]


def publish_national(con, deployment: Deployment) -> pl.DataFrame:
    """Write national/scoreboard.parquet (every province's scoreboard, with a
    `province` column) and national/provinces.csv (a line per province); the frame of
    the latter. `con`: the lake's national views (Provinces.national)."""
    folder = deployment.national
    folder.mkdir(parents=True, exist_ok=True)
    names = pl.DataFrame({"province": list(deployment.provinces),
                          "name": [p.name for p in deployment.provinces.values()]})
    summary = names.join(wh.national_summary(con), on="province", how="inner").sort("province")
    wh.national_scoreboard(con).write_parquet(folder / "scoreboard.parquet")
    with open(folder / "provinces.csv", "wb") as out:
        out.write(b"\xef\xbb\xbf")  # as the sites' CSV: Excel reads the Vietnamese names
        summary.write_csv(out)
    return summary


def scoring_key(province: str, period_type: str, key: str) -> str:
    """The scoring assets' partition key of a province's period ('caobang|2025-07-07')."""
    return str(dg.MultiPartitionKey({"province": province, period_type: key}))


def province_schedules(slugs: list[str], graph_assets: list) -> list[dg.ScheduleDefinition]:
    """The embedded location's weekly and monthly schedules (pipelines/schedules.py: the
    same times, stopped until started), each tick a run per province on its (province,
    period) key, tagged with its province: the run queue starts one run per province
    at a time (deploy/dagster.yaml) and its steps hold the province's pool."""
    by_name = {a.key.to_user_string(): a for a in graph_assets}

    def every_province(period_type: str):
        return lambda key: [
            dg.RunRequest(run_key=f"{slug}:{period_type}:{key}", partition_key=scoring_key(slug, period_type, key),
                          tags={PROVINCE_TAG: slug})
            for slug in slugs
        ]

    return [
        period_schedule(
            "week", by_name["weekly_scoreboard"], every_province("week"), name="weekly_schedule",
            description="Score every province's week that ended at midnight, final, a run per province.",
        ),
        period_schedule(
            "month", by_name["monthly_scoreboard"], every_province("month"), name="monthly_schedule",
            description="Score every province's month that ended at midnight, final, a run per province.",
        ),
    ]


def province_graph(slug: str, graph_assets: list, provinces: Provinces):
    """The lake graph's runs of one province, for pipelines.cli.run_pipeline."""
    from pipelines.cli import AssetGraph

    by_name = {a.key.to_user_string(): a for a in graph_assets}
    return AssetGraph(
        tuple(graph_assets), by_name["dossiers"],
        {"week": by_name["weekly_scoreboard"], "month": by_name["monthly_scoreboard"]},
        by_name["scoreboard_site"], by_name["alert_digests"],
        partition=slug,
        scoring_key=lambda period_type, key: scoring_key(slug, period_type, key),
        resources=(("provinces", provinces),),
        run_tags=((PROVINCE_TAG, slug),),
    )


# ------------------------------------------------------------------ the code location


def _slugs() -> list[str]:
    return list(load_deployment(os.environ.get("SCOREBOARD_PROVINCES") or DEFAULT_PROVINCES).provinces)


SLUGS = _slugs()
ASSETS = build_assets(SLUGS)

defs = dg.Definitions(assets=ASSETS, schedules=province_schedules(SLUGS, ASSETS),
                      resources={"provinces": Provinces.from_env()})


def run_province(slug: str, *, from_key: str | None = None, to_key: str | None = None) -> dict:
    """One province through the lake graph, as `scoreboard run` does for the file."""
    from pipelines.cli import run_pipeline

    provinces = Provinces.from_env()
    graph = province_graph(slug, ASSETS, provinces)
    return run_pipeline(provinces.settings(slug), provinces.warehouse_of(slug), from_key=from_key, to_key=to_key,
                        graph=graph)


def release_province(slug: str, file: str, reason: str) -> dict:
    """Let a province's held file through, then run the province through the lake
    graph, as `scoreboard release` does for the file."""
    from pipelines.cli import release_file

    provinces = Provinces.from_env()
    return release_file(provinces.settings(slug), provinces.warehouse_of(slug), file, reason,
                        graph=province_graph(slug, ASSETS, provinces))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.provinces", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create or upgrade every province's tables in the lake, and the Dagster "
                                 "instance's (before they run)")
    run = sub.add_parser("run", help="ingest, score and publish one province in the lake")
    run.add_argument("province")
    run.add_argument("--from", dest="from_key")
    run.add_argument("--to", dest="to_key")
    release = sub.add_parser("release", help="publish a province's file held as drifting, with the office's reason")
    release.add_argument("province")
    release.add_argument("file", help="the held file (its path in the province's landing folder)")
    release.add_argument("--reason", required=True, help="why the office lets it through (published in the manifest)")
    args = parser.parse_args(argv)
    if args.command == "setup":
        names = Provinces.from_env().setup()
        # and the Dagster instance's own tables: its storages create them when first
        # opened, and the provinces' runs, started at once, raced to ("relation run_tags
        # does not exist" in one of them)
        open_instance()
        print(f"the lake holds the current tables of {', '.join(names)}")
        return 0
    assets.show_progress(f"%(asctime)s {args.province} %(message)s")
    from pipelines.cli import CliError
    from transforms import aside

    aside.freeze_loaded()

    try:
        if args.command == "release":
            summary = release_province(args.province, args.file, args.reason)
        else:
            summary = run_province(args.province, from_key=args.from_key, to_key=args.to_key)
    except CliError as exc:  # one sentence, as `scoreboard`
        print(f"{args.province}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.province}: {summary['dossiers']} dossiers, {summary.get('weeks', 0)} weeks and "
          f"{summary.get('months', 0)} months scored in {summary['seconds']} s; site {summary['site']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
