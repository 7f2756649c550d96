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

from transforms.normalise import BAD_DATE, normalise
from transforms.read import (
    CSV_EXTENSIONS,
    EXCEL_EXTENSIONS,
    JSON_EXTENSIONS,
    JSONL_EXTENSIONS,
    PARQUET_EXTENSIONS,
    UnusableFile,
    read_table,
)
from transforms.schema import (
    CANONICAL_FIELDS,
    DOSSIER_SCHEMA,
    EVENT_FIELDS,
    LOCAL_TZ,
    TIMESTAMP,
    empty_frame,
)
from transforms.units import resolve_units

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


def _format_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    for fmt, exts in (
        ("csv", CSV_EXTENSIONS),
        ("xlsx", EXCEL_EXTENSIONS),
        ("json", JSON_EXTENSIONS),
        ("jsonl", JSONL_EXTENSIONS),
        ("parquet", PARQUET_EXTENSIONS),
    ):
        if ext in exts:
            return fmt
    return None


def _local_naive(now: datetime) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None)
    return now


def due_end_expr(due: pl.Expr) -> pl.Expr:
    """``due_at`` itself when it has a time of day other than 00:00:00, else the last
    instant of its day (23:59:59.999999)."""
    midnight = due.dt.truncate("1d")
    return (
        pl.when(due == midnight)
        .then(midnight + pl.duration(days=1) - pl.duration(microseconds=1))
        .otherwise(due)
    )


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
        pl.col("procedure_code").is_null()
        | ~raw_received_present
        | (pl.col("unit_code_given").is_null() & pl.col("unit_name").is_null())
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
    mapping: Mapping[str, str | None] | Path | str | None = None,
) -> FileResult:
    """Read, normalise, resolve and classify one file. Never raises for a bad file:
    it comes back with ``status='rejected'`` and a message."""
    path = Path(path)
    try:
        digest = content_hash(path)
    except OSError:
        return _empty_result(source_name, "", _format_of(path), f"{source_name}: the file cannot be read", [])
    try:
        raw = read_table(path, mapping)
    except UnusableFile as exc:
        return _empty_result(source_name, digest, _format_of(path), exc.describe(source_name), exc.missing_fields)
    except Exception as exc:  # never show a library message: it may quote values
        return _empty_result(
            source_name,
            digest,
            _format_of(path),
            f"{source_name}: the file cannot be read ({type(exc).__name__})",
            [],
        )

    typed, unreadable = normalise(raw.frame, x_marks=raw.x_mark_columns)
    resolved = resolve_units(typed, registry)
    raw_received = (
        raw.frame.get_column("received_at").is_not_null()
        if "received_at" in raw.frame.columns
        else pl.Series([False] * raw.frame.height, dtype=pl.Boolean)
    )
    classified = resolved.with_columns(raw_received.alias("__raw_received")).with_columns(
        reason_expr(now, pl.col("__raw_received")).alias("reason")
    )

    accepted = classified.filter(pl.col("reason").is_null()).select(
        [
            (pl.lit(source_name) if name == "source_file" else pl.col(name)).cast(dtype).alias(name)
            for name, dtype in DOSSIER_SCHEMA.items()
        ]
    )

    # Quarantine: the normalised canonical value as text; when a value could not be
    # read, the file's (trimmed) text of that canonical field. Never other columns.
    raw_text = raw.frame.select(
        [
            (pl.col(name) if name in raw.frame.columns else pl.lit(None, dtype=pl.Utf8)).alias(f"__raw_{name}")
            for name in CANONICAL_FIELDS
        ]
    )
    both = pl.concat([classified, raw_text], how="horizontal").filter(pl.col("reason").is_not_null())
    quarantine_cols = [
        pl.lit(source_name).alias("source_file"),
        pl.col("source_row").cast(pl.Int64),
        pl.col("reason"),
    ]
    for name, dtype in CANONICAL_FIELDS.items():
        if name == "unit_code":
            value = pl.col("unit_code_given")
        else:
            value = _as_text(name, dtype)
        quarantine_cols.append(pl.coalesce([value, pl.col(f"__raw_{name}")]).cast(pl.Utf8).alias(name))
    quarantine = both.select(quarantine_cols)

    return FileResult(
        source_file=source_name,
        content_hash=digest,
        format=raw.format,
        status="loaded",
        message=None,
        rows_read=raw.rows_read,
        dropped_columns=list(raw.dropped_columns),
        unreadable=dict(unreadable),
        accepted=accepted,
        quarantine=quarantine,
    )
