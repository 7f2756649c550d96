"""Synthetic one-stop-shop exports, shaped like the ones districts send us.

`generate_exports` simulates every dossier received by the units of a registry
in a date range, follows each through its life (processing, supplements,
finishing early, on time or late, refusal, return of the result) and writes
the exports the offices would have made of them: one file per exporting
system and period, in several vendors' shapes (see ../shared/spec/dossier-log.md):

- ``csv_vn``: CSV, UTF-8 with BOM, comma, Vietnamese headers, dd/mm/yyyy HH:MM;
- ``xlsx_report``: XLSX with a banner above the header and a ``Tổng cộng`` row
  below the data, dates as dd/mm/yyyy text or native Excel datetimes;
- ``csv_dvcqg``: CSV, semicolon, the national sync names, ISO dates with +07:00;
- ``xlsx_plain``: XLSX, header on the first row, native datetimes and numbers.

Before the units' end (for Hà Nội, 2025-06-30) a district's system exports its
own dossiers and its communes'; a unit without a parent exports its own. A
dossier still open at one export shows up again, with its newer status, in
the export of the period in which it ends (some offices also export the last
two periods each time); an exporting system that closes makes one last
update export a month after. Every file carries fake personal columns (the
pipeline must drop them) and a few deliberately bad rows, one per quarantine
reason that a single row can carry.

Everything is vectorised (numpy/polars), XLSX included: the sheets are written as
SpreadsheetML built with polars (see `_write_xlsx`). The same arguments give
byte-identical files: no wall clock anywhere, fixed zip timestamps, the workbook's
creation time is the export's own.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from config import config_path
from transforms.calendar import working_calendar
from transforms.units import load_registry, strip_level_expr, unit_name_key
from transforms.xlsx import column_letter

# --------------------------------------------------------------------------- constants

SHAPES = ("csv_vn", "xlsx_report", "csv_dvcqg", "xlsx_plain")
SHAPE_WEIGHTS = (0.33, 0.32, 0.15, 0.20)
SHAPE_FORMAT = {"csv_vn": "csv", "xlsx_report": "xlsx", "csv_dvcqg": "csv", "xlsx_plain": "xlsx"}

# Reasons a single bad row is made to carry (dossier-log.md, quarantine).
BAD_REASONS = ("missing_id", "bad_date", "unknown_unit", "future_date", "chronology", "finished_no_end")
BAD_SHARE = 0.002

CHANNEL_LABELS = {1: "Trực tiếp", 2: "Trực tuyến", 3: "Bưu chính công ích"}
STATUS_LABELS = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung",
    6: "Nghĩa vụ tài chính",
    7: "Công dân rút",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
RATING_LABELS = {1: "Không hài lòng", 2: "Không hài lòng", 3: "Bình thường", 4: "Hài lòng", 5: "Hài lòng"}

# Receipts per month relative to an average month (Tết in late Jan/Feb, year-end rush).
MONTH_FACTOR = np.array([1.10, 0.80, 1.00, 1.00, 1.00, 1.05, 0.92, 0.97, 1.00, 1.00, 1.02, 1.10])

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Đào", "Mai"]
SURNAME_WEIGHTS = np.array([38, 11, 9.5, 7, 5, 2, 4.5, 4, 2, 2, 2, 1.5, 1.3, 1.3, 1, 0.5, 1, 1, 1, 1])
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Xuân", "Công", "Mạnh", "Tiến"]
MIDDLE_FEMALE = ["Thị", "Thu", "Ngọc", "Hồng", "Thanh", "Minh", "Phương", "Kim", "Thúy", "Diệu"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hiếu", "Hùng", "Huy", "Khánh", "Long",
              "Minh", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Tùng"]
GIVEN_FEMALE = ["Anh", "Chi", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga",
                "Ngọc", "Nhung", "Phương", "Quỳnh", "Tâm", "Thảo", "Trang", "Vân", "Yến", "Hằng", "Loan"]
STREETS = ["phố Huế", "đường Láng", "phố Kim Mã", "đường Giải Phóng", "phố Bạch Mai", "đường Nguyễn Trãi",
           "phố Đội Cấn", "đường Trường Chinh", "phố Tôn Đức Thắng", "đường Hoàng Quốc Việt",
           "phố Quang Trung", "đường Lê Văn Lương", "phố Lò Đúc", "đường Cầu Giấy", "phố Nguyễn Du"]
VILLAGES = ["Thôn Đông", "Thôn Đoài", "Thôn Thượng", "Thôn Hạ", "Thôn Trung", "Thôn Bắc",
            "Thôn Nam", "Xóm Mới", "Thôn Cao", "Thôn Đồng"]

# Header prefix of a rendered column that overwrites some cells of another (XLSX only).
PATCH = "\x00patch:"


# --------------------------------------------------------------------------- summary


@dataclass
class GenerateSummary:
    """What `generate_exports` wrote."""

    out_dir: Path
    start: date
    end: date
    seed: int
    scale: float
    units: int = 0
    exporters: int = 0
    files_written: int = 0
    rows_written: int = 0
    dossiers: int = 0
    duplicate_rows: int = 0
    bad_rows: int = 0
    pending_at_end: int = 0
    files_by_format: dict[str, int] = field(default_factory=dict)
    rows_by_format: dict[str, int] = field(default_factory=dict)
    files_by_shape: dict[str, int] = field(default_factory=dict)
    bad_rows_by_reason: dict[str, int] = field(default_factory=dict)
    dossiers_by_unit: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def describe(self) -> str:
        fmt = ", ".join(f"{n:,} {k.upper()}" for k, n in sorted(self.files_by_format.items()))
        bad = ", ".join(f"{k} {n}" for k, n in self.bad_rows_by_reason.items() if n)
        return (
            f"Generated {self.files_written:,} export files ({fmt or 'none'}) in {self.out_dir} "
            f"for {self.start.isoformat()}..{self.end.isoformat()} (seed {self.seed}, scale {self.scale:g}): "
            f"{self.dossiers:,} dossiers received by {self.units:,} units and exported by "
            f"{self.exporters:,} one-stop-shop systems, written as {self.rows_written:,} rows, of which "
            f"{self.duplicate_rows:,} are later copies of a dossier with a newer status and "
            f"{self.bad_rows:,} are deliberately bad rows ({bad or 'none'}); "
            f"{self.pending_at_end:,} dossiers are still open in their last export. "
            "Every file carries fake applicant names, CCCD numbers, phones and addresses."
        )


# --------------------------------------------------------------------------- inputs


def load_procedures(path: Path) -> pl.DataFrame:
    """The procedure catalogue: code, name, field, level, processing days, fee, weight."""
    df = pl.read_csv(path, infer_schema=False)
    df = df.with_columns(pl.col(c).str.strip_chars() for c in df.columns)
    truthy = ["1", "true", "yes", "có", "co", "x", "y"]
    return df.select(
        pl.col("procedure_code"),
        pl.col("procedure_name"),
        pl.col("field_name"),
        pl.col("level").str.to_lowercase().fill_null("both"),
        pl.col("processing_days").str.replace(",", ".").cast(pl.Float64, strict=False)
        .fill_null(0).ceil().clip(0, 200).cast(pl.Int64),
        pl.col("fee_required").str.to_lowercase().is_in(truthy).fill_null(False),
        pl.col("weight").str.replace(",", ".").cast(pl.Float64, strict=False).fill_null(1.0).clip(0, None),
    ).filter(pl.col("procedure_code").is_not_null() & (pl.col("weight") > 0))


# --------------------------------------------------------------------------- helpers


def _fold(text: str) -> str:
    """Diacritics removed, đ -> d, case kept (for file names)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _rng(seed: int, *parts: object) -> np.random.Generator:
    key = zlib.crc32("|".join(str(p) for p in parts).encode("utf-8"))
    return np.random.default_rng([seed, key])


