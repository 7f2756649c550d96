"""One record per dossier_id (dossier-log.md: "Duplicates and updates").

The copy kept, whole, is the one with the greatest latest event time (the greatest
of submitted/received/finished/returned/rejected; never ``due_at``); on a tie the
higher status (no status lowest); then the file whose base name sorts last by code
point, then its full path; then the later row. The result does not depend on the
order of the input rows.
"""

from __future__ import annotations

import polars as pl

from transforms.schema import EVENT_FIELDS

SUPERSEDED_SCHEMA: dict[str, pl.DataType] = {
    "dossier_id": pl.Utf8(),
    "source_file": pl.Utf8(),
    "source_row": pl.Int64(),
}


def base_name_expr(path: pl.Expr) -> pl.Expr:
    return path.str.replace(r"^.*[/\\]", "")


def select_latest(versions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(winners, superseded). ``winners`` keeps the input columns, one row per
    dossier_id, sorted by dossier_id; ``superseded`` lists (dossier_id, source_file,
    source_row) of every other copy."""
    if versions.height == 0:
        return versions.clear(), pl.DataFrame(schema=SUPERSEDED_SCHEMA)
    columns = versions.columns
    events = [c for c in EVENT_FIELDS if c in columns]
    keyed = versions.with_columns(
        (pl.max_horizontal(events) if events else pl.lit(None, dtype=pl.Datetime("us"))).alias("__latest"),
        pl.col("status").cast(pl.Int16).fill_null(-1).alias("__status") if "status" in columns else pl.lit(-1).alias("__status"),
        base_name_expr(pl.col("source_file")).alias("__base"),
        # Last resort for byte-identical lineage (same file, same row given twice):
        # a hash of the whole record, so the choice still ignores input order.
        pl.struct(columns).hash(seed=0).alias("__hash"),
    )
    ordered = keyed.sort(
        ["dossier_id", "__latest", "__status", "__base", "source_file", "source_row", "__hash"],
        descending=[False, True, True, True, True, True, True],
        nulls_last=True,
        maintain_order=False,
    )
    first = pl.col("dossier_id").is_first_distinct()
    winners = ordered.filter(first).select(columns)
    superseded = (
        ordered.filter(~first)
        .select([pl.col(c).cast(t) for c, t in SUPERSEDED_SCHEMA.items()])
        .sort(["dossier_id", "source_file", "source_row"])
    )
    return winners, superseded


__all__ = ["select_latest", "SUPERSEDED_SCHEMA"]
