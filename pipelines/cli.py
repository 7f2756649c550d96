"""`scoreboard`: generate demo exports, run the asset graph, publish the site."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

import dagster as dg  # noqa: E402
import polars as pl  # noqa: E402
from dagster._core.errors import DagsterAssetCheckFailedError  # noqa: E402

from pipelines.alerting import alert_digests  # noqa: E402
from pipelines.assets import ASSETS, dossiers, show_progress, monthly_scoreboard, scoreboard_site, weekly_scoreboard  # noqa: E402
from pipelines.instance import open_instance, run_tags  # noqa: E402
from pipelines.partitions import PARTITIONS  # noqa: E402
from pipelines.resources import ScoreboardSettings, Warehouse, env_default, local_now  # noqa: E402
from pipelines import warehouse as wh  # noqa: E402
from pipelines.progress import Progress  # noqa: E402
from transforms import aside  # noqa: E402
from transforms.changes import contiguous_runs  # noqa: E402
from transforms.periods import (  # noqa: E402
    PERIOD_TYPES,
    WEEK_REACHED_AFTER_DAYS,
    covered_range,
    key_of,
    end_of,
    index_of,
    parse_key,
    partition_key,
    partition_span,
    start_of,
)

DEMO_FROM, DEMO_TO = date(2025, 1, 1), date(2025, 12, 31)
DEMO_SCALE = 0.05
DEMO_SEED = 2025
# Dagster's console log: a failed step's ERROR (a traceback) only with --debug; without
# it the step's error reaches the user as one sentence (main)
QUIET_DAGSTER = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEBUG_DAGSTER = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RUN_CONFIG = {"dagster": QUIET_DAGSTER}  # main: DEBUG_DAGSTER with --debug
log = logging.getLogger("scoreboard")


class CliError(Exception):
    """A problem the user can fix, said in one sentence."""


@dataclass(frozen=True)
class AssetGraph:
    """The assets a command materialises and how its runs name their partitions: the
    embedded graph (EMBEDDED), or one province's runs in the lake's graph, whose assets
    are partitioned by province too (pipelines/provinces.py)."""

    assets: tuple
    ingest: dg.AssetsDefinition
    scoring: dict  # period type -> its scoring asset
    site: dg.AssetsDefinition
    alerts: dg.AssetsDefinition
    # the partition of the runs of ingest, site and alerts (the lake's: the province)
    partition: str | None = None
    # a period type and a period's partition key -> the scoring asset's partition key
    scoring_key: Callable[[str, str], str] = lambda period_type, key: key
    # resources the graph's assets need besides `settings` and `warehouse`, and tags of every run
    resources: tuple = ()
    run_tags: tuple = ()

    def tags(self, period_type: str | None = None, start: str = "", end: str = "") -> dict[str, str]:
        """The partition tags of a run: of the scoring runs from start to end, or of the others."""
        if period_type is None:
            return {**dict(self.run_tags), **({"dagster/partition": self.partition} if self.partition else {})}
        return {
            **dict(self.run_tags),
            "dagster/asset_partition_range_start": self.scoring_key(period_type, start),
            "dagster/asset_partition_range_end": self.scoring_key(period_type, end),
        }


EMBEDDED = AssetGraph(
    (*ASSETS, alert_digests), dossiers, {"week": weekly_scoreboard, "month": monthly_scoreboard},
    scoreboard_site, alert_digests,
)


def _materialize(
    instance, asset, resources, *, tags: dict | None = None, graph: AssetGraph = EMBEDDED
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(graph.assets),
        selection=[asset],
        resources={**resources, **dict(graph.resources)},
        instance=instance,
        tags={**run_tags(), **(tags if tags is not None else graph.tags())},
        run_config=RUN_CONFIG["dagster"],
        raise_on_error=True,
    )


def _metadata(result: dg.ExecuteInProcessResult, asset) -> dict:
    events = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in events[-1].metadata.items()} if events else {}


def _ingest(instance, resources, graph: AssetGraph) -> dict:
    """Materialise `dossiers`; its metadata. A run that holds a drifting batch fails its
    blocking check (Dagster's record says so) but has stored everything else: the
    periods are still scored and the site, which explains the hold, published."""
    try:
        return _metadata(_materialize(instance, graph.ingest, resources, graph=graph), graph.ingest)
    except DagsterAssetCheckFailedError:
        # the lake's: this province's materialisation, not another province's
        partitions = [graph.partition] if graph.partition else None
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=graph.ingest.key, asset_partitions=partitions), limit=1
        ).records
        metadata = records[0].asset_materialization.metadata if records else {}
        held = metadata.get("files_held")
        log.info("held, as drifting from their units' history: %s", ", ".join(held.value) if held else "?")
        return {k: v.value for k, v in metadata.items()}


# The ingestion's counts of one run (pipelines.assets._ingest_metadata) that its summary says.
RUN_COUNTS = ("files_ingested", "rows_read", "rows_quarantined", "files_set_aside", "files_held")


def period_ranges(first: date, latest: date, from_key: str | None, to_key: str | None) -> dict[str, tuple[int, int]]:
    """Week and month index ranges to score: the data's coverage (periods.covered_range),
    narrowed to the keys' dates where they are given (so a range open at one end covers
    what a run without a range would there). A range never widens the coverage: a
    period before the first dossier, or after the month of the last event, has nothing
    to score, and scoring it would publish every unit at 0 and make the weeks after it
    warn of a spike (a backfill `--from 2016-01` is the data's whole history)."""
    lo_day, hi_day = range_days(from_key, to_key)
    ranges = {}
    for period_type in PERIOD_TYPES:
        lo, hi = covered_range(period_type, first, latest)
        ranges[period_type] = (max(lo, index_of(period_type, lo_day)) if lo_day else lo,
                               min(hi, index_of(period_type, hi_day)) if hi_day else hi)
    today = local_now().date()
    for period_type, (lo, hi) in ranges.items():
        first_index, last_index = partition_span(period_type, today)
        ranges[period_type] = (max(lo, first_index), min(hi, last_index))
    return ranges


def range_days(from_key: str | None, to_key: str | None) -> tuple[date | None, date | None]:
    """The first and last day of a `--from`/`--to` range (None where open), or why it
    is wrong in one sentence: checked before anything is ingested, so a mistyped range
    leaves the landing folder as it was."""
    days = []
    for flag, key in (("--from", from_key), ("--to", to_key)):
        try:
            days.append(parse_key(key) if key else None)
        except ValueError as exc:
            raise CliError(f"{flag} {exc}") from None
    lo_day = start_of(*days[0]) if days[0] else None
    hi_day = end_of(*days[1]) - timedelta(days=1) if days[1] else None
    if lo_day and hi_day and hi_day < lo_day:
        raise CliError(f"--to {to_key} comes before --from {from_key}")
    return lo_day, hi_day


def _range_text(ranges: dict[str, tuple[int, int]]) -> str:
    """`2024-01 … 2024-12 (2024-W01 … 2025-W01)`, or that the range holds no data."""
    lo, hi = ranges["month"]
    if lo > hi:
        return "nothing (the range holds no dossier)"
    weeks = ranges["week"]
    return f"{key_of('month', lo)} … {key_of('month', hi)} ({key_of('week', weeks[0])} … {key_of('week', weeks[1])})"


def stale_periods(
    ranges: dict[str, tuple[int, int]], scored: pl.DataFrame, affected: dict[str, list[str]],
    provisional: pl.DataFrame | None = None, now: datetime | None = None,
) -> dict[str, list[int]]:
    """Covered periods never scored with this configuration, those whose numbers the
    newly ingested rows change, and those scored while in progress that have ended
    by `now` (`provisional`: wh.provisional_periods): an ended period is final, its
    open dossiers counted at its end (scoreboard.md), new rows or not."""
    todo = {}
    for period_type, (lo, hi) in ranges.items():
        done = set(scored.filter(pl.col("period_type") == period_type)["period_key"].to_list())
        need = {i for i in range(lo, hi + 1) if key_of(period_type, i) not in done}
        need |= {parse_key(k)[1] for k in affected.get(period_type, [])}
        if provisional is not None and now is not None:
            stored = provisional.filter(pl.col("period_type") == period_type)["period_key"].to_list()
            need |= {i for i in (parse_key(k)[1] for k in stored)
                     if datetime.combine(end_of(period_type, i), datetime.min.time()) <= now}
        todo[period_type] = sorted(i for i in need if lo <= i <= hi)
    return todo


def score_ranges(
    instance, resources, todo: dict[str, list[int]], chunk: dict | None = None, graph: AssetGraph = EMBEDDED
) -> dict:
    """Materialise the periods in `todo`, one single run per contiguous range (cut into
    chunks of at most `chunk[period_type]` periods), with a progress line."""
    chunk = chunk or {t: 10_000 for t in PERIOD_TYPES}
    runs = []
    for period_type in PERIOD_TYPES:
        for lo, hi in contiguous_runs(todo.get(period_type, [])):
            for start in range(lo, hi + 1, chunk[period_type]):
                runs.append((period_type, start, min(hi, start + chunk[period_type] - 1)))
    total = sum(hi - lo + 1 for _, lo, hi in runs)
    summary = {f"{t}s": len(todo.get(t, [])) for t in PERIOD_TYPES}
    if not runs:
        log.info("no week or month needs scoring")
        return summary
    progress = Progress(total, "scoring")
    for period_type, lo, hi in runs:
        start_key, end_key = partition_key(period_type, lo), partition_key(period_type, hi)
        assert PARTITIONS[period_type].has_partition_key(start_key), start_key
        assert PARTITIONS[period_type].has_partition_key(end_key), end_key
        _materialize(
            instance, graph.scoring[period_type], resources,
            tags=graph.tags(period_type, start_key, end_key), graph=graph,
        )
        progress.advance(hi - lo + 1, f"{key_of(period_type, lo)} … {key_of(period_type, hi)}")
    return summary


def _published_counts(warehouse: Warehouse, todo: dict[str, list[int]]) -> dict[str, int]:
    """How many of the periods scored have a scoreboard to publish (`weeks`, `months`),
    and how many a quality hold keeps at their last good figures (`held_weeks`, …): the
    weeks scored are those of the months the data cover (periods.covered_range), and the
    week in progress, when it starts after the data's latest event, is scored and has no
    row (a provisional period ends at the latest event)."""
    with warehouse.connect() as con:
        shown = wh.scoreboard_periods(con)
        holds = wh.read_holds(con)
    counts = {}
    for t in PERIOD_TYPES:
        scored = [key_of(t, i) for i in todo.get(t, [])]
        held = set(holds.filter(pl.col("period_type") == t)["period_key"]) & set(scored)
        shown_keys = set(shown.filter(pl.col("period_type") == t)["period_key"])
        counts[f"{t}s"] = len(shown_keys & set(scored) - held)
        counts[f"held_{t}s"] = len(held)
    return counts


def run_pipeline(
    settings: ScoreboardSettings,
    warehouse: Warehouse,
    *,
    from_key: str | None = None,
    to_key: str | None = None,
    backfill: bool = False,
    graph: AssetGraph = EMBEDDED,
) -> dict:
    """Ingest, score, publish, through the asset graph. Without a range, the periods
    scored are those the new rows change and those never scored with this profile,
    registry and calendar; with a range, or as a backfill, every period in it."""
    started = time.monotonic()
    if settings.landing.is_file():
        raise CliError(f"--landing {settings.landing} is a file, not a folder: name the folder of the exports")
    if not settings.landing.is_dir():
        raise CliError(f"the landing folder {settings.landing} does not exist")
    if not Path(settings.registry_path).is_file():
        raise CliError(f"the unit registry {settings.registry_path} does not exist")
    range_days(from_key, to_key)
    check_configuration(settings)
    resources = {"settings": settings, "warehouse": warehouse}
    instance = open_instance()  # the one `make dev` shows (pipelines/instance.py)
    log.info("ingesting %s", settings.landing)
    ingested = _ingest(instance, resources, graph)
    with warehouse.connect() as con:
        first, latest = wh.data_extent(con)
        quarantined = wh.count_rows(con, "quarantine")
        n_files = wh.count_rows(con, "ingested_files")
        n_dossiers = wh.count_rows(con, "dossiers")
        scored = wh.scored_periods(con, settings.config_fingerprint())
        provisional = wh.provisional_periods(con)
    if first is None:
        raise CliError(f"no usable dossier was found in {settings.landing}")
    ranges = period_ranges(first.date(), latest.date(), from_key, to_key)
    if from_key or to_key:
        log.info("scoring %s: the data run from %s to %s", _range_text(ranges), f"{first:%d/%m/%Y}",
                 f"{latest:%d/%m/%Y}")
    if from_key or to_key or backfill:
        todo = {t: list(range(lo, hi + 1)) for t, (lo, hi) in ranges.items()}
    else:
        todo = stale_periods(ranges, scored, ingested.get("affected_partitions") or {}, provisional, local_now())
    summary = {"files": n_files, "dossiers": n_dossiers, "quarantined": quarantined}
    # what this run read (the counts above are the warehouse's, all runs together)
    summary.update({key: _as_count(ingested.get(key)) for key in RUN_COUNTS})
    # a backfill goes a year of weeks (or months) per run: progress to watch, and
    # a killed backfill loses at most one chunk, each written in one transaction
    chunk = {"week": 52, "month": 12} if backfill else None
    summary.update(score_ranges(instance, resources, todo, chunk, graph))
    summary.update(_published_counts(warehouse, todo))
    site = settings.draft_site if settings.draft else settings.site
    log.info("publishing the %s to %s", "draft" if settings.draft else "site", site)
    summary["site_periods"] = _metadata(_materialize(instance, graph.site, resources, graph=graph), graph.site).get(
        "periods", 0)
    summary["site"] = str((site / "index.html").absolute())
    summary["draft"] = settings.draft
    # issue 17: the digests of the latest closed week the data reach and month, once per recipient;
    # a failed delivery is reported and retried next time, never fails the run
    summary["alerts"] = _metadata(_materialize(instance, graph.alerts, resources, graph=graph), graph.alerts)
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def check_configuration(settings: ScoreboardSettings) -> None:
    """The configuration files a run reads, checked before anything is ingested: what is
    wrong with one said in one sentence naming it and its option, where it failed a
    step of the run (a Dagster traceback) or, for the alerts file, only the delivery
    after everything was published."""
    from pipelines.resources import mappings_dir

    catalogue = settings.catalogue_path
    if catalogue and not Path(catalogue).is_file():
        raise CliError(f"the procedure catalogue {catalogue} (--catalogue) does not exist")
    configured = settings.mappings_path
    if configured and not Path(configured).is_dir() and Path(configured) != mappings_dir(settings.landing):
        raise CliError(f"the mappings folder {configured} (--mappings) does not exist")
    for option, read in (("--profile", settings.profile), ("--catalogue", settings.catalogue),
                         ("--quality", settings.quality_config), ("--aliases", settings.aliases),
                         ("SCOREBOARD_ALERTS", settings.alert_config)):
        try:
            read()
        except (ValueError, OSError) as exc:
            raise CliError(f"{str(exc).strip().splitlines()[0]} ({option})") from None
        except pl.exceptions.PolarsError as exc:  # an empty or ragged CSV, in Polars' words
            raise CliError(f"the file given as {option} cannot be read: {str(exc).strip().splitlines()[0]}") from None


def _print_summary(summary: dict) -> None:
    print(
        f"Ingested {_count(summary['files_ingested'], 'new file')} ({summary['rows_read']:,} rows read, "
        f"{summary['rows_quarantined']:,} quarantined; {summary['files_set_aside']:,} set aside, "
        f"{summary['files_held']:,} held). The warehouse: {_count(summary['files'], 'file')} recorded, "
        f"{summary['dossiers']:,} dossiers, {summary['quarantined']:,} rows quarantined. "
        f"{_published_text(summary)} in {summary['seconds']} s."
    )
    if summary.get("draft"):
        print(f"Review the draft: {summary['site']}")
        print("Then make it public: scoreboard approve PERIOD --by NAME")
    else:
        print(f"Open the scoreboard: {summary['site']}")


def _published_text(summary: dict) -> str:
    """What this run published of the periods it scored, and what it held back (the site's
    own line says whether it was published again: 'published N periods', or that it
    shows the same periods as before)."""
    weeks, months = summary.get("weeks", 0), summary.get("months", 0)
    held_weeks, held_months = summary.get("held_weeks", 0), summary.get("held_months", 0)
    held = (f"; {_count(held_weeks, 'week')} and {_count(held_months, 'month')} held back at their last "
            "good figures (the site's quality page says why)") if held_weeks or held_months else ""
    if not (weeks or months or held):
        return f"No new figures: the site shows the same {_count(summary.get('site_periods', 0), 'period')} as before"
    return f"Published {_count(weeks, 'week')} and {_count(months, 'month')}{held}"


def _as_count(value) -> int:
    """A count of the ingestion's metadata: a number, or the list of what it counts."""
    return len(value) if isinstance(value, (list, tuple)) else int(value or 0)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _settings(args) -> tuple[ScoreboardSettings, Warehouse]:
    settings = ScoreboardSettings.from_env(
        landing_dir=args.landing,
        site_dir=args.site,
        registry_path=args.registry,
        profile_path=getattr(args, "profile", None),
        catalogue_path=getattr(args, "catalogue", None),
        quality_path=getattr(args, "quality", None),
        aliases_path=getattr(args, "aliases", None),
        mappings_path=getattr(args, "mappings", None),
        draft=True if getattr(args, "draft", False) else None,
    )
    return settings, Warehouse.from_env(args.warehouse, province=getattr(args, "province", None))


def cmd_run(args) -> None:
    settings, warehouse = _settings(args)
    _print_summary(run_pipeline(settings, warehouse, from_key=args.from_key, to_key=args.to_key))


def cmd_backfill(args) -> None:
    settings, warehouse = _settings(args)
    summary = run_pipeline(settings, warehouse, from_key=args.from_key, to_key=args.to_key, backfill=True)
    _print_summary(summary)


def landing_source(landing: Path, file: str) -> str:
    """How the warehouse names a landing file: its path under the landing folder."""
    path = Path(file)
    for candidate in (path, landing / path):
        try:
            return candidate.resolve().relative_to(landing.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def release_file(settings: ScoreboardSettings, warehouse: Warehouse, file: str, reason: str | None,
                 graph: AssetGraph = EMBEDDED) -> dict:
    """Let a held file through: the office has checked it. Recorded with its reason
    (and published in the site's manifest); then the pipeline runs (its summary)."""
    reason = (reason or "").strip()
    if not reason:
        raise CliError('say why the file is released: --reason "…"')
    source = landing_source(settings.landing, file)
    with warehouse.connect() as con:
        row = wh.record_release(con, source, reason, local_now())
        if row is None:
            held = wh.held_files(con)["source_file"].to_list()
            raise CliError(
                f"{source} is not held" + (f"; the held files are {', '.join(held)}" if held else "; no file is held")
            )
    log.info("releasing %s (held by %s): %s", source, row["checks"], reason)
    return run_pipeline(settings, warehouse, graph=graph)


def cmd_release(args) -> None:
    settings, warehouse = _settings(args)
    _print_summary(release_file(settings, warehouse, args.file, args.reason))


def cmd_approve(args) -> None:
    """The office signs the draft off: it becomes the public site, the sign-off is
    recorded in its manifest and the warehouse, and the alert digests go out."""
    from pipelines.approval import ApprovalError, approve

    settings, warehouse = _settings(args)
    settings = settings.model_copy(update={"draft": False})
    with warehouse.connect() as con:
        try:
            approval = approve(con, settings, args.periods, args.by, local_now())
        except ApprovalError as exc:
            raise CliError(str(exc)) from None
    print(approval.message)
    if approval.approved:
        _materialize(open_instance(), alert_digests, {"settings": settings, "warehouse": warehouse})


def cmd_serve(args) -> None:
    """The published site over local HTTP (the pages also work straight from disk)."""
    import functools
    import http.server

    site = Path(args.site or env_default("SCOREBOARD_SITE"))
    if not (site / "index.html").is_file():
        raise CliError(f"there is no published site in {site}; run `scoreboard run` first")
    # through the link, not the release folder it points to now: `build/site` is a symlink
    # that each publication moves to a new release (pipelines/publication.py, two kept), so
    # each request follows it, where a resolved folder goes stale, then is deleted
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.absolute()))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as exc:
        raise CliError(f"cannot serve on port {args.port} ({exc.strerror}); choose another with --port") from None
    with server:
        print(f"Serving {site} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C to stop)")
        server.serve_forever()


