"""The static scoreboard site: plain files that open from disk with no network.

    site/
      index.html                 the headline month and week per level, the periods in progress, charts, every period
      periods/<period_key>.html  the full ranking of one period, per level
      units/<code>-<valid_from>.html  one unit: its detail period, every period
      city.html                  heatmap of the groups, band changes, early warnings
      quality.html               checks per period, held-back periods, quarantine, silent units,
                                 latest data per unit, completeness per period
      report-<YYYY-MM>.html      the printable monthly report (A4), one per month; report.html the headline's
      ingestion.html             rows read/accepted/quarantined per input file (optional)
      methodology.html           how the index is computed, from the profile, calendar and inputs in force
      assets/site.css, site.js   shared style and behaviour (package files under static/)
      assets/charts.js           the chart specs every unit page shares
      assets/vega-bundle.js      Vega + Vega-Lite + vega-embed, vendored from vl-convert
      charts/<name>.svg|.png     the overview's and the city page's charts as images
      data/scoreboard-<key>.csv|.parquet|.xlsx, data/manifest.json
      data/weak_points|bottlenecks|what_if|evidence-<key>.csv|.xlsx (when given)
      data/evidence/<key>/<code>-<valid_from>.js  a unit's late dossiers of its detail period

`build_site` prepares the tables and facts every page kind reads, then runs
the page catalogue (dashboards.catalogue) through the builder (dashboards.build),
which makes only the files whose inputs changed (dashboards.cache). The same
inputs give the same bytes; files of periods no longer published are removed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import polars as pl

from dashboards import build
from dashboards.cache import STATE_FILE
from dashboards.format import fmt_date
from dashboards.groups import profile_groups, with_max_points
from dashboards.headline import choose, period_stats
from dashboards.i18n import PERIOD_TYPE_ORDER, rate_labels, site_bands
from dashboards.methodology import methodology_fact
from dashboards.catalogue import CATALOGUE
from dashboards.pages.common import INSIGHTS, period_record
from dashboards.pages import revisions as revision_pages
from dashboards.pages.report import pdf_wanted
from dashboards.reconcile_page import FOLDER as RECONCILE_FOLDER
from dashboards.data_files import TABLES, prepare_scoreboard, prepare_table
from quality.holds import HELD_BATCH_SCHEMA
from transforms.alerts import DIGEST_SCHEMA
from transforms.calendar import load_overlay
from transforms.crosswalk import reconstruct
from transforms.periods import last_day_expr
from transforms.revisions import Revisions
from transforms.units import with_expected

__all__ = ["build_site", "seed_site", "unit_slug"]

UNIT = ["unit_code", "unit_valid_from"]

WARNING_COLUMNS = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "unit_code": pl.Utf8, "unit_valid_from": pl.Date,
    "unit_name": pl.Utf8, "level": pl.Utf8, "indicator": pl.Utf8, "value": pl.Float64, "baseline": pl.Float64,
    "z": pl.Float64, "kind": pl.Utf8, "message_vi": pl.Utf8, "message_en": pl.Utf8,
}
QUALITY_COLUMNS = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "check": pl.Utf8, "success": pl.Boolean,
    "unexpected_count": pl.Int64, "description_vi": pl.Utf8, "description_en": pl.Utf8, "blocked": pl.Boolean,
}


def unit_slug(unit_code: str | None, valid_from: Any) -> str:
    """`001-2008-08-01`: the file name (without .html) of a unit's page.

    Codes are registry data: anything but letters, digits, `_` and `-` is
    replaced, with a short hash of the true code so two codes cannot collide.
    """
    import hashlib
    import re

    code = unit_code or ""
    vf = valid_from.isoformat() if hasattr(valid_from, "isoformat") else (str(valid_from) if valid_from else "na")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", code).strip("_.") or "unit"
    if safe != code:
        safe = f"{safe[:40]}_{hashlib.sha256(code.encode()).hexdigest()[:8]}"
    return f"{safe}-{vf}"


def seed_site(previous_site: Path, site_dir: Path) -> int:
    """Fill `site_dir` with hard links to the files of a previous build; return how many.

    For a build into a fresh folder (a new release): build_site then rewrites
    only what changed, and never in place (a new file is renamed over the
    link), so the previous build stays as it was. Copies where links are impossible.
    """
    previous_site = Path(previous_site).resolve()
    if not previous_site.is_dir():
        return 0
    return _link_folder(str(previous_site), str(site_dir), top=True)


def _link_folder(source: str, target: str, *, top: bool) -> int:
    """seed_site for one folder and those under it: its files but the hidden ones
    (the build's state at the top excepted), symbolic links and those already there."""
    n = 0
    made = os.path.isdir(target)
    try:
        entries = os.scandir(source)
    except PermissionError:  # skipped, as a glob skips it
        return 0
    with entries:
        for entry in entries:
            if entry.name.startswith(".") and not (top and entry.name == STATE_FILE):
                continue
            dest = os.path.join(target, entry.name)
            if entry.is_dir(follow_symlinks=False):
                n += _link_folder(entry.path, dest, top=False)
                continue
            if not entry.is_file(follow_symlinks=False) or os.path.exists(dest):
                continue
            if not made:
                os.makedirs(target, exist_ok=True)
                made = True
            try:
                os.link(entry.path, dest)
            except OSError:
                shutil.copy2(entry.path, dest)
            n += 1
    return n


def _conform(frame: pl.DataFrame | None, schema: dict) -> pl.DataFrame:
    """The columns the pages read, typed; a missing optional column is null."""
    if frame is None or (frame.height == 0 and not {"period_type", "period_key"} <= set(frame.columns)):
        return pl.DataFrame(schema=schema)
    missing = {"period_type", "period_key"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns: {sorted(missing)}")
    return frame.select(
        pl.col(c).cast(t, strict=False) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in schema.items()
    )


def _stable(frame: pl.DataFrame | None) -> pl.DataFrame:
    """A given frame in one order whatever order it came in (its rows feed cache keys)."""
    if frame is None:
        return pl.DataFrame()
    by = [c for c, t in frame.schema.items() if not t.is_nested() and t != pl.Object]
    return frame.sort(by, nulls_last=True, maintain_order=True) if by and frame.height else frame


def _with_slugs(frame: pl.DataFrame, slugs: pl.DataFrame) -> pl.DataFrame:
    return frame.join(slugs, on=UNIT, how="left", nulls_equal=True, maintain_order="left")


def _ends(registry: pl.DataFrame | None) -> pl.DataFrame:
    """Each registry unit's last valid day (`_to`, null while it lasts); no rows
    without a registry."""
    if registry is None:
        return pl.DataFrame(schema={"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "_to": pl.Date})
    return registry.select("unit_code", unit_valid_from="valid_from", _to="valid_to")


def _with_until(frame: pl.DataFrame, registry: pl.DataFrame | None) -> pl.DataFrame:
    """`_until`: the unit's last valid day on the rows of periods that end after it
    (an ended unit listed there for its late dossiers, often beside the unit that took
    its code and name, which the ranking tables must tell apart); null elsewhere."""
    joined = frame.join(_ends(registry), on=UNIT, how="left", nulls_equal=True, maintain_order="left")
    return joined.with_columns(_until=pl.when(pl.col("_to") < last_day_expr()).then(pl.col("_to"))).drop("_to")


def _successors(crosswalk: pl.DataFrame | None, units: pl.DataFrame, registry: pl.DataFrame | None) -> pl.DataFrame:
    """Per ended unit (its code and valid_from): the units that took over its area (the
    crosswalk), largest share first, each with the name and slug the site shows it by
    (`units`: _units' table), or its registry name when it has no row of its own."""
    schema = {"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "new_code": pl.Utf8, "new_valid_from": pl.Date,
              "new_name": pl.Utf8, "new_slug": pl.Utf8}
    if crosswalk is None or crosswalk.height == 0:
        return pl.DataFrame(schema=schema)
    new = ["new_code", "new_valid_from"]
    out = crosswalk.rename({"old_code": "unit_code", "old_valid_from": "unit_valid_from"}).join(
        units.select(new_code="unit_code", new_valid_from="unit_valid_from", new_name="unit_name", new_slug="_slug"),
        on=new, how="left", nulls_equal=True,
    )
    if registry is not None:
        names = registry.select(new_code="unit_code", new_valid_from="valid_from", _name="unit_name")
        out = out.join(names, on=new, how="left", nulls_equal=True).with_columns(
            new_name=pl.coalesce("new_name", "_name"))
    return out.sort([*UNIT, "share", "new_code"], descending=[False, False, True, False]).select(list(schema))


def _units(frame: pl.DataFrame, registry: pl.DataFrame | None) -> pl.DataFrame:
    """One row per unit: its slug, its name, level and peer group as of its newest
    period, its last valid day (`valid_to`, the registry's; null while it lasts), and
    the period its page details: its latest month with data of its own
    (not a month after its end, where it is listed only for late dossiers), else its
    latest month; weeks only for a unit with no month."""
    newest = frame.sort("period_start", "period_type").group_by(UNIT, maintain_order=True).agg(
        pl.col("unit_name").last(), pl.col("level").last(), pl.col("peer_group").last(), pl.col("_slug").first(),
    )
    detail = frame.sort(
        [pl.col("period_type") == "month", pl.col("ranked") | (pl.col("received") > 0), "period_start"]
    ).group_by(UNIT, maintain_order=True).agg(
        detail_key=pl.col("period_key").last(), detail_level=pl.col("level").last(),
        detail_peer=pl.col("peer_group").last(),
    )
    ends = _ends(registry).rename({"_to": "valid_to"})
    return newest.join(detail, on=UNIT, how="left", nulls_equal=True).join(
        ends, on=UNIT, how="left", nulls_equal=True).sort(UNIT)


def _derived(frame: pl.DataFrame, groups: tuple, crosswalk: pl.DataFrame | None,
             units: pl.DataFrame | None, min_volume: int) -> dict[str, pl.DataFrame]:
    """The tables pages read that the scoreboard implies: per unit (its slug, names,
    detail period), per period and level (ranked counts, peer medians), per period
    (completeness), per unit and period type (its last period with receipts), and,
    across a reform, the scores reconstructed (whether each passes the ranking test of
    the profile's `min_volume`: transforms.crosswalk) and each ended unit's successors."""
    from quality.completeness import completeness

    ranked = frame.filter(pl.col("ranked"))
    unit_rows = _units(frame, units)
    return {
        "units": unit_rows,
        "successors": _successors(crosswalk, unit_rows, units),
        "completeness": completeness(frame, units),
        "last_active": frame.filter(pl.col("received") > 0).sort("period_start").group_by(
            "period_type", *UNIT, maintain_order=True).agg(last_key=pl.col("period_key").last()).sort(
            "period_type", *UNIT),
        "peer_medians": ranked.group_by("period_key", "level", "peer_group").agg(
            [pl.col(g.column).median() for g in groups if g.column in frame.columns]
        ).sort("period_key", "level", "peer_group", nulls_last=True),
        "ranked_counts": ranked.group_by("period_key", "level").len("n").sort("period_key", "level"),
        "rebuilt": (
            reconstruct(frame, crosswalk, min_volume).select(*UNIT, "period_type", "period_start", "score", "rankable")
            if crosswalk is not None and crosswalk.height else
            pl.DataFrame(schema={"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "period_type": pl.Utf8,
                                 "period_start": pl.Date, "score": pl.Float64, "rankable": pl.Boolean})
        ),
    }


def _scoreboard_frame(scoreboard: pl.DataFrame, groups: tuple,
                      units: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The scoreboard as the pages read it (with each group's maximum points, each
    unit's page slug, whether it was expected to report: transforms.units.with_expected
    of the registry `units`, and its end where it ended before the period did:
    _with_until), and the slugs: one row per unit."""
    # the groups' points and maxima beyond the published columns (a profile's own groups)
    extra = tuple(c for c in scoreboard.columns if c.startswith(("points_", "max_points_")))
    frame = _with_until(with_expected(with_max_points(prepare_scoreboard(scoreboard, extra), groups), units), units)
    keys = frame.select(UNIT).unique(maintain_order=True)
    slugs = keys.with_columns(_slug=pl.Series([unit_slug(c, vf) for c, vf in keys.iter_rows()], dtype=pl.Utf8))
    return _with_slugs(frame, slugs), slugs


def _latest_event(freshness: pl.DataFrame | None):
    """The data's cut-off: the latest event in the freshness frame (None without one)."""
    return freshness["latest_event"].max() if freshness is not None and "latest_event" in freshness.columns else None


def _input_facts(ingestion_given: bool, freshness: pl.DataFrame | None) -> dict:
    """What the pages say of the inputs: the navigation's optional pages, and the
    cut-off the periods in progress name (the latest event in the freshness frame)."""
    latest_event = _latest_event(freshness)
    return {
        "cutoff": f"{fmt_date(latest_event)} {latest_event:%H:%M}" if latest_event is not None else None,
        "nav": {"city": True, "quality": True, "ingestion": ingestion_given},
        "has_freshness": freshness is not None,
    }


def _revision_facts(revisions: Revisions | None, revised: pl.DataFrame) -> dict:
    """Whether data/revisions.csv is published, and the columns of each earlier
    version of a revised period."""
    return {
        "revisions_published": revisions is not None,
        "revised_columns": {
            (k, v): revisions.columns(t, k, v)
            for t, k, v in revised.select("period_type", "period_key", "version").unique().iter_rows()
        } if revisions is not None and revised.height else {},
    }


class Prepared:
    """A stored explaining table (dashboards.build.Source, e.g. pipelines.warehouse.StoredTable)
    as the pages read it: prepare_table's columns, types and order, its published periods only."""

    def __init__(self, source: build.Source, name: str, keys: list[str]):
        self.source, self.name, self.keys = source, name, set(keys)

    @property
    def columns(self) -> list[str]:
        return list(TABLES[self.name].schema)

    def digests(self, columns, by, keys):
        return self.source.digests(columns, by, keys)

    def rows(self, columns, by, keys) -> pl.DataFrame:
        frame = prepare_table(self.source.rows(self.columns, by, keys), self.name)
        return frame.filter(pl.col("period_key").is_in(self.keys)).select(columns)

    def partitions(self, by, keys=None) -> pl.DataFrame:
        return self.source.partitions(by, keys)


def _insight(given: pl.DataFrame | build.Source, name: str, keys: list[str]) -> pl.DataFrame | build.Source:
    if isinstance(given, build.Source):
        return Prepared(given, name, keys)
    return prepare_table(given, name).filter(pl.col("period_key").is_in(keys))


def build_site(
    site_dir: Path,
    scoreboard: pl.DataFrame,
    *,
    manifest: dict,
    ingestion: pl.DataFrame | None = None,
    quarantine_summary: pl.DataFrame | None = None,
    weak_points: pl.DataFrame | build.Source | None = None,
    bottlenecks: pl.DataFrame | build.Source | None = None,
    what_if: pl.DataFrame | build.Source | None = None,
    evidence: pl.DataFrame | build.Source | None = None,
    quality: pl.DataFrame | None = None,
    warnings: pl.DataFrame | None = None,
    profile: Any,
    report_pdf: bool = False,
    log: Callable[[str], None] | None = None,
    crosswalk: pl.DataFrame | None = None,
    freshness: pl.DataFrame | None = None,
    held_batches: pl.DataFrame | None = None,
    alerts: pl.DataFrame | None = None,
    reconciliations: dict[str, dict] | None = None,
    calendar_overlay: pl.DataFrame | None = None,
    revisions: Revisions | None = None,
    units: pl.DataFrame | None = None,
    authority: tuple[str, str] | None = None,
) -> Path:
    """Write the whole site under `site_dir`; return the path of its index.html.

    `weak_points`, `bottlenecks`, `what_if`: the engine's tables
    (transforms.insights schemas), all periods, as frames or where they are stored
    (dashboards.build.Source: only the partitions a build needs are read); each is published as
    data/<table>-<key>.csv|.xlsx and shown on the unit pages; so is `evidence`
    (transforms.evidence: the dossiers behind the late counts), which the unit
    pages list, filterable, from data/evidence/<key>/<unit>.js. `quality`: one row
    per period and check (period_type, period_key, check, success,
    unexpected_count, description_vi, description_en, blocked); `warnings`: the
    early-warning rows. `profile`: the scoring profile (its catalogue of groups:
    their labels and maximum points; its bands; its labels of the rates). With `report_pdf`, the
    headline month's report is also printed to PDF when Chromium is installed.
    `log`: called with one line per page kind and the seconds it took.
    `crosswalk`: transforms.crosswalk.load_crosswalk's frame; a new unit's score
    chart then also shows, paler, the scores reconstructed from its predecessors.
    `freshness`: quality.completeness.freshness's frame; the quality page lists it
    and the periods in progress name the latest time in it as their cut-off.
    `held_batches`: quality.holds.held_batches (files held as drifting), on the
    quality page. `alerts`: transforms.alerts.digest rows, one page per period;
    `reconciliations`: month -> dashboards.reconcile_page.page_context.
    `calendar_overlay`: the calendar's overlay in force (transforms.calendar.load_overlay;
    the shipped one by default), which methodology.html lists with the versions of
    the inputs the manifest records.
    `revisions`: transforms.revisions.Revisions, the revisions of final periods
    (dashboards/pages/revisions.py); without it no revision list is published.
    `units`: the registry the scoreboard was scored with, which says who was expected
    to report in each period (the quality page's silent units and completeness);
    without it every listed unit is, from its `unit_valid_from` on.
    `authority`: who issues the printed reports (Vietnamese, English; the deployment's,
    ScoreboardSettings.report_authority); without it the reports name none.
    """
    groups = profile_groups(profile)
    frame, slugs = _scoreboard_frame(scoreboard, groups, units)
    stats = period_stats(frame)
    periods = [
        period_record(t, k, s, p)
        for t, k, s, p in stats.select("period_type", "period_key", "period_start", "provisional").iter_rows()
    ]
    keys = sorted(p["key"] for p in periods)
    insight = {
        name: _insight(given, name, keys)
        for name, given in (("weak_points", weak_points), ("bottlenecks", bottlenecks), ("what_if", what_if),
                            ("evidence", evidence))
        if given is not None
    }
    tables = {
        "scoreboard": frame,
        **{name: insight.get(name, pl.DataFrame(schema=TABLES[name].schema)) for name in INSIGHTS},
        "quality": _stable(_conform(quality, QUALITY_COLUMNS)),
        "warnings": _with_slugs(_stable(_conform(warnings, WARNING_COLUMNS).filter(pl.col("period_key").is_in(keys))),
                                slugs),
        "ingestion": _stable(ingestion),
        "quarantine": _stable(quarantine_summary),
        # in the order quality.completeness.freshness gives (stalest first): the page shows it so
        "freshness": _with_slugs(freshness, slugs) if freshness is not None else pl.DataFrame(),
        **_derived(frame, groups, crosswalk, units, profile.min_volume),
        "held_batches": _stable(held_batches if held_batches is not None else pl.DataFrame(schema=HELD_BATCH_SCHEMA)),
        "alerts": alerts if alerts is not None else pl.DataFrame(schema=DIGEST_SCHEMA),
        **revision_pages.site_tables(revisions, slugs, keys),
    }
    facts = {
        "groups": groups,
        # the profile's bands (labels, best first, with their colours) and labels of the rates
        "bands": site_bands(profile),
        "rates": rate_labels(profile),
        "published": [n for n in INSIGHTS if n in insight],
        "published_keys": keys,
        "periods": periods,
        # never a week that runs past the data's cut-off, where another can lead
        "headline": choose(stats, _latest_event(freshness)),
        "latest": {t: next((p["key"] for p in reversed(periods) if p["type"] == t), None) for t in PERIOD_TYPE_ORDER},
        "manifest": manifest,
        "pdf": pdf_wanted(report_pdf),
        "unit_pages": frame.height > 0,
        "reconciliations": reconciliations or {},
        "authority": list(authority) if authority else None,
        **_input_facts(ingestion is not None or quarantine_summary is not None, freshness),
        "methodology": methodology_fact(
            profile, manifest, calendar_overlay if calendar_overlay is not None else load_overlay(),
            sorted({int(p["start_iso"][:4]) for p in periods if p["start_iso"]}),
        ),
        **_revision_facts(revisions, tables["revised_scoreboard"]),
    }
    # what every page's frame shows: its menu, and when a unit is ranked
    facts["nav"].update(report="report.html" if facts["headline"]["month"]["headline"] else None,
                        min_volume=profile.min_volume,
                        # the alert pages (dashboards/pages/alerts.py): their index is always
                        # written, and says so when no period has a digest; the menu is the same
                        # from one publication to the next
                        alerts="alerts/index.html",
                        # the portal's reconciliation (dashboards/reconcile_page.py), when a file was imported
                        reconciliation=f"{RECONCILE_FOLDER}/index.html" if reconciliations else None)
    site = build.Site(Path(site_dir), tables, facts, log=log)
    build.run(site, CATALOGUE)
    if log:
        log(f"site: built in {sum(site.seconds.values()):.1f} s, {len(site.cache.written)} files written")
    return Path(site_dir) / "index.html"
