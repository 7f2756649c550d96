"""Received volume and status mix far from the unit's usual (a file that repeats a
month under new dossier numbers; a file that marks everything finished).

Volume. The dossiers a file adds (ids no stored file has, counted once across the
files of a run, in the order of their names) are counted per unit and month of
receipt, on top of what is stored for that month. That total is compared with the
unit's usual for the month: the median per working day of its months around it (up
to `lookback_months` either side, those with data, at least `min_history_months`)
times the month's working days. It drifts when it is at least `max_ratio` × the
usual, `min_excess` dossiers above it, and `spike_z` spreads above it. The spread
is mad_scale × their MAD, but at least `mad_floor_relative` × the median and the
counts' own Poisson noise, that of the month and that of a median of few months
(three months can have a MAD of 0 and a median a standard deviation low).

Status mix. What a file shows of the dossiers it received in its last `young_days`
days (before its latest event time, the moment it was exported) is compared with
what the unit's earlier files showed of theirs: it drifts when at least
`min_closed_share` of them are already closed (finished or refused), that is
`min_gap` above the median of the unit's earlier files (at least
`min_history_files` of them with 5 or more such dossiers), and so many closed ones
would happen by chance at most `max_chance` of the time if the usual share held
(binomial tail: 21 of 21 closed where 70 % usually are is 1 in 1 800, not enough)."""

from __future__ import annotations

import math

import polars as pl

from quality.drift.common import FILE_UNIT, UNIT_KEY, findings, median_and_mad, month_label, no_findings, number, share
from transforms.classify import classify
from transforms.periods import index_expr

VOLUME = "batch_volume"
STATUS_MIX = "batch_status_mix"
MONTH_COUNTS = {"unit_code": pl.Utf8(), "unit_valid_from": pl.Date(), "month": pl.Date(), "n": pl.Int64()}
# an earlier file counts as history of the status mix with at least this many young dossiers
MIN_YOUNG_PER_FILE = 5
# the variance of the median of n draws is about π/2 times that of their mean
MEDIAN_VARIANCE = math.pi / 2


def new_by_month(batch: pl.DataFrame, known_ids: pl.DataFrame) -> pl.DataFrame:
    """(file, unit, month, new, added): the dossiers each file adds per unit and month,
    and what the files up to it (by name) add together."""
    first = (
        batch.filter(~pl.col("dossier_id").is_in(known_ids["dossier_id"].implode()))
        .sort("source_file", "dossier_id")
        .unique("dossier_id", keep="first", maintain_order=True)
        .with_columns(month=pl.col("received_at").dt.truncate("1mo").dt.date())
    )
    return (
        first.group_by(*FILE_UNIT, "month")
        .agg(new=pl.len())
        .sort("source_file")
        .with_columns(added=pl.col("new").cum_sum().over(*UNIT_KEY, "month"))
    )


def working_days_by_month(calendar: pl.DataFrame) -> pl.DataFrame:
    """(month, days): the working days of each month the calendar covers whole."""
    return (
        calendar.group_by(month=pl.col("date").dt.truncate("1mo"))
        .agg(days=pl.col("is_working_day").sum().cast(pl.Float64), n=pl.len(),
             whole=pl.col("date").max().dt.month_end() == pl.col("date").max())
        .filter(pl.col("whole") & (pl.col("n") >= 28) & (pl.col("days") > 0))
        .select("month", "days")
    )


def volume(
    batch: pl.DataFrame, known_ids: pl.DataFrame, stored_months: pl.DataFrame, calendar: pl.DataFrame, config: dict
) -> pl.DataFrame:
    """Findings for the files that would push a unit's month far above its usual.
    `known_ids`: the dossier ids already stored (by files this run does not replace);
    `stored_months`: MONTH_COUNTS of those stored ids, around the files' months;
    `calendar`: transforms.calendar.working_calendar over those months (a month is
    compared per working day: Tết or a month of holidays is not a drop)."""
    cfg = config["drift"]["volume"]
    if stored_months.is_empty():
        return no_findings()
    added = new_by_month(batch, known_ids)
    if added.is_empty():
        return no_findings()
    days = working_days_by_month(calendar)
    stored = stored_months.join(days, on="month").with_columns(midx=index_expr("month", "month"))
    lookback = int(cfg["lookback_months"])
    history = (
        added.select(*UNIT_KEY, "month").unique()
        .join(days, on="month")
        .with_columns(midx=index_expr("month", "month"))
        .join(stored.select(*UNIT_KEY, hidx="midx", rate=pl.col("n") / pl.col("days")), on=UNIT_KEY)
        .filter((pl.col("hidx") != pl.col("midx")) & ((pl.col("hidx") - pl.col("midx")).abs() <= lookback)
                & (pl.col("rate") > 0))
    )
    med, mad = median_and_mad(pl.col("rate"))
    # the month's usual count: the median daily rate of the months around, times its working days
    usual = history.group_by(*UNIT_KEY, "month").agg(
        months=pl.len(), days=pl.col("days").first(), usual=med * pl.col("days").first(),
        mad=mad * pl.col("days").first(),
    )
    # never below the counts' own noise: the month's (a Poisson count's variance is
    # itself) and the median's, of `months` such counts (π/2 × the variance of one / n)
    noise = (pl.col("observed") + MEDIAN_VARIANCE * pl.col("usual") / pl.col("months")).sqrt()
    spread = pl.max_horizontal(
        float(config["drift"]["mad_scale"]) * pl.col("mad"), float(cfg["mad_floor_relative"]) * pl.col("usual"), noise
    )
    scored = (
        added.join(stored.select(*UNIT_KEY, "month", stored="n"), on=[*UNIT_KEY, "month"], how="left")
        .join(usual.filter(pl.col("months") >= int(cfg["min_history_months"])), on=[*UNIT_KEY, "month"])
        .with_columns(observed=(pl.col("stored").fill_null(0) + pl.col("added")).cast(pl.Float64))
        .with_columns(z=(pl.col("observed") - pl.col("usual")) / spread)
        .filter(
            (pl.col("observed") >= float(cfg["max_ratio"]) * pl.col("usual"))
            & (pl.col("observed") - pl.col("usual") >= int(cfg["min_excess"]))
            & (pl.col("z") >= float(cfg["spike_z"]))
        )
        .sort("z", descending=True)
        .group_by(FILE_UNIT, maintain_order=True)
        .first()
        .rename({"new": "rows"})
        .sort(FILE_UNIT)
    )

    def vi(r: dict) -> str:
        return (
            f"Số hồ sơ tiếp nhận tháng {month_label(r['month'])} của đơn vị sẽ là {number(r['observed'], 'vi')}, "
            f"gấp {number(r['observed'] / r['usual'], 'vi', 1)} lần mức thường lệ ({number(r['usual'], 'vi')} hồ sơ "
            f"cho {number(r['days'], 'vi')} ngày làm việc của tháng, theo trung vị mỗi ngày của {r['months']} tháng gần đó): "
            f"tệp thêm {number(r['rows'], 'vi')} hồ sơ mới vào tháng này."
        )

    def en(r: dict) -> str:
        return (
            f"Dossiers received in {month_label(r['month'])} would be {number(r['observed'], 'en')}, "
            f"{number(r['observed'] / r['usual'], 'en', 1)} times the unit's usual ({number(r['usual'], 'en')} for the "
            f"month's {number(r['days'], 'en')} working days, at the median daily rate of {r['months']} nearby months): "
            f"the file adds {number(r['rows'], 'en')} new dossiers to that month."
        )

    return findings(scored, VOLUME, vi, en)