def cmd_generate(args) -> None:
    from demo.generate import generate_exports

    start, end = _date(args.from_date, "--from"), _date(args.to_date, "--to")
    if end < start:
        raise CliError("--to comes before --from")
    summary = generate_exports(
        Path(args.out), start, end, seed=args.seed, scale=args.scale,
        registry_path=Path(args.registry) if args.registry else None,
    )
    print(summary.describe())


def cmd_demo(args) -> None:
    from demo.generate import generate_exports

    settings, warehouse = _settings(args)
    log.info("generating demo exports for %s … %s (scale %s) in %s", DEMO_FROM, DEMO_TO, args.scale, settings.landing)
    summary = generate_exports(
        settings.landing, DEMO_FROM, DEMO_TO, seed=DEMO_SEED, scale=args.scale,
        registry_path=Path(settings.registry_path),
    )
    log.info(summary.describe())
    _print_summary(run_pipeline(settings, warehouse))


def cmd_reconcile(args) -> None:
    """Import the portal's published index for a month, compare, and re-publish."""
    from pipelines.reconciling import describe, import_portal_file

    settings, warehouse = _settings(args)
    rec = import_portal_file(settings, warehouse, Path(args.file), args.period)
    _materialize(open_instance(), scoreboard_site, {"settings": settings, "warehouse": warehouse})
    print(describe(rec))
    print(f"Open the reconciliation: {(settings.site / 'reconciliation' / f'{rec.period_key}.html').absolute()}")