def _display_name(name: str, level: str) -> str:
    """How an export names the receiving unit: `UBND phường Phúc Xá`, `Quận Hà Đông`."""
    if level == "commune":
        return "UBND " + name[:1].lower() + name[1:]
    return name


def _file_base(name: str, style: str) -> str:
    if style == "viet":
        return name
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", _fold(name)).split()
    if style == "camel":
        return "".join(w[:1].upper() + w[1:] for w in words)
    return " ".join(words)


def _day(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def _to_pl(arr: np.ndarray) -> pl.Series:
    return pl.Series(arr.astype("datetime64[us]"))


# --------------------------------------------------------------------------- units


def _unit_table(reg: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Per-unit behaviour, drawn from a generator seeded by the seed and the unit alone."""
    rows = reg.to_dicts()
    codes = {r["unit_code"] for r in rows}
    by_code: dict[str, list[dict]] = {}
    for r in rows:
        by_code.setdefault(r["unit_code"], []).append(r)

    def parent_of(r: dict) -> dict | None:
        pc = r.get("parent_code")
        if not pc or pc not in codes:
            return None
        for p in by_code[pc]:
            if p["level"] in ("district", "department") and _overlaps(p, r["valid_from"], r["valid_to"]):
                return p
        return None

    out = []
    for r in rows:
        g = _rng(seed, "unit", r["unit_code"], r["valid_from"])
        level, peer = r["level"], (r.get("peer_group") or "urban")
        parent = parent_of(r)
        name = r["unit_name"] or r["unit_code"]
        if level == "district":
            if peer == "rural":
                volume = g.uniform(8_000, 12_000)
            elif name.startswith("Thị xã"):
                volume = g.uniform(10_000, 16_000)
            else:
                volume = g.uniform(18_000, 35_000)
        elif level == "commune" and parent is not None:
            volume = g.uniform(1_800, 3_500) if peer == "urban" else g.uniform(1_500, 3_000)
        elif level == "commune":
            volume = -float(np.clip(g.lognormal(0.0, 0.35), 0.45, 2.2))  # share of the city, resolved below
        else:
            volume = g.uniform(5_000, 20_000)
        weak = g.random() < 0.08
        out.append({
            "unit_code": r["unit_code"],
            "unit_name": name,
            "level": level,
            "peer_group": peer,
            "valid_from": r["valid_from"],
            "valid_to": r["valid_to"],
            "parent_key": None if parent is None else f"{parent['unit_code']}@{parent['valid_from']}",
            "volume": volume,
            "online": g.uniform(0.2, 0.8),
            "postal": g.uniform(0.005, 0.04),
            "late": g.uniform(0.18, 0.35) if weak else g.uniform(0.02, 0.15),
            "weak": weak,
            "reject": g.uniform(0.01, 0.04),
            "supplement": g.uniform(0.03, 0.12),
            "paid_hi": g.uniform(0.5, 0.95),
            "paid_lo": g.uniform(0.02, 0.25),
            "digitized": g.uniform(0.45, 0.98),
            "e_result": g.uniform(0.3, 0.95),
            "synced": g.uniform(0.75, 1.0),
            "rating": g.uniform(0.05, 0.4),
            "complaint": g.uniform(0.001, 0.01),
            "apology": g.uniform(0.2, 0.8),
            "saturday": g.uniform(0.15, 0.35) if g.random() < 0.5 else 0.0,
            "due_time": g.uniform(0.0, 0.35),
            "returns": g.uniform(0.6, 0.92),
            "speed": g.uniform(1.2, 2.5),
        })
    units = pl.DataFrame(out, infer_schema_length=None)
    # Units without a parent at commune level (Hà Nội's 126 wards/communes from 2025-07-01)
    # share what the districts and their communes handled.
    shares = units.filter(pl.col("volume") < 0)
    if shares.height:
        # ... on the eve of the first of them: codes merged earlier must not count twice.
        eve = shares["valid_from"].min() - timedelta(days=1)
        legacy = units.filter(
            (pl.col("volume") > 0) & (pl.col("valid_from") <= eve)
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= eve))
        )["volume"].sum()
        per_unit = legacy / shares.height if legacy > 0 else 15_000.0
        units = units.with_columns(
            pl.when(pl.col("volume") < 0).then(-pl.col("volume") * per_unit).otherwise(pl.col("volume")).alias("volume")
        )
    return units.with_columns(
        (pl.col("unit_code") + "@" + pl.col("valid_from").cast(pl.Utf8)).alias("key"),
        unit_name_key(pl.col("unit_name")).alias("norm_name"),  # as the resolver matches names
    )


def _overlaps(r: dict, start: date, end: date | None) -> bool:
    return (end is None or r["valid_from"] <= end) and (r["valid_to"] is None or r["valid_to"] >= start)


def _id_prefixes(units: pl.DataFrame) -> dict[str, str]:
    """`000.00.17.H26`-style agency codes, unique per unit: district i `000.00.ii`, its
    j-th commune `000.jj.ii`, a unit without a district `kkk.00.00`."""
    prefixes: dict[str, str] = {}
    counters = {"district": 0, "other": 0}

    def top(key: str, level: str) -> None:
        if level == "commune":
            counters["other"] += 1
            prefixes[key] = f"{counters['other']:03d}.00.00.H26"
        else:
            counters["district"] += 1
            prefixes[key] = f"000.00.{counters['district']:02d}.H26"

    for r in units.filter(pl.col("parent_key").is_null()).sort("valid_from", "unit_code").iter_rows(named=True):
        top(r["key"], r["level"])
    for (parent_key,), kids in units.filter(pl.col("parent_key").is_not_null()).sort(
        "parent_key", "unit_code", "valid_from"
    ).group_by("parent_key", maintain_order=True):
        parent = prefixes.get(parent_key, "")
        for j, (key, level) in enumerate(zip(kids["key"], kids["level"]), start=1):
            if parent.startswith("000.00."):
                prefixes[key] = f"000.{j:02d}.{parent.split('.')[2]}.H26"
            else:  # deeper than commune under district: numbered on its own
                top(key, level)
    return prefixes


# --------------------------------------------------------------------------- exporters


def _exporter_styles(units: pl.DataFrame, active: pl.DataFrame, seed: int, start: date, end: date) -> list[dict]:
    """One exporting system per top-level active unit (a district with its communes)."""
    keys = set(active["key"])
    all_units = units.to_dicts()
    by_norm: dict[str, list[dict]] = {}
    for r in all_units:
        by_norm.setdefault(r["norm_name"], []).append(r)

    def name_unique(r: dict) -> bool:
        return sum(_overlaps(o, r["valid_from"], r["valid_to"]) for o in by_norm[r["norm_name"]]) == 1

    groups: dict[str, list[dict]] = {}
    for r in active.to_dicts():
        top = r["parent_key"] if r["parent_key"] in keys else r["key"]
        groups.setdefault(top, []).append(r)

    used: set[str] = set()
    styles = []
    info = {r["key"]: r for r in all_units}
    for top in sorted(groups, key=lambda k: (info[k]["valid_from"], info[k]["unit_code"])):
        members = groups[top]
        head = info[top]
        g = _rng(seed, "exporter", head["unit_code"], head["valid_from"])
        shape = SHAPES[int(g.choice(len(SHAPES), p=SHAPE_WEIGHTS))]
        unit_col = "code"
        if shape in ("csv_vn", "xlsx_report") and g.random() < 0.4 and all(name_unique(m) for m in members):
            unit_col = "name"
        label_p = {"csv_vn": 0.6, "xlsx_report": 0.7}.get(shape, 0.0)
        bool_style = {
            "csv_vn": ("10", "cokhong", "x")[int(g.choice(3, p=(0.4, 0.35, 0.25)))],
            "xlsx_report": ("cokhong", "x", "10")[int(g.choice(3, p=(0.45, 0.4, 0.15)))],
            "csv_dvcqg": "10",
            "xlsx_plain": "num",
        }[shape]
        name_style = ("camel", "spaced", "viet")[int(g.choice(3, p=(0.45, 0.3, 0.25)))]
        base = _file_base(head["unit_name"], name_style)
        if base.casefold() in used:
            base = f"{base}_{head['unit_code']}"
        used.add(base.casefold())
        vf = max(start, min(m["valid_from"] for m in members))
        vts = [m["valid_to"] for m in members]
        vt = end if any(v is None for v in vts) else min(end, max(vts))
        styles.append({
            "key": top,
            "name": head["unit_name"],
            "level": head["level"],
            "shape": shape,
            "unit_col": unit_col,
            "channel_label": g.random() < label_p,
            "status_label": g.random() < label_p,
            "bool_style": bool_style,
            "native_dates": shape == "xlsx_plain" or (shape == "xlsx_report" and g.random() < 0.5),
            "rating_label": g.random() < 0.4,
            "weekly": g.random() < 0.08,
            "cumulative": g.random() < 0.25,
            "never_sync": g.random() < 0.12,
            "name_style": name_style,
            "base": base,
            "from": vf,
            "to": vt,
            "members": [m["key"] for m in members],
        })
    return styles


def _schedule(styles: list[dict], start: date, end: date) -> pl.DataFrame:
    """Export periods per exporter: start, snapshot time (period end), file label."""
    rows = []
    for e, s in enumerate(styles):
        lo, hi = s["from"], s["to"]
        if lo > hi:
            continue
        if s["weekly"]:
            p, step, label = lo - timedelta(days=lo.weekday()), _next_week, _week_label
        else:
            p, step, label = lo.replace(day=1), _next_month, _month_label
        last_t = None
        while p <= hi:
            t = min(step(p), hi + timedelta(days=1))
            rows.append((e, p, t, label(p), False))
            last_t = t
            p = step(p)
        if hi < end and last_t is not None:
            # The system closes: one last export of the updates a month later.
            t = _next_month(last_t + timedelta(days=27))
            t = min(t, end + timedelta(days=1))
            if t > last_t:
                rows.append((e, last_t, t, label(last_t), True))
    schema = {"exporter": pl.Int64, "pstart": pl.Date, "snapshot": pl.Date, "label": pl.Utf8, "closing": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row").with_row_index("file")


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _next_week(d: date) -> date:
    return d + timedelta(days=7)


def _month_label(d: date) -> str:
    return f"{d:%Y-%m}"


def _week_label(d: date) -> str:
    iso = d.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


# --------------------------------------------------------------------------- simulation


def _simulate(units: pl.DataFrame, procs: pl.DataFrame, start: date, end: date, scale: float,
              rng: np.random.Generator, calendar: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every dossier received in [start, end], with its whole life (numpy arrays).

    `calendar` is the project's working-day calendar (transforms.calendar), from at
    least the day before `start`; due dates and finishing days count its working days.
    """
    cal = np.busdaycalendar(
        weekmask="1111111",
        holidays=calendar.filter(~pl.col("is_working_day"))["date"].to_numpy().astype("datetime64[D]"),
    )
    days = np.arange(_day(start), _day(end) + 1, dtype="datetime64[D]")
    working = np.is_busday(days, busdaycal=cal)
    before = np.is_busday(days - 1, busdaycal=cal)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    # Some one-stop shops open on Saturday mornings, except after a holiday (Tết, 30/4-1/5).
    is_sat = (weekday == 5) & ~working & before
    is_work = working
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    mfac = MONTH_FACTOR[month]

    vf = units["valid_from"].to_numpy().astype("datetime64[D]")
    vt_raw = units["valid_to"].fill_null(date(9999, 12, 31)).to_numpy().astype("datetime64[D]")
    sat = units["saturday"].to_numpy()
    rate = units["volume"].to_numpy() * scale / (246.0 + 50.0 * sat)
    valid = (days[None, :] >= vf[:, None]) & (days[None, :] <= vt_raw[:, None])
    weight = np.where(is_sat[None, :], sat[:, None], is_work[None, :].astype(float)) * mfac[None, :]
    lam = rate[:, None] * weight * valid
    counts = rng.poisson(lam)
    uu = np.repeat(np.arange(len(units))[:, None], len(days), axis=1)[counts > 0]
    dd = np.repeat(np.arange(len(days))[None, :], len(units), axis=0)[counts > 0]
    reps = counts[counts > 0]
    uu, dd = np.repeat(uu, reps), np.repeat(dd, reps)
    n = len(uu)

    P = {c: units[c].to_numpy() for c in units.columns if units[c].dtype in (pl.Float64, pl.Boolean)}
    recv_day = days[dd]
    sat_row = is_sat[dd]
    morning = (rng.random(n) < 0.62) | sat_row
    tod = np.where(morning, rng.integers(450, 690, n), rng.integers(810, 1020, n))
    received = recv_day.astype("datetime64[m]") + tod.astype("timedelta64[m]")

    # Procedure, by the level of the receiving unit.
    level = units["level"].to_numpy()[uu]
    has_parent = units["parent_key"].is_not_null().to_numpy()[uu]
    pool = np.where(level == "district", 0, np.where((level == "commune") & has_parent, 1, 2))
    plevel = procs["level"].to_numpy()
    pools = [np.flatnonzero(np.isin(plevel, ["district", "both"])),
             np.flatnonzero(np.isin(plevel, ["commune", "both"])),
             np.arange(len(procs))]
    pw = procs["weight"].to_numpy()
    proc = np.zeros(n, dtype=np.int64)
    for k, members in enumerate(pools):
        if len(members) == 0:
            members = pools[2]
        idx = np.flatnonzero(pool == k)
        p = pw[members] / pw[members].sum()
        proc[idx] = members[rng.choice(len(members), size=len(idx), p=p)]
    pdays = procs["processing_days"].to_numpy()[proc]
    fee = procs["fee_required"].to_numpy()[proc]

    # Channel and submission.
    r = rng.random(n)
    channel = np.where(r < P["online"][uu], 2, np.where(r < P["online"][uu] + P["postal"][uu], 3, 1)).astype(np.int8)
    lag = np.clip(rng.exponential(600, n), 5, 4320).astype(np.int64)
    lag = np.where(channel == 3, rng.integers(1440, 4 * 1440, n), np.where(channel == 2, lag, 0))
    submitted = received - lag.astype("timedelta64[m]")

    # Outcome.
    rejected = rng.random(n) < P["reject"][uu]
    rej_status = rng.choice(np.array([3, 7, 8], dtype=np.int8), size=n, p=[0.4, 0.3, 0.3])
    supp = np.where(~rejected & (rng.random(n) < P["supplement"][uu]), np.where(rng.random(n) < 0.85, 1, 2), 0)
    ext = supp * rng.integers(3, 8, n)
    due0 = np.busday_offset(recv_day, pdays, roll="forward", busdaycal=cal)
    due1 = np.busday_offset(due0, ext, roll="forward", busdaycal=cal)
    due_has_time = rng.random(n) < P["due_time"][uu]
    due_tod = np.where(due_has_time, 17 * 60, 0).astype("timedelta64[m]")

    late = ~rejected & (rng.random(n) < P["late"][uu])
    delay = rng.geometric(0.35, n)
    delay = delay + np.where(P["weak"][uu].astype(bool) & (rng.random(n) < 0.15), rng.integers(5, 30, n), 0)
    span = np.busday_count(recv_day, due1, busdaycal=cal)
    k = np.minimum(np.floor(rng.beta(P["speed"][uu], 3.0) * (span + 1)), span).astype(np.int64)
    k = np.where(rng.random(n) < 0.12, span, k)
    fin_day = np.where(late, np.busday_offset(due1, delay, roll="forward", busdaycal=cal),
                       np.busday_offset(recv_day, k, roll="forward", busdaycal=cal))
    fin_tod = _later_same_day(rng, tod, fin_day == recv_day)
    finished = (fin_day.astype("datetime64[m]") + fin_tod.astype("timedelta64[m]"))

    returns = ~rejected & (rng.random(n) < P["returns"][uu])
    ret_day = np.busday_offset(fin_day, rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]), roll="forward", busdaycal=cal)
    ret_tod = np.where(ret_day == fin_day, fin_tod + rng.integers(5, 120, n), _work_minute(rng, n))
    returned = ret_day.astype("datetime64[m]") + ret_tod.astype("timedelta64[m]")

    rej_day = np.busday_offset(recv_day, rng.integers(0, np.maximum(pdays, 1) + 1), roll="forward", busdaycal=cal)
    rej_tod = _later_same_day(rng, tod, rej_day == recv_day)
    rejected_at = rej_day.astype("datetime64[m]") + rej_tod.astype("timedelta64[m]")
    at_counter = received + rng.integers(5, 60, n).astype("timedelta64[m]")
    rejected_at = np.where(rej_status == 3, np.where(rng.random(n) < 0.6, at_counter, np.datetime64("NaT")), rejected_at)

    nat = np.datetime64("NaT", "m")
    status = np.where(rejected, rej_status, np.where(returns, 10, 9)).astype(np.int8)
    finished = np.where(rejected, nat, finished)
    returned = np.where(returns, returned, nat)
    rejected_at = np.where(rejected, rejected_at, nat)
    end_at = np.where(rejected, np.where(np.isnat(rejected_at), received, rejected_at), finished)
    last_at = np.where(np.isnat(returned), end_at, returned)
    due_final = np.where(rejected & (rej_status == 3), nat, due1.astype("datetime64[m]") + due_tod)
    due_first = np.where(rejected & (rej_status == 3), nat, due0.astype("datetime64[m]") + due_tod)

    # Attributes the final export shows.
    done = ~rejected
    r = rng.random(n)
    pend = np.where((supp > 0) & (r < 0.6), 5, np.where(fee & (r > 0.85), 6, 4)).astype(np.int8)
    paid = np.where(channel == 2, P["paid_hi"][uu], P["paid_lo"][uu])
    rated = done & (rng.random(n) < P["rating"][uu])
    rating = np.where(
        late,
        rng.choice(np.arange(1, 6), size=n, p=[0.15, 0.15, 0.2, 0.25, 0.25]),
        rng.choice(np.arange(1, 6), size=n, p=[0.01, 0.03, 0.08, 0.28, 0.60]),
    ).astype(np.int8)
    return {
        "unit": uu,
        "received": received,
        "submitted": submitted,
        "channel": channel,
        "proc": proc,
        "fee": fee,
        "status": status,
        "pending_status": pend,
        "due_first": due_first,
        "due_final": due_final,
        "due_has_time": due_has_time,
        "finished": finished,
        "returned": returned,
        "rejected_at": rejected_at,
        "end_at": end_at,
        "last_at": last_at,
        "supplements": supp.astype(np.int32),
        # booleans as 1/0 with -1 for unknown
        "paid_online": np.where(fee, (rng.random(n) < paid).astype(np.int8), -1),
        "digitized": (rng.random(n) < P["digitized"][uu]).astype(np.int8),
        "e_result": np.where(done, (rng.random(n) < P["e_result"][uu]).astype(np.int8), -1),
        "synced": (rng.random(n) < P["synced"][uu]).astype(np.int8),
        "apology": np.where(late, (rng.random(n) < P["apology"][uu]).astype(np.int8), np.where(done, 0, -1)),
        "complaint": np.where(done, (rng.random(n) < P["complaint"][uu] * np.where(late, 4, 1)).astype(np.int8), -1),
        "rating": np.where(rated, rating, 0).astype(np.int8),
    }


