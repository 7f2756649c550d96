"""Warehouse → site folder, built aside and swapped in with one atomic rename."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.site import build_site, seed_site
from pipelines import warehouse as wh
from pipelines.resources import local_now
from quality.completeness import freshness
from quality.early_warning import band_at_risk, early_warnings
from quality.holds import BATCH_DRIFT, BATCH_QUARANTINE, held_batches, page_holds
from transforms.profile import load_profile

RELEASES_KEPT = 2


@dataclass
class Published:
    index: Path
    periods: int
    files: int


def build_manifest(con, settings, scoreboard) -> dict:
    inputs = wh.read_table(
        con,
        "SELECT source_file, content_hash, status, rows_read FROM ingested_files ORDER BY source_file",
    )
    return {
        "generated_at": local_now().isoformat(),
        **settings.config_versions(),
        "inputs": [
            {"file": r["source_file"], "sha256": r["content_hash"], "status": r["status"],
             "rows_read": r["rows_read"]}
            for r in inputs.iter_rows(named=True)
        ],
        "periods": {
            period_type: sorted(scoreboard.filter(period_type=period_type)["period_key"].unique().to_list())
            for period_type in ("month", "week")
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
    }


def release(site: Path, build: Callable[[Path], None]) -> Path:
    """Build the site into a fresh release folder, then point `site` at it.

    `site` is a symlink to the current release; replacing a symlink with os.replace
    is atomic, so a reader sees the old site or the new one, never half of either."""
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


def quality_frame(scoreboard: pl.DataFrame, holds: pl.DataFrame) -> pl.DataFrame:
    """Per published period and check: passed, or failed and holding the period back."""
    periods = scoreboard.select("period_type", "period_key").unique()
    checks = pl.DataFrame({"check": ["scoreboard_valid", BATCH_QUARANTINE, BATCH_DRIFT]})
    holds = page_holds(holds)
    failed = holds.with_columns(
        check=pl.when(pl.col("source") == wh.SCOREBOARD_HOLD).then(pl.lit("scoreboard_valid")).otherwise("check_name")
    ).group_by("period_type", "period_key", "check").agg(
        unexpected_count=pl.len(),
        description_vi=pl.col("message_vi").sort().str.join(" "),
        description_en=pl.col("message_en").sort().str.join(" "),
    )
    held_keys = holds.select("period_type", "period_key").unique()
    return (
        pl.concat([periods, held_keys]).unique()
        .join(checks, how="cross")
        .join(failed, on=["period_type", "period_key", "check"], how="left")
        .with_columns(
            success=pl.col("unexpected_count").is_null(),
            blocked=pl.col("unexpected_count").is_not_null(),
            unexpected_count=pl.col("unexpected_count").fill_null(0).cast(pl.Int64),
        )
        .select(
            "period_type", "period_key", "check", "success", "unexpected_count",
            "description_vi", "description_en", "blocked",
        )
        .sort("period_type", "period_key", "check")
    )


def warnings_frame(scoreboard: pl.DataFrame, profile) -> pl.DataFrame:
    """Early warnings for every week, and the units whose month in progress puts
    their band at risk."""
    weekly = scoreboard.filter(pl.col("period_type") == "week")
    parts = [early_warnings(weekly)] if weekly.height else []
    months = scoreboard.filter(pl.col("period_type") == "month").sort("period_start")
    provisional = months.filter(pl.col("provisional"))
    if provisional.height:
        current = provisional["period_key"].max()
        keys = months["period_key"].unique().sort().to_list()
        if keys.index(current) > 0:
            previous = keys[keys.index(current) - 1]
            parts.append(
                band_at_risk(
                    months.filter(pl.col("period_key") == current),
                    months.filter(pl.col("period_key") == previous),
                    profile,
                )
            )
    parts = [p for p in parts if p.height]
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


def unit_freshness(con) -> pl.DataFrame:
    """Every unit's latest data date, and how far behind the newest data of all it is."""
    _, newest = wh.data_extent(con)
    maxima = wh.read_table(
        con,
        """SELECT unit_code, unit_valid_from, max(received_at) AS received_at, max(finished_at) AS finished_at,
                  max(returned_at) AS returned_at, max(rejected_at) AS rejected_at
           FROM dossiers GROUP BY ALL""",
    )
    return freshness(maxima, wh.read_table(con, "SELECT * FROM units"), newest or local_now())


def publish_site(con, settings, *, log: Callable[[str], None] = print) -> Published:
    scoreboard = wh.read_table(
        con, "SELECT * FROM scoreboard ORDER BY period_type, period_start, level, unit_code"
    )
    tables = {
        # no ORDER BY: the site sorts each table on its key (sorting a million rows here costs seconds)
        name: wh.read_table(con, f'SELECT * FROM "{name}"')
        for name in ("weak_points", "bottlenecks", "what_if")
    }
    ingestion = wh.read_table(con, "SELECT * FROM file_accounting ORDER BY source_file")
    quarantine = wh.read_table(
        con,
        "SELECT source_file, reason, count(*) AS rows FROM quarantine GROUP BY ALL ORDER BY ALL",
    )
    holds = wh.read_table(con, "SELECT * FROM quality_holds ORDER BY ALL")
    fresh = unit_freshness(con)
    manifest = build_manifest(con, settings, scoreboard)
    profile = load_profile(settings.profile_path)

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
            warnings=warnings_frame(scoreboard, profile),
            profile=profile,
            report_pdf=shutil.which("chromium") is not None,
            log=log,
            crosswalk=settings.crosswalk(),
            freshness=fresh,
            held_batches=held_batches(holds),
            **tables,
        )

    site = release(settings.site, build)
    periods = scoreboard.select("period_type", "period_key").unique().height
    files = len(list((site / "data").glob("scoreboard-*")))
    log(f"published {periods} periods ({files} data files) to {site}")
    if holds.height:
        held = holds.select("period_type", "period_key").unique().height
        log(f"{held} periods hold back new figures: see {site / 'quality.html'}")
    return Published(index=site / "index.html", periods=periods, files=files)
