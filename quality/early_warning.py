"""Early warnings: a unit's week far from its own recent history, and a band at risk.

Weekly rule (`early_warnings`). For each unit (unit_code + unit_valid_from, since
codes are reused) and each final week W of the input, and for each indicator
(`received`, `on_time_rate`):

* history = the unit's values in the `lookback_weeks` calendar weeks before W
  (default 8) that have data: a listed row for `received`; for `on_time_rate` a
  row whose timeliness_base reaches `min_denominator` (a rate of 3 dossiers is
  noise). Provisional weeks (the week in progress) are neither tested nor used as
  history unless `include_provisional` is set, since a partial week always looks
  like a drop. So is a week that ended but that the data do not reach to its
  Friday (`cutoff`, the latest event time in the data, is earlier): history loaded
  up to a Wednesday, or an export cut mid-week, would make every unit drop in its
  last week. Once rows of its later days arrive, the week is scored again and tested.
* with at least `min_history_weeks` (default 4) such weeks:
  z = (value − median) / (mad_scale × max(MAD, mad_floor, mad_floor_relative × |median|))
  with MAD the median absolute deviation of the history and mad_scale 1.4826 (so a
  normal history's MAD scales like its standard deviation). The floor keeps a flat
  history (MAD 0) from turning any change into an alarm.
* z ≤ drop_z is a `drop`, z ≥ spike_z a `spike` (per indicator; null disables).
  Defaults: received drops at z ≤ −3 and spikes at z ≥ 4 (a count's upper tail is
  longer: see config/quality.yaml); on_time_rate drops at z ≤ −3 (an improvement
  is no warning).

Band at risk (`band_at_risk`). A unit's month so far (the provisional month) is at
risk when its score rounded to 2 decimals is below the floor of the band it held
last month, or less than `margin_points` (default 2) above it. The lowest band has
no floor, so a unit in it is never at risk. Only units whose month so far already
has received + timeliness_base ≥ `min_volume` (default: the profile's min_volume)
are considered, so the first days of a month do not raise noise.

Both return the same columns (WARNING_SCHEMA); for a band at risk `indicator` is
`score`, `value` the rounded month-so-far score, `baseline` the band's floor and
`z` null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import polars as pl

from dashboards.format import fmt_num, period_label
from quality.settings import load_quality_config
from transforms.periods import index_expr, week_reached
from transforms.profile import RATE_CATALOGUE, Profile
from transforms.schema import level_order
from transforms.score import round_score

UNIT_KEY = ["unit_code", "unit_valid_from"]

WARNING_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "unit_name": pl.Utf8(),
    "level": pl.Utf8(),
    "indicator": pl.Utf8(),
    "value": pl.Float64(),
    "baseline": pl.Float64(),
    "z": pl.Float64(),
    "kind": pl.Utf8(),
    "message_vi": pl.Utf8(),
    "message_en": pl.Utf8(),
}

# the counts a warning can watch; rates are labelled by the catalogue
COUNT_LABELS = {"received": ("Số hồ sơ tiếp nhận", "Dossiers received")}


def indicator_label(indicator: str) -> tuple[str, str]:
    """(Vietnamese, English) name of a watched count or rate."""
    if indicator in COUNT_LABELS:
        return COUNT_LABELS[indicator]
    rate = next((r for r in RATE_CATALOGUE if r.name == indicator), None)
    return (rate.label_vi, rate.label_en) if rate else (indicator, indicator)


def _fmt(indicator: str, x: float) -> str:
    """A value as every page writes it (dashboards.format: `1.234,5`, `89,2 %`)."""
    if indicator.endswith("_rate"):
        return f"{fmt_num(100 * x, 1)} %"
    return fmt_num(x, 0 if float(x).is_integer() else 1)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=WARNING_SCHEMA)


def _indicator_values(weeks: pl.DataFrame, indicator: str, settings: Mapping[str, Any]) -> pl.DataFrame:
    value = pl.col(indicator).cast(pl.Float64)
    min_den = settings.get("min_denominator")
    if indicator == "on_time_rate" and min_den:
        value = pl.when(pl.col("timeliness_base") >= min_den).then(value)
    return weeks.select(*UNIT_KEY, "_widx", value=value)


def _robust_z(
    weeks: pl.DataFrame, indicator: str, settings: Mapping[str, Any], cfg: Mapping[str, Any]
) -> pl.DataFrame:
    """Per (unit, week): value, history median, MAD, history size and z."""
    lookback = int(cfg["lookback_weeks"])
    values = _indicator_values(weeks, indicator, settings)
    history = (
        values.drop_nulls("value")
        .with_columns(_lag=pl.int_ranges(1, lookback + 1))
        .explode("_lag")
        .with_columns(_widx=pl.col("_widx") + pl.col("_lag"))
        .group_by(*UNIT_KEY, "_widx")
        .agg(hist=pl.col("value"))
        .with_columns(
            baseline=pl.col("hist").list.eval(pl.element().median()).list.first(),
            mad=pl.col("hist").list.eval((pl.element() - pl.element().median()).abs().median()).list.first(),
            n_hist=pl.col("hist").list.len(),
        )
        .drop("hist")
    )
    floor = pl.max_horizontal(
        pl.col("mad"),
        pl.lit(float(settings.get("mad_floor") or 0.0)),
        float(settings.get("mad_floor_relative") or 0.0) * pl.col("baseline").abs(),
    )
    scale = float(cfg["mad_scale"]) * floor
    return (
        values.join(history, on=[*UNIT_KEY, "_widx"], how="inner")
        .filter(pl.col("value").is_not_null() & (pl.col("n_hist") >= int(cfg["min_history_weeks"])))
        .with_columns(
            z=pl.when(scale > 0).then((pl.col("value") - pl.col("baseline")) / scale)
        )
    )


def early_warnings(
    weekly: pl.DataFrame,
    config: Mapping[str, Any] | str | None = None,
    *,
    period_keys: list[str] | None = None,
    cutoff: datetime | None = None,
) -> pl.DataFrame:
    """Warnings for weekly scoreboard rows (all weeks given; `period_keys` keeps only
    the warnings of those weeks). `weekly` must hold the history too: the
    `lookback_weeks` weeks before each week tested. `config`: the mapping of
    config/quality.yaml (or a path to one; None: that file). `cutoff`: the latest
    event time in the data (a week it does not reach to its Friday is partial)."""
    cfg_all = load_quality_config(config)
    cfg = cfg_all["early_warning"]
    weeks = weekly.filter(pl.col("period_type") == "week")
    if not cfg.get("include_provisional", False):
        if "provisional" in weeks.columns:
            weeks = weeks.filter(~pl.col("provisional").fill_null(False))
        if cutoff is not None:
            weeks = weeks.filter(week_reached("period_start", cutoff))
    if weeks.height == 0:
        return _empty()
    weeks = weeks.with_columns(_widx=index_expr("week", "period_start"))
    names = weeks.select(*UNIT_KEY, "_widx", "period_key", "unit_name", "level")
    parts = []
    for indicator, settings in (cfg.get("indicators") or {}).items():
        if indicator not in weeks.columns:
            continue
        scored = _robust_z(weeks, indicator, settings, cfg)
        drop_z, spike_z = settings.get("drop_z"), settings.get("spike_z")
        kind = pl.lit(None, dtype=pl.Utf8)
        if spike_z is not None:
            kind = pl.when(pl.col("z") >= float(spike_z)).then(pl.lit("spike")).otherwise(kind)
        if drop_z is not None:
            kind = pl.when(pl.col("z") <= float(drop_z)).then(pl.lit("drop")).otherwise(kind)
        flagged = scored.with_columns(kind=kind).filter(pl.col("kind").is_not_null())
        if flagged.height:
            parts.append(flagged.with_columns(indicator=pl.lit(indicator)))
    if not parts:
        return _empty()
    out = pl.concat(parts, how="diagonal_relaxed").join(names, on=[*UNIT_KEY, "_widx"], how="left")
    if period_keys is not None:
        out = out.filter(pl.col("period_key").is_in(list(period_keys)))
    vi, en = [], []
    lookback = int(cfg["lookback_weeks"])
    for row in out.iter_rows(named=True):
        label_vi, label_en = indicator_label(row["indicator"])
        z = fmt_num(row["z"], 1)
        v, b = _fmt(row["indicator"], row["value"]), _fmt(row["indicator"], row["baseline"])
        # the week as every page names it inside a sentence: tuần 07/2024 (12/02–18/02/2024)
        week_vi, week_en = (period_label("week", row["period_key"], lang, mid=True) for lang in ("vi", "en"))
        hist_vi, hist_en = _history_words(row["n_hist"], lookback)
        if row["kind"] == "drop":
            vi.append(f"{label_vi} {week_vi} giảm bất thường: {v}, so với trung vị {b} {hist_vi} (z = {z}).")
            en.append(f"{label_en} in {week_en} dropped sharply: {v} against a median of {b} {hist_en} (z = {z}).")
        else:
            vi.append(f"{label_vi} {week_vi} tăng bất thường: {v}, so với trung vị {b} {hist_vi} (z = {z}).")
            en.append(f"{label_en} in {week_en} jumped: {v} against a median of {b} {hist_en} (z = {z}).")
    out = out.with_columns(
        period_type=pl.lit("week"),
        message_vi=pl.Series(vi, dtype=pl.Utf8),
        message_en=pl.Series(en, dtype=pl.Utf8),
    )
    return _finish(out)


def _history_words(n_hist: int, lookback: int) -> tuple[str, str]:
    """The weeks the median is of (_robust_z's history): those of the `lookback` weeks
    before the week that have enough data (a listed row; for a rate, enough dossiers
    in its base), all of them or some."""
    weeks_en = "week" if lookback == 1 else "weeks"
    if n_hist == lookback:
        return f"của {lookback} tuần trước đó", f"over the previous {lookback} {weeks_en}"
    return (f"của {n_hist} tuần có đủ dữ liệu trong {lookback} tuần trước đó",
            f"over the {n_hist} {'week' if n_hist == 1 else 'weeks'} with enough data "
            f"among the previous {lookback} {weeks_en}")


def _finish(out: pl.DataFrame) -> pl.DataFrame:
    return (
        out.with_columns(_lo=level_order())
        .sort(["period_type", "period_key", "_lo", "unit_code", "unit_valid_from", "indicator"])
        .select([pl.col(c).cast(t) for c, t in WARNING_SCHEMA.items()])
    )


def band_at_risk(
    monthly_partial: pl.DataFrame,
    previous_month: pl.DataFrame,
    profile: Profile,
    config: Mapping[str, Any] | str | None = None,
) -> pl.DataFrame:
    """Units whose month so far (`monthly_partial`: scoreboard rows of the month in
    progress) scores below, or within `margin_points` above, the floor of the band
    they held in `previous_month` (scoreboard rows of the month before). Where
    `monthly_partial`'s rows say `provisional` false (a closed month, as the alert
    digest asks), the sentences name its score final, not "so far"."""
    cfg = load_quality_config(config)["band_at_risk"]
    margin = float(cfg.get("margin_points") or 0.0)
    min_volume = cfg.get("min_volume")
    min_volume = profile.min_volume if min_volume is None else int(min_volume)
    floors = {b.label: b.min_score for b in profile.bands}
    labels_en = {b.label: b.label_en for b in profile.bands}
    # a band held is a band ranked in: a unit listed unranked (too few dossiers, or only
    # for late dossiers after the reform ended it) held no band to lose
    prev = previous_month.filter(pl.col("band").is_not_null() & pl.col("ranked").fill_null(False)).select(
        *UNIT_KEY, prev_key="period_key", prev_band="band",
        floor=pl.col("band").replace_strict(floors, default=None, return_dtype=pl.Float64),
    ).filter(pl.col("floor").is_not_null())
    current = monthly_partial.filter(
        pl.col("score").is_not_null()
        & ((pl.col("received") + pl.col("timeliness_base")) >= min_volume)
    ).with_columns(value=round_score(pl.col("score")))
    at_risk = current.join(prev, on=UNIT_KEY, how="inner").filter(
        pl.col("value") < pl.col("floor") + margin
    )
    if at_risk.height == 0:
        return _empty()
    vi, en = zip(*[_risk_sentences(row, labels_en) for row in at_risk.iter_rows(named=True)])
    out = at_risk.with_columns(
        period_type=pl.lit("month"),
        indicator=pl.lit("score"),
        baseline=pl.col("floor"),
        z=pl.lit(None, dtype=pl.Float64),
        kind=pl.lit("band_at_risk"),
        message_vi=pl.Series(list(vi), dtype=pl.Utf8),
        message_en=pl.Series(list(en), dtype=pl.Utf8),
    )
    return _finish(out)


def _risk_sentences(row: dict, labels_en: dict[str, str]) -> tuple[str, str]:
    """What a band at risk says, in Vietnamese and English: the months as every page
    names them inside a sentence (tháng 08/2025), and a closed month's score as final, not "so far"."""
    v = fmt_num(row["value"], 2)
    f = fmt_num(row["floor"], 0 if float(row["floor"]).is_integer() else 2)
    band, band_en = row["prev_band"], labels_en.get(row["prev_band"], row["prev_band"])
    month_vi, month_en = (period_label("month", row["period_key"], lang, mid=True) for lang in ("vi", "en"))
    prev_vi, prev_en = (period_label("month", row["prev_key"], lang, mid=True) for lang in ("vi", "en"))
    final = row.get("provisional") is False
    score_vi, score_en = ("Điểm", "The score") if final else ("Điểm tạm tính", "The month-so-far score")
    if row["value"] < row["floor"]:
        return (f"{score_vi} {month_vi} là {v}, dưới ngưỡng {f} của xếp loại {band} đạt được {prev_vi}.",
                f"{score_en} for {month_en} is {v}, below the {f} floor of the band {band} ({band_en}) "
                f"held in {prev_en}.")
    gap = fmt_num(row["value"] - row["floor"], 2)
    return (f"{score_vi} {month_vi} là {v}, chỉ cao hơn ngưỡng {f} của xếp loại {band} ({prev_vi}) {gap} điểm.",
            f"{score_en} for {month_en} is {v}, only {gap} points above the {f} floor of the band {band} "
            f"({band_en}) held in {prev_en}.")


