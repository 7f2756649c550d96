"""One file in, accepted dossiers and quarantined rows out (dossier-log.md).

``ingest_file`` = read (allow-list of canonical columns) -> normalise -> resolve
units -> classify each row: accepted, or quarantined with the first reason that
applies, in the spec's order. A file that cannot be used at all is 'rejected' with
a clear message (file, reason, missing fields; never a value).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

import polars as pl

from transforms.classify import due_end_expr
from transforms.normalise import BAD_DATE, MAX_TEXT_CHARS, UNREADABLE, normalise, procedure_key_expr
from transforms.readers import (
    MappingError,
    RawTable,
    SourceMapping,
    UnusableFile,
    format_of,
    mapping_for,
    read_table,
)
from transforms.schema import (
    CANONICAL_FIELDS,
    DOSSIER_SCHEMA,
    EVENT_FIELDS,
    LOCAL_TZ,
    TIMESTAMP,
    UNIT_HINT,
    empty_frame,
)
from transforms.units import NO_UNIT, resolve_units

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


def reason_expr(now: datetime, raw_received_present: pl.Expr) -> pl.Expr:
    """The first quarantine reason that applies, or null (spec order)."""
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
        pl.when(pl.col("dossier_id").is_null())
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
) -> tuple[str, RawTable | FileResult]:
    """(content hash, the file's raw table) or a rejected FileResult."""
    try:
        digest = digest or content_hash(path)
    except OSError:
        return "", _empty_result(source_name, "", format_of(path), f"{source_name}: the file cannot be read", [])
    try:
        return digest, read_table(path, mapping, aliases)
    except UnusableFile as exc:
        return digest, _empty_result(
            source_name, digest, format_of(path), exc.describe(source_name), exc.missing_fields
        )
    except MappingError as exc:  # the mapping's fault, said in its own sentence
        return digest, _empty_result(source_name, digest, format_of(path), f"{source_name}: {exc}", [])
    except Exception as exc:  # never show a library message: it may quote values
        return digest, _empty_result(
            source_name,
            digest,
            format_of(path),
            f"{source_name}: the file cannot be read ({type(exc).__name__})",
            [],
        )


def _blank_to_false(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """In a column of only `x` marks an empty cell means no: say so before files are
    normalised together (the rule is per file)."""
    return frame.with_columns(
        [
            pl.when(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == ""))
            .then(pl.lit("0"))
            .otherwise(pl.col(c))
            .alias(c)
            for c in columns
            if c in frame.columns
        ]
    )


def _mapping_of(source_name: str, mapping, mappings: list[SourceMapping] | None):
    """The mapping one file is read with: the one given for all, else the one of
    ``mappings`` that claims it (MappingError when two do)."""
    if mapping is not None or not mappings:
        return mapping
    return mapping_for(source_name, mappings)


def _unit_hints(raws: list[tuple[int, str, RawTable]]) -> pl.DataFrame:
    """The files' unit evidence, one line per row (never stored)."""
    rows = [
        {"__file": i, "hint": hint, "explicit": raw.unit_declared}
        for i, _, raw in raws
        for hint in raw.unit_hints
    ]
    return pl.DataFrame(rows, schema={"__file": pl.Int32, "hint": pl.Utf8, "explicit": pl.Boolean})


def ingest_files(
    items: list[tuple[Path, str]] | list[tuple[Path, str, str]],
    registry: pl.DataFrame,
    *,
    now: datetime,
    mapping: SourceMapping | Mapping[str, str | None] | Path | str | None = None,
    mappings: list[SourceMapping] | None = None,
    aliases: Path | None = None,
) -> list[FileResult]:
    """Several files at once: each is read on its own (its header, its x-mark columns,
    its per-source mapping), then all rows are normalised, resolved and classified
    together, which costs about the same for one file as for hundreds. One
    FileResult per item, in order. An item may carry the file's content hash, when
    the caller has it already. ``mapping`` applies to every file; else each file
    gets the one of ``mappings`` whose patterns claim it, if any. ``aliases``: the
    header alias table (default the shipped one)."""
    results: list[FileResult | None] = [None] * len(items)
    raws: list[tuple[int, str, RawTable]] = []
    for i, (path, source_name, *known) in enumerate(items):
        try:
            own = _mapping_of(source_name, mapping, mappings)
        except MappingError as exc:
            results[i] = _empty_result(source_name, known[0] if known else content_hash(path), format_of(Path(path)), str(exc).rstrip("."), [])
            continue
        digest, raw = _read(Path(path), source_name, own, known[0] if known else None, aliases)
        if isinstance(raw, FileResult):
            results[i] = raw
        else:
            raws.append((i, digest, raw))
    if raws:
        frames = [
            _blank_to_false(raw.frame, raw.x_mark_columns).with_columns(__file=pl.lit(i, dtype=pl.Int32))
            for i, _, raw in raws
        ]
        batch = pl.concat(frames, how="diagonal_relaxed")
        per_file = _classify_rows(batch, registry, now, names={i: items[i][1] for i, _, _ in raws}, hints=_unit_hints(raws))
        for i, digest, raw in raws:
            accepted, quarantine, unreadable, unit_named = per_file[i]
            if raw.unit_missing is not None and not unit_named:
                # no unit column, and neither the ids nor the banner name a unit
                exc = raw.unit_missing
                results[i] = _empty_result(items[i][1], digest, raw.format, exc.describe(items[i][1]), exc.missing_fields)
                continue
            results[i] = FileResult(
                source_file=items[i][1],
                content_hash=digest,
                format=raw.format,
                status="loaded",
                message=None,
                rows_read=raw.rows_read,
                dropped_columns=list(raw.dropped_columns),
                unreadable=unreadable,
                accepted=accepted,
                quarantine=quarantine,
            )
    return results  # type: ignore[return-value]


def _classify_rows(
    batch: pl.DataFrame, registry: pl.DataFrame, now: datetime, names: dict[int, str], hints: pl.DataFrame | None = None
) -> dict[int, tuple[pl.DataFrame, pl.DataFrame, dict[str, int], bool]]:
    """Raw rows of several files (``__file`` says which) → per file: accepted
    dossiers, quarantined rows, counts of unreadable values, and whether anything
    names a unit for some row (its columns, ids, group rows or file evidence)."""
    for name in CANONICAL_FIELDS:
        if name not in batch.columns:
            batch = batch.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
    typed, _ = normalise(batch, x_marks=[], flags=True, cleaned=True)  # read_table cleaned it
    typed = typed.with_columns(batch.get_column("__file"))
    if UNIT_HINT in batch.columns:
        typed = typed.with_columns(batch.get_column(UNIT_HINT))
    resolved = resolve_units(typed, registry, hints)
    unit_named = dict(
        resolved.group_by("__file").agg((pl.col("unit_problem") != NO_UNIT).fill_null(True).any()).iter_rows()
    )
    raw_received = batch.select(pl.col("__file"), pl.col("source_row"), __raw_received=pl.col("received_at").is_not_null())
    classified = resolved.join(raw_received, on=["__file", "source_row"], how="left").with_columns(
        reason_expr(now, pl.col("__raw_received")).alias("reason")
    )
    source_file = pl.col("__file").replace_strict(names, return_dtype=pl.Utf8)
    # A procedure known only by its name is keyed by the normalised name
    # (dossier-log.md, Real exports): bottlenecks, the catalogue's due dates and the
    # dossier suite then see one key per procedure.
    procedure = pl.coalesce(pl.col("procedure_code"), procedure_key_expr(pl.col("procedure_name")))
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
    # to be a value. Never other columns.
    raw_text = batch.select(
        pl.col("__file"),
        pl.col("source_row"),
        *[
            pl.when(pl.col(name).str.len_chars() <= MAX_TEXT_CHARS).then(pl.col(name)).alias(f"__raw_{name}")
            for name in CANONICAL_FIELDS
        ],
    )
    both = classified.filter(pl.col("reason").is_not_null()).join(
        raw_text, on=["__file", "source_row"], how="left"
    )
    quarantine_cols = [pl.col("__file"), source_file.alias("source_file"), pl.col("source_row").cast(pl.Int64), pl.col("reason")]
    for name, dtype in CANONICAL_FIELDS.items():
        value = pl.col("unit_code_given") if name == "unit_code" else _as_text(name, dtype)
        quarantine_cols.append(pl.coalesce([value, pl.col(f"__raw_{name}")]).cast(pl.Utf8).alias(name))
    quarantine = both.select(quarantine_cols)
    flags = [c for c in typed.columns if c.startswith(UNREADABLE)]
    unreadable = (
        typed.group_by("__file").agg([pl.col(c).sum().alias(c[len(UNREADABLE):]) for c in flags])
        if flags
        else pl.DataFrame({"__file": []}, schema={"__file": pl.Int32})
    )
    counts = {
        row["__file"]: {k: int(v) for k, v in row.items() if k != "__file" and v}
        for row in unreadable.iter_rows(named=True)
    }
    out: dict[int, tuple[pl.DataFrame, pl.DataFrame, dict[str, int], bool]] = {}
    accepted_by = accepted.sort("__file", "source_row").partition_by("__file", as_dict=True)
    quarantine_by = quarantine.sort("__file", "source_row").partition_by("__file", as_dict=True)
    for i in names:
        a = accepted_by.get((i,))
        q = quarantine_by.get((i,))
        out[i] = (
            a.drop("__file") if a is not None else empty_frame(DOSSIER_SCHEMA),
            q.drop("__file") if q is not None else empty_frame(QUARANTINE_SCHEMA),
            counts.get(i, {}),
            bool(unit_named.get(i, False)),
        )
    return out
