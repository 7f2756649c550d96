"""History rewrite: a file that changes many dossiers already final in closed periods
at once (a re-export that rewrites history).

A stored dossier is final in a closed period when it is closed (finished or refused)
and its last event falls before the current month. A file rewrites it when its copy
would be kept in place of the stored one (its file replaces the stored copy's file, or
it wins the choice of transforms.dedup: an older export arriving late changes nothing,
whatever order files come in) and changes the receipt, the procedure, the unit, an end already recorded (finish,
return, refusal), the status (but 9 → 10, the result handed over), or moves the due
date by more than `due_tolerance_days` (offices move it a few days for a supplement
request). A file's unit drifts when it rewrites at least `min_dossiers` such
dossiers and more than `max_share` of those of them it carries."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from quality.drift.common import FILE_UNIT, findings, no_findings, number, share
from transforms.classify import classify
from transforms.dedup import select_latest

CHECK = "batch_history_rewrite"
# field → its label in the reason (Vietnamese, English)
FIELDS = {
    "received_at": ("ngày tiếp nhận", "receipt"),
    "due_at": ("ngày hẹn trả", "due date"),
    "finished_at": ("ngày kết thúc xử lý", "finish"),
    "returned_at": ("ngày trả kết quả", "return"),
    "rejected_at": ("ngày từ chối", "refusal"),
    "status": ("trạng thái", "status"),
    "unit_code": ("đơn vị", "unit"),
    "procedure_code": ("thủ tục", "procedure"),
}
COMPARED = tuple(FIELDS)


def _changed(field: str, tolerance_days: float) -> pl.Expr:
    old, new = pl.col(f"{field}_stored"), pl.col(field)
    differs = old.ne_missing(new)
    if field == "due_at":
        moved = (new - old).dt.total_seconds().abs() > tolerance_days * 86_400
        return old.is_not_null() & (new.is_null() | moved)
    if field == "status":
        return differs & ~((old == 9) & (new == 10))
    if field in ("finished_at", "returned_at", "rejected_at"):
        return old.is_not_null() & differs  # a first end recorded is progress, not a rewrite
    return differs


def final_in_closed_periods(stored: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """The stored dossiers that are closed and whose last event is before this month."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = pl.max_horizontal("received_at", "finished_at", "returned_at", "rejected_at")
    return classify(stored).filter((pl.col("kind") != "pending") & (last < month_start))


def replacing(batch: pl.DataFrame, stored: pl.DataFrame) -> pl.Expr:
    """Whether each row of `batch` (by dossier_id, source_file, source_row) would be the
    kept copy of its dossier against the `stored` one: its file is the stored copy's
    own (a corrected file replaces what its path gave), or it wins select_latest."""
    key = ["dossier_id", "source_file", "source_row"]
    same_file = batch.join(stored.select("dossier_id", "source_file"), on=["dossier_id", "source_file"], how="semi")
    rest = batch.join(same_file.select("dossier_id").unique(), on="dossier_id", how="anti")
    contest = pl.concat([stored.join(rest.select("dossier_id").unique(), on="dossier_id", how="semi")
                         .select(rest.columns), rest], how="vertical_relaxed")
    winners, _ = select_latest(contest)
    kept = pl.concat([same_file.select(key), winners.join(rest.select(key), on=key, how="semi").select(key)])
    return pl.struct(key).is_in(kept.select(pl.struct(key)).to_series().implode())


def history_rewrite(batch: pl.DataFrame, stored: pl.DataFrame, now: datetime, config: dict) -> pl.DataFrame:
    """Findings for the files that rewrite many final dossiers of closed periods.
    `stored`: the stored copies of the files' dossier ids (the kept ones)."""
    cfg = config["drift"]["history_rewrite"]
    if stored.is_empty():
        return no_findings()
    final = final_in_closed_periods(stored, now).select(
        "dossier_id", *[pl.col(c).alias(f"{c}_stored") for c in COMPARED]
    )
    tolerance = float(cfg["due_tolerance_days"])
    kept = replacing(batch, stored)
    matched = batch.with_columns(kept=kept).join(final, on="dossier_id").with_columns(
        **{f"{c}_changed": _changed(c, tolerance) & pl.col("kept") for c in COMPARED}
    ).with_columns(rewritten=pl.any_horizontal(*[f"{c}_changed" for c in COMPARED]))
    per_unit = (
        matched.group_by(FILE_UNIT)
        .agg(
            final=pl.col("dossier_id").n_unique(),
            rows=pl.col("dossier_id").filter("rewritten").n_unique(),
            *[pl.col(f"{c}_changed").sum().alias(f"n_{c}") for c in COMPARED],
        )
        .filter(
            (pl.col("rows") >= int(cfg["min_dossiers"]))
            & (pl.col("rows") > float(cfg["max_share"]) * pl.col("final"))
        )
        .with_columns(usual=pl.col("final").cast(pl.Float64), observed=pl.col("rows").cast(pl.Float64))
        .sort(FILE_UNIT)
    )

    def fields(r: dict, lang: int) -> str:
        counts = sorted(((r[f"n_{c}"], c) for c in COMPARED if r[f"n_{c}"]), key=lambda t: (-t[0], t[1]))
        return ", ".join(f"{FIELDS[c][lang]} {number(n, 'vi' if lang == 0 else 'en')}" for n, c in counts)

    def vi(r: dict) -> str:
        return (
            f"Tệp viết lại {number(r['rows'], 'vi')} hồ sơ đã kết thúc của các kỳ đã đóng "
            f"({share(r['rows'] / r['final'], 'vi')} trong {number(r['final'], 'vi')} hồ sơ như vậy có trong tệp; "
            f"thường lệ một tệp cập nhật không sửa hồ sơ đã kết thúc); thay đổi: {fields(r, 0)}."
        )

    def en(r: dict) -> str:
        return (
            f"The file rewrites {number(r['rows'], 'en')} dossiers already final in closed periods "
            f"({share(r['rows'] / r['final'], 'en')} of the {number(r['final'], 'en')} such dossiers it carries; "
            f"an update usually leaves final dossiers alone); changed: {fields(r, 1)}."
        )

    return findings(per_unit, CHECK, vi, en)
