"""Holding drifting batches: the warehouse side of quality/drift.

Before a group of new files is stored, each is compared with its units' history in
the warehouse. A file with a finding is held: its rows wait in the held tables and
change nothing scored, the periods they fall in are held (quality_holds, with the
unit and the figures), and what the path gave before stays stored. A corrected file
at the same path replaces it; `scoreboard release FILE --reason` lets it through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from config import config_path
from pipelines import warehouse as wh
from quality.drift import FINDING_SCHEMA, DriftHistory, drift_findings
from quality.drift.duration import peer_procedures
from quality.holds import drift_holds
from quality.settings import load_quality_config
from transforms.calendar import calendar_end, load_overlay, working_calendar
from transforms.classify import load_catalogue



@dataclass
class DriftInputs:
    """What the checks need besides the warehouse: the calendar's overlay, the
    procedure catalogue (legal processing days, or None) and the thresholds."""

    calendar_path: Path | None = None
    catalogue: pl.DataFrame | None = None
    config: dict = field(default_factory=load_quality_config)  # the defaults alone


def drift_inputs(settings) -> DriftInputs:
    """The deployment's calendar and catalogue (the shipped one where none is
    configured: it only judges procedures a unit has no history of)."""
    catalogue = settings.catalogue()
    if catalogue is None:
        catalogue = load_catalogue(config_path("procedures.csv"))
    return DriftInputs(
        calendar_path=Path(settings.calendar_path), catalogue=catalogue, config=settings.quality_config()
    )


def _windows(versions: pl.DataFrame, days: int) -> pl.DataFrame:
    """Per unit: receipts from `days` before the files' first to `days` after their last."""
    margin = timedelta(days=days)
    return versions.group_by("unit_code", "unit_valid_from").agg(
        lo=pl.col("received_at").min() - margin, hi=pl.col("received_at").max() + margin
    )


def read_history(con, versions: pl.DataFrame, replaced: list[str], inputs: DriftInputs) -> DriftHistory:
    """What the warehouse holds that these files' rows are compared with."""
    drift = inputs.config["drift"]
    gone = pl.DataFrame({"source_file": replaced}, schema={"source_file": pl.Utf8})
    recent = _windows(versions, int(drift["lookback_days"]))
    around = _windows(versions, 31 * (int(drift["volume"]["lookback_months"]) + 1))
    own = wh.recent_dossiers(con, recent)
    procedures = peer_procedures(versions, own, inputs.catalogue, inputs.config)
    return DriftHistory(
        recent=own,
        peers=wh.peer_dossiers(con, recent, procedures) if procedures else None,
        stored=wh.stored_copies(con, versions),
        known_ids=wh.known_ids(con, versions, gone),
        months=wh.month_counts(con, around, gone),
        earlier=wh.earlier_young_rows(con, recent, gone, int(drift["status_mix"]["young_days"])),
    )


def find_drift(con, versions: pl.DataFrame, replaced: list[str], *, now: datetime, inputs: DriftInputs) -> pl.DataFrame:
    """quality.drift findings for the files whose accepted rows are `versions`."""
    if versions.is_empty():
        return pl.DataFrame(schema=FINDING_SCHEMA)
    history = read_history(con, versions, replaced, inputs)
    peers = [] if history.peers is None else [history.peers.select(d=pl.col("received_at").dt.date())]
    dates = pl.concat([versions.select(d=pl.col("received_at").dt.date()),
                       history.recent.select(d=pl.col("received_at").dt.date()), *peers,
                       history.months.select(d=pl.col("month"))])["d"]
    start, last = dates.min(), dates.max()
    overlay = load_overlay(inputs.calendar_path) if inputs.calendar_path else None
    # a promised due date beyond it is far from any usual promise and is estimated
    # (quality.drift.duration.promised_days)
    calendar = working_calendar(start, calendar_end(last), overlay)
    return drift_findings(versions, history, calendar=calendar, catalogue=inputs.catalogue, now=now,
                          config=inputs.config)


def store_files(
    con,
    *,
    file_rows: list[dict],
    versions: pl.DataFrame,
    quarantine: pl.DataFrame,
    units: pl.DataFrame,
    now: datetime,
    inputs: DriftInputs,
    log: Callable[[str], None] = print,
) -> pl.DataFrame:
    """Store what a group of new files gave: a drifting file aside (held, its periods
    held), the others as usual (wh.replace_files), dropping what a corrected file's
    held predecessor left. Returns the findings."""
    sources = [row["source_file"] for row in file_rows]
    findings = find_drift(con, versions, sources, now=now, inputs=inputs)
    held = sorted(set(findings["source_file"]))
    aside = pl.col("source_file").is_in(held)
    for source in held:
        found = findings.filter(pl.col("source_file") == source)
        log(f"{source}: held — {', '.join(sorted(set(found['check_name'])))} "
            f"({', '.join(sorted(set(found['unit_code'])))}); see the quality page")
    holds = drift_holds(findings, versions.filter(aside), units)

    def store() -> None:
        # one transaction: a held file is known by its hash and never read again, so
        # its rows aside without its holds would hide it from the office for good
        wh.store_held_files(con, file_rows=[r for r in file_rows if r["source_file"] in held],
                            versions=versions.filter(aside), quarantine=quarantine.filter(aside))
        wh.replace_files(con, file_rows=[r for r in file_rows if r["source_file"] not in held],
                         versions=versions.filter(~aside), quarantine=quarantine.filter(~aside), track_touched=True)
        wh.forget_held(con, [s for s in sources if s not in held])
        wh.replace_drift_holds(con, sources, holds)

    wh.all_in_one(con, store)
    return findings


def apply_releases(con, log: Callable[[str], None] = print) -> list[str]:
    """Store the held files the office released (`scoreboard release`), as if they had
    just passed: their rows now count, their holds are lifted."""
    released = wh.released_files(con)
    for source in released:
        file_rows, versions, quarantine = wh.held_content(con, source)

        def release(file_rows=file_rows, versions=versions, quarantine=quarantine, source=source) -> None:
            wh.replace_files(con, file_rows=file_rows, versions=versions, quarantine=quarantine, track_touched=True)
            wh.forget_held(con, [source])

        wh.all_in_one(con, release)
        log(f"{source}: released by the office; its rows now count")
    return released
