"""Files in, accepted dossiers and quarantined rows out (dossier-log.md).

``ingest_batch`` = read each file (allow-list of canonical columns) -> clean,
normalise, resolve units and classify the rows of all the files together: accepted,
or quarantined with the first reason that applies, in the spec's order. A file that
cannot be used at all is 'rejected' with a clear message (file, reason, missing
fields; never a value). ``ingest_file(s)`` give each file's rows in its own result.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

import polars as pl

from transforms.classify import due_end_expr
from transforms.normalise import (
    BAD_DATE, DATE_LAYOUTS, MAX_TEXT_CHARS, PERSONAL_IN_TEXT, UNREADABLE, normalise, procedure_key_expr,
)
from transforms.readers import (
    Body,
    MappingError,
    SourceMapping,
    UnusableFile,
    assemble_bodies,
    batch_facts,
    format_of,
    mapping_for,
    read_body,
)
from transforms.schema import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    DOSSIER_SCHEMA,
    EVENT_FIELDS,
    FREE_TEXT_FIELDS,
    LOCAL_TZ,
    MISALIGNED,
    TIMESTAMP,
    UNIT_HINT,
    empty_frame,
)
from transforms.units import AMBIGUOUS_UNIT, NO_UNIT, UNKNOWN_UNIT, resolve_units

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "source_row": pl.Int64(),
    "reason": pl.Utf8(),
    **{name: pl.Utf8() for name in CANONICAL_FIELDS},
}

END_FIELDS = ("finished_at", "returned_at", "rejected_at")


@dataclass
class FileResult:
    source_file: str
    content_hash: str
    format: str | None
    status: str  # 'loaded' | 'rejected'
    message: str | None
    rows_read: int
    dropped_columns: list[str]
    unreadable: dict[str, int]
    accepted: pl.DataFrame
    quarantine: pl.DataFrame
    missing_fields: list[str] = field(default_factory=list)

    @property
    def rows_accepted(self) -> int:
        return self.accepted.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.height


def content_hash(path: Path | str) -> str:
    """sha256 hex digest of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _local_naive(now: datetime) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None)
    return now