def cmd_alerts(args) -> int:
    """The digest of one closed period: print it (--dry-run) or queue and send it. A
    delivery that failed makes the command fail (1), after its summary, so that cron
    says so; it is tried again at the next run."""
    from pipelines.alerting import send_alerts

    settings, warehouse = _settings(args)
    try:
        period_type, index = parse_key(args.period)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    key = key_of(period_type, index)
    config = settings.alert_config()
    dry = args.dry_run and Path(warehouse.path).exists()
    with (reading(warehouse, "print the dry run") if dry else warehouse.connect()) as con:
        period = wh.scoreboard_periods(con).filter(period_type=period_type, period_key=key)
        if not period.height:
            raise CliError(_not_scored(key, *wh.data_extent(con)))
        if period["provisional"].any():
            raise CliError(f"{key} is still in progress: only a closed week or month has a digest")
        _unreached(period, key, wh.data_extent(con)[1])
        report = send_alerts(con, settings, periods={period_type: key}, dry_run=args.dry_run)
    if not args.dry_run:
        print(report.summary())
        return 1 if report.failed else 0
    for p in report.previews:
        print(f"--- {p['channel']} to {p['recipient_hint']}\nSubject: {p['subject']}\n\n{p['body']}")
    print(f"{key}: {report.alerts} alerts; {len(report.previews)} digests would be sent (dry run: nothing sent).")
    if not (config["recipients"]["city"] or any(config["recipients"]["units"].values())):
        print(f"No recipient is configured in {settings.alerts_path} (SCOREBOARD_ALERTS): nothing would be sent.")
    elif not config.get("site_url"):
        print(f"site_url is empty in {settings.alerts_path}: the digests' links are relative "
              f"(alerts/{key}.html), not to the published site.")
    return 0


