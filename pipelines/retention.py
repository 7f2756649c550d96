"""Retention of raw exports: they hold personal data, the warehouse does not.

After an ingestion, every landing file whose content is stored (its path and
content hash in `ingested_files`) is moved to the archive,
`<archive>/<yyyy-mm-dd>/<its path under the landing folder>`, and deleted
`retention_days` later (ScoreboardSettings: SCOREBOARD_ARCHIVE,
SCOREBOARD_RETENTION_DAYS, default 90). Its content hash stays in
`ingested_files` and the manifest; `archived_files` records where it went and
when it was deleted.

Archiving is not retraction: what a file gave stays in the warehouse when the
file leaves the landing folder (ingestion only ever reads the files present; a
file is withdrawn by replacing it with a corrected one at the same path). So
scoring and publishing never need a raw file again: a backfill after deletion
gives the same published numbers.

A file dropped again with the same bytes (a demo generated twice, a vendor
sending yesterday's export again) is not ingested again, and it is not archived
again either while its first copy is still in the archive: it is removed from the
landing folder, and the archive keeps one copy of those bytes, deleted in its
own time.

Stays in the landing folder: a file held as drifting (quality/drift) or holding
periods as a broken batch, until it is released or replaced (the office may
want to open it); a file that changed since it was read (the next run reads
it); files set aside in `_rejected/`, which are deleted once their retention
has run out, counted from the day they were set aside (their reason file,
which holds no value, stays).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from pipelines import warehouse as wh
from pipelines.ingestion import REJECTED_DIR, landing_files
from transforms.ingest import content_hash


class RetentionError(ValueError):
    pass


@dataclass
class RetentionReport:
    archived: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # held files, waiting in the landing folder
    # stored files whose very bytes the archive holds already: removed from the landing folder
    removed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"raw exports: {len(self.archived)} archived, {len(self.removed)} removed as archived already, "
                f"{len(self.deleted)} deleted after their retention, {len(self.kept)} held in the landing folder")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _target(archive: Path, day: str, source: str, digest: str) -> Path:
    target = archive / day / source
    if target.exists():  # the same path archived twice in a day: keep both
        target = target.with_name(f"{target.stem}.{digest[:12]}{target.suffix}")
    return target


def archive_landing(con, *, landing: Path, archive: Path, now: datetime,
                    log: Callable[[str], None] = print) -> RetentionReport:
    """Move every landing file whose content is stored to the archive (module doc)."""
    if _inside(archive, landing):
        raise RetentionError(f"the archive {archive} is inside the landing folder {landing}: choose another folder")
    report = RetentionReport()
    if not landing.is_dir():
        return report
    stored = {r["source_file"]: r["content_hash"] for r in wh.ingested_inputs(con).iter_rows(named=True)
              if r["status"] != "rejected"}
    holding = set(wh.held_hashes(con)) | set(wh.read_holds(con)["source"].to_list())
    copies = _archived_copies(con, archive)
    moves, rows, again = [], [], []
    for path in landing_files(landing):
        source = path.relative_to(landing).as_posix()
        if source in holding:
            report.kept.append(source)
            continue
        if source not in stored or content_hash(path) != stored[source]:
            continue
        if _still_archived(copies.get((source, stored[source]), []), stored[source]):
            again.append((path, source))
            continue
        target = _target(archive, now.date().isoformat(), source, stored[source])
        moves.append((path, target, source))
        rows.append({"source_file": source, "content_hash": stored[source],
                     "archive_path": target.relative_to(archive).as_posix(), "archived_at": now, "deleted_at": None})
    # Recorded before the files move: a run killed while moving them leaves records of
    # files still in landing (the next run moves them, and records them again), never a
    # moved file without a record, which no expiry would ever delete.
    wh.record_archived(con, pl.DataFrame(rows, schema=wh.ARCHIVED_FILES_SCHEMA))
    for path, target, source in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        # (the landing folder's subfolders stay: vendors drop their files into them)
        shutil.move(str(path), target)
        report.archived.append(source)
    # (no record: the archived copy's stands, and is deleted in its own time)
    for path, source in again:
        path.unlink()
        report.removed.append(source)
    if report.archived:
        log(f"{len(report.archived)} raw exports moved to the archive {archive}")
    if report.removed:
        log(f"{len(report.removed)} raw exports removed from the landing folder: the archive {archive} "
            "holds them already")
    return report


def _archived_copies(con, archive: Path) -> dict[tuple[str, str], list[Path]]:
    """(source_file, content hash) -> where the archive's copies not yet deleted are."""
    copies: dict[tuple[str, str], list[Path]] = {}
    for r in wh.archived_files(con).filter(pl.col("deleted_at").is_null()).iter_rows(named=True):
        copies.setdefault((r["source_file"], r["content_hash"]), []).append(archive / r["archive_path"])
    return copies


def _still_archived(paths: list[Path], digest: str) -> bool:
    """Whether one of these archived copies is on disk with these very bytes: its
    record alone is not enough (a run killed while it moved files records copies it
    never made, and someone may have emptied the archive by hand)."""
    return any(p.is_file() and content_hash(p) == digest for p in paths)


def expire(con, *, landing: Path, archive: Path, now: datetime, days: int, report: RetentionReport,
           log: Callable[[str], None] = print) -> RetentionReport:
    """Delete the archived files, and the set-aside ones, older than `days`."""
    cutoff = now - timedelta(days=days)
    due = wh.archived_files(con).filter(pl.col("deleted_at").is_null() & (pl.col("archived_at") <= cutoff))
    for rel in due["archive_path"].to_list():
        path = archive / rel
        path.unlink(missing_ok=True)
        _prune_empty(path.parent, archive)
    wh.mark_deleted(con, due["archive_path"].to_list(), now)
    report.deleted.extend(due["source_file"].to_list())
    for source in wh.rejected_before(con, cutoff):
        path = landing / REJECTED_DIR / source
        if path.is_file():
            path.unlink()
            report.deleted.append(f"{REJECTED_DIR}/{source}")
    if report.deleted:
        log(f"{len(report.deleted)} raw files deleted: archived or set aside before {cutoff:%d/%m/%Y}")
    return report


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove the empty folders from `folder` up to (not including) `root`."""
    folder, root = folder.absolute(), root.absolute()
    while folder != root and _inside(folder, root):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def apply_retention(con, settings, now: datetime, log: Callable[[str], None] = print) -> RetentionReport:
    """Archive what was ingested, then delete what has been kept long enough."""
    report = archive_landing(con, landing=settings.landing, archive=settings.archive, now=now, log=log)
    return expire(con, landing=settings.landing, archive=settings.archive, now=now, days=settings.retention_days,
                  report=report, log=log)


def manifest_part(con, settings) -> dict:
    """What the manifest says of the raw exports: how long they are kept, and which
    were deleted (their content hash stays among the inputs)."""
    deleted = wh.archived_files(con).filter(pl.col("deleted_at").is_not_null())
    return {"retention": {
        "days": settings.retention_days,
        "deleted": [
            {"file": r["source_file"], "sha256": r["content_hash"], "deleted_at": r["deleted_at"].isoformat()}
            for r in deleted.sort("source_file", "deleted_at").iter_rows(named=True)
        ],
    }}
