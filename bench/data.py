"""Synthetic landing exports for the benchmark: millions of Hà Nội dossiers, fast.

Vectorised numpy/polars only (10 million dossiers take about a minute). The shape
is the common one-stop-shop CSV export: UTF-8 with BOM, Vietnamese headers, an STT
column and an applicant column (both dropped by the pipeline), status, channel,
booleans and ratings as Vietnamese labels, times as ``dd/mm/yyyy HH:MM`` and the
due date as ``dd/mm/yyyy``.

* Receipts are spread over working days (weekends and holidays almost empty, Tết
  and year-end seasonality, +8 % a year), 07:30–17:00.
* Units are picked among the registry units valid on the receipt date, so before
  2025-07-01 dossiers go to the old districts and communes, after to the 126 new
  units. Districts also receive dossiers themselves.
* One file per exporting system and month: a district's system exports its own
  dossiers and its communes'; a unit without a parent exports its own
  (``landing/<exporter>/<yyyy-mm>.csv``, ~2,400 files for 5 years). A month is
  exported on the 3rd of the next month at 08:00; what the file says is the
  dossier's state then: ~85 % finished (~8 % of them overdue), 5 % rejected,
  10 % still pending.
* ~1 % of the dossiers (pending at their first export) appear again in the next
  month's file of the same system, now finished: duplicate rows with an updated
  status, which deduplication must resolve to the later copy.
* No deliberately bad rows: every row is accepted, so the pipeline, the DuckDB
  floor and the pandas baseline count exactly the same dossiers.

`ensure_history` caches under ``<out>/data/n<N>-y<Y>-s<seed>/``; a ``meta.json``
written last marks a complete set. `ensure_increment` adds one week of exports
(new dossiers plus updates of recently pending ones) in a separate folder.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from config import config_path
from transforms.calendar import working_calendar
from transforms.units import load_registry
from transforms.generate import CHANNEL_LABELS, STATUS_LABELS  # the labels exports use

# Canonical field -> the export's header (all recognised by config/header_aliases.csv,
# except STT and Chủ hồ sơ, which the pipeline must drop).
HEADERS = {
    "stt": "STT",
    "dossier_id": "Mã hồ sơ",
    "unit_code": "Mã đơn vị",
    "unit_name": "Đơn vị tiếp nhận",
    "procedure_code": "Mã TTHC",
    "procedure_name": "Tên TTHC",
    "applicant": "Chủ hồ sơ",
    "channel": "Hình thức nộp",
    "status": "Trạng thái",
    "submitted_at": "Ngày nộp",
    "received_at": "Ngày tiếp nhận",
    "due_at": "Ngày hẹn trả",
    "finished_at": "Ngày kết thúc xử lý",
    "returned_at": "Ngày trả kết quả",
    "rejected_at": "Ngày từ chối",
    "supplement_count": "Số lần bổ sung",
    "fee_required": "Có phí",
    "paid_online": "Thanh toán trực tuyến",
    "digitized": "Số hóa",
    "e_result": "Kết quả điện tử",
    "synced": "Đồng bộ DVCQG",
    "apology_issued": "Phiếu xin lỗi",
    "rating": "Mức độ hài lòng",
    "complaint": "Phản ánh",
}
TIME_FORMAT = "%d/%m/%Y %H:%M"
DATE_FORMAT = "%d/%m/%Y"
RATING_LABELS = {"satisfied": "Hài lòng", "neutral": "Bình thường", "dissatisfied": "Không hài lòng"}
YES, NO = "Có", "Không"
BOOL_FIELDS = ("fee_required", "paid_online", "digitized", "e_result", "synced", "apology_issued", "complaint")
TIME_FIELDS = ("submitted_at", "received_at", "finished_at", "returned_at", "rejected_at")

MONTH_FACTOR = np.array([1.10, 0.80, 1.00, 1.00, 1.00, 1.05, 0.92, 0.97, 1.00, 1.00, 1.02, 1.10])
EPOCH = np.datetime64("1970-01-01", "D")
MIN_PER_DAY = 1440
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
GIVEN = ["Văn An", "Thị Bình", "Đức Cường", "Thu Hà", "Minh Hải", "Ngọc Lan", "Quang Huy",
         "Thị Mai", "Văn Nam", "Thanh Tâm", "Hữu Tuấn", "Phương Thảo", "Xuân Trường", "Kim Yến"]


def history_range(years: int) -> tuple[date, date]:
    """`years` whole years ending 2025-12-31 (5 → 2021-01-01 … 2025-12-31)."""
    return date(2026 - years, 1, 1), date(2025, 12, 31)


def dataset_dir(out: Path, n: int, years: int, seed: int) -> Path:
    return Path(out) / "data" / f"n{n}-y{years}-s{seed}"


@dataclass
class Dataset:
    root: Path
    landing: Path
    meta: dict

    @property
    def n(self) -> int:
        return self.meta["dossiers"]


# ------------------------------------------------------------------ helpers


def _day(d: date) -> int:
    return (np.datetime64(d, "D") - EPOCH).astype(np.int64).item()


def _month_index(days: np.ndarray) -> np.ndarray:
    """year*12 + month-1 of day numbers."""
    m = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return m + 1970 * 12


def _month_start_day(month_idx: np.ndarray) -> np.ndarray:
    return (month_idx - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _export_minute(month_idx: np.ndarray) -> np.ndarray:
    """A month's export runs on the 3rd of the next month at 08:00."""
    return (_month_start_day(month_idx + 1) + 2) * MIN_PER_DAY + 8 * 60