def _not_scored(key: str, first: datetime | None, latest: datetime | None) -> str:
    """Why a period has no scoreboard: no data at all, none in it, or not scored yet."""
    if first is None:
        return f"{key} is not scored: the warehouse has no data; run `scoreboard run` first"
    period_type, index = parse_key(key)
    if end_of(period_type, index) <= first.date() or start_of(period_type, index) > latest.date():
        return f"{key} has no data: the data run from {first:%d/%m/%Y} to {latest:%d/%m/%Y}"
    return f"{key} is not scored; run `scoreboard run` first"


def _unreached(period: pl.DataFrame, key: str, latest_event: datetime | None) -> None:
    """Refuse a week the data do not reach (transforms.alerts.with_digest): its digest
    would be of its first days only, and the site has no page for it to link to."""
    from transforms.alerts import with_digest

    if period.filter(with_digest(latest_event)).is_empty():
        friday = period["period_start"][0] + timedelta(days=WEEK_REACHED_AFTER_DAYS)
        raise CliError(
            f"{key} has no digest yet: the data stop on {latest_event:%d/%m/%Y}, before its Friday "
            f"{friday:%d/%m/%Y}, so its alerts would be of its first days only; load the rest of the week "
            "and run `scoreboard run` first"
        )


def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{flag} {text!r} is not a date like 2025-01-31") from None


