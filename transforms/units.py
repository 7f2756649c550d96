"""The unit registry and resolving a dossier's receiving unit (dossier-log.md: "Units").

A unit is identified by its code *and* ``valid_from`` (codes are reused after
mergers). A dossier is resolved among the units valid on its ``received_at`` date:

1. by ``unit_code`` when present and known: exact, else equal once leading zeros are
   stripped from both (exactly one unit; several -> ``ambiguous_unit``);
2. else by name: the normalised name with ``UBND``-like words dropped, level word
   kept, equal to exactly one unit's;
3. else the name without its level word, equal to exactly one unit's name without
   its level word; several -> ``ambiguous_unit``; none -> ``unknown_unit``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.normalise import clean_text_expr, key_expr, parse_datetime_expr
from transforms.schema import UNIT_SCHEMA

UNKNOWN_UNIT = "unknown_unit"
AMBIGUOUS_UNIT = "ambiguous_unit"

# Words that are not part of a unit's name ("UBND phường Vạn Phúc").
_NOISE = (
    r"(^|_)(ubnd|uy_ban_nhan_dan|hdnd|bo_phan_mot_cua|bo_phan_tiep_nhan_va_tra_ket_qua|"
    r"trung_tam_phuc_vu_hanh_chinh_cong|bptn_tkq|mot_cua)(_|$)"
)
_ABBREVIATIONS = {
    "p": "phuong",
    "q": "quan",
    "h": "huyen",
    "x": "xa",
    "tt": "thi_tran",
    "tx": "thi_xa",
    "tp": "thanh_pho",
}
_LEVEL = r"^(quan|huyen|thi_xa|thi_tran|phuong|xa|thanh_pho)_"


def unit_name_key(expr: pl.Expr) -> pl.Expr:
    """Normalised unit name, noise words dropped, level word kept (abbreviations such
    as ``P.``/``Q.``/``TT.`` expanded)."""
    k = key_expr(expr)
    # Applied twice so adjacent noise words ("ubnd_uy_ban...") both go.
    k = k.str.replace_all(_NOISE, "_").str.replace_all(_NOISE, "_").str.strip_chars("_")
    for short, full in _ABBREVIATIONS.items():
        k = k.str.replace(rf"^{short}_", f"{full}_")
    return pl.when(k.str.len_chars() > 0).then(k)


def strip_level_expr(name_key: pl.Expr) -> pl.Expr:
    k = name_key.str.replace(_LEVEL, "")
    return pl.when(k.str.len_chars() > 0).then(k)


def strip_zeros_expr(code: pl.Expr) -> pl.Expr:
    s = code.str.replace(r"^0+", "")
    return pl.when(code.is_null()).then(None).when(s == "").then(pl.lit("0")).otherwise(s)


def load_registry(path: Path | str) -> pl.DataFrame:
    """Read a registry CSV (columns of schema.UNIT_SCHEMA; codes stay text, dates ISO)."""
    path = Path(path)
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
    missing = [c for c in ("unit_code", "unit_name", "valid_from") if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: registry lacks columns: {', '.join(missing)}")
    exprs = []
    for name, dtype in UNIT_SCHEMA.items():
        col = clean_text_expr(pl.col(name)) if name in raw.columns else pl.lit(None, dtype=pl.Utf8)
        if dtype == pl.Date:
            col = parse_datetime_expr(col).dt.date()
        exprs.append(col.cast(dtype).alias(name))
    reg = raw.select(exprs)
    bad = reg.filter(pl.col("unit_code").is_null() | pl.col("valid_from").is_null()).height
    if bad:
        raise ValueError(f"{path.name}: {bad} registry rows lack unit_code or a readable valid_from")
    return reg


def _prepare_registry(registry: pl.DataFrame) -> pl.DataFrame:
    return registry.select(
        pl.col("unit_code").alias("__r_code"),
        pl.col("unit_code").alias("__r_unit"),
        strip_zeros_expr(pl.col("unit_code")).alias("__r_code_s"),
        unit_name_key(pl.col("unit_name")).alias("__r_nk"),
        pl.col("valid_from").alias("__r_vf"),
        pl.col("valid_to").alias("__r_vt"),
    ).with_columns(strip_level_expr(pl.col("__r_nk")).alias("__r_nl"))


def _match(rows: pl.DataFrame, reg: pl.DataFrame, left: str, right: str, tag: str) -> pl.DataFrame:
    """Per row id: how many valid units share the key, and the unit when exactly one."""
    hits = (
        rows.select("__rid", left, "__d")
        .filter(pl.col(left).is_not_null() & pl.col("__d").is_not_null())
        .join(reg.filter(pl.col(right).is_not_null()), left_on=left, right_on=right, how="inner")
        .filter(
            (pl.col("__r_vf") <= pl.col("__d"))
            & (pl.col("__r_vt").is_null() | (pl.col("__d") <= pl.col("__r_vt")))
        )
    )
    return hits.group_by("__rid").agg(
        pl.len().alias(f"__n_{tag}"),
        pl.col("__r_unit").min().alias(f"__code_{tag}"),
        pl.col("__r_vf").min().alias(f"__vf_{tag}"),
    )


def resolve_units(frame: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Add ``unit_code`` (the resolved registry code; the file's value is kept in
    ``unit_code_given``), ``unit_valid_from`` and ``unit_problem``
    (null | 'unknown_unit' | 'ambiguous_unit'). Row order is preserved."""
    df = frame
    for c in ("unit_code", "unit_name"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    df = df.with_columns(pl.col("received_at").cast(pl.Datetime("us")).dt.date().alias("__d"))
    # A row's unit depends only on (code, name, day of receipt): resolve each distinct
    # triple once (a batch of files has a few thousand for 10^5 rows).
    triples = df.select("unit_code", "unit_name", "__d").unique().with_row_index("__rid")
    rows = triples.select(
        "__rid",
        pl.col("unit_code").alias("__code"),
        strip_zeros_expr(pl.col("unit_code")).alias("__code_s"),
        unit_name_key(pl.col("unit_name")).alias("__nk"),
        "__d",
    ).with_columns(strip_level_expr(pl.col("__nk")).alias("__nl"))
    reg = _prepare_registry(registry)

    out = rows
    for left, right, tag in (
        ("__code", "__r_code", "exact"),
        ("__code_s", "__r_code_s", "zeros"),
        ("__nk", "__r_nk", "name"),
        ("__nl", "__r_nl", "bare"),
    ):
        out = out.join(_match(rows, reg, left, right, tag), on="__rid", how="left")

    def n(tag: str) -> pl.Expr:
        return pl.col(f"__n_{tag}").fill_null(0)

    steps = ("exact", "zeros", "name", "bare")
    code = pl.lit(None, dtype=pl.Utf8)
    valid_from = pl.lit(None, dtype=pl.Date)
    problem = pl.lit(UNKNOWN_UNIT)
    # Build from the last step backwards so the first applicable step wins.
    for tag in reversed(steps):
        code = pl.when(n(tag) == 1).then(pl.col(f"__code_{tag}")).when(n(tag) > 1).then(None).otherwise(code)
        valid_from = pl.when(n(tag) == 1).then(pl.col(f"__vf_{tag}")).when(n(tag) > 1).then(None).otherwise(valid_from)
        problem = (
            pl.when(n(tag) == 1)
            .then(pl.lit(None, dtype=pl.Utf8))
            .when(n(tag) > 1)
            .then(pl.lit(AMBIGUOUS_UNIT))
            .otherwise(problem)
        )
    resolved = triples.join(
        out.select(
            "__rid",
            code.alias("__unit_code"),
            valid_from.alias("unit_valid_from"),
            problem.alias("unit_problem"),
        ),
        on="__rid",
        how="left",
    ).drop("__rid")
    result = (
        df.join(resolved, on=["unit_code", "unit_name", "__d"], how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.col("unit_code").alias("unit_code_given"),
            pl.col("__unit_code").alias("unit_code"),
        )
        .drop("__d", "__unit_code")
    )
    return result
