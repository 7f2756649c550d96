"""The unit registry and resolving a dossier's receiving unit (dossier-log.md:
"Units" and "Real exports").

A unit is identified by its code *and* ``valid_from`` (codes are reused after
mergers). A dossier is resolved among the units valid on its ``received_at`` date,
by the first of these steps that names at least one unit (exactly one: resolved;
several: ``ambiguous_unit``):

1. ``unit_code`` as a unit code: exact, else equal once leading zeros are stripped
   from both; else as an agency code (mã định danh, the registry's optional
   ``agency_code``);
2. the name: the normalised name with ``UBND``-like words dropped, level word kept,
   equal to exactly one unit's; else without its level word;
3. the ``dossier_id`` prefix (the part before the first ``-``, as in
   ``000.12.20.H26-240301-0001``) as an agency code;
4. for a row that names no unit: the group row above it (``unit_hint``), then the
   file's evidence (a per-source mapping's unit, the sync envelope's ``madonvi``, or
   the banner lines above the header: these must name exactly one unit).

A row with no unit evidence at all (no code, name or group row, an id prefix that is
no agency code of the registry, no file evidence naming any unit) has its unit
*missing* (``missing_field``), not unknown.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import polars as pl

from transforms.normalise import clean_text_expr, key_expr, parse_datetime_expr
from transforms.periods import last_day_expr
from transforms.schema import REGISTRY_SCHEMA, UNIT_HINT, UNIT_SCHEMA

UNKNOWN_UNIT = "unknown_unit"
AMBIGUOUS_UNIT = "ambiguous_unit"
# The file's unit is named nowhere (ingest: missing_field).
NO_UNIT = "no_unit"

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
# The agency code that prefixes a dossier id: the text before the first "-".
_ID_PREFIX = r"^\s*([^-\s]+)\s*-"


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


def agency_key_expr(code: pl.Expr) -> pl.Expr:
    """An agency code as compared: trimmed, upper case (``000.12.20.h26``)."""
    k = code.str.strip_chars().str.to_uppercase()
    return pl.when(k.str.len_chars() > 0).then(k)


def id_prefix_expr(dossier_id: pl.Expr) -> pl.Expr:
    return agency_key_expr(dossier_id.str.extract(_ID_PREFIX, 1))


def load_registry(path: Path | str) -> pl.DataFrame:
    """Read a registry CSV: the columns of schema.UNIT_SCHEMA, plus ``agency_code``
    when the file has that optional column (schema.REGISTRY_SCHEMA); codes stay
    text, dates ISO."""
    path = Path(path)
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
    missing = [c for c in ("unit_code", "unit_name", "valid_from") if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: registry lacks columns: {', '.join(missing)}")
    exprs = []
    schema = REGISTRY_SCHEMA if "agency_code" in raw.columns else UNIT_SCHEMA
    for name, dtype in schema.items():
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
    agency = pl.col("agency_code") if "agency_code" in registry.columns else pl.lit(None, dtype=pl.Utf8)
    return registry.select(
        pl.col("unit_code").alias("__r_code"),
        pl.col("unit_code").alias("__r_unit"),
        strip_zeros_expr(pl.col("unit_code")).alias("__r_code_s"),
        agency_key_expr(agency.cast(pl.Utf8)).alias("__r_agency"),
        unit_name_key(pl.col("unit_name")).alias("__r_nk"),
        pl.col("valid_from").alias("__r_vf"),
        pl.col("valid_to").alias("__r_vt"),
    ).with_columns(strip_level_expr(pl.col("__r_nk")).alias("__r_nl"))


def _match(rows: pl.DataFrame, reg: pl.DataFrame, left: str, right: str, tag: str, dated: bool = True) -> pl.DataFrame:
    """Per row id: how many units share the key (valid on the row's day, unless not
    ``dated``), and the unit when exactly one."""
    hits = rows.select("__rid", left, "__d").filter(pl.col(left).is_not_null()).join(
        reg.filter(pl.col(right).is_not_null()), left_on=left, right_on=right, how="inner"
    )
    if dated:
        hits = hits.filter(
            pl.col("__d").is_not_null()
            & (pl.col("__r_vf") <= pl.col("__d"))
            & (pl.col("__r_vt").is_null() | (pl.col("__d") <= pl.col("__r_vt")))
        )
    return hits.group_by("__rid").agg(
        pl.len().alias(f"__n_{tag}"),
        pl.col("__r_unit").min().alias(f"__code_{tag}"),
        pl.col("__r_vf").min().alias(f"__vf_{tag}"),
    )


# (left key, registry key) of each way a code or a name can name a unit, in order
_STEPS = (
    ("__code", "__r_code"),
    ("__code_s", "__r_code_s"),
    ("__agency", "__r_agency"),
    ("__nk", "__r_nk"),
    ("__nl", "__r_nl"),
)


def _keys(code: pl.Expr, name: pl.Expr) -> list[pl.Expr]:
    nk = unit_name_key(name)
    return [
        code.alias("__code"),
        strip_zeros_expr(code).alias("__code_s"),
        agency_key_expr(code).alias("__agency"),
        nk.alias("__nk"),
        strip_level_expr(nk).alias("__nl"),
    ]


def _first_step(rows: pl.DataFrame, reg: pl.DataFrame, steps=_STEPS, dated: bool = True) -> pl.DataFrame:
    """Per ``__rid``: ``__n`` (units named by the first step that names any: 0, 1 or
    more), ``__unit`` and ``__vf`` when exactly one."""
    out = rows.select("__rid")
    for i, (left, right) in enumerate(steps):
        out = out.join(_match(rows, reg, left, right, str(i), dated), on="__rid", how="left")
    n = pl.lit(0, dtype=pl.UInt32)
    unit = pl.lit(None, dtype=pl.Utf8)
    vf = pl.lit(None, dtype=pl.Date)
    # Built from the last step backwards so the first step that names a unit wins.
    for i in reversed(range(len(steps))):
        hit = pl.col(f"__n_{i}").fill_null(0) > 0
        n = pl.when(hit).then(pl.col(f"__n_{i}")).otherwise(n)
        unit = pl.when(hit).then(pl.col(f"__code_{i}")).otherwise(unit)
        vf = pl.when(hit).then(pl.col(f"__vf_{i}")).otherwise(vf)
    return out.select("__rid", n.cast(pl.UInt32).alias("__n"), unit.alias("__unit"), vf.alias("__vf"))


def _file_evidence(keys: pl.DataFrame, hints: pl.DataFrame, reg: pl.DataFrame) -> pl.DataFrame:
    """Per (``__hfile``, ``__d``): the units the file's hint lines name on that day.
    ``__n`` is 1 when the lines name exactly one unit between them; more when they
    name several (or only lines naming several); 0 when none. ``__any``: whether
    any line names a unit of the registry on any day."""
    pairs = keys.select("__hfile", "__d").filter(pl.col("__hfile").is_not_null()).unique()
    lines = pairs.join(hints, left_on="__hfile", right_on="__file", how="inner").with_row_index("__rid")
    rows = lines.select("__rid", "__d", *_keys(pl.col("hint"), pl.col("hint")))
    dated = lines.select("__rid", "__hfile", "__d").join(_first_step(rows, reg), on="__rid", how="left")
    anyday = lines.select("__rid", "__hfile").join(_first_step(rows, reg, dated=False), on="__rid", how="left")
    named = dated.group_by("__hfile", "__d").agg(
        pl.struct("__unit", "__vf").filter(pl.col("__n") == 1).unique().alias("__units"),
        (pl.col("__n") > 1).any().alias("__several"),
    )
    per_day = named.select(
        "__hfile",
        "__d",
        pl.when(pl.col("__units").list.len() > 0)
        .then(pl.col("__units").list.len())
        .when(pl.col("__several"))
        .then(2)
        .otherwise(0)
        .cast(pl.UInt32)
        .alias("__n"),
        pl.when(pl.col("__units").list.len() == 1).then(pl.col("__units").list.first()).alias("__u"),
    ).with_columns(pl.col("__u").struct.field("__unit"), pl.col("__u").struct.field("__vf")).drop("__u")
    known = anyday.group_by("__hfile").agg((pl.col("__n") > 0).any().alias("__any"))
    return per_day.join(known, on="__hfile", how="left")


def _decision(explicit: pl.Series) -> list[pl.Expr]:
    """The unit of each key from its stages' results (``__n_<stage>`` …): the first
    stage that names a unit decides; a row with no unit evidence at all is NO_UNIT."""
    code = pl.lit(None, dtype=pl.Utf8)
    valid_from = pl.lit(None, dtype=pl.Date)
    problem = pl.lit(UNKNOWN_UNIT)
    for tag in reversed(["own", "prefix", "group", "file"]):
        n = pl.col(f"__n_{tag}").fill_null(0)
        code = pl.when(n == 1).then(pl.col(f"__unit_{tag}")).when(n > 1).then(None).otherwise(code)
        valid_from = pl.when(n == 1).then(pl.col(f"__vf_{tag}")).when(n > 1).then(None).otherwise(valid_from)
        problem = pl.when(n == 1).then(pl.lit(None, dtype=pl.Utf8)).when(n > 1).then(pl.lit(AMBIGUOUS_UNIT)).otherwise(problem)
    evidence = (
        pl.col("unit_code").is_not_null()
        | pl.col("unit_name").is_not_null()
        | pl.col("__ghint").is_not_null()
        | (pl.col("__n_prefix_any").fill_null(0) > 0)
        | pl.col("__any").fill_null(False)
        | pl.col("__hfile").is_in(explicit).fill_null(False)
    )
    problem = pl.when(problem.is_not_null() & ~evidence).then(pl.lit(NO_UNIT)).otherwise(problem)
    return [code.alias("__unit_code"), valid_from.alias("unit_valid_from"), problem.alias("unit_problem")]


def validity_day(day: pl.Expr, registry: pl.DataFrame) -> pl.Expr:
    """The day that stands for ``day`` when asking which units are valid: the first day
    of its stretch between two of the registry's boundaries (a ``valid_from``, or the
    day after a ``valid_to``). Every unit is valid on all the days of a stretch or on
    none, so resolving on this day is resolving on ``day``, once per stretch."""
    ends = registry.select(pl.col("valid_to") + pl.duration(days=1)).to_series()
    bounds = pl.concat([registry.get_column("valid_from"), ends]).drop_nulls().unique().sort()
    if bounds.is_empty():
        return day
    # the days before the first boundary: no unit is valid on any of them
    firsts = pl.concat([bounds.head(1) - pl.Series([timedelta(days=1)]), bounds]).cast(pl.Date)
    stretch = pl.lit(bounds.cast(pl.Date)).search_sorted(day, side="right")
    return pl.when(day.is_not_null()).then(pl.lit(firsts).gather(stretch))


def resolve_units(frame: pl.DataFrame, registry: pl.DataFrame, hints: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add ``unit_code`` (the resolved registry code; the file's value is kept in
    ``unit_code_given``), ``unit_valid_from`` and ``unit_problem`` (null |
    'unknown_unit' | 'ambiguous_unit' | 'no_unit': nothing names the unit). Row order
    is preserved.

    ``hints``: the files' unit evidence, columns ``__file`` (as in ``frame``),
    ``hint`` (a line of text: a code, an agency code or a name) and ``explicit``
    (given by a mapping or an envelope, not read from a banner)."""
    df = frame
    for c in ("unit_code", "unit_name", "dossier_id", UNIT_HINT):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    if "__file" not in df.columns:
        df = df.with_columns(pl.lit(0, dtype=pl.Int32).alias("__file"))
    if hints is None:
        hints = pl.DataFrame(schema={"__file": pl.Int32, "hint": pl.Utf8, "explicit": pl.Boolean})
    hints = hints.with_columns(pl.col("__file").cast(pl.Int32)).filter(pl.col("hint").is_not_null())
    names_none = pl.col("unit_code").is_null() & pl.col("unit_name").is_null()
    hinted = hints.get_column("__file").unique().implode()
    df = df.with_columns(
        validity_day(pl.col("received_at").cast(pl.Datetime("us")).dt.date(), registry).alias("__d"),
        id_prefix_expr(pl.col("dossier_id")).alias("__prefix"),
        pl.when(names_none).then(pl.col(UNIT_HINT)).alias("__ghint"),
        pl.when(names_none & pl.col("__file").is_in(hinted)).then(pl.col("__file")).alias("__hfile"),
    )
    # A row's unit depends only on these: resolve each distinct combination once (a
    # batch of files has a few thousand for 10^5 rows: the day is the validity day).
    key_cols = ["unit_code", "unit_name", "__prefix", "__ghint", "__hfile", "__d"]
    keys = df.select(key_cols).unique().with_row_index("__rid")
    reg = _prepare_registry(registry)

    own = _first_step(keys.select("__rid", "__d", *_keys(pl.col("unit_code"), pl.col("unit_name"))), reg)
    prefix_rows = keys.select("__rid", "__d", pl.col("__prefix").alias("__agency"))
    prefix = _first_step(prefix_rows, reg, steps=(("__agency", "__r_agency"),))
    prefix_any = _first_step(prefix_rows, reg, steps=(("__agency", "__r_agency"),), dated=False)
    group = _first_step(keys.select("__rid", "__d", *_keys(pl.col("__ghint"), pl.col("__ghint"))), reg)
    files = _file_evidence(keys, hints, reg)
    explicit = hints.filter(pl.col("explicit")).get_column("__file").unique().implode()

    stages = [("own", own), ("prefix", prefix), ("group", group)]
    out = keys
    for tag, res in stages:
        out = out.join(res.rename({c: f"{c}_{tag}" for c in ("__n", "__unit", "__vf")}), on="__rid", how="left")
    out = out.join(prefix_any.select("__rid", pl.col("__n").alias("__n_prefix_any")), on="__rid", how="left")
    out = out.join(
        files.rename({"__n": "__n_file", "__unit": "__unit_file", "__vf": "__vf_file"}),
        on=["__hfile", "__d"], how="left",
    )
    resolved = out.select(*key_cols, *_decision(explicit))
    return (
        df.join(resolved, on=key_cols, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.col("unit_code").alias("unit_code_given"),
            pl.col("__unit_code").alias("unit_code"),
        )
        .drop("__d", "__unit_code", "__prefix", "__ghint", "__hfile")
    )