def build_parser() -> argparse.ArgumentParser:
    """The `scoreboard` command line; its subcommands in the order `--help` lists them."""
    parser = argparse.ArgumentParser(prog="scoreboard", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in (
        _add_run, _add_backfill, _add_approve, _add_release, _add_serve,
        _add_generate, _add_reconcile, _add_alerts, _add_demo,
    ):
        add_command(sub)
    _add_quarantine(sub)
    for command in sub.choices.values():
        # after the subcommand too (`scoreboard run --debug`); SUPPRESS keeps the one before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return parser


def _add_locations(p: argparse.ArgumentParser, landing_help: str = "landing folder of district exports") -> None:
    """The options of a command that reads the landing folder and the warehouse: where
    the data, site and configuration are (each also from its environment variable)."""
    p.add_argument("--landing", help=f"{landing_help} (SCOREBOARD_LANDING, default {env_default('SCOREBOARD_LANDING')})")
    p.add_argument("--warehouse", help="DuckDB file, or ducklake:<catalog> for the lake (SCOREBOARD_WAREHOUSE, "
                   "default data/warehouse.duckdb; docs/scaling.md)")
    p.add_argument("--province", help="the lake only: the province whose tables the run writes (SCOREBOARD_PROVINCE)")
    p.add_argument("--site", help="site folder (SCOREBOARD_SITE, default build/site)")
    p.add_argument("--registry", help="unit registry CSV (default: Hà Nội)")
    p.add_argument("--profile", help="scoring profile YAML (SCOREBOARD_PROFILE, default: Decision 766)")
    p.add_argument(
        "--catalogue",
        help="procedure catalogue CSV whose processing days give a missing due date "
        "(SCOREBOARD_CATALOGUE, e.g. config/procedures.csv; default: none)",
    )
    p.add_argument("--quality", help="quality thresholds YAML (SCOREBOARD_QUALITY, default config/quality.yaml)")
    p.add_argument(
        "--aliases", help="header aliases CSV (SCOREBOARD_ALIASES, default config/header_aliases.csv)"
    )
    p.add_argument(
        "--mappings",
        help="folder of the vendors' per-source mapping files (SCOREBOARD_MAPPINGS, default: "
        "`mappings` beside the landing folder)",
    )


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="ingest the landing folder, score and publish")
    _add_locations(run)
    run.add_argument("--from", dest="from_key", help="first period, e.g. 2024-03 or 2024-W10")
    run.add_argument("--to", dest="to_key", help="last period, e.g. 2024-05 or 2024-W20")
    run.add_argument("--draft", action="store_true",
                     help="publish to the draft site beside the public one (SCOREBOARD_DRAFT); "
                     "`scoreboard approve` makes it public")
    run.set_defaults(func=cmd_run)