def _work_minute(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.55, rng.integers(450, 690, n), rng.integers(810, 1020, n))


def _later_same_day(rng: np.random.Generator, tod: np.ndarray, same_day: np.ndarray) -> np.ndarray:
    """A working minute; on the day of receipt, after the receipt and by 17:00."""
    room = np.maximum(1020 - tod - 1, 0)
    later = tod + 1 + np.floor(rng.random(len(tod)) * room).astype(np.int64)
    return np.where(same_day, later, _work_minute(rng, len(tod)))


# --------------------------------------------------------------------------- personal data


def _personal(g: np.random.Generator, unit_names: pl.Series, rural: np.ndarray) -> pl.DataFrame:
    """Fake applicants: name, CCCD (12 digits, Hà Nội's 001), phone, address in the unit."""
    n = len(unit_names)
    female = g.random(n) < 0.52
    sur = g.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    mid = g.integers(0, 10, n)
    given = g.integers(0, len(GIVEN_MALE), n)
    born = g.integers(1950, 2006, n)
    century = np.where(born >= 2000, 2, 0) + female.astype(int)
    s = pl.Series(SURNAMES).gather(sur)
    m = pl.Series(np.where(female, np.array(MIDDLE_FEMALE)[mid], np.array(MIDDLE_MALE)[mid]))
    gv = pl.Series(np.where(female, np.array(GIVEN_FEMALE)[given], np.array(GIVEN_MALE)[given]))
    df = pl.DataFrame({
        "s": s, "m": m, "g": gv,
        "century": century, "yy": born % 100, "idn": g.integers(0, 1_000_000, n),
        "phone": g.integers(0, 100_000_000, n),
        "house": g.integers(1, 300, n), "lane": g.integers(1, 200, n),
        "street": pl.Series(STREETS).gather(g.integers(0, len(STREETS), n)),
        "village": pl.Series(VILLAGES).gather(g.integers(0, len(VILLAGES), n)),
        "unit_name": unit_names, "rural": rural,
    })
    return df.select(
        pl.concat_str("s", "m", "g", separator=" ").alias("applicant"),
        pl.concat_str(pl.lit("001"), pl.col("century").cast(pl.Utf8), pl.col("yy").cast(pl.Utf8).str.zfill(2),
                      pl.col("idn").cast(pl.Utf8).str.zfill(6)).alias("cccd"),
        pl.concat_str(pl.lit("09"), pl.col("phone").cast(pl.Utf8).str.zfill(8)).alias("phone"),
        pl.when(pl.col("rural"))
        .then(pl.concat_str("village", "unit_name", pl.lit("Hà Nội"), separator=", "))
        .otherwise(pl.concat_str(pl.lit("Số ") + pl.col("house").cast(pl.Utf8),
                                 pl.lit("ngõ ") + pl.col("lane").cast(pl.Utf8),
                                 "street", "unit_name", pl.lit("Hà Nội"), separator=", "))
        .alias("address"),
    )


