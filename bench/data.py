"""Synthetic landing exports for the benchmark: millions of Hà Nội dossiers, fast.

The dossiers come from the project's one simulator, `demo.simulate` (the demo's
exports use it too): each unit's volume and habits, receipts on working days (a few
Saturday mornings, Tết and year-end seasonality), procedures among those the unit
handles, and each dossier's whole life. Before 2025-07-01 dossiers go to the old
districts, communes and departments, after to the 126 new units and the departments.
The volumes are scaled so that the history holds about the number asked for.

What this module adds is how the benchmark writes them: the common one-stop-shop CSV
export, UTF-8 with BOM, Vietnamese headers, an STT column and an applicant column
(both dropped by the pipeline), status, channel, booleans and ratings as Vietnamese
labels, times as ``dd/mm/yyyy HH:MM`` and the due date as ``dd/mm/yyyy``.

* One file per exporting system and month: a district's system exports its own
  dossiers and its communes'; a unit without a parent exports its own
  (``landing/<exporter>/<yyyy-mm>.csv``). A month is exported on the 3rd of the next
  month at 08:00; the file says what was known of each dossier then (still pending
  if its life had not ended).
* A dossier still open at its first export appears again, with its newer status,
  in the file of the month in which it ends (as demo.generate's exports and the
  national sync do): duplicate rows which deduplication must resolve to the later
  copy (~7 % of the dossiers). Those that end after the history stay open. (Until
  12/2026 only the ~1 % that ended by the next month came again, so ~6 % of all
  dossiers stayed open for ever: each was pending overdue, and listed in the
  evidence, in every later period, ~80 weeks on average.)
* No deliberately bad rows: every row is accepted, so the pipeline, the DuckDB
  floor and the pandas baseline count exactly the same dossiers.

`ensure_history` caches under ``<out>/data/n<N>-y<Y>-s<seed>/``; a ``meta.json``
written last marks a complete set. `ensure_increment` adds one week of exports
(new dossiers plus updates of recently pending ones) in a separate folder: by
default a usual week, drawn at the history's own scale (each unit's volume and
habits that week, as the history would have continued), so that the drift checks
pass it and the incremental case measures ingest, re-scoring and publishing.
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
from demo.exports import CHANNEL_LABELS, STATUS_LABELS  # the labels exports use
from demo.simulate import expected_dossiers, load_procedures, simulate, unit_behaviour
from transforms.calendar import working_calendar
from transforms.units import load_registry

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

EPOCH = np.datetime64("1970-01-01", "D")
MIN_PER_DAY = 1440
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
GIVEN = ["Văn An", "Thị Bình", "Đức Cường", "Thu Hà", "Minh Hải", "Ngọc Lan", "Quang Huy",
         "Thị Mai", "Văn Nam", "Thanh Tâm", "Hữu Tuấn", "Phương Thảo", "Xuân Trường", "Kim Yến"]


def history_range(years: int) -> tuple[date, date]:
    """`years` whole years ending 2025-12-31 (5 → 2021-01-01 … 2025-12-31)."""
    return date(2026 - years, 1, 1), date(2025, 12, 31)


# the layout of the generated history: a new one is generated when it changes
HISTORY_VERSION = 2


def dataset_dir(out: Path, n: int, years: int, seed: int) -> Path:
    return Path(out) / "data" / f"n{n}-y{years}-s{seed}-v{HISTORY_VERSION}"


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


def _registry(registry_path: Path | None) -> pl.DataFrame:
    reg = load_registry(registry_path or config_path("registry", "hanoi.csv"))
    return reg.with_row_index("unit_idx")


def _procedures() -> pl.DataFrame:
    return load_procedures(config_path("procedures.csv"))


# --------------------------------------------------------------- simulation


def _minutes(t: np.ndarray) -> np.ndarray:
    """datetime64[m] -> minutes since 1970-01-01, -1 for NaT."""
    return np.where(np.isnat(t), -1, t.astype("datetime64[m]").astype(np.int64))


def _units_calendar(reg: pl.DataFrame, start: date, end: date, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The simulator's units (their volumes and habits, from `seed`) and a working
    calendar covering [start, end] and the dossiers' lives after it."""
    units = unit_behaviour(reg.drop("unit_idx"), seed)
    return units, working_calendar(start - timedelta(days=7), end + timedelta(days=800))


def _scale(reg: pl.DataFrame, start: date, end: date, n: int, seed: int) -> float:
    """The simulator's scale at which the units receive about `n` dossiers in [start, end]."""
    units, calendar = _units_calendar(reg, start, end, seed)
    return n / max(expected_dossiers(units, start, end, calendar), 1e-9)