def months_in_progress_at_risk(
    months: pl.DataFrame,
    period_keys: list[str],
    profile: Profile,
    config: Mapping[str, Any] | str | None = None,
) -> pl.DataFrame:
    """`band_at_risk` for each month of `period_keys` still in progress (provisional
    rows in `months`), against the month before it in `months` (monthly scoreboard
    rows). A closed month is not at risk: its band is settled."""
    months = months.filter(pl.col("period_type") == "month")
    in_progress = months.filter(pl.col("provisional") & pl.col("period_key").is_in(list(period_keys)))
    known = sorted(months["period_key"].unique().to_list())
    parts = []
    for key in sorted(in_progress["period_key"].unique().to_list()):
        position = known.index(key)
        if position == 0:
            continue
        previous = known[position - 1]
        parts.append(
            band_at_risk(
                months.filter(pl.col("period_key") == key),
                months.filter(pl.col("period_key") == previous),
                profile,
                config,
            )
        )
    return pl.concat(parts) if parts else _empty()


def warning_summary(warnings: pl.DataFrame, against: str = "median") -> pl.DataFrame:
    """The warnings as the office reads them in a check's metadata: period, unit, indicator, value, what it is
    compared with (`against`: the unit's median, or for a band at risk the band's
    floor), z and the reason in both languages."""
    rate = pl.col("indicator").str.ends_with("_rate")
    return warnings.select(
        period="period_key",
        unit_code="unit_code",
        unit_name="unit_name",
        indicator="indicator",
        kind="kind",
        value=pl.when(rate).then(pl.col("value").round(3)).otherwise(pl.col("value").round(2)),
        **{against: pl.when(rate).then(pl.col("baseline").round(3)).otherwise(pl.col("baseline").round(2))},
        z=pl.col("z").round(1),
        reason_vi="message_vi",
        reason_en="message_en",
    )