def registry_digest(registry: pl.DataFrame) -> str:
    """A digest of the registry's content (its units, in any order, as read): what the
    stored dossiers were resolved against. A change of the file's layout, order or
    spacing alone gives the same digest."""
    columns = sorted(registry.columns)
    text = registry.select(columns).sort(columns, nulls_last=True).write_csv()
    return hashlib.sha256(f"{','.join(columns)}\n{text}".encode()).hexdigest()[:16]


def resolve_stored(keys: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Stored units resolved again against ``registry`` (a registry change). ``keys``:
    distinct ``unit_code``, ``unit_valid_from`` and ``day`` (the received_at date) of
    stored dossiers. A stored dossier keeps only its resolved code (the file's code or
    name is not stored), so it is resolved by that code, as a file's code is: the unit
    of that code valid on its day, else the one equal once leading zeros are stripped,
    else the unit whose agency code it is, as a fresh run resolves a file's code
    (commune ``00001`` removed, its dossiers go to district ``001``). Adds ``new_code`` and
    ``new_valid_from`` (null unless exactly one unit) and ``unit_problem`` (null,
    'unknown_unit' or 'ambiguous_unit')."""
    frame = keys.select(
        pl.col("unit_code"), pl.col("day").cast(pl.Datetime("us")).alias("received_at")
    )
    resolved = resolve_units(frame, registry)
    return keys.with_columns(
        resolved.get_column("unit_code").alias("new_code"),
        resolved.get_column("unit_valid_from").alias("new_valid_from"),
        resolved.get_column("unit_problem"),
    )


def with_expected(rows: pl.DataFrame, registry: pl.DataFrame | None) -> pl.DataFrame:
    """Scoreboard rows with ``expected``: whether the unit was expected to report in
    the row's period. It is when the registry has it valid on at least half of the
    period's days (``valid_from`` .. ``valid_to``, both included).

    A unit listed only for its late dossiers after it ceased to exist (a district or
    commune ended on 2025-06-30 by the reform, listed in July and after) is not
    expected, so it is never silent nor a missing reporter; nor is one whose last
    days alone fall in the period (the week of Monday 30/06/2025 expects the wards
    of 1 July, not the communes that ended on its first day). A unit the registry
    does not have (any more) is not expected. With no ``registry``, each listed unit
    is taken as valid from its ``unit_valid_from`` on, without an end."""
    if registry is None:
        ends = rows.select("unit_code", "unit_valid_from").unique().with_columns(_to=pl.lit(None, pl.Date))
    else:
        ends = registry.select("unit_code", unit_valid_from="valid_from", _to="valid_to")
    start = pl.col("period_start")
    last = last_day_expr()
    first_valid = pl.max_horizontal(start, pl.col("unit_valid_from"))
    last_valid = pl.min_horizontal(last, pl.col("_to").fill_null(last))
    days_valid = (last_valid - first_valid).dt.total_days() + 1
    days = (last - start).dt.total_days() + 1
    joined = rows.join(ends.with_columns(_known=pl.lit(True)), on=["unit_code", "unit_valid_from"], how="left",
                       nulls_equal=True, maintain_order="left")
    expected = pl.col("_known").fill_null(False) & (2 * days_valid >= days).fill_null(False)
    return joined.with_columns(expected=expected).drop("_to", "_known")