def _lives(reg: pl.DataFrame, procs: pl.DataFrame, start: date, end: date, scale: float, seed: int,
           rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The dossiers received by the registry's units in [start, end] at the
    simulator's `scale`, from demo.simulate, in receipt order; times in minutes (-1
    for none)."""
    units, calendar = _units_calendar(reg, start, end, seed)
    life = simulate(units, procs, start, end, scale, rng, calendar)
    order = np.argsort(life["received"], kind="stable")
    return {k: (_minutes(v) if v.dtype.kind == "M" else v)[order] for k, v in life.items()}


def known_at(life: dict[str, np.ndarray], export_at: np.ndarray, *,
             rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What an export made at `export_at` (minutes, one per dossier) says of each
    dossier: its end if that had come, else its open status, no end and the first due
    date. Booleans 1/0/-1 (unknown); rating 0 satisfied, 1 neutral, 2 dissatisfied, -1."""
    life = life if rows is None else {k: v[rows] for k, v in life.items()}
    ended = life["end_at"] <= export_at
    finished = ended & np.isin(life["status"], [9, 10])
    returned = (life["returned"] >= 0) & (life["returned"] <= export_at)
    status = np.where(finished, np.where(returned, 10, 9), np.where(ended, life["status"], life["pending_status"]))
    due = np.where(ended, life["due_final"], life["due_first"])
    rating = life["rating"]
    return {
        "unit": life["unit"],
        "proc": life["proc"],
        "channel": life["channel"],
        "status": status.astype(np.int64),
        "submitted_at": life["submitted"],
        "received_at": life["received"],
        "due_day": np.where(due >= 0, due // MIN_PER_DAY, -1),
        "finished_at": np.where(finished, life["finished"], -1),
        "returned_at": np.where(finished & returned, life["returned"], -1),
        "rejected_at": np.where(ended & ~finished, life["rejected_at"], -1),
        "supplement_count": life["supplements"].astype(np.int64),
        "fee_required": life["fee"].astype(np.int64),
        "paid_online": life["paid_online"].astype(np.int64),
        "digitized": life["digitized"].astype(np.int64),
        "e_result": np.where(ended, life["e_result"], -1).astype(np.int64),
        "synced": life["synced"].astype(np.int64),
        "apology_issued": np.where(ended, life["apology"], -1).astype(np.int64),
        "rating": np.where(ended & (rating > 0), np.where(rating >= 4, 0, np.where(rating == 3, 1, 2)), -1),
        "complaint": np.where(ended, life["complaint"], -1).astype(np.int64),
    }


# ------------------------------------------------------------------- writing


def _frame(fields: dict[str, np.ndarray], ids: pl.Series, reg: pl.DataFrame, procs: pl.DataFrame,
           rng) -> pl.DataFrame:
    """The export's text columns, in HEADERS order (without STT)."""
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


def _ids(unit_code: pl.Series, received: np.ndarray) -> pl.Series:
    """`<unit>-<yymmdd>-<seq>`: unique per unit and day, in receipt order."""
    f = pl.DataFrame({"u": unit_code, "m": received})
    return f.select(
        pl.concat_str(
            "u", pl.lit("-"),
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
    root: Path, n: int, years: int, seed: int, *, registry_path: Path | None = None, log=print,
) -> Dataset:
    """About `n` dossiers over `years` years as monthly exports in ``<root>/landing``, the
    dossiers still pending at the end (for the increment) and ``meta.json``, written last."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    start, end = history_range(years)
    reg = _registry(registry_path)
    procs = _procedures()
    life = _lives(reg, procs, start, end, _scale(reg, start, end, n, seed), seed, rng)
    received, unit = life["received"], life["unit"]
    month = _month_index(received // MIN_PER_DAY)
    fields = known_at(life, _export_minute(month))
    log(f"  simulated {len(received):,} dossiers in {time.monotonic() - started:.1f} s")

    pending, dup, dup_month, upd = _updates_of_pending(life, fields, end)
    codes = reg["unit_code"].to_numpy()
    ids = _ids(pl.Series(codes[unit]), received)
    landing = root / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    files, n_rows = _write_landing(landing, reg, procs, rng, ids, unit, fields, month, upd, dup, dup_month)
    log(f"  formatted and wrote {n_rows:,} rows in {time.monotonic() - started:.1f} s")

    # what the incremental case needs: the dossiers still pending after the history
    still_pending = np.setdiff1d(pending, dup)
    _write_pending_recent(root, fields, ids, received, still_pending, end)
    meta = {
        "dossiers": len(received),
        "rows": n_rows,
        "duplicate_rows": len(dup),
        "files": files,
        "years": years,
        "seed": seed,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bytes": sum(p.stat().st_size for p in landing.rglob("*.csv")),
        **_outcome_shares(fields, still_pending),
        "seconds": round(time.monotonic() - started, 1),
    }
    (root / "meta.json").write_text(json.dumps(meta, indent=2))
    log(f"  wrote {files} files, {meta['bytes'] / 1e9:.2f} GB in {meta['seconds']} s")
    return Dataset(root, landing, meta)


def _updates_of_pending(life: dict[str, np.ndarray], fields: dict[str, np.ndarray],
                        end: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The dossiers pending at their first export; those that come again (`dup`), the
    month of each one's new copy, and what that copy says."""
    # the dossiers pending at their first export come again in the file of the month
    # they end in, with what that export knows; those ending after the history do not
    pending = np.flatnonzero(np.isin(fields["status"], [2, 4, 5, 6]))
    end_month = _month_index(np.maximum(life["end_at"][pending], 0) // MIN_PER_DAY)
    last_month = _month_index(np.array([_day(end)]))[0]
    ends = (life["end_at"][pending] >= 0) & (end_month <= last_month)
    dup, dup_month = pending[ends], end_month[ends]
    return pending, dup, dup_month, known_at(life, _export_minute(dup_month), rows=dup)


def _write_landing(landing: Path, reg: pl.DataFrame, procs: pl.DataFrame, rng: np.random.Generator,
                   ids: pl.Series, unit: np.ndarray, fields: dict[str, np.ndarray], month: np.ndarray,
                   upd: dict[str, np.ndarray], dup: np.ndarray, dup_month: np.ndarray) -> tuple[int, int]:
    """The monthly files of every exporting system: each dossier in the month of its
    receipt (`fields`, `month`), the pending ones again in the month they end (`upd` of
    `dup`, `dup_month`). Returns (files, rows)."""
    exporter = _exporter(reg)
    # format and write a year of files at a time: the text of 10 million rows at once
    # would need ~15 GB
    files, n_rows = 0, 0
    for year in np.unique(np.concatenate([month // 12, dup_month // 12])):
        sel = np.flatnonzero(month // 12 == year)
        sel_d = np.flatnonzero(dup_month // 12 == year)
        part = _file_rows({k: v[sel] for k, v in fields.items()}, ids.gather(sel), exporter[unit[sel]],
                          month[sel], reg, procs, rng)
        if len(sel_d):
            part = pl.concat([
                part,
                _file_rows({k: v[sel_d] for k, v in upd.items()}, ids.gather(dup[sel_d]), exporter[unit[dup[sel_d]]],
                           dup_month[sel_d], reg, procs, rng),
            ])
        part = part.sort("_exporter", "_month", maintain_order=True)
        n_rows += part.height
        files += _write_files(
            part, landing, ["_exporter", "_month"],
            lambda ex, m: f"{ex}/{m // 12:04d}-{m % 12 + 1:02d}.csv",
        )
        del part
    return files, n_rows


def _file_rows(fields: dict[str, np.ndarray], ids: pl.Series, exporter: np.ndarray, month: np.ndarray,
               reg: pl.DataFrame, procs: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Export rows as text, with the exporting system and month of their file."""
    return _frame(fields, ids, reg, procs, rng).with_columns(
        _exporter=pl.Series(exporter, dtype=pl.Utf8), _month=pl.Series(month)
    )


def _write_pending_recent(root: Path, fields: dict[str, np.ndarray], ids: pl.Series, received: np.ndarray,
                          still_pending: np.ndarray, end: date) -> None:
    """``pending_recent.parquet``: those of `still_pending` received in the history's
    last two months, as their first export shows them."""
    recent = still_pending[received[still_pending] >= (_day(end) - 61) * MIN_PER_DAY]
    pl.DataFrame({k: v[recent] for k, v in fields.items()}).with_columns(
        dossier_id=ids.gather(recent)
    ).write_parquet(root / "pending_recent.parquet")


def _outcome_shares(fields: dict[str, np.ndarray], still_pending: np.ndarray) -> dict:
    """Shares of the dossiers finished, rejected and pending at their first export, still
    open after the history, and late among those finished."""
    return {
        "status_shares": {
            "finished": float(np.isin(fields["status"], [9, 10]).mean()),
            "rejected": float(np.isin(fields["status"], [3, 7, 8]).mean()),
            "pending": float(np.isin(fields["status"], [2, 4, 5, 6]).mean()),
        },
        # open after the history: the pending overdue of its last periods
        "open_at_end": len(still_pending) / max(1, len(fields["status"])),
        "overdue_share_of_finished": float(
            ((fields["finished_at"] > (fields["due_day"] + 1) * MIN_PER_DAY - 1) & (fields["due_day"] >= 0)
             & (fields["finished_at"] >= 0)).sum() / max(1, (fields["finished_at"] >= 0).sum())
        ),
    }


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


def ensure_increment(ds: Dataset, k: int | None = None, *, update_share: float = 0.125, seed: int = 7,
                     log=print) -> Path:
    """One week of exports after the history, one file per exporting system
    (``<root>/<folder>/<exporter>/week-<yyyy-Www>.csv``), `update_share` of its rows
    updates (now finished) of dossiers pending at the end of the history, the rest
    dossiers received that week.

    By default (`k` None) the week is a usual one: its new dossiers drawn at the
    history's scale, so each unit receives what it would have that week had the
    history gone on (folder ``increment-week``). With `k` the week has `k` rows
    whatever the history's size (``increment-<k>``): a week far above the history's
    is held by the drift checks' volume check, which is then what it measures."""
    folder = ds.root / ("increment-week" if k is None else f"increment-{k}")
    done = folder / ".complete"
    if done.is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    rng = np.random.default_rng(seed)
    reg = _registry(None)
    procs = _procedures()
    monday, sunday = increment_week(ds.meta["years"])
    export_min = (_day(sunday) + 1) * MIN_PER_DAY + 8 * 60  # Monday after, 08:00
    pend = pl.read_parquet(ds.root / "pending_recent.parquet")
    if k is None:  # the history's scale; updates in proportion to the new dossiers
        first, last = history_range(ds.meta["years"])
        scale = _scale(reg, first, last, ds.meta["dossiers"], ds.meta["seed"])
    else:  # `k` rows: as many new dossiers as the updates leave room for
        n_upd = min(pend.height, int(round(update_share * k)))
        units, calendar = _units_calendar(reg, monday, sunday, ds.meta["seed"])
        scale = (k - n_upd) / max(expected_dossiers(units, monday, sunday, calendar), 1e-9)
    life = _lives(reg, procs, monday, sunday, scale, ds.meta["seed"], rng)
    unit = life["unit"]
    n_new = len(unit)
    if k is None:
        n_upd = min(pend.height, int(round(update_share / (1 - update_share) * n_new)))
    fields = known_at(life, np.full(len(unit), export_min))
    codes = reg["unit_code"].to_numpy()
    ids = _ids(pl.Series(codes[unit]), life["received"])
    frames = [_frame(fields, ids, reg, procs, rng)]
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
        frames.append(_frame(u, upd["dossier_id"], reg, procs, rng))
        exporters.append(_exporter(reg)[u["unit"]])
    frame = pl.concat(frames).with_columns(_exporter=pl.Series(np.concatenate(exporters), dtype=pl.Utf8))
    iso_year, iso_week, _ = monday.isocalendar()
    files = _write_files(frame, folder, ["_exporter"], lambda ex: f"{ex}/week-{iso_year}-W{iso_week:02d}.csv")
    (folder / ".complete").write_text(json.dumps({"rows": frame.height, "new": n_new, "updates": n_upd,
                                                  "files": files, "scale": scale}))
    log(f"  increment: {frame.height:,} rows ({n_new:,} new, {n_upd:,} updates) in {files} files → {folder}")
    return folder


def ensure_one_file(ds: Dataset, *, log=print) -> Path:
    """The same exports as one CSV (issue 14's case: a clean log in one file): every
    file of the history's landing folder, in path order, under one header.
    ``<root>/one-file/landing/dossiers.csv``; the landing folder is returned."""
    landing = ds.root / "one-file" / "landing"
    done = ds.root / "one-file" / ".complete"
    if done.is_file():
        return landing
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir(parents=True)
    files = sorted(ds.landing.rglob("*.csv"), key=lambda p: p.relative_to(ds.landing).as_posix())
    rows = 0
    with open(landing / "dossiers.csv", "wb") as out:
        for i, path in enumerate(files):
            data = path.read_bytes()
            header_end = data.index(b"\n") + 1
            if i == 0:
                out.write(data[:header_end])  # BOM and header once
            out.write(data[header_end:])
            rows += data.count(b"\n", header_end)
    done.write_text(json.dumps({"rows": rows, "files_joined": len(files)}))
    log(f"  one file: {rows:,} rows of {len(files)} files → {landing / 'dossiers.csv'}")
    return landing