def reason_expr(now: datetime, raw_received_present: pl.Expr, misaligned: pl.Expr) -> pl.Expr:
    """The first quarantine reason that applies, or null (spec order; first of all a
    CSV line longer than its header, whose cells are not their columns')."""
    now_lit = pl.lit(_local_naive(now)).cast(TIMESTAMP)
    received = pl.col("received_at")
    future = pl.any_horizontal([(pl.col(c) > now_lit).fill_null(False) for c in EVENT_FIELDS])
    chronology = pl.any_horizontal(
        [(pl.col(c) < received).fill_null(False) for c in END_FIELDS]
        + [(due_end_expr(pl.col("due_at")) < received).fill_null(False)]
    )
    finished_no_end = (
        pl.col("status").is_in([9, 10]).fill_null(False)
        & pl.col("finished_at").is_null()
        & pl.col("returned_at").is_null()
    )
    missing_field = (
        (pl.col("procedure_code").is_null() & pl.col("procedure_name").is_null())
        | ~raw_received_present
        | (pl.col("unit_problem") == NO_UNIT).fill_null(False)
    )
    return (
        pl.when(misaligned)
        .then(pl.lit("misaligned_row"))
        .when(pl.col("dossier_id").is_null())
        .then(pl.lit("missing_id"))
        .when(missing_field)
        .then(pl.lit("missing_field"))
        .when(pl.col(BAD_DATE))
        .then(pl.lit("bad_date"))
        .when(pl.col("unit_problem").is_not_null())
        .then(pl.col("unit_problem"))
        .when(future)
        .then(pl.lit("future_date"))
        .when(chronology)
        .then(pl.lit("chronology"))
        .when(finished_no_end)
        .then(pl.lit("finished_no_end"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Utf8:
        return col
    if dtype == pl.Boolean:
        return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false"))
    if isinstance(dtype, pl.Datetime):
        return col.dt.to_string("%Y-%m-%d %H:%M:%S%.f")
    return col.cast(pl.Utf8)


def _empty_result(
    source_name: str, digest: str, fmt: str | None, message: str, missing: list[str]
) -> FileResult:
    return FileResult(
        source_file=source_name,
        content_hash=digest,
        format=fmt,
        status="rejected",
        message=message,
        rows_read=0,
        dropped_columns=[],
        unreadable={},
        accepted=empty_frame(DOSSIER_SCHEMA),
        quarantine=empty_frame(QUARANTINE_SCHEMA),
        missing_fields=missing,
    )


def ingest_file(
    path: Path,
    registry: pl.DataFrame,
    *,
    now: datetime,
    source_name: str,
    mapping: SourceMapping | Mapping[str, str | None] | Path | str | None = None,
) -> FileResult:
    """Read, normalise, resolve and classify one file. Never raises for a bad file:
    it comes back with ``status='rejected'`` and a message."""
    return ingest_files([(Path(path), source_name)], registry, now=now, mapping=mapping)[0]


def _read(
    path: Path, source_name: str, mapping, digest: str | None = None, aliases: Path | None = None
) -> tuple[str, Body | FileResult]:
    """(content hash, the file's body) or a rejected FileResult."""
    try:
        digest = digest or content_hash(path)
    except OSError:
        return "", _empty_result(source_name, "", format_of(path), f"{source_name}: the file cannot be read", [])
    try:
        return digest, read_body(path, mapping, aliases)
    except UnusableFile as exc:
        return digest, _empty_result(
            source_name, digest, format_of(path), exc.describe(source_name), exc.missing_fields
        )
    except MappingError as exc:  # the mapping's fault, said in its own sentence
        return digest, _empty_result(source_name, digest, format_of(path), f"{source_name}: {exc}", [])
    except Exception as exc:  # never show a library message: it may quote values
        return digest, _unreadable(source_name, digest, path, exc)


def _unreadable(source_name: str, digest: str, path: Path, exc: Exception) -> FileResult:
    return _empty_result(
        source_name, digest, format_of(path), f"{source_name}: the file cannot be read ({type(exc).__name__})", []
    )


def _blank_to_false(columns: dict[str, list[int]]) -> list[pl.Expr]:
    """In a column of only `x` marks an empty cell means no: say so before files are
    normalised together (the rule is per file; ``columns``: column -> its files)."""
    return [
        pl.when(pl.col("__file").is_in(files) & (pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")))
        .then(pl.lit("0"))
        .otherwise(pl.col(c))
        .alias(c)
        for c, files in columns.items()
    ]


def _mapping_of(source_name: str, mapping, mappings: list[SourceMapping] | None):
    """The mapping one file is read with: the one given for all, else the one of
    ``mappings`` that claims it (MappingError when two do)."""
    if mapping is not None or not mappings:
        return mapping
    return mapping_for(source_name, mappings)


def _unit_hints(bodies: list[tuple[int, str, Body]]) -> pl.DataFrame:
    """The files' unit evidence, one line per row (never stored)."""
    rows = [
        {"__file": i, "hint": hint, "explicit": body.declared}
        for i, _, body in bodies
        for hint in body.hints
    ]
    return pl.DataFrame(rows, schema={"__file": pl.Int32, "hint": pl.Utf8, "explicit": pl.Boolean})


def _assembled(bodies: list[tuple[int, str, Body]], results: list, items) -> tuple[pl.DataFrame, dict]:
    """The bodies parsed, cleaned and assembled together, and per file (rows read, x
    marks). A file whose body cannot be parsed is set aside (in ``results``), as when
    it cannot be read; should one file's rows break the batch, each is assembled
    alone and the ones that fail are set aside too."""

    def set_aside(i: int, digest: str, body: Body, exc: Exception) -> None:
        source = items[i][1]
        if isinstance(exc, UnusableFile):
            results[i] = _empty_result(source, digest, body.fmt, exc.describe(source), exc.missing_fields)
        else:  # never show a library message: it may quote values
            results[i] = _unreadable(source, digest, body.path, exc)

    try:
        done = assemble_bodies([(i, body) for i, _, body in bodies])
        for i, digest, body in bodies:
            if i in done.failed:
                set_aside(i, digest, body, done.failed[i])
        return done.frame, batch_facts(done.frame)
    except Exception:
        pass
    frames, facts = [], {}
    for i, digest, body in bodies:
        if results[i] is not None:
            continue
        try:
            done = assemble_bodies([(i, body)])
            if done.failed:
                raise done.failed[i]
        except Exception as exc:
            set_aside(i, digest, body, exc)
            continue
        frames.append(done.frame)
        facts.update(batch_facts(done.frame))
    return (pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()), facts


@dataclass
class Batch:
    """Several files ingested together: one FileResult per file (its accepted and
    quarantine frames left empty: the rows are in the batch's frames, in file then
    row order, with their ``source_file``)."""

    results: list[FileResult]
    accepted: pl.DataFrame
    quarantine: pl.DataFrame


def ingest_batch(
    items: list[tuple[Path, str]] | list[tuple[Path, str, str]],
    registry: pl.DataFrame,
    *,
    now: datetime,
    mapping: SourceMapping | Mapping[str, str | None] | Path | str | None = None,
    mappings: list[SourceMapping] | None = None,
    aliases: Path | None = None,
) -> Batch:
    """Several files at once: each is read on its own (its header, its per-source
    mapping), then all rows are cleaned, normalised, resolved and classified
    together, which costs about the same for one file as for hundreds. An item may
    carry the file's content hash, when the caller has it already. ``mapping``
    applies to every file; else each file gets the one of ``mappings`` whose patterns
    claim it, if any. ``aliases``: the header alias table (default the shipped one)."""
    results, bodies = _read_all(items, mapping, mappings, aliases)
    accepted, quarantine = empty_frame(DOSSIER_SCHEMA), empty_frame(QUARANTINE_SCHEMA)
    if bodies:
        batch, facts = _assembled(bodies, results, items)
        bodies = [b for b in bodies if results[b[0]] is None]
        marks: dict[str, list[int]] = {}
        for i, (_, columns) in facts.items():
            for c in columns:
                marks.setdefault(c, []).append(i)
        if marks:
            batch = batch.with_columns(_blank_to_false(marks))
        if bodies:
            names = {i: items[i][1] for i, _, _ in bodies}
            classified = classify_rows(batch, registry, now, names=names, hints=_unit_hints(bodies))
            del batch  # (a first load's text is not held beside its dossiers)
            set_aside = _file_results(bodies, classified, facts, items, results)
            accepted, quarantine = classified.accepted, classified.quarantine
            if set_aside:
                accepted = accepted.filter(~pl.col("__file").is_in(set_aside))
                quarantine = quarantine.filter(~pl.col("__file").is_in(set_aside))
    return Batch(results, accepted, quarantine)  # type: ignore[arg-type]


def _read_all(items, mapping, mappings, aliases) -> tuple[list[FileResult | None], list[tuple[int, str, Body]]]:
    """Each item read as far as its body: (a rejected FileResult per file that cannot be
    used, else None; (item, content hash, body) of the others)."""
    results: list[FileResult | None] = [None] * len(items)
    bodies: list[tuple[int, str, Body]] = []
    for i, (path, source_name, *known) in enumerate(items):
        try:
            own = _mapping_of(source_name, mapping, mappings)
        except MappingError as exc:
            digest = known[0] if known else content_hash(path)
            results[i] = _empty_result(source_name, digest, format_of(Path(path)), str(exc).rstrip("."), [])
            continue
        digest, body = _read(Path(path), source_name, own, known[0] if known else None, aliases)
        if isinstance(body, FileResult):
            results[i] = body
        else:
            bodies.append((i, digest, body))
    return results, bodies


def _file_results(bodies, classified: "Classified", facts: dict, items, results: list) -> list[int]:
    """Each read file's FileResult (its rows are the batch's); the files set aside
    because nothing names their unit."""
    set_aside = []
    # every file's result shares the same empty frames
    no_rows, none_quarantined = empty_frame(DOSSIER_SCHEMA), empty_frame(QUARANTINE_SCHEMA)
    for i, digest, body in bodies:
        source = items[i][1]
        if body.unit_missing is not None and not classified.unit_named.get(i, False):
            # no unit column, and neither the ids nor the banner name a unit
            exc = body.unit_missing
            results[i] = _empty_result(source, digest, body.fmt, exc.describe(source), exc.missing_fields)
            set_aside.append(i)
            continue
        results[i] = FileResult(
            source_file=source,
            content_hash=digest,
            format=body.fmt,
            status="loaded",
            message=None,
            rows_read=facts.get(i, (0, []))[0],
            dropped_columns=list(body.plan.dropped),
            unreadable=classified.unreadable.get(i, {}),
            accepted=no_rows,
            quarantine=none_quarantined,
        )
    return set_aside


def ingest_files(
    items: list[tuple[Path, str]] | list[tuple[Path, str, str]], registry: pl.DataFrame, **options
) -> list[FileResult]:
    """ingest_batch (same options), with each file's accepted dossiers and quarantined
    rows in its own FileResult. One FileResult per item, in order."""
    batch = ingest_batch(items, registry, **options)
    accepted_by = batch.accepted.partition_by("__file", as_dict=True) if "__file" in batch.accepted.columns else {}
    quarantine_by = batch.quarantine.partition_by("__file", as_dict=True) if "__file" in batch.quarantine.columns else {}
    for i, result in enumerate(batch.results):
        if result.status != "loaded":
            continue
        a, q = accepted_by.get((i,)), quarantine_by.get((i,))
        if a is not None:
            result.accepted = a.drop("__file")
        if q is not None:
            result.quarantine = q.drop("__file")
    return batch.results


def _procedure_keys(frame: pl.DataFrame) -> pl.Expr:
    """The normalised name of each procedure known only by its name (keyed once per
    name: a batch repeats a few hundred names)."""
    names = frame.filter(pl.col("procedure_code").is_null()).get_column("procedure_name").drop_nulls().unique()
    keys = pl.DataFrame({"name": names}).select(procedure_key_expr(pl.col("name"))).to_series()
    return pl.col("procedure_name").replace_strict(names, keys, default=None, return_dtype=pl.Utf8)


# ------------------------------------------------------------ quarantined values
#
# Personal data never enters the quarantine (dossier-log.md), and a quarantined
# row's cells cannot be trusted to be what their header says. Exports are often
# written unquoted: a comma in the applicant's name or address ("Số 12 ngõ 34,
# Hoàn Kiếm") makes the line one cell longer, the cells after it move one column
# right, and a date column holds the end of the address or the CCCD; or a clerk
# typed a phone into a date. A CSV line with a cell past its header that is not
# blank is misaligned_row, whatever its cells read as; a shifted line that shows
# no such cell (its last cell was empty; a misaligned Excel or HTML layout) is
# quarantined when a moved cell does not read (bad_date, unknown_unit …). What the
# quarantine keeps of such rows is decided by shape: a text is kept only when it
# looks like a value of its field, else it is withheld (WITHHELD: how long it was,
# not what it said). The file, the row number and the reason say where to mend
# it. Shapes:
# - dates: a value that read, or text in a layout the reader knows (31/02/2024,
#   20240230: a date that does not exist, worth showing). A phone or a CCCD
#   (0912345678, 001203004567) has no date layout;
# - the other read fields (status, channel, rating, booleans, counts): a value
#   that read, or a short number (status 11);
# - codes (dossier_id, unit_code, procedure_code): one token with a digit, not
#   wholly a phone or an identity number (a unit code has 3 or 5 digits);
# - free text (unit_name, procedure_name, field_name): no run of 9 digits, no
#   phone, no e-mail address, and only when no other field of the row was withheld
#   (a shifted or mistyped row shows it somewhere; its free text may then be the
#   applicant's name or address) and the row is not misaligned_row (a CSV line
#   longer than its header: a cell past the header proves the shift, even when every
#   moved cell still reads as a value of its new column).
# A birth date in a date column, or an address fragment that reads as a unit name
# in an otherwise well-formed row, cannot be told apart by shape: they are kept.

WITHHELD = "<đã ẩn: {} ký tự>"  # "withheld: N characters"
CODE_FIELDS = ("dossier_id", "unit_code", "procedure_code")


def _unnamed(pattern: re.Pattern[str]) -> str:
    """A reader's date layout without its group names (to join several in one)."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern.pattern)


# the layouts the reader knows, their numbers unchecked; yyyyMMdd[HHmmss] only with
# a plausible year, month and day (any 8-digit number is not a date)
_DATE_SHAPE = "|".join(
    [*(_unnamed(p) for p in DATE_LAYOUTS),
     r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:\d{6})?$"]
)
_NUMBER_SHAPE = r"^[+-]?\d{1,4}(?:[.,]\d{1,4})?$"
_CODE_SHAPE = r"^[^\s@]*\d[^\s@]*$"
# wholly a phone (0 or +84, 10-11 digits), a CCCD (12 digits) or a CMND (9 digits)
_IDENTITY_NUMBER = r"^(?:(?:\+?84|0)\d{8,11}|\d{9}|\d{12})$"


def quarantine_values() -> list[pl.Expr]:
    """Each canonical field of a quarantined row as text, or WITHHELD (see above)."""
    texts: dict[str, pl.Expr] = {}
    kept: dict[str, pl.Expr] = {}
    for name, dtype in CANONICAL_FIELDS.items():
        raw = pl.col(f"__raw_{name}")
        if name in CODE_FIELDS:
            text = pl.col("unit_code_given") if name == "unit_code" else pl.col(name)
            ok = text.str.contains(_CODE_SHAPE) & ~text.str.contains(_IDENTITY_NUMBER)
        elif name in FREE_TEXT_FIELDS:  # (normalising nulled a personal one: its text is shown withheld)
            text = pl.coalesce(pl.col(name), raw)
            ok = ~text.str.contains(PERSONAL_IN_TEXT)
        else:  # a value that read is kept; a text that did not, by its shape
            text = pl.coalesce([_as_text(name, dtype), raw]).cast(pl.Utf8)
            ok = pl.col(name).is_not_null() | raw.str.contains(_DATE_SHAPE if name in DATE_FIELDS else _NUMBER_SHAPE)
        texts[name], kept[name] = text, text.is_null() | ok
    row_kept = pl.all_horizontal([k for name, k in kept.items() if name not in FREE_TEXT_FIELDS]) & ~pl.col(MISALIGNED)
    return [
        pl.when(kept[name] & row_kept if name in FREE_TEXT_FIELDS else kept[name])
        .then(text)
        .otherwise(pl.format(WITHHELD, text.str.len_chars()))
        .alias(name)
        for name, text in texts.items()
    ]


@dataclass
class Classified:
    accepted: pl.DataFrame  # DOSSIER_SCHEMA and __file, in file then row order (the batch's)
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA and __file, likewise
    unreadable: dict[int, dict[str, int]]  # per file: field -> values that could not be read
    unit_named: dict[int, bool]  # per file: whether anything names a unit for some row


def classify_rows(
    batch: pl.DataFrame, registry: pl.DataFrame, now: datetime, names: dict[int, str], hints: pl.DataFrame | None = None
) -> Classified:
    """Raw rows of several files (``__file`` says which) → accepted dossiers,
    quarantined rows, and per file the counts of unreadable values and whether
    anything names a unit for some row (its columns, ids, group rows or file
    evidence)."""
    for name in CANONICAL_FIELDS:
        if name not in batch.columns:
            batch = batch.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
    typed, _ = normalise(batch, x_marks=[], flags=True, cleaned=True)  # the readers cleaned it
    # (row for row the batch's: normalising and resolving keep the rows and their order)
    extra = [batch.get_column("__file"), batch.get_column("received_at").is_not_null().alias("__raw_received")]
    if MISALIGNED in batch.columns:  # (a CSV file with a line longer than its header)
        extra.append(batch.get_column(MISALIGNED).fill_null(False))
    else:
        extra.append(pl.repeat(False, batch.height, dtype=pl.Boolean, eager=True).alias(MISALIGNED))
    if UNIT_HINT in batch.columns:
        extra.append(batch.get_column(UNIT_HINT))
    resolved = resolve_units(typed.hstack(extra), registry, hints)
    unit_named = dict(
        resolved.group_by("__file").agg((pl.col("unit_problem") != NO_UNIT).fill_null(True).any()).iter_rows()
    )
    classified = resolved.with_columns(
        reason_expr(now, pl.col("__raw_received"), pl.col(MISALIGNED)).alias("reason")
    )
    source_file = pl.col("__file").replace_strict(names, return_dtype=pl.Utf8)
    # A procedure known only by its name is keyed by the normalised name
    # (dossier-log.md, Real exports): bottlenecks, the catalogue's due dates and the
    # dossier suite then see one key per procedure.
    procedure = pl.coalesce(pl.col("procedure_code"), _procedure_keys(classified))
    accepted = classified.filter(pl.col("reason").is_null()).select(
        pl.col("__file"),
        *[
            (source_file if name == "source_file" else procedure if name == "procedure_code" else pl.col(name))
            .cast(dtype)
            .alias(name)
            for name, dtype in DOSSIER_SCHEMA.items()
        ],
    )
    # Quarantine: the normalised canonical value as text; when a value could not be
    # read, the file's (trimmed) text of that canonical field, unless it is too long
    # to be a value. Never other columns, and never a text that may be personal
    # (quarantine_values).
    held = classified.get_column("reason").is_not_null()
    raw_text = batch.filter(held).select(
        pl.when(pl.col(name).str.len_chars() <= MAX_TEXT_CHARS).then(pl.col(name)).alias(f"__raw_{name}")
        for name in CANONICAL_FIELDS
    )
    # (rechunked: without it Polars 2.1 panics below for some batches, 'assertion failed:
    # i < self.len()'; tests/test_ingest.py has one)
    both = classified.filter(held).hstack(raw_text.get_columns()).rechunk()
    quarantine = both.select(
        pl.col("__file"), source_file.alias("source_file"), pl.col("source_row").cast(pl.Int64), pl.col("reason"),
        *quarantine_values(),
    )
    flags = [c for c in typed.columns if c.startswith(UNREADABLE)]
    unreadable = (
        resolved.group_by("__file").agg([pl.col(c).sum().alias(c[len(UNREADABLE):]) for c in flags])
        if flags
        else pl.DataFrame({"__file": []}, schema={"__file": pl.Int32})
    )
    counts = {
        row["__file"]: {k: int(v) for k, v in row.items() if k != "__file" and v}
        for row in unreadable.iter_rows(named=True)
    }
    return Classified(
        accepted=accepted,
        quarantine=quarantine,
        unreadable=counts,
        unit_named={i: bool(v) for i, v in unit_named.items()},
    )


# ------------------------------------------------ a changed registry (pipelines.ingestion.apply_registry)

# the quarantine reasons a changed registry can lift
UNIT_REASONS = (UNKNOWN_UNIT, AMBIGUOUS_UNIT)
# what a retried row may be quarantined for once its unit is known (the reasons after
# the unit's in reason_expr); another (a missing unit: the file's banner or mapping is
# not stored, so a row that had only those cannot be retried) leaves the row as it was
RETRY_REASONS = (*UNIT_REASONS, "future_date", "chronology", "finished_no_end")
_WITHHELD = "^" + WITHHELD.replace("{}", r"\d+") + "$"
# a withheld value of these cannot be read back: the row stays quarantined as it is
_NEEDED = (*CODE_FIELDS, *FREE_TEXT_FIELDS, *DATE_FIELDS)


def stored_as_quarantined(rows: pl.DataFrame) -> pl.DataFrame:
    """Stored versions (DOSSIER_SCHEMA and ``unit_problem``) as quarantined rows: the
    reason, the file and row, each value as text as ingest writes it (stored values
    were read, so they are kept but by the quarantine's shapes). The file's unit code
    and name are not stored: the resolved code stands for them, the name is unknown; a
    procedure known by its name alone has its code empty again, as in its file."""
    procedure = pl.col("procedure_code")
    named_only = pl.col("procedure_name").is_not_null() & (procedure == procedure_key_expr(pl.col("procedure_name")))
    frame = rows.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("unit_name"),
        pl.col("unit_code").alias("unit_code_given"),
        pl.when(named_only.fill_null(False)).then(None).otherwise(procedure).alias("procedure_code"),
        *[pl.lit(None, dtype=pl.Utf8).alias(f"__raw_{name}") for name in CANONICAL_FIELDS],
        pl.lit(False).alias(MISALIGNED),  # a stored row was read aligned
    )
    return frame.select(
        "source_file", pl.col("source_row").cast(pl.Int64), pl.col("unit_problem").alias("reason"),
        *quarantine_values(),
    ).select(list(QUARANTINE_SCHEMA))


def retry_quarantined(rows: pl.DataFrame, registry: pl.DataFrame, now: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Quarantined rows (QUARANTINE_SCHEMA, quarantined for their unit) read again
    against ``registry`` as ingest reads a file's rows: (the rows that are dossiers
    now, as versions; the rows whose reason changed, as quarantined rows). A row with
    a withheld code, name or date cannot be read back and is left as it is; so is one
    that names no unit but by its file (a banner or mapping, which is not stored)."""
    none = pl.DataFrame(schema=DOSSIER_SCHEMA), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    readable = rows.filter(~pl.any_horizontal([pl.col(c).str.contains(_WITHHELD).fill_null(False) for c in _NEEDED]))
    if readable.is_empty():
        return none
    files = readable.get_column("source_file").unique(maintain_order=True).to_list()
    names = dict(enumerate(files))
    batch = readable.select(
        pl.col("source_file").replace_strict(files, list(range(len(files))), return_dtype=pl.Int32).alias("__file"),
        pl.col("source_row"),
        *[pl.col(name) for name in CANONICAL_FIELDS],
    )
    classified = classify_rows(batch, registry, now, names=names)
    accepted = classified.accepted.drop("__file").select(list(DOSSIER_SCHEMA))
    again = classified.quarantine.drop("__file").join(
        readable.select("source_file", "source_row", pl.col("reason").alias("__was")),
        on=["source_file", "source_row"], how="left",
    )
    changed = again.filter(pl.col("reason").is_in(RETRY_REASONS) & (pl.col("reason") != pl.col("__was")))
    return accepted, changed.select(list(QUARANTINE_SCHEMA))
