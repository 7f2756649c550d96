"""Landing folder → warehouse: which files are new, what each gave, what was set aside."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from pipelines import warehouse as wh
from pipelines.drift import DriftInputs, apply_releases, store_files
from pipelines.resources import mappings_dir
from pipelines.revisions import note_changes
from quality.holds import HOLD_SCHEMA, batch_holds
from quality.suites import DOSSIER_BUCKET_ROWS, QualityResult, submit_dossier_parts, warm_up
from transforms import aside
from transforms.changes import PERIOD_FIELDS, affected_periods
from transforms.periods import PERIOD_TYPES, covered_range, index_of, key_of, parse_key, partition_span
from transforms.ingest import (
    UNIT_REASONS, Batch, content_hash, ingest_batch, retry_quarantined, stored_as_quarantined,
)
from transforms.readers import load_mappings
from transforms.units import load_registry, registry_digest, resolve_stored

REJECTED_DIR = "_rejected"


@dataclass
class IngestionReport:
    files_seen: int = 0
    files_new: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    rows_read: int = 0
    rows_quarantined: int = 0
    dossiers: int = 0
    rejected_messages: list[str] = field(default_factory=list)
    by_file: pl.DataFrame | None = None
    # period indices whose numbers the new rows can change, by period type
    affected: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in PERIOD_TYPES})
    # the kept copies this run added or changed (validated by the dossier suite)
    changed: pl.DataFrame | None = None
    # a first load: every stored dossier is new (and `changed` is not filled)
    changed_all: bool = False
    # the kept copies this run replaced or dropped, and the last period index of each
    # type then (pipelines/revisions.py: which published periods the change touches)
    removed: pl.DataFrame | None = None
    last_index: dict[str, int] | None = None
    # the periods broken batches hold (quality.holds.batch_holds), recorded with the kept copies
    holds: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HOLD_SCHEMA))
    # files held back as drifting from their units' history (quality/drift), with
    # what was found; files the office released (stored this run)
    held: list[str] = field(default_factory=list)
    findings: pl.DataFrame | None = None
    released: list[str] = field(default_factory=list)
    # the registry differed from the one the stored rows were resolved against: stored
    # versions whose unit changed, versions that no longer match a unit (quarantined;
    # the dossiers they were the versions of), quarantined rows that are dossiers now
    registry_changed: bool = False
    versions_reresolved: int = 0
    versions_unmatched: int = 0
    dossiers_unmatched: int = 0
    rows_requalified: int = 0

    def touch(self, periods: set[tuple[str, str]]) -> None:
        """Count these (period_type, period_key) among the affected periods."""
        for period_type, key in periods:
            self.affected[period_type] = sorted(set(self.affected[period_type]) | {parse_key(key)[1]})

    def summary(self, removed: int = 0) -> str:
        """The run's line; `removed`: the files the retention removed from the landing
        folder as already archived (pipelines/retention.py), all of them already ingested
        but for a content that came back to its path."""
        return (
            f"{self.files_seen} files in the landing folder: {self.files_new} ingested "
            f"({len(self.held)} of them held as drifting from their units' history), "
            f"{self.files_skipped} already ingested{_removed_text(self.files_skipped, removed)}, "
            f"{self.files_rejected} set aside; "
            f"{self.rows_read} rows read, {self.rows_quarantined} quarantined; "
            f"{self.dossiers} dossiers in the warehouse."
            + (
                f" The unit registry changed: {self.versions_reresolved} stored rows moved to another unit, "
                f"{self.dossiers_unmatched} stored dossiers quarantined as no longer matching a unit, "
                f"{self.rows_requalified} quarantined rows now dossiers."
                if self.registry_changed else ""
            )
        )


def _removed_text(skipped: int, removed: int) -> str:
    if not removed:
        return ""
    if removed == skipped:
        return ", removed from landing (already archived)"
    # a file read again (its earlier content back at its path) may be among them
    return f" ({removed} {'file' if removed == 1 else 'files'} removed from landing: already in the archive)"


def landing_files(landing: Path) -> list[Path]:
    """Every file under the landing folder but the set-aside ones, in a stable order."""
    if not landing.is_dir():
        raise FileNotFoundError(f"the landing folder {landing} does not exist")
    files = [
        p
        for p in landing.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and REJECTED_DIR not in p.relative_to(landing).parts
    ]
    return sorted(files, key=lambda p: p.relative_to(landing).as_posix())


def set_aside(landing: Path, path: Path, message: str) -> Path:
    """Move an unusable file under _rejected/, with the reason beside it."""
    target = landing / REJECTED_DIR / path.relative_to(landing)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(message + "\n", encoding="utf-8")
    return target


def _warm_up_quality() -> None:
    """The dossier suite checks what the new files give once they are in, and
    importing great_expectations for it takes seconds: let it happen meanwhile, on
    another thread (a later use waits for it; a failure there is the later use's)."""
    if aside.started():  # the second process imports it (transforms.aside)
        return
    import pyarrow  # noqa: F401  (the warehouse needs it too: not imported by two threads at once)

    def run() -> None:
        try:
            warm_up()
        except Exception:
            pass

    threading.Thread(target=run, name="quality-warm-up", daemon=True).start()


BATCH_FILES = 2000
BATCH_BYTES = 64 * 1024 * 1024


def _largest(pending: list[tuple[Path, str, str]]) -> int:
    return max((path.stat().st_size for path, _, _ in pending), default=0)


def _make_room(pending: list[tuple[Path, str, str]]) -> bool:
    """A file larger than a batch is read whole, and that read is the run's memory peak
    (several times the file's size): the second process, large once GX is in, is
    let go meanwhile and started again once such files are read (GX is imported again
    while their rows are stored: docs/benchmarks.md, "The second process")."""
    if not aside.started() or _largest(pending) <= BATCH_BYTES:
        return False
    aside.stop(now=True)
    return True


def _read_batches(
    pending: list[tuple[Path, str, str]], read: Callable[[list[tuple[Path, str, str]]], Batch]
) -> Iterator[tuple[list[tuple[Path, str, str]], Batch]]:
    """Each batch of `pending` with what reading it gave, in order. The second process
    reads the second batch while the first is read here, then each next one while the
    one before is stored here, when it has nothing else to do. It is let go while a
    file larger than a batch is read (_make_room), and started again after; it then
    imports GX first, and meanwhile the batches are read here."""
    room = _make_room(pending)
    batches = list(_batches(pending))
    ahead: dict[int, Future] = {}
    if not room and len(batches) > 1 and aside.started():
        # (behind the warm-up there when it is still importing GX)
        ahead[1] = aside.submit(read, batches[1])
    try:
        for k, batch in enumerate(batches):
            there = ahead.pop(k, None)
            ingested = there.result() if there is not None else read(batch)
            if room and _largest([item for later in batches[k + 1:] for item in later]) <= BATCH_BYTES:
                aside.start(warm_up)  # the large files are read: GX is imported while their rows are stored
                room = False
            elif k + 1 < len(batches) and k + 1 not in ahead and aside.started() and aside.idle():
                ahead[k + 1] = aside.submit(read, batches[k + 1])
            yield batch, ingested
    finally:
        for there in ahead.values():  # the run stopped storing (an error): the read there ends first
            there.exception()


def _batches(pending: list[tuple[Path, str, str]]):
    """Files in groups small enough to hold in memory at once, large enough that the
    fixed cost of normalising is paid once per group, not once per file."""
    batch, size = [], 0
    for item in pending:
        batch.append(item)
        size += item[0].stat().st_size
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def ingest_landing(
    con,
    *,
    landing: Path,
    registry_path: Path,
    now: datetime,
    log: Callable[[str], None] = print,
    aliases: Path | None = None,
    mappings: Path | None = None,
    drift: DriftInputs | None = None,
) -> IngestionReport:
    """Ingest what is new or changed in the landing folder. ``aliases``: the header
    alias table applied over the shipped one (ScoreboardSettings.aliases); ``mappings``:
    the folder of per-source mapping files (default: resources.mappings_dir);
    ``drift``: what the drift checks need, its config (config/quality.yaml) the broken
    batches' thresholds too. A wrong mapping file stops the run with one sentence
    naming it, its line and the problem (MappingError)."""
    vendors = load_mappings(mappings if mappings is not None else mappings_dir(landing))
    registry = load_registry(registry_path)
    wh.replace_units(con, registry)
    report = IngestionReport()
    drift = drift or DriftInputs()
    # the periods files hold before this run: those whose holds it changes are scored again
    held_before = wh.file_hold_periods(con)
    report.released = apply_releases(con, log)
    apply_registry(con, registry, now=now, report=report, log=log)
    pending = _pending_files(con, landing, report)
    if pending:
        _warm_up_quality()
    done = 0
    read = functools.partial(ingest_batch, registry=registry, now=now, mappings=vendors, aliases=aliases)
    for batch, ingested in _read_batches(pending, read):
        rows = _file_rows(batch, ingested, landing=landing, now=now, report=report, log=log)
        report.rows_quarantined += ingested.quarantine.height
        findings = store_files(
            con,
            file_rows=rows,
            versions=ingested.accepted.drop("__file", strict=False),
            quarantine=ingested.quarantine.drop("__file", strict=False),
            units=registry,
            now=now,
            inputs=drift,
            log=log,
        )
        _forget_set_aside(landing, batch, ingested)
        report.findings = findings if report.findings is None else pl.concat([report.findings, findings])
        report.held = sorted(set(report.held) | set(findings["source_file"]))
        done += len(batch)
        log(
            f"[{done}/{len(pending)} files] {report.rows_read} rows read, "
            f"{report.rows_quarantined} quarantined, {report.files_rejected} files set aside"
        )
    _refresh_kept_copies(con, report, now, held_before, drift.config)
    _left_to_score(con, report)
    report.dossiers = wh.count_rows(con, "dossiers")
    return report


# ------------------------------------------------------------------ a changed registry

def apply_registry(con, registry: pl.DataFrame, *, now: datetime, report: IngestionReport,
                   log: Callable[[str], None] = print) -> None:
    """When the registry differs from the one the stored rows were resolved against
    (dossier-log.md, "Units": the office added a unit, corrected a validity, removed
    one), resolve them again, stored and held alike, so that no dossier drops out of
    the tables: a stored version moves to the unit of its code valid at its
    received_at; one that no longer matches a unit is quarantined (unknown_unit, its
    file and row, its values as text); a row quarantined for its unit is read again
    and becomes a dossier when it now resolves. The ids whose versions change are
    stale: their kept copies are chosen again (_refresh_kept_copies), which reports
    the periods they touch."""
    digest = registry_digest(registry)
    if wh.resolved_registry(con) == digest:
        return
    if not wh.has_resolved_rows(con):
        wh.record_registry(con, digest, now)
        return
    report.registry_changed = True
    moves: dict[str, dict[str, pl.DataFrame]] = {}
    for versions, quarantine in wh.UNIT_TABLES:
        resolved = resolve_stored(wh.stored_unit_days(con, versions), registry)
        remap = resolved.filter(
            pl.col("new_code").is_not_null()
            & ((pl.col("new_code") != pl.col("unit_code")) | (pl.col("new_valid_from") != pl.col("unit_valid_from")))
        )
        gone = resolved.filter(pl.col("unit_problem").is_not_null())
        lost = wh.versions_of_unit_days(con, versions, gone.select(list(wh.UNIT_DAY))).join(
            gone.select(pl.col("unit_code"), pl.col("unit_valid_from"), pl.col("day"), pl.col("unit_problem")),
            left_on=["unit_code", "unit_valid_from", pl.col("received_at").dt.date()],
            right_on=["unit_code", "unit_valid_from", "day"],
            how="left",
            maintain_order="left",
        )
        accepted, requarantined = retry_quarantined(wh.unit_quarantine(con, quarantine, UNIT_REASONS), registry, now)
        moves[versions] = {
            "remap": remap,
            "gone": gone,
            "out_of_quarantine": pl.concat([accepted.select(list(wh.ROW_KEY_SCHEMA)), requarantined.select(list(wh.ROW_KEY_SCHEMA))]),
            "to_quarantine": pl.concat([requarantined, stored_as_quarantined(lost)]),
            "to_versions": accepted,
        }
        if versions == "dossier_versions":
            report.versions_reresolved = wh.count_of_unit_days(con, versions, remap.select(list(wh.UNIT_DAY)))
            report.versions_unmatched = lost.height
            report.dossiers_unmatched = lost.get_column("dossier_id").n_unique()
            report.rows_requalified = accepted.height
            by_reason = lost.group_by("unit_problem").agg(pl.col("dossier_id").n_unique()).sort("unit_problem")
            for reason, dossiers in by_reason.iter_rows():
                log(f"{dossiers} stored dossiers no longer match a unit of the registry: quarantined as {reason}")
        else:
            if lost.height or accepted.height:
                log(f"held files: {lost.height} rows no longer match a unit of the registry (quarantined), "
                    f"{accepted.height} quarantined rows now match one")
    wh.apply_registry_change(con, digest=digest, at=now, moves=moves)
    log(
        f"the unit registry changed: {report.versions_reresolved} stored rows moved to another unit, "
        f"{report.versions_unmatched} quarantined as no longer matching a unit, "
        f"{report.rows_requalified} quarantined rows are dossiers now"
    )


def _pending_files(con, landing: Path, report: IngestionReport) -> list[tuple[Path, str, str]]:
    """The landing files to read, as (path, source name, content hash): those whose
    content is new under their name, and those set aside before and put back (a
    mapping may read them now; wh.known_files)."""
    # a held file is known by its held content: it is not read again until it changes
    known = {**wh.known_files(con), **wh.held_hashes(con)}
    files = landing_files(landing)
    report.files_seen = len(files)
    pending: list[tuple[Path, str, str]] = []
    for path in files:
        source = path.relative_to(landing).as_posix()
        digest = content_hash(path)
        # Only this path with this content is "already ingested". A byte-identical
        # copy under another name is ingested as its own file: deduplication then
        # keeps the copy whose name sorts last whichever arrived first (skipping it
        # by hash keeps whichever came first: lineage would depend on arrival order;
        # tests/test_order_independence.py).
        if known.get(source) == digest:
            report.files_skipped += 1
            continue
        pending.append((path, source, digest))
    return pending


def _forget_set_aside(landing: Path, batch: list[tuple[Path, str, str]], ingested: Batch) -> None:
    """A file set aside before and usable now (the office added its mapping, or mended
    the file, and put it back): its reason under _rejected/ no longer holds, and the
    copy left there goes too, the same bytes (put back by copying) or the version it
    replaces (mended). The file is stored now and archived from the landing folder; a
    copy left under _rejected/ would never be deleted (the expiry finds set-aside files
    by their record, which now says loaded), a raw export kept past its retention."""
    for (_path, source, _digest), result in zip(batch, ingested.results):
        aside = landing / REJECTED_DIR / source
        if result.status == "rejected" or not aside.parent.is_dir():
            continue
        aside.unlink(missing_ok=True)
        aside.with_name(aside.name + ".reason.txt").unlink(missing_ok=True)


def _file_rows(batch: list[tuple[Path, str, str]], ingested: Batch, *, landing: Path, now: datetime,
               report: IngestionReport, log: Callable[[str], None]) -> list[dict]:
    """The `files` rows of one read batch; its unusable files are set aside, and the
    report counts them all."""
    rows = []
    for (path, source, digest), result in zip(batch, ingested.results):
        rows.append(
            {
                "source_file": source,
                "content_hash": digest,
                "format": result.format,
                "status": result.status,
                "message": result.message,
                "rows_read": result.rows_read,
                "dropped_columns": json.dumps(sorted(result.dropped_columns), ensure_ascii=False),
                "unreadable": json.dumps(result.unreadable, ensure_ascii=False, sort_keys=True),
                "ingested_at": now,
            }
        )
        if result.status == "rejected":
            moved = set_aside(landing, path, result.message or "unusable file")
            report.files_rejected += 1
            report.rejected_messages.append(result.message or source)
            log(f"{source}: set aside in {moved.relative_to(landing).as_posix()} — "
                f"{(result.message or 'unusable file').removeprefix(f'{source}: ').removeprefix(f'{path.name}: ')}")
        else:
            report.files_new += 1
            report.rows_read += result.rows_read
    return rows


def _refresh_kept_copies(con, report: IngestionReport, now: datetime, held_before: set[tuple[str, str]],
                         quality: dict) -> None:
    """Re-select the kept copy of each dossier the new files touch, and note in the
    report what changed and which periods it moves. What the ingestion derives from
    the changes is recorded in the transaction that stores the new copies: the files
    are known by their hash and not read again, so a run killed after that commit
    would lose for good what it had only in memory. That is the periods to score
    (periods_to_score), the broken batches' holds (_record_holds) and which files
    changed published periods (revisions.note_changes: the causes of their revision)."""
    # Only the ids these files carry, or their earlier contents carried, can change
    # their kept copy: re-select, replace and compare those alone.
    first_load = not wh.has_dossiers(con)

    def record(added: pl.DataFrame | None, removed: pl.DataFrame) -> pl.DataFrame:
        _record_holds(con, report, held_before, quality, now)
        if added is None:
            # a first load: every dossier is new; they are validated from the warehouse a
            # bucket at a time (validate_stored_dossiers), not held here all at once. Its
            # periods were never scored, so a run killed before scoring them scores them
            # anyway (cli.stale_periods): they are read once it has committed. It
            # changes no published period.
            report.changed_all = True
            return pl.DataFrame(schema=wh.PERIOD_KEY_SCHEMA)
        report.changed = added
        moved = _periods_moved(con, report, added, removed, now)
        note_changes(con, report)
        return moved

    refreshed = wh.refresh_dossiers(con, read_first_load=not first_load, moved=record)
    if refreshed is None:  # no kept copy changed: the holds may (thresholds, a file of quarantined rows)
        wh.all_in_one(con, lambda: _record_holds(con, report, held_before, quality, now))
    elif report.changed_all:
        _periods_moved(con, report, wh.dossier_fields(con, PERIOD_FIELDS), refreshed[1], now)


def _record_holds(con, report: IngestionReport, held_before: set[tuple[str, str]], quality: dict,
                  now: datetime) -> None:
    """Replace the broken batches' holds, recomputed whole from the stored files
    (`quality`: config/quality.yaml's thresholds), and keep to score the periods whose
    holds changed since `held_before` (a drifting file's too): a release publishes
    them, a new hold is explained on the site (its numbers stay the last good ones)."""
    report.by_file = wh.file_accounting(con)
    report.holds = batch_holds_in(con, report.by_file, quality)
    wh.replace_batch_holds(con, report.holds)
    changed = _scorable(held_before ^ wh.file_hold_periods(con), now)
    report.touch(changed)
    wh.add_periods_to_score(con, pl.DataFrame(sorted(changed), schema=wh.PERIOD_KEY_SCHEMA, orient="row"))


def batch_holds_in(con, accounting: pl.DataFrame, quality: dict) -> pl.DataFrame:
    """The periods that broken batches hold, from the warehouse's quarantine and versions."""
    suspects = accounting.filter(pl.col("rows_quarantined") > 0)["source_file"].to_list()
    if not suspects:
        return pl.DataFrame(schema=HOLD_SCHEMA)
    quarantine, versions = wh.receipts_of_files(con, suspects)
    return batch_holds(accounting, quarantine, versions, quality)


def _scorable(periods: set[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
    """The (period_type, period_key) of `periods` that can be scored (periods.partition_span):
    not before the history's start nor after the period in progress, which no partition
    stands for."""
    spans = {t: partition_span(t, now.date()) for t in PERIOD_TYPES}
    return {(t, k) for t, k in periods if spans[t][0] <= parse_key(k)[1] <= spans[t][1]}


def _periods_moved(con, report: IngestionReport, added: pl.DataFrame, removed: pl.DataFrame,
                   now: datetime) -> pl.DataFrame:
    """The periods the changed kept copies (both sides) move that can be scored
    (_scorable), counted in the report."""
    _, latest = wh.data_extent(con)
    if latest is None or not added.height + removed.height:
        return pl.DataFrame(schema=wh.PERIOD_KEY_SCHEMA)
    last = {t: index_of(t, latest.date()) for t in PERIOD_TYPES}
    last["week"] = covered_range("week", latest.date(), latest.date())[1]
    # both copies touch periods: the old one's numbers move too
    affected = affected_periods(pl.concat([f.select(PERIOD_FIELDS) for f in (added, removed)]), last)
    periods = _scorable({(t, key_of(t, i)) for t, indexes in affected.items() for i in indexes}, now)
    report.touch(periods)
    report.removed, report.last_index = removed, last
    return pl.DataFrame(sorted(periods), schema=wh.PERIOD_KEY_SCHEMA, orient="row")


def _left_to_score(con, report: IngestionReport) -> None:
    """Add to the report's affected periods those an earlier run changed and did not
    score (killed between the two): the sensors and the CLI score them now."""
    report.touch(set(wh.periods_to_score(con).iter_rows()))


def validate_stored_dossiers(con, bucket_rows: int = DOSSIER_BUCKET_ROWS) -> QualityResult:
    """The dossier suite over the whole `dossiers` table, a bucket of ids at a time (one
    id always falls in one bucket, so uniqueness is checked across the table)."""
    return check_stored_dossiers(con, bucket_rows)()


def check_stored_dossiers(con, bucket_rows: int = DOSSIER_BUCKET_ROWS) -> Callable[[], QualityResult]:
    """validate_stored_dossiers in two steps: this returns once the last bucket is read
    and handed to the second process; the function it returns waits for the result.
    Meanwhile this process may go on with anything that leaves `dossiers` as it is."""
    total = wh.count_rows(con, "dossiers")
    buckets = max(1, -(-total // bucket_rows))
    _, as_of = wh.data_extent(con)
    # each bucket read while the one before is checked in the second process
    return submit_dossier_parts((wh.dossier_bucket(con, buckets, i) for i in range(buckets)), as_of=as_of)