def _add_backfill(sub) -> None:
    backfill = sub.add_parser(
        "backfill", help="re-score and re-publish every week and month of a range (safe to repeat)"
    )
    _add_locations(backfill)
    backfill.add_argument("--from", dest="from_key", required=True, help="first period, e.g. 2016-01")
    backfill.add_argument("--to", dest="to_key", help="last period (default: the latest data)")
    backfill.add_argument("--draft", action="store_true", help="publish to the draft site (as `run --draft`)")
    backfill.set_defaults(func=cmd_backfill)


def _add_approve(sub) -> None:
    approve = sub.add_parser(
        "approve", help="make the draft site public, recording who signed which period off (in the manifest)"
    )
    _add_locations(approve)
    approve.add_argument("periods", nargs="+", metavar="PERIOD", help="the period signed off, e.g. 2025-10 or 2025-W44")
    approve.add_argument("--by", required=True, help="who signs it off (recorded in the manifest)")
    approve.set_defaults(func=cmd_approve)


def _add_release(sub) -> None:
    release = sub.add_parser(
        "release", help="publish a file held as drifting from its units' history, with the office's reason"
    )
    _add_locations(release)
    release.add_argument("file", help="the held file (its path in the landing folder, as the quality page names it)")
    release.add_argument("--reason", required=True, help="why it is right after all (recorded in the manifest)")
    release.set_defaults(func=cmd_release)


