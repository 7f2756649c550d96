"""What every batch drift check shares: the finding's columns, robust statistics and
how figures are written in the reasons."""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboards.format import fmt_num

UNIT_KEY = ["unit_code", "unit_valid_from"]
FILE_UNIT = ["source_file", *UNIT_KEY]

# One row per (file, unit, check) that drifts. `usual` and `observed` are the figures
# compared (their meaning is the check's; the reason says it in words), `rows` the
# dossiers the check judged.
FINDING_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "check_name": pl.Utf8(),
    "usual": pl.Float64(),
    "observed": pl.Float64(),
    "rows": pl.Int64(),
    "message_vi": pl.Utf8(),
    "message_en": pl.Utf8(),
}


def no_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def median_and_mad(values: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Aggregations: the median of `values` and their median absolute deviation."""
    return values.median(), (values - values.median()).abs().median()


def number(x: float, lang: str, decimals: int = 0) -> str:
    """The site's one number format in either language: 12.345,6."""
    return fmt_num(float(x), decimals)


def share(x: float, lang: str) -> str:
    """A share as a percentage with no decimals unless it would round to 0 or 100."""
    pct = 100 * float(x)
    decimals = 1 if (0 < pct < 1 or 99 < pct < 100) else 0
    return f"{number(pct, lang, decimals)} %"


def month_label(month: date) -> str:
    return f"{month:%m/%Y}"


def findings(frame: pl.DataFrame, check_name: str, vi, en) -> pl.DataFrame:
    """FINDING_SCHEMA rows from a frame holding the file, unit, usual, observed and rows
    columns; `vi`/`en` make each row's reason from the row (a dict)."""
    if frame.is_empty():
        return no_findings()
    rows = frame.to_dicts()
    return pl.DataFrame(
        [
            {
                **{c: r[c] for c in (*FILE_UNIT, "usual", "observed", "rows")},
                "check_name": check_name,
                "message_vi": vi(r),
                "message_en": en(r),
            }
            for r in rows
        ],
        schema=FINDING_SCHEMA,
    )
