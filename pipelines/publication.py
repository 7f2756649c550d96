"""Warehouse → site folder, built aside and swapped in with one atomic rename."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboards.data_files import manifest_bytes
from dashboards.derived import derived_weak_points
from dashboards.site import build_site, seed_site
from pipelines import approval, retention, revisions
from pipelines import warehouse as wh
from pipelines.alerting import alert_pages, reconciliation_pages, with_procedures
from pipelines.resources import local_now
from quality.completeness import freshness
from quality.holds import held_batches, quality_frame
from transforms.calendar import load_overlay
from transforms.periods import PERIOD_TYPES

RELEASES_KEPT = 2


@dataclass
class Published:
    index: Path
    periods: int
    files: int


def build_manifest(con, settings, scoreboard, at: datetime | None = None) -> dict:
    inputs = wh.ingested_inputs(con)
    return {
        "generated_at": (at or local_now()).isoformat(),
        **settings.config_versions(),
        "inputs": [
            {"file": r["source_file"], "sha256": r["content_hash"], "status": r["status"],
             "rows_read": r["rows_read"]}
            for r in inputs.iter_rows(named=True)
        ],
        "periods": {
            period_type: sorted(scoreboard.filter(period_type=period_type)["period_key"].unique().to_list())
            for period_type in sorted(PERIOD_TYPES)
        },
        # files held as drifting from their units' history, and those the office released
        "held": [
            {"file": r["source_file"], "sha256": r["content_hash"], "checks": r["checks"], "rows_read": r["rows_read"]}
            for r in wh.held_files(con).iter_rows(named=True)
        ],
        "releases": [
            {"file": r["source_file"], "sha256": r["content_hash"], "checks": r["checks"], "reason": r["reason"],
             "released_at": r["released_at"].isoformat()}
            for r in wh.releases(con).iter_rows(named=True)
        ],
        # the office's sign-offs of drafts (pipelines/approval.py)
        "sign_offs": approval.sign_off_records(con),
        # how long raw exports are kept, and those deleted (pipelines/retention.py)
        **retention.manifest_part(con, settings),
    }


def release(site: Path, build: Callable[[Path], None], log: Callable[[str], None] | None = None) -> Path:
    """Build the site into a fresh release folder, then point `site` at it.

    `site` is a symlink to the current release; replacing a symlink with os.replace
    is atomic, so a reader sees the old site or the new one, never half of either.
    A build identical to the current release, file for file, is dropped: a run that
    changed nothing publishes nothing new (the release, its files and their times stay)."""
    site = site.absolute()
    releases = site.parent / f".{site.name}-releases"
    releases.mkdir(parents=True, exist_ok=True)
    existing = sorted(p for p in releases.iterdir() if p.is_dir() and p.name.isdigit())
    number = int(existing[-1].name) + 1 if existing else 1
    target = releases / f"{number:06d}"
    staging = releases / f".{number:06d}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    build(staging)
    if site.is_symlink() and same_files(staging, site.resolve()):
        shutil.rmtree(staging)
        if log:
            log(f"nothing changed since the last publication: {site} stays as it was ({site.resolve().name})")
        return site
    staging.rename(target)
    if site.exists() and not site.is_symlink():
        # an older, plain folder: keep it as a release so nothing is lost
        site.rename(releases / f"{0:06d}-legacy")
    link = site.parent / f".{site.name}.link"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target.relative_to(site.parent))
    os.replace(link, site)
    for old in sorted(p for p in releases.iterdir() if p.is_dir())[:-RELEASES_KEPT]:
        shutil.rmtree(old, ignore_errors=True)
    return site


def same_files(a: Path, b: Path) -> bool:
    """Whether two site folders hold the same files with the same bytes (a build links
    the files it did not make again to the previous release's: those are compared by
    their inode alone)."""
    def listing(root: Path) -> set[str]:
        return {os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files}

    names = listing(a)
    if names != listing(b):
        return False
    return all(os.path.samefile(a / n, b / n) or filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def _keep_generated_at(manifest: dict, target: Path, plan: revisions.Plan) -> None:
    """A publication that changes nothing keeps the previous manifest's generated_at:
    the manifest says when the published data last changed, not when a run last ran
    (the site is then the same, byte for byte, and release() publishes nothing new).
    Only when the plan records nothing: a plan's versions carry their time."""
    if any(f.height for f in (plan.versions, plan.revisions, plan.consumed)):
        return
    try:
        previous = json.loads((target / "data" / "manifest.json").read_bytes())
    except (OSError, ValueError):
        return
    current = json.loads(manifest_bytes(manifest))  # as it is written, and the previous one read
    if isinstance(previous, dict) and "generated_at" in previous and \
            {**previous, "generated_at": None} == {**current, "generated_at": None}:
        manifest["generated_at"] = previous["generated_at"]