# --------------------------------------------------------------------------- copies


def _copies(sim: dict[str, np.ndarray], exporter_of_unit: np.ndarray, sched: pl.DataFrame,
            styles: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(dossier, file) pairs: the export of its receipt, of its last event, and cumulative re-exports."""
    big = np.int64(1) << 40
    s_exp = sched["exporter"].to_numpy()
    s_start = sched["pstart"].to_numpy().astype("datetime64[m]").astype(np.int64)
    s_end = sched["snapshot"].to_numpy().astype("datetime64[m]").astype(np.int64)
    s_key = s_exp * big + s_start
    order = np.argsort(s_key, kind="stable")
    s_key_sorted = s_key[order]

    exp = exporter_of_unit[sim["unit"]]

    def locate(t: np.ndarray) -> np.ndarray:
        tt = t.astype(np.int64)
        pos = np.searchsorted(s_key_sorted, exp * big + tt, side="right") - 1
        pos = np.clip(pos, 0, len(order) - 1)
        f = order[pos]
        ok = (s_exp[f] == exp) & (tt >= s_start[f]) & (tt < s_end[f]) & ~np.isnat(t)
        return np.where(ok, f, -1)

    first = locate(sim["received"])
    if (first < 0).any():  # cannot happen: receipts fall inside their exporter's periods
        raise AssertionError("a dossier was received outside its exporter's periods")
    last = locate(sim["last_at"])
    cumulative = np.array([s["cumulative"] for s in styles])[exp]
    nxt = first + 1
    has_next = cumulative & (nxt < len(s_exp))
    has_next &= s_exp[np.minimum(nxt, len(s_exp) - 1)] == exp
    again = (last > first) & ~(has_next & (last == nxt))
    idx = np.arange(len(first))
    dossier = np.concatenate([idx, idx[has_next], idx[again]])
    file = np.concatenate([first, nxt[has_next], last[again]])
    return dossier, file


def _as_exported(dossiers: pl.DataFrame, d_idx: np.ndarray, f_idx: np.ndarray, exporter: np.ndarray,
                 sched: pl.DataFrame) -> pl.DataFrame:
    """One row per copy, as its export shows the dossier at the export's snapshot:
    its end if that has come, else an open status, no end and the first due date."""
    rows = dossiers[d_idx].with_columns(
        file=pl.Series(f_idx),
        exporter=pl.Series(exporter[d_idx]),
        snapshot=sched["snapshot"].cast(pl.Datetime("us")).gather(f_idx),
        copies=pl.Series(np.bincount(d_idx, minlength=dossiers.height)[d_idx]),
        dossier=pl.Series(d_idx),
    )
    ended = pl.col("end_at") <= pl.col("snapshot")
    returned = pl.col("ret").is_not_null() & (pl.col("ret") <= pl.col("snapshot"))
    fresh = (pl.col("snapshot") - pl.col("received_at")) < pl.duration(days=1)
    return rows.with_columns(
        pl.when(ended & pl.col("final_status").is_in([9, 10]))
        .then(pl.when(returned).then(pl.lit(10, pl.Int8)).otherwise(pl.lit(9, pl.Int8)))
        .when(ended).then(pl.col("final_status"))
        .when(fresh).then(pl.lit(2, pl.Int8))
        .otherwise(pl.col("pending_status")).alias("status"),
        pl.when(ended).then(pl.col("due_final")).otherwise(pl.col("due_first")).alias("due_at"),
        pl.when(ended).then(pl.col("fin")).alias("finished_at"),
        pl.when(ended & returned).then(pl.col("ret")).alias("returned_at"),
        pl.when(ended).then(pl.col("rej")).alias("rejected_at"),
        *[pl.when(ended).then(pl.col(f"{c}_v")).otherwise(pl.lit(v, pl.Int8)).alias(c)
          for c, v in (("e_result", -1), ("apology", -1), ("complaint", -1), ("rating", 0))],
        pl.col("paid_online_v").alias("paid_online"),
    )


def _dossier_ids(unit: np.ndarray, received: np.ndarray, prefixes: list[str]) -> pl.Series:
    """`000.00.17.H26-250312-0001`: agency code, date of receipt, number within the unit's day."""
    n = len(unit)
    day = received.astype("datetime64[D]")
    order = np.lexsort((received, unit))
    u, d = unit[order], day[order]
    new_group = np.r_[True, (u[1:] != u[:-1]) | (d[1:] != d[:-1])]
    pos = np.arange(n)
    seq = np.empty(n, dtype=np.int64)
    seq[order] = pos - np.maximum.accumulate(np.where(new_group, pos, 0)) + 1
    return (pl.Series(prefixes).gather(unit) + "-" + pl.Series(day.astype("datetime64[us]")).dt.strftime("%y%m%d")
            + "-" + pl.Series(seq).cast(pl.Utf8).str.zfill(4))


# --------------------------------------------------------------------------- bad rows


def _bad_rows(rows: pl.DataFrame, rng: np.random.Generator, end: date, registry: pl.DataFrame) -> pl.DataFrame:
    """Turn ~0.2% of single-copy rows into rows the pipeline must quarantine, one reason each."""
    n_bad = max(len(BAD_REASONS), int(round(BAD_SHARE * rows.height)))
    single = rows["copies"].to_numpy() == 1
    finished = np.isin(rows["status"].to_numpy(), [9, 10]) & single
    reasons = np.array([BAD_REASONS[i % len(BAD_REASONS)] for i in range(n_bad)])
    chosen = np.full(rows.height, "", dtype=object)
    for reason in BAD_REASONS:
        want = int((reasons == reason).sum())
        pool = np.flatnonzero((finished if reason not in ("missing_id", "unknown_unit") else single) & (chosen == ""))
        if len(pool) == 0 or want == 0:
            continue
        pick = rng.choice(pool, size=min(want, len(pool)), replace=False)
        chosen[pick] = reason
    bad = pl.Series("bad", chosen.astype(str))

    codes = set(registry["unit_code"].drop_nulls().str.strip_chars_start("0"))
    bogus_code = next(f"{c:05d}" for c in range(99999, 0, -1) if str(c) not in codes)
    keys = registry.select(k=unit_name_key(pl.col("unit_name"))).with_columns(bare=strip_level_expr(pl.col("k")))
    taken = set(keys["k"].drop_nulls()) | set(keys["bare"].drop_nulls())
    bogus_name = "UBND xã Không Xác Định"

    def key_of(name: str) -> tuple[str, str]:
        k = pl.select(k=unit_name_key(pl.lit(name))).with_columns(bare=strip_level_expr(pl.col("k")))
        return k["k"][0], k["bare"][0]

    while taken & set(key_of(bogus_name)):
        bogus_name += " Mới"
    # A future date must stay in the future at the moment of ingestion, whenever that is:
    # "next year" would already be past when the range lies years back. An office's typo
    # does it: the year's last two digits swapped (2025 -> 2052), else ten years on.
    y = end.year
    swapped = int(f"{y // 100}{y % 10}{(y // 10) % 10}")
    future_day = pl.datetime(swapped if swapped > y + 1 else y + 10,
                             pl.col("received_at").dt.month(), pl.col("received_at").dt.day().clip(1, 28))

    b = pl.col("bad")
    return rows.with_columns(bad).with_columns(
        pl.when(b == "missing_id").then(None).otherwise(pl.col("dossier_id")).alias("dossier_id"),
        pl.when(b == "unknown_unit").then(pl.lit(bogus_code)).otherwise(pl.col("unit_code")).alias("unit_code"),
        pl.when(b == "unknown_unit").then(pl.lit(bogus_name)).otherwise(pl.col("unit_display")).alias("unit_display"),
        pl.when(b == "future_date").then(future_day + pl.duration(hours=10, minutes=30))
        .when(b == "chronology").then(pl.col("received_at").dt.truncate("1d") - pl.duration(days=3) + pl.duration(hours=9))
        .when(b == "finished_no_end").then(None)
        .otherwise(pl.col("finished_at")).alias("finished_at"),
        pl.when(b == "future_date").then(pl.when(pl.col("returned_at").is_not_null()).then(future_day + pl.duration(hours=15)))
        .when(b.is_in(["chronology", "finished_no_end"])).then(None)
        .otherwise(pl.col("returned_at")).alias("returned_at"),
    )


# --------------------------------------------------------------------------- rendering


def _bool_expr(c: str, style: str) -> pl.Expr:
    v = pl.col(c)
    if style == "x":
        return pl.when(v == 1).then(pl.lit("x")).otherwise(None)
    if style == "cokhong":
        return pl.when(v == 1).then(pl.lit("Có")).when(v == 0).then(pl.lit("Không")).otherwise(None)
    if style == "num":
        return pl.when(v >= 0).then(v.cast(pl.Int64)).otherwise(None)
    return pl.when(v >= 0).then(v.cast(pl.Utf8)).otherwise(None)


def _date_expr(c: str, how: str, date_only: pl.Expr | None = None) -> pl.Expr:
    v = pl.col(c)
    if how == "native":  # Excel's serial day number
        return (v - pl.datetime(1899, 12, 30)).dt.total_minutes().cast(pl.Float64) / 1440.0
    full, short = ("%Y-%m-%dT%H:%M:%S+07:00", "%Y-%m-%d") if how == "iso" else ("%d/%m/%Y %H:%M", "%d/%m/%Y")
    if date_only is None:
        return v.dt.strftime(full)
    return pl.when(date_only).then(v.dt.strftime(short)).otherwise(v.dt.strftime(full))


def _columns(style: dict) -> list[tuple[str, pl.Expr, str]]:
    """(header, expression, kind) of one exporter's files; kind: text | num | date."""
    shape = style["shape"]
    how = "iso" if shape == "csv_dvcqg" else ("native" if style["native_dates"] else "text")
    dkind = "date" if how == "native" else "text"
    bs = style["bool_style"]
    xb = bs  # x marks only where a blank may mean "no" without changing a rate
    ob = "cokhong" if bs == "x" else bs
    num = "num" if shape.startswith("xlsx") else "text"

    def code_or_label(c: str, labels: dict[int, str], use_label: bool) -> tuple[pl.Expr, str]:
        if use_label:
            return pl.col(c).replace_strict(labels, default=None, return_dtype=pl.Utf8), "text"
        return (pl.col(c).cast(pl.Int64) if num == "num" else pl.col(c).cast(pl.Utf8)), num

    chan, chan_kind = code_or_label("channel", CHANNEL_LABELS, style["channel_label"])
    stat, stat_kind = code_or_label("status", STATUS_LABELS, style["status_label"])
    rating = (pl.when(pl.col("rating") > 0).then(pl.col("rating").replace_strict(RATING_LABELS, return_dtype=pl.Utf8)))
    if not style["rating_label"]:
        rating = pl.when(pl.col("rating") > 0).then(pl.col("rating").cast(pl.Int64 if num == "num" else pl.Utf8))
    rating_kind = "text" if style["rating_label"] else num
    bad_finish = (
        pl.concat_str(pl.col("received_at").dt.year().cast(pl.Utf8), pl.lit("-02-31T10:15:00+07:00"))
        if how == "iso" else pl.concat_str(pl.lit("31/02/"), pl.col("received_at").dt.year().cast(pl.Utf8), pl.lit(" 10:15"))
    )
    unit = (("Mã đơn vị", pl.col("unit_code"), "text") if style["unit_col"] == "code"
            else ("Đơn vị tiếp nhận" if shape == "csv_vn" else "Cơ quan tiếp nhận", pl.col("unit_display"), "text"))
    due = _date_expr("due_at", how, pl.col("due_date_only"))
    if how == "native":
        due = pl.when(pl.col("due_date_only")).then(due.floor()).otherwise(due)
    fin_header = "Ngày hoàn thành" if shape == "xlsx_report" else (
        "NgayKetThucXuLy" if shape == "csv_dvcqg" else "Ngày kết thúc xử lý")
    fin = _date_expr("finished_at", how)
    bad_date = pl.col("bad") == "bad_date"
    patches = []
    if how == "native":  # the impossible date is written as text over the number
        patches.append((f"{PATCH}{fin_header}", pl.when(bad_date).then(bad_finish), "patch"))
    else:
        fin = pl.when(bad_date).then(bad_finish).otherwise(fin)

    synced = _bool_expr("synced", ob)
    if style["never_sync"]:
        synced = pl.lit(None, dtype=pl.Int64 if ob == "num" else pl.Utf8)
    personal_name = "Chủ hồ sơ" if shape in ("csv_vn", "csv_dvcqg") else "Họ tên người nộp"
    personal = [(personal_name, pl.col("applicant"), "text"), ("Số CCCD", pl.col("cccd"), "text"),
                ("Số điện thoại", pl.col("phone"), "text"), ("Địa chỉ", pl.col("address"), "text")]

    if shape == "csv_dvcqg":
        return [
            ("MaHoSo", pl.col("dossier_id"), "text"),
            ("MaDonVi", pl.col("unit_code"), "text"),
            ("MaTTHC", pl.col("procedure_code"), "text"),
            ("TenTTHC", pl.col("procedure_name"), "text"),
            ("TenLinhVuc", pl.col("field_name"), "text"),
            *personal,
            ("KenhThucHien", chan, chan_kind),
            ("TrangThaiHoSo", stat, stat_kind),
            ("NgayNopHoSo", _date_expr("submitted_at", how), dkind),
            ("NgayTiepNhan", _date_expr("received_at", how), dkind),
            ("NgayHenTra", due, dkind),
            (fin_header, fin, dkind),
            ("NgayTra", _date_expr("returned_at", how), dkind),
            ("NgayTuChoi", _date_expr("rejected_at", how), dkind),
            ("Số lần bổ sung", pl.col("supplements").cast(pl.Utf8), "text"),
            ("Có phí", _bool_expr("fee", ob), "text"),
            ("DuocThanhToanTrucTuyen", _bool_expr("paid_online", xb), "text"),
            ("HoSoCoThanhPhanSoHoa", _bool_expr("digitized", xb), "text"),
            ("Kết quả điện tử", _bool_expr("e_result", xb), "text"),
            ("Đồng bộ DVCQG", synced, "text"),
            ("Phiếu xin lỗi", _bool_expr("apology", ob), "text"),
            ("Đánh giá", rating, rating_kind),
            ("PAKN", _bool_expr("complaint", ob), "text"),
            *patches,
        ]

    report = shape == "xlsx_report"
    bkind = "num" if ob == "num" else "text"
    cols = [
        ("Số hồ sơ" if report else "Mã hồ sơ", pl.col("dossier_id"), "text"),
        unit,
        ("Mã thủ tục" if report else "Mã TTHC", pl.col("procedure_code"), "text"),
        ("Tên thủ tục" if report else "Tên TTHC", pl.col("procedure_name"), "text"),
        ("Lĩnh vực", pl.col("field_name"), "text"),
        *personal,
        ("Hình thức nộp" if report else "Kênh nộp", chan, chan_kind),
        ("Trạng thái", stat, stat_kind),
    ]
    if shape != "xlsx_plain":
        cols.append(("Ngày nộp", _date_expr("submitted_at", how), dkind))
    cols += [
        ("Ngày tiếp nhận", _date_expr("received_at", how), dkind),
        ("Ngày hẹn trả", due, dkind),
        (fin_header, fin, dkind),
        ("Ngày trả kết quả", _date_expr("returned_at", how), dkind),
        ("Ngày từ chối", _date_expr("rejected_at", how), dkind),
        ("Số lần yêu cầu bổ sung" if report else "Số lần bổ sung",
         pl.col("supplements").cast(pl.Int64) if num == "num" else pl.col("supplements").cast(pl.Utf8), num),
        ("Có lệ phí" if report else "Có phí", _bool_expr("fee", ob), bkind),
        ("Thanh toán trực tuyến", _bool_expr("paid_online", xb), bkind),
        ("Số hóa" if report else "Đã số hóa", _bool_expr("digitized", xb), bkind),
        ("Kết quả điện tử", _bool_expr("e_result", xb), bkind),
        ("Đã đồng bộ" if report else "Đồng bộ DVCQG", synced, bkind),
        ("Xin lỗi" if report else "Phiếu xin lỗi", _bool_expr("apology", ob), bkind),
        ("Mức độ hài lòng" if report else "Đánh giá", rating, rating_kind),
        ("Kiến nghị" if report else "Phản ánh", _bool_expr("complaint", ob), bkind),
    ]
    if report:
        cols.insert(0, ("STT", pl.int_range(1, pl.len() + 1).over("file"), "num"))
    return cols + patches


def _write_csv(path: Path, frame: pl.DataFrame, shape: str) -> None:
    if shape == "csv_dvcqg":
        frame.write_csv(path, separator=";", null_value="", include_bom=False)
    else:
        frame.write_csv(path, separator=",", null_value="", include_bom=True)


# XLSX is written directly as SpreadsheetML: the sheet XML of all of an exporter's files is
# built column by column with polars, so writing costs about as much as a CSV. (xlsxwriter
# costs ~25 µs a cell in Python: ~35 s of CPU for the 1.5 million cells of the 2025 demo.)
# Styles: 0 normal, 1 bold, 2 dd/mm/yyyy hh:mm, 3 dd/mm/yyyy.

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    _XML + f"<styleSheet {_NS}>"
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/>'
    '<numFmt numFmtId="165" formatCode="dd/mm/yyyy"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _XML + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _XML + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_APP = (
    _XML + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Excel</Application></Properties>"
)


