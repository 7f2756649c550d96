"""What happened to each dossier: its kind, end, due end and outcome (scoreboard.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.calendar import add_working_days
from transforms.normalise import procedure_key_expr

FINISHED_STATUSES = (9, 10)
REJECTED_STATUSES = (3, 7, 8)
# a dossier with one of these statuses has ended (finished or rejected); any other
# status is pending whatever dates it carries (the warehouse's reads use this too)
CLOSED_STATUSES = (*REJECTED_STATUSES, *FINISHED_STATUSES)
# the classes of a dossier's timeliness (scoreboard.md), in the scoreboard's column order
OUTCOMES = ("early", "on_time", "overdue", "no_deadline", "rejected")
# a legal processing time beyond this many working days (over a year) is a typing error
MAX_PROCESSING_DAYS = 366


def due_end_expr(due: str | pl.Expr = "due_at") -> pl.Expr:
    """A due_at with a time of day other than 00:00:00 is the instant itself; a date
    (or exactly midnight) means the last instant of that day."""
    col = pl.col(due) if isinstance(due, str) else due
    midnight = col.dt.truncate("1d")
    return (
        pl.when(col == midnight)
        .then(midnight + pl.duration(days=1) - pl.duration(microseconds=1))
        .otherwise(col)
    )


def classify(dossiers: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Add `kind` (finished | rejected | pending), `end_at`, `due_end` and `outcome`
    (early | on_time | overdue | no_deadline | rejected, null while pending).

    The outcome is where the dossier lands in the period containing `end_at`."""
    status = pl.col("status")
    no_status = status.is_null()
    finished = status.is_in(FINISHED_STATUSES) | (
        no_status & (pl.col("finished_at").is_not_null() | pl.col("returned_at").is_not_null())
    )
    rejected = status.is_in(REJECTED_STATUSES) | (no_status & pl.col("rejected_at").is_not_null())
    kind = (
        pl.when(finished)
        .then(pl.lit("finished"))
        .when(rejected)
        .then(pl.lit("rejected"))
        .otherwise(pl.lit("pending"))
    )
    end_at = (
        pl.when(pl.col("kind") == "finished")
        .then(pl.coalesce("finished_at", "returned_at"))
        .when(pl.col("kind") == "rejected")
        .then(pl.coalesce("rejected_at", "finished_at", "received_at"))
        .otherwise(pl.lit(None, dtype=pl.Datetime("us")))
    )
    outcome = (
        pl.when(pl.col("kind") == "rejected")
        .then(pl.lit("rejected"))
        .when(pl.col("kind") != "finished")
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(pl.col("due_at").is_null())
        .then(pl.lit("no_deadline"))
        .when(pl.col("end_at").dt.date() < pl.col("due_at").dt.date())
        .then(pl.lit("early"))
        .when(pl.col("end_at") <= pl.col("due_end"))
        .then(pl.lit("on_time"))
        .otherwise(pl.lit("overdue"))
    )
    return (
        dossiers.with_columns(kind=kind, due_end=due_end_expr("due_at"))
        .with_columns(end_at=end_at)
        .with_columns(outcome=outcome)
    )


def load_catalogue(path: Path | str) -> pl.DataFrame:
    """A procedure catalogue: procedure_code → legal processing time in working days.
    Where it also has ``procedure_name``, the procedure's name key (the key of a
    dossier exported with a name and no code, normalise.procedure_key_expr) maps to
    the same days, after the codes. A blank processing time: the procedure has none;
    one that is not a whole number of working days up to MAX_PROCESSING_DAYS is refused
    (ValueError naming the file and the line)."""
    frame = pl.read_csv(path, infer_schema=False)
    missing = {"procedure_code", "processing_days"} - set(frame.columns)
    if missing:
        raise ValueError(f"the procedure catalogue {path} has no column {', '.join(sorted(missing))}")
    text = pl.col("processing_days").str.strip_chars()
    days = text.cast(pl.Int64, strict=False)
    bad = frame.with_row_index("line", offset=2).filter(
        (text != "") & (days.is_null() | (days < 0) | (days > MAX_PROCESSING_DAYS)))
    if bad.height:
        line, value = bad.select("line", "processing_days").row(0)
        raise ValueError(
            f"the procedure catalogue {path}, line {line}: processing_days {value!r} is not a whole number of "
            f"working days from 0 to {MAX_PROCESSING_DAYS}" + (f" ({bad.height} such lines)" if bad.height > 1 else "")
        )
    keys = [frame.select(pl.col("procedure_code").str.strip_chars(), days)]
    if "procedure_name" in frame.columns:
        keys.append(frame.select(procedure_key_expr(pl.col("procedure_name")).alias("procedure_code"), days))
    return (
        pl.concat(keys)
        .filter(pl.col("procedure_code").is_not_null() & pl.col("processing_days").is_not_null())
        .unique("procedure_code", keep="first", maintain_order=True)
    )


def derive_missing_due(
    dossiers: pl.DataFrame, catalogue: pl.DataFrame | None, calendar: pl.DataFrame
) -> pl.DataFrame:
    """A dossier exported without due_at gets one from the catalogue: the date that is
    the procedure's processing days (working days) after the day of receipt. It is a
    date, so its due end is the end of that day. Exported due dates always win."""
    if catalogue is None or catalogue.is_empty():
        return dossiers
    columns = dossiers.columns
    derived = add_working_days(
        dossiers.join(catalogue, on="procedure_code", how="left"),
        "received_at",
        "processing_days",
        calendar,
        out="_derived_due",
    )
    return derived.with_columns(
        due_at=pl.coalesce("due_at", pl.col("_derived_due").cast(pl.Datetime("us")))
    ).select(columns)