def unit_freshness(con) -> pl.DataFrame:
    """Every unit's latest data date, and how far behind the newest data of all it is."""
    _, newest = wh.data_extent(con)
    return freshness(wh.unit_latest_events(con), wh.read_units(con), newest or local_now())


def publish_site(con, settings, *, log: Callable[[str], None] = print) -> Published:
    profile = settings.profile()
    scoreboard = wh.read_scoreboard(con, profile)
    # computed once, when their periods were scored
    warnings = wh.read_warnings(con)
    # the registry the scoreboard was scored with: who was expected to report in each period
    units = wh.read_units(con)
    with ThreadPoolExecutor(max_workers=2) as beside:
        # on threads while the rest is read (Polars, which runs without Python's lock):
        # the final periods' digests, to find the revised ones (a CSV of every row), and
        # the alert pages' digests of every period with one (those sent)
        digests = beside.submit(revisions.final_digests, scoreboard)
        alerts = beside.submit(alert_pages, settings, scoreboard, profile, warnings, units, wh.data_extent(con)[1],
                               log)
        # read by the build partition by partition: the evidence alone is tens of millions of rows
        tables = {name: wh.StoredTable(con, name) for name in ("bottlenecks", "what_if", "evidence")}
        # derived from the scoreboard, period by period, as the build asks (dashboards/derived.py)
        tables["weak_points"] = derived_weak_points(scoreboard, profile)
        ingestion = wh.file_accounting(con)
        quarantine = wh.quarantine_summary(con)
        holds = wh.read_holds(con)
        fresh = unit_freshness(con)
        pages = {"reconciliations": reconciliation_pages(con, settings, scoreboard, profile, log)}
        at = local_now()
        # what making this build public records: the versions of final periods, revisions
        plan = revisions.plan(con, scoreboard, profile, at, digests.result())
        # the procedures behind its alerts about timeliness, read for the units it names
        pages["alerts"] = with_procedures(con, alerts.result())
    manifest = build_manifest(con, settings, scoreboard, at)
    if settings.draft:
        manifest["draft"] = approval.draft_record(settings.site, plan)
    _keep_generated_at(manifest, settings.draft_site if settings.draft else settings.site, plan)
    revised = revisions.for_site(con, plan)

    def build(folder: Path) -> None:
        # start from the current release: unchanged files are linked, not rebuilt
        seed_site(settings.site, folder)
        build_site(
            folder,
            scoreboard,
            manifest=manifest,
            ingestion=ingestion,
            quarantine_summary=quarantine,
            quality=quality_frame(scoreboard, holds),
            warnings=warnings,
            profile=profile,
            report_pdf=shutil.which("chromium") is not None,
            log=log,
            crosswalk=settings.crosswalk(),
            freshness=fresh,
            held_batches=held_batches(holds),
            calendar_overlay=load_overlay(Path(settings.calendar_path)),
            revisions=revised,
            units=units,
            authority=settings.report_authority(),
            **pages,
            **tables,
        )

    # a draft goes beside the public site, which it never replaces (pipelines/approval.py)
    where = settings.draft_site if settings.draft else settings.site
    shown = where.resolve() if where.is_symlink() else None
    site = release(where, build, log)
    if settings.draft:
        log(f"draft published to {site}: review it, then `scoreboard approve PERIOD --by NAME` makes it public")
    else:
        revisions.commit(con, plan)
    if plan.revisions.height:
        log(f"{plan.revisions.height} units' numbers revised in {', '.join(plan.revised)} (data/revisions.csv)")
    periods = scoreboard.select("period_type", "period_key").unique().height
    files = len(list((site / "data").glob("scoreboard-*")))
    if shown is not None and site.resolve() == shown:  # release() kept the site as it was
        log(f"{site} shows the same {periods} periods ({files} data files) as before")
    else:
        log(f"published {periods} periods ({files} data files) to {site}")
    if holds.height:
        held = holds.select("period_type", "period_key").unique().height
        log(f"{held} periods hold back new figures: see {site / 'quality.html'}")
    return Published(index=site / "index.html", periods=periods, files=files)