class _Calendar:
    """Working days as numpy arrays, from transforms.calendar (holidays + overlay)."""

    def __init__(self, start: date, end: date) -> None:
        cal = working_calendar(start, end)
        self.first = _day(start)
        self.working = cal["is_working_day"].to_numpy()
        through = cal["working_days_before"].to_numpy() + self.working.astype(np.int64)
        self.through = through
        self.working_days = np.flatnonzero(self.working) + self.first  # k-th working day → day

    def add_working_days(self, day: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The n-th working day after `day` (n = 0: the day itself)."""
        k = self.through[day - self.first] + n - 1
        out = self.working_days[np.clip(k, 0, len(self.working_days) - 1)]
        return np.where(n == 0, day, out)

    def is_working(self, day: np.ndarray) -> np.ndarray:
        return self.working[day - self.first]


def _registry(registry_path: Path | None) -> pl.DataFrame:
    reg = load_registry(registry_path or config_path("registry", "hanoi.csv"))
    return reg.with_row_index("unit_idx")


def _procedures() -> pl.DataFrame:
    return pl.read_csv(config_path("procedures.csv"), infer_schema=False).with_columns(
        pl.col("processing_days").cast(pl.Int64),
        pl.col("weight").cast(pl.Float64),
        (pl.col("fee_required") == "true").alias("fee_required"),
    )


def _pick(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(weights) - 1)


# --------------------------------------------------------------- simulation


def _receipts(rng, n: int, start: date, end: date, cal: _Calendar) -> np.ndarray:
    """Receipt minutes (sorted) spread over the working days of [start, end]."""
    days = np.arange(_day(start), _day(end) + 1)
    weekday = (days + 3) % 7  # 0 = Monday
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.08, 0.01))
    w = np.where((weekday < 5) & ~cal.is_working(days), 0.03, w)
    w = np.where((weekday == 5) & cal.is_working(days), 1.0, w)  # Saturdays worked in exchange
    months = _month_index(days)
    w = w * MONTH_FACTOR[months % 12] * (1.0 + 0.08 * (days - days[0]) / 365.25)
    day = np.sort(days[_pick(rng, n, w)])
    return day * MIN_PER_DAY + 450 + rng.integers(0, 570, n)  # 07:30 … 17:00


def _assign_units(rng, day: np.ndarray, reg: pl.DataFrame, unit_weight: np.ndarray) -> np.ndarray:
    """A valid unit for every receipt day (day sorted): segments of constant validity."""
    vf = np.array([_day(d) for d in reg["valid_from"].to_list()])
    vt = np.array([_day(d) if d else 10**9 for d in reg["valid_to"].to_list()])
    cuts = np.unique(np.concatenate([vf, vt + 1, [day[0], day[-1] + 1]]))
    cuts = cuts[(cuts >= day[0]) & (cuts <= day[-1] + 1)]
    unit = np.empty(len(day), dtype=np.int64)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        a, b = np.searchsorted(day, lo), np.searchsorted(day, hi)
        if a == b:
            continue
        valid = np.flatnonzero((vf <= lo) & (vt >= hi - 1))
        unit[a:b] = valid[_pick(rng, b - a, unit_weight[valid])]
    return unit


def simulate(
    rng: np.random.Generator,
    received: np.ndarray,
    unit: np.ndarray,
    export_at: np.ndarray,
    reg: pl.DataFrame,
    traits: dict[str, np.ndarray],
    cal: _Calendar,
    t_frac: np.ndarray,
    *,
    pending_share: float = 0.10,
) -> dict[str, np.ndarray]:
    """Every field of the dossiers received at `received` (minutes) by `unit`, as
    known at `export_at` (minutes). Times are minutes, -1 for none."""
    n = len(received)
    procs = _procedures()
    levels = reg["level"].to_numpy()
    has_parent = reg["parent_code"].is_not_null().to_numpy()
    proc_level = procs["level"].to_numpy()
    proc_w = procs["weight"].to_numpy()
    kind_of_unit = np.where(levels[unit] == "district", 0, np.where(has_parent[unit], 1, 2))
    proc = np.empty(n, dtype=np.int64)
    for k, allowed in enumerate(({"district", "both"}, {"commune", "both"}, {"district", "commune", "both"})):
        rows = np.flatnonzero(kind_of_unit == k)
        ok = np.flatnonzero(np.isin(proc_level, list(allowed)))
        proc[rows] = ok[_pick(rng, len(rows), proc_w[ok])]
    proc_days = procs["processing_days"].to_numpy()[proc]
    fee_required = procs["fee_required"].to_numpy()[proc]

    day = received // MIN_PER_DAY
    due_day = cal.add_working_days(day, proc_days)
    has_due = rng.random(n) >= 0.02
    due_end = (due_day + 1) * MIN_PER_DAY - 1  # the last minute of the due date

    # channel: online grows from ~25 % to ~60 % over the history, unit by unit
    p_online = np.clip((0.25 + 0.35 * t_frac) * traits["online"][unit], 0.02, 0.95)
    u = rng.random(n)
    channel = np.where(u < p_online, 2, np.where(u < p_online + 0.03, 3, 1))
    submitted = np.where(channel == 2, received - rng.integers(5, 2 * MIN_PER_DAY, n), received)

    # state at export
    u = rng.random(n)
    pending = u < pending_share
    rejected = (u >= pending_share) & (u < pending_share + 0.05)
    finished = ~pending & ~rejected

    # finished: ~8 % overdue (unit-dependent), the rest within the due end
    late = finished & has_due & (rng.random(n) < np.clip(0.08 * traits["overdue"][unit], 0.0, 0.6))
    span = np.maximum(due_end - received, 30)
    frac = rng.beta(2.0, 1.6, n)
    end = np.where(
        ~has_due,
        received + rng.exponential(5 * MIN_PER_DAY, n).astype(np.int64),
        np.where(late, due_end + 60 + rng.exponential(4 * MIN_PER_DAY, n).astype(np.int64),
                 received + (frac * span).astype(np.int64)),
    )
    room = export_at - rng.integers(1, 12 * 60, n)
    end = np.maximum(np.minimum(end, room), received + 1)
    status = np.full(n, 4, dtype=np.int64)
    returned_share = rng.random(n) < 0.8
    status[finished] = np.where(returned_share[finished], 10, 9)
    finished_at = np.where(finished, end, -1)
    returned_at = np.where(
        finished & (status == 10),
        np.minimum(end + rng.integers(0, 2 * MIN_PER_DAY, n), np.maximum(room, end)),
        -1,
    )
    # rejected: refused at the counter (3), withdrawn (7), stopped (8)
    u = rng.random(n)
    rej_status = np.where(u < 0.4, 3, np.where(u < 0.7, 7, 8))
    status[rejected] = rej_status[rejected]
    rej_at = np.where(
        rej_status == 3,
        received + rng.integers(5, 120, n),
        received + rng.exponential(3 * MIN_PER_DAY, n).astype(np.int64),
    )
    rejected_at = np.where(rejected, np.maximum(np.minimum(rej_at, room), received + 1), -1)
    # pending: received, processing, waiting for documents or fees
    u = rng.random(n)
    pend_status = np.where(u < 0.2, 2, np.where(u < 0.7, 4, np.where(u < 0.9, 5, 6)))
    status[pending] = pend_status[pending]

    def tri(p_true: np.ndarray | float, p_known: float, where: np.ndarray | None = None) -> np.ndarray:
        """1 true, 0 false, -1 unknown."""
        known = rng.random(n) < p_known
        val = np.where(rng.random(n) < p_true, 1, 0)
        out = np.where(known, val, -1)
        return out if where is None else np.where(where, out, -1)

    online = channel == 2
    overdue_fin = finished & has_due & (finished_at > due_end)
    rating_u = rng.random(n)
    rated = rng.random(n) < 0.35
    return {
        "unit": unit,
        "proc": proc,
        "channel": channel,
        "status": status,
        "submitted_at": submitted,
        "received_at": received,
        "due_day": np.where(has_due, due_day, -1),
        "finished_at": finished_at,
        "returned_at": returned_at,
        "rejected_at": rejected_at,
        "supplement_count": np.where(rng.random(n) < 0.85, 0, rng.integers(1, 3, n)),
        "fee_required": np.where(rng.random(n) < 0.99, fee_required.astype(np.int64), -1),
        "paid_online": tri(np.where(online, 0.7, 0.15), 0.95, fee_required),
        "digitized": tri(np.clip((0.45 + 0.45 * t_frac) * traits["digitized"][unit], 0, 0.99), 0.97),
        "e_result": tri(0.35 + 0.5 * t_frac, 0.9, finished),
        "synced": tri(np.clip(0.93 * traits["synced"][unit], 0, 0.995), 0.98),
        "apology_issued": tri(0.6, 0.85, overdue_fin),
        "rating": np.where(rated, np.where(rating_u < 0.85, 0, np.where(rating_u < 0.95, 1, 2)), -1),
        "complaint": tri(0.02, 0.7),
    }


def _unit_traits(rng, n_units: int) -> dict[str, np.ndarray]:
    return {
        "volume": rng.lognormal(0.0, 0.5, n_units),
        "overdue": rng.lognormal(0.0, 0.6, n_units),
        "online": rng.lognormal(0.0, 0.25, n_units),
        "digitized": rng.lognormal(0.0, 0.15, n_units),
        "synced": rng.lognormal(0.0, 0.03, n_units),
    }


# ------------------------------------------------------------------- writing


def _frame(fields: dict[str, np.ndarray], ids: pl.Series, reg: pl.DataFrame, rng) -> pl.DataFrame:
    """The export's text columns, in HEADERS order (without STT)."""
    procs = _procedures()
    names = pl.Series([f"{s} {g}" for s in SURNAMES for g in GIVEN])
    n = len(fields["received_at"])

    def ts(name: str) -> pl.Expr:
        v = pl.col(name)
        return pl.when(v >= 0).then((v * 60_000_000).cast(pl.Datetime("us")).dt.to_string(TIME_FORMAT))

    def yes_no(name: str) -> pl.Expr:
        return pl.col(name).replace_strict({1: YES, 0: NO}, default=None, return_dtype=pl.Utf8)

    base = pl.DataFrame({k: v for k, v in fields.items()})
    return base.select(
        dossier_id=ids,
        unit_code=pl.col("unit").replace_strict(reg["unit_idx"].cast(pl.Int64), reg["unit_code"], return_dtype=pl.Utf8),
        unit_name=pl.col("unit").replace_strict(reg["unit_idx"].cast(pl.Int64), reg["unit_name"], return_dtype=pl.Utf8),
        procedure_code=pl.col("proc").replace_strict(pl.Series(range(procs.height)), procs["procedure_code"], return_dtype=pl.Utf8),
        procedure_name=pl.col("proc").replace_strict(pl.Series(range(procs.height)), procs["procedure_name"], return_dtype=pl.Utf8),
        applicant=names.gather(rng.integers(0, len(names), n)),
        channel=pl.col("channel").replace_strict(CHANNEL_LABELS, return_dtype=pl.Utf8),
        status=pl.col("status").replace_strict(STATUS_LABELS, return_dtype=pl.Utf8),
        submitted_at=ts("submitted_at"),
        received_at=ts("received_at"),
        due_at=pl.when(pl.col("due_day") >= 0).then(pl.col("due_day").cast(pl.Int32).cast(pl.Date).dt.to_string(DATE_FORMAT)),
        finished_at=ts("finished_at"),
        returned_at=ts("returned_at"),
        rejected_at=ts("rejected_at"),
        supplement_count=pl.col("supplement_count").cast(pl.Utf8),
        **{b: yes_no(b) for b in ("fee_required", "paid_online", "digitized", "e_result", "synced", "apology_issued")},
        rating=pl.col("rating").replace_strict({0: RATING_LABELS["satisfied"], 1: RATING_LABELS["neutral"], 2: RATING_LABELS["dissatisfied"]}, default=None, return_dtype=pl.Utf8),
        complaint=yes_no("complaint"),
    )


def _write_files(frame: pl.DataFrame, landing: Path, file_cols: list[str], name_of) -> int:
    """One CSV per group of `file_cols`, rows in receipt order, STT from 1."""
    count = 0
    columns = [c for c in HEADERS if c != "stt"]
    for key, part in frame.partition_by(file_cols, as_dict=True, maintain_order=True).items():
        path = landing / name_of(*key)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = part.select(pl.int_range(1, pl.len() + 1).cast(pl.Utf8).alias("stt"), *columns)
        out.rename(HEADERS).write_csv(path, include_bom=True)
        count += 1
    return count


def _ids(unit_code: pl.Series, received: np.ndarray, prefix: str = "H26") -> pl.Series:
    """`H26.<unit>-<yymmdd>-<seq>`: unique per unit and day, in receipt order."""
    f = pl.DataFrame({"u": unit_code, "m": received})
    return f.select(
        pl.concat_str(
            pl.lit(prefix + "."), "u", pl.lit("-"),
            (pl.col("m") * 60_000_000).cast(pl.Datetime("us")).dt.to_string("%y%m%d"),
            pl.lit("-"),
            pl.int_range(1, pl.len() + 1).over("u", pl.col("m") // MIN_PER_DAY).cast(pl.Utf8).str.zfill(5),
        )
    ).to_series().alias("dossier_id")


def _exporter(reg: pl.DataFrame) -> np.ndarray:
    """The code of the system that exports a unit's dossiers: its parent's, else its own."""
    return reg.select(pl.coalesce("parent_code", "unit_code")).to_series().to_numpy()


# ------------------------------------------------------------------ datasets


def generate_history(
    root: Path, n: int, years: int, seed: int, *, registry_path: Path | None = None,
    duplicate_share: float = 0.01, log=print,
) -> Dataset:
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    start, end = history_range(years)
    reg = _registry(registry_path)
    cal = _Calendar(start - timedelta(days=30), end + timedelta(days=500))
    traits = _unit_traits(rng, reg.height)
    weight = traits["volume"] * np.where(reg["level"].to_numpy() == "district", 6.0, 1.0)
    received = _receipts(rng, n, start, end, cal)
    unit = _assign_units(rng, received // MIN_PER_DAY, reg, weight)
    month = _month_index(received // MIN_PER_DAY)
    export_at = _export_minute(month)
    t_frac = (received - received[0]) / max(1, received[-1] - received[0])
    fields = simulate(rng, received, unit, export_at, reg, traits, cal, t_frac)
    log(f"  simulated {n:,} dossiers in {time.monotonic() - started:.1f} s")

    # ~1 % of the dossiers, pending at their first export, come again next month finished
    pending = np.flatnonzero(np.isin(fields["status"], [2, 4, 5, 6]))
    n_dup = min(len(pending), int(round(duplicate_share * n)))
    dup = np.sort(rng.choice(pending, n_dup, replace=False))
    upd = {k: v[dup].copy() for k, v in fields.items()}
    first_export = export_at[dup]
    fin = first_export + rng.integers(60, 25 * MIN_PER_DAY, n_dup)
    upd["status"] = np.full(n_dup, 10)
    upd["finished_at"] = fin
    upd["returned_at"] = fin + rng.integers(0, MIN_PER_DAY, n_dup)
    upd["e_result"] = np.where(rng.random(n_dup) < 0.6, 1, 0)
    upd["apology_issued"] = np.where(
        (upd["due_day"] >= 0) & (fin > (upd["due_day"] + 1) * MIN_PER_DAY - 1),
        np.where(rng.random(n_dup) < 0.6, 1, 0), -1,
    )

    codes = reg["unit_code"].to_numpy()
    ids = _ids(pl.Series(codes[unit]), received)
    exporter = _exporter(reg)
    landing = root / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    # format and write a year of files at a time: the text of 10 million rows at once
    # would need ~15 GB
    file_month = month
    dup_month = month[dup] + 1
    files, n_rows = 0, 0
    for year in np.unique(np.concatenate([file_month // 12, dup_month // 12])):
        sel = np.flatnonzero(file_month // 12 == year)
        sel_d = np.flatnonzero(dup_month // 12 == year)
        part = _frame({k: v[sel] for k, v in fields.items()}, ids.gather(sel), reg, rng).with_columns(
            _exporter=pl.Series(exporter[unit[sel]], dtype=pl.Utf8), _month=pl.Series(file_month[sel])
        )
        if len(sel_d):
            part = pl.concat([
                part,
                _frame({k: v[sel_d] for k, v in upd.items()}, ids.gather(dup[sel_d]), reg, rng).with_columns(
                    _exporter=pl.Series(exporter[unit[dup[sel_d]]], dtype=pl.Utf8), _month=pl.Series(dup_month[sel_d])
                ),
            ])
        part = part.sort("_exporter", "_month", maintain_order=True)
        n_rows += part.height
        files += _write_files(
            part, landing, ["_exporter", "_month"],
            lambda ex, m: f"{ex}/{m // 12:04d}-{m % 12 + 1:02d}.csv",
        )
        del part
    log(f"  formatted and wrote {n_rows:,} rows in {time.monotonic() - started:.1f} s")

    # what the incremental case needs: the dossiers still pending after the history
    still_pending = np.setdiff1d(pending, dup)
    recent = still_pending[received[still_pending] >= (_day(end) - 61) * MIN_PER_DAY]
    pl.DataFrame({k: v[recent] for k, v in fields.items()}).with_columns(
        dossier_id=ids.gather(recent)
    ).write_parquet(root / "pending_recent.parquet")
    meta = {
        "dossiers": n,
        "rows": n_rows,
        "duplicate_rows": n_dup,
        "files": files,
        "years": years,
        "seed": seed,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bytes": sum(p.stat().st_size for p in landing.rglob("*.csv")),
        "status_shares": {
            "finished": float(np.isin(fields["status"], [9, 10]).mean()),
            "rejected": float(np.isin(fields["status"], [3, 7, 8]).mean()),
            "pending": float(np.isin(fields["status"], [2, 4, 5, 6]).mean()),
        },
        "overdue_share_of_finished": float(
            ((fields["finished_at"] > (fields["due_day"] + 1) * MIN_PER_DAY - 1) & (fields["due_day"] >= 0)
             & (fields["finished_at"] >= 0)).sum() / max(1, (fields["finished_at"] >= 0).sum())
        ),
        "seconds": round(time.monotonic() - started, 1),
    }
    (root / "meta.json").write_text(json.dumps(meta, indent=2))
    log(f"  wrote {files} files, {meta['bytes'] / 1e9:.2f} GB in {meta['seconds']} s")
    return Dataset(root, landing, meta)


def ensure_history(out: Path, n: int, years: int, seed: int, *, log=print) -> Dataset:
    root = dataset_dir(out, n, years, seed)
    meta_path = root / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        log(f"  cached: {root} ({meta['files']} files, {meta['rows']:,} rows)")
        return Dataset(root, root / "landing", meta)
    root.mkdir(parents=True, exist_ok=True)
    log(f"  generating {n:,} dossiers over {years} years in {root}")
    return generate_history(root, n, years, seed, log=log)


def increment_week(years: int) -> tuple[date, date]:
    """The first whole week (Monday … Sunday) after the history."""
    _, end = history_range(years)
    monday = end + timedelta(days=(7 - end.weekday()) % 7 or 7)
    return monday, monday + timedelta(days=6)


def ensure_increment(ds: Dataset, k: int = 40_000, *, update_share: float = 0.125, seed: int = 7, log=print) -> Path:
    """One week of exports after the history: `k` rows, `update_share` of them
    updates (now finished) of dossiers pending at the end of the history, the rest
    dossiers received that week. One file per exporting system:
    ``<root>/increment-<k>/<exporter>/week-<yyyy-Www>.csv``."""
    folder = ds.root / f"increment-{k}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    rng = np.random.default_rng(seed)
    reg = _registry(None)
    monday, sunday = increment_week(ds.meta["years"])
    cal = _Calendar(monday - timedelta(days=30), sunday + timedelta(days=500))
    export_min = (_day(sunday) + 1) * MIN_PER_DAY + 8 * 60  # Monday after, 08:00
    traits = _unit_traits(np.random.default_rng(ds.meta["seed"]), reg.height)
    weight = traits["volume"] * np.where(reg["level"].to_numpy() == "district", 6.0, 1.0)

    pend = pl.read_parquet(ds.root / "pending_recent.parquet")
    n_upd = min(pend.height, int(round(update_share * k)))
    n_new = k - n_upd
    received = _receipts(rng, n_new, monday, sunday, cal)
    unit = _assign_units(rng, received // MIN_PER_DAY, reg, weight)
    fields = simulate(
        rng, received, unit, np.full(n_new, export_min), reg, traits, cal, np.ones(n_new), pending_share=0.30
    )
    codes = reg["unit_code"].to_numpy()
    ids = _ids(pl.Series(codes[unit]), received)
    frames = [_frame(fields, ids, reg, rng)]
    exporters = [_exporter(reg)[unit]]

    upd = pend.sample(n_upd, seed=seed) if n_upd else pend.clear()
    if n_upd:
        u = {c: upd[c].to_numpy().copy() for c in upd.columns if c != "dossier_id"}
        fin = (_day(monday) * MIN_PER_DAY + 7 * 60 + rng.integers(0, 6 * MIN_PER_DAY, n_upd))
        u["status"] = np.full(n_upd, 10)
        u["finished_at"] = fin
        u["returned_at"] = np.minimum(fin + rng.integers(0, MIN_PER_DAY, n_upd), export_min - 1)
        u["e_result"] = np.where(rng.random(n_upd) < 0.6, 1, 0)
        u["apology_issued"] = np.where(
            (u["due_day"] >= 0) & (fin > (u["due_day"] + 1) * MIN_PER_DAY - 1),
            np.where(rng.random(n_upd) < 0.6, 1, 0), -1,
        )
        frames.append(_frame(u, upd["dossier_id"], reg, rng))
        exporters.append(_exporter(reg)[u["unit"]])
    frame = pl.concat(frames).with_columns(_exporter=pl.Series(np.concatenate(exporters), dtype=pl.Utf8))
    iso_year, iso_week, _ = monday.isocalendar()
    files = _write_files(frame, folder, ["_exporter"], lambda ex: f"{ex}/week-{iso_year}-W{iso_week:02d}.csv")
    (folder / ".complete").write_text(json.dumps({"rows": frame.height, "updates": n_upd, "files": files}))
    log(f"  increment: {frame.height:,} rows ({n_upd:,} updates) in {files} files → {folder}")
    return folder