def young_dossiers(rows: pl.DataFrame, young_days: int) -> pl.DataFrame:
    """The rows of each file received in its last `young_days` days, with `closed`
    (finished or refused, as transforms.classify reads it). The file's moment is its
    latest event time."""
    events = ["received_at", "finished_at", "returned_at", "rejected_at"]
    moment = pl.max_horizontal(*events).max().over("source_file")
    return classify(
        rows.filter(pl.col("received_at") >= moment - pl.duration(days=young_days))
    ).with_columns(closed=pl.col("kind") != "pending")


def at_least(k: int, n: int, p: float) -> float:
    """The chance of k or more successes in n draws of probability p (binomial tail)."""
    if p >= 1:
        return 1.0
    if p <= 0:
        return float(k <= 0)
    return min(1.0, sum(
        math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                 + i * math.log(p) + (n - i) * math.log1p(-p))
        for i in range(k, n + 1)
    ))


def status_mix(batch: pl.DataFrame, earlier: pl.DataFrame, config: dict) -> pl.DataFrame:
    """Findings for the files' units whose recent dossiers are (almost) all closed where
    the unit's earlier files showed many of theirs still open. `earlier`: the young
    rows of the units' earlier files (`young_dossiers` of them, or the rows to take
    them from)."""
    cfg = config["drift"]["status_mix"]
    if earlier.is_empty():
        return no_findings()
    young_days = int(cfg["young_days"])
    shares = (
        young_dossiers(earlier, young_days).group_by(FILE_UNIT)
        .agg(n=pl.len(), closed=pl.col("closed").mean())
        .filter(pl.col("n") >= MIN_YOUNG_PER_FILE)
        .group_by(UNIT_KEY)
        .agg(files=pl.len(), usual=pl.col("closed").median())
        .filter(pl.col("files") >= int(cfg["min_history_files"]))
    )
    candidates = (
        young_dossiers(batch, young_days).group_by(FILE_UNIT)
        .agg(rows=pl.len(), closed=pl.col("closed").sum(), observed=pl.col("closed").mean())
        .join(shares, on=UNIT_KEY)
        .filter(
            (pl.col("rows") >= int(config["drift"]["min_rows"]))
            & (pl.col("observed") >= float(cfg["min_closed_share"]))
            & (pl.col("observed") - pl.col("usual") >= float(cfg["min_gap"]))
        )
        .sort(FILE_UNIT)
    )
    chance = [at_least(r["closed"], r["rows"], r["usual"]) for r in candidates.iter_rows(named=True)]
    drifting = candidates.filter(pl.Series(chance, dtype=pl.Float64) <= float(cfg["max_chance"]))

    def vi(r: dict) -> str:
        return (
            f"Cơ cấu trạng thái bất thường: {share(r['observed'], 'vi')} trong {number(r['rows'], 'vi')} hồ sơ tiếp nhận "
            f"trong {young_days} ngày cuối của tệp đã kết thúc, thường lệ {share(r['usual'], 'vi')} "
            f"(trung vị của {r['files']} tệp trước)."
        )

    def en(r: dict) -> str:
        return (
            f"Status mix far from usual: {share(r['observed'], 'en')} of the {number(r['rows'], 'en')} dossiers received in the "
            f"file's last {young_days} days are already closed, usually {share(r['usual'], 'en')} "
            f"(median of {r['files']} earlier files)."
        )

    return findings(drifting, STATUS_MIX, vi, en)