def _xml_escape(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("&", "&amp;", literal=True).str.replace_all("<", "&lt;", literal=True) \
        .str.replace_all(">", "&gt;", literal=True)


def _text_cell(ref: str, value: str, style: int = 0) -> str:
    v = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{v}</t></is></c>'


def _sheet_rows(frame: pl.DataFrame, kinds: list[str], first_row: int) -> pl.DataFrame:
    """file -> the <row> elements of its data rows, built for all files of a frame at once."""
    rn = (pl.int_range(0, pl.len()).over("file") + first_row).cast(pl.Utf8).alias("__r")
    frame = frame.with_columns(rn)
    headers = [c for c in frame.columns if c not in ("file", "__r")]
    kind_of = dict(zip(headers, kinds))
    patch_of = {h[len(PATCH):]: h for h in headers if kind_of[h] == "patch"}
    r = pl.col("__r")
    cells = []
    for i, h in enumerate(h for h in headers if kind_of[h] != "patch"):
        v, k, ref = pl.col(h), kind_of[h], pl.lit(f'<c r="{column_letter(i)}')
        if k == "text":
            cell = pl.concat_str(ref, r, pl.lit('" t="inlineStr"><is><t>'), _xml_escape(v), pl.lit("</t></is></c>"))
        elif k == "num":
            cell = pl.concat_str(ref, r, pl.lit('"><v>'), v.cast(pl.Utf8), pl.lit("</v></c>"))
        else:  # a native date: a whole day number gets the date format
            fmt = pl.when(v == v.floor()).then(pl.lit('" s="3"><v>')).otherwise(pl.lit('" s="2"><v>'))
            cell = pl.concat_str(ref, r, fmt, v.cast(pl.Utf8), pl.lit("</v></c>"))
            if h in patch_of:
                p = pl.col(patch_of[h])
                text = pl.concat_str(ref, r, pl.lit('" t="inlineStr"><is><t>'), _xml_escape(p), pl.lit("</t></is></c>"))
                cell = pl.when(p.is_not_null()).then(text).otherwise(cell)
        cells.append(cell)
    # A null value makes its cell null, and concat_str(ignore_nulls) leaves it out.
    row = pl.concat_str(pl.lit('<row r="'), r, pl.lit('">'), *cells, pl.lit("</row>"), ignore_nulls=True)
    return frame.select("file", row.alias("xml")).group_by("file", maintain_order=True).agg(
        pl.col("xml").str.join(""), pl.len().alias("rows")
    )


def _write_xlsx(path: Path, headers: list[str], rows_xml: str, n_rows: int, style: dict,
                created: datetime, title: str) -> None:
    report = style["shape"] == "xlsx_report"
    parts = []
    header_row = 1
    if report:
        banner = [f"UBND {style['name'].upper()}", "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ"]
        for r, text in enumerate(banner, start=1):
            parts.append(f'<row r="{r}">{_text_cell(f"A{r}", text, 1)}</row>')
        header_row = len(banner) + 2  # a blank row under the banner
    parts.append(f'<row r="{header_row}">' + "".join(
        _text_cell(f"{column_letter(c)}{header_row}", h, 1) for c, h in enumerate(headers)) + "</row>")
    parts.append(rows_xml)
    last = header_row + n_rows
    if report:
        last += 1
        parts.append(f'<row r="{last}">{_text_cell(f"A{last}", "Tổng cộng", 1)}'
                     f'<c r="B{last}" s="1"><v>{n_rows}</v></c></row>')
    cols = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="{max(10, min(28, len(h) + 4))}" customWidth="1"/>'
        for c, h in enumerate(headers)
    )
    sheet = (
        _XML + f"<worksheet {_NS} {_NS_R}>"
        f'<dimension ref="A1:{column_letter(len(headers) - 1)}{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
        f'<sheetData>{"".join(parts)}</sheetData>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )
    sheet_name = "BaoCao" if report else "DanhSachHoSo"
    workbook = (
        _XML + f"<workbook {_NS} {_NS_R}><bookViews><workbookView/></bookViews>"
        f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = (
        _XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{title}</dc:title><dc:creator>Bộ phận một cửa</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    members = [
        ("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
        ("docProps/app.xml", _APP), ("docProps/core.xml", core),
        ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ("xl/styles.xml", _STYLES), ("xl/worksheets/sheet1.xml", sheet),
    ]
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # no wall clock: same bytes every run
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, text.encode("utf-8"), compresslevel=1)


def _write_files(rows: pl.DataFrame, styles: list[dict], sched: pl.DataFrame,
                 out_dir: Path) -> list[tuple[str, str, str, int]]:
    """Every export file: (name, format, shape, data rows)."""
    labels = sched["label"].to_list()
    closing = sched["closing"].to_list()
    snaps = sched["snapshot"].to_list()
    written = []
    for (e,), part in rows.partition_by("exporter", as_dict=True, maintain_order=True).items():
        style = styles[e]
        shape, fmt = style["shape"], SHAPE_FORMAT[style["shape"]]
        sep = {"camel": "_", "spaced": " ", "viet": " - "}[style["name_style"]]
        update = {"camel": "_cap-nhat", "spaced": " cap nhat", "viet": " cập nhật"}[style["name_style"]]
        cols = _columns(style)
        rendered = part.select(pl.col("file"), *[expr.alias(h) for h, expr, _ in cols])
        if fmt == "csv":
            rendered = rendered.select(pl.col("file"), pl.exclude("file").cast(pl.Utf8))
            per_file = [(f, frame, frame.height) for (f,), frame in rendered.partition_by(
                "file", as_dict=True, maintain_order=True, include_key=False).items()]
        else:
            first_row = 5 if shape == "xlsx_report" else 2  # under the banner, blank row and header
            per_file = _sheet_rows(rendered, [k for _, _, k in cols], first_row).rows()
        headers = [h for h, _, k in cols if k != "patch"]
        for f, content, n_rows in per_file:
            name = f"{style['base']}{sep}{labels[f]}{update if closing[f] else ''}.{fmt}"
            if fmt == "csv":
                _write_csv(out_dir / name, content, shape)
            else:
                # Saved at 00:30 local time after the period (UTC in the file).
                created = datetime.combine(snaps[f], datetime.min.time()) - timedelta(hours=7) + timedelta(minutes=30)
                _write_xlsx(out_dir / name, headers, content, n_rows, style, created, f"Hồ sơ TTHC {labels[f]}")
            written.append((name, fmt, shape, n_rows))
    return written


# --------------------------------------------------------------------------- entry point


def generate_exports(
    out_dir: Path,
    start: date,
    end: date,
    *,
    seed: int = 2025,
    scale: float = 1.0,
    registry_path: Path | None = None,
    procedures_path: Path | None = None,
) -> GenerateSummary:
    """Write realistic one-stop-shop exports of the registry's units for [start, end] into out_dir.

    ``registry_path`` / ``procedures_path`` default to the shipped Hà Nội registry and
    procedure catalogue; ``scale`` multiplies the volumes (1.0: Hà Nội's).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    registry_path = Path(registry_path) if registry_path else config_path("registry", "hanoi.csv")
    procedures_path = Path(procedures_path) if procedures_path else config_path("procedures.csv")
    registry = load_registry(registry_path)
    procs = load_procedures(procedures_path)
    if procs.height == 0:
        raise ValueError(f"{procedures_path} lists no procedure")

    summary = GenerateSummary(out_dir=out_dir, start=start, end=end, seed=seed, scale=scale)
    units = _unit_table(registry, seed)
    active = units.filter(
        pl.col("level").is_in(["district", "commune", "department"])
        & (pl.col("valid_from") <= end)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= start))
    )
    summary.units = active.height
    if active.height == 0:
        return summary
    styles = _exporter_styles(units, active, seed, start, end)
    summary.exporters = len(styles)
    sched = _schedule(styles, start, end)
    exporter_of = {k: e for e, s in enumerate(styles) for k in s["members"]}
    exporter_of_unit = np.array([exporter_of[k] for k in active["key"]])

    # Working days of the project's calendar, far enough ahead for the latest finish.
    calendar = working_calendar(start - timedelta(days=7), end + timedelta(days=800))
    rng = np.random.default_rng([seed, 0x5C0E])
    sim = _simulate(active, procs, start, end, scale, rng, calendar)
    n = len(sim["unit"])
    summary.dossiers = n
    if n == 0:
        return summary

    prefixes = _id_prefixes(units)
    dossier_id = _dossier_ids(sim["unit"], sim["received"], [prefixes[k] for k in active["key"]])
    unit_display = pl.Series([_display_name(nm, lv) for nm, lv in zip(active["unit_name"], active["level"])])
    rural = (active["peer_group"] == "rural").to_numpy()[sim["unit"]]
    personal = _personal(np.random.default_rng([seed, 0xFACE]), active["unit_name"].gather(sim["unit"]), rural)

    dossiers = pl.DataFrame({
        "dossier_id": dossier_id,
        "unit_code": active["unit_code"].gather(sim["unit"]),
        "unit_display": unit_display.gather(sim["unit"]),
        "procedure_code": procs["procedure_code"].gather(sim["proc"]),
        "procedure_name": procs["procedure_name"].gather(sim["proc"]),
        "field_name": procs["field_name"].gather(sim["proc"]),
        "channel": sim["channel"],
        "final_status": sim["status"],
        "pending_status": sim["pending_status"],
        "submitted_at": _to_pl(sim["submitted"]),
        "received_at": _to_pl(sim["received"]),
        "due_first": _to_pl(sim["due_first"]),
        "due_final": _to_pl(sim["due_final"]),
        "due_date_only": ~sim["due_has_time"],
        "fin": _to_pl(sim["finished"]),
        "ret": _to_pl(sim["returned"]),
        "rej": _to_pl(sim["rejected_at"]),
        "end_at": _to_pl(sim["end_at"]),
        "supplements": sim["supplements"],
        "fee": sim["fee"].astype(np.int8),
        "paid_online_v": sim["paid_online"],
        "digitized": sim["digitized"],
        "e_result_v": sim["e_result"],
        "synced": sim["synced"],
        "apology_v": sim["apology"],
        "complaint_v": sim["complaint"],
        "rating_v": sim["rating"],
    }).hstack(personal)
    summary.dossiers_by_unit = dict(zip(
        active["key"], np.bincount(sim["unit"], minlength=active.height).tolist()))

    d_idx, f_idx = _copies(sim, exporter_of_unit, sched, styles)
    rows = _as_exported(dossiers, d_idx, f_idx, exporter_of_unit[sim["unit"]], sched)
    last_copy = pl.col("file") == pl.col("file").max().over("dossier")
    summary.pending_at_end = rows.filter(last_copy & pl.col("status").is_in([1, 2, 4, 5, 6])).height
    rows = _bad_rows(rows, np.random.default_rng([seed, 0xBAD]), end, registry)
    rows = rows.sort("file", "received_at", "dossier")

    out_dir.mkdir(parents=True, exist_ok=True)
    written = _write_files(rows, styles, sched, out_dir)
    names = [name for name, _, _, _ in written]
    for _, fmt, shape, n_rows in written:
        summary.files_by_format[fmt] = summary.files_by_format.get(fmt, 0) + 1
        summary.rows_by_format[fmt] = summary.rows_by_format.get(fmt, 0) + n_rows
        summary.files_by_shape[shape] = summary.files_by_shape.get(shape, 0) + 1
    summary.files = names
    summary.files_written = len(names)
    summary.rows_written = rows.height
    summary.duplicate_rows = rows.height - n
    bad = rows["bad"].value_counts()
    counts = dict(zip(bad["bad"], bad["count"]))
    summary.bad_rows_by_reason = {r: int(counts.get(r, 0)) for r in BAD_REASONS}
    summary.bad_rows = sum(summary.bad_rows_by_reason.values())
    return summary