def _add_serve(sub) -> None:
    serve = sub.add_parser("serve", help="serve the published site on this machine (127.0.0.1)")
    serve.add_argument("--site", help="site folder (SCOREBOARD_SITE, default build/site)")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)


def _add_generate(sub) -> None:
    gen = sub.add_parser("generate", help="write realistic demo exports for a registry's units (default Hà Nội)")
    gen.add_argument("--out", required=True, help="folder to write the exports to")
    gen.add_argument("--from", dest="from_date", required=True, help="first day, YYYY-MM-DD")
    gen.add_argument("--to", dest="to_date", required=True, help="last day, YYYY-MM-DD")
    gen.add_argument("--seed", type=int, default=DEMO_SEED)
    gen.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1.0 = Hà Nội's)")
    gen.add_argument("--registry", help="unit registry CSV (default: Hà Nội)")
    gen.set_defaults(func=cmd_generate)


def _add_reconcile(sub) -> None:
    rec = sub.add_parser("reconcile", help="compare the national portal's published index for a month with ours")
    _add_locations(rec)
    rec.add_argument("file", help="the portal's index as saved: JSON as the portal serves it, or CSV")
    rec.add_argument("--period", help="the month, e.g. 2025-10 (default: from the file's name or content)")
    rec.set_defaults(func=cmd_reconcile)


def _add_alerts(sub) -> None:
    alerts = sub.add_parser("alerts", help="send (or with --dry-run print) the alert digest of a closed week or month")
    _add_locations(alerts)
    alerts.add_argument("--period", required=True, help="the period, e.g. 2025-W42 or 2025-10")
    alerts.add_argument("--dry-run", action="store_true", help="print what would be sent; send and record nothing")
    alerts.set_defaults(func=cmd_alerts)


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="generate 2025 demo exports, run everything, print the site path")
    _add_locations(demo, "where the demo exports are written")
    demo.add_argument("--scale", type=float, default=DEMO_SCALE)
    demo.set_defaults(func=cmd_demo)


