"""Which field made a quarantined row unusable, for the clerk who mends the export.

The quarantine keeps each row's reason (the first of dossier-log.md's order that
applied) and its canonical values as text, a value that may be personal withheld
(transforms.ingest.quarantine_values): not which field the reason is about. It
is found again here from those values, by the reason's own rule: the missing
ones for missing_id and missing_field, the dates that do not read for bad_date,
the unit for unknown_unit and ambiguous_unit, the events after the ingestion for
future_date, the ends (and the due date) before the receipt for chronology, the
end for finished_no_end. A misaligned_row is the whole line (no one field).
"""

from __future__ import annotations

import polars as pl

from transforms.classify import due_end_expr
from transforms.ingest import END_FIELDS, UNIT_REASONS
from transforms.schema import DATE_FIELDS, EVENT_FIELDS, TIMESTAMP

# what `scoreboard quarantine` lists, in its order
LISTING_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.Utf8(), "row": pl.Int64(), "field": pl.Utf8(), "reason": pl.Utf8(), "value": pl.Utf8(),
}


def _date(name: str) -> pl.Expr:
    """A stored date as it was read (its text when it read), else null."""
    return pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us").cast(TIMESTAMP)


def _missing() -> dict[str, pl.Expr]:
    return {
        "dossier_id": pl.col("dossier_id").is_null(),
        "received_at": pl.col("received_at").is_null(),
        "procedure_code": pl.col("procedure_code").is_null() & pl.col("procedure_name").is_null(),
        "unit_code": pl.col("unit_code").is_null() & pl.col("unit_name").is_null(),
    }


def _culprits() -> list[tuple[str, str, pl.Expr]]:
    """(reason, field, whether the field is the reason's) for every field a reason can name."""
    reason = pl.col("reason")
    received = _date("received_at")
    rules = [("missing_id", "dossier_id", pl.lit(True))]
    rules += [("missing_field", name, expr) for name, expr in _missing().items() if name != "dossier_id"]
    rules += [("bad_date", name, pl.col(name).is_not_null() & _date(name).is_null()) for name in DATE_FIELDS]
    for unit_reason in UNIT_REASONS:
        rules += [(unit_reason, "unit_code", pl.col("unit_code").is_not_null()),
                  (unit_reason, "unit_name", pl.col("unit_code").is_null())]
    rules += [("future_date", name, _date(name) > pl.col("ingested_at")) for name in EVENT_FIELDS]
    rules += [("chronology", name, _date(name) < received) for name in END_FIELDS]
    rules += [("chronology", "due_at", due_end_expr(_date("due_at")) < received)]
    rules += [("finished_no_end", "finished_at", pl.lit(True))]
    return [(r, name, (reason == r) & expr.fill_null(False)) for r, name, expr in rules]


def reason_fields(rows: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows (QUARANTINE_SCHEMA and the file's `ingested_at`) → one line per
    row: its file, row number, the fields its reason is about (comma-separated; null for
    a misaligned_row), the reason and those fields' values as the quarantine keeps them
    (a withheld one as its marker, `<đã ẩn: N ký tự>`; a missing one empty), sorted by
    file and row."""
    if rows.is_empty():
        return pl.DataFrame(schema=LISTING_SCHEMA)
    culprits = _culprits()
    fields = pl.concat_list([pl.when(hit).then(pl.lit(name)) for _, name, hit in culprits]).list.drop_nulls()
    values = pl.concat_list(
        [pl.when(hit & pl.col(name).is_not_null()).then(pl.col(name)) for _, name, hit in culprits]
    ).list.drop_nulls()
    return rows.select(
        pl.col("source_file").alias("file"),
        pl.col("source_row").cast(pl.Int64).alias("row"),
        pl.when(fields.list.len() > 0).then(fields.list.join(", ")).alias("field"),
        pl.col("reason"),
        pl.when(values.list.len() > 0).then(values.list.join("; ")).alias("value"),
    ).sort("file", "row")
