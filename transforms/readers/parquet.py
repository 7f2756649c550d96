"""Parquet: typed columns given to the rest as text (whole floats without ``.0``,
dates ISO, tz-aware times in local time)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body, assemble
from transforms.readers.header import plan_columns
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import UnusableFile
from transforms.schema import LOCAL_TZ

MAGIC = b"PAR1"


def as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Type-aware text: whole floats without ``.0``, dates ISO, tz-aware -> local."""
    if dtype == pl.Utf8:
        return expr
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    if dtype.is_integer():
        return expr.cast(pl.Utf8)
    if dtype.is_float():
        whole = (expr == expr.round(0)) & (expr.abs() < 1e15)
        return pl.when(whole).then(expr.cast(pl.Int64, strict=False).cast(pl.Utf8)).otherwise(expr.cast(pl.Utf8))
    if isinstance(dtype, pl.Datetime):
        e = expr
        if dtype.time_zone is not None:
            e = e.dt.convert_time_zone(LOCAL_TZ).dt.replace_time_zone(None)
        return e.dt.to_string("%Y-%m-%d %H:%M:%S%.f")
    if dtype == pl.Date:
        return expr.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, (pl.Categorical, pl.Enum)) or isinstance(dtype, pl.Decimal):
        return expr.cast(pl.Utf8)
    return pl.lit(None, dtype=pl.Utf8)


def read_parquet(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:
        raise UnusableFile(path, "not a readable Parquet file (corrupt or wrong format)") from None
    names = list(schema.keys())
    if not names:
        raise UnusableFile(path, "no recognisable header (no columns)")
    plan = plan_columns(path, names, matcher, unit_given=bool(mapping and mapping.unit))
    kept_names = [names[p] for p in plan.positions]
    try:
        df = pl.read_parquet(path, columns=list(dict.fromkeys(kept_names)))
    except Exception:
        raise UnusableFile(path, "not a readable Parquet file (corrupt)") from None
    kept = df.select([as_text(pl.col(n), schema[n]).alias(f"__p{i}") for i, n in enumerate(kept_names)])
    rows = pl.Series(range(1, df.height + 1), dtype=pl.Int64)
    return assemble(path, "parquet", kept, plan, rows, mapping=mapping)