def _add_quarantine(sub) -> None:
    q = sub.add_parser("quarantine", help="list the quarantined rows: file, row, field, reason (read-only)")
    _add_locations(q)
    q.add_argument("--file", help="only this landing file's rows (its path in the landing folder)")
    q.add_argument("--reason", help="only rows quarantined for this reason, e.g. bad_date")
    q.add_argument("--csv", dest="csv_out", metavar="OUT", help="write the list to this CSV file instead")
    q.set_defaults(func=cmd_quarantine, read_only=True)


def cmd_quarantine(args) -> None:
    """The rows a run quarantined, by file and row, with the field each reason is about
    and its value as the quarantine keeps it (withheld when it may be personal): what a
    clerk mends in the export. Read-only, and never while a run writes the file."""
    from pipelines.lake import is_lake
    from transforms.quarantine import reason_fields

    settings, warehouse = _settings(args)
    if not is_lake(warehouse.path) and not Path(warehouse.path).is_file():
        raise CliError(f"there is no warehouse at {warehouse.path}; run `scoreboard run` first")
    source = landing_source(settings.landing, args.file) if args.file else None
    with reading(warehouse, "list the quarantine") as con:
        listing = reason_fields(wh.quarantined_rows(con, source, args.reason))
    if args.csv_out:
        listing.write_csv(args.csv_out, include_bom=True)
        print(f"{_count(listing.height, 'quarantined row')} written to {args.csv_out}")
        return
    for file, row, fields, reason, value in listing.iter_rows():
        print(f"{file}\trow {row}\t{fields or '(the whole line)'}\t{reason}" + (f"\t{value}" if value else ""))
    print(f"{_count(listing.height, 'quarantined row')} in {_count(listing['file'].n_unique(), 'file')}.")


@contextlib.contextmanager
def one_command_at_a_time(warehouse_path: str | None):
    """Hold an OS lock beside the DuckDB file for the whole command, so that a second
    command on the same warehouse (a cron run while a backfill goes on) waits for the
    first to end, where it met DuckDB's own lock and failed: the CLI opens the file
    outside the Dagster pool too. The lake has its own locking (pipelines/lake.py)."""
    from pipelines import lake

    path = Path(warehouse_path or env_default("SCOREBOARD_WAREHOUSE"))
    if lake.is_lake(path):
        yield
        return
    if path.is_dir():
        raise CliError(f"--warehouse {path} is a folder: name the DuckDB file, e.g. {path / 'warehouse.duckdb'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip()
            who = f"the run of PID {holder}" if holder.isdigit() else "another run"
            print(f"waiting for {who} on {path} to finish…", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)
            lock.flush()
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(warehouse, then: str):
    """A read-only connection to the warehouse, for a command that only reads it (and so
    does not wait for a run to end): while a run writes the DuckDB file, one sentence."""
    import duckdb

    try:
        with warehouse.connect(read_only=True) as con:
            yield con
    except duckdb.IOException as exc:
        if "lock" not in str(exc):
            raise
        raise CliError(f"a run is writing the warehouse {warehouse.path}; {then} once it has ended") from None


def _writes(args) -> bool:
    """Whether a command writes the warehouse (serve and generate do not open it; the
    quarantine list and a dry run of the alerts read it, and say so in one sentence
    when a run is writing it rather than wait for the run to end)."""
    return hasattr(args, "warehouse") and not getattr(args, "read_only", False) and not getattr(args, "dry_run", False)


def _user_error(exc: BaseException) -> BaseException:
    if isinstance(exc, dg.DagsterExecutionStepExecutionError) and exc.user_exception is not None:
        return exc.user_exception
    return exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    RUN_CONFIG["dagster"] = DEBUG_DAGSTER if args.debug else QUIET_DAGSTER
    show_progress()
    aside.freeze_loaded()
    try:
        with (one_command_at_a_time(args.warehouse) if _writes(args) else contextlib.nullcontext()):
            status = args.func(args)
    except KeyboardInterrupt:
        print("scoreboard: interrupted; re-run the same command to finish.", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear sentence, not a traceback
        if args.debug:
            raise
        cause = _user_error(exc)
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        print(f"scoreboard: {message}", file=sys.stderr)
        return 1
    return status or 0  # a command's own status: `alerts` with a failed delivery


if __name__ == "__main__":
    sys.exit(main())
